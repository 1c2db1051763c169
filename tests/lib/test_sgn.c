#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certname.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "pt_test.h"

/* RSA generation is the slow part: one key of each size for the suite. */
static EVP_PKEY *rsa512, *rsa512b, *rsa1024, *rsa1536, *rsa2048, *rsa4096,
	*ec256;
static X509 *cert_a; /* CN=A, serial 1, rsa512: the spec's example signer */

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* A certificate for key with the given subject, issuer (NULL: the subject)
 * and serial (decimal or 0x hex), self-signed with SHA-256.  Whether the
 * issuer really signed it does not matter to signed files. */
static X509 *make_cert_names(EVP_PKEY *key, X509_NAME *subject,
			     X509_NAME *issuer, const char *serial)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ck_assert_ptr_nonnull(x);
	ck_assert(strncmp(serial, "0x", 2) == 0 ? BN_hex2bn(&bn, serial + 2)
						 : BN_dec2bn(&bn, serial));
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	ck_assert_ptr_nonnull(ai);
	ck_assert(X509_set_version(x, 2));
	ck_assert(X509_set_serialNumber(x, ai));
	ck_assert(X509_set_subject_name(x, subject));
	ck_assert(X509_set_issuer_name(x, issuer ? issuer : subject));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert(X509_set_pubkey(x, key));
	ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return x;
}

static X509_NAME *cn_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1,
					     0));
	return n;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *serial)
{
	X509_NAME *n = cn_name(cn);
	X509 *x = make_cert_names(key, n, NULL, serial);
	X509_NAME_free(n);
	return x;
}

static void keys_setup(void)
{
	rsa512 = rsa_key(512);
	rsa512b = rsa_key(512);
	rsa1024 = rsa_key(1024);
	rsa1536 = rsa_key(1536);
	rsa2048 = rsa_key(2048);
	rsa4096 = rsa_key(4096);
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(ec256);
	cert_a = make_cert(rsa512, "A", "1");
}

static void keys_teardown(void)
{
	EVP_PKEY_free(rsa512);
	EVP_PKEY_free(rsa512b);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa1536);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa4096);
	EVP_PKEY_free(ec256);
	X509_free(cert_a);
}

static const uint8_t softkeys[] = "<softKeyCfg/>\n";
#define SOFTKEYS_LEN 14

static uint8_t *build(const void *payload, size_t len, EVP_PKEY *key,
		      X509 *cert, pt_sgn_digest_t digest, const char *name,
		      size_t *out_len)
{
	pt_sgn_opts_t o = {digest, name, 0x65000000};
	uint8_t *out = NULL;
	ck_assert_int_eq(pt_sgn_build(payload, len, key, cert, &o, &out,
				      out_len),
			 PT_OK);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* Parse then strict verification: what every mutation must fail. */
static int parse_verify(const uint8_t *f, size_t len, X509 *cert,
			pt_sgn_diag_t *diag)
{
	pt_sgn_file_t sf;
	int r = pt_sgn_parse(f, len, &sf, diag);
	if (r == PT_OK)
		r = pt_sgn_verify(&sf, cert, diag);
	return r;
}

/* ---- the spec's constructed example (signed-files.md §8) ---- */

START_TEST(known_answer_softkeys)
{
	/* Every byte of the example but the 64 signature bytes, which come
	 * from a key the spec does not publish. */
	static const uint8_t want[162] = {
		0x01, 0x00, 0x02, 0x01, 0x00,		    /* 000 */
		0x02, 0x00, 0x02, 0x00, 0x94,		    /* 005 */
		0x03, 0x00, 0x14,			    /* 00A */
		0x04, 0x00, 0x05, 'C', 'N', '=', 'A', 0x00, /* 00D */
		0x06, 0x00, 0x05, 'C', 'N', '=', 'A', 0x00, /* 015 */
		0x05, 0x00, 0x01, 0x01,			    /* 01D */
		0x07, 0x00, 0x0F,			    /* 021 */
		0x08, 0x00, 0x01, 0x01,			    /* 024 */
		0x09, 0x00, 0x08,			    /* 028 */
		0x0A, 0x00, 0x01, 0x00,			    /* 02B */
		0x0B, 0x00, 0x01, 0x00,			    /* 02F */
		0x0C, 0x00, 0x40,			    /* 033 + 64 */
		[0x76] = 0x0E, 0x00, 0x11, 'S', 'o', 'f', 't', 'K', 'e', 'y',
		's', '.', 'x', 'm', 'l', '.', 's', 'g', 'n', 0x00,
		[0x8A] = 0x0F, 0x00, 0x04, 0x65, 0x00, 0x00, 0x00,
		[0x91] = 0x0D, 0x0D, 0x0D,
		[0x94] = 0x3C, 0x73, 0x6F, 0x66, 0x74, 0x4B, 0x65, 0x79, 0x43,
		0x66, 0x67, 0x2F, 0x3E, 0x0A,
	};
	size_t len = 0;
	uint8_t *f = build(softkeys, SOFTKEYS_LEN, rsa512, cert_a, PT_SGN_SHA1,
			   "SoftKeys.xml.sgn", &len);
	ck_assert_uint_eq(len, 162);
	ck_assert_mem_eq(f, want, 0x36);
	ck_assert_mem_eq(f + 0x76, want + 0x76, 162 - 0x76);

	/* The signature covers 0x000-0x032 and 0x076-0x0A1: check it
	 * independently of the library with the same two runs. */
	uint8_t signed_bytes[162 - 67];
	memcpy(signed_bytes, f, 0x33);
	memcpy(signed_bytes + 0x33, f + 0x76, 162 - 0x76);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	ck_assert(EVP_DigestVerifyInit(mc, NULL, EVP_sha1(), NULL, rsa512) ==
		  1);
	ck_assert_int_eq(EVP_DigestVerify(mc, f + 0x36, 64, signed_bytes,
					  sizeof signed_bytes),
			 1);
	EVP_MD_CTX_free(mc);

	pt_sgn_file_t sf;
	pt_sgn_diag_t d = {0};
	ck_assert_int_eq(pt_sgn_parse(f, len, &sf, &d), PT_OK);
	ck_assert_int_eq(pt_sgn_verify(&sf, cert_a, &d), PT_OK);
	ck_assert_uint_eq(sf.version, 1);
	ck_assert_uint_eq(sf.raw.header_len, 148);
	ck_assert_uint_eq(sf.raw.pad_count, 3);
	ck_assert_int_eq(sf.digest, PT_SGN_SHA1);
	ck_assert_str_eq(sf.signer, "CN=A");
	ck_assert_str_eq(sf.issuer, "CN=A");
	ck_assert_uint_eq(sf.serial_len, 1);
	ck_assert_uint_eq(sf.serial[0], 1);
	ck_assert_uint_eq(sf.sig_off, 0x33);
	ck_assert_uint_eq(sf.sig_len, 64);
	ck_assert_str_eq(sf.file_name, "SoftKeys.xml.sgn");
	ck_assert_uint_eq(sf.timestamp, 0x65000000);
	ck_assert_uint_eq(sf.payload_len, SOFTKEYS_LEN);
	ck_assert_mem_eq(sf.payload, softkeys, SOFTKEYS_LEN);

	/* PKCS#1 v1.5 is deterministic: the same input signs the same. */
	size_t len2 = 0;
	uint8_t *f2 = build(softkeys, SOFTKEYS_LEN, rsa512, cert_a,
			    PT_SGN_SHA1, "SoftKeys.xml.sgn", &len2);
	ck_assert_uint_eq(len2, len);
	ck_assert_mem_eq(f2, f, len);
	free(f2);
	free(f);
}
END_TEST

/* ---- round trips ---- */

static void round_trip(EVP_PKEY *key, pt_sgn_digest_t digest,
		       const uint8_t *payload, size_t plen, unsigned code)
{
	X509 *cert = make_cert(key, "pub1-tftp", "0x00ff11223344");
	size_t len = 0;
	uint8_t *f = build(payload, plen, key, cert, digest,
			   "SEP001122334455.cnf.xml.sgn", &len);
	pt_sgn_file_t sf;
	pt_sgn_diag_t d = {0};

	ck_assert_int_eq(pt_sgn_parse(f, len, &sf, &d), PT_OK);
	ck_assert_int_eq(pt_sgn_verify(&sf, cert, &d), PT_OK);
	ck_assert_int_eq(pt_sgn_verify_key(&sf, X509_get0_pubkey(cert), &d),
			 PT_OK);
	ck_assert_int_eq(sf.digest, digest);
	ck_assert_uint_eq(sf.sig_len, (size_t)64 << code);
	ck_assert_uint_eq(sf.raw.item[PT_SGN_TAG_MODULUS].val[0], code);
	ck_assert_uint_eq(sf.raw.header_len % 4, 0);
	ck_assert_uint_eq(sf.raw.header_len + plen, len);
	ck_assert_uint_eq(sf.payload_len, plen);
	if (plen)
		ck_assert_mem_eq(sf.payload, payload, plen);
	ck_assert_str_eq(sf.signer, "CN=pub1-tftp");
	/* The serial's DER sign byte is not written. */
	ck_assert_uint_eq(sf.serial_len, 5);
	ck_assert_mem_eq(sf.serial, "\xff\x11\x22\x33\x44", 5);
	ck_assert_str_eq(sf.file_name, "SEP001122334455.cnf.xml.sgn");

	const uint8_t *p = NULL;
	size_t pl = 0;
	ck_assert_int_eq(pt_sgn_strip(f, len, &p, &pl, &d), PT_OK);
	ck_assert_uint_eq(pl, plen);
	ck_assert_ptr_eq(p, f + sf.raw.header_len);
	free(f);
	X509_free(cert);
}

START_TEST(round_trip_rsa_sizes_and_digests)
{
	static const uint8_t cfg[] = "<device><fullConfig>true</fullConfig>"
				     "</device>\n";
	round_trip(rsa512, PT_SGN_SHA1, cfg, sizeof cfg - 1, 0);
	round_trip(rsa1024, PT_SGN_SHA1, cfg, sizeof cfg - 1, 1);
	round_trip(rsa1024, PT_SGN_SHA512, cfg, sizeof cfg - 1, 1);
	round_trip(rsa2048, PT_SGN_SHA1, cfg, sizeof cfg - 1, 2);
	round_trip(rsa2048, PT_SGN_SHA512, cfg, sizeof cfg - 1, 2);
	round_trip(rsa4096, PT_SGN_SHA1, cfg, sizeof cfg - 1, 3);
	round_trip(rsa4096, PT_SGN_SHA512, cfg, sizeof cfg - 1, 3);
}
END_TEST

START_TEST(round_trip_empty_and_binary_payloads)
{
	uint8_t bin[4099];
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)(i * 7 + (i >> 8));
	round_trip(rsa2048, PT_SGN_SHA1, NULL, 0, 2);
	round_trip(rsa2048, PT_SGN_SHA512, bin, sizeof bin, 2);
	round_trip(rsa512, PT_SGN_SHA1, (const uint8_t *)"\0", 1, 0);
}
END_TEST

/* 0 means SHA-1, and H lands on a multiple of 4 for every name length. */
START_TEST(default_digest_and_padding)
{
	char name[64] = "";
	for (size_t n = 1; n <= 12; n++) {
		memset(name, 'a', n);
		name[n] = '\0';
		size_t len = 0;
		uint8_t *f = build(softkeys, SOFTKEYS_LEN, rsa512, cert_a, 0,
				   name, &len);
		pt_sgn_file_t sf;
		ck_assert_int_eq(pt_sgn_parse(f, len, &sf, NULL), PT_OK);
		ck_assert_int_eq(sf.digest, PT_SGN_SHA1);
		ck_assert_uint_eq(sf.raw.header_len % 4, 0);
		ck_assert_uint_le(sf.raw.pad_count, 3);
		ck_assert_uint_eq(sf.raw.header_len,
				  148 - 3 - 17 + (n + 1) +
					  sf.raw.pad_count);
		ck_assert_str_eq(sf.file_name, name);
		free(f);
	}
}
END_TEST

START_TEST(sub_folder_name_and_current_time)
{
	pt_sgn_opts_t o = {PT_SGN_SHA1, "Desktops/320x196x4/Logo.png.sgn", 0};
	uint8_t *f = NULL;
	size_t len = 0;
	time_t before = time(NULL);
	ck_assert_int_eq(pt_sgn_build(softkeys, SOFTKEYS_LEN, rsa512, cert_a,
				      &o, &f, &len),
			 PT_OK);
	pt_sgn_file_t sf;
	ck_assert_int_eq(pt_sgn_parse(f, len, &sf, NULL), PT_OK);
	ck_assert_str_eq(sf.file_name, "Desktops/320x196x4/Logo.png.sgn");
	ck_assert_uint_ge(sf.timestamp, (uint32_t)before);
	ck_assert_uint_le(sf.timestamp, (uint32_t)time(NULL));
	free(f);
}
END_TEST

/* ---- builder refusals ---- */

START_TEST(build_refusals)
{
	X509 *ec_cert = make_cert(ec256, "ec", "5");
	X509 *c1536 = make_cert(rsa1536, "odd", "5");
	pt_sgn_opts_t o = {PT_SGN_SHA1, "SoftKeys.xml.sgn", 1};
	uint8_t *f = (uint8_t *)"untouched";
	size_t len = 99;

	/* EC signers have no encoding in the header. */
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, ec256, ec_cert, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(f);
	ck_assert_uint_eq(len, 0);
	/* Moduli other than 64 << code bytes cannot be described. */
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa1536, c1536, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	/* The key must be the certificate's. */
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512b, cert_a, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	/* SHA-256 is numbered but unsupported; SHA-512 does not fit 512
	 * bits; other codes do not exist. */
	o.digest = PT_SGN_SHA256;
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512, cert_a, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	o.digest = PT_SGN_SHA512;
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512, cert_a, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	o.digest = (pt_sgn_digest_t)4;
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512, cert_a, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	o.digest = PT_SGN_SHA1;

	char long_name[PT_SGN_FILE_NAME_MAX + 1];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	const char *bad_names[] = {
		NULL, "", "/SoftKeys.xml.sgn", "a/../b.sgn", "./a.sgn",
		"a//b.sgn", "a/", "a\\b.sgn", "a\nb.sgn", "a\x7f.sgn", "..",
		long_name,
	};
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		o.file_name = bad_names[i];
		ck_assert_msg(pt_sgn_build(softkeys, 14, rsa512, cert_a, &o,
					   &f, &len) == PT_ERR_INVALID,
			      "name %zu accepted", i);
	}
	long_name[PT_SGN_FILE_NAME_MAX - 1] = '\0'; /* just fits */
	o.file_name = long_name;
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512, cert_a, &o, &f,
				      &len),
			 PT_OK);
	free(f);
	o.file_name = "a.sgn";
	ck_assert_int_eq(pt_sgn_build(NULL, 3, rsa512, cert_a, &o, &f, &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512, cert_a, NULL, &f,
				      &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, NULL, cert_a, &o, &f,
				      &len),
			 PT_ERR_INVALID);
	X509_free(ec_cert);
	X509_free(c1536);
}
END_TEST

/* ---- names and serials ---- */

START_TEST(name_text_order_and_escaping)
{
	X509_NAME *n = X509_NAME_new();
	const struct {
		const char *type, *value;
	} attrs[] = {
		{"C", "US"},
		{"ST", "CA"},
		{"L", "San Jose"},
		{"street", "1 Main St"},
		{"O", "Acme, Inc."},
		{"OU", "#voice+video"},
		{"DC", "example"},
		{"UID", "u1"},
		{"emailAddress", "a@b.c"},
		{"CN", " pub1;<x>=\"y\"\\ "},
	};
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
		ck_assert(X509_NAME_add_entry_by_txt(
			n, attrs[i].type, MBSTRING_UTF8,
			(const unsigned char *)attrs[i].value, -1, -1, 0));
	char *s = NULL;
	ck_assert_int_eq(pt_certname_text(n, &s), PT_OK);
	ck_assert_str_eq(s, "C=US,ST=CA,L=San Jose,STREET=1 Main St,"
			    "O=Acme\\, Inc.,OU=\\#voice\\+video,DC=example,"
			    "UID=u1,1.2.840.113549.1.9.1=a@b.c,"
			    "CN=\\ pub1\\;\\<x\\>=\\\"y\\\"\\\\\\ ");
	free(s);

	/* UTF-8 values stay as they are; an empty name is "". */
	X509_NAME_free(n);
	n = cn_name("T\xc3\xa9l\xc3\xa9phone");
	ck_assert_int_eq(pt_certname_text(n, &s), PT_OK);
	ck_assert_str_eq(s, "CN=T\xc3\xa9l\xc3\xa9phone");
	free(s);
	X509_NAME_free(n);
	n = X509_NAME_new();
	ck_assert_int_eq(pt_certname_text(n, &s), PT_OK);
	ck_assert_str_eq(s, "");
	free(s);
	X509_NAME_free(n);
}
END_TEST

START_TEST(serial_bytes)
{
	const struct {
		const char *serial;
		const char *bytes;
		size_t len;
	} cases[] = {
		{"0", "\x00", 1},
		{"1", "\x01", 1},
		{"128", "\x80", 1},
		{"0x0100", "\x01\x00", 2},
		{"0x7fffffffffffffffffffffffffffffffff",
		 "\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
		 "\xff\xff",
		 17},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		X509 *x = make_cert(rsa512, "s", cases[i].serial);
		uint8_t *b = NULL;
		size_t n = 0;
		ck_assert_int_eq(pt_certname_serial(x, &b, &n), PT_OK);
		ck_assert_uint_eq(n, cases[i].len);
		ck_assert_mem_eq(b, cases[i].bytes, n);
		free(b);
		X509_free(x);
	}
	X509 *neg = make_cert(rsa512, "s", "-5");
	uint8_t *b = NULL;
	size_t n = 0;
	ck_assert_int_eq(pt_certname_serial(neg, &b, &n), PT_ERR_INVALID);
	ck_assert_ptr_null(b);
	pt_sgn_opts_t o = {PT_SGN_SHA1, "a.sgn", 1};
	uint8_t *f = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_sgn_build(softkeys, 14, rsa512, neg, &o, &f, &len),
			 PT_ERR_INVALID);
	X509_free(neg);
}
END_TEST

/* ---- verification against the right certificate only ---- */

START_TEST(verify_identity_and_key)
{
	size_t len = 0;
	uint8_t *f = build(softkeys, 14, rsa512, cert_a, PT_SGN_SHA1,
			   "SoftKeys.xml.sgn", &len);
	pt_sgn_file_t sf;
	pt_sgn_diag_t d = {0};
	ck_assert_int_eq(pt_sgn_parse(f, len, &sf, &d), PT_OK);

	/* Same key, other subject, issuer or serial: strict readers refuse,
	 * compatible ones (key only) accept. */
	X509 *other_cn = make_cert(rsa512, "B", "1");
	X509 *other_serial = make_cert(rsa512, "A", "2");
	X509_NAME *sub = cn_name("A"), *iss = cn_name("Root");
	X509 *other_issuer = make_cert_names(rsa512, sub, iss, "1");
	X509_NAME_free(sub);
	X509_NAME_free(iss);

	ck_assert_int_eq(pt_sgn_verify(&sf, other_cn, &d), PT_ERR_AUTH);
	ck_assert_uint_eq(d.offset, 0x0D);
	ck_assert_int_eq(pt_sgn_verify(&sf, other_issuer, &d), PT_ERR_AUTH);
	ck_assert_uint_eq(d.offset, 0x15);
	ck_assert_int_eq(pt_sgn_verify(&sf, other_serial, &d), PT_ERR_AUTH);
	ck_assert_uint_eq(d.offset, 0x1D);
	ck_assert_int_eq(pt_sgn_verify_key(&sf, rsa512, &d), PT_OK);

	/* Same names, other key: the signature fails. */
	X509 *impostor = make_cert(rsa512b, "A", "1");
	ck_assert_int_eq(pt_sgn_verify(&sf, impostor, &d), PT_ERR_AUTH);
	ck_assert_uint_eq(d.offset, 0x33);
	ck_assert_int_eq(pt_sgn_verify_key(&sf, rsa1024, &d), PT_ERR_AUTH);
	ck_assert_int_eq(pt_sgn_verify_key(&sf, ec256, &d), PT_ERR_INVALID);
	ck_assert_int_eq(pt_sgn_verify(&sf, NULL, &d), PT_ERR_INVALID);

	X509_free(other_cn);
	X509_free(other_serial);
	X509_free(other_issuer);
	X509_free(impostor);
	free(f);
}
END_TEST

/* ---- every mutation of a valid file is refused ---- */

static void mutate_all(EVP_PKEY *key, pt_sgn_digest_t digest)
{
	X509 *cert = make_cert(key, "tftp", "77");
	size_t len = 0;
	uint8_t *f = build(softkeys, 14, key, cert, digest, "SoftKeys.xml.sgn",
			   &len);
	uint8_t *m = malloc(len + 1);
	pt_sgn_diag_t d;

	ck_assert_int_eq(parse_verify(f, len, cert, &d), PT_OK);
	/* Each byte flipped, wholly and in its lowest bit. */
	for (size_t i = 0; i < len; i++) {
		for (int k = 0; k < 2; k++) {
			memcpy(m, f, len);
			m[i] ^= k ? 0x01 : 0xff;
			ck_assert_msg(parse_verify(m, len, cert, &d) != PT_OK,
				      "flip at %zu accepted", i);
		}
	}
	/* Truncated at every offset, and one byte appended. */
	for (size_t n = 0; n < len; n++) {
		memcpy(m, f, n);
		ck_assert_msg(parse_verify(m, n, cert, &d) != PT_OK,
			      "truncation to %zu accepted", n);
	}
	memcpy(m, f, len);
	m[len] = 0;
	ck_assert_int_eq(parse_verify(m, len + 1, cert, &d), PT_ERR_AUTH);

	/* Each item's length (and H) changed. */
	pt_sgn_file_t sf;
	ck_assert_int_eq(pt_sgn_parse(f, len, &sf, NULL), PT_OK);
	static const int deltas[] = {1, -1, 2, -2, 4, -4, 256, -256};
	for (int t = 1; t < PT_SGN_TAG_COUNT; t++) {
		if (!sf.raw.item[t].present)
			continue;
		size_t at = sf.raw.item[t].off + 1;
		for (int pass = 0; pass < 2; pass++) {
			for (size_t k = 0; k < 10; k++) {
				memcpy(m, f, len);
				unsigned v = (unsigned)(f[at] << 8 | f[at + 1]);
				unsigned nv = k < 8 ? (unsigned)((int)v +
								 deltas[k])
					    : k == 8 ? 0u
						     : 0xffffu;
				m[at] = (uint8_t)(nv >> 8);
				m[at + 1] = (uint8_t)nv;
				ck_assert_msg(parse_verify(m, len, cert, &d) !=
						      PT_OK,
					      "length %u of item %d accepted",
					      nv & 0xffff, t);
			}
			at = 8; /* the value of item 2, H */
			if (t != PT_SGN_TAG_HEADER_LEN)
				break;
		}
	}
	free(m);
	free(f);
	X509_free(cert);
}

START_TEST(every_mutation_refused)
{
	mutate_all(rsa512, PT_SGN_SHA1);
	mutate_all(rsa1024, PT_SGN_SHA512);
}
END_TEST

/* ---- the strict reader, item by item ---- */

/* A test-side assembler for headers the builder would never make. */
typedef struct tb {
	uint8_t b[70000];
	size_t n;
} tb_t;

static void tb_bytes(tb_t *t, const void *p, size_t len)
{
	ck_assert_uint_le(t->n + len, sizeof t->b);
	memcpy(t->b + t->n, p, len);
	t->n += len;
}

static void tb_head(tb_t *t, uint8_t tag, size_t len)
{
	uint8_t h[3] = {tag, (uint8_t)(len >> 8), (uint8_t)len};
	tb_bytes(t, h, 3);
}

static void tb_item(tb_t *t, uint8_t tag, const void *v, size_t len)
{
	tb_head(t, tag, len);
	tb_bytes(t, v, len);
}

static size_t tb_open(tb_t *t, uint8_t tag)
{
	size_t at = t->n;
	tb_head(t, tag, 0);
	return at;
}

static void tb_close(tb_t *t, size_t at)
{
	size_t len = t->n - at - 3;
	t->b[at + 1] = (uint8_t)(len >> 8);
	t->b[at + 2] = (uint8_t)len;
}

enum variant {
	V_OK,
	V_SHORT_FILE,
	V_BAD_FIRST_TAG,
	V_BAD_SECOND_LEN,
	V_H_SMALL,
	V_H_PAST_END,
	V_VERSION_2,
	V_VERSION_1_1,
	V_DUP_DIGEST,
	V_DUP_GROUP,
	V_TAG_28,
	V_TAG_0,
	V_TAG_99,
	V_SIGNER_AT_TOP,
	V_DIGEST_IN_GROUP_3,
	V_PAD_IN_GROUP,
	V_GROUP_TRAILING,
	V_HEADER_TRAILING,
	V_ITEM_PAST_GROUP,
	V_ITEM_PAST_H,
	V_DIGEST_2,
	V_DIGEST_4,
	V_DIGEST_LEN_2,
	V_ALG_1,
	V_CODE_4,
	V_SIG_SHORT,
	V_NAME_NO_NUL,
	V_NAME_INNER_NUL,
	V_NAME_EMPTY,
	V_NAME_HUGE,
	V_SERIAL_EMPTY,
	V_SERIAL_HUGE,
	V_NO_FILE_NAME,
	V_NO_TIMESTAMP,
	V_NO_SERIAL,
	V_NO_SIG_ALG_GROUP,
	V_TS_LEN_3,
	V_ENC_TAG,
	V_PAD_MIDDLE, /* accepted: padding may stand anywhere at the top */
	V_COUNT
};

/* Builds an unsigned file (64 zero signature bytes) with one defect;
 * *bad is set to the offset the reader should name. */
static size_t raw_file(tb_t *t, enum variant v, size_t *bad)
{
	static const uint8_t zero_sig[512];
	uint8_t u8;
	t->n = 0;
	*bad = 0;
	tb_item(t, 1, v == V_VERSION_2 ? "\x02\x00" :
		      v == V_VERSION_1_1   ? "\x01\x01"
					   : "\x01\x00",
		2);
	if (v == V_BAD_FIRST_TAG)
		t->b[0] = 0x0E;
	tb_head(t, 2, v == V_BAD_SECOND_LEN ? 3 : 2);
	if (v == V_BAD_FIRST_TAG)
		*bad = 0;
	if (v == V_BAD_SECOND_LEN)
		*bad = 5;
	tb_bytes(t, "\x00\x00", 2); /* H, patched at the end */
	if (v == V_SIGNER_AT_TOP) {
		*bad = t->n;
		tb_item(t, 4, "CN=A", 5);
	}
	size_t g3 = tb_open(t, 3);
	if (v == V_DIGEST_IN_GROUP_3) {
		*bad = t->n;
		tb_item(t, 8, "\x01", 1);
	}
	if (v == V_NAME_NO_NUL || v == V_NAME_INNER_NUL ||
	    v == V_NAME_EMPTY || v == V_NAME_HUGE)
		*bad = t->n;
	if (v == V_NAME_NO_NUL)
		tb_item(t, 4, "CN=A", 4);
	else if (v == V_NAME_INNER_NUL)
		tb_item(t, 4, "CN\0A", 5);
	else if (v == V_NAME_EMPTY)
		tb_item(t, 4, "", 0);
	else if (v == V_NAME_HUGE) {
		static uint8_t huge[PT_SGN_NAME_MAX + 1];
		memset(huge, 'x', sizeof huge);
		huge[sizeof huge - 1] = 0;
		tb_item(t, 4, huge, sizeof huge);
	} else
		tb_item(t, 4, "CN=A", 5);
	tb_item(t, 6, "CN=A", 5);
	if (v == V_PAD_IN_GROUP) {
		*bad = t->n;
		tb_bytes(t, "\x0d", 1);
	}
	if (v == V_SERIAL_EMPTY || v == V_SERIAL_HUGE)
		*bad = t->n;
	if (v == V_SERIAL_EMPTY)
		tb_item(t, 5, "", 0);
	else if (v == V_SERIAL_HUGE)
		tb_item(t, 5, zero_sig, PT_SGN_SERIAL_MAX + 1);
	else if (v != V_NO_SERIAL && v != V_ITEM_PAST_GROUP)
		tb_item(t, 5, "\x01", 1);
	if (v == V_NO_SERIAL)
		*bad = g3;
	if (v == V_GROUP_TRAILING) {
		*bad = t->n;
		tb_bytes(t, "\x05\x00", 2);
	}
	if (v == V_ITEM_PAST_GROUP) {
		*bad = t->n;
		tb_head(t, 5, 1); /* its value byte is outside the group */
		tb_close(t, g3);
		tb_bytes(t, "\x01", 1);
	} else {
		tb_close(t, g3);
	}
	if (v == V_DUP_GROUP) {
		*bad = t->n;
		size_t again = tb_open(t, 3);
		tb_close(t, again);
	}
	if (v == V_PAD_MIDDLE)
		tb_bytes(t, "\x0d\x0d", 2);
	size_t g7 = tb_open(t, 7);
	u8 = v == V_DIGEST_2 ? 2 : v == V_DIGEST_4 ? 4 : 1;
	if (v == V_DIGEST_2 || v == V_DIGEST_4 || v == V_DIGEST_LEN_2)
		*bad = t->n;
	if (v == V_DIGEST_LEN_2)
		tb_item(t, 8, "\x00\x01", 2);
	else if (v != V_DIGEST_IN_GROUP_3)
		tb_item(t, 8, &u8, 1);
	if (v == V_DUP_DIGEST) {
		*bad = t->n;
		tb_item(t, 8, "\x01", 1);
	}
	if (v == V_NO_SIG_ALG_GROUP) {
		*bad = g7; /* the group that lacks it */
	} else {
		size_t g9 = tb_open(t, 9);
		if (v == V_ALG_1)
			*bad = t->n;
		tb_item(t, 10, v == V_ALG_1 ? "\x01" : "\x00", 1);
		if (v == V_CODE_4)
			*bad = t->n;
		tb_item(t, 11, v == V_CODE_4 ? "\x04" : "\x00", 1);
		tb_close(t, g9);
	}
	tb_close(t, g7);
	if (v == V_SIG_SHORT)
		*bad = t->n;
	tb_item(t, 12, zero_sig, v == V_SIG_SHORT ? 63 : 64);
	if (v == V_TAG_28 || v == V_TAG_0 || v == V_TAG_99) {
		*bad = t->n;
		tb_item(t, v == V_TAG_28 ? 28 : v == V_TAG_0 ? 0 : 99, "\x01\x00",
			2);
	}
	if (v != V_NO_FILE_NAME)
		tb_item(t, 14, "SoftKeys.xml.sgn", 17);
	if (v == V_TS_LEN_3)
		*bad = t->n;
	if (v != V_NO_TIMESTAMP)
		tb_item(t, 15, "\x65\x00\x00\x00", v == V_TS_LEN_3 ? 3 : 4);
	if (v == V_ENC_TAG) {
		*bad = t->n;
		tb_item(t, 26, "\x01", 1);
	}
	if (v == V_HEADER_TRAILING) {
		*bad = t->n;
		tb_bytes(t, "\x0f\x00", 2);
	}
	if (v == V_ITEM_PAST_H) {
		*bad = t->n;
		tb_head(t, 26, 4); /* H ends after its head */
	}
	while (t->n % 4 && v != V_HEADER_TRAILING && v != V_ITEM_PAST_H)
		tb_bytes(t, "\x0d", 1);
	size_t h = t->n;
	if (v == V_NO_FILE_NAME || v == V_NO_TIMESTAMP)
		*bad = h;
	if (v == V_H_SMALL) {
		h = 9;
		*bad = 5;
	}
	if (v == V_H_PAST_END) {
		h = t->n + 1;
		*bad = t->n;
	}
	if (v != V_BAD_SECOND_LEN) {
		t->b[8] = (uint8_t)(h >> 8);
		t->b[9] = (uint8_t)h;
	}
	if (v == V_ITEM_PAST_H)
		tb_bytes(t, "a.sg", 4);
	if (v != V_H_PAST_END)
		tb_bytes(t, "payload", 7);
	if (v == V_SHORT_FILE) {
		t->n = 9;
		*bad = 9;
	}
	return t->n;
}

static const struct {
	enum variant v;
	int err;
	const char *what; /* a word the diagnosis must contain */
} strict_cases[] = {
	{V_OK, PT_OK, ""},
	{V_SHORT_FILE, PT_ERR_INCOMPLETE, "needs at least"},
	{V_BAD_FIRST_TAG, PT_ERR_MALFORMED, "item 1"},
	{V_BAD_SECOND_LEN, PT_ERR_MALFORMED, "item 2"},
	{V_H_SMALL, PT_ERR_MALFORMED, "header length"},
	{V_H_PAST_END, PT_ERR_INCOMPLETE, "inside its"},
	{V_VERSION_2, PT_ERR_INVALID, "version 2.0"},
	{V_VERSION_1_1, PT_ERR_INVALID, "version 1.1"},
	{V_DUP_DIGEST, PT_ERR_MALFORMED, "repeated"},
	{V_DUP_GROUP, PT_ERR_MALFORMED, "repeated"},
	{V_TAG_28, PT_ERR_MALFORMED, "trust-list"},
	{V_TAG_0, PT_ERR_MALFORMED, "unknown tag 0"},
	{V_TAG_99, PT_ERR_MALFORMED, "unknown tag 99"},
	{V_SIGNER_AT_TOP, PT_ERR_MALFORMED, "belongs in"},
	{V_DIGEST_IN_GROUP_3, PT_ERR_MALFORMED, "belongs in"},
	{V_PAD_IN_GROUP, PT_ERR_MALFORMED, "padding"},
	{V_GROUP_TRAILING, PT_ERR_TRAILING, "trailing"},
	{V_HEADER_TRAILING, PT_ERR_TRAILING, "trailing"},
	{V_ITEM_PAST_GROUP, PT_ERR_MALFORMED, "runs past"},
	{V_ITEM_PAST_H, PT_ERR_MALFORMED, "runs past"},
	{V_DIGEST_2, PT_ERR_INVALID, "SHA-256"},
	{V_DIGEST_4, PT_ERR_INVALID, "digest"},
	{V_DIGEST_LEN_2, PT_ERR_MALFORMED, "expected 1"},
	{V_ALG_1, PT_ERR_INVALID, "RSA"},
	{V_CODE_4, PT_ERR_INVALID, "modulus"},
	{V_SIG_SHORT, PT_ERR_MALFORMED, "expected 64"},
	{V_NAME_NO_NUL, PT_ERR_MALFORMED, "NUL"},
	{V_NAME_INNER_NUL, PT_ERR_MALFORMED, "NUL"},
	{V_NAME_EMPTY, PT_ERR_MALFORMED, "NUL"},
	{V_NAME_HUGE, PT_ERR_TOO_LARGE, "more than"},
	{V_SERIAL_EMPTY, PT_ERR_MALFORMED, "empty"},
	{V_SERIAL_HUGE, PT_ERR_TOO_LARGE, "more than"},
	{V_NO_FILE_NAME, PT_ERR_MALFORMED, "item 14"},
	{V_NO_TIMESTAMP, PT_ERR_MALFORMED, "item 15"},
	{V_NO_SERIAL, PT_ERR_MALFORMED, "item 5"},
	{V_NO_SIG_ALG_GROUP, PT_ERR_MALFORMED, "item 9"},
	{V_TS_LEN_3, PT_ERR_MALFORMED, "expected 4"},
	{V_ENC_TAG, PT_ERR_MALFORMED, "encrypted"},
	{V_PAD_MIDDLE, PT_OK, ""},
};

START_TEST(strict_reader)
{
	static tb_t t;
	size_t bad = 0;
	size_t len = raw_file(&t, strict_cases[_i].v, &bad);
	pt_sgn_file_t sf;
	pt_sgn_diag_t d = {0};
	int r = pt_sgn_parse(t.b, len, &sf, &d);

	ck_assert_msg(r == strict_cases[_i].err, "case %d: %s (%s) at %zu",
		      _i, pt_strerror(r), d.what, d.offset);
	if (r != PT_OK) {
		ck_assert_msg(d.offset == bad,
			      "case %d: offset %zu, expected %zu (%s)", _i,
			      d.offset, bad, d.what);
		ck_assert_msg(strstr(d.what, strict_cases[_i].what),
			      "case %d: '%s' lacks '%s'", _i, d.what,
			      strict_cases[_i].what);
		/* A NULL diag is fine too. */
		ck_assert_int_eq(pt_sgn_parse(t.b, len, &sf, NULL), r);
	} else {
		ck_assert_str_eq(sf.file_name, "SoftKeys.xml.sgn");
		ck_assert_uint_eq(sf.payload_len, 7);
		/* Zero signature bytes never verify. */
		ck_assert_int_eq(pt_sgn_verify(&sf, cert_a, &d), PT_ERR_AUTH);
	}
}
END_TEST

START_TEST(oversized_file)
{
	/* The cap is checked before anything is read: a view of the same
	 * small buffer with a huge length is never dereferenced past it. */
	size_t len = 0;
	uint8_t *f = build(softkeys, 14, rsa512, cert_a, PT_SGN_SHA1, "a.sgn",
			   &len);
	pt_sgn_file_t sf;
	pt_sgn_diag_t d;
	ck_assert_int_eq(pt_sgn_parse(f, (size_t)PT_SGN_FILE_MAX + 1, &sf, &d),
			 PT_ERR_TOO_LARGE);
	ck_assert_uint_eq(d.offset, 0);
	const uint8_t *p;
	size_t pl;
	ck_assert_int_eq(pt_sgn_strip(f, 4, &p, &pl, &d), PT_ERR_INCOMPLETE);
	ck_assert_ptr_null(p);
	free(f);
}
END_TEST

START_TEST(unsigned_name)
{
	const struct {
		const char *in, *out;
	} ok[] = {
		{"SEP001122334455.cnf.xml.sgn", "SEP001122334455.cnf.xml"},
		{"SEP001122334455.cnf.xml.enc.sgn", "SEP001122334455.cnf.xml.enc"},
		{"Desktops/320x196x4/Logo.png.sgn", "Desktops/320x196x4/Logo.png"},
		{"sip88xx.14-2-1-0001-1.loads.sha512", "sip88xx.14-2-1-0001-1.loads"},
		{"a.sgn.sgn", "a.sgn"},
	};
	static const char *const bad[] = {NULL, "", ".sgn", "a.xml", "a.SGN",
					  "dir/.sgn", "a.sgn ", "sha512"};
	char *s = NULL;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_int_eq(pt_sgn_unsigned_name(ok[i].in, &s), PT_OK);
		ck_assert_str_eq(s, ok[i].out);
		free(s);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(pt_sgn_unsigned_name(bad[i], &s) == PT_ERR_INVALID,
			      "name %zu accepted", i);
		ck_assert_ptr_null(s);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sgn");
	TCase *tc = tcase_create("sgn");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, known_answer_softkeys);
	tcase_add_test(tc, round_trip_rsa_sizes_and_digests);
	tcase_add_test(tc, round_trip_empty_and_binary_payloads);
	tcase_add_test(tc, default_digest_and_padding);
	tcase_add_test(tc, sub_folder_name_and_current_time);
	tcase_add_test(tc, build_refusals);
	tcase_add_test(tc, name_text_order_and_escaping);
	tcase_add_test(tc, serial_bytes);
	tcase_add_test(tc, verify_identity_and_key);
	tcase_add_test(tc, every_mutation_refused);
	tcase_add_loop_test(tc, strict_reader, 0,
			    (int)(sizeof strict_cases / sizeof strict_cases[0]));
	tcase_add_test(tc, oversized_file);
	tcase_add_test(tc, unsigned_name);
	suite_add_tcase(s, tc);
	return pt_test_main(s);
}
