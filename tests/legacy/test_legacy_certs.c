#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_fixtures.h"
#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "pt_test.h"

/* Two CAPF CAs (RSA and EC), a rogue CA with the same subject as the
 * first, and LSCs each of them signed. */
static EVP_PKEY *rsa_ca_key, *ec_ca_key, *rogue_key, *phone_key;
static X509 *rsa_ca, *ec_ca, *rogue_ca;

static void setup(void)
{
	rsa_ca_key = fx_rsa(2048);
	ec_ca_key = fx_key();
	rogue_key = fx_rsa(1024);
	phone_key = fx_rsa(1024);
	rsa_ca = fx_cert("CAPF-1111aaaa", rsa_ca_key, NULL, rsa_ca_key,
			 EVP_sha256(), 1, 1);
	ec_ca = fx_cert("CAPF-2222bbbb", ec_ca_key, NULL, ec_ca_key,
			EVP_sha384(), 1, 2);
	rogue_ca = fx_cert("CAPF-1111aaaa", rogue_key, NULL, rogue_key,
			   EVP_sha256(), 1, 3);
}

static void teardown(void)
{
	X509_free(rsa_ca);
	X509_free(ec_ca);
	X509_free(rogue_ca);
	EVP_PKEY_free(rsa_ca_key);
	EVP_PKEY_free(ec_ca_key);
	EVP_PKEY_free(rogue_key);
	EVP_PKEY_free(phone_key);
}

static uint8_t *lsc(X509 *ca, EVP_PKEY *key, const EVP_MD *md, long serial,
		    size_t *len)
{
	X509 *x = fx_cert("SEP001122334455", phone_key, ca, key, md, 0,
			  serial);
	uint8_t *der = fx_der(x, len);
	X509_free(x);
	return der;
}

static pt_legacy_issuers_t *issuers(void)
{
	pt_legacy_issuers_t *s = NULL;
	size_t len, idx = 99;
	ck_assert_int_eq(pt_legacy_issuers_new(&s), PT_OK);
	uint8_t *d = fx_der(rsa_ca, &len);
	ck_assert_int_eq(pt_legacy_issuers_put(s, d, len, &idx), PT_OK);
	ck_assert_uint_eq(idx, 0);
	/* The same certificate again is not a second CA. */
	ck_assert_int_eq(pt_legacy_issuers_put(s, d, len, &idx), PT_OK);
	ck_assert_uint_eq(idx, 0);
	uint8_t sha1[20];
	SHA1(d, len, sha1);
	ck_assert_mem_eq(pt_legacy_issuers_sha1(s, 0), sha1, 20);
	free(d);
	d = fx_der(ec_ca, &len);
	ck_assert_int_eq(pt_legacy_issuers_put(s, d, len, NULL), PT_OK);
	free(d);
	ck_assert_uint_eq(pt_legacy_issuers_count(s), 2);
	ck_assert_ptr_null(pt_legacy_issuers_sha1(s, 2));
	return s;
}

START_TEST(strict_base64)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{"", PT_OK, ""},
		{"Zg==", PT_OK, "f"},
		{"Zm8=", PT_OK, "fo"},
		{"Zm9v", PT_OK, "foo"},
		{"Zm9vYmFy", PT_OK, "foobar"},
		{"+/+/", PT_OK, "\xfb\xff\xbf"},
		{"Zg=", PT_ERR_MALFORMED, NULL},
		{"Zh==", PT_ERR_MALFORMED, NULL}, /* non-zero hidden bits */
		{"Zm9=", PT_ERR_MALFORMED, NULL},
		{"Z===", PT_ERR_MALFORMED, NULL},
		{"=Zg=", PT_ERR_MALFORMED, NULL},
		{"Zm=v", PT_ERR_MALFORMED, NULL},
		{"Zg==Zg==", PT_ERR_MALFORMED, NULL},
		{"Zm9v\n", PT_ERR_MALFORMED, NULL},
		{"Zm 9", PT_ERR_MALFORMED, NULL},
		{"Zm-_", PT_ERR_MALFORMED, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t out[16];
		size_t n = 77;
		int rc = pt_legacy_certs_decode_base64(
			cases[i].in, strlen(cases[i].in), out, sizeof out, &n);
		ck_assert_msg(rc == cases[i].rc, "%s: %d", cases[i].in, rc);
		if (rc == PT_OK) {
			ck_assert_uint_eq(n, strlen(cases[i].out));
			ck_assert_mem_eq(out, cases[i].out, n);
		}
	}
	uint8_t small[2];
	size_t n;
	ck_assert_int_eq(pt_legacy_certs_decode_base64("Zm9v", 4, small, 2, &n),
			 PT_ERR_TOO_LARGE);
}
END_TEST

/* The fast record equals pt_certs_parse's, field by field. */
static void same_record(const uint8_t *der, size_t len)
{
	Pt__Certificate *a = NULL, *b = NULL;
	ck_assert_int_eq(pt_certs_parse(der, len, &a), PT_OK);
	ck_assert_int_eq(pt_legacy_certs_record(der, len, &b), PT_OK);
	ck_assert_uint_eq(a->der.len, b->der.len);
	ck_assert_mem_eq(a->der.data, b->der.data, len);
	ck_assert_uint_eq(b->sha256.len, 32);
	ck_assert_mem_eq(a->sha256.data, b->sha256.data, 32);
	ck_assert_str_eq(a->serial, b->serial);
	ck_assert_str_eq(a->issuer, b->issuer);
	ck_assert_str_eq(a->subject, b->subject);
	ck_assert_int_eq(a->not_before, b->not_before);
	ck_assert_int_eq(a->not_after, b->not_after);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

START_TEST(view_and_record_match_openssl)
{
	size_t len;
	uint8_t *der = lsc(rsa_ca, rsa_ca_key, EVP_sha256(), 0x1234567, &len);
	pt_legacy_x509_view_t v;
	const char *why = "x";
	ck_assert_int_eq(pt_legacy_certs_view(der, len, &v, &why), PT_OK);
	ck_assert_ptr_null(why);
	ck_assert_ptr_eq(v.tbs, der + 4);
	uint8_t *name = NULL;
	int nl = i2d_X509_NAME(X509_get_subject_name(rsa_ca), &name);
	ck_assert_uint_eq(v.issuer_len, (size_t)nl);
	ck_assert_mem_eq(v.issuer, name, (size_t)nl);
	OPENSSL_free(name);
	ck_assert_uint_eq(v.serial_len, 4);
	ck_assert_uint_eq(v.sig_len, 2048 / 8);
	same_record(der, len);
	free(der);

	/* Serials: zero, negative, long; an EC signature. */
	long serials[] = {0, -5, 0x7fffffffL, 128};
	for (size_t i = 0; i < 4; i++) {
		der = lsc(ec_ca, ec_ca_key, EVP_sha256(), serials[i], &len);
		same_record(der, len);
		free(der);
	}

	/* GeneralizedTime after 2049 and a UTCTime before 2000. */
	X509 *x = fx_cert("SEP001122334455", phone_key, rsa_ca, rsa_ca_key,
			  EVP_sha256(), 0, 9);
	ck_assert(ASN1_TIME_set_string(X509_getm_notAfter(x),
				       "20601231235959Z"));
	ck_assert(ASN1_TIME_set_string(X509_getm_notBefore(x),
				       "990101000000Z"));
	ck_assert(X509_sign(x, rsa_ca_key, EVP_sha256()) > 0);
	der = fx_der(x, &len);
	same_record(der, len);
	ck_assert_int_eq(pt_legacy_certs_view(der, len, &v, NULL), PT_OK);
	ck_assert_int_eq(v.not_after, 2871763199LL);
	ck_assert_int_eq(v.not_before, 915148800LL);
	free(der);
	X509_free(x);
}
END_TEST

START_TEST(view_refuses_what_is_not_a_certificate)
{
	size_t len;
	uint8_t *der = lsc(rsa_ca, rsa_ca_key, EVP_sha256(), 42, &len);
	pt_legacy_x509_view_t v;
	const char *why = NULL;
	/* Every truncation. */
	for (size_t n = 0; n < len; n++)
		ck_assert_msg(pt_legacy_certs_view(der, n, &v, &why) ==
				      PT_ERR_MALFORMED,
			      "length %zu", n);
	ck_assert_ptr_nonnull(why);
	/* A byte more. */
	uint8_t *more = malloc(len + 1);
	memcpy(more, der, len);
	more[len] = 0;
	ck_assert_int_eq(pt_legacy_certs_view(more, len + 1, &v, &why),
			 PT_ERR_TRAILING);
	free(more);
	/* Any single-byte change of a structural byte in the first 40
	 * bytes must not crash; a changed tag or length never passes. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			der[i] ^= (uint8_t)(1 << bit);
			(void)pt_legacy_certs_view(der, len, &v, NULL);
			der[i] ^= (uint8_t)(1 << bit);
		}
	}
	der[0] = 0x31;
	ck_assert_int_eq(pt_legacy_certs_view(der, len, &v, NULL),
			 PT_ERR_MALFORMED);
	der[0] = 0x30;
	der[1] ^= 0x01;
	ck_assert_int_eq(pt_legacy_certs_view(der, len, &v, NULL),
			 PT_ERR_MALFORMED);
	der[1] ^= 0x01;
	/* Non-minimal length: 0x82 0x00 0x.. */
	static const uint8_t nonmin[] = {0x30, 0x82, 0x00, 0x03,
					 0x02, 0x01, 0x00};
	ck_assert_int_eq(pt_legacy_certs_view(nonmin, sizeof nonmin, &v, NULL),
			 PT_ERR_MALFORMED);
	static const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
	ck_assert_int_eq(pt_legacy_certs_view(indefinite, 4, &v, NULL),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_legacy_certs_view((const uint8_t *)"foobar", 6,
					      &v, NULL),
			 PT_ERR_MALFORMED);
	Pt__Certificate *c = NULL;
	ck_assert_int_eq(pt_legacy_certs_record((const uint8_t *)"foobar", 6,
						&c),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(c);
	free(der);
}
END_TEST

START_TEST(issuer_check)
{
	pt_legacy_issuers_t *s = issuers();
	size_t len, idx = 99;
	uint8_t *d;

	/* SHA-1, SHA-256 and SHA-512 RSA signatures and an ECDSA one. */
	const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha512()};
	for (size_t i = 0; i < 3; i++) {
		d = lsc(rsa_ca, rsa_ca_key, mds[i], 10 + (long)i, &len);
		ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, &idx),
				 PT_OK);
		ck_assert_uint_eq(idx, 0);
		free(d);
	}
	d = lsc(ec_ca, ec_ca_key, EVP_sha384(), 20, &len);
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, &idx), PT_OK);
	ck_assert_uint_eq(idx, 1);
	free(d);

	/* The rogue CA has the first CA's name but not its key. */
	d = lsc(rogue_ca, rogue_key, EVP_sha256(), 30, &len);
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, &idx),
			 PT_ERR_NOT_FOUND);
	free(d);

	/* A right signature under another name is not enough either. */
	X509 *x = fx_cert("SEP001122334455", phone_key, rogue_ca, rsa_ca_key,
			  EVP_sha256(), 0, 31);
	X509_NAME *other = fx_name("CAPF-99999999");
	ck_assert(X509_set_issuer_name(x, other));
	ck_assert(X509_sign(x, rsa_ca_key, EVP_sha256()) > 0);
	X509_NAME_free(other);
	d = fx_der(x, &len);
	X509_free(x);
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, NULL),
			 PT_ERR_NOT_FOUND);
	free(d);

	/* A changed byte inside the signed part breaks the signature. */
	d = lsc(rsa_ca, rsa_ca_key, EVP_sha256(), 40, &len);
	pt_legacy_x509_view_t v;
	ck_assert_int_eq(pt_legacy_certs_view(d, len, &v, NULL), PT_OK);
	size_t at = (size_t)(v.spki - d) + v.spki_len - 3;
	d[at] ^= 0x01;
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, NULL),
			 PT_ERR_NOT_FOUND);
	d[at] ^= 0x01;
	d[len - 1] ^= 0x01; /* the signature itself */
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, NULL),
			 PT_ERR_NOT_FOUND);
	free(d);

	ck_assert_int_eq(pt_legacy_issuers_check(s, (const uint8_t *)"x", 1,
						 NULL),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_legacy_issuers_put(s, (const uint8_t *)"x", 1,
					       NULL),
			 PT_ERR_MALFORMED);
	pt_legacy_issuers_destroy(&s);
	ck_assert_ptr_null(s);
	pt_legacy_issuers_destroy(NULL);
}
END_TEST

/* The same name spelt with other string types and case still matches
 * (RFC 5280 comparison, as OpenSSL's X509_NAME_cmp does it). */
START_TEST(issuer_names_compare_canonically)
{
	pt_legacy_issuers_t *s = issuers();
	X509 *x = fx_cert("SEP001122334455", phone_key, rsa_ca, rsa_ca_key,
			  EVP_sha256(), 0, 50);
	X509_NAME *n = X509_NAME_new();
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_PRINTABLESTRING,
					     (const unsigned char *)"capf-1111AAAA",
					     -1, -1, 0));
	ck_assert(X509_NAME_add_entry_by_txt(n, "O", V_ASN1_PRINTABLESTRING,
					     (const unsigned char *)"Example  corp",
					     -1, -1, 0));
	ck_assert(X509_set_issuer_name(x, n));
	ck_assert(X509_sign(x, rsa_ca_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	size_t len, idx = 99;
	uint8_t *d = fx_der(x, &len);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(x),
				       X509_get_subject_name(rsa_ca)),
			 0);
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, &idx), PT_OK);
	ck_assert_uint_eq(idx, 0);
	free(d);
	X509_free(x);
	pt_legacy_issuers_destroy(&s);
}
END_TEST

/* RSA-PSS takes OpenSSL's general path, with the same verdicts. */
START_TEST(issuer_check_rsa_pss)
{
	pt_legacy_issuers_t *s = issuers();
	X509 *x = fx_cert("SEP001122334455", phone_key, rsa_ca, rsa_ca_key,
			  EVP_sha256(), 0, 60);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	ck_assert(EVP_DigestSignInit(m, &pc, EVP_sha256(), NULL, rsa_ca_key));
	ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING));
	ck_assert(X509_sign_ctx(x, m) > 0);
	EVP_MD_CTX_free(m);
	size_t len;
	uint8_t *d = fx_der(x, &len);
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, NULL), PT_OK);
	d[len - 1] ^= 1;
	ck_assert_int_eq(pt_legacy_issuers_check(s, d, len, NULL),
			 PT_ERR_NOT_FOUND);
	free(d);
	X509_free(x);
	pt_legacy_issuers_destroy(&s);
}
END_TEST

typedef struct job {
	const pt_legacy_issuers_t *s;
	uint8_t *good, *bad;
	size_t good_len, bad_len;
	int wrong;
} job_t;

static void *checker(void *arg)
{
	job_t *j = arg;
	for (int i = 0; i < 300; i++) {
		size_t idx = 9;
		if (pt_legacy_issuers_check(j->s, j->good, j->good_len, &idx) !=
			    PT_OK ||
		    idx != 0)
			j->wrong++;
		if (pt_legacy_issuers_check(j->s, j->bad, j->bad_len, NULL) !=
		    PT_ERR_NOT_FOUND)
			j->wrong++;
	}
	return NULL;
}

START_TEST(issuer_check_from_several_threads)
{
	pt_legacy_issuers_t *s = issuers();
	job_t j[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		memset(&j[i], 0, sizeof j[i]);
		j[i].s = s;
		j[i].good = lsc(rsa_ca, rsa_ca_key, EVP_sha256(), 70 + i,
				&j[i].good_len);
		j[i].bad = lsc(rogue_ca, rogue_key, EVP_sha256(), 80 + i,
			       &j[i].bad_len);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, checker, &j[i]), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(j[i].wrong, 0);
		free(j[i].good);
		free(j[i].bad);
	}
	pt_legacy_issuers_destroy(&s);
}
END_TEST

static char *pem_of(X509 *x)
{
	char *p = NULL;
	size_t n;
	ck_assert_int_eq(pt_certs_encode_pem(x, &p, &n), PT_OK);
	return p;
}

START_TEST(pem_files)
{
	char *a = pem_of(rsa_ca), *b = pem_of(ec_ca);
	/* Text around blocks, a key block (ignored), a broken block and an
	 * "X509 CERTIFICATE" block. */
	char *bx = strdup(b);
	char *body = strstr(bx, "\n") + 1;
	char *x509 = fx_fmt("-----BEGIN X509 CERTIFICATE-----\n%.*s"
			    "-----END X509 CERTIFICATE-----\n",
			    (int)(strstr(body, "-----END") - body), body);
	char *text = fx_fmt("subject=CN=CAPF\r\n%s\r\n-----BEGIN PRIVATE KEY-----"
			    "\nAAAA\n-----END PRIVATE KEY-----\n%s"
			    "-----BEGIN CERTIFICATE-----\nnot base64!\n"
			    "-----END CERTIFICATE-----\n%s"
			    "-----BEGIN CERTIFICATE-----\nMIIB\n",
			    a, b, x509);
	pt_legacy_certs_t *c = NULL;
	ck_assert_int_eq(pt_legacy_certs_parse_pem(text, strlen(text), &c),
			 PT_OK);
	ck_assert_uint_eq(c->n, 5);
	ck_assert_int_eq(c->certs[0].err, PT_OK);
	ck_assert_uint_eq(c->certs[0].line, 2);
	ck_assert(c->certs[0].is_ca);
	ck_assert_ptr_nonnull(strstr(c->certs[0].subject, "CN=CAPF-1111aaaa"));
	size_t len;
	uint8_t *der = fx_der(rsa_ca, &len);
	uint8_t sha[32];
	ck_assert_uint_eq(c->certs[0].der_len, len);
	ck_assert_mem_eq(c->certs[0].der, der, len);
	SHA1(der, len, sha);
	ck_assert_mem_eq(c->certs[0].sha1, sha, 20);
	SHA256(der, len, sha);
	ck_assert_mem_eq(c->certs[0].sha256, sha, 32);
	free(der);
	ck_assert_int_eq(c->certs[1].err, PT_OK);
	ck_assert_ptr_nonnull(strstr(c->certs[1].subject, "CAPF-2222bbbb"));
	ck_assert_int_ne(c->certs[2].err, PT_OK);
	ck_assert_ptr_nonnull(c->certs[2].why);
	ck_assert_ptr_null(c->certs[2].der);
	ck_assert_int_eq(c->certs[3].err, PT_OK);
	ck_assert_int_ne(c->certs[4].err, PT_OK); /* no END line */
	pt_legacy_certs_destroy(&c);
	ck_assert_ptr_null(c);
	pt_legacy_certs_destroy(NULL);

	/* An LSC is read too, and says it is not a CA. */
	X509 *l = fx_cert("SEP001122334455", phone_key, rsa_ca, rsa_ca_key,
			  EVP_sha256(), 0, 5);
	char *lp = pem_of(l);
	ck_assert_int_eq(pt_legacy_certs_parse_pem(lp, strlen(lp), &c), PT_OK);
	ck_assert_uint_eq(c->n, 1);
	ck_assert(!c->certs[0].is_ca);
	pt_legacy_certs_destroy(&c);
	free(lp);
	X509_free(l);

	/* No block at all; too many blocks; too large. */
	ck_assert_int_eq(pt_legacy_certs_parse_pem("hello\n", 6, &c), PT_OK);
	ck_assert_uint_eq(c->n, 0);
	pt_legacy_certs_destroy(&c);
	size_t cap = strlen(a) * (PT_LEGACY_CERTS_PER_FILE_MAX + 1) + 1;
	char *many = malloc(cap);
	many[0] = '\0';
	for (unsigned i = 0; i <= PT_LEGACY_CERTS_PER_FILE_MAX; i++)
		strcat(many, a);
	ck_assert_int_eq(pt_legacy_certs_parse_pem(many, strlen(many), &c),
			 PT_ERR_TOO_LARGE);
	ck_assert_ptr_null(c);
	free(many);
	ck_assert_int_eq(pt_legacy_certs_parse_pem(
				 a, PT_LEGACY_CERTS_FILE_MAX + 1, &c),
			 PT_ERR_TOO_LARGE);
	free(text);
	free(x509);
	free(bx);
	free(a);
	free(b);
}
END_TEST

START_TEST(der_file)
{
	size_t len;
	uint8_t *der = fx_der(ec_ca, &len);
	pt_legacy_certs_t *c = NULL;
	ck_assert_int_eq(pt_legacy_certs_parse_der(der, len, &c), PT_OK);
	ck_assert_uint_eq(c->n, 1);
	ck_assert_int_eq(c->certs[0].err, PT_OK);
	ck_assert_uint_eq(c->certs[0].line, 0);
	ck_assert(c->certs[0].is_ca);
	pt_legacy_certs_destroy(&c);
	uint8_t *more = malloc(len + 2);
	memcpy(more, der, len);
	more[len] = more[len + 1] = 0;
	ck_assert_int_eq(pt_legacy_certs_parse_der(more, len + 2, &c), PT_OK);
	ck_assert_int_eq(c->certs[0].err, PT_ERR_TRAILING);
	pt_legacy_certs_destroy(&c);
	ck_assert_int_eq(pt_legacy_certs_parse_der(der, len - 1, &c), PT_OK);
	ck_assert_int_ne(c->certs[0].err, PT_OK);
	ck_assert_ptr_nonnull(c->certs[0].why);
	pt_legacy_certs_destroy(&c);
	free(more);
	free(der);
}
END_TEST

Suite *legacy_certs_suite(void);
Suite *legacy_certs_suite(void)
{
	Suite *s = suite_create("legacy_certs");
	TCase *tc = tcase_create("certs");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, strict_base64);
	tcase_add_test(tc, view_and_record_match_openssl);
	tcase_add_test(tc, view_refuses_what_is_not_a_certificate);
	tcase_add_test(tc, issuer_check);
	tcase_add_test(tc, issuer_names_compare_canonically);
	tcase_add_test(tc, issuer_check_rsa_pss);
	tcase_add_test(tc, issuer_check_from_several_threads);
	tcase_add_test(tc, pem_files);
	tcase_add_test(tc, der_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(legacy_certs_suite());
}
