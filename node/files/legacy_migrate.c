#include "files/legacy_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/legacy_device.h"
#include "files/legacy_report.h"
#include "files/legacy_settings.h"
#include "files/legacy_source.h"
#include "files/legacy_spill.h"
#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "lib/legacy_phone.h"
#include "store/records.h"

#define READ_CHUNK (1u << 20)
#define SPILL_PREFIX "legacy-spill."
#define LOCK_FILE "legacy-migrate.lock"

struct run {
	pt_store_t *store;
	const pt_legacy_opts_t *o;
	pt_legacy_result_t *res;
	pt_legacy_dir_t **dirs;
	size_t ndirs;
	pt_legacy_settings_t *settings;
	pt_legacy_report_t *report;
	pt_legacy_spill_t *spill;
	char *spill_dir;
	int lock_fd;
	/* while reading one CAPF.phone */
	const pt_legacy_dir_t *dir;
	int cb_err;
	uint64_t bytes_total;
	int64_t stamp;
	/* while writing */
	Pt__Device **cands;
	uint64_t *order;
	size_t cands_cap;
};

static int fail(struct run *run, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct run *run, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(run->res->why, sizeof run->res->why, fmt, ap);
	va_end(ap);
	return r;
}

static void progress(struct run *run, pt_legacy_phase_t phase, uint64_t done,
		     uint64_t total)
{
	if (!run->o->progress)
		return;
	pt_legacy_progress_t p = {phase, done, total};
	run->o->progress(run->o->progress_arg, &p);
}

/* ---- lock and spill directory --------------------------------------- */

static int take_lock(struct run *run)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", pt_store_dir(run->store), LOCK_FILE) < 0)
		return PT_ERR_NOMEM;
	run->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (run->lock_fd < 0)
		return fail(run, PT_ESYS(errno),
			    "cannot create the migration lock in %s: %s",
			    pt_store_dir(run->store), strerror(errno));
	if (flock(run->lock_fd, LOCK_EX | LOCK_NB) != 0)
		return fail(run, PT_ERR_IN_USE,
			    "another migration is running on %s; wait for it",
			    pt_store_dir(run->store));
	return PT_OK;
}

static void remove_tree_flat(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/* Half-copied archive files of a killed run. */
static void remove_stale_incoming(const char *datadir)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/%s", datadir, PT_LEGACY_ARCHIVE_DIR) < 0)
		return;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, ".incoming.", 10) == 0)
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	free(dir);
}

/* Spill directories of a killed run (the lock says no run owns them). */
static void remove_stale_spills(const char *datadir)
{
	DIR *d = opendir(datadir);
	remove_stale_incoming(datadir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, SPILL_PREFIX, sizeof SPILL_PREFIX - 1))
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", datadir, e->d_name) >= 0) {
			remove_tree_flat(p);
			free(p);
		}
	}
	closedir(d);
}

static int make_spill(struct run *run)
{
	if (asprintf(&run->spill_dir, "%s/" SPILL_PREFIX "XXXXXX",
		     pt_store_dir(run->store)) < 0) {
		run->spill_dir = NULL;
		return PT_ERR_NOMEM;
	}
	if (!mkdtemp(run->spill_dir)) {
		int e = errno;
		free(run->spill_dir);
		run->spill_dir = NULL;
		return fail(run, PT_ESYS(e),
			    "cannot make a spill directory in %s: %s",
			    pt_store_dir(run->store), strerror(e));
	}
	return pt_legacy_spill_new(run->spill_dir, run->o->run_bytes,
				   &run->spill);
}

/* ---- directories ------------------------------------------------------ */

static int open_dirs(struct run *run)
{
	struct stat seen[PT_LEGACY_DIRS_MAX];
	run->dirs = calloc(run->o->ndirs, sizeof *run->dirs);
	if (!run->dirs)
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < run->o->ndirs; i++) {
		const char *path = run->o->dirs[i];
		char why[sizeof run->res->why];
		int r = pt_legacy_dir_open(path, (uint32_t)i, &run->dirs[i],
					   why, sizeof why);
		if (r == PT_ERR_INVALID)
			return fail(run, r, "%s", why);
		if (r != PT_OK)
			return fail(run, r, "cannot read %s: %s", path,
				    pt_strerror(r));
		run->ndirs++;
		if (stat(path, &seen[i]) != 0)
			return fail(run, PT_ERR_INVALID, "cannot stat %s: %s",
				    path, strerror(errno));
		for (size_t j = 0; j < i; j++)
			if (seen[j].st_dev == seen[i].st_dev &&
			    seen[j].st_ino == seen[i].st_ino)
				return fail(run, PT_ERR_INVALID,
					    "%s and %s are the same directory; "
					    "give each legacy directory once",
					    run->o->dirs[j], path);
		run->res->unknown_files += run->dirs[i]->nunknown;
		run->bytes_total += pt_legacy_dir_phone(run->dirs[i])->size;
	}
	return PT_OK;
}

/* ---- reading ---------------------------------------------------------- */

static int on_quarantine(void *arg, const pt_legacy_quarantine_t *q)
{
	struct run *run = arg;
	run->res->counts.read++;
	run->res->counts.quarantined++;
	if (!run->report)
		return PT_OK;
	int r = pt_legacy_report_quarantine(run->report, run->dir->path,
					    PT_LEGACY_PHONE_FILE, q);
	if (r != PT_OK)
		run->cb_err = r;
	return r;
}

static int on_record(void *arg, pt_legacy_phone_t **recp)
{
	struct run *run = arg;
	const pt_legacy_phone_t *rec = *recp;
	Pt__Device *dev = NULL;
	const char *why = NULL;
	bool reissue = false;
	int r;

	const char *code = PT_LEGACY_R_MODEL;
	if (rec->lsc_der) {
		r = pt_legacy_issuers_check(
			pt_legacy_settings_issuers(run->settings), rec->lsc_der,
			rec->lsc_der_len, NULL);
		if (r != PT_OK && r != PT_ERR_NOT_FOUND &&
		    r != PT_ERR_MALFORMED)
			return run->cb_err = r;
		reissue = r != PT_OK;
		if (r == PT_ERR_MALFORMED) {
			code = PT_LEGACY_R_LSC;
			why = "the LSC is not a certificate";
		}
	}
	if (!why)
		r = pt_legacy_device_build(rec, run->dir->path, run->o->key,
					   reissue, &dev, &why);
	if (why) {
		/* A record the parser accepted that still makes no device is
		 * quarantined like the parser's own refusals. */
		pt_legacy_quarantine_t q = {
			.section = rec->name,
			.first_line = rec->first_line,
			.last_line = rec->last_line,
			.reason = code,
			.why = why,
			.raw = rec->raw,
			.raw_len = rec->raw_len,
			.raw_truncated = rec->raw_truncated,
		};
		return on_quarantine(run, &q);
	}
	if (r != PT_OK)
		return run->cb_err = r;
	size_t len = protobuf_c_message_get_packed_size(&dev->base);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		pt_record_free(&dev->base);
		return run->cb_err = PT_ERR_NOMEM;
	}
	protobuf_c_message_pack(&dev->base, buf);
	pt_record_free(&dev->base);
	r = pt_legacy_spill_put(run->spill, rec->name,
				(uint64_t)run->dir->index << 32 |
					rec->first_line,
				buf, len);
	free(buf);
	if (r != PT_OK)
		return run->cb_err = r;
	run->res->counts.read++;
	run->res->counts.candidates++;
	if (rec->last_updated > run->stamp)
		run->stamp = rec->last_updated;
	return PT_OK;
}

static int read_phone(struct run *run, pt_legacy_dir_t *d, uint64_t *done)
{
	pt_legacy_file_t *f = pt_legacy_dir_phone(d);
	pt_legacy_phone_parser_t *p = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t *buf = NULL;
	unsigned int mdlen = 0;
	uint64_t size = 0;
	int fd = -1, r;

	run->dir = d;
	pt_legacy_phone_opts_t po = {.tz_offset_minutes = d->tz_offset_minutes};
	pt_legacy_phone_cbs_t cbs = {.record = on_record,
				     .quarantine = on_quarantine,
				     .arg = run};
	if ((r = pt_legacy_phone_parser_new(&po, &cbs, &p)) != PT_OK)
		goto out;
	if (!(buf = malloc(READ_CHUNK)) || !(md = EVP_MD_CTX_new())) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		r = PT_ERR_CRYPTO;
		goto out;
	}
	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = fail(run, PT_ESYS(errno), "cannot read %s: %s", f->path,
			 strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t got = read(fd, buf, READ_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = fail(run, PT_ESYS(errno), "cannot read %s: %s",
				 f->path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		size += (uint64_t)got;
		if (!EVP_DigestUpdate(md, buf, (size_t)got)) {
			r = PT_ERR_CRYPTO;
			goto out;
		}
		if ((r = pt_legacy_phone_parser_feed(p, buf, (size_t)got)) !=
		    PT_OK)
			goto out;
		*done += (uint64_t)got;
		progress(run, PT_LEGACY_PHASE_READ, *done, run->bytes_total);
	}
	if ((r = pt_legacy_phone_parser_finish(p)) != PT_OK)
		goto out;
	if (!EVP_DigestFinal_ex(md, f->sha256, &mdlen)) {
		r = PT_ERR_CRYPTO;
		goto out;
	}
	f->size = size;
	f->hashed = true;
out:
	if (r != PT_OK && !run->res->why[0])
		fail(run, r, "cannot read %s: %s", f->path, pt_strerror(r));
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(md);
	free(buf);
	pt_legacy_phone_parser_destroy(&p);
	return r;
}

/* ---- archive and the first transaction ------------------------------- */

static int put_source(pt_txn_t *txn, const pt_legacy_dir_t *d,
		      const pt_legacy_file_t *f, const char *rel,
		      int64_t stamp, bool dry_run)
{
	const uint8_t *val = NULL;
	size_t val_len = 0;
	int r = pt_txn_get(txn, PT_TABLE_LEGACY_SOURCES, f->sha256, 32, &val,
			   &val_len);
	/* The first directory a file was archived from stays its record. */
	if (r != PT_ERR_NOT_FOUND || dry_run)
		return r == PT_ERR_NOT_FOUND ? PT_OK : r;
	Pt__LegacySource s = PT__LEGACY_SOURCE__INIT;
	s.sha256.data = (uint8_t *)f->sha256;
	s.sha256.len = 32;
	s.directory = d->path;
	s.file = f->name;
	s.size = f->size;
	s.archive_path = (char *)rel;
	s.archived = stamp;
	return pt_record_put(txn, PT_TABLE_LEGACY_SOURCES, f->sha256, 32,
			     &s.base);
}

static int archive_and_settings(struct run *run)
{
	const char *datadir = pt_store_dir(run->store);
	bool dry = run->o->dry_run;
	pt_txn_t *txn = NULL;
	char **rel = NULL;
	size_t nfiles = 0, k = 0;
	uint64_t seq = 0;
	int r = PT_OK;

	for (size_t i = 0; i < run->ndirs; i++)
		nfiles += run->dirs[i]->nfiles;
	if (!(rel = calloc(nfiles ? nfiles : 1, sizeof *rel)))
		return PT_ERR_NOMEM;
	/* Copies first: a record names only a copy that exists. */
	for (size_t i = 0; i < run->ndirs; i++) {
		for (size_t j = 0; j < run->dirs[i]->nfiles; j++, k++) {
			pt_legacy_file_t *f = &run->dirs[i]->files[j];
			r = pt_legacy_archive_file(datadir, f, dry, &rel[k]);
			if (r == PT_ERR_CORRUPT) {
				r = fail(run, r,
					 "%s changed while it was read (or its "
					 "archived copy does not check); run "
					 "the migration again on files nobody "
					 "writes",
					 f->path);
				goto out;
			}
			if (r != PT_OK) {
				r = fail(run, r, "cannot archive %s: %s",
					 f->path, pt_strerror(r));
				goto out;
			}
			run->res->files++;
			progress(run, PT_LEGACY_PHASE_ARCHIVE, k + 1, nfiles);
		}
	}
	if ((r = pt_txn_begin(run->store, !dry, "cli migrate legacy", &txn)) !=
	    PT_OK)
		goto out;
	r = pt_legacy_settings_apply(run->settings, txn, run->stamp, dry,
				     &run->res->trust_changed,
				     &run->res->params_changed);
	k = 0;
	for (size_t i = 0; r == PT_OK && i < run->ndirs; i++)
		for (size_t j = 0; r == PT_OK && j < run->dirs[i]->nfiles;
		     j++, k++)
			r = put_source(txn, run->dirs[i],
				       &run->dirs[i]->files[j], rel[k],
				       run->stamp, dry);
	if (r != PT_OK) {
		fail(run, r, "cannot write the CAPF certificates, settings "
			     "and archive records: %s", pt_strerror(r));
		goto out;
	}
	if (!dry) {
		r = pt_txn_commit(&txn, &seq);
		if (r != PT_OK) {
			fail(run, r, "cannot commit the CAPF certificates and "
				     "settings: %s", pt_strerror(r));
			goto out;
		}
		run->res->transactions += seq != 0;
	}
out:
	pt_txn_abort(&txn);
	for (size_t i = 0; i < nfiles; i++)
		free(rel[i]);
	free(rel);
	return r;
}

/* ---- writing devices -------------------------------------------------- */

static int grow_cands(struct run *run, size_t n)
{
	if (n <= run->cands_cap)
		return PT_OK;
	Pt__Device **c = realloc(run->cands, n * sizeof *c);
	if (!c)
		return PT_ERR_NOMEM;
	run->cands = c;
	uint64_t *o = realloc(run->order, n * sizeof *o);
	if (!o)
		return PT_ERR_NOMEM;
	run->order = o;
	run->cands_cap = n;
	return PT_OK;
}

static void count_action(pt_legacy_counts_t *c, pt_legacy_action_t a)
{
	switch (a) {
	case PT_LEGACY_IMPORTED: c->imported++; break;
	case PT_LEGACY_UPDATED: c->updated++; break;
	case PT_LEGACY_UNCHANGED: c->unchanged++; break;
	case PT_LEGACY_QUARANTINED: c->quarantined++; break;
	case PT_LEGACY_FLAGGED: c->flagged++; break;
	}
}

/* One device: its candidates resolved, merged with the store's record,
 * written (unless dry) and reported. */
static int apply_group(struct run *run, pt_txn_t *txn,
		       const pt_legacy_spill_item_t *items, size_t n)
{
	Pt__Device *fresh = NULL, *existing = NULL, *out = NULL;
	char reason[PT_LEGACY_REASON_MAX];
	pt_legacy_action_t action;
	size_t w = 0;
	int r = grow_cands(run, n);
	if (r != PT_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		run->cands[i] = NULL;
		run->order[i] = items[i].order;
	}
	for (size_t i = 0; i < n && r == PT_OK; i++)
		r = pt_record_decode(items[i].payload, items[i].len,
				     &pt__device__descriptor,
				     (ProtobufCMessage **)&run->cands[i]);
	if (r != PT_OK) {
		for (size_t i = 0; i < n; i++)
			pt_record_free(run->cands[i] ? &run->cands[i]->base
						     : NULL);
		return r;
	}
	if ((r = pt_legacy_device_resolve(run->cands, run->order, n, &fresh,
					  &w)) != PT_OK)
		return r;
	pt_legacy_counts_t *c = &run->res->counts;
	c->devices++;
	c->needs_reissue += fresh->legacy->needs_reissue;
	c->with_history += fresh->n_history > 0;
	c->with_extras += fresh->n_extras > 0;
	r = pt_device_get(txn, fresh->name, &existing);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		goto out;
	r = pt_legacy_device_merge(existing, fresh, run->stamp, &out, &action,
				   reason);
	if (r != PT_OK)
		goto out;
	if (out && !run->o->dry_run && (r = pt_device_put(txn, out)) != PT_OK)
		goto out;
	count_action(c, action);
	/* Extra keys are kept on the record and named here. */
	for (size_t i = 0; i < fresh->n_extras; i++) {
		size_t at = strlen(reason);
		snprintf(reason + at, sizeof reason - at, "%s%s",
			 i ? ", " : "; extra keys kept: ",
			 fresh->extras[i]->key);
	}
	if (run->report) {
		pt_legacy_line_t l = {
			.action = action,
			.device = fresh->name,
			.directory = fresh->legacy->directory,
			.file = fresh->legacy->file,
			.first_line = fresh->legacy->first_line,
			.last_line = fresh->legacy->last_line,
			.reason = reason,
		};
		r = pt_legacy_report_line(run->report, &l);
	}
out:
	pt_record_free(out ? &out->base : NULL);
	pt_record_free(existing ? &existing->base : NULL);
	pt_record_free(&fresh->base);
	return r;
}

static int write_devices(struct run *run)
{
	size_t batch = run->o->batch ? run->o->batch : PT_LEGACY_BATCH_DEFAULT;
	uint64_t total = pt_legacy_spill_count(run->spill), done = 0;
	bool dry = run->o->dry_run, more = true;
	int r = PT_OK;

	while (more && r == PT_OK) {
		pt_txn_t *txn = NULL;
		uint64_t seq = 0;
		if ((r = pt_txn_begin(run->store, !dry, "cli migrate legacy",
				      &txn)) != PT_OK)
			break;
		for (size_t i = 0; i < batch && r == PT_OK; i++) {
			const pt_legacy_spill_item_t *items = NULL;
			size_t n = 0;
			r = pt_legacy_spill_next(run->spill, &items, &n);
			if (r == PT_ERR_NOT_FOUND) {
				more = false;
				r = PT_OK;
				break;
			}
			if (r == PT_OK)
				r = apply_group(run, txn, items, n);
			done += n;
		}
		if (r == PT_OK && !dry) {
			r = pt_txn_commit(&txn, &seq);
			run->res->transactions += seq != 0;
		}
		pt_txn_abort(&txn);
		progress(run, PT_LEGACY_PHASE_WRITE, done, total);
	}
	if (r != PT_OK)
		fail(run, r,
		     "cannot write devices: %s (batches committed before stay; "
		     "run the migration again to complete it)",
		     pt_strerror(r));
	return r;
}

/* ---- report summary ---------------------------------------------------- */

static json_t *summary_json(struct run *run)
{
	const pt_legacy_result_t *res = run->res;
	const pt_legacy_counts_t *c = &res->counts;
	json_t *s = json_object(), *unknown = json_array(), *dirs = json_array();
	if (!s || !unknown || !dirs) {
		json_decref(s);
		json_decref(unknown);
		json_decref(dirs);
		return NULL;
	}
	json_object_set_new(
		s, "counts",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			  "s:I, s:I}",
			  "read", (json_int_t)c->read, "candidates",
			  (json_int_t)c->candidates, "devices",
			  (json_int_t)c->devices, "imported",
			  (json_int_t)c->imported, "updated",
			  (json_int_t)c->updated, "unchanged",
			  (json_int_t)c->unchanged, "quarantined",
			  (json_int_t)c->quarantined, "flagged",
			  (json_int_t)c->flagged, "needs_reissue",
			  (json_int_t)c->needs_reissue, "with_history",
			  (json_int_t)c->with_history, "with_extras",
			  (json_int_t)c->with_extras, "transactions",
			  (json_int_t)res->transactions));
	json_object_set_new(s, "dry_run", json_boolean(run->o->dry_run));
	json_object_set_new(s, "stamp", json_integer(res->stamp));
	for (size_t i = 0; i < run->ndirs; i++) {
		const pt_legacy_dir_t *d = run->dirs[i];
		json_t *files = json_array();
		for (size_t j = 0; files && j < d->nfiles; j++) {
			char hex[65];
			pt_legacy_hex32(d->files[j].sha256, hex);
			json_array_append_new(
				files, json_pack("{s:s, s:I, s:s}", "name",
						 d->files[j].name, "size",
						 (json_int_t)d->files[j].size,
						 "sha256", hex));
		}
		json_array_append_new(
			dirs, json_pack("{s:s, s:o, s:i}", "directory", d->path,
					"files", files, "time_zone_offset_minutes",
					(json_int_t)d->tz_offset_minutes));
		for (size_t j = 0; j < d->nunknown; j++)
			json_array_append_new(
				unknown, json_pack("{s:s, s:s}", "directory",
						   d->path, "name",
						   d->unknown[j]));
	}
	json_object_set_new(s, "directories", dirs);
	json_object_set_new(s, "unknown_files", unknown);
	if (pt_legacy_settings_report(run->settings, s) != PT_OK) {
		json_decref(s);
		return NULL;
	}
	return s;
}

/* ---- the run ----------------------------------------------------------- */

static int run_all(struct run *run)
{
	const pt_legacy_opts_t *o = run->o;
	uint64_t done = 0;
	int r;

	if (!o->ndirs || o->ndirs > PT_LEGACY_DIRS_MAX)
		return fail(run, PT_ERR_INVALID,
			    "give 1 to %u legacy directories",
			    PT_LEGACY_DIRS_MAX);
	if (o->batch > PT_LEGACY_BATCH_MAX)
		return fail(run, PT_ERR_INVALID,
			    "a batch holds at most %u devices",
			    PT_LEGACY_BATCH_MAX);
	if ((r = take_lock(run)) != PT_OK)
		return r;
	remove_stale_spills(pt_store_dir(run->store));
	if ((r = open_dirs(run)) != PT_OK)
		return r;
	if ((r = pt_legacy_settings_new(run->dirs, run->ndirs,
					&run->settings)) != PT_OK)
		return fail(run, r, "cannot read the CAPF certificates: %s",
			    pt_strerror(r));
	run->res->capf_certs = pt_legacy_settings_cert_count(run->settings);
	if (o->report_prefix &&
	    (r = pt_legacy_report_open(o->report_prefix, &run->report)) !=
		    PT_OK)
		return fail(run, PT_ERR_INVALID,
			    "cannot create the report files %s.*: %s",
			    o->report_prefix, pt_strerror(r));
	if ((r = make_spill(run)) != PT_OK)
		return run->res->why[0] ? r
					: fail(run, r, "cannot spill: %s",
					       pt_strerror(r));
	for (size_t i = 0; i < run->ndirs; i++)
		if ((r = read_phone(run, run->dirs[i], &done)) != PT_OK)
			return r;
	if ((r = pt_legacy_spill_finish(run->spill)) != PT_OK)
		return fail(run, r, "cannot merge the spill runs: %s",
			    pt_strerror(r));
	run->res->spill_runs = pt_legacy_spill_runs(run->spill);
	run->res->bytes = done;
	run->res->stamp = run->stamp;
	if ((r = archive_and_settings(run)) != PT_OK)
		return r;
	if ((r = write_devices(run)) != PT_OK)
		return r;
	if (run->report) {
		json_t *summary = summary_json(run);
		if (!summary)
			return fail(run, PT_ERR_NOMEM, "out of memory");
		r = pt_legacy_report_close(&run->report, summary);
		json_decref(summary);
		if (r != PT_OK)
			return fail(run, r, "cannot write the report %s.*: %s",
				    o->report_prefix, pt_strerror(r));
	}
	progress(run, PT_LEGACY_PHASE_DONE, 1, 1);
	return PT_OK;
}

int pt_legacy_migrate(pt_store_t *store, const pt_legacy_opts_t *opts,
		      pt_legacy_result_t *res)
{
	struct run run = {.store = store, .o = opts, .res = res, .lock_fd = -1};
	memset(res, 0, sizeof *res);
	int r = run_all(&run);
	if (r != PT_OK && !res->why[0])
		fail(&run, r, "%s", pt_strerror(r));
	pt_legacy_report_destroy(&run.report);
	pt_legacy_spill_destroy(&run.spill);
	if (run.spill_dir) {
		remove_tree_flat(run.spill_dir);
		free(run.spill_dir);
	}
	pt_legacy_settings_destroy(&run.settings);
	for (size_t i = 0; i < run.ndirs; i++)
		pt_legacy_dir_destroy(&run.dirs[i]);
	free(run.dirs);
	free(run.cands);
	free(run.order);
	if (run.lock_fd >= 0)
		close(run.lock_fd);
	return r;
}
