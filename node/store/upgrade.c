#include "store/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "store/cert_history.h"
#include "store/records.h"
#include "store/store_internal.h"

/* ---- one record ------------------------------------------------------- */

static int fill_all(Pt__Certificate **list, size_t n, bool *changed)
{
	int r = PT_OK;
	for (size_t i = 0; r == PT_OK && i < n; i++)
		r = pt_cert_fill_sha256(list[i], changed);
	return r;
}

static int device_to_2(Pt__Device *d, bool *changed)
{
	int r = pt_cert_history_normalize(d->history, &d->n_history, changed);
	if (r == PT_OK)
		r = pt_cert_fill_sha256(d->lsc, changed);
	if (r == PT_OK)
		r = pt_cert_fill_sha256(d->mic, changed);
	if (r == PT_OK)
		r = pt_cert_fill_sha256(d->capf_signed, changed);
	if (r == PT_OK)
		r = fill_all(d->fetched, d->n_fetched, changed);
	if (r == PT_OK)
		r = fill_all(d->stale, d->n_stale, changed);
	return r;
}

static int profile_to_2(Pt__CapfUserProfile *p, bool *changed)
{
	int r = pt_cert_history_normalize(p->history, &p->n_history, changed);
	if (r == PT_OK)
		r = pt_cert_fill_sha256(p->lsc, changed);
	if (r == PT_OK)
		r = pt_cert_fill_sha256(p->capf_signed, changed);
	if (r == PT_OK)
		r = fill_all(p->fetched, p->n_fetched, changed);
	if (r == PT_OK)
		r = fill_all(p->stale, p->n_stale, changed);
	return r;
}

int pt_upgrade_record(pt_table_t table, unsigned from, unsigned to,
		      const uint8_t *val, size_t len, uint8_t **out,
		      size_t *out_len)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *msg = NULL;
	bool changed = false;
	int r;

	*out = NULL;
	*out_len = 0;
	if (from == 0)
		from = 1;
	/* Only the 1 -> 2 step touches records; later steps go here. */
	if (from >= 2 || to < 2)
		return PT_OK;
	if (table == PT_TABLE_DEVICES)
		desc = &pt__device__descriptor;
	else if (table == PT_TABLE_CAPF_PROFILES)
		desc = &pt__capf_user_profile__descriptor;
	else
		return PT_OK;
	r = pt_record_decode(val, len, desc, &msg);
	if (r != PT_OK)
		return r;
	r = table == PT_TABLE_DEVICES
		    ? device_to_2((Pt__Device *)msg, &changed)
		    : profile_to_2((Pt__CapfUserProfile *)msg, &changed);
	if (r != PT_OK || !changed)
		goto out;
	/* Unknown fields (from a newer writer) are packed back by protobuf-c:
	 * nothing the record carried is lost. */
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	protobuf_c_message_pack(msg, buf);
	*out = buf;
	*out_len = n;
out:
	pt_record_free(msg);
	return r;
}

static bool certs_ok(Pt__Certificate *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i]->der.len > 0 && list[i]->sha256.len != 32)
			return false;
	return true;
}

static bool cert_ok(const Pt__Certificate *c)
{
	return !c || c->der.len == 0 || c->sha256.len == 32;
}

/* A wrong (rather than missing) sha256 is not looked for here: only the
 * upgrade step recomputes them, and our writers fill them from the DER. */
bool pt_upgrade_record_ok(pt_table_t table, const ProtobufCMessage *msg)
{
	if (table == PT_TABLE_DEVICES &&
	    msg->descriptor == &pt__device__descriptor) {
		const Pt__Device *d = (const Pt__Device *)msg;
		return pt_cert_history_ok(d->history, d->n_history) &&
		       cert_ok(d->lsc) && cert_ok(d->mic) &&
		       cert_ok(d->capf_signed) &&
		       certs_ok(d->fetched, d->n_fetched) &&
		       certs_ok(d->stale, d->n_stale);
	}
	if (table == PT_TABLE_CAPF_PROFILES &&
	    msg->descriptor == &pt__capf_user_profile__descriptor) {
		const Pt__CapfUserProfile *p = (const Pt__CapfUserProfile *)msg;
		return pt_cert_history_ok(p->history, p->n_history) &&
		       cert_ok(p->lsc) && cert_ok(p->capf_signed) &&
		       certs_ok(p->fetched, p->n_fetched) &&
		       certs_ok(p->stale, p->n_stale);
	}
	return true;
}

/* ---- the whole store -------------------------------------------------- */

/* Rewrites, in place, every record of table the step changes.  The value
 * is replaced at the cursor (MDB_CURRENT), so the walk never sees a
 * record twice. */
static int upgrade_table(MDB_txn *txn, MDB_dbi dbi, pt_table_t table,
			 unsigned from, unsigned to, size_t *rewritten)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int r = pt_store_from_mdb(mdb_cursor_open(txn, dbi, &cur));
	if (r != PT_OK)
		return r;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == MDB_SUCCESS) {
		uint8_t *nv = NULL;
		size_t nlen = 0;
		r = pt_upgrade_record(table, from, to, v.mv_data, v.mv_size,
				      &nv, &nlen);
		if (r != PT_OK)
			goto out;
		if (nv) {
			MDB_val put = {nlen, nv};
			r = pt_store_from_mdb(
				mdb_cursor_put(cur, &k, &put, MDB_CURRENT));
			free(nv);
			if (r != PT_OK)
				goto out;
			(*rewritten)++;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != MDB_NOTFOUND)
		r = pt_store_from_mdb(rc);
out:
	mdb_cursor_close(cur);
	return r;
}

int pt_store_upgrade_1_to_2(pt_store_t *store, MDB_txn *txn,
			    size_t *rewritten)
{
	static const pt_table_t rewrite[] = {PT_TABLE_DEVICES,
					     PT_TABLE_CAPF_PROFILES};
	int r = PT_OK;
	for (size_t i = 0; r == PT_OK && i < 2; i++)
		r = upgrade_table(txn, store->tables[rewrite[i]], rewrite[i],
				  1, 2, rewritten);
	return r;
}

/* ---- backups ---------------------------------------------------------- */

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return PT_ESYS(errno);
	int r = fsync(fd) == 0 ? PT_OK : PT_ESYS(errno);
	close(fd);
	return r;
}

/* The copy is written under a ".partial" name and renamed once it is on
 * disk, so a backup directory without that suffix is always whole. */
int pt_store_backup(pt_store_t *store, unsigned version, char *path,
		    size_t path_len)
{
	char dir[4096], partial[4096 + 16], file[4096 + 32] = "", stamp[32];
	int fd = -1, r;
	time_t now = time(NULL);
	struct tm tm;

	path[0] = '\0';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	if ((size_t)snprintf(dir, sizeof dir, "%s/backups", store->dir) >=
	    sizeof dir)
		return PT_ERR_TOO_LARGE;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return PT_ESYS(errno);
	/* Two upgrades in one second (tests) get -2, -3, ... */
	for (int i = 1; i < 100; i++) {
		struct stat st;
		int n = i == 1 ? snprintf(path, path_len, "%s/store-schema%u-%s",
					  dir, version, stamp)
			       : snprintf(path, path_len,
					  "%s/store-schema%u-%s-%d", dir,
					  version, stamp, i);
		if (n < 0 || (size_t)n >= path_len)
			return PT_ERR_TOO_LARGE;
		if (stat(path, &st) != 0 && errno == ENOENT)
			break;
		path[0] = '\0';
	}
	if (!path[0])
		return PT_ERR_EXISTS;
	snprintf(partial, sizeof partial, "%s.partial", path);
	if (mkdir(partial, 0700) != 0 && errno != EEXIST) {
		r = PT_ESYS(errno);
		goto out;
	}
	snprintf(file, sizeof file, "%s/data.mdb", partial);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	r = pt_store_from_mdb(mdb_env_copyfd2(store->env, fd, MDB_CP_COMPACT));
	if (r == PT_OK && fsync(fd) != 0)
		r = PT_ESYS(errno);
	if (close(fd) != 0 && r == PT_OK)
		r = PT_ESYS(errno);
	fd = -1;
	if (r == PT_OK)
		r = fsync_dir(partial);
	if (r == PT_OK && rename(partial, path) != 0)
		r = PT_ESYS(errno);
	if (r == PT_OK)
		r = fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (r != PT_OK) {
		if (file[0])
			unlink(file);
		rmdir(partial);
		path[0] = '\0';
	} else {
		size_t n = strlen(path);
		snprintf(path + n, path_len - n, "/data.mdb");
	}
	return r;
}
