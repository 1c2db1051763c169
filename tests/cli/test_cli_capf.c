/* phonetrust capf op | show | set keep-alive | cert regenerate | expiring,
 * and bulk operations through `device import --csv`, run as the real
 * binary on a publisher made by the real `phonetrust init`.  What a CAPF
 * session writes is done through node/files/capf_store.h in between.
 * Every refusal leaves the store digest and changelog as they were. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "files/capf_store.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

#define DEV "SEP001122334455"

static char *tmp, *pub;

static char *path_in(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, name), 0);
	return p;
}

static void init_node(const char *dir, const char *name, const char *role)
{
	char *pw = path_in("password");
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", dir, "init", "--name",
		    name, "--role", role, "--password-file", pw, "--key-type",
		    "ec256", "--org", "Example", "--address", "10.0.0.5", NULL);
	ck_assert_msg(r.status == 0, "init %s: %s", role, r.err);
	pt_run_clear(&r);
	free(pw);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in("pub");
	char *pw = path_in("password");
	pt_test_write_file(pw, "capf cli test password\n");
	free(pw);
	init_node(pub, "pub1", "publisher");
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
}

#define MAX_ARGS 24
static void run(pt_run_t *r, const char *dir, int want,
		const char *const *args)
{
	char *argv[MAX_ARGS + 4];
	int n = 0;
	argv[n++] = (char *)"phonetrust";
	argv[n++] = (char *)"--data";
	argv[n++] = (char *)dir;
	for (; *args && n < MAX_ARGS; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pt_test_runv(r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r->status == want, "%s %s: exit %d, want %d\n%s%s",
		      argv[3], argv[4], r->status, want, r->out, r->err);
}

static void ok(const char *const *args)
{
	pt_run_t r;
	run(&r, pub, 0, args);
	pt_run_clear(&r);
}

static json_t *run_json(const char *const *args)
{
	pt_run_t r;
	run(&r, pub, 0, args);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "not JSON: %s\n%s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

/* Must be refused with exit want (1 refusal, 2 usage), the reason on
 * stderr holding frag, and the store untouched. */
static void refused_with(const char *dir, int want, const char *frag,
			 const char *const *args)
{
	pt_fixture_state_t before;
	pt_fixture_state(dir, &before);
	pt_run_t r;
	run(&r, dir, want, args);
	ck_assert_msg(strstr(r.err, frag), "'%s' not in: %s", frag, r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &before);
}

static void refused(const char *frag, const char *const *args)
{
	refused_with(pub, 1, frag, args);
}

static Pt__Device *device(const char *name)
{
	Pt__Device *d = pt_fixture_device(pub, name);
	ck_assert_ptr_nonnull(d);
	return d;
}

/* The CAPF server's part, in process: issue an LSC for a fresh key. */
static void session_issue(const char *name)
{
	pt_store_t *store = NULL;
	pt_identity_t *id = NULL;
	EVP_PKEY *phone = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	char why[PT_CAPF_WHY_MAX];
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_identity_load(pub, &id), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &phone), PT_OK);
	ck_assert_int_eq(pt_capf_store_issue(store,
					     pt_identity_key(id, PT_IDENTITY_CAPF),
					     pt_identity_cert(id, PT_IDENTITY_CAPF),
					     name, phone, (int64_t)time(NULL),
					     &der, &len, why, sizeof why),
			 PT_OK);
	free(der);
	EVP_PKEY_free(phone);
	pt_identity_destroy(&id);
	pt_store_destroy(&store);
}

START_TEST(op_schedules_and_refuses)
{
	pt_run_t r;
	ok((const char *[]){"device", "add", DEV, "--model", "8841", NULL});

	run(&r, pub, 0,
	    (const char *[]){"capf", "op", DEV, "--operation", "install",
			     "--auth-mode", "string", "--generate-string",
			     "--key-size", "1024", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "install scheduled for " DEV));
	const char *at = strstr(r.out, "authentication string for " DEV ": ");
	ck_assert_ptr_nonnull(at);
	char digits[16] = "";
	sscanf(at + strlen("authentication string for " DEV ": "), "%15s",
	       digits);
	ck_assert_uint_eq(strlen(digits), 8);
	pt_run_clear(&r);
	Pt__Device *d = device(DEV);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_PENDING);
	ck_assert_int_eq(d->capf->auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING);
	ck_assert_uint_eq(d->capf->key_size, 1024);
	ck_assert_int_gt(d->capf->completes_by, (int64_t)time(NULL));
	ck_assert_ptr_nonnull(d->capf->auth_string);
	pt__device__free_unpacked(d, NULL);

	/* The string opens to what was printed, and CAPF accepts it. */
	pt_store_t *store = NULL;
	pt_data_key_t key;
	char why[PT_CAPF_WHY_MAX];
	pt_fixture_key(pub, &key);
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, DEV, digits,
						    strlen(digits),
						    (int64_t)time(NULL), why,
						    sizeof why),
			 PT_OK);
	pt_store_destroy(&store);

	json_t *j = run_json((const char *[]){"capf", "show", DEV, "--json",
					      NULL});
	ck_assert_str_eq(json_string_value(json_object_get(j, "auth_string")),
			 digits);
	ck_assert_str_eq(json_string_value(json_object_get(j, "operation")),
			 "install");
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")),
			 "pending");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "key_size")),
			 1024);
	json_decref(j);

	/* Refusals. */
	refused("no device or CAPF profile SEP0000000000AA",
		(const char *[]){"capf", "op", "SEP0000000000AA", "--operation",
				 "install", NULL});
	refused("allows RSA keys only",
		(const char *[]){"capf", "op", DEV, "--operation", "install",
				 "--ec-curve", "256", NULL});
	refused("in the past",
		(const char *[]){"capf", "op", DEV, "--operation", "install",
				 "--completes-by", "2001-01-01T00:00:00Z",
				 NULL});
	refused("the operation must be",
		(const char *[]){"capf", "op", DEV, "--operation", "renew",
				 NULL});
	refused("4 to 10",
		(const char *[]){"capf", "op", DEV, "--operation", "install",
				 "--auth-string", "12", NULL});
	refused("key_size",
		(const char *[]){"capf", "op", DEV, "--operation", "install",
				 "--key-size", "1000", NULL});
	refused_with(pub, 2, "--operation",
		     (const char *[]){"capf", "op", DEV, NULL});
	refused_with(pub, 2, "not both",
		     (const char *[]){"capf", "op", DEV, "--operation",
				      "install", "--key-size", "2048",
				      "--ec-curve", "256", NULL});
	refused_with(pub, 2, "not both",
		     (const char *[]){"capf", "op", DEV, "--operation",
				      "install", "--auth-string", "1234",
				      "--generate-string", NULL});

	/* A string-mode operation on a device that has none. */
	ok((const char *[]){"device", "add", "SEP0011223344AA", "--model",
			    "8841", NULL});
	refused("needs an authentication string",
		(const char *[]){"capf", "op", "SEP0011223344AA", "--operation",
				 "install", "--auth-mode", "string", NULL});

	/* Scheduling what is scheduled changes nothing. */
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);
	run(&r, pub, 0, (const char *[]){"capf", "op", DEV, "--operation",
					 "install", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "unchanged"));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &before);

	/* none cancels. */
	ok((const char *[]){"capf", "op", DEV, "--operation", "none", NULL});
	d = device(DEV);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_NONE);
	ck_assert_int_eq(d->capf->completes_by, 0);
	pt__device__free_unpacked(d, NULL);

	/* An explicit completion time. */
	ok((const char *[]){"capf", "op", DEV, "--operation", "delete",
			    "--completes-by", "2099-06-30T12:00:00Z", NULL});
	d = device(DEV);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_DELETE);
	ck_assert_int_eq(d->capf->completes_by, 4086504000);
	pt__device__free_unpacked(d, NULL);

	/* An install the online-CA setting will refuse is pointed out. */
	ok((const char *[]){"cluster", "set", "capf_certificate_issuer",
			    "online-ca", NULL});
	run(&r, pub, 0, (const char *[]){"capf", "op", DEV, "--operation",
					 "install", "--auth-mode", "null",
					 NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "online-ca"));
	pt_run_clear(&r);
}
END_TEST

START_TEST(subscriber_refused)
{
	char *sub = path_in("sub");
	init_node(sub, "sub1", "subscriber");
	refused_with(sub, 1, "subscriber",
		     (const char *[]){"capf", "op", DEV, "--operation",
				      "install", NULL});
	refused_with(sub, 1, "subscriber",
		     (const char *[]){"capf", "set", "keep-alive", "20", NULL});
	refused_with(sub, 1, "subscriber",
		     (const char *[]){"capf", "cert", "regenerate", NULL});
	refused_with(sub, 1, "subscriber",
		     (const char *[]){"capf", "stale-lsc", "delete", "all",
				      NULL});
	refused_with(sub, 1, "subscriber",
		     (const char *[]){"capf", "profile", "add", "app1",
				      "--user", "u", NULL});
	free(sub);
}
END_TEST

START_TEST(show_prints_lsc_history_fetched)
{
	pt_run_t r;
	ok((const char *[]){"device", "add", DEV, "--model", "8841",
			    "--operation", "install", NULL});
	session_issue(DEV);
	ok((const char *[]){"capf", "op", DEV, "--operation", "install", NULL});
	session_issue(DEV);

	/* Troubleshoot: the phone's certificate is kept and printed. */
	ok((const char *[]){"capf", "op", DEV, "--operation", "troubleshoot",
			    NULL});
	Pt__Device *d = device(DEV);
	uint8_t *der = malloc(d->lsc->der.len);
	size_t len = d->lsc->der.len;
	memcpy(der, d->lsc->der.data, len);
	char serial[80];
	snprintf(serial, sizeof serial, "%s", d->lsc->serial);
	pt__device__free_unpacked(d, NULL);
	pt_store_t *store = NULL;
	char why[PT_CAPF_WHY_MAX];
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_capf_store_record_fetched(store, DEV, der, len,
						      (int64_t)time(NULL), why,
						      sizeof why),
			 PT_OK);
	pt_store_destroy(&store);
	free(der);

	run(&r, pub, 0, (const char *[]){"capf", "show", DEV, NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "LSC                    serial "));
	ck_assert_ptr_nonnull(strstr(r.out, serial));
	ck_assert_ptr_nonnull(strstr(r.out, "earlier LSCs           1"));
	ck_assert_ptr_nonnull(strstr(r.out, "fetched certificates   1"));
	ck_assert_ptr_nonnull(strstr(r.out, "-----BEGIN CERTIFICATE-----"));
	ck_assert_ptr_nonnull(strstr(r.out, "status                 success "
					    "(troubleshoot"));
	ck_assert_ptr_nonnull(strstr(r.out, "subject O=Example,CN=" DEV));
	pt_run_clear(&r);

	json_t *j = run_json((const char *[]){"capf", "show", DEV, "--json",
					      NULL});
	ck_assert_uint_eq(json_array_size(json_object_get(j, "history")), 1);
	json_t *f = json_array_get(json_object_get(j, "fetched"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(f, "source")),
			 "troubleshoot");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(f, "pem")),
				     "BEGIN CERTIFICATE"));
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "lsc"), "serial")),
			 serial);
	json_decref(j);

	refused("no device or CAPF profile",
		(const char *[]){"capf", "show", "SEP0000000000BB", NULL});
	refused_with(pub, 2, "exactly one",
		     (const char *[]){"capf", "show", NULL});
}
END_TEST

START_TEST(set_keep_alive)
{
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"capf", "set", "keep-alive", "20",
					 NULL});
	ck_assert_str_eq(r.out, "CAPF keep-alive: 20 minutes\n");
	pt_run_clear(&r);
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_store_open(pub, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_OK);
	ck_assert_int_eq(pt_param_int(cl, PT_PARAM_CAPF_KEEPALIVE_MIN), 20);
	pt_record_free(&cl->base);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);

	refused("5-60", (const char *[]){"capf", "set", "keep-alive", "61",
					 NULL});
	refused("5-60", (const char *[]){"capf", "set", "keep-alive", "4",
					 NULL});
	refused("5-60", (const char *[]){"capf", "set", "keep-alive", "1x",
					 NULL});
	refused_with(pub, 2, "unknown CAPF setting",
		     (const char *[]){"capf", "set", "timeout", "5", NULL});
	refused_with(pub, 2, "set keep-alive MINUTES",
		     (const char *[]){"capf", "set", "keep-alive", NULL});
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);
	run(&r, pub, 0, (const char *[]){"capf", "set", "keep-alive", "20",
					 NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "unchanged"));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &before);
}
END_TEST

static uint8_t *file_der(const char *path, size_t *len)
{
	size_t n = 0;
	char *pem = pt_test_read_file(path, &n);
	X509 *x = NULL;
	uint8_t *der = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, n, &x), PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(x, &der, len), PT_OK);
	X509_free(x);
	free(pem);
	return der;
}

static Pt__Cluster *cluster_now(void)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_store_open(pub, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return cl;
}

static Pt__TrustEntry *trust_of(const uint8_t *der, size_t len)
{
	uint8_t sha[32];
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__TrustEntry *e = NULL;
	ck_assert_int_eq(pt_certs_sha256(der, len, sha), PT_OK);
	ck_assert_int_eq(pt_store_open(pub, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_trust_get(txn, sha, &e);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return e;
}

START_TEST(cert_regenerate)
{
	char *cert_path = path_in("pub/certs/capf.pem");
	char *key_new = path_in("pub/keys/capf.key.new");
	size_t old_len = 0, new_len = 0;
	uint8_t *old = file_der(cert_path, &old_len);
	/* An LSC of the old CAPF, to check it still authenticates. */
	ok((const char *[]){"device", "add", DEV, "--model", "8841",
			    "--operation", "install", NULL});
	session_issue(DEV);
	/* Leftovers of a crash that the store does not name: removed. */
	pt_test_write_file(key_new, "garbage\n");

	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"capf", "cert", "regenerate", NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "every phone resets"));
	ck_assert_ptr_nonnull(strstr(r.out, "new CAPF certificate CN=CAPF-"));
	pt_run_clear(&r);
	struct stat st;
	ck_assert_int_ne(stat(key_new, &st), 0);

	uint8_t *now_der = file_der(cert_path, &new_len);
	ck_assert(new_len != old_len || memcmp(now_der, old, old_len) != 0);
	Pt__Cluster *cl = cluster_now();
	ck_assert(cl->capf_cert_der.len == new_len &&
		  memcmp(cl->capf_cert_der.data, now_der, new_len) == 0);
	pt_record_free(&cl->base);

	/* The identity loads (key matches certificate), same key type. */
	pt_identity_t *id = NULL;
	ck_assert_int_eq(pt_identity_load(pub, &id), PT_OK);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(id,
							      PT_IDENTITY_CAPF)),
			 EVP_PKEY_EC);
	X509 *x = pt_identity_cert(id, PT_IDENTITY_CAPF);
	char *subject = NULL;
	ck_assert_int_eq(pt_certs_subject(x, &subject), PT_OK);
	ck_assert_ptr_nonnull(strstr(subject, "O=Example"));
	free(subject);
	pt_identity_destroy(&id);

	/* Old and new are CAPF-trusted; the old one is no longer init's. */
	Pt__TrustEntry *e = trust_of(old, old_len);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->source, "previous CAPF certificate");
	ck_assert_uint_eq(e->n_purposes, 1);
	ck_assert_int_eq(e->purposes[0], PT__TRUST_PURPOSE__TRUST_CAPF);
	pt_record_free(&e->base);
	e = trust_of(now_der, new_len);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->purposes[0], PT__TRUST_PURPOSE__TRUST_CAPF);
	pt_record_free(&e->base);

	pt_store_t *store = NULL;
	pt_capf_trust_t *t = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_capf_store_trust_load(store, &t), PT_OK);
	Pt__Device *d = device(DEV);
	X509 *lsc = NULL;
	ck_assert_int_eq(pt_certs_decode_der(d->lsc->der.data, d->lsc->der.len,
					     &lsc),
			 PT_OK);
	pt__device__free_unpacked(d, NULL);
	bool verified = false;
	for (size_t i = 0; i < t->n; i++)
		verified = verified ||
			   X509_verify(lsc, X509_get0_pubkey(t->certs[i])) == 1;
	ck_assert(verified);
	X509_free(lsc);
	pt_capf_trust_destroy(&t);
	pt_store_destroy(&store);

	/* Another type on request; usage errors change nothing. */
	json_t *j = run_json((const char *[]){"capf", "cert", "regenerate",
					      "--key-type", "rsa2048",
					      "--json", NULL});
	ck_assert_ptr_nonnull(json_object_get(j, "sha256"));
	json_decref(j);
	ck_assert_int_eq(pt_identity_load(pub, &id), PT_OK);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(id,
							      PT_IDENTITY_CAPF)),
			 EVP_PKEY_RSA);
	pt_identity_destroy(&id);
	refused_with(pub, 2, "--key-type",
		     (const char *[]){"capf", "cert", "regenerate",
				      "--key-type", "dsa", NULL});
	refused_with(pub, 2, "regenerate",
		     (const char *[]){"capf", "cert", "renew", NULL});
	free(old);
	free(now_der);
	free(cert_path);
	free(key_new);
}
END_TEST

START_TEST(expiring_lists)
{
	ok((const char *[]){"cluster", "set", "capf_cert_validity_days", "2",
			    NULL});
	ok((const char *[]){"device", "add", DEV, "--model", "8841",
			    "--operation", "install", NULL});
	ok((const char *[]){"device", "add", "SEP0011223344BB", "--model",
			    "8841", NULL});
	session_issue(DEV);
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"capf", "expiring", "--within", "3",
					 NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "device"));
	ck_assert_ptr_nonnull(strstr(r.out, DEV));
	ck_assert_ptr_null(strstr(r.out, "capf-certificate"));
	pt_run_clear(&r);
	run(&r, pub, 0, (const char *[]){"capf", "expiring", "--within", "1",
					 NULL});
	ck_assert_str_eq(r.out, "nothing expires within that time\n");
	pt_run_clear(&r);
	json_t *j = run_json((const char *[]){"capf", "expiring", "--within",
					      "2000", "--json", NULL});
	ck_assert_uint_eq(json_array_size(j), 2);
	/* Soonest first: the LSC (2 days), then CAPF's (1825). */
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(j, 0), "name")),
			 DEV);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(j, 1), "kind")),
			 "capf-certificate");
	json_decref(j);
	refused_with(pub, 2, "--within",
		     (const char *[]){"capf", "expiring", NULL});
	refused_with(pub, 2, "--within",
		     (const char *[]){"capf", "expiring", "--within", "-1",
				      NULL});
}
END_TEST

START_TEST(import_csv_sets_operations)
{
	ok((const char *[]){"device", "add", "SEP0000000000C1", "--model",
			    "8841", NULL});
	char *csv = path_in("devices.csv");
	pt_test_write_file(csv,
			   "name,model,operation,auth_mode,auth_string,"
			   "key_size,completes_by\n"
			   "SEP0000000000C1,8841,install,string,24681357,1024,"
			   "2099-01-01T00:00:00Z\n"
			   "SEP0000000000C2,8841,delete,null,,,\n"
			   "SEP0000000000C3,8841,troubleshoot,,,,\n");
	ok((const char *[]){"device", "import", "--csv", csv, NULL});
	free(csv);

	pt_store_t *store = NULL;
	pt_data_key_t key;
	char why[PT_CAPF_WHY_MAX];
	pt_capf_plan_t plan;
	int64_t now = (int64_t)time(NULL);
	pt_fixture_key(pub, &key);
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP0000000000C1", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_KEY_GENERATE);
	ck_assert_int_eq(plan.auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING);
	ck_assert_uint_eq(plan.key_size, 1024);
	ck_assert_int_eq(plan.completes_by, 4070908800);
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key,
						    "SEP0000000000C1",
						    "24681357", 8, now, why,
						    sizeof why),
			 PT_OK);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP0000000000C2", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_DELETE);
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP0000000000C3", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_FETCH);
	ck_assert_int_gt(plan.completes_by, now);
	pt_capf_plan_clear(&plan);
	pt_store_destroy(&store);
	pt_seal_wipe(&key, sizeof key);

	/* capf report agrees. */
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"capf", "report", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "SEP0000000000C1,,"));
	ck_assert_ptr_nonnull(strstr(r.out, ",24681357,string,pending "
					    "install\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "pending delete"));
	pt_run_clear(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cli_capf");
	TCase *tc = tcase_create("capf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, op_schedules_and_refuses);
	tcase_add_test(tc, subscriber_refused);
	tcase_add_test(tc, show_prints_lsc_history_fetched);
	tcase_add_test(tc, set_keep_alive);
	tcase_add_test(tc, cert_regenerate);
	tcase_add_test(tc, expiring_lists);
	tcase_add_test(tc, import_csv_sets_operations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
