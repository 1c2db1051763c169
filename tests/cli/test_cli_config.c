/* phonetrust config show against a real publisher (init, ctl init with
 * two tokens), checked the way a phone checks: the CTL and ITL the node
 * hands out are installed in a phone's trust state, then every
 * configuration form is verified (and decrypted) with them. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/phone_trust.h"
#include "lib/sgn.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testcert.h"

#define DIGEST_PW "Dig3st-s3cret"
#define PHONE "SEP001122334455"

static char *tmp, *pub;
static EVP_PKEY *phone_key;

static char *path_in(const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, rel), 0);
	return p;
}

/* Runs phonetrust --data pub ARGS...; returns the exit status, keeps the
 * outputs in *r (cleared by the caller). */
static int cli(pt_run_t *r, const char *const *args)
{
	return pt_node_cli(r, pub, args);
}

static void ok(const char *const *args)
{
	pt_node_cli_ok(pub, args);
}

/* The bytes of `config show PHONE --form F --out FILE`; NULL (and the
 * reason on stderr checked for needle) when the phone gets not found. */
static uint8_t *fetch(const char *form, size_t *len, const char *needle)
{
	char *out = path_in("fetched");
	remove(out);
	pt_run_t r;
	int st = cli(&r, (const char *[]){"config", "show", PHONE, "--form",
					  form, "--out", out, NULL});
	uint8_t *bytes = NULL;
	if (needle) {
		ck_assert_msg(st == 1, "%s served: %s", form, r.out);
		ck_assert_msg(strstr(r.err, needle), "'%s' not in: %s", needle,
			      r.err);
		ck_assert_ptr_nonnull(strstr(r.err, "File not found"));
	} else {
		ck_assert_msg(st == 0, "%s: %s", form, r.err);
		bytes = (uint8_t *)pt_test_read_file(out, len);
	}
	pt_run_clear(&r);
	free(out);
	return bytes;
}

/* A phone that fetched and installed this node's CTL and ITL. */
static pt_phone_trust_t *phone_with_lists(void)
{
	pt_phone_trust_t *pt = NULL;
	pt_phone_diag_t d;
	size_t len = 0;
	ck_assert_int_eq(pt_phone_trust_new(&pt), PT_OK);
	char *ctl = path_in("CTLFile.tlv"), *itl = path_in("ITLFile.tlv");
	ok((const char *[]){"ctl", "show", "--out", ctl, NULL});
	ok((const char *[]){"itl", "show", "--out", itl, NULL});
	uint8_t *b = (uint8_t *)pt_test_read_file(ctl, &len);
	ck_assert_msg(pt_phone_trust_put_ctl(pt, b, len, NULL, 0, &d) == PT_OK,
		      "%s", d.text);
	free(b);
	b = (uint8_t *)pt_test_read_file(itl, &len);
	ck_assert_msg(pt_phone_trust_put_itl(pt, b, len, NULL, 0, &d) == PT_OK,
		      "%s", d.text);
	free(b);
	free(ctl);
	free(itl);
	ck_assert(pt_phone_trust_wants_signed(pt));
	return pt;
}

/* Gives the phone an LSC for key (as a finished CAPF install would). */
static void give_lsc(EVP_PKEY *key)
{
	X509 *cert = pt_testcert(key, "SEP001122334455-LSC", 0x77);
	pt_node_give_lsc(pub, PHONE, cert);
	X509_free(cert);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in("pub");
	char *dpw = path_in("digest");
	pt_test_write_file(dpw, DIGEST_PW "\n");
	pt_node_init(pub, "pub", "publisher", NULL);
	pt_node_add_enc_profile(pub);
	pt_node_add_device(pub, PHONE, PT_NODE_ENC_PROFILE, "alice", dpw);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &phone_key), PT_OK);
	free(dpw);
}

static void teardown(void)
{
	EVP_PKEY_free(phone_key);
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
}

/* Mixed mode with two SAST tokens. */
static void go_mixed(void)
{
	pt_node_mixed(pub, "SAST-");
}

/* Non-secure cluster: the ITL still lists the node's TFTP certificate,
 * so a phone asks for .sgn and gets it; a plain request (a phone without
 * trust lists) gets the full file only when the profile does not
 * encrypt. */
START_TEST(non_secure_cluster)
{
	size_t len = 0;
	pt_phone_trust_t *pt = NULL;
	pt_phone_diag_t d;
	ck_assert_int_eq(pt_phone_trust_new(&pt), PT_OK);
	char *itl = path_in("ITLFile.tlv");
	ok((const char *[]){"itl", "show", "--out", itl, NULL});
	uint8_t *b = (uint8_t *)pt_test_read_file(itl, &len);
	ck_assert_int_eq(pt_phone_trust_put_itl(pt, b, len, NULL, 0, &d), PT_OK);
	free(b);
	free(itl);
	ck_assert(pt_phone_trust_wants_signed(pt));

	/* Encrypting profile, no certificate: minimal files only. */
	uint8_t *plain = fetch("plain", &len, NULL);
	ck_assert_ptr_nonnull(memmem(plain, len, "<fullConfig>false", 17));
	ck_assert_ptr_null(memmem(plain, len, DIGEST_PW, strlen(DIGEST_PW)));
	free(plain);
	ck_assert_ptr_null(fetch("encrypted", &len, "CAPF"));

	/* Not encrypting: the full file, in clear and signed. */
	ok((const char *[]){"device", "update", PHONE, "--profile",
			    "Cisco 8841 - Standard SIP Non-Secure Profile",
			    NULL});
	plain = fetch("plain", &len, NULL);
	ck_assert_ptr_nonnull(memmem(plain, len, "<authName>alice</authName>",
				     26));
	ck_assert_ptr_nonnull(memmem(plain, len, DIGEST_PW, strlen(DIGEST_PW)));
	ck_assert_ptr_nonnull(memmem(plain, len, "<encrConfig>false", 17));
	uint8_t *sgn = fetch("signed", &len, NULL);
	const uint8_t *payload = NULL;
	size_t plen = 0;
	ck_assert_msg(pt_phone_trust_verify_sgn(pt, sgn, len, NULL, &payload,
						&plen, &d) == PT_OK,
		      "%s", d.text);
	ck_assert_ptr_nonnull(memmem(payload, plen, "<fullConfig>true", 16));
	free(sgn);
	free(plain);
	ck_assert_ptr_null(fetch("encrypted", &len, "falls back"));
	pt_phone_trust_destroy(&pt);
}
END_TEST

START_TEST(mixed_encrypting_without_certificate)
{
	go_mixed();
	pt_phone_trust_t *pt = phone_with_lists();
	size_t len = 0;
	/* No LSC or MIC yet: the minimal file, signed, with an empty hash,
	 * and nothing secret in it; no encrypted file. */
	uint8_t *sgn = fetch("signed", &len, NULL);
	const uint8_t *payload = NULL;
	size_t plen = 0;
	pt_phone_diag_t d;
	ck_assert_msg(pt_phone_trust_verify_sgn(pt, sgn, len, PHONE
						".cnf.xml.sgn", &payload,
						&plen, &d) == PT_OK,
		      "%s", d.text);
	ck_assert_ptr_nonnull(memmem(payload, plen, "<certHash></certHash>",
				     21));
	ck_assert_ptr_nonnull(memmem(payload, plen,
				     "<encrConfig>true</encrConfig>", 29));
	ck_assert_ptr_null(memmem(sgn, len, DIGEST_PW, strlen(DIGEST_PW)));
	ck_assert_ptr_null(memmem(sgn, len, "alice", 5));
	free(sgn);
	ck_assert_ptr_null(fetch("encrypted", &len, "CAPF"));
	/* The plain request gets the minimal file, not the full one. */
	uint8_t *plain = fetch("plain", &len, NULL);
	ck_assert_ptr_nonnull(memmem(plain, len, "<fullConfig>false", 17));
	ck_assert_ptr_null(memmem(plain, len, DIGEST_PW, strlen(DIGEST_PW)));
	free(plain);
	pt_phone_trust_destroy(&pt);
}
END_TEST

START_TEST(mixed_encrypted_for_the_lsc)
{
	go_mixed();
	give_lsc(phone_key);
	pt_phone_trust_t *pt = phone_with_lists();
	size_t len = 0, len2 = 0;
	pt_phone_diag_t d;

	/* The minimal file carries the MD5 of the LSC. */
	uint8_t *sgn = fetch("signed", &len, NULL);
	const uint8_t *payload = NULL;
	size_t plen = 0;
	ck_assert_int_eq(pt_phone_trust_verify_sgn(pt, sgn, len, NULL,
						   &payload, &plen, &d),
			 PT_OK);
	ck_assert_ptr_null(memmem(payload, plen, "<certHash></certHash>",
				  21));
	free(sgn);

	uint8_t *enc = fetch("encrypted", &len, NULL);
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	ck_assert_msg(pt_phone_trust_open_encconfig(pt, enc, len, PHONE
						    ".cnf.xml.enc.sgn",
						    phone_key, &plain,
						    &plain_len, &d) == PT_OK,
		      "%s", d.text);
	ck_assert_ptr_nonnull(memmem(plain, plain_len, DIGEST_PW,
				     strlen(DIGEST_PW)));
	ck_assert_ptr_nonnull(memmem(plain, plain_len,
				     "<fullConfig>true</fullConfig>", 29));
	ck_assert_ptr_null(memmem(enc, len, DIGEST_PW, strlen(DIGEST_PW)));
	free(plain);

	/* Only the phone's key opens it. */
	EVP_PKEY *other = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &other), PT_OK);
	ck_assert_int_ne(pt_phone_trust_open_encconfig(pt, enc, len, NULL,
						       other, &plain,
						       &plain_len, &d),
			 PT_OK);
	EVP_PKEY_free(other);

	/* A new AES key on every build. */
	uint8_t *enc2 = fetch("encrypted", &len2, NULL);
	pt_encconfig_file_t f1, f2;
	ck_assert_int_eq(pt_encconfig_parse(enc, len, &f1, NULL), PT_OK);
	ck_assert_int_eq(pt_encconfig_parse(enc2, len2, &f2, NULL), PT_OK);
	ck_assert(f1.wrapped_len == f2.wrapped_len &&
		  memcmp(f1.wrapped_key, f2.wrapped_key, f1.wrapped_len) != 0);
	ck_assert(memcmp(f1.iv, f2.iv, 16) != 0);
	free(enc);
	free(enc2);

	/* Without --form the phone's first request is the encrypted file. */
	pt_run_t r;
	ck_assert_int_eq(cli(&r, (const char *[]){"--json", "config", "show",
						  PHONE, NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"form\": \"encrypted\""));
	pt_run_clear(&r);
	pt_phone_trust_destroy(&pt);
}
END_TEST

START_TEST(mixed_unencrypted_and_ec_and_manual_key)
{
	go_mixed();
	pt_phone_trust_t *pt = phone_with_lists();
	size_t len = 0;
	pt_phone_diag_t d;

	/* An EC LSC: encryption cannot wrap a key for it. */
	EVP_PKEY *ec = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ec), PT_OK);
	give_lsc(ec);
	EVP_PKEY_free(ec);
	ck_assert_ptr_null(fetch("encrypted", &len, "EC"));

	/* Encryption off: the full file, signed; no plain file in mixed
	 * mode. */
	ok((const char *[]){"device", "update", PHONE, "--profile",
			    "Cisco 8841 - Standard SIP Non-Secure Profile",
			    NULL});
	uint8_t *sgn = fetch("signed", &len, NULL);
	const uint8_t *payload = NULL;
	size_t plen = 0;
	ck_assert_int_eq(pt_phone_trust_verify_sgn(pt, sgn, len, NULL,
						   &payload, &plen, &d),
			 PT_OK);
	ck_assert_ptr_nonnull(memmem(payload, plen, DIGEST_PW,
				     strlen(DIGEST_PW)));
	/* Tampering with one payload byte breaks the signature. */
	sgn[len - 10] ^= 1;
	ck_assert_int_ne(pt_phone_trust_verify_sgn(pt, sgn, len, NULL,
						   &payload, &plen, &d),
			 PT_OK);
	free(sgn);
	ck_assert_ptr_null(fetch("plain", &len, "signed"));
	ck_assert_ptr_null(fetch("encrypted", &len, "not found"));
	pt_phone_trust_destroy(&pt);
}
END_TEST

START_TEST(manual_key_model_is_served_as_unencrypted)
{
	go_mixed();
	ok((const char *[]){"device", "add", "SEP00AABBCCDDEE", "--model",
			    "7960", "--protocol", "sip", "--profile",
			    "Enc SIP", "--generate-symmetric-key", NULL});
	pt_run_t r;
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "show",
						  "SEP00AABBCCDDEE", "--form",
						  "encrypted", NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "manual"));
	pt_run_clear(&r);
	ck_assert_int_eq(cli(&r, (const char *[]){"--json", "config", "show",
						  "SEP00AABBCCDDEE", NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"form\": \"full-signed\""));
	ck_assert_ptr_nonnull(strstr(r.out, "\"encryption\": \"manual-key\""));
	pt_run_clear(&r);
}
END_TEST

START_TEST(refusals)
{
	pt_run_t r;
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "show",
						  "SEP0000000000AA", NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "no device SEP0000000000AA"));
	pt_run_clear(&r);
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "show", "CTI1",
						  NULL}),
			 1);
	pt_run_clear(&r);
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "show", PHONE,
						  "--form", "zip", NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "show", NULL}),
			 2);
	pt_run_clear(&r);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("cli_config");
	TCase *tc = tcase_create("show");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, non_secure_cluster);
	tcase_add_test(tc, mixed_encrypting_without_certificate);
	tcase_add_test(tc, mixed_encrypted_for_the_lsc);
	tcase_add_test(tc, mixed_unencrypted_and_ec_and_manual_key);
	tcase_add_test(tc, manual_key_model_is_served_as_unencrypted);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(config_suite());
}
