#include "pt_capf_fixture.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "store/datakey.h"
#include "store/records.h"

#define ARGS_MAX 48

void pt_capf_fixture_init(pt_capf_fixture_t *f, const char *key_type)
{
	char pw[4096];
	pt_run_t res;

	memset(f, 0, sizeof *f);
	f->log_fd = -1;
	f->root = pt_test_tmpdir();
	ck_assert_int_ne(asprintf(&f->dir, "%s/pub", f->root), -1);
	ck_assert_int_ne(asprintf(&f->phones, "%s/phones", f->root), -1);
	ck_assert_int_ne(asprintf(&f->log_path, "%s/capf.log", f->root), -1);
	ck_assert_int_eq(mkdir(f->phones, 0700), 0);
	snprintf(pw, sizeof pw, "%s/password", f->root);
	pt_test_write_file(pw, "capf service test password\n");
	pt_test_run(&res, NULL, "cli/phonetrust", "--data", f->dir, "init",
		    "--name", "pub", "--role", "publisher", "--address",
		    "127.0.0.1", "--password-file", pw, "--key-type", key_type,
		    "--org", "Example", (char *)NULL);
	ck_assert_msg(res.status == 0, "init: %s", res.err);
	pt_run_clear(&res);
}

void pt_capf_fixture_clear(pt_capf_fixture_t *f)
{
	if (getenv("PT_TEST_KEEP") && f->root)
		fprintf(stderr, "kept %s\n", f->root);
	else if (f->root)
		pt_test_rmtree(f->root);
	free(f->root);
	free(f->dir);
	free(f->phones);
	free(f->log_path);
	memset(f, 0, sizeof *f);
	f->log_fd = -1;
}

void pt_capf_fixture_start(pt_capf_fixture_t *f,
			   const pt_capf_service_opts_t *opts)
{
	pt_capf_service_opts_t o;
	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof o);
	ck_assert_int_eq(pt_store_open(f->dir, PT_STORE_NOSYNC, 0, &f->store),
			 PT_OK);
	ck_assert_int_eq(pt_identity_load(f->dir, &f->id), PT_OK);
	ck_assert_int_eq(pt_datakey_load(f->dir, &f->key), PT_OK);
	f->log_fd = open(f->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			 0600);
	ck_assert_int_ge(f->log_fd, 0);
	pt_log_opts_t lo = {.level = PT_LOG_DEBUG, .fd = f->log_fd,
			    .ident = "pub"};
	ck_assert_int_eq(pt_log_new(&lo, &f->log), PT_OK);
	o.bind_address = "127.0.0.1";
	o.port = 0;
	o.store = f->store;
	o.data_key = &f->key;
	o.key = pt_identity_key(f->id, PT_IDENTITY_CAPF);
	o.cert = pt_identity_cert(f->id, PT_IDENTITY_CAPF);
	o.log = f->log;
	if (!o.workers)
		o.workers = 2;
	ck_assert_int_eq(pt_capf_service_new(&o, &f->svc), PT_OK);
	ck_assert_int_eq(pt_capf_service_start(f->svc), PT_OK);
	snprintf(f->where, sizeof f->where, "127.0.0.1:%u",
		 pt_capf_service_port(f->svc));
}

void pt_capf_fixture_stop(pt_capf_fixture_t *f)
{
	pt_capf_service_destroy(&f->svc);
	pt_identity_destroy(&f->id);
	pt_store_destroy(&f->store);
	pt_log_destroy(&f->log);
	if (f->log_fd >= 0)
		close(f->log_fd);
	f->log_fd = -1;
	pt_seal_wipe(&f->key, sizeof f->key);
}

static void run_va(pt_capf_fixture_t *f, pt_run_t *res, const char *lead[],
		   size_t n_lead, const char *first, va_list ap)
{
	char *argv[ARGS_MAX + 1];
	size_t n = 0;
	argv[n++] = "phonetrust";
	argv[n++] = "--data";
	argv[n++] = f->dir;
	for (size_t i = 0; i < n_lead; i++)
		argv[n++] = (char *)lead[i];
	for (const char *a = first; a && n < ARGS_MAX; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	argv[n] = NULL;
	pt_test_runv(res, NULL, "cli/phonetrust", argv);
}

void pt_capf_fixture_cli(pt_capf_fixture_t *f, pt_run_t *res,
			 const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	run_va(f, res, NULL, 0, first, ap);
	va_end(ap);
}

void pt_capf_fixture_cli_ok(pt_capf_fixture_t *f, const char *first, ...)
{
	pt_run_t res;
	va_list ap;
	va_start(ap, first);
	run_va(f, &res, NULL, 0, first, ap);
	va_end(ap);
	ck_assert_msg(res.status == 0, "phonetrust %s: exit %d: %s", first,
		      res.status, res.err);
	pt_run_clear(&res);
}

void pt_capf_fixture_enrol(pt_capf_fixture_t *f, pt_run_t *res,
			   const char *device, ...)
{
	const char *lead[] = {"--json",  "phone",  "enrol",  "--capf",
			      f->where,  "--device", device, "--out",
			      f->phones};
	va_list ap;
	va_start(ap, device);
	const char *first = va_arg(ap, const char *);
	run_va(f, res, lead, sizeof lead / sizeof lead[0], first, ap);
	va_end(ap);
}

Pt__Device *pt_capf_fixture_device(pt_capf_fixture_t *f, const char *name)
{
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_txn_begin(f->store, false, NULL, &txn), PT_OK);
	int r = pt_device_get(txn, name, &dev);
	pt_txn_abort(&txn);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	return dev;
}

void pt_capf_fixture_device_put(pt_capf_fixture_t *f, const Pt__Device *dev)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(f->store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

void pt_capf_fixture_state(pt_capf_fixture_t *f, uint8_t digest[32],
			   uint64_t *seq)
{
	ck_assert_int_eq(pt_store_digest(f->store, digest), PT_OK);
	ck_assert_int_eq(pt_store_last_sequence(f->store, seq), PT_OK);
}

bool pt_capf_fixture_log_has(const pt_capf_fixture_t *f, const char *text)
{
	char *log = pt_test_read_file(f->log_path, NULL);
	bool found = log && strstr(log, text);
	free(log);
	return found;
}

const char *pt_capf_fixture_phone_file(const pt_capf_fixture_t *f,
				       const char *name, const char *suffix)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s%s", f->phones, name, suffix);
	return path;
}
