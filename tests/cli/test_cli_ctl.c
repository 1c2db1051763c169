/* phonetrust ctl init|update|show, run as the real binary on a publisher
 * made by the real `phonetrust init`, with token files made by OpenSSL.
 * Every refusal must leave the store digest as it was. */
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "pt_testtoken.h"
#include "store/records.h"
#include "store/store.h"


/* Tokens A, B, C (RSA-2048) and an EC one; keys made once. */
static EVP_PKEY *k_a, *k_b, *k_c, *k_ec;
static X509 *x_a, *x_b, *x_c, *x_ec;

static char *tmp, *pub, *sub;
/* Token files: A plain PEM, B PKCS#12 (password b-pass), C encrypted
 * PEM (c-pass), EC plain PEM, and A's certificate alone. */
static char *f_a, *f_b, *f_c, *f_ec, *f_a_crt, *f_bpw, *f_cpw, *f_bad;
/* "file:" password sources for B and C. */
static char src_b[1024], src_c[1024];

static void keys_setup(void)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_a), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_b), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_c), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &k_ec), PT_OK);
	x_a = pt_testcert(k_a, "SAST-A", 0xa1);
	x_b = pt_testcert(k_b, "SAST-B", 0xb2);
	x_c = pt_testcert(k_c, "SAST-C", 0xc3);
	x_ec = pt_testcert(k_ec, "SAST-EC", 0xe4);
}

static void keys_teardown(void)
{
	EVP_PKEY *k[] = {k_a, k_b, k_c, k_ec};
	X509 *x[] = {x_a, x_b, x_c, x_ec};
	for (size_t i = 0; i < 4; i++) {
		EVP_PKEY_free(k[i]);
		X509_free(x[i]);
	}
}

static char *path_in(const char *base, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", base, rel), 0);
	return p;
}

static char *token_file(const char *name, uint8_t *bytes, size_t len)
{
	char *p = path_in(tmp, name);
	pt_testtoken_write(p, bytes, len);
	free(bytes);
	return p;
}

static void setup(void)
{
	uint8_t *b = NULL;
	size_t n = 0;
	tmp = pt_test_tmpdir();
	pub = path_in(tmp, "pub");
	sub = path_in(tmp, "sub");
	pt_node_init(pub, "pub1", "publisher", NULL);

	pt_testtoken_pem(k_a, x_a, NULL, &b, &n);
	f_a = token_file("a.pem", b, n);
	pt_testtoken_p12(k_b, x_b, NULL, "b-pass", &b, &n);
	f_b = token_file("b.p12", b, n);
	pt_testtoken_pem(k_c, x_c, "c-pass", &b, &n);
	f_c = token_file("c.pem", b, n);
	pt_testtoken_pem(k_ec, x_ec, NULL, &b, &n);
	f_ec = token_file("ec.pem", b, n);
	pt_testtoken_cert_pem(x_a, &b, &n);
	f_a_crt = token_file("a.crt", b, n);
	f_bpw = path_in(tmp, "b.pw");
	pt_test_write_file(f_bpw, "b-pass\n");
	f_cpw = path_in(tmp, "c.pw");
	pt_test_write_file(f_cpw, "c-pass\n");
	f_bad = path_in(tmp, "bad.pw");
	pt_test_write_file(f_bad, "not it\n");
	snprintf(src_b, sizeof src_b, "file:%s", f_bpw);
	snprintf(src_c, sizeof src_c, "file:%s", f_cpw);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	char *p[] = {tmp,  pub,     sub,   f_a,   f_b,  f_c,
		     f_ec, f_a_crt, f_bpw, f_cpw, f_bad};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		free(p[i]);
}

/* ---- running the binary ---- */

#define MAX_ARGS 24

static void run_in(pt_run_t *r, const char *dir, const char *stdin_text,
		   int want, const char *const *args)
{
	char *argv[MAX_ARGS + 4];
	int n = 0;
	argv[n++] = (char *)"phonetrust";
	argv[n++] = (char *)"--data";
	argv[n++] = (char *)dir;
	for (; args[n - 3] && n < MAX_ARGS + 3; n++)
		argv[n] = (char *)args[n - 3];
	argv[n] = NULL;
	pt_test_runv(r, stdin_text, "cli/phonetrust", argv);
	ck_assert_msg(r->status == want, "%s %s: exit %d, want %d; stderr: %s",
		      args[0], args[1] ? args[1] : "", r->status, want, r->err);
	ck_assert_msg(!strstr(r->err, "Sanitizer") &&
			      !strstr(r->err, "runtime error:"),
		      "sanitizer report: %s", r->err);
}

static void run(pt_run_t *r, int want, const char *const *args)
{
	run_in(r, pub, NULL, want, args);
}

static void ok(const char *const *args)
{
	pt_run_t r;
	run(&r, 0, args);
	pt_run_clear(&r);
}

/* `phonetrust store digest` with the last sequence. */
static char *store_digest(const char *dir)
{
	pt_run_t r;
	run_in(&r, dir, NULL, 0,
	       (const char *[]){"store", "digest", "--json", NULL});
	char *d = strdup(r.out);
	pt_run_clear(&r);
	return d;
}

/* Exit 1, one line on stderr holding hint, and the same store digest. */
static void refused_in(const char *dir, const char *stdin_text,
		       const char *hint, const char *const *args)
{
	char *before = store_digest(dir);
	pt_run_t r;
	run_in(&r, dir, stdin_text, 1, args);
	const char *nl = strchr(r.err, '\n');
	ck_assert_msg(nl && nl[1] == '\0', "want one line, got: %s", r.err);
	ck_assert_msg(strstr(r.err, hint), "'%s' not in: %s", hint, r.err);
	pt_run_clear(&r);
	char *after = store_digest(dir);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}

static void refused(const char *hint, const char *const *args)
{
	refused_in(pub, NULL, hint, args);
}

static json_t *run_json(const char *const *args)
{
	pt_run_t r;
	run(&r, 0, args);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

/* ---- the store and files ---- */

static Pt__Cluster *stored_cluster(void)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *c = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &c), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return c;
}

static Pt__TrustEntry *stored_trust(X509 *x)
{
	uint8_t *der = NULL, sha[32];
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_sha256(der, len, sha), PT_OK);
	free(der);
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__TrustEntry *e = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_trust_get(txn, sha, &e);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return e;
}

static bool is_sast(const Pt__TrustEntry *e)
{
	for (size_t i = 0; e && i < e->n_purposes; i++)
		if (e->purposes[i] == PT__TRUST_PURPOSE__TRUST_SAST)
			return true;
	return false;
}

static char *fingerprint(X509 *x)
{
	uint8_t *der = NULL, sha[32];
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_sha256(der, len, sha), PT_OK);
	free(der);
	char *s = malloc(65);
	for (size_t i = 0; i < 32; i++)
		sprintf(s + 2 * i, "%02x", sha[i]);
	return s;
}

/* The stored CTL, parsed; checks it equals what ctl show --out writes. */
static pt_tlv_file_t *stored_ctl(void)
{
	char *out = path_in(tmp, "CTLFile.tlv");
	ok((const char *[]){"ctl", "show", "--out", out, NULL});
	size_t n = 0;
	char *bytes = pt_test_read_file(out, &n);
	Pt__Cluster *c = stored_cluster();
	ck_assert_uint_eq(n, c->ctl.len);
	ck_assert_mem_eq(bytes, c->ctl.data, n);
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_parse((uint8_t *)bytes, n, &f, &d), PT_OK);
	pt__cluster__free_unpacked(c, NULL);
	free(bytes);
	free(out);
	return f;
}

static X509 *node_cert(const char *dir, const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/certs/%s.pem", dir, name), 0);
	size_t n = 0;
	char *pem = pt_test_read_file(p, &n);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, n, &x), PT_OK);
	free(pem);
	free(p);
	return x;
}

static bool record_is(const pt_tlv_record_t *rec, uint16_t role, X509 *x)
{
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	bool same = rec->role == role && rec->cert.len == len &&
		    memcmp(rec->cert.data, der, len) == 0;
	free(der);
	return same;
}

static void init_ab(void)
{
	ok((const char *[]){"ctl", "init", "--token", f_a, "--token", f_b,
			    "--token-pass", src_b, NULL});
}

START_TEST(init_two_tokens)
{
	init_ab();
	pt_tlv_file_t *f = stored_ctl();
	/* A, B, the publisher's CCM+TFTP entry, CAPF; A signed. */
	ck_assert_uint_eq(f->n_records, 4);
	X509 *tftp = node_cert(pub, "tftp"), *capf = node_cert(pub, "capf");
	ck_assert(record_is(&f->records[0], PT_TLV_ROLE_SAST, x_a));
	ck_assert(record_is(&f->records[1], PT_TLV_ROLE_SAST, x_b));
	ck_assert(record_is(&f->records[2], PT_TLV_ROLE_CCM_TFTP, tftp));
	ck_assert_mem_eq(f->records[2].dns_name.data, "127.0.0.1", 10);
	ck_assert(record_is(&f->records[3], PT_TLV_ROLE_CAPF, capf));
	ck_assert_str_eq(f->header.file_name, "CTLFile.tlv");
	pt_tlv_diag_t d;
	size_t signer = 9;
	ck_assert_int_eq(pt_tlv_verify(f, NULL, &signer, &d), PT_OK);
	ck_assert_uint_eq(signer, 0);
	ck_assert_int_eq(pt_tlv_verify(f, x_a, NULL, &d), PT_OK);
	ck_assert_int_ne(pt_tlv_verify(f, x_b, NULL, &d), PT_OK);
	pt_tlv_file_destroy(&f);

	/* tlv show lists and verifies it. */
	char *out = path_in(tmp, "CTLFile.tlv");
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", out, NULL);
	ck_assert_msg(r.status == 0, "tlv show: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "CTL Record #:4"));
	ck_assert_ptr_null(strstr(r.out, "CTL Record #:5"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "This etoken was used to sign the CTL file."));
	ck_assert_ptr_nonnull(
		strstr(r.out, "This etoken was not used to sign the CTL file."));
	ck_assert_ptr_nonnull(strstr(r.out, "4 FUNCTION 2 CCM+TFTP"));
	ck_assert_ptr_nonnull(strstr(r.out, "2 DNSNAME 10 127.0.0.1"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "The CTL file was verified successfully."));
	pt_run_clear(&r);
	free(out);

	/* The store: mixed mode, both tokens as SAST trust entries. */
	Pt__Cluster *c = stored_cluster();
	ck_assert_int_eq(c->security_mode,
			 PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED);
	pt__cluster__free_unpacked(c, NULL);
	X509 *tok[] = {x_a, x_b};
	for (size_t i = 0; i < 2; i++) {
		Pt__TrustEntry *e = stored_trust(tok[i]);
		ck_assert(is_sast(e));
		ck_assert_str_eq(e->source, "ctl");
		pt__trust_entry__free_unpacked(e, NULL);
	}

	/* show: the listing, then mode, signer, tokens, up to date. */
	run(&r, 0, (const char *[]){"ctl", "show", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "CTL Record #:1"));
	ck_assert_ptr_nonnull(strstr(r.out, "Cluster security mode: mixed"));
	ck_assert_ptr_nonnull(strstr(r.out, "Signed by token: CN=SAST-A"));
	ck_assert_ptr_nonnull(strstr(r.out, "The CTL is up to date"));
	pt_run_clear(&r);
	json_t *j = run_json((const char *[]){"ctl", "show", "--json", NULL});
	ck_assert_str_eq(json_string_value(json_object_get(j, "mode")),
			 "mixed");
	ck_assert(json_is_true(json_object_get(j, "verified")));
	ck_assert(json_is_true(json_object_get(j, "up_to_date")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "tokens")), 2);
	char *fa = fingerprint(x_a);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "signer"), "sha256")),
			 fa);
	free(fa);
	json_t *ctl = json_object_get(j, "ctl");
	ck_assert(json_is_true(json_object_get(ctl, "verified")));
	ck_assert_uint_eq(json_array_size(json_object_get(ctl, "records")), 4);
	json_decref(j);

	/* Re-signed by B: the new CTL verifies against B's certificate. */
	ok((const char *[]){"ctl", "update", "--signer", f_b, "--signer-pass",
			    src_b, NULL});
	f = stored_ctl();
	ck_assert_uint_eq(f->n_records, 4);
	ck_assert(record_is(&f->records[0], PT_TLV_ROLE_SAST, x_b));
	ck_assert_int_eq(pt_tlv_verify(f, x_b, NULL, &d), PT_OK);
	ck_assert_int_ne(pt_tlv_verify(f, x_a, NULL, &d), PT_OK);
	pt_tlv_file_destroy(&f);
	X509_free(tftp);
	X509_free(capf);
}
END_TEST

START_TEST(init_refusals)
{
	refused("exactly two tokens (1 given)",
		(const char *[]){"ctl", "init", "--token", f_a, NULL});
	refused("exactly two tokens (3 given)",
		(const char *[]){"ctl", "init", "--token", f_a, "--token", f_b,
				 "--token-pass", src_b, "--token", f_c,
				 "--token-pass", src_c, NULL});
	refused("the same token was given twice",
		(const char *[]){"ctl", "init", "--token", f_a, "--token", f_a,
				 NULL});
	refused("an EC key",
		(const char *[]){"ctl", "init", "--token", f_ec, "--token", f_a,
				 NULL});
	refused("no private key",
		(const char *[]){"ctl", "init", "--token", f_a_crt, "--token",
				 f_a, NULL});
	char bad[1024];
	snprintf(bad, sizeof bad, "file:%s", f_bad);
	refused("wrong password",
		(const char *[]){"ctl", "init", "--token", f_a, "--token", f_b,
				 "--token-pass", bad, NULL});
	refused("wrong password",
		(const char *[]){"ctl", "init", "--token", f_c, "--token-pass",
				 bad, "--token", f_a, NULL});
	refused("not set",
		(const char *[]){"ctl", "init", "--token", f_a, "--token", f_b,
				 "--token-pass", "env:PT_NO_SUCH_VARIABLE_HERE",
				 NULL});
	/* Without a terminal a password the file needs is refused with a
	 * pointer to --token-pass; with one it would be asked for. */
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (tty < 0)
		refused("--token-pass",
			(const char *[]){"ctl", "init", "--token", f_a,
					 "--token", f_b, NULL});
	else
		close(tty);
	/* Nothing was created: no CTL to show. */
	refused("no CTL yet", (const char *[]){"ctl", "show", NULL});

	init_ab();
	refused("a CTL exists already",
		(const char *[]){"ctl", "init", "--token", f_a, "--token", f_c,
				 "--token-pass", src_c, NULL});
}
END_TEST

/* Password sources: stdin, pass: and file: reach the token. */
START_TEST(password_sources)
{
	pt_run_t r;
	run_in(&r, pub, "c-pass\n", 0,
	       (const char *[]){"ctl", "init", "--token", f_c, "--token-pass",
				"stdin", "--token", f_b, "--token-pass",
				"pass:b-pass", NULL});
	pt_run_clear(&r);
	pt_tlv_file_t *f = stored_ctl();
	ck_assert(record_is(&f->records[0], PT_TLV_ROLE_SAST, x_c));
	pt_tlv_file_destroy(&f);
	ok((const char *[]){"ctl", "update", "--signer", f_c, "--signer-pass",
			    src_c, NULL});
	refused("bad password source",
		(const char *[]){"ctl", "update", "--signer", f_c,
				 "--signer-pass", "c-pass", NULL});
}
END_TEST

START_TEST(update_refusals)
{
	init_ab();
	char *fb = fingerprint(x_b);
	char *tftp = path_in(pub, "certs/tftp.pem");
	char *capf = path_in(pub, "certs/capf.pem");
	refused("not a token of the current CTL",
		(const char *[]){"ctl", "update", "--signer", f_c,
				 "--signer-pass", src_c, NULL});
	refused("two tokens must always remain",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--remove-token", f_b, "--token-pass", src_b,
				 NULL});
	refused("two tokens must always remain",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--remove-token", fb, NULL});
	refused("cannot remove itself",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--remove-token", f_a_crt, NULL});
	refused("the CCM+TFTP, TFTP and CAPF entries cannot be removed",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--remove-token", tftp, NULL});
	refused("the CCM+TFTP, TFTP and CAPF entries cannot be removed",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--remove-token", capf, NULL});
	refused("at most two tokens",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--add-token", f_c, "--token-pass", src_c,
				 NULL});
	refused("already in the CTL",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--add-token", f_b, "--token-pass", src_b,
				 "--remove-token", fb, NULL});
	refused("nothing to remove",
		(const char *[]){"ctl", "update", "--signer", f_a,
				 "--remove-token", f_c, "--add-token", f_c,
				 "--token-pass", src_c, NULL});
	free(fb);
	free(tftp);
	free(capf);
}
END_TEST

/* B replaced by C in one update signed by A; B's trust entry, which
 * held nothing but the SAST purpose, goes. */
START_TEST(replace_token)
{
	init_ab();
	pt_tlv_file_t *f = stored_ctl();
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA1);
	pt_tlv_file_destroy(&f);
	/* The digest follows the cluster's parameter. */
	ok((const char *[]){"cluster", "set", "tftp_file_signature_algorithm",
			    "sha512", NULL});
	char *fb = fingerprint(x_b);
	ok((const char *[]){"ctl", "update", "--signer", f_a, "--add-token",
			    f_c, "--token-pass", src_c, "--remove-token", fb,
			    NULL});
	free(fb);
	f = stored_ctl();
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA512);
	ck_assert_uint_eq(f->n_records, 4);
	ck_assert(record_is(&f->records[0], PT_TLV_ROLE_SAST, x_a));
	ck_assert(record_is(&f->records[1], PT_TLV_ROLE_SAST, x_c));
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_verify(f, x_a, NULL, &d), PT_OK);
	pt_tlv_file_destroy(&f);
	Pt__TrustEntry *e = stored_trust(x_b);
	ck_assert_ptr_null(e);
	e = stored_trust(x_c);
	ck_assert(is_sast(e));
	pt__trust_entry__free_unpacked(e, NULL);
	/* B no longer signs; C does. */
	refused("not a token of the current CTL",
		(const char *[]){"ctl", "update", "--signer", f_b,
				 "--signer-pass", src_b, NULL});
	ok((const char *[]){"ctl", "update", "--signer", f_c, "--signer-pass",
			    src_c, NULL});
}
END_TEST

/* Non-secure: no records, still signed by the token, which tlv show
 * --cert verifies; the mode follows. */
START_TEST(nonsecure_mode)
{
	init_ab();
	ok((const char *[]){"ctl", "update", "--signer", f_a, "--mode",
			    "nonsecure", NULL});
	pt_tlv_file_t *f = stored_ctl();
	ck_assert_uint_eq(f->n_records, 0);
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_verify(f, x_a, NULL, &d), PT_OK);
	pt_tlv_file_destroy(&f);
	Pt__Cluster *c = stored_cluster();
	ck_assert_int_eq(c->security_mode,
			 PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE);
	pt__cluster__free_unpacked(c, NULL);

	char *out = path_in(tmp, "CTLFile.tlv");
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", "--cert",
		    f_a_crt, out, NULL);
	ck_assert_msg(r.status == 0, "tlv show --cert: %s", r.err);
	ck_assert_ptr_null(strstr(r.out, "Record #"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "The CTL file was verified successfully."));
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", out, NULL);
	ck_assert_int_eq(r.status, 1);
	pt_run_clear(&r);
	free(out);

	/* The tokens are still known: show names the signer, and B may
	 * sign the way back to mixed. */
	run(&r, 0, (const char *[]){"ctl", "show", NULL});
	ck_assert_ptr_nonnull(
		strstr(r.out, "Cluster security mode: non-secure"));
	ck_assert_ptr_nonnull(strstr(r.out, "Signed by token: CN=SAST-A"));
	ck_assert_ptr_nonnull(strstr(r.out, "lists no certificates"));
	pt_run_clear(&r);
	ok((const char *[]){"ctl", "update", "--signer", f_b, "--signer-pass",
			    src_b, "--mode", "mixed", NULL});
	f = stored_ctl();
	ck_assert_uint_eq(f->n_records, 4);
	ck_assert(record_is(&f->records[0], PT_TLV_ROLE_SAST, x_b));
	pt_tlv_file_destroy(&f);

	/* And init straight into non-secure mode. */
	char *other = path_in(tmp, "other");
	pt_node_init(other, "pub2", "publisher", NULL);
	run_in(&r, other, NULL, 0,
	       (const char *[]){"ctl", "init", "--token", f_a, "--token", f_b,
				"--token-pass", src_b, "--mode", "nonsecure",
				NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "0 records, non-secure mode"));
	pt_run_clear(&r);
	free(other);
}
END_TEST

/* Records a subscriber as the join handshake does (node record with its
 * TFTP and TVS certificates). */
static void add_subscriber(const char *name, const char *address)
{
	static const char *const services[] = {"tftp", "tvs"};
	uint8_t *der[2];
	size_t len[2];
	for (int i = 0; i < 2; i++) {
		EVP_PKEY *key = NULL;
		X509 *x = NULL;
		ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
		ck_assert_int_eq(pt_certs_build_service(key, name, services[i],
							NULL, &x),
				 PT_OK);
		ck_assert_int_eq(pt_certs_encode_der(x, &der[i], &len[i]),
				 PT_OK);
		X509_free(x);
		EVP_PKEY_free(key);
	}
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test join", &txn), PT_OK);
	Pt__Node n = PT__NODE__INIT;
	n.name = (char *)name;
	n.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
	n.address = (char *)address;
	n.n_services = 2;
	n.services = (char **)services;
	n.tftp_cert_der = (ProtobufCBinaryData){len[0], der[0]};
	n.tvs_cert_der = (ProtobufCBinaryData){len[1], der[1]};
	ck_assert_int_eq(pt_node_put(txn, &n), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
	free(der[0]);
	free(der[1]);
}

/* A node joins after the CTL was signed: show says what is missing and
 * how to fix it; an update with no change re-signs with every node. */
START_TEST(stale_after_join)
{
	init_ab();
	add_subscriber("sub1", "10.0.0.7");
	pt_run_t r;
	run(&r, 0, (const char *[]){"ctl", "show", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "The CTL is out of date"));
	ck_assert_ptr_nonnull(strstr(r.out, "missing: CCM+TFTP entry of node "
					    "sub1"));
	ck_assert_ptr_nonnull(strstr(r.out, "ctl update --signer TOKEN"));
	pt_run_clear(&r);
	json_t *j = run_json((const char *[]){"ctl", "show", "--json", NULL});
	ck_assert(json_is_false(json_object_get(j, "up_to_date")));
	json_t *gaps = json_object_get(j, "gaps");
	ck_assert_uint_eq(json_array_size(gaps), 1);
	json_t *g = json_array_get(gaps, 0);
	ck_assert_str_eq(json_string_value(json_object_get(g, "kind")),
			 "missing");
	ck_assert_str_eq(json_string_value(json_object_get(g, "node")),
			 "sub1");
	ck_assert_str_eq(json_string_value(json_object_get(g, "role")),
			 "ccm+tftp");
	json_decref(j);
	/* --out says so too. */
	char *out = path_in(tmp, "x.tlv");
	run(&r, 0, (const char *[]){"ctl", "show", "--out", out, NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "out of date"));
	pt_run_clear(&r);
	free(out);

	ok((const char *[]){"ctl", "update", "--signer", f_a, NULL});
	pt_tlv_file_t *f = stored_ctl();
	ck_assert_uint_eq(f->n_records, 5);
	ck_assert_uint_eq(f->records[3].role, PT_TLV_ROLE_CCM_TFTP);
	ck_assert_mem_eq(f->records[3].dns_name.data, "10.0.0.7", 9);
	pt_tlv_file_destroy(&f);
	j = run_json((const char *[]){"ctl", "show", "--json", NULL});
	ck_assert(json_is_true(json_object_get(j, "up_to_date")));
	json_decref(j);
}
END_TEST

/* Replaces one byte of the stored CTL's signature. */
static void tamper_ctl(void)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *c = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test tamper", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &c), PT_OK);
	pt_tlv_file_t *f = NULL;
	ck_assert_int_eq(pt_tlv_parse(c->ctl.data, c->ctl.len, &f, NULL),
			 PT_OK);
	c->ctl.data[f->header.signature_offset + 10] ^= 0x01;
	pt_tlv_file_destroy(&f);
	ck_assert_int_eq(pt_cluster_put(txn, c), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt__cluster__free_unpacked(c, NULL);
	pt_store_destroy(&store);
}

/* An update builds on the stored CTL only when it verifies against the
 * token that signed it. */
START_TEST(tampered_ctl)
{
	init_ab();
	tamper_ctl();
	refused("does not verify",
		(const char *[]){"ctl", "update", "--signer", f_a, NULL});
	pt_run_t r;
	run(&r, 1, (const char *[]){"ctl", "show", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "The CTL file was not verified"));
	ck_assert_ptr_nonnull(strstr(r.out, "no stored token verifies"));
	pt_run_clear(&r);
	json_t *j = NULL;
	run(&r, 1, (const char *[]){"ctl", "show", "--json", NULL});
	json_error_t e;
	j = json_loads(r.out, 0, &e);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_false(json_object_get(j, "verified")));
	json_decref(j);
	pt_run_clear(&r);
}
END_TEST

/* Reads from the pty master into buf (appending) until needle shows up
 * or the child closes it; bounded by a generous wait per read. */
static bool pty_wait(int fd, char *buf, size_t cap, size_t *len,
		     const char *needle)
{
	while (!needle || !strstr(buf, needle)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 60000) <= 0)
			return false;
		ssize_t n = read(fd, buf + *len, cap - 1 - *len);
		if (n <= 0)
			return needle == NULL;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
	return true;
}

/* With no --token-pass and a terminal, the password is asked for with
 * echo off. */
START_TEST(prompt_on_terminal)
{
	int master = -1;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(pt_test_bin("cli/phonetrust"), "phonetrust", "--data",
		      pub, "ctl", "init", "--token", f_c, "--token", f_a,
		      (char *)NULL);
		_exit(127);
	}
	char buf[8192] = "";
	size_t len = 0;
	ck_assert_msg(pty_wait(master, buf, sizeof buf, &len,
			       "Password for token"),
		      "no prompt: %s", buf);
	ck_assert_int_eq(write(master, "c-pass\n", 7), 7);
	pty_wait(master, buf, sizeof buf, &len, NULL);
	/* The pty reports end of file a moment before the child can be
	 * reaped; one still running after a minute is stuck on the prompt:
	 * fail rather than hang. */
	int status = 0;
	pid_t got = 0;
	for (int i = 0; i < 6000 && got == 0; i++) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			usleep(10000);
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		got = waitpid(pid, &status, 0);
		status = -1;
	}
	ck_assert_int_eq(got, pid);
	close(master);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status %d: %s", status, buf);
	ck_assert_msg(!strstr(buf, "c-pass"), "password echoed: %s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "created CTLFile.tlv"));
	pt_tlv_file_t *f = stored_ctl();
	ck_assert(record_is(&f->records[0], PT_TLV_ROLE_SAST, x_c));
	pt_tlv_file_destroy(&f);
}
END_TEST

START_TEST(subscriber_refused)
{
	pt_node_init(sub, "sub1", "subscriber", NULL);
	refused_in(sub, NULL, "only the publisher signs the CTL",
		   (const char *[]){"ctl", "init", "--token", f_a, "--token",
				    f_b, "--token-pass", src_b, NULL});
	refused_in(sub, NULL, "only the publisher signs the CTL",
		   (const char *[]){"ctl", "update", "--signer", f_a, NULL});
}
END_TEST

START_TEST(usage_errors)
{
	const char *const cases[][8] = {
		{"ctl", NULL},
		{"ctl", "frobnicate", NULL},
		{"ctl", "init", NULL},
		{"ctl", "init", "--signer", "x", NULL},
		{"ctl", "init", "--token-pass", "pass:x", "--token", "a",
		 NULL},
		{"ctl", "init", "--token", "a", "--mode", "strict", NULL},
		{"ctl", "update", NULL},
		{"ctl", "update", "--token", "a", NULL},
		{"ctl", "update", "--signer", "a", "--signer", "b", NULL},
		{"ctl", "update", "--signer", "a", "--token-pass", "pass:x",
		 NULL},
		{"ctl", "show", "extra", NULL},
		{"ctl", "show", "--bogus", NULL},
	};
	char *before = store_digest(pub);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pt_run_t r;
		run(&r, 2, cases[i]);
		pt_run_clear(&r);
	}
	char *after = store_digest(pub);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
	const char *verbs[] = {"init", "update", "show"};
	for (size_t i = 0; i < 3; i++) {
		pt_run_t r;
		run(&r, 0, (const char *[]){"ctl", verbs[i], "--help", NULL});
		ck_assert_ptr_nonnull(strstr(r.out, "usage: phonetrust ctl"));
		pt_run_clear(&r);
	}
}
END_TEST

static Suite *cli_ctl_suite(void)
{
	Suite *s = suite_create("cli_ctl");
	TCase *tc = tcase_create("publisher");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, init_two_tokens);
	tcase_add_test(tc, init_refusals);
	tcase_add_test(tc, password_sources);
	tcase_add_test(tc, prompt_on_terminal);
	tcase_add_test(tc, update_refusals);
	tcase_add_test(tc, replace_token);
	tcase_add_test(tc, nonsecure_mode);
	tcase_add_test(tc, stale_after_join);
	tcase_add_test(tc, tampered_ctl);
	tcase_add_test(tc, subscriber_refused);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cli_ctl_suite());
}
