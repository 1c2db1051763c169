/* phonetrust capf csr list|export|import, capf stale-lsc and capf
 * profile, run as the real binary on a real `phonetrust init` publisher.
 * The offline CA is the real openssl: `openssl x509 -req -force_pubkey`
 * certifies the phone's key (accepted), `openssl ca` certifies the
 * request's own key (refused at import).  The phone's side of each CAPF
 * session goes through node/files/capf_store.h in between.  Every refusal
 * leaves the store digest and changelog as they were. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "files/capf_store.h"
#include "lib/capf_lsc.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

#define DEV "SEP00AABBCCDDEE"
#define OPENSSL "/usr/bin/openssl"

static char *tmp, *pub;

static char *path_in(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, name), 0);
	return p;
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in("pub");
	char *pw = path_in("password");
	pt_test_write_file(pw, "capf offline test password\n");
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", pub, "init", "--name",
		    "pub1", "--role", "publisher", "--password-file", pw,
		    "--key-type", "ec256", "--address", "10.0.0.5", NULL);
	ck_assert_msg(r.status == 0, "init: %s", r.err);
	pt_run_clear(&r);
	free(pw);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
}

#define MAX_ARGS 28
static void run_bin(pt_run_t *r, const char *bin, const char *dir, int want,
		    const char *const *args)
{
	char *argv[MAX_ARGS + 4];
	int n = 0;
	argv[n++] = (char *)bin;
	if (dir) {
		argv[n++] = (char *)"--data";
		argv[n++] = (char *)dir;
	}
	for (; *args && n < MAX_ARGS; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pt_test_runv(r, NULL, bin, argv);
	ck_assert_msg(r->status == want, "%s %s %s: exit %d, want %d\n%s%s",
		      bin, argv[dir ? 3 : 1], argv[dir ? 4 : 2], r->status,
		      want, r->out, r->err);
}

static void run(pt_run_t *r, int want, const char *const *args)
{
	run_bin(r, "cli/phonetrust", pub, want, args);
}

static void ok(const char *const *args)
{
	pt_run_t r;
	run(&r, 0, args);
	pt_run_clear(&r);
}

static void openssl_ok(const char *const *args)
{
	pt_run_t r;
	run_bin(&r, OPENSSL, NULL, 0, args);
	pt_run_clear(&r);
}

static json_t *run_json(const char *const *args)
{
	pt_run_t r;
	run(&r, 0, args);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "not JSON: %s\n%s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

static void refused_with(int want, const char *frag, const char *const *args)
{
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);
	pt_run_t r;
	run(&r, want, args);
	ck_assert_msg(strstr(r.err, frag), "'%s' not in: %s", frag, r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &before);
}

static void refused(const char *frag, const char *const *args)
{
	refused_with(1, frag, args);
}

/* The phone's key generation step of a session in offline-CA mode. */
static void session_request(const char *name, EVP_PKEY *phone)
{
	pt_store_t *store = NULL;
	pt_identity_t *id = NULL;
	pt_capf_plan_t plan;
	char why[PT_CAPF_WHY_MAX];
	int64_t now = (int64_t)time(NULL);
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_identity_load(pub, &id), PT_OK);
	ck_assert_int_eq(pt_capf_store_plan(store, name, now, &plan), PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_KEY_GENERATE);
	ck_assert_int_eq(plan.issuer, PT_CAPF_ISSUER_OFFLINE_CA);
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_record_request(
				 store, pt_identity_key(id, PT_IDENTITY_CAPF),
				 pt_identity_cert(id, PT_IDENTITY_CAPF), name,
				 phone, now, why, sizeof why),
			 PT_OK);
	pt_identity_destroy(&id);
	pt_store_destroy(&store);
}

static EVP_PKEY *new_phone_key(void)
{
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &k), PT_OK);
	return k;
}

/* An openssl-made CA under tmp: ca.key, ca.pem and what `openssl ca`
 * needs (index, serial, a config). */
static char *make_ca(void)
{
	char *ca_dir = path_in("ca");
	char *key = path_in("ca/ca.key"), *pem = path_in("ca/ca.pem");
	char *cnf = path_in("ca/ca.cnf"), *idx = path_in("ca/index.txt");
	char *serial = path_in("ca/serial"), *certs = path_in("ca/newcerts");
	ck_assert_int_eq(mkdir(ca_dir, 0700), 0);
	ck_assert_int_eq(mkdir(certs, 0700), 0);
	pt_test_write_file(idx, "");
	pt_test_write_file(serial, "1000\n");
	char *text = NULL;
	ck_assert_int_ge(
		asprintf(&text,
			 "[ca]\ndefault_ca = ca_default\n"
			 "[ca_default]\ndir = %s\n"
			 "database = $dir/index.txt\n"
			 "new_certs_dir = $dir/newcerts\n"
			 "certificate = $dir/ca.pem\n"
			 "private_key = $dir/ca.key\n"
			 "serial = $dir/serial\n"
			 "default_md = sha256\ndefault_days = 30\n"
			 "policy = any\ncopy_extensions = copy\n"
			 "unique_subject = no\n"
			 "[any]\ncommonName = supplied\n"
			 "organizationName = optional\n",
			 ca_dir),
		0);
	pt_test_write_file(cnf, text);
	free(text);
	openssl_ok((const char *[]){"req", "-x509", "-newkey", "ec",
				    "-pkeyopt", "ec_paramgen_curve:P-256",
				    "-nodes", "-keyout", key, "-out", pem,
				    "-subj", "/O=Outside/CN=Offline CA",
				    "-days", "60", NULL});
	free(key);
	free(pem);
	free(cnf);
	free(idx);
	free(serial);
	free(certs);
	return ca_dir;
}

/* Signs dir_in/NAME.csr with the phone key dir_in/NAME.pub.pem into
 * out/NAME.pem, as the documented command does. */
static void x509_sign(const char *ca, const char *in, const char *out,
		      const char *name)
{
	char csr[4096], pubk[4096], cert[4096], cap[4096], cak[4096];
	snprintf(csr, sizeof csr, "%s/%s.csr", in, name);
	snprintf(pubk, sizeof pubk, "%s/%s.pub.pem", in, name);
	snprintf(cert, sizeof cert, "%s/%s.pem", out, name);
	snprintf(cap, sizeof cap, "%s/ca.pem", ca);
	snprintf(cak, sizeof cak, "%s/ca.key", ca);
	mkdir(out, 0755);
	openssl_ok((const char *[]){"x509", "-req", "-in", csr, "-CA", cap,
				    "-CAkey", cak, "-force_pubkey", pubk,
				    "-copy_extensions", "copy", "-days", "20",
				    "-out", cert, NULL});
}

static Pt__Device *device(const char *name)
{
	Pt__Device *d = pt_fixture_device(pub, name);
	ck_assert_ptr_nonnull(d);
	return d;
}

START_TEST(offline_round_trip)
{
	char *ca = make_ca();
	char *out = path_in("requests"), *good = path_in("signed"),
	     *wrong = path_in("wrong");
	EVP_PKEY *phone = new_phone_key();
	pt_run_t r;

	ok((const char *[]){"cluster", "set", "capf_certificate_issuer",
			    "offline-ca", NULL});
	ok((const char *[]){"device", "add", DEV, "--model", "8841",
			    "--operation", "install", "--auth-mode", "string",
			    "--auth-string", "11223344", NULL});
	run(&r, 0, (const char *[]){"capf", "csr", "list", NULL});
	ck_assert_str_eq(r.out, "no requests for the offline CA\n");
	pt_run_clear(&r);
	session_request(DEV, phone);

	run(&r, 0, (const char *[]){"capf", "csr", "list", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, DEV));
	ck_assert_ptr_nonnull(strstr(r.out, "ec 256"));
	ck_assert_ptr_nonnull(strstr(r.out, "waiting for the CA"));
	pt_run_clear(&r);
	run(&r, 0, (const char *[]){"capf", "csr", "export", out, NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "exported 1 request to "));
	pt_run_clear(&r);
	char csr[4096];
	snprintf(csr, sizeof csr, "%s/%s.csr", out, DEV);
	openssl_ok((const char *[]){"req", "-in", csr, "-noout", "-verify",
				    NULL});

	/* `openssl ca` signs the request's own key (CAPF's): refused. */
	char cnf[4096], wrong_cert[4096];
	snprintf(cnf, sizeof cnf, "%s/ca.cnf", ca);
	mkdir(wrong, 0755);
	snprintf(wrong_cert, sizeof wrong_cert, "%s/%s.pem", wrong, DEV);
	openssl_ok((const char *[]){"ca", "-batch", "-notext", "-config", cnf,
				    "-in", csr, "-out", wrong_cert, NULL});
	refused("none of its requests named",
		(const char *[]){"capf", "csr", "import", wrong, NULL});

	/* The documented command: accepted, installed at next contact. */
	x509_sign(ca, out, good, DEV);
	run(&r, 0, (const char *[]){"capf", "csr", "import", good, NULL});
	ck_assert_str_eq(r.out, DEV ": installed at the phone's next "
				    "contact\n");
	ck_assert_ptr_nonnull(strstr(r.err, "not trusted for CAPF"));
	pt_run_clear(&r);
	run(&r, 0, (const char *[]){"capf", "csr", "list", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "signed, waiting for the phone"));
	pt_run_clear(&r);
	run(&r, 0, (const char *[]){"capf", "csr", "export", out, NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "exported 0 requests"));
	pt_run_clear(&r);

	/* Importing it again changes nothing. */
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);
	run(&r, 0, (const char *[]){"capf", "csr", "import", good, NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "already imported"));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &before);

	/* The phone's next contact: the signed certificate, no key
	 * generation; its string still works until then. */
	pt_store_t *store = NULL;
	pt_capf_plan_t plan;
	char why[PT_CAPF_WHY_MAX];
	pt_data_key_t key;
	int64_t now = (int64_t)time(NULL);
	pt_fixture_key(pub, &key);
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_capf_store_plan(store, DEV, now, &plan), PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_STORE_SIGNED);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, DEV,
						    "11223344", 8, now, why,
						    sizeof why),
			 PT_OK);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_der(plan.signed_der, plan.signed_len,
					     &x),
			 PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), phone), 1);
	X509_free(x);
	ck_assert_int_eq(pt_capf_store_record_issued(store, DEV,
						     plan.signed_der,
						     plan.signed_len,
						     "offline-ca", now, why,
						     sizeof why),
			 PT_OK);
	pt_capf_plan_clear(&plan);
	pt_store_destroy(&store);
	pt_seal_wipe(&key, sizeof key);

	json_t *j = run_json((const char *[]){"capf", "show", DEV, "--json",
					      NULL});
	json_t *lsc = json_object_get(j, "lsc");
	ck_assert_str_eq(json_string_value(json_object_get(lsc, "source")),
			 "offline-ca");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
					     lsc, "issuer")),
				     "CN=Offline CA"));
	ck_assert_str_eq(json_string_value(json_object_get(j, "operation")),
			 "none");
	ck_assert(json_is_null(json_object_get(j, "signed_to_install")));
	json_decref(j);

	refused_with(2, "one directory",
		     (const char *[]){"capf", "csr", "import", NULL});
	char *empty = path_in("empty");
	ck_assert_int_eq(mkdir(empty, 0755), 0);
	refused("no certificate files",
		(const char *[]){"capf", "csr", "import", empty, NULL});
	free(empty);
	EVP_PKEY_free(phone);
	free(ca);
	free(out);
	free(good);
	free(wrong);
}
END_TEST

START_TEST(stale_lsc)
{
	char *ca = make_ca();
	char *first = path_in("first"), *second = path_in("second");
	char *signed_a = path_in("signed-a"), *signed_b = path_in("signed-b");
	EVP_PKEY *a = new_phone_key(), *b = new_phone_key();
	pt_run_t r;

	ok((const char *[]){"cluster", "set", "capf_certificate_issuer",
			    "offline-ca", NULL});
	ok((const char *[]){"device", "add", DEV, "--model", "8841",
			    "--operation", "install", NULL});
	session_request(DEV, a);
	ok((const char *[]){"capf", "csr", "export", first, NULL});
	x509_sign(ca, first, signed_a, DEV);
	/* The phone called again before the CA answered. */
	session_request(DEV, b);
	run(&r, 0, (const char *[]){"capf", "csr", "import", signed_a, NULL});
	ck_assert_str_eq(r.out, DEV ": stale: its request was superseded\n");
	pt_run_clear(&r);

	run(&r, 0, (const char *[]){"capf", "stale-lsc", "list", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, DEV));
	ck_assert_ptr_nonnull(strstr(r.out, "CN=Offline CA"));
	pt_run_clear(&r);

	/* B signed, then the operation cancelled before the phone came
	 * back: B's certificate is stale too. */
	ok((const char *[]){"capf", "csr", "export", second, NULL});
	x509_sign(ca, second, signed_b, DEV);
	ok((const char *[]){"capf", "csr", "import", signed_b, NULL});
	ok((const char *[]){"capf", "op", DEV, "--operation", "none", NULL});
	Pt__Device *d = device(DEV);
	ck_assert_ptr_null(d->capf_request);
	ck_assert_ptr_null(d->capf_signed);
	ck_assert_uint_eq(d->n_stale, 2);
	pt__device__free_unpacked(d, NULL);
	json_t *j = run_json((const char *[]){"capf", "stale-lsc", "list",
					      "--json", NULL});
	ck_assert_uint_eq(json_array_size(j), 2);
	json_decref(j);

	refused_with(2, "'all'",
		     (const char *[]){"capf", "stale-lsc", "delete", NULL});
	refused_with(2, "'all'",
		     (const char *[]){"capf", "stale-lsc", "delete", DEV,
				      NULL});
	run(&r, 0, (const char *[]){"capf", "stale-lsc", "delete", "all",
				    NULL});
	ck_assert_str_eq(r.out, "deleted 2 stale LSCs\n");
	pt_run_clear(&r);
	run(&r, 0, (const char *[]){"capf", "stale-lsc", "list", NULL});
	ck_assert_str_eq(r.out, "no stale LSCs\n");
	pt_run_clear(&r);
	/* B's request was dropped with the operation: its certificate
	 * coming back again is stale, not installable. */
	run(&r, 0, (const char *[]){"capf", "csr", "import", signed_b, NULL});
	ck_assert_str_eq(r.out, DEV ": stale: its request was superseded\n");
	pt_run_clear(&r);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	free(ca);
	free(first);
	free(second);
	free(signed_a);
	free(signed_b);
}
END_TEST

START_TEST(profiles)
{
	pt_run_t r;
	run(&r, 0, (const char *[]){"capf", "profile", "add", "jtapi-1",
				    "--user", "app1", "--operation", "install",
				    "--generate-string", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "added CAPF profile jtapi-1\n"));
	const char *at = strstr(r.out, "authentication string for jtapi-1: ");
	ck_assert_ptr_nonnull(at);
	char digits[16] = "";
	sscanf(at + strlen("authentication string for jtapi-1: "), "%15s",
	       digits);
	pt_run_clear(&r);
	ok((const char *[]){"capf", "profile", "add", "cti.user_2", "--user",
			    "Jane Doe", "--end-user", "--auth-mode", "null",
			    "--operation", "install", "--ec-curve", "384",
			    NULL});
	ok((const char *[]){"device", "add", DEV, "--model", "8841", NULL});

	json_t *j = run_json((const char *[]){"capf", "profile", "list",
					      "--json", NULL});
	ck_assert_uint_eq(json_array_size(j), 2);
	json_t *p0 = json_array_get(j, 0), *p1 = json_array_get(j, 1);
	ck_assert_str_eq(json_string_value(json_object_get(p0, "instance_id")),
			 "cti.user_2");
	ck_assert_str_eq(json_string_value(json_object_get(p0, "kind")),
			 "end user");
	ck_assert_str_eq(json_string_value(json_object_get(p1, "kind")),
			 "application user");
	ck_assert_str_eq(json_string_value(json_object_get(p1, "status")),
			 "pending install");
	json_decref(j);

	run(&r, 0, (const char *[]){"capf", "profile", "show", "jtapi-1",
				    NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "application user CAPF profile, "
					    "user app1"));
	ck_assert_ptr_nonnull(strstr(r.out, digits));
	pt_run_clear(&r);

	refused("exists already",
		(const char *[]){"capf", "profile", "add", "jtapi-1", "--user",
				 "x", NULL});
	refused("instance ID may hold only",
		(const char *[]){"capf", "profile", "add", "bad id!", "--user",
				 "x", NULL});
	refused("device's name",
		(const char *[]){"capf", "profile", "add", DEV, "--user", "x",
				 NULL});
	refused("string, null or lsc",
		(const char *[]){"capf", "profile", "add", "app3", "--user",
				 "x", "--auth-mode", "mic", NULL});
	refused("needs an authentication string",
		(const char *[]){"capf", "profile", "add", "app3", "--user",
				 "x", "--operation", "install", NULL});
	refused("key_size",
		(const char *[]){"capf", "profile", "add", "app3", "--user",
				 "x", "--key-size", "1000", NULL});
	refused("user",
		(const char *[]){"capf", "profile", "add", "app3", "--user",
				 "", NULL});
	refused_with(2, "--user",
		     (const char *[]){"capf", "profile", "add", "app3", NULL});
	refused("no CAPF profile",
		(const char *[]){"capf", "profile", "show", "nobody", NULL});

	/* The same lookup CAPF uses: capf op and capf show take IDs. */
	ok((const char *[]){"capf", "op", "jtapi-1", "--operation", "delete",
			    NULL});
	run(&r, 0, (const char *[]){"capf", "show", "jtapi-1", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "operation              delete"));
	pt_run_clear(&r);
	pt_store_t *store = NULL;
	pt_capf_plan_t plan;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_capf_store_plan(store, "cti.user_2",
					    (int64_t)time(NULL), &plan),
			 PT_OK);
	ck_assert_int_eq(plan.kind, PT_CAPF_HOLDER_END_USER);
	ck_assert_int_eq(plan.auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL);
	ck_assert_int_eq(plan.key_type, PT__KEY_TYPE__KEY_TYPE_EC);
	ck_assert_uint_eq(plan.ec_bits, 384);
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_plan(store, "jtapi-1",
					    (int64_t)time(NULL), &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_DELETE);
	pt_capf_plan_clear(&plan);
	pt_store_destroy(&store);

	refused("nothing deleted",
		(const char *[]){"capf", "profile", "delete", "jtapi-1",
				 "nobody", NULL});
	run(&r, 0, (const char *[]){"capf", "profile", "delete", "jtapi-1",
				    "cti.user_2", NULL});
	ck_assert_str_eq(r.out, "deleted 2 CAPF profiles\n");
	pt_run_clear(&r);
	run(&r, 0, (const char *[]){"capf", "profile", "list", NULL});
	ck_assert_str_eq(r.out, "no CAPF profiles\n");
	pt_run_clear(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cli_capf_offline");
	TCase *tc = tcase_create("offline");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, offline_round_trip);
	tcase_add_test(tc, stale_lsc);
	tcase_add_test(tc, profiles);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
