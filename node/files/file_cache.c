#include "files/file_cache.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/config_source.h"
#include "files/itl_source.h"
#include "files/static_source.h"
#include "lib/certs.h"
#include "lib/configfiles.h"
#include "lib/errors.h"
#include "lib/seal.h"
#include "lib/tlv.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"

#define REASON_MAX 200
#define NAME_MAX_LEN 64

typedef enum kind {
	KIND_CTL,
	KIND_ITL,    /* ITLFile.tlv and ITLSEP<MAC>.tlv */
	KIND_CONFIG, /* configfiles.h names */
	KIND_STATIC, /* static_source.h: anything else */
} kind_t;

typedef struct entry {
	char name[NAME_MAX_LEN];
	pt_blob_t *blob; /* NULL: the answer is File not found */
	char reason[REASON_MAX];
	uint8_t fp[32];  /* of the inputs */
	uint64_t seq;    /* store sequence the fingerprint was checked at */
	struct entry *bucket_next;
	struct entry *lru_prev, *lru_next; /* head: most recently used */
} entry_t;

struct pt_file_cache {
	pt_store_t *store;
	pt_identity_t *id;
	pt_data_key_t data_key;
	bool have_data_key;
	size_t max_bytes;
	char *static_dir;
	int static_fd; /* -1 without a static directory */

	pthread_mutex_t lock; /* everything below */
	entry_t **buckets;
	size_t n_buckets, n_entries, bytes;
	entry_t *lru_head, *lru_tail;
	/* Fingerprint of what every configuration shares, per sequence. */
	uint64_t shared_seq;
	bool shared_valid;
	uint8_t shared_fp[32];
	pt_file_cache_stats_t stats;
};

/* ---- names ---- */

/* Canonical spelling of a served name and its kind; false when the name
 * is not one of this cache's.  Phones' TFTP servers match names without
 * regard to case, so CTLFILE.TLV is CTLFile.tlv. */
static bool classify(const char *name, char *canon, size_t len, kind_t *kind,
		     char mac[PT_CONFIGFILES_MAC_LEN + 1])
{
	pt_configfiles_kind_t ck;
	mac[0] = '\0';
	if (strcasecmp(name, PT_TLV_CTL_NAME) == 0) {
		snprintf(canon, len, "%s", PT_TLV_CTL_NAME);
		*kind = KIND_CTL;
		return true;
	}
	if (strcasecmp(name, PT_TLV_ITL_NAME) == 0) {
		snprintf(canon, len, "%s", PT_TLV_ITL_NAME);
		*kind = KIND_ITL;
		return true;
	}
	size_t n = strlen(name);
	if (n == 6 + PT_CONFIGFILES_MAC_LEN + 4 &&
	    strncasecmp(name, "ITLSEP", 6) == 0 &&
	    strcasecmp(name + n - 4, ".tlv") == 0) {
		for (size_t i = 0; i < PT_CONFIGFILES_MAC_LEN; i++) {
			char c = name[6 + i];
			if (!isxdigit((unsigned char)c))
				return false;
			mac[i] = (char)toupper((unsigned char)c);
		}
		mac[PT_CONFIGFILES_MAC_LEN] = '\0';
		snprintf(canon, len, "ITLSEP%s.tlv", mac);
		*kind = KIND_ITL;
		return true;
	}
	if (pt_configfiles_parse_name(name, &ck, mac) == PT_OK &&
	    pt_configfiles_build_name(ck, mac, canon, len) == PT_OK) {
		*kind = KIND_CONFIG;
		return true;
	}
	/* Static names keep their spelling: the directory decides. */
	if (n >= len)
		return false;
	memcpy(canon, name, n + 1);
	*kind = KIND_STATIC;
	return true;
}

/* ---- table and LRU (lock held) ---- */

static size_t hash_name(const char *s)
{
	size_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static entry_t *find(pt_file_cache_t *c, const char *name)
{
	for (entry_t *e = c->buckets[hash_name(name) % c->n_buckets]; e;
	     e = e->bucket_next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static size_t entry_bytes(const entry_t *e)
{
	return sizeof *e + (e->blob ? pt_blob_len(e->blob) : 0);
}

static void lru_unlink(pt_file_cache_t *c, entry_t *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(pt_file_cache_t *c, entry_t *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void remove_entry(pt_file_cache_t *c, entry_t *e)
{
	entry_t **p = &c->buckets[hash_name(e->name) % c->n_buckets];
	while (*p != e)
		p = &(*p)->bucket_next;
	*p = e->bucket_next;
	lru_unlink(c, e);
	c->bytes -= entry_bytes(e);
	c->n_entries--;
	pt_blob_unref(&e->blob);
	free(e);
}

static void grow(pt_file_cache_t *c)
{
	size_t n = c->n_buckets * 2;
	entry_t **b = calloc(n, sizeof *b);
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < c->n_buckets; i++) {
		entry_t *e = c->buckets[i];
		while (e) {
			entry_t *next = e->bucket_next;
			size_t h = hash_name(e->name) % n;
			e->bucket_next = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->n_buckets = n;
}

/* Stores an answer under name, replacing any, and evicts the least
 * recently used entries beyond max_bytes (never the one just stored). */
static void store_answer(pt_file_cache_t *c, const char *name,
			 pt_blob_t *blob, const char *reason,
			 const uint8_t fp[32], uint64_t seq)
{
	entry_t *e = find(c, name);
	if (e) {
		c->bytes -= entry_bytes(e);
		pt_blob_unref(&e->blob);
		lru_unlink(c, e);
	} else {
		if (!(e = calloc(1, sizeof *e)))
			return; /* not kept: built again next time */
		snprintf(e->name, sizeof e->name, "%s", name);
		if (c->n_entries >= c->n_buckets)
			grow(c);
		size_t h = hash_name(name) % c->n_buckets;
		e->bucket_next = c->buckets[h];
		c->buckets[h] = e;
		c->n_entries++;
	}
	e->blob = blob ? pt_blob_ref(blob) : NULL;
	snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "");
	memcpy(e->fp, fp, 32);
	e->seq = seq;
	c->bytes += entry_bytes(e);
	lru_push(c, e);
	while (c->bytes > c->max_bytes && c->lru_tail && c->lru_tail != e) {
		remove_entry(c, c->lru_tail);
		c->stats.evictions++;
	}
}

/* Hands out what an entry answers. */
static int answer_of(const entry_t *e, pt_blob_t **out, char *reason,
		     size_t reason_len)
{
	if (!e->blob) {
		snprintf(reason, reason_len, "%s", e->reason);
		return PT_ERR_NOT_FOUND;
	}
	*out = pt_blob_ref(e->blob);
	return PT_OK;
}

/* ---- fingerprints (read transaction) ---- */

static void hash_item(EVP_MD_CTX *md, const void *p, size_t n)
{
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	EVP_DigestUpdate(md, len, sizeof len);
	if (n)
		EVP_DigestUpdate(md, p, n);
}

struct node_hash {
	EVP_MD_CTX *md;
};

static int hash_node(void *ctx, const uint8_t *key, size_t key_len,
		     const uint8_t *val, size_t val_len)
{
	struct node_hash *h = ctx;
	hash_item(h->md, key, key_len);
	hash_item(h->md, val, val_len);
	return PT_OK;
}

/* What every configuration depends on besides its device and profile:
 * the cluster record, the nodes table and this node's TFTP certificate
 * (the signer).  Kept per store sequence. */
static int shared_fingerprint(pt_file_cache_t *c, pt_txn_t *txn,
			      uint64_t seq, uint8_t out[32])
{
	pthread_mutex_lock(&c->lock);
	bool cached = c->shared_valid && c->shared_seq == seq;
	if (cached)
		memcpy(out, c->shared_fp, 32);
	pthread_mutex_unlock(&c->lock);
	if (cached)
		return PT_OK;

	const uint8_t *val = NULL;
	size_t val_len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
			? PT_OK
			: PT_ERR_CRYPTO;
	if (r == PT_OK) {
		r = pt_txn_get(txn, PT_TABLE_CLUSTER, PT_CLUSTER_KEY,
			       strlen(PT_CLUSTER_KEY), &val, &val_len);
		if (r == PT_ERR_NOT_FOUND)
			r = PT_OK, val_len = 0;
		hash_item(md, val, val_len);
	}
	struct node_hash h = {md};
	if (r == PT_OK)
		r = pt_txn_foreach(txn, PT_TABLE_NODES, hash_node, &h);
	uint8_t *der = NULL;
	size_t der_len = 0;
	if (r == PT_OK)
		r = pt_certs_encode_der(pt_identity_cert(c->id,
							 PT_IDENTITY_TFTP),
					&der, &der_len);
	if (r == PT_OK) {
		hash_item(md, der, der_len);
		r = EVP_DigestFinal_ex(md, out, NULL) == 1 ? PT_OK
							   : PT_ERR_CRYPTO;
	}
	free(der);
	EVP_MD_CTX_free(md);
	if (r != PT_OK)
		return r;
	pthread_mutex_lock(&c->lock);
	c->shared_seq = seq;
	c->shared_valid = true;
	memcpy(c->shared_fp, out, 32);
	pthread_mutex_unlock(&c->lock);
	return PT_OK;
}

/* A configuration's inputs: its name, the device and profile records as
 * stored, and the shared fingerprint. */
static int config_fingerprint(pt_file_cache_t *c, pt_txn_t *txn,
			      uint64_t seq, const char *name, const char *mac,
			      uint8_t out[32])
{
	uint8_t shared[32];
	int r = shared_fingerprint(c, txn, seq, shared);
	if (r != PT_OK)
		return r;
	char device[PT_CONFIGFILES_MAC_LEN + 4];
	snprintf(device, sizeof device, "SEP%s", mac);
	const uint8_t *dev = NULL, *prof = NULL;
	size_t dev_len = 0, prof_len = 0;
	Pt__Device *d = NULL;
	r = pt_txn_get(txn, PT_TABLE_DEVICES, device, strlen(device), &dev,
		       &dev_len);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_OK, dev = NULL, dev_len = 0;
	if (r == PT_OK && dev &&
	    pt_record_decode(dev, dev_len, &pt__device__descriptor,
			     (ProtobufCMessage **)&d) == PT_OK) {
		int pr = pt_txn_get(txn, PT_TABLE_PROFILES,
				    d->security_profile,
				    strlen(d->security_profile), &prof,
				    &prof_len);
		if (pr != PT_OK)
			prof = NULL, prof_len = 0;
	}
	if (d)
		pt_record_free(&d->base);
	if (r != PT_OK)
		return r;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	r = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
		    ? PT_OK
		    : PT_ERR_CRYPTO;
	if (r == PT_OK) {
		hash_item(md, name, strlen(name));
		hash_item(md, dev, dev_len);
		hash_item(md, prof, prof_len);
		hash_item(md, shared, sizeof shared);
		r = EVP_DigestFinal_ex(md, out, NULL) == 1 ? PT_OK
							   : PT_ERR_CRYPTO;
	}
	EVP_MD_CTX_free(md);
	return r;
}

static void hash_stat(EVP_MD_CTX *md, int dirfd, const char *path)
{
	struct stat st;
	uint64_t v[5] = {0};
	if (dirfd >= 0 && fstatat(dirfd, path, &st, 0) == 0) {
		v[0] = (uint64_t)st.st_dev;
		v[1] = (uint64_t)st.st_ino;
		v[2] = (uint64_t)st.st_size;
		v[3] = (uint64_t)st.st_mtim.tv_sec;
		v[4] = (uint64_t)st.st_mtim.tv_nsec;
	}
	hash_item(md, v, sizeof v);
}

/* A static file's inputs: the shared fingerprint (signing key, cluster
 * mode, nodes for XMLDefault), the directory itself (RingList lists it)
 * and the file a signed name stands for.  Costs two stat calls. */
static int static_fingerprint(pt_file_cache_t *c, pt_txn_t *txn,
			      uint64_t seq, const char *name, uint8_t out[32])
{
	uint8_t shared[32];
	int r = shared_fingerprint(c, txn, seq, shared);
	if (r != PT_OK)
		return r;
	char base[NAME_MAX_LEN];
	size_t n = strlen(name);
	snprintf(base, sizeof base, "%s", name);
	if (n > 4 && strcasecmp(base + n - 4, ".sgn") == 0)
		base[n - 4] = '\0';
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return PT_ERR_CRYPTO;
	}
	hash_item(md, name, n);
	hash_item(md, shared, sizeof shared);
	hash_stat(md, c->static_fd, ".");
	hash_stat(md, c->static_fd, base);
	r = EVP_DigestFinal_ex(md, out, NULL) == 1 ? PT_OK : PT_ERR_CRYPTO;
	EVP_MD_CTX_free(md);
	return r;
}

/* ---- building ---- */

/* PT_ERR_INVALID from the static source means another source's name:
 * reported as "not mine" with an empty reason. */
static int build_static(pt_file_cache_t *c, pt_txn_t *txn, const char *name,
			pt_blob_t **blob, char *reason, size_t reason_len)
{
	pt_config_keys_t keys = {
		.tftp_key = pt_identity_key(c->id, PT_IDENTITY_TFTP),
		.tftp_cert = pt_identity_cert(c->id, PT_IDENTITY_TFTP),
	};
	pt_static_opts_t opts = {.dir = c->static_dir};
	pt_static_answer_t ans;
	*blob = NULL;
	int r = pt_static_source_build(txn, &keys, &opts, name, &ans);
	if (r == PT_ERR_INVALID) {
		pt_static_answer_clear(&ans);
		return PT_ERR_INVALID;
	}
	snprintf(reason, reason_len, "%s", ans.reason);
	if (r == PT_OK && ans.bytes) {
		r = pt_blob_take(ans.bytes, ans.len, blob);
		if (r == PT_OK)
			ans.bytes = NULL;
	}
	pt_static_answer_clear(&ans);
	return r;
}

/* The CTL or ITL bytes as they stand; *bytes (malloc'd) or NULL with
 * reason when there is none.  ITLSEP<MAC>.tlv is served for devices the
 * store knows. */
static int list_bytes(pt_file_cache_t *c, pt_txn_t *txn, const char *name,
		      const char *mac, uint8_t **bytes, size_t *len,
		      char *reason, size_t reason_len)
{
	*bytes = NULL;
	*len = 0;
	if (strcmp(name, PT_TLV_CTL_NAME) == 0) {
		Pt__Cluster *cl = NULL;
		int r = pt_cluster_get(txn, &cl);
		if (r == PT_ERR_NOT_FOUND) {
			snprintf(reason, reason_len, "no cluster data yet");
			return PT_OK;
		}
		if (r != PT_OK)
			return r;
		if (cl->ctl.len == 0) {
			snprintf(reason, reason_len, "no CTL: run 'phonetrust "
						     "ctl init' on the "
						     "publisher");
		} else if ((*bytes = malloc(cl->ctl.len))) {
			memcpy(*bytes, cl->ctl.data, cl->ctl.len);
			*len = cl->ctl.len;
		} else {
			r = PT_ERR_NOMEM;
		}
		pt_record_free(&cl->base);
		return r;
	}
	if (*mac) {
		char device[PT_CONFIGFILES_MAC_LEN + 4];
		const uint8_t *v;
		size_t vl;
		snprintf(device, sizeof device, "SEP%s", mac);
		int r = pt_txn_get(txn, PT_TABLE_DEVICES, device,
				   strlen(device), &v, &vl);
		if (r == PT_ERR_NOT_FOUND) {
			snprintf(reason, reason_len, "no device %s", device);
			return PT_OK;
		}
		if (r != PT_OK)
			return r;
	}
	int r = pt_itl_source_get(c->store, bytes, len);
	if (r == PT_ERR_NOT_FOUND) {
		snprintf(reason, reason_len, "the node's ITL is not built yet");
		return PT_OK;
	}
	return r;
}

static int build_config(pt_file_cache_t *c, pt_txn_t *txn, const char *name,
			pt_blob_t **blob, char *reason, size_t reason_len)
{
	pt_config_keys_t keys = {
		.tftp_key = pt_identity_key(c->id, PT_IDENTITY_TFTP),
		.tftp_cert = pt_identity_cert(c->id, PT_IDENTITY_TFTP),
		.data_key = c->have_data_key ? &c->data_key : NULL,
	};
	pt_config_answer_t ans;
	*blob = NULL;
	int r = pt_config_source_build(txn, &keys, name, 0, &ans);
	snprintf(reason, reason_len, "%s", ans.reason);
	if (r != PT_OK || !ans.bytes)
		return r;
	/* The blob adopts the bytes; a full configuration in clear holds
	 * secrets, but it is exactly what phones are sent. */
	r = pt_blob_take(ans.bytes, ans.len, blob);
	if (r != PT_OK)
		pt_config_answer_clear(&ans);
	return r;
}

static int current_seq(pt_file_cache_t *c, uint64_t *seq)
{
	return pt_store_last_sequence(c->store, seq);
}

/* One lookup inside a read transaction the caller holds. */
static int get_in(pt_file_cache_t *c, pt_txn_t *txn, uint64_t seq,
		  const char *canon, kind_t kind, const char *mac,
		  pt_blob_t **out, char *reason, size_t reason_len)
{
	uint8_t fp[32];
	uint8_t *bytes = NULL;
	size_t len = 0;
	pt_blob_t *blob = NULL;
	int r;

	if (kind == KIND_CONFIG)
		r = config_fingerprint(c, txn, seq, canon, mac, fp);
	else if (kind == KIND_STATIC)
		r = static_fingerprint(c, txn, seq, canon, fp);
	else if ((r = list_bytes(c, txn, canon, mac, &bytes, &len, reason,
				 reason_len)) == PT_OK)
		r = pt_certs_sha256(bytes ? bytes : (const uint8_t *)reason,
				    bytes ? len : strlen(reason), fp);
	if (r != PT_OK) {
		free(bytes);
		return r;
	}

	pthread_mutex_lock(&c->lock);
	entry_t *e = find(c, canon);
	if (e && memcmp(e->fp, fp, 32) == 0) {
		e->seq = seq;
		lru_unlink(c, e);
		lru_push(c, e);
		c->stats.revalidated++;
		r = answer_of(e, out, reason, reason_len);
		pthread_mutex_unlock(&c->lock);
		free(bytes);
		return r;
	}
	pthread_mutex_unlock(&c->lock);

	if (kind == KIND_CONFIG) {
		r = build_config(c, txn, canon, &blob, reason, reason_len);
	} else if (kind == KIND_STATIC) {
		r = build_static(c, txn, canon, &blob, reason, reason_len);
		if (r == PT_ERR_INVALID) {
			if (reason_len)
				reason[0] = '\0';
			return PT_ERR_NOT_FOUND;
		}
	} else if (bytes) {
		r = pt_blob_take(bytes, len, &blob);
		if (r != PT_OK)
			free(bytes);
	}
	if (r != PT_OK)
		return r;
	pthread_mutex_lock(&c->lock);
	store_answer(c, canon, blob, reason, fp, seq);
	c->stats.misses++;
	pthread_mutex_unlock(&c->lock);
	if (!blob)
		return PT_ERR_NOT_FOUND;
	*out = blob; /* the reference taken at build time */
	return PT_OK;
}

int pt_file_cache_get(pt_file_cache_t *c, const char *name, pt_blob_t **out,
		      char *reason, size_t reason_len)
{
	char canon[NAME_MAX_LEN], mac[PT_CONFIGFILES_MAC_LEN + 1];
	kind_t kind;
	uint64_t seq = 0;

	*out = NULL;
	if (reason_len)
		reason[0] = '\0';
	if (!classify(name, canon, sizeof canon, &kind, mac))
		return PT_ERR_NOT_FOUND;
	int r = current_seq(c, &seq);
	if (r != PT_OK)
		return r;
	/* Hit: checked at this very sequence.  The ITL can change without
	 * the sequence moving (the node rebuilds it into its own metadata),
	 * and static files change on disk, so those are checked every time;
	 * that costs a copy or two stat calls, never a signature. */
	if (kind == KIND_CONFIG || kind == KIND_CTL) {
		pthread_mutex_lock(&c->lock);
		entry_t *e = find(c, canon);
		if (e && e->seq == seq) {
			lru_unlink(c, e);
			lru_push(c, e);
			c->stats.hits++;
			r = answer_of(e, out, reason, reason_len);
			pthread_mutex_unlock(&c->lock);
			return r;
		}
		pthread_mutex_unlock(&c->lock);
	}
	pt_txn_t *txn = NULL;
	if ((r = pt_txn_begin(c->store, false, NULL, &txn)) != PT_OK)
		return r;
	r = get_in(c, txn, seq, canon, kind, mac, out, reason, reason_len);
	pt_txn_abort(&txn);
	return r;
}

/* ---- refresh ---- */

struct names {
	char (*v)[PT_CONFIGFILES_MAC_LEN + 1];
	size_t n, cap;
};

static int collect_mac(void *ctx, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len)
{
	struct names *n = ctx;
	char name[64], mac[PT_CONFIGFILES_MAC_LEN + 1];
	(void)val;
	(void)val_len;
	if (key_len >= sizeof name)
		return PT_OK;
	memcpy(name, key, key_len);
	name[key_len] = '\0';
	if (pt_configfiles_device_mac(name, mac) != PT_OK)
		return PT_OK; /* not a phone */
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 1024;
		void *p = realloc(n->v, cap * sizeof *n->v);
		if (!p)
			return PT_ERR_NOMEM;
		n->v = p;
		n->cap = cap;
	}
	memcpy(n->v[n->n++], mac, sizeof mac);
	return PT_OK;
}

int pt_file_cache_refresh(pt_file_cache_t *c, const volatile bool *stop,
			  size_t *built)
{
	static const pt_configfiles_kind_t kinds[] = {
		PT_CONFIGFILES_PLAIN, PT_CONFIGFILES_SIGNED,
		PT_CONFIGFILES_ENCRYPTED};
	struct names macs = {0};
	uint64_t before = 0, seq = 0;
	pt_txn_t *txn = NULL;
	char reason[REASON_MAX];
	int r = current_seq(c, &seq);
	if (r == PT_OK)
		r = pt_txn_begin(c->store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_txn_foreach(txn, PT_TABLE_DEVICES, collect_mac, &macs);
	pthread_mutex_lock(&c->lock);
	before = c->stats.misses;
	pthread_mutex_unlock(&c->lock);

	const char *lists[] = {PT_TLV_CTL_NAME, PT_TLV_ITL_NAME};
	for (size_t i = 0; r == PT_OK && i < 2; i++) {
		pt_blob_t *b = NULL;
		int g = get_in(c, txn, seq, lists[i], i ? KIND_ITL : KIND_CTL,
			       "", &b, reason, sizeof reason);
		pt_blob_unref(&b);
		if (g != PT_OK && g != PT_ERR_NOT_FOUND)
			r = g;
	}
	for (size_t i = 0; r == PT_OK && i < macs.n && !(stop && *stop);
	     i++) {
		for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
			char name[PT_CONFIGFILES_NAME_MAX];
			pt_blob_t *b = NULL;
			if (pt_configfiles_build_name(kinds[k], macs.v[i], name,
						      sizeof name) != PT_OK)
				continue;
			/* One device's failure (say, a digest password that
			 * does not open) must not stop the others; its
			 * requests report it. */
			(void)get_in(c, txn, seq, name, KIND_CONFIG,
				     macs.v[i], &b, reason, sizeof reason);
			pt_blob_unref(&b);
		}
	}
	pt_txn_abort(&txn);
	free(macs.v);
	if (built) {
		pthread_mutex_lock(&c->lock);
		*built = (size_t)(c->stats.misses - before);
		pthread_mutex_unlock(&c->lock);
	}
	return r;
}

/* ---- life ---- */

int pt_file_cache_new(pt_store_t *store, const pt_file_cache_opts_t *opts,
		      pt_file_cache_t **out)
{
	pt_file_cache_t *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c)
		return PT_ERR_NOMEM;
	c->store = store;
	c->max_bytes = opts->max_bytes ? opts->max_bytes
				       : PT_FILE_CACHE_DEFAULT_MAX_BYTES;
	c->n_buckets = 1024;
	if (!(c->buckets = calloc(c->n_buckets, sizeof *c->buckets))) {
		free(c);
		return PT_ERR_NOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->static_fd = -1;
	if (opts->static_dir) {
		if (!(c->static_dir = strdup(opts->static_dir))) {
			pt_file_cache_destroy(&c);
			return PT_ERR_NOMEM;
		}
		c->static_fd = open(opts->static_dir,
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->static_fd < 0) {
			int e = PT_ESYS(errno);
			pt_file_cache_destroy(&c);
			return e;
		}
	}
	int r = pt_identity_load(opts->datadir, &c->id);
	if (r != PT_OK) {
		pt_file_cache_destroy(&c);
		return r;
	}
	c->have_data_key = pt_datakey_load(opts->datadir, &c->data_key) ==
			   PT_OK;
	*out = c;
	return PT_OK;
}

void pt_file_cache_destroy(pt_file_cache_t **cp)
{
	pt_file_cache_t *c = cp ? *cp : NULL;
	if (!c)
		return;
	while (c->lru_head)
		remove_entry(c, c->lru_head);
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	pt_identity_destroy(&c->id);
	pt_seal_wipe(&c->data_key, sizeof c->data_key);
	if (c->static_fd >= 0)
		close(c->static_fd);
	free(c->static_dir);
	free(c);
	*cp = NULL;
}

void pt_file_cache_stats(pt_file_cache_t *c, pt_file_cache_stats_t *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->entries = c->n_entries;
	out->bytes = c->bytes;
	pthread_mutex_unlock(&c->lock);
}
