#include "files/static_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files/beneath.h"
#include "lib/errors.h"
#include "lib/itl.h"
#include "lib/params.h"
#include "lib/sgn.h"
#include "lib/staticfiles.h"
#include "store/records.h"

#define SGN_SUFFIX ".sgn"
#define SGN_SUFFIX_LEN 4u

static int say(pt_static_answer_t *ans, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int say(pt_static_answer_t *ans, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ans->reason, sizeof ans->reason, fmt, ap);
	va_end(ap);
	return r;
}

void pt_static_answer_clear(pt_static_answer_t *ans)
{
	free(ans->bytes);
	ans->bytes = NULL;
	ans->len = 0;
}

/* ---- names ---- */

/* '\' as '/', then the TFTP name rules, and no "." or empty part: item
 * 14 of a signed file may hold neither, and no phone asks for them. */
static int normalise(const char *name, char *out, pt_static_answer_t *ans)
{
	size_t len = strlen(name);
	const char *why = NULL;
	if (pt_tftp_name_check(name, len, &why) != PT_OK)
		return say(ans, PT_ERR_DENIED, "refused name: %s", why);
	for (size_t i = 0; i <= len; i++)
		out[i] = name[i] == '\\' ? '/' : name[i];
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && out[i] != '/')
			continue;
		if (i == start || (i - start == 1 && out[start] == '.'))
			return say(ans, PT_ERR_DENIED,
				   "refused name: an empty or '.' path part");
		start = i + 1;
	}
	return PT_OK;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && strcasecmp(s + len - n, suffix) == 0;
}

/* CTLFile.tlv, ITLFile.tlv and the per-phone ITLSEP/CTLSEP<MAC>.tlv. */
static bool is_trust_list(const char *name, size_t len)
{
	if (!ends_with(name, len, ".tlv"))
		return false;
	return strcasecmp(name, "CTLFile.tlv") == 0 ||
	       strcasecmp(name, "ITLFile.tlv") == 0 ||
	       strncasecmp(name, "ITLSEP", 6) == 0 ||
	       strncasecmp(name, "CTLSEP", 6) == 0;
}

/* Whether another source builds name (len bytes; a prefix of a longer
 * string is fine). */
static bool built_elsewhere(const char *name, size_t len)
{
	char buf[PT_TFTP_NAME_MAX + 1];
	char mac[PT_CONFIGFILES_MAC_LEN + 1];
	pt_configfiles_kind_t kind;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return pt_configfiles_parse_name(buf, &kind, mac) == PT_OK ||
	       is_trust_list(buf, len);
}

/* The canonical spelling of a generated file's name, or NULL. */
static const char *generated_name(const char *name)
{
	if (strcasecmp(name, PT_STATICFILES_DEFAULT_NAME) == 0)
		return PT_STATICFILES_DEFAULT_NAME;
	if (strcasecmp(name, PT_STATICFILES_RINGLIST_NAME) == 0)
		return PT_STATICFILES_RINGLIST_NAME;
	return NULL;
}

/* ---- files below the directory ---- */

/* The errno of opening a name below the directory as an answer:
 * *missing for no such file, else PT_ERR_DENIED or PT_ESYS. */
static int open_error(int e, const char *path, bool *missing,
		      pt_static_answer_t *ans)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		*missing = true;
		return PT_OK;
	case EXDEV:
		return say(ans, PT_ERR_DENIED, "'%s' leads out of the static "
			   "directory", path);
	case ELOOP:
		return say(ans, PT_ERR_DENIED, "'%s' goes through a symbolic "
			   "link that is refused", path);
	case EACCES:
	case EPERM:
		return say(ans, PT_ERR_DENIED, "'%s': permission denied",
			   path);
	default:
		return say(ans, PT_ESYS(e), "cannot open '%s': %s", path,
			   strerror(e));
	}
}

static int open_below(int dirfd, const char *path, bool no_openat2)
{
	bool walk = no_openat2;
	return pt_beneath_open(dirfd, path, &walk);
}

/* Reads regular file path below dirfd into *out (malloc'd).  *missing
 * when there is no such file or it is a directory. */
static int read_below(int dirfd, const char *path,
		      const pt_static_opts_t *o, uint8_t **out, size_t *len,
		      bool *missing, pt_static_answer_t *ans)
{
	uint64_t cap = o->max_file_size ? o->max_file_size
					: PT_STATIC_SOURCE_FILE_MAX;
	uint8_t *buf = NULL;
	struct stat st;
	int r = PT_OK;

	*missing = false;
	int fd = open_below(dirfd, path, o->no_openat2);
	if (fd < 0)
		return open_error(errno, path, missing, ans);
	if (fstat(fd, &st) != 0) {
		r = say(ans, PT_ESYS(errno), "cannot stat '%s': %s", path,
			strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		*missing = true;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = say(ans, PT_ERR_DENIED, "'%s' is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > cap) {
		r = say(ans, PT_ERR_DENIED,
			"'%s' is larger than the cap of %llu bytes", path,
			(unsigned long long)cap);
		goto out;
	}
	/* One byte more than the size: a file growing meanwhile is read
	 * up to the cap, never past the buffer. */
	size_t room = (size_t)st.st_size + 1, n = 0;
	if (!(buf = malloc(room))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (n == room) {
			if (room > cap) {
				r = say(ans, PT_ERR_DENIED,
					"'%s' grew past the cap of %llu bytes",
					path, (unsigned long long)cap);
				goto out;
			}
			size_t more = room * 2 > cap + 1 ? (size_t)cap + 1
							 : room * 2;
			uint8_t *p = realloc(buf, more);
			if (!p) {
				r = PT_ERR_NOMEM;
				goto out;
			}
			buf = p;
			room = more;
		}
		ssize_t got = read(fd, buf + n, room - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = say(ans, PT_ESYS(errno), "cannot read '%s': %s",
				path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

/* ---- generated files ---- */

/* The same lists device files carry (phoneconfig.h). */
static int build_default(pt_txn_t *txn, uint8_t **out, size_t *len,
			 pt_static_answer_t *ans)
{
	Pt__Node **nodes = NULL;
	size_t n = 0;
	pt_phoneconfig_servers_t servers;
	int r = pt_record_list(txn, PT_TABLE_NODES, &pt__node__descriptor,
			       (ProtobufCMessage ***)&nodes, &n);
	if (r != PT_OK)
		return say(ans, r, "cannot read the nodes table: %s",
			   pt_strerror(r));
	r = pt_phoneconfig_servers_init(&servers, nodes, n);
	if (r != PT_OK)
		goto out;
	pt_staticfiles_default_in_t in = {servers.cms, servers.cm_count,
					  servers.tvs, servers.tvs_count};
	r = pt_staticfiles_build_default(&in, out, len);
	if (r != PT_OK)
		say(ans, r, "cannot build %s from the nodes table: %s",
		    PT_STATICFILES_DEFAULT_NAME, pt_strerror(r));
	else
		say(ans, r, "%s generated from %zu nodes",
		    PT_STATICFILES_DEFAULT_NAME, n);
	pt_phoneconfig_servers_clear(&servers);
out:
	pt_record_list_free((ProtobufCMessage **)nodes, n);
	return r;
}

/* Ring tones at the top of the directory that can be served (regular
 * files opened the way a request would open them).  Stops one past the
 * builder's cap so it refuses. */
static int list_ring_tones(int dirfd, const pt_static_opts_t *o,
			   char ***names, size_t *n, pt_static_answer_t *ans)
{
	char **list = NULL;
	size_t count = 0;
	int r = PT_OK;
	int lfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		r = say(ans, PT_ESYS(errno),
			"cannot list the static directory %s: %s", o->dir,
			strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return r;
	}
	if (!(list = calloc(PT_STATICFILES_RINGS_MAX + 1, sizeof *list))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	while (count <= PT_STATICFILES_RINGS_MAX) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e && errno) {
			r = say(ans, PT_ESYS(errno),
				"cannot list the static directory %s: %s",
				o->dir, strerror(errno));
			goto out;
		}
		if (!e)
			break;
		if (!pt_staticfiles_is_ring_tone(e->d_name))
			continue;
		int fd = open_below(dirfd, e->d_name, o->no_openat2);
		if (fd < 0)
			continue;
		struct stat st;
		bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		close(fd);
		if (!regular)
			continue;
		if (!(list[count] = strdup(e->d_name))) {
			r = PT_ERR_NOMEM;
			goto out;
		}
		count++;
	}
	*names = list;
	*n = count;
	list = NULL;
out:
	if (list)
		for (size_t i = 0; i < count; i++)
			free(list[i]);
	free(list);
	closedir(d);
	return r;
}

static int build_ringlist(int dirfd, const pt_static_opts_t *o,
			  uint8_t **out, size_t *len, pt_static_answer_t *ans)
{
	char **names = NULL;
	size_t n = 0;
	int r = dirfd >= 0 ? list_ring_tones(dirfd, o, &names, &n, ans)
			   : PT_OK;
	if (r != PT_OK)
		return r;
	r = pt_staticfiles_build_ringlist((const char *const *)names, n, out,
					  len);
	if (r == PT_ERR_TOO_LARGE)
		say(ans, r, "more than %u ring tones in %s: write %s there "
			    "by hand", PT_STATICFILES_RINGS_MAX, o->dir,
		    PT_STATICFILES_RINGLIST_NAME);
	else if (r != PT_OK)
		say(ans, r, "cannot build %s: %s",
		    PT_STATICFILES_RINGLIST_NAME, pt_strerror(r));
	else if (dirfd >= 0)
		say(ans, r, "%s generated from %zu ring tones in %s",
		    PT_STATICFILES_RINGLIST_NAME, n, o->dir);
	else
		say(ans, r, "%s generated empty (no static directory)",
		    PT_STATICFILES_RINGLIST_NAME);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* ---- answering ---- */

/* The plain bytes of path (normalised): the directory's file, else a
 * generated one, with ans->served their name.  *found false when
 * neither exists. */
static int plain_bytes(pt_txn_t *txn, int dirfd, const pt_static_opts_t *o,
		       const char *path, uint8_t **out, size_t *len,
		       bool *found, pt_static_answer_t *ans)
{
	bool missing = true;
	*found = false;
	if (dirfd >= 0) {
		int r = read_below(dirfd, path, o, out, len, &missing, ans);
		if (r != PT_OK)
			return r;
		if (!missing) {
			*found = true;
			snprintf(ans->served, sizeof ans->served, "%s", path);
			say(ans, PT_OK, "'%s' from %s", path, o->dir);
			return PT_OK;
		}
	}
	const char *gen = generated_name(path);
	if (!gen)
		return PT_OK;
	int r = strcmp(gen, PT_STATICFILES_DEFAULT_NAME) == 0
			? build_default(txn, out, len, ans)
			: build_ringlist(dirfd, o, out, len, ans);
	if (r != PT_OK)
		return r;
	*found = true;
	ans->generated = true;
	snprintf(ans->served, sizeof ans->served, "%s", gen);
	return PT_OK;
}

/* payload signed under ans->served + ".sgn" in a mixed cluster. */
static int sign(const Pt__Cluster *cluster, const pt_config_keys_t *keys,
		const pt_static_opts_t *o, const uint8_t *payload,
		size_t payload_len, pt_static_answer_t *ans)
{
	char what[sizeof ans->reason];
	snprintf(what, sizeof what, "%s", ans->reason);
	if (!keys || !keys->tftp_key || !keys->tftp_cert)
		return say(ans, PT_ERR_NOT_FOUND, "no TFTP key to sign %s with",
			   ans->served);
	pt_tlv_digest_t digest = PT_TLV_DIGEST_SHA1;
	(void)pt_itl_digest_parse(
		pt_param_value(cluster, PT_PARAM_TFTP_SIGNATURE_ALG), &digest);
	size_t n = strlen(ans->served);
	if (n + SGN_SUFFIX_LEN >= sizeof ans->served)
		return say(ans, PT_ERR_DENIED, "%s" SGN_SUFFIX " is too long",
			   ans->served);
	memcpy(ans->served + n, SGN_SUFFIX, SGN_SUFFIX_LEN + 1);
	pt_sgn_opts_t so = {.digest = (pt_sgn_digest_t)digest,
			    .file_name = ans->served,
			    .timestamp = o->timestamp};
	int r = pt_sgn_build(payload, payload_len, keys->tftp_key,
			     keys->tftp_cert, &so, &ans->bytes, &ans->len);
	if (r != PT_OK)
		return say(ans, r, "cannot sign %s: %s", ans->served,
			   pt_strerror(r));
	ans->is_signed = true;
	return say(ans, PT_OK, "%s, signed (%s)", what,
		   pt_sgn_digest_name((pt_sgn_digest_t)digest));
}

static int not_found(pt_static_answer_t *ans, const char *path,
		     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int not_found(pt_static_answer_t *ans, const char *path,
		     const char *fmt, ...)
{
	va_list ap;
	snprintf(ans->served, sizeof ans->served, "%s", path);
	ans->generated = false;
	va_start(ap, fmt);
	vsnprintf(ans->reason, sizeof ans->reason, fmt, ap);
	va_end(ap);
	return PT_OK;
}

/* The signed form of base (path without ".sgn"), in either cluster mode:
 * the node's ITL lists its TFTP certificate whatever the mode, so phones
 * ask for .sgn files (configfiles.h says the same for configurations). */
static int answer_signed(pt_txn_t *txn, const pt_config_keys_t *keys,
			 const pt_static_opts_t *o, int dirfd,
			 const char *path, const char *base,
			 pt_static_answer_t *ans)
{
	Pt__Cluster *cluster = NULL;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	bool found = false;
	int r = pt_cluster_get(txn, &cluster);
	if (r != PT_OK)
		return say(ans, r, "cannot read the cluster record: %s",
			   pt_strerror(r));
	r = plain_bytes(txn, dirfd, o, base, &payload, &payload_len, &found,
			ans);
	if (r != PT_OK)
		goto out;
	if (!found) {
		not_found(ans, path, "no '%s' nor '%s' %s %s", path, base,
			  o->dir ? "in" : "and", o->dir ? o->dir
						: "no static directory");
		goto out;
	}
	r = sign(cluster, keys, o, payload, payload_len, ans);
out:
	free(payload);
	pt_record_free(&cluster->base);
	return r;
}

static int answer(pt_txn_t *txn, const pt_config_keys_t *keys,
		  const pt_static_opts_t *o, int dirfd, const char *path,
		  pt_static_answer_t *ans)
{
	size_t len = strlen(path);
	bool found = false;
	int r = plain_bytes(txn, dirfd, o, path, &ans->bytes, &ans->len,
			    &found, ans);
	if (r != PT_OK || found)
		return r;
	if (!ends_with(path, len, SGN_SUFFIX) || len == SGN_SUFFIX_LEN)
		return not_found(ans, path, "no '%s' %s %s", path,
				 o->dir ? "in" : "and",
				 o->dir ? o->dir : "no static directory");
	char base[PT_TFTP_NAME_MAX + 1];
	memcpy(base, path, len - SGN_SUFFIX_LEN);
	base[len - SGN_SUFFIX_LEN] = '\0';
	return answer_signed(txn, keys, o, dirfd, path, base, ans);
}

int pt_static_source_build(pt_txn_t *txn, const pt_config_keys_t *keys,
			   const pt_static_opts_t *opts, const char *name,
			   pt_static_answer_t *ans)
{
	pt_static_opts_t o = {0};
	char path[PT_TFTP_NAME_MAX + 1];
	int dirfd = -1;

	if (!ans)
		return PT_ERR_INVALID;
	memset(ans, 0, sizeof *ans);
	if (opts)
		o = *opts;
	if (!txn || !name)
		return say(ans, PT_ERR_INVALID, "no transaction or name");
	int r = normalise(name, path, ans);
	if (r != PT_OK)
		return r;
	size_t len = strlen(path);
	if (built_elsewhere(path, len) ||
	    (ends_with(path, len, SGN_SUFFIX) &&
	     built_elsewhere(path, len - SGN_SUFFIX_LEN)))
		return say(ans, PT_ERR_INVALID,
			   "'%s' is built by another source", path);
	if (o.timestamp == 0)
		o.timestamp = (uint32_t)time(NULL);
	if (o.dir) {
		dirfd = open(o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return say(ans, PT_ESYS(errno),
				   "cannot open the static directory %s: %s",
				   o.dir, strerror(errno));
	}
	r = answer(txn, keys, &o, dirfd, path, ans);
	if (r != PT_OK)
		pt_static_answer_clear(ans);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}
