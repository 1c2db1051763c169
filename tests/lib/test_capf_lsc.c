/* The LSC profile of spec §9 field by field, the phone-key decoder, and
 * the offline-CA request round trip through the real `openssl x509 -req
 * -force_pubkey` (and `openssl req -verify`, `openssl x509 -text`). */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/capf_lsc.h"
#include "lib/capf_msg.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testcert.h"

#define DEV "SEP001122334455"
#define OPENSSL "/usr/bin/openssl"

/* RSA generation is the slow part: one key of each kind per suite. */
static EVP_PKEY *rsa_capf, *ec_capf, *rsa_phone, *ec_phone;
static X509 *rsa_capf_cert, *ec_capf_cert;

static void keys_setup(void)
{
	pt_cert_opts_t o = {.org = "Example", .org_unit = "Voice"};
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rsa_capf), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ec_capf), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rsa_phone), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ec_phone), PT_OK);
	ck_assert_int_eq(pt_certs_build_capf(rsa_capf, &o, &rsa_capf_cert),
			 PT_OK);
	ck_assert_int_eq(pt_certs_build_capf(ec_capf, NULL, &ec_capf_cert),
			 PT_OK);
}

static void keys_teardown(void)
{
	EVP_PKEY_free(rsa_capf);
	EVP_PKEY_free(ec_capf);
	EVP_PKEY_free(rsa_phone);
	EVP_PKEY_free(ec_phone);
	X509_free(rsa_capf_cert);
	X509_free(ec_capf_cert);
}

static X509 *issue(EVP_PKEY *ik, X509 *ic, EVP_PKEY *phone, int64_t now,
		   unsigned days)
{
	pt_capf_lsc_req_t req = {.name = DEV, .key = phone, .now = now,
				 .days = days};
	X509 *x = NULL;
	ck_assert_int_eq(pt_capf_lsc_build(ik, ic, &req, &x), PT_OK);
	ck_assert_ptr_nonnull(x);
	return x;
}

/* The LSC's key as a verifier sees it: the certificate decoded from its
 * DER (the builder leaves the key undecoded in the object it hands out),
 * and its SubjectPublicKeyInfo byte for byte what OpenSSL itself would
 * encode for phone. */
static void expect_key(X509 *x, EVP_PKEY *phone)
{
	uint8_t *der = NULL;
	size_t len = 0;
	X509 *back = NULL;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_decode_der(der, len, &back), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(back), phone), 1);
	unsigned char *want = NULL, *got = NULL;
	int wn = i2d_PUBKEY(phone, &want);
	int gn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
	ck_assert_int_gt(wn, 0);
	ck_assert_int_eq(gn, wn);
	ck_assert(memcmp(want, got, (size_t)wn) == 0);
	OPENSSL_free(want);
	OPENSSL_free(got);
	X509_free(back);
	free(der);
}

static char *entry_text(const X509_NAME *n, int i, int *nid)
{
	const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
	unsigned char *s = NULL;
	*nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
	ck_assert_int_ge(ASN1_STRING_to_UTF8(&s, X509_NAME_ENTRY_get_data(e)),
			 0);
	char *copy = strdup((char *)s);
	OPENSSL_free(s);
	return copy;
}

static void expect_name(const X509_NAME *n, const int *nids,
			const char *const *values, int count)
{
	ck_assert_int_eq(X509_NAME_entry_count(n), count);
	for (int i = 0; i < count; i++) {
		int nid;
		char *v = entry_text(n, i, &nid);
		ck_assert_int_eq(nid, nids[i]);
		ck_assert_str_eq(v, values[i]);
		free(v);
	}
}

static int64_t asn1_seconds(const ASN1_TIME *t)
{
	struct tm tm;
	ck_assert(ASN1_TIME_to_tm(t, &tm));
	return (int64_t)timegm(&tm);
}

/* Every extension and nothing else, in §9's order. */
static void expect_extensions(X509 *x, const char *name)
{
	static const int order[] = {NID_basic_constraints, NID_key_usage,
				    NID_ext_key_usage, NID_subject_alt_name};
	static const int critical[] = {1, 1, 0, 0};
	ck_assert_int_eq(X509_get_ext_count(x), 4);
	for (int i = 0; i < 4; i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		ck_assert_int_eq(OBJ_obj2nid(X509_EXTENSION_get_object(e)),
				 order[i]);
		ck_assert_int_eq(X509_EXTENSION_get_critical(e), critical[i]);
	}
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints,
						 NULL, NULL);
	ck_assert_ptr_nonnull(bc);
	ck_assert_int_eq(bc->ca, 0);
	ck_assert_ptr_null(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);

	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	ck_assert_ptr_nonnull(ku);
	for (int bit = 0; bit < 9; bit++)
		ck_assert_int_eq(ASN1_BIT_STRING_get_bit(ku, bit),
				 bit == 0 || bit == 2);
	ASN1_BIT_STRING_free(ku);

	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL,
						   NULL);
	ck_assert_ptr_nonnull(eku);
	ck_assert_int_eq(sk_ASN1_OBJECT_num(eku), 3);
	ck_assert_int_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)),
			 NID_server_auth);
	ck_assert_int_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 1)),
			 NID_client_auth);
	ck_assert_int_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 2)),
			 NID_ipsecEndSystem);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);

	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
					      NULL);
	ck_assert_ptr_nonnull(san);
	ck_assert_int_eq(sk_GENERAL_NAME_num(san), 1);
	GENERAL_NAME *g = sk_GENERAL_NAME_value(san, 0);
	ck_assert_int_eq(g->type, GEN_URI);
	ck_assert_int_eq(ASN1_STRING_length(g->d.uniformResourceIdentifier),
			 (int)strlen(name));
	ck_assert(memcmp(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
			 name, strlen(name)) == 0);
	GENERAL_NAMES_free(san);
}

START_TEST(lsc_rsa_issuer_every_field)
{
	int64_t now = (int64_t)time(NULL) - 5;
	X509 *x = issue(rsa_capf, rsa_capf_cert, ec_phone, now, 365);

	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	ck_assert_ptr_nonnull(bn);
	ck_assert(!BN_is_negative(bn) && !BN_is_zero(bn));
	ck_assert_int_le(BN_num_bytes(bn), 16);
	/* 16 random bytes: fewer than 13 significant ones is a 2^-32
	 * event, so this fails for a short serial, not by bad luck. */
	ck_assert_int_ge(BN_num_bytes(bn), 13);
	BN_free(bn);

	ck_assert_int_eq(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(x),
				       X509_get_subject_name(rsa_capf_cert)),
			 0);
	/* CAPF's subject is O, OU, CN: the LSC's is CN, O, OU. */
	static const int nids[] = {NID_commonName, NID_organizationName,
				   NID_organizationalUnitName};
	static const char *const vals[] = {DEV, "Example", "Voice"};
	expect_name(X509_get_subject_name(x), nids, vals, 3);

	ck_assert_int_eq(asn1_seconds(X509_get0_notBefore(x)), now);
	ck_assert_int_eq(asn1_seconds(X509_get0_notAfter(x)),
			 now + 365 * 86400);
	expect_key(x, ec_phone);
	expect_extensions(x, DEV);
	ck_assert_int_lt(X509_get_ext_by_NID(x, NID_subject_key_identifier, -1),
			 0);
	ck_assert_int_lt(X509_get_ext_by_NID(x, NID_authority_key_identifier,
					     -1),
			 0);
	ck_assert_int_eq(X509_verify(x, rsa_capf), 1);
	ck_assert_int_ne(X509_verify(x, ec_capf), 1);

	/* A second certificate draws another serial. */
	X509 *y = issue(rsa_capf, rsa_capf_cert, ec_phone, now, 365);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
					  X509_get0_serialNumber(y)),
			 0);
	X509_free(y);
	X509_free(x);
}
END_TEST

START_TEST(lsc_ec_issuer_rsa_phone)
{
	int64_t now = 1700000000;
	X509 *x = issue(ec_capf, ec_capf_cert, rsa_phone, now, 1);
	ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	ck_assert_int_eq(X509_verify(x, ec_capf), 1);
	expect_key(x, rsa_phone);
	static const int nids[] = {NID_commonName};
	static const char *const vals[] = {DEV};
	expect_name(X509_get_subject_name(x), nids, vals, 1);
	ck_assert_int_eq(asn1_seconds(X509_get0_notAfter(x)), now + 86400);
	expect_extensions(x, DEV);
	X509_free(x);
}
END_TEST

/* An intermediate issuer (issuer != subject): the LSC names the
 * intermediate's subject (A8), and takes O/OU/L/ST/C in their order,
 * dropping other attributes. */
START_TEST(lsc_intermediate_issuer_names)
{
	static const char *const root_attrs[] = {"CN=Root", NULL};
	static const uint8_t one[] = {1};
	X509 *root = pt_testcert_names(rsa_phone, root_attrs, one, 1);
	X509 *mid = X509_new();
	X509_NAME *n = X509_NAME_new();
	static const char *const attrs[][2] = {
		{"C", "NZ"}, {"ST", "Otago"}, {"DC", "example"},
		{"L", "Dunedin"}, {"O", "Example"}, {"OU", "Voice"},
		{"OU", "Phones"}, {"CN", "CAPF-intermediate"},
		{"emailAddress", "pki@example.com"}};
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
		ck_assert(X509_NAME_add_entry_by_txt(
			n, attrs[i][0], MBSTRING_UTF8,
			(const unsigned char *)attrs[i][1], -1, -1, 0));
	ck_assert(X509_set_version(mid, X509_VERSION_3));
	ASN1_INTEGER_set(X509_get_serialNumber(mid), 7);
	ck_assert(X509_set_subject_name(mid, n));
	ck_assert(X509_set_issuer_name(mid, X509_get_subject_name(root)));
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(mid), 0));
	ck_assert(X509_gmtime_adj(X509_getm_notAfter(mid), 86400));
	ck_assert(X509_set_pubkey(mid, ec_capf));
	ck_assert(X509_sign(mid, rsa_phone, EVP_sha256()) > 0);

	X509 *x = issue(ec_capf, mid, ec_phone, 1700000000, 30);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(x), n), 0);
	ck_assert_int_ne(X509_NAME_cmp(X509_get_issuer_name(x),
				       X509_get_subject_name(root)),
			 0);
	static const int nids[] = {
		NID_commonName,         NID_countryName,
		NID_stateOrProvinceName, NID_localityName,
		NID_organizationName,   NID_organizationalUnitName,
		NID_organizationalUnitName};
	static const char *const vals[] = {DEV,       "NZ",      "Otago",
					   "Dunedin", "Example", "Voice",
					   "Phones"};
	expect_name(X509_get_subject_name(x), nids, vals, 7);
	X509_free(x);
	X509_NAME_free(n);
	X509_free(mid);
	X509_free(root);
}
END_TEST

START_TEST(lsc_refusals)
{
	X509 *x = NULL;
	pt_capf_lsc_req_t req = {.name = DEV, .key = ec_phone, .now = 1,
				 .days = 365};
	/* Key that does not belong to the issuing certificate. */
	ck_assert_int_eq(pt_capf_lsc_build(ec_capf, rsa_capf_cert, &req, &x),
			 PT_ERR_INVALID);
	req.days = 0;
	ck_assert_int_eq(pt_capf_lsc_build(rsa_capf, rsa_capf_cert, &req, &x),
			 PT_ERR_INVALID);
	req.days = PT_CAPF_LSC_DAYS_MAX + 1;
	ck_assert_int_eq(pt_capf_lsc_build(rsa_capf, rsa_capf_cert, &req, &x),
			 PT_ERR_INVALID);
	req.days = PT_CAPF_LSC_DAYS_MAX;
	static const char *const bad_names[] = {
		"", "SEP00112233445/", "a b", "SEP\xc3\xa9",
		"0123456789012345678901234567890123456789012345678901234567890"
		"1234"};
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		req.name = bad_names[i];
		ck_assert_int_eq(pt_capf_lsc_build(rsa_capf, rsa_capf_cert,
						   &req, &x),
				 PT_ERR_INVALID);
	}
	req.name = "app.user_1-x";
	ck_assert_int_eq(pt_capf_lsc_build(rsa_capf, rsa_capf_cert, &req, &x),
			 PT_OK);
	expect_extensions(x, "app.user_1-x");
	X509_free(x);
	x = NULL;
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	req.key = ed;
	ck_assert_int_eq(pt_capf_lsc_build(rsa_capf, rsa_capf_cert, &req, &x),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(x);
	EVP_PKEY_free(ed);
}
END_TEST

static uint8_t *der_of(EVP_PKEY *k, size_t *len, int pkcs1)
{
	unsigned char *der = NULL;
	int n = pkcs1 ? i2d_PublicKey(k, &der) : i2d_PUBKEY(k, &der);
	ck_assert_int_gt(n, 0);
	uint8_t *copy = malloc((size_t)n + 1);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return copy;
}

START_TEST(decode_phone_keys)
{
	EVP_PKEY *k = NULL;
	size_t len;
	int is_ec;
	unsigned bits;

	uint8_t *spki = der_of(rsa_phone, &len, 0);
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len, &k), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, rsa_phone), 1);
	ck_assert_int_eq(pt_capf_lsc_key_info(k, &is_ec, &bits), PT_OK);
	ck_assert(!is_ec && bits == 2048);
	EVP_PKEY_free(k);
	spki[len] = 0;
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len + 1, &k),
			 PT_ERR_TRAILING);
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len - 1, &k),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(k);
	free(spki);

	/* A bare PKCS#1 RSAPublicKey (spec §4.1 tag 9). */
	uint8_t *pkcs1 = der_of(rsa_phone, &len, 1);
	ck_assert_int_eq(pt_capf_lsc_decode_key(pkcs1, len, &k), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, rsa_phone), 1);
	EVP_PKEY_free(k);
	free(pkcs1);

	spki = der_of(ec_phone, &len, 0);
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len, &k), PT_OK);
	ck_assert_int_eq(pt_capf_lsc_key_info(k, &is_ec, &bits), PT_OK);
	ck_assert(is_ec && bits == 256);
	uint8_t h1[32], h2[32];
	ck_assert_int_eq(pt_capf_lsc_key_sha256(k, h1), PT_OK);
	ck_assert_int_eq(pt_capf_lsc_key_sha256(ec_phone, h2), PT_OK);
	ck_assert(memcmp(h1, h2, 32) == 0);
	EVP_PKEY_free(k);
	free(spki);

	static const char *const curves[] = {"P-384", "P-521"};
	static const unsigned curve_bits[] = {384, 521};
	for (int i = 0; i < 2; i++) {
		EVP_PKEY *c = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		spki = der_of(c, &len, 0);
		ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len, &k), PT_OK);
		ck_assert_int_eq(pt_capf_lsc_key_info(k, &is_ec, &bits), PT_OK);
		ck_assert_uint_eq(bits, curve_bits[i]);
		EVP_PKEY_free(k);
		EVP_PKEY_free(c);
		free(spki);
	}

	/* Not a curve the protocol can ask for, not RSA or EC. */
	EVP_PKEY *p224 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	spki = der_of(p224, &len, 0);
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len, &k),
			 PT_ERR_UNSUPPORTED);
	free(spki);
	spki = der_of(ed, &len, 0);
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len, &k),
			 PT_ERR_UNSUPPORTED);
	free(spki);
	EVP_PKEY_free(p224);
	EVP_PKEY_free(ed);

	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	ck_assert_int_eq(pt_capf_lsc_decode_key(junk, sizeof junk, &k),
			 PT_ERR_MALFORMED);
	uint8_t *big = calloc(1, PT_CAPF_LSC_KEY_DER_MAX + 1);
	ck_assert_int_eq(pt_capf_lsc_decode_key(big, PT_CAPF_LSC_KEY_DER_MAX + 1,
						&k),
			 PT_ERR_TOO_LARGE);
	free(big);
	ck_assert_int_eq(pt_capf_lsc_decode_key(NULL, 0, &k), PT_ERR_MALFORMED);
}
END_TEST

/* A compressed EC point stays as the phone sent it: the LSC holds
 * exactly the phone's key. */
/* The server's fast reader and OpenSSL's decoder agree: the same key for
 * every form a phone sends, the same verdict for the rest. */
static void agree(const uint8_t *der, size_t len, int want)
{
	EVP_PKEY *fast = NULL, *slow = NULL;
	int rf = pt_capf_lsc_decode_public(der, len, &fast);
	int rs = pt_capf_public_key_decode(der, len, &slow);
	ck_assert_int_eq(rf, want);
	ck_assert_int_eq(rs, want);
	if (want == PT_OK) {
		ck_assert_int_eq(EVP_PKEY_eq(fast, slow), 1);
		/* And the LSC's key bytes are OpenSSL's for that key. */
		uint8_t *spki = NULL;
		size_t n = 0;
		unsigned char *ref = NULL;
		int rn = i2d_PUBKEY(slow, &ref);
		ck_assert_int_eq(pt_capf_lsc_key_spki(fast, &spki, &n), PT_OK);
		ck_assert_int_eq((int)n, rn);
		ck_assert(memcmp(spki, ref, n) == 0);
		free(spki);
		OPENSSL_free(ref);
	}
	EVP_PKEY_free(fast);
	EVP_PKEY_free(slow);
}

START_TEST(fast_decode_agrees)
{
	static const char *const curves[] = {"P-256", "P-384", "P-521"};
	size_t len;
	uint8_t *der;
	for (int i = 0; i < 3; i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		der = der_of(k, &len, 0);
		agree(der, len, PT_OK);
		/* A point off the curve: refused by both. */
		der[len - 1] ^= 0x01;
		agree(der, len, PT_ERR_MALFORMED);
		free(der);
		ck_assert(EVP_PKEY_set_utf8_string_param(
			k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			"compressed"));
		der = der_of(k, &len, 0);
		agree(der, len, PT_OK);
		free(der);
		EVP_PKEY_free(k);
	}
	der = der_of(rsa_phone, &len, 0);
	agree(der, len, PT_OK);
	/* A byte more: trailing, refused. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	agree(longer, len + 1, PT_ERR_MALFORMED);
	free(longer);
	/* Cut short. */
	agree(der, len - 1, PT_ERR_MALFORMED);
	free(der);
	der = der_of(rsa_phone, &len, 1);
	agree(der, len, PT_OK);
	free(der);
	/* A non-minimal length (0x81 0x0d for 13): not DER, left to the
	 * decoder, which has the last word either way. */
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	der = der_of(k, &len, 0);
	uint8_t *odd = malloc(len + 1);
	odd[0] = der[0];
	odd[1] = 0x81;
	odd[2] = der[1];
	memcpy(odd + 3, der + 2, len - 2);
	EVP_PKEY *a = NULL, *b = NULL;
	int ra = pt_capf_lsc_decode_public(odd, len + 1, &a);
	int rb = pt_capf_public_key_decode(odd, len + 1, &b);
	ck_assert_int_eq(ra, rb);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	free(odd);
	free(der);
	EVP_PKEY_free(k);
	/* Not a key at all. */
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	agree(junk, sizeof junk, PT_ERR_MALFORMED);
}
END_TEST

START_TEST(compressed_point_kept)
{
	EVP_PKEY *c = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert(EVP_PKEY_set_utf8_string_param(
		c, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"));
	size_t len;
	uint8_t *spki = der_of(c, &len, 0);
	ck_assert_uint_eq(len, 59); /* 26 + 33-byte compressed point */
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(pt_capf_lsc_decode_key(spki, len, &k), PT_OK);
	X509 *x = issue(rsa_capf, rsa_capf_cert, k, 1700000000, 10);
	unsigned char *got = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
	ck_assert_int_eq(n, (int)len);
	ck_assert(memcmp(got, spki, len) == 0);
	OPENSSL_free(got);
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(c);
	free(spki);
}
END_TEST

static char *tmp;

static void tmp_setup(void)
{
	keys_setup();
	tmp = pt_test_tmpdir();
}

static void tmp_teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	keys_teardown();
}

static char *path_in(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, name), 0);
	return p;
}

static void run_openssl(pt_run_t *r, int want, const char *const *args)
{
	char *argv[32] = {OPENSSL};
	int n = 1;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pt_test_runv(r, NULL, OPENSSL, argv);
	ck_assert_msg(r->status == want, "openssl %s: exit %d\n%s%s", argv[1],
		      r->status, r->out, r->err);
}

static void write_cert(const char *path, X509 *x)
{
	char *pem = NULL;
	size_t len;
	ck_assert_int_eq(pt_certs_encode_pem(x, &pem, &len), PT_OK);
	pt_test_write_file(path, pem);
	free(pem);
}

START_TEST(openssl_text_of_lsc)
{
	X509 *x = issue(rsa_capf, rsa_capf_cert, ec_phone,
			(int64_t)time(NULL), 365);
	char *f = path_in("lsc.pem");
	write_cert(f, x);
	pt_run_t r;
	run_openssl(&r, 0,
		    (const char *[]){"x509", "-in", f, "-noout", "-text", NULL});
	static const char *const want[] = {
		"Version: 3 (0x2)",
		"Signature Algorithm: sha256WithRSAEncryption",
		"Subject: CN = SEP001122334455, O = Example, OU = Voice",
		"X509v3 Basic Constraints: critical\n                CA:FALSE",
		"X509v3 Key Usage: critical\n                Digital "
		"Signature, Key Encipherment\n",
		"TLS Web Server Authentication, TLS Web Client Authentication, "
		"IPSec End System\n",
		"X509v3 Subject Alternative Name: \n                "
		"URI:SEP001122334455\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(r.out, want[i]), "missing '%s' in\n%s",
			      want[i], r.out);
	ck_assert_ptr_null(strstr(r.out, "Key Identifier"));
	pt_run_clear(&r);
	char *ca = path_in("capf.pem");
	write_cert(ca, rsa_capf_cert);
	run_openssl(&r, 0,
		    (const char *[]){"verify", "-CAfile", ca, f, NULL});
	pt_run_clear(&r);
	free(ca);
	free(f);
	X509_free(x);
}
END_TEST

static char *csr_pem_for(EVP_PKEY *phone, X509_REQ **keep)
{
	pt_capf_lsc_req_t req = {.name = DEV, .key = phone};
	X509_REQ *rq = NULL;
	char *pem = NULL;
	size_t len;
	ck_assert_int_eq(pt_capf_lsc_build_csr(rsa_capf, rsa_capf_cert, &req,
					       &rq),
			 PT_OK);
	ck_assert_int_eq(pt_capf_lsc_csr_pem(rq, &pem, &len), PT_OK);
	ck_assert_uint_eq(strlen(pem), len);
	if (keep)
		*keep = rq;
	else
		X509_REQ_free(rq);
	return pem;
}

START_TEST(csr_decode_round_trip)
{
	X509_REQ *rq = NULL;
	char *pem = csr_pem_for(ec_phone, &rq);
	free(pem);
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_capf_lsc_csr_der(rq, &der, &len), PT_OK);
	X509_REQ *back = NULL;
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(pt_capf_lsc_csr_decode(der, len, &back, &key), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(key, ec_phone), 1);
	/* The request's own key is CAPF's: it verifies as any CSR does. */
	ck_assert_int_eq(EVP_PKEY_eq(X509_REQ_get0_pubkey(back), rsa_capf), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_REQ_get_subject_name(back),
				       X509_REQ_get_subject_name(rq)),
			 0);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(back);
	ck_assert_int_eq(sk_X509_EXTENSION_num(exts), 4);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	EVP_PKEY_free(key);
	X509_REQ_free(back);

	/* A flipped byte in the signature, a trailing byte. */
	uint8_t *bad = malloc(len + 1);
	memcpy(bad, der, len);
	bad[len - 3] ^= 0x40;
	ck_assert_int_eq(pt_capf_lsc_csr_decode(bad, len, &back, &key),
			 PT_ERR_AUTH);
	memcpy(bad, der, len);
	bad[len] = 0;
	ck_assert_int_eq(pt_capf_lsc_csr_decode(bad, len + 1, &back, &key),
			 PT_ERR_TRAILING);
	ck_assert_int_eq(pt_capf_lsc_csr_decode(bad, 10, &back, &key),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(back);
	ck_assert_ptr_null(key);
	free(bad);
	free(der);

	/* An ordinary CSR without our attribute. */
	X509_REQ *plain = X509_REQ_new();
	X509_REQ_set_pubkey(plain, ec_phone);
	ck_assert(X509_REQ_sign(plain, ec_phone, EVP_sha256()) > 0);
	unsigned char *pd = NULL;
	int pn = i2d_X509_REQ(plain, &pd);
	ck_assert_int_eq(pt_capf_lsc_csr_decode(pd, (size_t)pn, &back, &key),
			 PT_ERR_NOT_FOUND);
	OPENSSL_free(pd);
	X509_REQ_free(plain);
	X509_REQ_free(rq);
}
END_TEST

/* The documented outside-CA step: `openssl x509 -req -force_pubkey`
 * with a CA made by openssl, then the import check. */
START_TEST(csr_signed_by_openssl_ca)
{
	char *csr = path_in(DEV ".csr"), *pub = path_in(DEV ".pub.pem");
	char *cakey = path_in("ca.key"), *ca = path_in("ca.pem");
	char *out = path_in(DEV ".pem"), *wrong = path_in("wrong.pem");
	char *pem = csr_pem_for(ec_phone, NULL);
	pt_test_write_file(csr, pem);
	free(pem);
	size_t len;
	ck_assert_int_eq(pt_capf_lsc_key_pem(ec_phone, &pem, &len), PT_OK);
	pt_test_write_file(pub, pem);
	free(pem);
	pt_run_t r;
	run_openssl(&r, 0, (const char *[]){"req", "-in", csr, "-noout",
					    "-verify", NULL});
	pt_run_clear(&r);
	run_openssl(&r, 0,
		    (const char *[]){"req", "-x509", "-newkey", "rsa:2048",
				     "-nodes", "-keyout", cakey, "-out", ca,
				     "-subj", "/O=Outside/CN=Offline CA",
				     "-days", "30", NULL});
	pt_run_clear(&r);
	run_openssl(&r, 0,
		    (const char *[]){"x509", "-req", "-in", csr, "-CA", ca,
				     "-CAkey", cakey, "-force_pubkey", pub,
				     "-copy_extensions", "copy", "-days", "20",
				     "-out", out, NULL});
	pt_run_clear(&r);
	run_openssl(&r, 0, (const char *[]){"x509", "-req", "-in", csr, "-CA",
					    ca, "-CAkey", cakey, "-days", "20",
					    "-out", wrong, NULL});
	pt_run_clear(&r);

	char *text = pt_test_read_file(out, &len);
	X509 *cert = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(text, len, &cert), PT_OK);
	free(text);
	const char *why = NULL;
	ck_assert_int_eq(pt_capf_lsc_check_signed(cert, DEV, ec_phone, &why),
			 PT_OK);
	ck_assert_ptr_null(why);
	/* The request's extensions were copied (openssl adds its key
	 * identifiers to them). */
	static const int copied[] = {NID_basic_constraints, NID_key_usage,
				     NID_ext_key_usage, NID_subject_alt_name};
	for (int i = 0; i < 4; i++)
		ck_assert_int_ge(X509_get_ext_by_NID(cert, copied[i], -1), 0);
	ck_assert_int_eq(pt_capf_lsc_check_signed(cert, "SEP00112233445A",
						  ec_phone, &why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "common name"));
	ck_assert_int_eq(pt_capf_lsc_check_signed(cert, DEV, rsa_phone, &why),
			 PT_ERR_INVALID);
	X509_free(cert);

	/* Signed without -force_pubkey: CAPF's key, refused. */
	text = pt_test_read_file(wrong, &len);
	ck_assert_int_eq(pt_certs_decode_pem(text, len, &cert), PT_OK);
	free(text);
	ck_assert_int_eq(pt_capf_lsc_check_signed(cert, DEV, ec_phone, &why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "force_pubkey"));
	X509_free(cert);
	free(csr);
	free(pub);
	free(cakey);
	free(ca);
	free(out);
	free(wrong);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_lsc");
	TCase *tc = tcase_create("lsc");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, lsc_rsa_issuer_every_field);
	tcase_add_test(tc, lsc_ec_issuer_rsa_phone);
	tcase_add_test(tc, lsc_intermediate_issuer_names);
	tcase_add_test(tc, lsc_refusals);
	tcase_add_test(tc, decode_phone_keys);
	tcase_add_test(tc, compressed_point_kept);
	tcase_add_test(tc, fast_decode_agrees);
	suite_add_tcase(s, tc);
	tc = tcase_create("openssl");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, openssl_text_of_lsc);
	tcase_add_test(tc, csr_decode_round_trip);
	tcase_add_test(tc, csr_signed_by_openssl_ca);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
