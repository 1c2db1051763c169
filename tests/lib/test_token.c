/* SAST token files: PEM, encrypted PEM and PKCS#12 made with OpenSSL (its
 * APIs and the openssl command), and every refusal the loader names. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/token.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "pt_testtoken.h"

/* RSA generation is the slow part: the keys are made once. */
static EVP_PKEY *rsa2048, *rsa2048b, *rsa1024, *rsa4096, *rsa3072, *rsa512,
	*ec256;
static X509 *cert_a, *cert_b, *cert_a2, *cert_1024, *cert_4096, *cert_3072,
	*cert_512, *cert_ec;

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	ck_assert_ptr_nonnull(k);
	return k;
}

static void keys_setup(void)
{
	rsa2048 = rsa_key(2048);
	rsa2048b = rsa_key(2048);
	rsa1024 = rsa_key(1024);
	rsa4096 = rsa_key(4096);
	rsa3072 = rsa_key(3072);
	rsa512 = rsa_key(512);
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(ec256);
	cert_a = pt_testcert(rsa2048, "SAST-A", 1);
	cert_a2 = pt_testcert(rsa2048, "SAST-A-again", 2);
	cert_b = pt_testcert(rsa2048b, "SAST-B", 3);
	cert_1024 = pt_testcert(rsa1024, "SAST-1024", 4);
	cert_4096 = pt_testcert(rsa4096, "SAST-4096", 5);
	cert_3072 = pt_testcert(rsa3072, "SAST-3072", 6);
	cert_512 = pt_testcert(rsa512, "SAST-512", 7);
	cert_ec = pt_testcert(ec256, "SAST-EC", 8);
}

static void keys_teardown(void)
{
	EVP_PKEY *keys[] = {rsa2048, rsa2048b, rsa1024, rsa4096,
			    rsa3072, rsa512,   ec256};
	X509 *certs[] = {cert_a,    cert_b,    cert_a2,  cert_1024,
			 cert_4096, cert_3072, cert_512, cert_ec};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		EVP_PKEY_free(keys[i]);
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++)
		X509_free(certs[i]);
}

/* Concatenation of two buffers (frees both). */
static uint8_t *cat(uint8_t *a, size_t alen, uint8_t *b, size_t blen,
		    size_t *len)
{
	uint8_t *p = malloc(alen + blen);
	ck_assert_ptr_nonnull(p);
	memcpy(p, a, alen);
	memcpy(p + alen, b, blen);
	free(a);
	free(b);
	*len = alen + blen;
	return p;
}

/* Loads data and asserts the token is cert with key's size. */
static void expect_token(const uint8_t *data, size_t len, const char *pw,
			 X509 *cert, unsigned bits, pt_token_form_t form)
{
	pt_token_t *t = NULL;
	pt_token_diag_t d;
	int r = pt_token_parse(data, len, pw, &t, &d);
	ck_assert_msg(r == PT_OK, "parse: %s (%s)", pt_strerror(r), d.text);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(X509_cmp(t->cert, cert), 0);
	ck_assert_int_eq(X509_check_private_key(t->cert, t->key), 1);
	ck_assert_uint_eq(t->bits, bits);
	ck_assert_int_eq(t->form, form);
	uint8_t *der = NULL;
	size_t der_len = 0;
	uint8_t md[32];
	ck_assert_int_eq(pt_certs_encode_der(cert, &der, &der_len), PT_OK);
	ck_assert_uint_eq(t->der_len, der_len);
	ck_assert_mem_eq(t->der, der, der_len);
	ck_assert_int_eq(pt_certs_sha256(der, der_len, md), PT_OK);
	ck_assert_mem_eq(t->sha256, md, 32);
	free(der);
	pt_token_destroy(&t);
	ck_assert_ptr_null(t);
}

/* Asserts a refusal with err, a reason holding hint, and no token. */
static void expect_refusal(const uint8_t *data, size_t len, const char *pw,
			   int err, const char *hint, bool need_password)
{
	pt_token_t *t = (pt_token_t *)&t; /* must come back NULL */
	pt_token_diag_t d;
	int r = pt_token_parse(data, len, pw, &t, &d);
	ck_assert_msg(r == err, "got %s (%s), want %s", pt_strerror(r), d.text,
		      pt_strerror(err));
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(d.text, hint), "'%s' not in '%s'", hint, d.text);
	ck_assert_int_eq(d.need_password, need_password);
}

START_TEST(pem_plain)
{
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_pem(rsa2048, cert_a, NULL, &p, &n);
	ck_assert_int_eq(pt_token_detect(p, n), PT_TOKEN_FORM_PEM);
	expect_token(p, n, NULL, cert_a, 2048, PT_TOKEN_FORM_PEM);
	/* A password given for an unencrypted file is not needed. */
	expect_token(p, n, "unused", cert_a, 2048, PT_TOKEN_FORM_PEM);
	free(p);

	/* Key first, then the certificate, behind explanatory text. */
	uint8_t *k = NULL, *c = NULL;
	size_t kn = 0, cn = 0;
	pt_testtoken_key_pem(rsa2048, &k, &kn);
	pt_testtoken_cert_pem(cert_a, &c, &cn);
	static const char intro[] = "Bag Attributes\n    friendlyName: sast\n";
	uint8_t *i = malloc(sizeof intro - 1);
	memcpy(i, intro, sizeof intro - 1);
	p = cat(i, sizeof intro - 1, k, kn, &n);
	p = cat(p, n, c, cn, &n);
	ck_assert_int_eq(pt_token_detect(p, n), PT_TOKEN_FORM_PEM);
	expect_token(p, n, NULL, cert_a, 2048, PT_TOKEN_FORM_PEM);
	free(p);
}
END_TEST

START_TEST(pem_sizes)
{
	struct {
		EVP_PKEY *key;
		X509 *cert;
		unsigned bits;
	} ok[] = {{rsa1024, cert_1024, 1024}, {rsa4096, cert_4096, 4096}};
	for (size_t i = 0; i < 2; i++) {
		uint8_t *p = NULL;
		size_t n = 0;
		pt_testtoken_pem(ok[i].key, ok[i].cert, NULL, &p, &n);
		expect_token(p, n, NULL, ok[i].cert, ok[i].bits,
			     PT_TOKEN_FORM_PEM);
		free(p);
	}
	/* 3072 has no modulus code in a trust list header; 512 is below
	 * what a signer may use. */
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_pem(rsa3072, cert_3072, NULL, &p, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID, "3072 bits", false);
	free(p);
	pt_testtoken_pem(rsa512, cert_512, NULL, &p, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID, "512 bits", false);
	free(p);
}
END_TEST

START_TEST(pem_encrypted_pkcs8)
{
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_pem(rsa2048, cert_a, "s3cret pass", &p, &n);
	ck_assert_ptr_nonnull(memmem(p, n, "ENCRYPTED PRIVATE KEY", 21));
	expect_refusal(p, n, NULL, PT_ERR_AUTH, "password is needed", true);
	expect_refusal(p, n, "wrong pass", PT_ERR_AUTH, "wrong password",
		       false);
	expect_refusal(p, n, "", PT_ERR_AUTH, "wrong password", false);
	expect_token(p, n, "s3cret pass", cert_a, 2048, PT_TOKEN_FORM_PEM);
	free(p);
}
END_TEST

START_TEST(pem_encrypted_traditional)
{
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_pem_traditional(rsa2048, cert_a, "tr4d pass", &p, &n);
	ck_assert_ptr_nonnull(memmem(p, n, "Proc-Type: 4,ENCRYPTED", 22));
	expect_refusal(p, n, NULL, PT_ERR_AUTH, "password is needed", true);
	expect_refusal(p, n, "wrong pass", PT_ERR_AUTH, "wrong password",
		       false);
	expect_token(p, n, "tr4d pass", cert_a, 2048, PT_TOKEN_FORM_PEM);
	free(p);
}
END_TEST

START_TEST(pkcs12)
{
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_p12(rsa2048, cert_a, NULL, "p12 pass", &p, &n);
	ck_assert_int_eq(pt_token_detect(p, n), PT_TOKEN_FORM_PKCS12);
	expect_refusal(p, n, NULL, PT_ERR_AUTH, "password is needed", true);
	expect_refusal(p, n, "p12 wrong", PT_ERR_AUTH, "wrong password",
		       false);
	expect_token(p, n, "p12 pass", cert_a, 2048, PT_TOKEN_FORM_PKCS12);
	free(p);

	/* An empty password opens without one. */
	pt_testtoken_p12(rsa2048, cert_a, NULL, "", &p, &n);
	expect_token(p, n, NULL, cert_a, 2048, PT_TOKEN_FORM_PKCS12);
	expect_token(p, n, "", cert_a, 2048, PT_TOKEN_FORM_PKCS12);
	free(p);

	/* A chain: the certificate that belongs to the key is the token's. */
	pt_testtoken_p12(rsa2048, cert_a, cert_b, "chain", &p, &n);
	expect_token(p, n, "chain", cert_a, 2048, PT_TOKEN_FORM_PKCS12);
	free(p);
}
END_TEST

/* Files made by the openssl command, as administrators make them. */
START_TEST(openssl_command)
{
	char *dir = pt_test_tmpdir();
	char cmd[4096], key[512], crt[512], p12[512], pem[512];
	snprintf(key, sizeof key, "%s/k.pem", dir);
	snprintf(crt, sizeof crt, "%s/c.pem", dir);
	snprintf(p12, sizeof p12, "%s/t.p12", dir);
	snprintf(pem, sizeof pem, "%s/t.pem", dir);
	uint8_t *b = NULL;
	size_t n = 0;
	pt_testtoken_key_pem(rsa1024, &b, &n);
	pt_testtoken_write(key, b, n);
	free(b);
	pt_testtoken_cert_pem(cert_1024, &b, &n);
	pt_testtoken_write(crt, b, n);
	free(b);
	snprintf(cmd, sizeof cmd,
		 "openssl pkcs12 -export -in %s -inkey %s -passout "
		 "pass:cli-pass -out %s && openssl pkcs12 -in %s -passin "
		 "pass:cli-pass -nodes -out %s",
		 crt, key, p12, p12, pem);
	ck_assert_int_eq(system(cmd), 0);

	uint8_t *data = (uint8_t *)pt_test_read_file(p12, &n);
	expect_refusal(data, n, NULL, PT_ERR_AUTH, "password", true);
	expect_token(data, n, "cli-pass", cert_1024, 1024,
		     PT_TOKEN_FORM_PKCS12);
	free(data);
	/* -nodes writes "Bag Attributes" text before each block. */
	data = (uint8_t *)pt_test_read_file(pem, &n);
	ck_assert_ptr_nonnull(memmem(data, n, "Bag Attributes", 14));
	expect_token(data, n, NULL, cert_1024, 1024, PT_TOKEN_FORM_PEM);
	free(data);
	pt_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(key_and_certificate_must_match)
{
	uint8_t *p = NULL, *q = NULL;
	size_t n = 0, m = 0;
	/* cert_b with rsa2048's key. */
	pt_testtoken_cert_pem(cert_b, &p, &n);
	pt_testtoken_key_pem(rsa2048, &q, &m);
	p = cat(p, n, q, m, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID,
		       "certificate does not belong to the private key",
		       false);
	free(p);

	/* Two certificates, neither the key's. */
	pt_testtoken_cert_pem(cert_b, &p, &n);
	pt_testtoken_cert_pem(cert_1024, &q, &m);
	p = cat(p, n, q, m, &n);
	pt_testtoken_key_pem(rsa2048, &q, &m);
	p = cat(p, n, q, m, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID,
		       "none of the 2 certificates", false);
	free(p);

	/* Two different certificates of the same key. */
	pt_testtoken_pem(rsa2048, cert_a, NULL, &p, &n);
	pt_testtoken_cert_pem(cert_a2, &q, &m);
	p = cat(p, n, q, m, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID,
		       "several different certificates", false);
	free(p);

	/* The same certificate twice, with another one: fine. */
	pt_testtoken_pem(rsa2048, cert_a, NULL, &p, &n);
	pt_testtoken_cert_pem(cert_a, &q, &m);
	p = cat(p, n, q, m, &n);
	pt_testtoken_cert_pem(cert_b, &q, &m);
	p = cat(p, n, q, m, &n);
	expect_token(p, n, NULL, cert_a, 2048, PT_TOKEN_FORM_PEM);
	free(p);
}
END_TEST

START_TEST(ec_refused)
{
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_pem(ec256, cert_ec, NULL, &p, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID, "an EC key", false);
	free(p);
	pt_testtoken_p12(ec256, cert_ec, NULL, "ec", &p, &n);
	expect_refusal(p, n, "ec", PT_ERR_INVALID, "RSA keys only", false);
	free(p);
}
END_TEST

START_TEST(missing_parts)
{
	uint8_t *p = NULL, *q = NULL;
	size_t n = 0, m = 0;
	pt_testtoken_cert_pem(cert_a, &p, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID, "no private key", false);
	free(p);
	pt_testtoken_key_pem(rsa2048, &p, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID, "no certificate", false);
	free(p);
	/* Two keys. */
	pt_testtoken_pem(rsa2048, cert_a, NULL, &p, &n);
	pt_testtoken_key_pem(rsa2048b, &q, &m);
	p = cat(p, n, q, m, &n);
	expect_refusal(p, n, NULL, PT_ERR_INVALID, "more than one private key",
		       false);
	free(p);
	/* A DER certificate alone. */
	uint8_t *der = NULL;
	ck_assert_int_eq(pt_certs_encode_der(cert_a, &der, &n), PT_OK);
	expect_refusal(der, n, NULL, PT_ERR_INVALID,
		       "DER certificate without a private key", false);
	free(der);
	/* A block of another kind. */
	static const char other[] = "-----BEGIN FOO BAR-----\nAAAA\n"
				    "-----END FOO BAR-----\n";
	expect_refusal((const uint8_t *)other, sizeof other - 1, NULL,
		       PT_ERR_INVALID, "'FOO BAR'", false);
}
END_TEST

START_TEST(malformed_input)
{
	static const char junk[] = "hello, I am not a token\n";
	expect_refusal((const uint8_t *)junk, sizeof junk - 1, NULL,
		       PT_ERR_MALFORMED, "neither PEM nor PKCS#12", false);
	expect_refusal((const uint8_t *)"", 0, NULL, PT_ERR_MALFORMED,
		       "empty", false);
	static const char broken[] = "-----BEGIN CERTIFICATE-----\n!!!!\n"
				     "-----END CERTIFICATE-----\n";
	expect_refusal((const uint8_t *)broken, sizeof broken - 1, NULL,
		       PT_ERR_MALFORMED, "does not decode", false);
	static const char nobegin[] = "-----BEGIN \n";
	pt_token_t *t = NULL;
	ck_assert_int_lt(pt_token_parse((const uint8_t *)nobegin,
					sizeof nobegin - 1, NULL, &t, NULL),
			 0);

	size_t big = PT_TOKEN_FILE_MAX + 1;
	uint8_t *huge = calloc(1, big);
	memset(huge, 'A', big);
	expect_refusal(huge, big, NULL, PT_ERR_TOO_LARGE, "larger than",
		       false);
	free(huge);

	/* Truncation at every length and a trailing byte, both forms. */
	uint8_t *p = NULL;
	size_t n = 0;
	pt_testtoken_p12(rsa2048, cert_a, NULL, "pw", &p, &n);
	for (size_t cut = 0; cut < n; cut++) {
		ck_assert_int_lt(pt_token_parse(p, cut, "pw", &t, NULL), 0);
		ck_assert_ptr_null(t);
	}
	uint8_t *longer = malloc(n + 1);
	memcpy(longer, p, n);
	longer[n] = 0;
	expect_refusal(longer, n + 1, "pw", PT_ERR_TRAILING, "follow", false);
	free(longer);
	free(p);

	/* Only the final line feed may go. */
	pt_testtoken_pem(rsa2048, cert_a, NULL, &p, &n);
	for (size_t cut = 0; cut + 1 < n; cut++) {
		ck_assert_msg(pt_token_parse(p, cut, NULL, &t, NULL) < 0,
			      "cut at %zu of %zu parsed", cut, n);
		ck_assert_ptr_null(t);
	}
	free(p);

	/* Too many blocks. */
	pt_testtoken_cert_pem(cert_b, &p, &n);
	size_t total = n * (PT_TOKEN_PEM_BLOCKS_MAX + 1);
	uint8_t *many = malloc(total);
	for (size_t i = 0; i <= PT_TOKEN_PEM_BLOCKS_MAX; i++)
		memcpy(many + i * n, p, n);
	expect_refusal(many, total, NULL, PT_ERR_TOO_LARGE, "PEM blocks",
		       false);
	free(many);
	free(p);
}
END_TEST

/* Derivation rounds are checked before any is run; a PKCS#12 file must
 * carry its MAC. */
START_TEST(bounded_work)
{
	BIO *b = BIO_new(BIO_s_mem());
	X509_SIG *p8 = NULL;
	PKCS8_PRIV_KEY_INFO *inf = EVP_PKEY2PKCS8(rsa1024);
	ck_assert_ptr_nonnull(inf);
	p8 = PKCS8_encrypt(-1, EVP_aes_128_cbc(), "pw", 2, NULL, 0,
			   (int)PT_TOKEN_KDF_ITER_MAX + 1, inf);
	ck_assert_ptr_nonnull(p8);
	ck_assert(PEM_write_bio_X509(b, cert_1024));
	ck_assert(PEM_write_bio_PKCS8(b, p8));
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	expect_refusal((const uint8_t *)data, (size_t)n, "pw",
		       PT_ERR_TOO_LARGE, "key derivation rounds", false);
	BIO_free(b);
	X509_SIG_free(p8);

	/* The same key at the cap opens. */
	b = BIO_new(BIO_s_mem());
	p8 = PKCS8_encrypt(-1, EVP_aes_128_cbc(), "pw", 2, NULL, 0, 4096, inf);
	ck_assert(PEM_write_bio_X509(b, cert_1024));
	ck_assert(PEM_write_bio_PKCS8(b, p8));
	n = BIO_get_mem_data(b, &data);
	expect_token((const uint8_t *)data, (size_t)n, "pw", cert_1024, 1024,
		     PT_TOKEN_FORM_PEM);
	BIO_free(b);
	X509_SIG_free(p8);
	PKCS8_PRIV_KEY_INFO_free(inf);

	PKCS12 *p12 = PKCS12_create("pw", "sast", rsa2048, cert_a, NULL, 0, 0,
				    0, -1, 0);
	ck_assert_ptr_nonnull(p12);
	ck_assert(!PKCS12_mac_present(p12));
	unsigned char *der = NULL;
	int len = i2d_PKCS12(p12, &der);
	ck_assert_int_gt(len, 0);
	expect_refusal(der, (size_t)len, "pw", PT_ERR_INVALID,
		       "no integrity MAC", false);
	OPENSSL_free(der);
	PKCS12_free(p12);

	p12 = PKCS12_create("pw", "sast", rsa2048, cert_a, NULL, 0, 0, 0,
			    (int)PT_TOKEN_KDF_ITER_MAX + 1, 0);
	ck_assert_ptr_nonnull(p12);
	der = NULL;
	len = i2d_PKCS12(p12, &der);
	expect_refusal(der, (size_t)len, "pw", PT_ERR_TOO_LARGE,
		       "PKCS#12 MAC", false);
	OPENSSL_free(der);
	PKCS12_free(p12);
}
END_TEST

START_TEST(certificate_only)
{
	X509 *x = NULL;
	pt_token_diag_t d;
	uint8_t *p = NULL, *der = NULL;
	size_t n = 0;
	/* An encrypted token: the certificate reads without the password. */
	pt_testtoken_pem(rsa2048, cert_a, "s3cret", &p, &n);
	ck_assert_int_eq(pt_token_parse_cert(p, n, &x, &d), PT_OK);
	ck_assert_int_eq(X509_cmp(x, cert_a), 0);
	X509_free(x);
	free(p);
	ck_assert_int_eq(pt_certs_encode_der(cert_b, &der, &n), PT_OK);
	ck_assert_int_eq(pt_token_parse_cert(der, n, &x, &d), PT_OK);
	ck_assert_int_eq(X509_cmp(x, cert_b), 0);
	X509_free(x);
	ck_assert_int_lt(pt_token_parse_cert(der, n - 1, &x, &d), 0);
	ck_assert_ptr_null(x);
	free(der);
	pt_testtoken_p12(rsa2048, cert_a, NULL, "pw", &p, &n);
	ck_assert_int_eq(pt_token_parse_cert(p, n, &x, &d), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(d.text, "PKCS#12"));
	free(p);
	/* Two certificates: which one is meant is not ours to guess. */
	uint8_t *q = NULL;
	size_t m = 0;
	pt_testtoken_cert_pem(cert_a, &p, &n);
	pt_testtoken_cert_pem(cert_b, &q, &m);
	p = cat(p, n, q, m, &n);
	ck_assert_int_eq(pt_token_parse_cert(p, n, &x, &d), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(d.text, "2 certificates"));
	free(p);
}
END_TEST

static Suite *token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("token");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pem_plain);
	tcase_add_test(tc, pem_sizes);
	tcase_add_test(tc, pem_encrypted_pkcs8);
	tcase_add_test(tc, pem_encrypted_traditional);
	tcase_add_test(tc, pkcs12);
	tcase_add_test(tc, openssl_command);
	tcase_add_test(tc, key_and_certificate_must_match);
	tcase_add_test(tc, ec_refused);
	tcase_add_test(tc, missing_parts);
	tcase_add_test(tc, malformed_input);
	tcase_add_test(tc, bounded_work);
	tcase_add_test(tc, certificate_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(token_suite());
}
