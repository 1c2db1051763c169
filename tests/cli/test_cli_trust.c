/* phonetrust trust add|list|remove, run as the real binary on a publisher
 * and a subscriber made by the real `phonetrust init`; every refusal
 * leaves the store as it was. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "store/records.h"
#include "store/store.h"

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
		    "ec256", "--address", "10.0.0.5", NULL);
	ck_assert_msg(r.status == 0, "init %s: %s", role, r.err);
	pt_run_clear(&r);
	free(pw);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in("pub");
	char *pw = path_in("password");
	pt_test_write_file(pw, "trust cli test password\n");
	free(pw);
	init_node(pub, "pub1", "publisher");
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
}

#define MAX_ARGS 16
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

static json_t *run_json(const char *dir, const char *const *args)
{
	pt_run_t r;
	run(&r, dir, 0, args);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "not JSON: %s\n%s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

/* Runs a command that must be refused (exit 1, reason on stderr holding
 * frag) and leave the store untouched. */
static void refused(const char *dir, const char *frag,
		    const char *const *args)
{
	pt_fixture_state_t before;
	pt_fixture_state(dir, &before);
	pt_run_t r;
	run(&r, dir, 1, args);
	ck_assert_msg(strstr(r.err, frag), "'%s' not in: %s", frag, r.err);
	ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		      "not one line: %s", r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &before);
}

struct made {
	char *pem, *der_path;
	uint8_t sha[32];
	char hex[65];
};

static void made_clear(struct made *m)
{
	free(m->pem);
	free(m->der_path);
}

/* A certificate written as NAME.pem and NAME.der. */
static void make(struct made *m, const char *name, EVP_PKEY *key)
{
	X509 *x = pt_testcert(key, name, 99);
	uint8_t *der = NULL;
	size_t len = 0;
	char *pem = NULL;
	size_t pem_len;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_encode_pem(x, &pem, &pem_len), PT_OK);
	char file[64];
	snprintf(file, sizeof file, "%s.pem", name);
	m->pem = path_in(file);
	pt_test_write_file(m->pem, pem);
	snprintf(file, sizeof file, "%s.der", name);
	m->der_path = path_in(file);
	FILE *f = fopen(m->der_path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(der, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(pt_certs_sha256(der, len, m->sha), PT_OK);
	for (int i = 0; i < 32; i++)
		snprintf(m->hex + 2 * i, 3, "%02x", m->sha[i]);
	free(der);
	free(pem);
	X509_free(x);
}

static void make_ec(struct made *m, const char *name)
{
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	make(m, name, key);
	EVP_PKEY_free(key);
}

static Pt__TrustEntry *stored(const char *dir, const uint8_t sha[32])
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__TrustEntry *e = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_trust_get(txn, sha, &e);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return e;
}

static bool has(const Pt__TrustEntry *e, Pt__TrustPurpose p)
{
	for (size_t i = 0; i < e->n_purposes; i++)
		if (e->purposes[i] == p)
			return true;
	return false;
}

START_TEST(add_list_remove)
{
	struct made app, cm;
	make_ec(&app, "app");
	make_ec(&cm, "cm");
	pt_run_t r;

	run(&r, pub, 0, (const char *[]){"trust", "add", app.pem, "--purpose",
					 "app-server,callmanager", "--ttl",
					 "3600", NULL});
	ck_assert_msg(strstr(r.out, "added") && strstr(r.out, app.hex) &&
			      strstr(r.out, "TTL 3600 s"),
		      "%s", r.out);
	pt_run_clear(&r);
	Pt__TrustEntry *e = stored(pub, app.sha);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->n_purposes, 2);
	ck_assert(has(e, PT__TRUST_PURPOSE__TRUST_APP_SERVER));
	ck_assert(has(e, PT__TRUST_PURPOSE__TRUST_CALLMANAGER));
	ck_assert_uint_eq(e->ttl_seconds, 3600);
	ck_assert_str_eq(e->source, "admin");
	ck_assert_str_eq(e->subject, "CN=app");
	ck_assert_int_gt(e->not_after, 0);
	pt_record_free(&e->base);

	/* DER input; a new entry gets the default TTL. */
	json_t *j = run_json(pub, (const char *[]){"trust", "add", cm.der_path,
						   "--purpose", "callmanager",
						   "--json", NULL});
	ck_assert_str_eq(json_string_value(json_object_get(j, "sha256")),
			 cm.hex);
	ck_assert(json_is_true(json_object_get(j, "created")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "ttl")), 86400);
	ck_assert_str_eq(json_string_value(json_array_get(
				 json_object_get(j, "roles"), 0)),
			 "CCM");
	json_decref(j);

	/* Adding again: the same purposes change nothing; new ones join the
	 * old; --ttl replaces the TTL. */
	uint64_t seq = pt_fixture_last_seq(pub);
	run(&r, pub, 0, (const char *[]){"trust", "add", cm.pem, "--purpose",
					 "callmanager", NULL});
	ck_assert_msg(strstr(r.out, "nothing changed"), "%s", r.out);
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(pub), seq);
	run(&r, pub, 0, (const char *[]){"trust", "add", cm.pem, "--purpose",
					 "tftp", "--ttl", "60", NULL});
	ck_assert_msg(strstr(r.out, "updated"), "%s", r.out);
	pt_run_clear(&r);
	e = stored(pub, cm.sha);
	ck_assert_uint_eq(e->n_purposes, 2);
	ck_assert(has(e, PT__TRUST_PURPOSE__TRUST_CALLMANAGER));
	ck_assert(has(e, PT__TRUST_PURPOSE__TRUST_TFTP));
	ck_assert_uint_eq(e->ttl_seconds, 60);
	pt_record_free(&e->base);

	/* list: the four init made and ours. */
	j = run_json(pub, (const char *[]){"trust", "list", "--json", NULL});
	ck_assert_uint_eq(json_array_size(j), 6);
	json_decref(j);
	j = run_json(pub, (const char *[]){"trust", "list", "--purpose",
					   "app-server", "--json", NULL});
	ck_assert_uint_eq(json_array_size(j), 1);
	json_t *o = json_array_get(j, 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "sha256")),
			 app.hex);
	ck_assert_str_eq(json_string_value(json_object_get(o, "subject")),
			 "CN=app");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "ttl")), 3600);
	ck_assert(json_is_false(json_object_get(o, "expired")));
	json_t *roles = json_object_get(o, "roles");
	ck_assert_uint_eq(json_array_size(roles), 2);
	ck_assert_str_eq(json_string_value(json_array_get(roles, 0)), "CCM");
	ck_assert_str_eq(json_string_value(json_array_get(roles, 1)),
			 "APP-SERVER");
	json_decref(j);
	run(&r, pub, 0, (const char *[]){"trust", "list", NULL});
	ck_assert_msg(strstr(r.out, "SHA256") && strstr(r.out, app.hex) &&
			      strstr(r.out, "node pub1") &&
			      strstr(r.out, "app-server,callmanager"),
		      "%s", r.out);
	pt_run_clear(&r);
	run(&r, pub, 0, (const char *[]){"trust", "list", "--purpose",
					 "legacy-capf", NULL});
	ck_assert_msg(strstr(r.out, "no trusted certificates with that"),
		      "%s", r.out);
	pt_run_clear(&r);

	/* remove a purpose by fingerprint (upper case is fine), then the
	 * rest by file. */
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(app.hex[i] >= 'a' ? app.hex[i] - 32
						    : app.hex[i]);
	run(&r, pub, 0, (const char *[]){"trust", "remove", upper,
					 "--purpose", "callmanager", NULL});
	ck_assert_msg(strstr(r.out, "no longer trusted for callmanager"), "%s",
		      r.out);
	pt_run_clear(&r);
	e = stored(pub, app.sha);
	ck_assert_uint_eq(e->n_purposes, 1);
	ck_assert(has(e, PT__TRUST_PURPOSE__TRUST_APP_SERVER));
	pt_record_free(&e->base);
	j = run_json(pub, (const char *[]){"trust", "remove", app.der_path,
					   "--json", NULL});
	ck_assert(json_is_true(json_object_get(j, "removed")));
	json_decref(j);
	ck_assert_ptr_null(stored(pub, app.sha));
	/* The last purpose going takes the entry along. */
	run(&r, pub, 0, (const char *[]){"trust", "remove", cm.pem,
					 "--purpose", "tftp,callmanager", NULL});
	pt_run_clear(&r);
	ck_assert_ptr_null(stored(pub, cm.sha));

	made_clear(&app);
	made_clear(&cm);
}
END_TEST

START_TEST(refusals_leave_the_store)
{
	struct made app;
	make_ec(&app, "app");
	char *tvs = path_in("pub/certs/tvs.pem");
	char *tftp = path_in("pub/certs/tftp.pem");
	char *capf = path_in("pub/certs/capf.pem");
	char *itl = path_in("pub/certs/itlrecovery.pem");
	char *junk = path_in("junk.pem");
	pt_test_write_file(junk, "-----BEGIN CERTIFICATE-----\nAAAA\n"
				 "-----END CERTIFICATE-----\n");

	refused(pub, "CN=pub1-tvs is node pub1's TVS certificate",
		(const char *[]){"trust", "remove", tvs, NULL});
	refused(pub, "node pub1's TFTP certificate: the tftp purpose stays",
		(const char *[]){"trust", "remove", tftp, "--purpose", "tftp",
				 NULL});
	refused(pub, "the cluster's CAPF certificate",
		(const char *[]){"trust", "remove", capf, NULL});
	refused(pub, "is the cluster's ITL recovery certificate: its entry "
		     "stays while the certificate is in use; purposes",
		(const char *[]){"trust", "remove", itl, NULL});
	refused(pub, "the itl-recovery purpose belongs to",
		(const char *[]){"trust", "remove", itl, "--purpose",
				 "itl-recovery", NULL});
	refused(pub, "the sast purpose marks the CTL's tokens",
		(const char *[]){"trust", "add", app.pem, "--purpose",
				 "callmanager,sast", NULL});
	refused(pub, "itl-recovery purpose",
		(const char *[]){"trust", "add", app.pem, "--purpose",
				 "itl-recovery", NULL});
	refused(pub, "no trusted certificate",
		(const char *[]){"trust", "remove", app.hex, NULL});
	refused(pub, "does not hold exactly one PEM certificate",
		(const char *[]){"trust", "add", junk, "--purpose", "tvs",
				 NULL});
	char *junk_der = path_in("junk.der");
	pt_test_write_file(junk_der, "0123456789");
	refused(pub, "is not a certificate (PEM or DER)",
		(const char *[]){"trust", "add", junk_der, "--purpose", "tvs",
				 NULL});
	free(junk_der);
	refused(pub, "cannot read",
		(const char *[]){"trust", "add", "/nonexistent/x.pem",
				 "--purpose", "tvs", NULL});

	/* Purposes not held, and only RSA or EC keys. */
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"trust", "add", app.pem, "--purpose",
					 "tftp", NULL});
	pt_run_clear(&r);
	refused(pub, "trusted for tftp only",
		(const char *[]){"trust", "remove", app.pem, "--purpose",
				 "capf", NULL});
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(ed);
	struct made edc;
	make(&edc, "ed", ed);
	EVP_PKEY_free(ed);
	refused(pub, "only certificates with an RSA or EC key",
		(const char *[]){"trust", "add", edc.pem, "--purpose",
				 "app-server", NULL});

	/* An administrator's purpose on a node's certificate may go; the
	 * entry itself stays. */
	run(&r, pub, 0, (const char *[]){"trust", "add", tvs, "--purpose",
					 "app-server", NULL});
	pt_run_clear(&r);
	run(&r, pub, 0, (const char *[]){"trust", "remove", tvs, "--purpose",
					 "app-server", NULL});
	pt_run_clear(&r);

	/* Usage errors: exit 2, nothing written. */
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);
	const char *const usage[][8] = {
		{"trust", "add", app.pem, NULL},
		{"trust", "add", app.pem, "--purpose", "bogus", NULL},
		{"trust", "add", app.pem, "--purpose", "tvs", "--ttl", "0",
		 NULL},
		{"trust", "add", app.pem, "--purpose", "tvs", "--ttl",
		 "2592001", NULL},
		{"trust", "add", "--purpose", "tvs", NULL},
		{"trust", "list", "--purpose", "nope", NULL},
		{"trust", "remove", NULL},
		{"trust", "frobnicate", NULL},
	};
	for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
		run(&r, pub, 2, usage[i]);
		pt_run_clear(&r);
	}
	pt_fixture_assert_unchanged(pub, &before);
	run(&r, pub, 0, (const char *[]){"trust", "add", app.pem, "--purpose",
					 "tvs", "--ttl", "2592000", NULL});
	pt_run_clear(&r);

	made_clear(&app);
	made_clear(&edc);
	free(tvs);
	free(tftp);
	free(capf);
	free(itl);
	free(junk);
}
END_TEST

START_TEST(subscriber_refused)
{
	char *sub = path_in("sub");
	init_node(sub, "sub1", "subscriber");
	struct made app;
	make_ec(&app, "app");
	refused(sub, "run this on the publisher",
		(const char *[]){"trust", "add", app.pem, "--purpose",
				 "callmanager", NULL});
	refused(sub, "run this on the publisher",
		(const char *[]){"trust", "remove", app.pem, NULL});
	/* Reading is fine anywhere. */
	json_t *j = run_json(sub, (const char *[]){"trust", "list", "--json",
						   NULL});
	ck_assert(json_is_array(j));
	json_decref(j);
	made_clear(&app);
	free(sub);
}
END_TEST

static Suite *cli_trust_suite(void)
{
	Suite *s = suite_create("cli_trust");
	TCase *tc = tcase_create("trust");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, add_list_remove);
	tcase_add_test(tc, refusals_leave_the_store);
	tcase_add_test(tc, subscriber_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cli_trust_suite());
}
