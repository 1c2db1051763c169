#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "store/records.h"

/* RSA generation is the slow part: share one key of each kind. */
static EVP_PKEY *rsa_key, *ec_key, *other_key;

static void keys_setup(void)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rsa_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ec_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &other_key), PT_OK);
}

static void keys_teardown(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(other_key);
	rsa_key = ec_key = other_key = NULL;
}

static char *subject_of(X509 *x)
{
	char *s = NULL;
	ck_assert_int_eq(pt_certs_subject(x, &s), PT_OK);
	return s;
}

static bool ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	ck_assert_msg(i >= 0, "extension %s missing", OBJ_nid2sn(nid));
	return X509_EXTENSION_get_critical(X509_get_ext(x, i)) != 0;
}

static bool has_ext(X509 *x, int nid)
{
	return X509_get_ext_by_NID(x, nid, -1) >= 0;
}

static Pt__Certificate *parse_cert(X509 *x)
{
	uint8_t *der = NULL;
	size_t len = 0;
	Pt__Certificate *c = NULL;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_parse(der, len, &c), PT_OK);
	free(der);
	return c;
}

/* Serial: positive, at most 16 bytes, non-zero. */
static void check_serial(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	ck_assert_ptr_nonnull(bn);
	ck_assert(!BN_is_negative(bn));
	ck_assert(!BN_is_zero(bn));
	ck_assert_int_le(BN_num_bytes(bn), 16);
	BN_free(bn);
}

START_TEST(service_certificate)
{
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_build_service(rsa_key, "pub1", "tftp", NULL,
						&x),
			 PT_OK);
	char *subject = subject_of(x);
	ck_assert_str_eq(subject, "CN=pub1-tftp");
	free(subject);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x),
				       X509_get_issuer_name(x)),
			 0);
	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	check_serial(x);

	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert(ext_critical(x, NID_basic_constraints));
	ck_assert(!(X509_get_extension_flags(x) & EXFLAG_CA));
	ck_assert_uint_eq(X509_get_key_usage(x),
			  KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	ck_assert_uint_eq(X509_get_extended_key_usage(x),
			  XKU_SSL_SERVER | XKU_SSL_CLIENT);
	ck_assert(has_ext(x, NID_subject_key_identifier));
	ck_assert_int_eq(X509_get_signature_nid(x),
			 NID_sha256WithRSAEncryption);

	ck_assert_int_eq(X509_verify(x, rsa_key), 1);
	ck_assert_int_ne(X509_verify(x, other_key), 1);

	Pt__Certificate *c = parse_cert(x);
	ck_assert_int_eq(c->not_after - c->not_before,
			 (int64_t)PT_CERT_DAYS_DEFAULT * 86400);
	time_t now = time(NULL);
	ck_assert_int_le(c->not_before, now);
	ck_assert_int_gt(c->not_before, now - 86400);
	pt_record_free(&c->base);
	X509_free(x);
}
END_TEST

START_TEST(service_certificate_ec_with_org)
{
	X509 *x = NULL, *y = NULL;
	pt_cert_opts_t opts = {.org = "Example Corp", .org_unit = "Voice",
			       .days = 30};
	ck_assert_int_eq(pt_certs_build_service(ec_key, "sub-2", "tvs", &opts,
						&x),
			 PT_OK);
	char *subject = subject_of(x);
	ck_assert_str_eq(subject, "CN=sub-2-tvs,OU=Voice,O=Example Corp");
	free(subject);
	ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	ck_assert_int_eq(X509_verify(x, ec_key), 1);
	ck_assert_int_ne(X509_verify(x, other_key), 1);
	Pt__Certificate *c = parse_cert(x);
	ck_assert_int_eq(c->not_after - c->not_before, 30 * 86400);
	pt_record_free(&c->base);

	/* Two certificates for the same subject never share a serial. */
	ck_assert_int_eq(pt_certs_build_service(ec_key, "sub-2", "tvs", &opts,
						&y),
			 PT_OK);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
					  X509_get0_serialNumber(y)),
			 0);
	X509_free(x);
	X509_free(y);
}
END_TEST

START_TEST(service_certificate_refusals)
{
	X509 *x = NULL;
	char name[64];
	memset(name, 'n', 60);
	name[60] = '\0';
	ck_assert_int_eq(pt_certs_build_service(ec_key, "n", "http", NULL, &x),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_certs_build_service(ec_key, name, "tftp", NULL,
						&x),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_certs_build_service(NULL, "n", "tftp", NULL, &x),
			 PT_ERR_INVALID);
	pt_cert_opts_t opts = {.days = PT_CERT_DAYS_MAX + 1};
	ck_assert_int_eq(pt_certs_build_service(ec_key, "n", "tftp", &opts,
						&x),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(x);
	/* 59 characters plus "-tftp" is the longest common name. */
	name[59] = '\0';
	ck_assert_int_eq(pt_certs_build_service(ec_key, name, "tftp", NULL,
						&x),
			 PT_OK);
	X509_free(x);
}
END_TEST

START_TEST(capf_certificate)
{
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_build_capf(rsa_key, NULL, &x), PT_OK);
	char *subject = subject_of(x);
	ck_assert_uint_eq(strlen(subject), strlen("CN=CAPF-") + 8);
	ck_assert(strncmp(subject, "CN=CAPF-", 8) == 0);
	for (size_t i = 8; i < 16; i++)
		ck_assert_msg(isxdigit((unsigned char)subject[i]) &&
				      !isupper((unsigned char)subject[i]),
			      "subject %s", subject);
	free(subject);
	check_serial(x);

	ck_assert_int_ge(X509_check_ca(x), 1);
	ck_assert(X509_get_extension_flags(x) & EXFLAG_CA);
	ck_assert_int_eq(X509_get_pathlen(x), 0);
	ck_assert(ext_critical(x, NID_basic_constraints));
	ck_assert(ext_critical(x, NID_key_usage));
	ck_assert_uint_eq(X509_get_key_usage(x),
			  KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert_int_eq(X509_get_signature_nid(x),
			 NID_sha256WithRSAEncryption);
	ck_assert_int_eq(X509_verify(x, rsa_key), 1);
	ck_assert_int_ne(X509_verify(x, other_key), 1);
	Pt__Certificate *c = parse_cert(x);
	ck_assert_int_eq(c->not_after - c->not_before, 1825 * 86400);
	pt_record_free(&c->base);
	X509_free(x);
}
END_TEST

START_TEST(itl_recovery_certificate)
{
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_build_itl_recovery(ec_key, "pub1", NULL, &x),
			 PT_OK);
	char *subject = subject_of(x);
	ck_assert_str_eq(subject, "CN=ITLRECOVERY_pub1");
	free(subject);
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert(ext_critical(x, NID_key_usage));
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	ck_assert_int_eq(X509_verify(x, ec_key), 1);
	ck_assert_int_ne(X509_verify(x, other_key), 1);
	X509_free(x);
	/* "ITLRECOVERY_" leaves room for 52 characters of node name. */
	char name[64];
	memset(name, 'p', 53);
	name[53] = '\0';
	ck_assert_int_eq(pt_certs_build_itl_recovery(ec_key, name, NULL, &x),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(ec384_key)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC384, &k), PT_OK);
	ck_assert_int_eq(EVP_PKEY_get_bits(k), 384);
	ck_assert_int_eq(pt_certs_build_service(k, "n", "tvs", NULL, &x),
			 PT_OK);
	ck_assert_int_eq(X509_verify(x, k), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	ck_assert_int_eq(EVP_PKEY_get_bits(rsa_key), 2048);
	ck_assert_int_eq(EVP_PKEY_get_base_id(rsa_key), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_base_id(ec_key), EVP_PKEY_EC);
	ck_assert_int_eq(pt_certs_new_key((pt_key_kind_t)9, &k),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(k);
}
END_TEST

START_TEST(key_kind_names)
{
	pt_key_kind_t k;
	ck_assert_int_eq(pt_certs_key_kind_parse("rsa2048", &k), PT_OK);
	ck_assert_int_eq(k, PT_KEY_RSA2048);
	ck_assert_int_eq(pt_certs_key_kind_parse("EC256", &k), PT_OK);
	ck_assert_int_eq(k, PT_KEY_EC256);
	ck_assert_int_eq(pt_certs_key_kind_parse("ec384", &k), PT_OK);
	ck_assert_int_eq(k, PT_KEY_EC384);
	ck_assert_int_eq(pt_certs_key_kind_parse("rsa1024", &k),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_certs_key_kind_parse(NULL, &k), PT_ERR_INVALID);
	ck_assert_str_eq(pt_certs_key_kind_name(PT_KEY_EC256), "ec256");
	ck_assert_str_eq(pt_certs_key_kind_name((pt_key_kind_t)7), "unknown");
}
END_TEST

START_TEST(reader_round_trip)
{
	X509 *x = NULL;
	pt_cert_opts_t opts = {.org = "Example"};
	ck_assert_int_eq(pt_certs_build_service(rsa_key, "pub1", "tvs", &opts,
						&x),
			 PT_OK);
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	Pt__Certificate *c = NULL;
	ck_assert_int_eq(pt_certs_parse(der, len, &c), PT_OK);

	ck_assert_uint_eq(c->der.len, len);
	ck_assert(memcmp(c->der.data, der, len) == 0);
	uint8_t sha[32];
	unsigned int n = 0;
	ck_assert(EVP_Digest(der, len, sha, &n, EVP_sha256(), NULL));
	ck_assert_uint_eq(c->sha256.len, 32);
	ck_assert(memcmp(c->sha256.data, sha, 32) == 0);
	ck_assert_str_eq(c->subject, "CN=pub1-tvs,O=Example");
	ck_assert_str_eq(c->issuer, "CN=pub1-tvs,O=Example");

	/* The serial as OpenSSL prints it, lower-cased, without leading
	 * zero bytes. */
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = BN_bn2hex(bn);
	for (char *p = hex; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *want = hex;
	if (strlen(want) % 2)
		ck_abort_msg("odd serial hex %s", hex);
	while (strncmp(want, "00", 2) == 0)
		want += 2;
	ck_assert_str_eq(c->serial, want);
	OPENSSL_free(hex);
	BN_free(bn);

	struct tm tm;
	ck_assert(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm));
	ck_assert_int_eq(c->not_after, (int64_t)timegm(&tm));
	ck_assert(ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm));
	ck_assert_int_eq(c->not_before, (int64_t)timegm(&tm));

	/* Decoded DER is the same certificate. */
	X509 *y = NULL;
	ck_assert_int_eq(pt_certs_decode_der(der, len, &y), PT_OK);
	ck_assert_int_eq(X509_cmp(x, y), 0);
	X509_free(y);
	pt_record_free(&c->base);
	free(der);
	X509_free(x);
}
END_TEST

START_TEST(reader_refuses_bad_der)
{
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_build_service(ec_key, "n", "tftp", NULL, &x),
			 PT_OK);
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	X509_free(x);
	Pt__Certificate *c = (Pt__Certificate *)&c; /* must be reset */

	/* Garbage. */
	uint8_t garbage[300];
	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	ck_assert_int_eq(pt_certs_parse(garbage, sizeof garbage, &c),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(pt_certs_parse(der, 0, &c), PT_ERR_MALFORMED);
	/* Truncated anywhere. */
	ck_assert_int_eq(pt_certs_parse(der, len - 1, &c), PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_certs_parse(der, len / 2, &c), PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_certs_parse(der, 4, &c), PT_ERR_MALFORMED);
	/* Trailing bytes after a whole certificate. */
	uint8_t *longer = malloc(len + 3);
	memcpy(longer, der, len);
	memcpy(longer + len, "\x00\x01\x02", 3);
	ck_assert_int_eq(pt_certs_parse(longer, len + 1, &c), PT_ERR_TRAILING);
	ck_assert_int_eq(pt_certs_parse(longer, len + 3, &c), PT_ERR_TRAILING);
	ck_assert_ptr_null(c);
	X509 *y = NULL;
	ck_assert_int_eq(pt_certs_decode_der(longer, len + 3, &y),
			 PT_ERR_TRAILING);
	ck_assert_ptr_null(y);
	free(longer);
	/* A declared length beyond the cap is refused before parsing. */
	uint8_t *huge = calloc(1, PT_CERT_DER_MAX + 1);
	memcpy(huge, der, len);
	ck_assert_int_eq(pt_certs_parse(huge, PT_CERT_DER_MAX + 1, &c),
			 PT_ERR_TOO_LARGE);
	free(huge);
	/* A corrupted length byte inside the certificate. */
	der[1] ^= 0x01;
	ck_assert_int_ne(pt_certs_parse(der, len, &c), PT_OK);
	ck_assert_ptr_null(c);
	free(der);
}
END_TEST

START_TEST(pem_round_trip)
{
	X509 *x = NULL, *y = NULL;
	EVP_PKEY *k = NULL;
	char *pem = NULL, *kpem = NULL;
	size_t len = 0, klen = 0;
	ck_assert_int_eq(pt_certs_build_capf(ec_key, NULL, &x), PT_OK);
	ck_assert_int_eq(pt_certs_encode_pem(x, &pem, &len), PT_OK);
	ck_assert_uint_eq(strlen(pem), len);
	ck_assert(strncmp(pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
	ck_assert_int_eq(pt_certs_decode_pem(pem, len, &y), PT_OK);
	ck_assert_int_eq(X509_cmp(x, y), 0);
	X509_free(y);
	y = NULL;

	ck_assert_int_eq(pt_certs_encode_key_pem(ec_key, &kpem, &klen), PT_OK);
	ck_assert(strncmp(kpem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	ck_assert_int_eq(pt_certs_decode_key_pem(kpem, klen, &k), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, ec_key), 1);
	ck_assert_int_eq(EVP_PKEY_eq(k, other_key), 0);
	EVP_PKEY_free(k);
	k = NULL;

	/* Two certificates where one is expected. */
	char *two = NULL;
	ck_assert_int_ge(asprintf(&two, "%s%s", pem, pem), 0);
	ck_assert_int_eq(pt_certs_decode_pem(two, strlen(two), &y),
			 PT_ERR_TRAILING);
	ck_assert_ptr_null(y);
	free(two);
	/* Not PEM at all, or a key where a certificate belongs. */
	ck_assert_int_eq(pt_certs_decode_pem("hello", 5, &y), PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_certs_decode_pem(kpem, klen, &y), PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_certs_decode_key_pem(pem, len, &k),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(k);

	/* An encrypted key is refused, not prompted for. */
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert(PEM_write_bio_PrivateKey(b, ec_key, EVP_aes_128_cbc(),
					   (unsigned char *)"passphrase", 10,
					   NULL, NULL));
	char *enc = NULL;
	long n = BIO_get_mem_data(b, &enc);
	ck_assert_int_eq(pt_certs_decode_key_pem(enc, (size_t)n, &k),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(k);
	BIO_free(b);

	free(pem);
	free(kpem);
	X509_free(x);
}
END_TEST

START_TEST(sha256_of_bytes)
{
	/* SHA-256("abc") from FIPS 180-2. */
	static const uint8_t want[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t out[32];
	ck_assert_int_eq(pt_certs_sha256((const uint8_t *)"abc", 3, out), PT_OK);
	ck_assert(memcmp(out, want, 32) == 0);
}
END_TEST

static Suite *certs_suite(void)
{
	Suite *s = suite_create("certs");
	TCase *tc = tcase_create("builders");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, service_certificate);
	tcase_add_test(tc, service_certificate_ec_with_org);
	tcase_add_test(tc, service_certificate_refusals);
	tcase_add_test(tc, capf_certificate);
	tcase_add_test(tc, itl_recovery_certificate);
	tcase_add_test(tc, ec384_key);
	tcase_add_test(tc, key_kind_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("reader");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, reader_round_trip);
	tcase_add_test(tc, reader_refuses_bad_der);
	tcase_add_test(tc, pem_round_trip);
	tcase_add_test(tc, sha256_of_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(certs_suite());
}
