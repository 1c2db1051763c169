#include "files/capf_store.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_lsc.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/names.h"
#include "lib/params.h"
#include "lib/validate.h"
#include "store/records.h"

static int say(char *why, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *why, size_t len, int r, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Replaces a string field of a decoded record (malloc'd or protobuf-c's
 * shared empty string). */
static int set_str(char **field, const char *value)
{
	char *copy = (char *)protobuf_c_empty_string;
	if (*value && !(copy = strdup(value)))
		return PT_ERR_NOMEM;
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = copy;
	return PT_OK;
}

/* Sets the status about op; *changed says whether anything but the time
 * moved, so that a refusal repeated on every contact writes once. */
static int set_status(Pt__CapfSettings *c, Pt__CapfStatus status,
		      Pt__CapfOperation op, const char *reason, int64_t now,
		      bool *changed)
{
	bool same = c->status == status && c->status_operation == op &&
		    strcmp(c->status_reason, reason) == 0;
	if (changed)
		*changed = !same;
	if (same)
		return PT_OK;
	c->status = status;
	c->status_operation = op;
	c->status_time = now;
	return set_str(&c->status_reason, reason);
}

pt_capf_issuer_t pt_capf_store_issuer(const Pt__Cluster *cluster)
{
	const char *v = pt_param_value(cluster, PT_PARAM_CAPF_ISSUER);
	if (v && strcmp(v, "offline-ca") == 0)
		return PT_CAPF_ISSUER_OFFLINE_CA;
	if (v && strcmp(v, "online-ca") == 0)
		return PT_CAPF_ISSUER_ONLINE_CA;
	return PT_CAPF_ISSUER_CAPF;
}

static int cluster_get(pt_txn_t *txn, Pt__Cluster **out)
{
	int r = pt_cluster_get(txn, out);
	return r == PT_ERR_NOT_FOUND ? PT_OK : r;
}

static void cluster_free(Pt__Cluster *cl)
{
	if (cl)
		pt_record_free(&cl->base);
}

/* A change of one holder in one write transaction.  fn changes h and sets
 * *write when it is to be stored; its result is returned once the write
 * (if any) has committed, so a recorded refusal returns its own code. */
typedef int (*change_fn)(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			 int64_t now, bool *write);

static int change_holder(pt_store_t *store, const char *name, int64_t now,
			 change_fn fn, void *ctx)
{
	pt_txn_t *txn = NULL;
	pt_capf_holder_t *h = NULL;
	bool write = false;
	int r = pt_txn_begin(store, true, PT_CAPF_STORE_ORIGIN, &txn);
	if (r != PT_OK)
		return r;
	r = pt_capf_holder_get(txn, name, &h);
	if (r != PT_OK)
		goto out;
	r = fn(txn, h, ctx, now, &write);
	if (write) {
		int w = pt_capf_holder_put(txn, h, now);
		if (w == PT_OK)
			w = pt_txn_commit(&txn, NULL);
		if (w != PT_OK)
			r = w;
	}
out:
	pt_txn_abort(&txn);
	pt_capf_holder_destroy(&h);
	return r;
}

static bool throttled(const Pt__CapfSettings *c, int64_t now)
{
	return c->auth_window_failures >= PT_CAPF_AUTH_MAX_FAILURES &&
	       now < c->auth_window_start + PT_CAPF_AUTH_WINDOW_SECONDS;
}

static int throttle_reason(const Pt__CapfSettings *c, char *why,
			   size_t why_len)
{
	char until[32];
	pt_time_format_utc(c->auth_window_start + PT_CAPF_AUTH_WINDOW_SECONDS,
			   until, sizeof until);
	return say(why, why_len, PT_ERR_DENIED,
		   "%u failed authentications within %d minutes: refused "
		   "without checking until %s",
		   c->auth_window_failures, PT_CAPF_AUTH_WINDOW_SECONDS / 60,
		   until);
}

void pt_capf_plan_clear(pt_capf_plan_t *plan)
{
	free(plan->signed_der);
	memset(plan, 0, sizeof *plan);
}

struct refusal {
	const char *reason;
	bool expire; /* also set the operation to none */
};

static int write_refusal(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			 int64_t now, bool *write)
{
	struct refusal *rf = ctx;
	Pt__CapfSettings *c = h->capf;
	(void)txn;
	if (c->operation == PT__CAPF_OPERATION__CAPF_OP_NONE)
		return PT_OK;
	int r = set_status(c, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
			   c->operation, rf->reason, now, write);
	if (r == PT_OK && rf->expire) {
		c->operation = PT__CAPF_OPERATION__CAPF_OP_NONE;
		c->completes_by = 0;
		*write = true;
	}
	return r;
}

/* Fills the plan from what a read transaction saw; returns PT_OK, or
 * PT_ERR_DENIED with what must be written in *rf. */
static int decide(pt_txn_t *txn, const pt_capf_holder_t *h, int64_t now,
		  pt_capf_plan_t *plan, struct refusal *rf)
{
	Pt__Cluster *cl = NULL;
	pt_capf_effective_t eff;
	const Pt__CapfSettings *c = h->capf;
	int r = cluster_get(txn, &cl);
	if (r == PT_OK)
		r = pt_capf_holder_effective(txn, h, &eff);
	if (r != PT_OK)
		goto out;
	snprintf(plan->name, sizeof plan->name, "%s", h->name);
	plan->kind = h->kind;
	plan->operation = eff.operation;
	plan->auth_mode = eff.auth_mode;
	plan->key_type = eff.key_type;
	plan->key_size = eff.key_size;
	plan->ec_bits = eff.ec_bits;
	plan->completes_by = c->completes_by;
	plan->issuer = pt_capf_store_issuer(cl);
	plan->validity_days =
		(uint32_t)pt_param_int(cl, PT_PARAM_CAPF_VALIDITY_DAYS);

	switch (eff.operation) {
	case PT__CAPF_OPERATION__CAPF_OP_NONE:
		plan->step = PT_CAPF_STEP_NONE;
		goto out;
	case PT__CAPF_OPERATION__CAPF_OP_INSTALL:
		plan->step = PT_CAPF_STEP_KEY_GENERATE;
		break;
	case PT__CAPF_OPERATION__CAPF_OP_DELETE:
		plan->step = PT_CAPF_STEP_DELETE;
		break;
	case PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT:
		plan->step = PT_CAPF_STEP_FETCH;
		break;
	default:
		r = PT_ERR_CORRUPT;
		goto out;
	}
	if (throttled(c, now)) {
		plan->refusal = PT_CAPF_REFUSED_THROTTLED;
		plan->retry_after =
			c->auth_window_start + PT_CAPF_AUTH_WINDOW_SECONDS;
		r = throttle_reason(c, plan->why, sizeof plan->why);
		goto out;
	}
	if (c->completes_by && now > c->completes_by) {
		char by[32];
		pt_time_format_utc(c->completes_by, by, sizeof by);
		plan->refusal = PT_CAPF_REFUSED_EXPIRED;
		r = say(plan->why, sizeof plan->why, PT_ERR_DENIED,
			"expired: the %s operation had to complete by %s",
			pt_capf_op_name(eff.operation), by);
		rf->reason = plan->why;
		rf->expire = true;
		goto out;
	}
	if (eff.operation != PT__CAPF_OPERATION__CAPF_OP_INSTALL)
		goto out;
	const Pt__Certificate *sc = *h->signed_cert;
	if (sc && sc->der.len) {
		/* The offline CA's certificate: handed over without a new
		 * key generation, whatever the issuer is now. */
		plan->step = PT_CAPF_STEP_STORE_SIGNED;
		if (!(plan->signed_der = malloc(sc->der.len))) {
			r = PT_ERR_NOMEM;
			goto out;
		}
		memcpy(plan->signed_der, sc->der.data, sc->der.len);
		plan->signed_len = sc->der.len;
	} else if (plan->issuer == PT_CAPF_ISSUER_ONLINE_CA) {
		plan->refusal = PT_CAPF_REFUSED_ONLINE_CA;
		r = say(plan->why, sizeof plan->why, PT_ERR_DENIED,
			"capf_certificate_issuer is online-ca, which this "
			"release does not support: set it to capf or "
			"offline-ca");
		rf->reason = plan->why;
	}
out:
	cluster_free(cl);
	return r;
}

int pt_capf_store_plan(pt_store_t *store, const char *name, int64_t now,
		       pt_capf_plan_t *plan)
{
	pt_txn_t *txn = NULL;
	pt_capf_holder_t *h = NULL;
	struct refusal rf = {0};

	memset(plan, 0, sizeof *plan);
	/* A read transaction: plans are asked for on every phone contact
	 * and must not queue behind writers. */
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return r;
	r = pt_capf_holder_get(txn, name, &h);
	if (r == PT_OK)
		r = decide(txn, h, now, plan, &rf);
	pt_txn_abort(&txn);
	pt_capf_holder_destroy(&h);
	if (r == PT_ERR_DENIED && rf.reason) {
		int w = change_holder(store, name, now, write_refusal, &rf);
		if (w != PT_OK)
			r = w;
	}
	return r;
}

/* Counts one failed authentication; *now_throttled when it closes the
 * window. */
static int count_failure(Pt__CapfSettings *c, const char *reason,
			 int64_t now, bool *now_throttled)
{
	char text[PT_CAPF_WHY_MAX + 96];
	if (c->auth_window_failures == 0 ||
	    now - c->auth_window_start >= PT_CAPF_AUTH_WINDOW_SECONDS ||
	    now < c->auth_window_start) {
		c->auth_window_start = now;
		c->auth_window_failures = 0;
	}
	c->auth_window_failures++;
	c->failed_attempts++;
	*now_throttled = throttled(c, now);
	if (*now_throttled) {
		char until[32];
		pt_time_format_utc(c->auth_window_start +
					   PT_CAPF_AUTH_WINDOW_SECONDS,
				   until, sizeof until);
		snprintf(text, sizeof text,
			 "authentication failed: %s; refused until %s", reason,
			 until);
	} else {
		snprintf(text, sizeof text, "authentication failed: %s",
			 reason);
	}
	return set_status(c, PT__CAPF_STATUS__CAPF_STATUS_FAILED, c->operation,
			  text, now, NULL);
}

struct auth_fail {
	const char *reason;
	bool throttled;
};

static int fail_auth(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
		     int64_t now, bool *write)
{
	struct auth_fail *af = ctx;
	(void)txn;
	*write = true;
	return count_failure(h->capf, af->reason, now, &af->throttled);
}

int pt_capf_store_auth_failed(pt_store_t *store, const char *name,
			      const char *reason, int64_t now,
			      bool *now_throttled)
{
	struct auth_fail af = {reason && *reason ? reason : "no reason given",
			       false};
	int r = change_holder(store, name, now, fail_auth, &af);
	if (now_throttled)
		*now_throttled = r == PT_OK && af.throttled;
	return r;
}

struct string_check {
	const pt_data_key_t *key;
	const char *given;
	size_t given_len;
	char *why;
	size_t why_len;
};

static int check_string(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			int64_t now, bool *write)
{
	struct string_check *sc = ctx;
	Pt__CapfSettings *c = h->capf;
	char stored[PT_AUTH_STRING_MAX + 1];
	const char *failure = NULL;
	char used[96];
	(void)txn;

	if (throttled(c, now))
		return throttle_reason(c, sc->why, sc->why_len);
	int r = pt_capf_holder_open_auth_string(h, sc->key, stored);
	if (r == PT_ERR_NOT_FOUND && c->auth_string_used) {
		char at[32];
		pt_time_format_utc(c->auth_string_used, at, sizeof at);
		snprintf(used, sizeof used, "the one-time authentication "
			 "string was used at %s; none is set now", at);
		failure = used;
	} else if (r == PT_ERR_NOT_FOUND) {
		failure = "no authentication string is set";
	} else if (r != PT_OK) {
		/* Our own data key does not open it: no fault of the
		 * phone's, so nothing is counted against it. */
		return say(sc->why, sc->why_len, r,
			   "the stored authentication string does not open "
			   "with this node's data key (%s)",
			   pt_strerror(r));
	} else {
		size_t n = strlen(stored);
		/* Both comparisons always run: the time taken does not say
		 * how much of the string was right. */
		bool len_ok = n == sc->given_len;
		bool same = CRYPTO_memcmp(stored, sc->given,
					  len_ok ? n : 0) == 0;
		if (!len_ok || !same)
			failure = "wrong authentication string";
	}
	pt_seal_wipe(stored, sizeof stored);
	if (!failure)
		return PT_OK;
	bool now_throttled = false;
	*write = true;
	r = count_failure(c, failure, now, &now_throttled);
	if (r != PT_OK)
		return r;
	return say(sc->why, sc->why_len, PT_ERR_AUTH, "%s%s", failure,
		   now_throttled ? " (further attempts refused for a while)"
				 : "");
}

int pt_capf_store_check_string(pt_store_t *store, const pt_data_key_t *key,
			       const char *name, const char *given,
			       size_t given_len, int64_t now, char *why,
			       size_t why_len)
{
	struct string_check sc = {key, given ? given : "", given ? given_len : 0,
				  why, why_len};
	if (why && why_len)
		why[0] = '\0';
	return change_holder(store, name, now, check_string, &sc);
}

/* ---- trust set ---------------------------------------------------- */

void pt_capf_trust_destroy(pt_capf_trust_t **trust)
{
	if (!trust || !*trust)
		return;
	for (size_t i = 0; i < (*trust)->n; i++)
		X509_free((*trust)->certs[i]);
	free((*trust)->certs);
	free(*trust);
	*trust = NULL;
}

static bool capf_purpose(const Pt__TrustEntry *e)
{
	for (size_t i = 0; i < e->n_purposes; i++)
		if (e->purposes[i] == PT__TRUST_PURPOSE__TRUST_CAPF ||
		    e->purposes[i] == PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF)
			return true;
	return false;
}

static int trust_add(pt_capf_trust_t *t, const uint8_t *der, size_t len)
{
	X509 *x = NULL;
	if (pt_certs_decode_der(der, len, &x) != PT_OK) {
		t->n_skipped++;
		return PT_OK;
	}
	t->certs[t->n++] = x;
	return PT_OK;
}

int pt_capf_store_trust_load(pt_store_t *store, pt_capf_trust_t **out)
{
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	ProtobufCMessage **entries = NULL;
	size_t n_entries = 0;
	pt_capf_trust_t *t = NULL;
	uint8_t cluster_sha[32];
	bool have_cluster = false;

	*out = NULL;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return r;
	if ((r = cluster_get(txn, &cl)) != PT_OK ||
	    (r = pt_record_list(txn, PT_TABLE_TRUST,
				&pt__trust_entry__descriptor, &entries,
				&n_entries)) != PT_OK)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(t = calloc(1, sizeof *t)) ||
	    !(t->certs = calloc(n_entries + 1, sizeof *t->certs)))
		goto out;
	r = PT_OK;
	if (cl && cl->capf_cert_der.len) {
		have_cluster = pt_certs_sha256(cl->capf_cert_der.data,
					       cl->capf_cert_der.len,
					       cluster_sha) == PT_OK;
		trust_add(t, cl->capf_cert_der.data, cl->capf_cert_der.len);
	}
	for (size_t i = 0; i < n_entries; i++) {
		const Pt__TrustEntry *e = (const Pt__TrustEntry *)entries[i];
		if (!capf_purpose(e))
			continue;
		if (have_cluster && e->sha256.len == 32 &&
		    memcmp(e->sha256.data, cluster_sha, 32) == 0)
			continue;
		trust_add(t, e->der.data, e->der.len);
	}
	*out = t;
	t = NULL;
out:
	pt_capf_trust_destroy(&t);
	pt_record_list_free(entries, n_entries);
	cluster_free(cl);
	pt_txn_abort(&txn);
	return r;
}

/* ---- outcomes ----------------------------------------------------- */

/* The operation succeeded: none scheduled, status success, the one-time
 * string consumed, failures forgotten. */
static int complete(pt_capf_holder_t *h, Pt__CapfOperation op, int64_t now)
{
	Pt__CapfSettings *c = h->capf;
	int r = set_status(c, PT__CAPF_STATUS__CAPF_STATUS_SUCCESS, op, "", now,
			   NULL);
	c->status_time = now;
	c->operation = PT__CAPF_OPERATION__CAPF_OP_NONE;
	c->completes_by = 0;
	if (c->auth_string) {
		pt_capf_holder_clear_auth_string(h);
		c->auth_string_used = now;
	}
	c->auth_window_start = 0;
	c->auth_window_failures = 0;
	return r;
}

static bool same_der(const Pt__Certificate *a, const uint8_t *der,
		     size_t len)
{
	return a && a->der.len == len && memcmp(a->der.data, der, len) == 0;
}

static int parse_cert(const uint8_t *der, size_t len, const char *source,
		      int64_t now, Pt__Certificate **out, char *why,
		      size_t why_len)
{
	int r = pt_certs_parse(der, len, out);
	if (r == PT_ERR_NOMEM)
		return r;
	if (r != PT_OK)
		return say(why, why_len, r == PT_ERR_TOO_LARGE ? r
							       : PT_ERR_MALFORMED,
			   "the certificate does not decode (%s)",
			   pt_strerror(r));
	(*out)->recorded = now;
	return set_str(&(*out)->source, source);
}

static int push_superseded(pt_capf_holder_t *h, const ProtobufCBinaryData *k)
{
	size_t *n = h->n_superseded;
	ProtobufCBinaryData *list = *h->superseded;
	for (size_t i = 0; i < *n; i++)
		if (list[i].len == k->len &&
		    memcmp(list[i].data, k->data, k->len) == 0)
			return PT_OK;
	if (*n >= PT_CAPF_SUPERSEDED_MAX) {
		free(list[0].data);
		memmove(list, list + 1, (*n - 1) * sizeof *list);
		(*n)--;
	}
	uint8_t *copy = malloc(k->len ? k->len : 1);
	ProtobufCBinaryData *grown = realloc(list, (*n + 1) * sizeof *grown);
	if (grown)
		*h->superseded = grown;
	if (!copy || !grown) {
		free(copy);
		return PT_ERR_NOMEM;
	}
	memcpy(copy, k->data, k->len);
	grown[*n].data = copy;
	grown[*n].len = k->len;
	(*n)++;
	return PT_OK;
}

static void drop_request(pt_capf_holder_t *h)
{
	if (*h->request)
		pt_record_free(&(*h->request)->base);
	*h->request = NULL;
}

/* A signed certificate that will not be installed joins the stale ones. */
static int stale_signed(pt_capf_holder_t *h)
{
	Pt__Certificate *sc = *h->signed_cert;
	*h->signed_cert = NULL;
	if (!sc)
		return PT_OK;
	return pt_capf_cert_list_push(h->n_stale, h->stale, sc,
				      PT_CAPF_STALE_MAX);
}

int pt_capf_holder_cancel_request(pt_capf_holder_t *h)
{
	int r = PT_OK;
	if (*h->request && (*h->request)->key_sha256.len)
		r = push_superseded(h, &(*h->request)->key_sha256);
	if (r == PT_OK)
		drop_request(h);
	if (r == PT_OK)
		r = stale_signed(h);
	return r;
}

struct issued {
	const Pt__Certificate *cert; /* made before the transaction */
	const char *source;
	char *why;
	size_t why_len;
};

/* A copy of a record built by pt_certs_record/pt_certs_parse, in the
 * form decoded records have (every field malloc'd), so the holder may
 * take it and a batch that fails may be retried from the original. */
static int cert_copy(const Pt__Certificate *c, Pt__Certificate **out)
{
	size_t n = pt__certificate__get_packed_size(c);
	uint8_t *buf = malloc(n ? n : 1);
	*out = NULL;
	if (!buf)
		return PT_ERR_NOMEM;
	pt__certificate__pack(c, buf);
	*out = pt__certificate__unpack(NULL, n, buf);
	free(buf);
	return *out ? PT_OK : PT_ERR_NOMEM;
}

static int record_issued(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			 int64_t now, bool *write)
{
	struct issued *is = ctx;
	Pt__Certificate *cert = NULL;
	const uint8_t *der = is->cert->der.data;
	size_t len = is->cert->der.len;
	(void)txn;
	int r = cert_copy(is->cert, &cert);
	if (r == PT_OK) {
		cert->recorded = now;
		r = set_str(&cert->source, is->source);
	}
	if (r != PT_OK) {
		if (cert)
			pt_record_free(&cert->base);
		return r;
	}
	*write = true;
	Pt__Certificate *old = *h->lsc;
	*h->lsc = cert;
	/* Recording the same certificate twice is not a new history. */
	if (old && same_der(old, der, len))
		pt_record_free(&old->base);
	else if (old && (r = pt_capf_cert_list_push(h->n_history, h->history,
						    old, PT_CAPF_HISTORY_MAX)) !=
			       PT_OK)
		return r;
	if (same_der(*h->signed_cert, der, len)) {
		pt_record_free(&(*h->signed_cert)->base);
		*h->signed_cert = NULL;
	}
	drop_request(h);
	if ((r = stale_signed(h)) != PT_OK)
		return r;
	if (h->capf->operation == PT__CAPF_OPERATION__CAPF_OP_INSTALL)
		r = complete(h, PT__CAPF_OPERATION__CAPF_OP_INSTALL, now);
	return r;
}

int pt_capf_store_record_issued(pt_store_t *store, const char *name,
				const uint8_t *der, size_t len,
				const char *source, int64_t now, char *why,
				size_t why_len)
{
	Pt__Certificate *cert = NULL;
	/* Parsed before the transaction: nothing decodes under the store's
	 * write lock. */
	int r = parse_cert(der, len, source ? source : "capf", now, &cert, why,
			   why_len);
	if (r != PT_OK)
		return r;
	struct issued is = {cert, source ? source : "capf", why, why_len};
	r = change_holder(store, name, now, record_issued, &is);
	pt_record_free(&cert->base);
	return r;
}

/* Every item in one transaction; the first failure stops it (nothing
 * written) and is returned. */
static int issued_together(pt_store_t *store, pt_capf_issued_t *items,
			   size_t n)
{
	pt_txn_t *txn = NULL;
	int r = pt_txn_begin(store, true, PT_CAPF_STORE_ORIGIN, &txn);
	if (r != PT_OK)
		return r;
	for (size_t i = 0; i < n && r == PT_OK; i++) {
		pt_capf_issued_t *it = &items[i];
		struct issued is = {it->cert, it->source ? it->source : "capf",
				    it->why, sizeof it->why};
		pt_capf_holder_t *h = NULL;
		bool write = false;
		r = pt_capf_holder_get(txn, it->name, &h);
		if (r == PT_OK)
			r = record_issued(txn, h, &is, it->now, &write);
		if (r == PT_OK && write)
			r = pt_capf_holder_put(txn, h, it->now);
		pt_capf_holder_destroy(&h);
	}
	if (r == PT_OK)
		r = pt_txn_commit(&txn, NULL);
	pt_txn_abort(&txn);
	return r;
}

void pt_capf_store_record_issued_many(pt_store_t *store,
				      pt_capf_issued_t *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		items[i].why[0] = '\0';
	if (n > 1 && issued_together(store, items, n) == PT_OK) {
		for (size_t i = 0; i < n; i++)
			items[i].r = PT_OK;
		return;
	}
	/* One item (or more) refused: each alone, so that one refusal
	 * takes no other outcome down. */
	for (size_t i = 0; i < n; i++) {
		pt_capf_issued_t *it = &items[i];
		it->why[0] = '\0';
		struct issued is = {it->cert, it->source ? it->source : "capf",
				    it->why, sizeof it->why};
		it->r = change_holder(store, it->name, it->now, record_issued,
				      &is);
	}
}

int pt_capf_store_issue(pt_store_t *store, EVP_PKEY *issuer_key,
			X509 *issuer_cert, const char *name,
			const EVP_PKEY *phone_key, int64_t now, uint8_t **der,
			size_t *len, char *why, size_t why_len)
{
	pt_txn_t *txn = NULL;
	pt_capf_holder_t *h = NULL;
	Pt__Cluster *cl = NULL;
	X509 *lsc = NULL;
	int64_t days = 0;

	*der = NULL;
	*len = 0;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return r;
	r = pt_capf_holder_get(txn, name, &h);
	if (r == PT_OK)
		r = cluster_get(txn, &cl);
	if (r == PT_OK)
		days = pt_param_int(cl, PT_PARAM_CAPF_VALIDITY_DAYS);
	pt_txn_abort(&txn);
	cluster_free(cl);
	pt_capf_holder_destroy(&h);
	if (r != PT_OK)
		return r;
	/* Signing happens with no transaction open: an RSA signature must
	 * not hold the store's write lock. */
	pt_capf_lsc_req_t req = {.name = name, .key = phone_key, .now = now,
				 .days = (unsigned)days};
	r = pt_capf_lsc_build(issuer_key, issuer_cert, &req, &lsc);
	if (r == PT_ERR_INVALID)
		return say(why, why_len, r,
			   "cannot certify this key for %s (the key or the "
			   "issuing certificate is not usable)",
			   name);
	if (r != PT_OK)
		return say(why, why_len, r, "cannot sign the LSC: %s",
			   pt_strerror(r));
	r = pt_certs_encode_der(lsc, der, len);
	/* The record comes from the certificate in hand: no decoding. */
	Pt__Certificate *cert = NULL;
	if (r == PT_OK)
		r = pt_certs_record(lsc, *der, *len, &cert);
	X509_free(lsc);
	if (r == PT_OK) {
		struct issued is = {cert, "capf", why, why_len};
		r = change_holder(store, name, now, record_issued, &is);
	}
	if (cert)
		pt_record_free(&cert->base);
	if (r != PT_OK) {
		free(*der);
		*der = NULL;
		*len = 0;
	}
	return r;
}

struct request {
	const uint8_t *csr;
	size_t csr_len;
	const uint8_t *key_sha;
	char *why;
	size_t why_len;
};

static int record_request(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			  int64_t now, bool *write)
{
	struct request *rq = ctx;
	Pt__Cluster *cl = NULL;
	Pt__CapfRequest *nr = NULL;
	int r = cluster_get(txn, &cl);
	if (r != PT_OK)
		return r;
	pt_capf_issuer_t issuer = pt_capf_store_issuer(cl);
	cluster_free(cl);
	if (issuer != PT_CAPF_ISSUER_OFFLINE_CA)
		return say(rq->why, rq->why_len, PT_ERR_DENIED,
			   "capf_certificate_issuer is not offline-ca: no "
			   "request is kept");
	if (h->capf->operation != PT__CAPF_OPERATION__CAPF_OP_INSTALL)
		return say(rq->why, rq->why_len, PT_ERR_DENIED,
			   "%s has no install operation scheduled", h->name);
	r = PT_ERR_NOMEM;
	if (!(nr = malloc(sizeof *nr)))
		return r;
	pt__capf_request__init(nr);
	if (!(nr->csr_der.data = malloc(rq->csr_len)) ||
	    !(nr->key_sha256.data = malloc(32)))
		goto out;
	memcpy(nr->csr_der.data, rq->csr, rq->csr_len);
	nr->csr_der.len = rq->csr_len;
	memcpy(nr->key_sha256.data, rq->key_sha, 32);
	nr->key_sha256.len = 32;
	nr->requested = now;

	const Pt__CapfRequest *old = *h->request;
	if (old && !(old->key_sha256.len == 32 &&
		     memcmp(old->key_sha256.data, rq->key_sha, 32) == 0) &&
	    (r = pt_capf_holder_cancel_request(h)) != PT_OK)
		goto out;
	drop_request(h);
	*h->request = nr;
	nr = NULL;
	*write = true;
	r = set_status(h->capf, PT__CAPF_STATUS__CAPF_STATUS_PENDING,
		       PT__CAPF_OPERATION__CAPF_OP_INSTALL,
		       "waiting for the offline CA (phonetrust capf csr export)",
		       now, NULL);
out:
	if (nr)
		pt_record_free(&nr->base);
	return r;
}

int pt_capf_store_record_request(pt_store_t *store, EVP_PKEY *capf_key,
				 X509 *capf_cert, const char *name,
				 const EVP_PKEY *phone_key, int64_t now,
				 char *why, size_t why_len)
{
	X509_REQ *csr = NULL;
	uint8_t *der = NULL, sha[32];
	size_t len = 0;
	pt_capf_lsc_req_t req = {.name = name, .key = phone_key, .now = now};
	int r = pt_capf_lsc_build_csr(capf_key, capf_cert, &req, &csr);
	if (r == PT_ERR_INVALID)
		return say(why, why_len, r,
			   "cannot make a request for this key for %s", name);
	if (r == PT_OK)
		r = pt_capf_lsc_csr_der(csr, &der, &len);
	if (r == PT_OK)
		r = pt_capf_lsc_key_sha256(phone_key, sha);
	X509_REQ_free(csr);
	if (r == PT_OK) {
		struct request rq = {der, len, sha, why, why_len};
		r = change_holder(store, name, now, record_request, &rq);
	} else {
		say(why, why_len, r, "cannot build the request: %s",
		    pt_strerror(r));
	}
	free(der);
	return r;
}

struct fetched {
	const uint8_t *der;
	size_t len;
	char *why;
	size_t why_len;
};

static int record_fetched(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			  int64_t now, bool *write)
{
	struct fetched *f = ctx;
	Pt__Certificate *cert = NULL;
	(void)txn;
	int r = parse_cert(f->der, f->len, "troubleshoot", now, &cert, f->why,
			   f->why_len);
	if (r != PT_OK)
		return r;
	*write = true;
	r = pt_capf_cert_list_push(h->n_fetched, h->fetched, cert,
				   PT_CAPF_FETCHED_MAX);
	if (r == PT_OK &&
	    h->capf->operation == PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT)
		r = complete(h, PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT, now);
	return r;
}

int pt_capf_store_record_fetched(pt_store_t *store, const char *name,
				 const uint8_t *der, size_t len, int64_t now,
				 char *why, size_t why_len)
{
	struct fetched f = {der, len, why, why_len};
	return change_holder(store, name, now, record_fetched, &f);
}

static int record_deleted(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			  int64_t now, bool *write)
{
	(void)txn;
	(void)ctx;
	int r = PT_OK;
	*write = true;
	if (*h->lsc) {
		r = pt_capf_cert_list_push(h->n_history, h->history, *h->lsc,
					   PT_CAPF_HISTORY_MAX);
		*h->lsc = NULL;
	}
	if (r == PT_OK &&
	    h->capf->operation == PT__CAPF_OPERATION__CAPF_OP_DELETE)
		r = complete(h, PT__CAPF_OPERATION__CAPF_OP_DELETE, now);
	return r;
}

int pt_capf_store_record_deleted(pt_store_t *store, const char *name,
				 int64_t now, char *why, size_t why_len)
{
	if (why && why_len)
		why[0] = '\0';
	return change_holder(store, name, now, record_deleted, NULL);
}

static int record_failure(pt_txn_t *txn, pt_capf_holder_t *h, void *ctx,
			  int64_t now, bool *write)
{
	(void)txn;
	return set_status(h->capf, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
			  h->capf->operation, ctx, now, write);
}

int pt_capf_store_record_failure(pt_store_t *store, const char *name,
				 const char *reason, int64_t now)
{
	return change_holder(store, name, now, record_failure,
			     (void *)(reason && *reason ? reason
							: "no reason given"));
}

/* ---- offline CA administration ----------------------------------- */

static int first_cn(X509 *x, char *out, size_t len)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	unsigned char *cn = NULL;
	if (idx < 0)
		return PT_ERR_NOT_FOUND;
	int n = ASN1_STRING_to_UTF8(
		&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
	int r = n >= 0 && (size_t)n < len && memchr(cn, 0, (size_t)n) == NULL
			? PT_OK
			: PT_ERR_INVALID;
	if (r == PT_OK)
		snprintf(out, len, "%.*s", n, (const char *)cn);
	OPENSSL_free(cn);
	ERR_clear_error();
	return r;
}

static bool known_cert(const pt_capf_holder_t *h, const uint8_t *der,
		       size_t len)
{
	if (same_der(*h->lsc, der, len) || same_der(*h->signed_cert, der, len))
		return true;
	for (size_t i = 0; i < *h->n_stale; i++)
		if (same_der((*h->stale)[i], der, len))
			return true;
	for (size_t i = 0; i < *h->n_history; i++)
		if (same_der((*h->history)[i], der, len))
			return true;
	return false;
}

/* Decides what der is for; on PT_OK *hp holds its holder. */
static int match(pt_txn_t *txn, const uint8_t *der, size_t len, int64_t now,
		 pt_capf_holder_t **hp, pt_capf_signed_match_t *m, char *why,
		 size_t why_len)
{
	X509 *x = NULL;
	char name[PT_CAPF_NAME_MAX + 2];
	uint8_t sha[32];
	*hp = NULL;
	int r = pt_certs_decode_der(der, len, &x);
	if (r != PT_OK)
		return say(why, why_len, PT_ERR_INVALID,
			   "not a certificate (%s)", pt_strerror(r));
	if (first_cn(x, name, sizeof name) != PT_OK) {
		r = say(why, why_len, PT_ERR_INVALID,
			"the subject has no usable common name");
		goto out;
	}
	r = pt_capf_holder_get(txn, name, hp);
	if (r == PT_ERR_NOT_FOUND) {
		r = say(why, why_len, PT_ERR_INVALID,
			"CN=%s names no device or CAPF profile", name);
		goto out;
	}
	if (r != PT_OK)
		goto out;
	const pt_capf_holder_t *h = *hp;
	if (known_cert(h, der, len)) {
		*m = PT_CAPF_SIGNED_KNOWN;
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), &(time_t){(time_t)now}) <=
	    0) {
		r = say(why, why_len, PT_ERR_INVALID,
			"the certificate for %s has expired", name);
		goto out;
	}
	r = pt_capf_lsc_key_sha256(X509_get0_pubkey(x), sha);
	if (r != PT_OK)
		goto out;
	const Pt__CapfRequest *rq = *h->request;
	if (rq && rq->key_sha256.len == 32 &&
	    memcmp(rq->key_sha256.data, sha, 32) == 0) {
		*m = PT_CAPF_SIGNED_CURRENT;
		goto out;
	}
	for (size_t i = 0; i < *h->n_superseded; i++) {
		const ProtobufCBinaryData *k = &(*h->superseded)[i];
		if (k->len == 32 && memcmp(k->data, sha, 32) == 0) {
			*m = PT_CAPF_SIGNED_SUPERSEDED;
			goto out;
		}
	}
	r = say(why, why_len, PT_ERR_INVALID,
		rq || *h->n_superseded
			? "the certificate for %s holds a key none of its "
			  "requests named (signed without -force_pubkey?)"
			: "%s has no request waiting for a certificate",
		name);
out:
	if (r != PT_OK)
		pt_capf_holder_destroy(hp);
	ERR_clear_error();
	X509_free(x);
	return r;
}

int pt_capf_store_match_signed(pt_txn_t *txn, const uint8_t *der,
			       size_t len, int64_t now, char *name,
			       size_t name_len, pt_capf_signed_match_t *m,
			       char *why, size_t why_len)
{
	pt_capf_holder_t *h = NULL;
	int r = match(txn, der, len, now, &h, m, why, why_len);
	if (r == PT_OK && name && name_len)
		snprintf(name, name_len, "%s", h->name);
	pt_capf_holder_destroy(&h);
	return r;
}

int pt_capf_store_import_signed(pt_txn_t *txn, const uint8_t *der,
				size_t len, int64_t now,
				pt_capf_signed_match_t *m, char *why,
				size_t why_len)
{
	pt_capf_holder_t *h = NULL;
	Pt__Certificate *cert = NULL;
	int r = match(txn, der, len, now, &h, m, why, why_len);
	if (r != PT_OK || *m == PT_CAPF_SIGNED_KNOWN)
		goto out;
	r = parse_cert(der, len, "offline-ca", now, &cert, why, why_len);
	if (r != PT_OK)
		goto out;
	if (*m == PT_CAPF_SIGNED_SUPERSEDED) {
		r = pt_capf_cert_list_push(h->n_stale, h->stale, cert,
					   PT_CAPF_STALE_MAX);
		cert = NULL;
	} else {
		/* A second certificate for the same request replaces the
		 * first, which is kept among the stale ones. */
		r = stale_signed(h);
		*h->signed_cert = cert;
		cert = NULL;
		if (r == PT_OK)
			r = set_status(h->capf,
				       PT__CAPF_STATUS__CAPF_STATUS_PENDING,
				       PT__CAPF_OPERATION__CAPF_OP_INSTALL,
				       "signed by the offline CA: installed at "
				       "the phone's next contact",
				       now, NULL);
	}
	if (r == PT_OK)
		r = pt_capf_holder_put(txn, h, now);
out:
	if (cert)
		pt_record_free(&cert->base);
	pt_capf_holder_destroy(&h);
	return r;
}

struct names {
	char **v;
	size_t n;
};

static int collect_stale(void *ctx, pt_capf_holder_t *h)
{
	struct names *ns = ctx;
	if (*h->n_stale == 0)
		return PT_OK;
	char **grown = realloc(ns->v, (ns->n + 1) * sizeof *grown);
	if (!grown)
		return PT_ERR_NOMEM;
	ns->v = grown;
	if (!(ns->v[ns->n] = strdup(h->name)))
		return PT_ERR_NOMEM;
	ns->n++;
	return PT_OK;
}

int pt_capf_store_stale_clear(pt_txn_t *txn, int64_t now, size_t *removed)
{
	struct names ns = {0};
	size_t count = 0;
	int r = pt_capf_holder_foreach(txn, collect_stale, &ns);
	for (size_t i = 0; r == PT_OK && i < ns.n; i++) {
		pt_capf_holder_t *h = NULL;
		r = pt_capf_holder_get(txn, ns.v[i], &h);
		if (r != PT_OK)
			break;
		for (size_t k = 0; k < *h->n_stale; k++)
			pt_record_free(&(*h->stale)[k]->base);
		count += *h->n_stale;
		free(*h->stale);
		*h->stale = NULL;
		*h->n_stale = 0;
		r = pt_capf_holder_put(txn, h, now);
		pt_capf_holder_destroy(&h);
	}
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	if (removed)
		*removed = r == PT_OK ? count : 0;
	return r;
}
