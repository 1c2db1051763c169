#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "pt_test.h"

/* RSA generation is the slow part: one key of each kind for the suite. */
static EVP_PKEY *tftp512, *tftp2048, *phone512, *phone512b, *phone1024,
	*phone2048, *phone2048b, *ec256;
static X509 *tftp_a, *tftp_big, *phone_a, *phone_b, *phone_1k, *phone_2k,
	*phone_ec;

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* Self-signed certificate with subject CN=cn and the given serial. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	ck_assert_ptr_nonnull(x);
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1,
					     0));
	ck_assert(X509_set_version(x, 2));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	ck_assert(X509_set_subject_name(x, n));
	ck_assert(X509_set_issuer_name(x, n));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert(X509_set_pubkey(x, key));
	ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static void keys_setup(void)
{
	tftp512 = rsa_key(512);
	tftp2048 = rsa_key(2048);
	phone512 = rsa_key(512);
	phone512b = rsa_key(512);
	phone1024 = rsa_key(1024);
	phone2048 = rsa_key(2048);
	phone2048b = rsa_key(2048);
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(ec256);
	tftp_a = make_cert(tftp512, "A", 1);
	tftp_big = make_cert(tftp2048, "pub1-tftp", 4242);
	phone_a = make_cert(phone512, "SEP001122334455", 7);
	phone_b = make_cert(phone512b, "SEP001122334455", 7);
	phone_1k = make_cert(phone1024, "SEP00AABBCCDDEE", 8);
	phone_2k = make_cert(phone2048, "SEP0011223344FF", 9);
	phone_ec = make_cert(ec256, "SEP0011223344EC", 10);
}

static void keys_teardown(void)
{
	EVP_PKEY *keys[] = {tftp512,   tftp2048,  phone512,   phone512b,
			    phone1024, phone2048, phone2048b, ec256};
	X509 *certs[] = {tftp_a,   tftp_big, phone_a, phone_b,
			 phone_1k, phone_2k, phone_ec};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		EVP_PKEY_free(keys[i]);
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++)
		X509_free(certs[i]);
}

static const char example[] = "<device><fullConfig>true</fullConfig>"
			      "</device>\n";
#define EXAMPLE_LEN 47
static const char enc_name[] = "SEP001122334455.cnf.xml.enc.sgn";

static const uint8_t kat_key[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
				    0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
				    0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t kat_iv[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
				   0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
				   0xac, 0xad, 0xae, 0xaf};

static uint8_t *build(const void *cfg, size_t len, X509 *phone, EVP_PKEY *key,
		      X509 *cert, pt_sgn_digest_t digest, size_t *out_len)
{
	pt_encconfig_opts_t o = {digest, enc_name, 0x65000000, NULL, NULL};
	uint8_t *out = NULL;
	ck_assert_int_eq(pt_encconfig_build(cfg, len, phone, key, cert, &o,
					    &out, out_len),
			 PT_OK);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* ---- the spec's constructed example (encrypted-config.md §10) ---- */

START_TEST(known_answer_example)
{
	/* All but the signature (0x036-0x075) and the wrapped key
	 * (0x0D5-0x114), which depend on keys the spec does not publish
	 * (and PKCS#1 v1.5 encryption is randomised). */
	static const uint8_t want[352] = {
		0x01, 0x00, 0x02, 0x02, 0x00, 0x02, 0x00, 0x02, 0x01, 0x30,
		0x03, 0x00, 0x14, 0x04, 0x00, 0x05, 'C', 'N', '=', 'A', 0x00,
		0x06, 0x00, 0x05, 'C', 'N', '=', 'A', 0x00, 0x05, 0x00, 0x01,
		0x01,
		[0x21] = 0x07, 0x00, 0x0F, 0x08, 0x00, 0x01, 0x01, 0x09, 0x00,
		0x08, 0x0A, 0x00, 0x01, 0x00, 0x0B, 0x00, 0x01, 0x00,
		[0x33] = 0x0C, 0x00, 0x40,
		[0x76] = 0x0E, 0x00, 0x20, 'S', 'E', 'P', '0', '0', '1', '1',
		'2', '2', '3', '3', '4', '4', '5', '5', '.', 'c', 'n', 'f', '.',
		'x', 'm', 'l', '.', 'e', 'n', 'c', '.', 's', 'g', 'n', 0x00,
		[0x99] = 0x0F, 0x00, 0x04, 0x65, 0x00, 0x00, 0x00,
		[0xA0] = 0x10, 0x00, 0x72,
		[0xA3] = 0x11, 0x00, 0x1C,
		[0xA6] = 0x12, 0x00, 0x01, 0x00,
		[0xAA] = 0x13, 0x00, 0x10, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,
		0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
		[0xBD] = 0x14, 0x00, 0x02, 0x00, 0x01,
		[0xC2] = 0x15, 0x00, 0x50,
		[0xC5] = 0x16, 0x00, 0x01, 0x00,
		[0xC9] = 0x17, 0x00, 0x02, 0x02, 0x00,
		[0xCE] = 0x18, 0x00, 0x01, 0x01,
		[0xD2] = 0x19, 0x00, 0x40,
		[0x115] = 0x1A, 0x00, 0x01, 0x01,
		[0x119] = 0x1B, 0x00, 0x14, 0x76, 0x91, 0x32, 0xb1, 0xe2, 0xc2,
		0x38, 0x34, 0xf6, 0xf7, 0xa3, 0x53, 0xac, 0x14, 0x3b, 0xfa,
		0x3b, 0xb0, 0xcf, 0x24,
		/* AES-128-CBC of the 47 bytes + one 0x0D under K and IV, as
		 * `openssl enc -aes-128-cbc -nopad` computes it. */
		[0x130] = 0x42, 0x9d, 0x5b, 0x9f, 0x55, 0xde, 0x1d, 0x2f, 0x13,
		0xa1, 0x12, 0xb2, 0x4a, 0x41, 0xba, 0x52, 0x3d, 0xe1, 0x88,
		0xcf, 0xd9, 0x28, 0x3c, 0x3e, 0x15, 0xfa, 0x33, 0x44, 0x11,
		0x1d, 0x31, 0x0f, 0x64, 0x30, 0xeb, 0x19, 0x93, 0xb3, 0x87,
		0xe0, 0x7d, 0x50, 0x78, 0xc5, 0x04, 0x26, 0x7e, 0x12,
	};
	pt_encconfig_opts_t o = {PT_SGN_SHA1, enc_name, 0x65000000, kat_key,
				 kat_iv};
	uint8_t *f = NULL;
	size_t len = 0;

	ck_assert_int_eq(pt_encconfig_build((const uint8_t *)example,
					    EXAMPLE_LEN, phone_a, tftp512,
					    tftp_a, &o, &f, &len),
			 PT_OK);
	ck_assert_uint_eq(len, 352);
	ck_assert_mem_eq(f, want, 0x36);
	ck_assert_mem_eq(f + 0x76, want + 0x76, 0xD5 - 0x76);
	ck_assert_mem_eq(f + 0x115, want + 0x115, 352 - 0x115);

	/* The wrapped key opens to K with the phone key, outside the
	 * library. */
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(phone512, NULL);
	uint8_t k[64];
	size_t klen = sizeof k;
	ck_assert(EVP_PKEY_decrypt_init(pc) == 1);
	ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0);
	ck_assert(EVP_PKEY_decrypt(pc, k, &klen, f + 0xD5, 64) == 1);
	ck_assert_uint_eq(klen, 16);
	ck_assert_mem_eq(k, kat_key, 16);
	EVP_PKEY_CTX_free(pc);

	/* The signature covers everything but 0x033-0x075. */
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	uint8_t rest[352 - 67];
	memcpy(rest, f, 0x33);
	memcpy(rest + 0x33, f + 0x76, 352 - 0x76);
	ck_assert(EVP_DigestVerifyInit(mc, NULL, EVP_sha1(), NULL, tftp512) ==
		  1);
	ck_assert_int_eq(EVP_DigestVerify(mc, f + 0x36, 64, rest, sizeof rest),
			 1);
	EVP_MD_CTX_free(mc);

	pt_encconfig_file_t ef;
	pt_sgn_diag_t d = {0};
	ck_assert_int_eq(pt_encconfig_parse(f, len, &ef, &d), PT_OK);
	ck_assert_uint_eq(ef.sgn.version, 2);
	ck_assert_uint_eq(ef.sgn.raw.header_len, 304);
	ck_assert_uint_eq(ef.sgn.raw.pad_count, 0);
	ck_assert_uint_eq(ef.pad_count, 1);
	ck_assert_uint_eq(ef.key_bits, 512);
	ck_assert_uint_eq(ef.key_alg, 1);
	ck_assert_uint_eq(ef.wrapped_len, 64);
	ck_assert_int_eq(ef.content_digest, PT_SGN_SHA1);
	ck_assert_uint_eq(ef.ciphertext_len, 48);
	ck_assert_str_eq(ef.sgn.file_name, enc_name);

	uint8_t *plain = NULL;
	size_t plain_len = 0;
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_a, phone512, &plain,
					   &plain_len, &d),
			 PT_OK);
	ck_assert_uint_eq(plain_len, EXAMPLE_LEN);
	ck_assert_mem_eq(plain, example, EXAMPLE_LEN);
	free(plain);
	free(f);
}
END_TEST

/* ---- round trips ---- */

static void round_trip(size_t cfg_len, X509 *phone, EVP_PKEY *phone_key,
		       EVP_PKEY *key, X509 *cert, pt_sgn_digest_t digest)
{
	char *cfg = malloc(cfg_len + 1);
	static const char head[] = "<device>", tail[] = "</device>";
	ck_assert_uint_ge(cfg_len, sizeof head + sizeof tail - 2);
	memset(cfg, 'x', cfg_len);
	memcpy(cfg, head, sizeof head - 1);
	memcpy(cfg + cfg_len - (sizeof tail - 1), tail, sizeof tail - 1);

	size_t len = 0;
	uint8_t *f = build(cfg, cfg_len, phone, key, cert, digest, &len);
	pt_encconfig_file_t ef;
	pt_sgn_diag_t d = {0};
	ck_assert_int_eq(pt_encconfig_parse(f, len, &ef, &d), PT_OK);
	ck_assert_int_eq(pt_encconfig_verify(&ef, cert, &d), PT_OK);
	ck_assert_int_eq(ef.sgn.digest, digest);
	ck_assert_int_eq(ef.content_digest, digest);
	ck_assert_uint_eq(ef.digest_len, digest == PT_SGN_SHA512 ? 64 : 20);
	ck_assert_uint_eq(ef.pad_count, 16 - cfg_len % 16);
	ck_assert_uint_eq(ef.ciphertext_len, cfg_len + ef.pad_count);
	ck_assert_uint_eq(ef.wrapped_len,
			  (size_t)EVP_PKEY_get_size(X509_get0_pubkey(phone)));
	ck_assert_uint_eq(ef.key_bits, ef.wrapped_len * 8);
	ck_assert_uint_eq(ef.sgn.raw.header_len % 4, 0);
	/* Group 16: 3 + 28 + 3 + (4 + 5 + 4 + 3 + n). */
	ck_assert_uint_eq(ef.sgn.raw.item[PT_SGN_TAG_ENCRYPTION].len,
			  28 + 3 + 3 + 4 + 5 + 4 + 3 + ef.wrapped_len);
	ck_assert(memmem(f, len, "</device>", 9) == NULL);

	uint8_t *plain = NULL;
	size_t plain_len = 0;
	ck_assert_int_eq(pt_encconfig_decrypt(&ef, phone_key, &plain,
					      &plain_len, &d),
			 PT_OK);
	ck_assert_uint_eq(plain_len, cfg_len);
	ck_assert_mem_eq(plain, cfg, cfg_len);
	free(plain);
	free(f);
	free(cfg);
}

START_TEST(round_trips)
{
	/* Lengths around the block size: p runs from 1 to 16. */
	static const size_t lens[] = {17, 31, 32, 33, 47, 48, 63, 64, 65, 1000};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		round_trip(lens[i], phone_a, phone512, tftp512, tftp_a,
			   PT_SGN_SHA1);
	round_trip(100, phone_1k, phone1024, tftp2048, tftp_big, PT_SGN_SHA1);
	round_trip(100, phone_1k, phone1024, tftp2048, tftp_big,
		   PT_SGN_SHA512);
	round_trip(4096, phone_2k, phone2048, tftp2048, tftp_big,
		   PT_SGN_SHA512);
	round_trip(4097, phone_2k, phone2048, tftp2048, tftp_big, PT_SGN_SHA1);
}
END_TEST

START_TEST(short_config_and_prolog)
{
	static const char cfgs[][96] = {
		"<device/>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n</device>\n",
		"\xef\xbb\xbf<device></device>",
		"<!-- generated --><?pi x?>\r\n\t<device\n a=\"1\"></device>",
	};
	for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
		size_t n = strlen(cfgs[i]), len = 0;
		ck_assert_int_eq(pt_encconfig_check_config(
					 (const uint8_t *)cfgs[i], n),
				 PT_OK);
		uint8_t *f = build(cfgs[i], n, phone_a, tftp512, tftp_a,
				   PT_SGN_SHA1, &len);
		uint8_t *plain = NULL;
		size_t plain_len = 0;
		ck_assert_int_eq(pt_encconfig_open(f, len, tftp_a, phone512,
						   &plain, &plain_len, NULL),
				 PT_OK);
		ck_assert_uint_eq(plain_len, n);
		ck_assert_mem_eq(plain, cfgs[i], n);
		free(plain);
		free(f);
	}
}
END_TEST

/* ---- what may be encrypted ---- */

START_TEST(config_root_rule)
{
	static const char *bad[] = {
		"",
		"<devices></devices>",
		"<config><device/></config>",
		"device",
		"<?xml version=\"1.0\"?><deviceX/>",
		"<!DOCTYPE device><device/>",
		"<!-- never closed <device/>",
		"<?xml version=\"1.0\" <device/>",
		"<device",
		"  text <device/>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(pt_encconfig_check_config(
				      (const uint8_t *)bad[i], strlen(bad[i])) ==
				      PT_ERR_INVALID,
			      "config %zu accepted", i);
		uint8_t *f = NULL;
		size_t len = 0;
		pt_encconfig_opts_t o = {0, enc_name, 1, NULL, NULL};
		ck_assert_int_eq(pt_encconfig_build((const uint8_t *)bad[i],
						    strlen(bad[i]), phone_a,
						    tftp512, tftp_a, &o, &f,
						    &len),
				 PT_ERR_INVALID);
		ck_assert_ptr_null(f);
	}
	static const uint8_t with_nul[] = "<device>\0</device>";
	ck_assert_int_eq(pt_encconfig_check_config(with_nul,
						   sizeof with_nul - 1),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_encconfig_check_config(NULL, 4), PT_ERR_INVALID);
	uint8_t *big = malloc(PT_ENCCONFIG_CONFIG_MAX + 1);
	memset(big, ' ', PT_ENCCONFIG_CONFIG_MAX + 1);
	memcpy(big, "<device>", 8);
	ck_assert_int_eq(pt_encconfig_check_config(big,
						   PT_ENCCONFIG_CONFIG_MAX),
			 PT_OK);
	ck_assert_int_eq(pt_encconfig_check_config(big,
						   PT_ENCCONFIG_CONFIG_MAX + 1),
			 PT_ERR_TOO_LARGE);
	free(big);
}
END_TEST

/* ---- keys ---- */

START_TEST(only_the_right_phone_key_decrypts)
{
	size_t len = 0;
	uint8_t *f = build(example, EXAMPLE_LEN, phone_a, tftp512, tftp_a,
			   PT_SGN_SHA1, &len);
	uint8_t *plain = (uint8_t *)"untouched";
	size_t plain_len = 99;
	pt_sgn_diag_t d = {0};

	/* Another phone's key of the same size, and of other sizes. */
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_a, phone512b, &plain,
					   &plain_len, &d),
			 PT_ERR_AUTH);
	ck_assert_ptr_null(plain);
	ck_assert_uint_eq(plain_len, 0);
	ck_assert_uint_eq(d.offset, 0xD2);
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_a, phone2048, &plain,
					   &plain_len, &d),
			 PT_ERR_AUTH);
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_a, ec256, &plain,
					   &plain_len, &d),
			 PT_ERR_INVALID);
	/* The TFTP certificate must be the signer's. */
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_big, phone512, &plain,
					   &plain_len, &d),
			 PT_ERR_AUTH);
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_a, phone512, &plain,
					   &plain_len, &d),
			 PT_OK);
	free(plain);
	free(f);

	/* 2048-bit phones: a second 2048-bit key fails cleanly too. */
	f = build(example, EXAMPLE_LEN, phone_2k, tftp2048, tftp_big,
		  PT_SGN_SHA1, &len);
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_big, phone2048b,
					   &plain, &plain_len, &d),
			 PT_ERR_AUTH);
	ck_assert_ptr_null(plain);
	ck_assert_int_eq(pt_encconfig_open(f, len, tftp_big, phone2048, &plain,
					   &plain_len, &d),
			 PT_OK);
	free(plain);
	free(f);
}
END_TEST

START_TEST(new_key_every_build)
{
	size_t l1 = 0, l2 = 0;
	uint8_t *f1 = build(example, EXAMPLE_LEN, phone_2k, tftp2048, tftp_big,
			    PT_SGN_SHA1, &l1);
	uint8_t *f2 = build(example, EXAMPLE_LEN, phone_2k, tftp2048, tftp_big,
			    PT_SGN_SHA1, &l2);
	pt_encconfig_file_t e1, e2;
	ck_assert_uint_eq(l1, l2);
	ck_assert(memcmp(f1, f2, l1) != 0);
	ck_assert_int_eq(pt_encconfig_parse(f1, l1, &e1, NULL), PT_OK);
	ck_assert_int_eq(pt_encconfig_parse(f2, l2, &e2, NULL), PT_OK);
	ck_assert(memcmp(e1.iv, e2.iv, 16) != 0);
	ck_assert(memcmp(e1.wrapped_key, e2.wrapped_key, e1.wrapped_len) != 0);
	ck_assert(memcmp(e1.ciphertext, e2.ciphertext, e1.ciphertext_len) !=
		  0);

	/* Different AES keys, not only different wrappings of one key. */
	uint8_t k1[256], k2[256];
	size_t n1 = sizeof k1, n2 = sizeof k2;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(phone2048, NULL);
	ck_assert(EVP_PKEY_decrypt_init(pc) == 1);
	ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0);
	ck_assert(EVP_PKEY_decrypt(pc, k1, &n1, e1.wrapped_key, 256) == 1);
	ck_assert(EVP_PKEY_decrypt(pc, k2, &n2, e2.wrapped_key, 256) == 1);
	EVP_PKEY_CTX_free(pc);
	ck_assert_uint_eq(n1, 16);
	ck_assert_uint_eq(n2, 16);
	ck_assert(memcmp(k1, k2, 16) != 0);

	uint8_t *p1 = NULL, *p2 = NULL;
	size_t pl1 = 0, pl2 = 0;
	ck_assert_int_eq(pt_encconfig_decrypt(&e1, phone2048, &p1, &pl1, NULL),
			 PT_OK);
	ck_assert_int_eq(pt_encconfig_decrypt(&e2, phone2048, &p2, &pl2, NULL),
			 PT_OK);
	ck_assert_uint_eq(pl1, pl2);
	ck_assert_mem_eq(p1, p2, pl1);
	free(p1);
	free(p2);
	free(f1);
	free(f2);
}
END_TEST

START_TEST(build_refusals)
{
	pt_encconfig_opts_t o = {PT_SGN_SHA1, enc_name, 1, NULL, NULL};
	uint8_t *f = NULL;
	size_t len = 0;
	const uint8_t *cfg = (const uint8_t *)example;
	X509 *tftp_ec = make_cert(ec256, "ec-tftp", 3);

	/* EC phone certificates: no known way to wrap a key for them. */
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_ec,
					    tftp512, tftp_a, &o, &f, &len),
			 PT_ERR_INVALID);
	/* EC TFTP signers: no encoding in the header. */
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_a, ec256,
					    tftp_ec, &o, &f, &len),
			 PT_ERR_INVALID);
	/* TFTP key and certificate must belong together. */
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_a,
					    tftp2048, tftp_a, &o, &f, &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, NULL, tftp512,
					    tftp_a, &o, &f, &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_a, tftp512,
					    tftp_a, NULL, &f, &len),
			 PT_ERR_INVALID);
	o.digest = PT_SGN_SHA256;
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_a, tftp512,
					    tftp_a, &o, &f, &len),
			 PT_ERR_INVALID);
	/* SHA-512 needs a TFTP key of 1024 bits or more. */
	o.digest = PT_SGN_SHA512;
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_a, tftp512,
					    tftp_a, &o, &f, &len),
			 PT_ERR_INVALID);
	o.digest = PT_SGN_SHA1;
	o.file_name = "../SEP001122334455.cnf.xml.enc.sgn";
	ck_assert_int_eq(pt_encconfig_build(cfg, EXAMPLE_LEN, phone_a, tftp512,
					    tftp_a, &o, &f, &len),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(f);
	ck_assert_uint_eq(len, 0);
	X509_free(tftp_ec);
}
END_TEST

START_TEST(versions_do_not_mix)
{
	size_t len = 0;
	uint8_t *f = build(example, EXAMPLE_LEN, phone_a, tftp512, tftp_a,
			   PT_SGN_SHA1, &len);
	pt_sgn_file_t sf;
	pt_encconfig_file_t ef;
	pt_sgn_diag_t d = {0};
	ck_assert_int_eq(pt_sgn_parse(f, len, &sf, &d), PT_ERR_INVALID);
	ck_assert_uint_eq(d.offset, 0);
	free(f);

	pt_sgn_opts_t so = {PT_SGN_SHA1, "SEP001122334455.cnf.xml.sgn", 1};
	ck_assert_int_eq(pt_sgn_build((const uint8_t *)example, EXAMPLE_LEN,
				      tftp512, tftp_a, &so, &f, &len),
			 PT_OK);
	ck_assert_int_eq(pt_encconfig_parse(f, len, &ef, &d), PT_ERR_INVALID);
	ck_assert_uint_eq(d.offset, 0);
	free(f);
}
END_TEST

/* ---- every mutation of a valid file is refused ---- */

static int open_file(const uint8_t *f, size_t len)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int r = pt_encconfig_open(f, len, tftp_a, phone512, &plain, &plain_len,
				  NULL);
	free(plain);
	return r;
}

START_TEST(every_mutation_refused)
{
	size_t len = 0;
	uint8_t *f = build(example, EXAMPLE_LEN, phone_a, tftp512, tftp_a,
			   PT_SGN_SHA1, &len);
	uint8_t *m = malloc(len + 16);
	pt_encconfig_file_t ef;

	ck_assert_int_eq(open_file(f, len), PT_OK);
	for (size_t i = 0; i < len; i++) {
		for (int k = 0; k < 2; k++) {
			memcpy(m, f, len);
			m[i] ^= k ? 0x01 : 0xff;
			ck_assert_msg(open_file(m, len) != PT_OK,
				      "flip at %zu accepted", i);
		}
	}
	for (size_t n = 0; n < len; n++) {
		memcpy(m, f, n);
		ck_assert_msg(open_file(m, n) != PT_OK,
			      "truncation to %zu accepted", n);
	}
	/* A block appended keeps the ciphertext a multiple of 16. */
	memcpy(m, f, len);
	memset(m + len, 0x0d, 16);
	ck_assert_int_eq(open_file(m, len + 16), PT_ERR_AUTH);

	ck_assert_int_eq(pt_encconfig_parse(f, len, &ef, NULL), PT_OK);
	static const int deltas[] = {1, -1, 2, -2, 16, -16, 256, -256};
	for (int t = 1; t < PT_SGN_TAG_COUNT; t++) {
		if (!ef.sgn.raw.item[t].present)
			continue;
		size_t at = ef.sgn.raw.item[t].off + 1;
		for (size_t k = 0; k < 10; k++) {
			memcpy(m, f, len);
			unsigned v = (unsigned)(f[at] << 8 | f[at + 1]);
			unsigned nv = k < 8    ? (unsigned)((int)v + deltas[k])
				      : k == 8 ? 0u
					       : 0xffffu;
			m[at] = (uint8_t)(nv >> 8);
			m[at + 1] = (uint8_t)nv;
			ck_assert_msg(open_file(m, len) != PT_OK,
				      "length %u of item %d accepted",
				      nv & 0xffff, t);
		}
	}
	free(m);
	free(f);
}
END_TEST

/* ---- the reader's checks behind a valid signature ---- */

/* A file signed correctly whose encryption items the test chooses, to
 * reach the checks a forged-but-signed file would meet. */
typedef struct craft {
	const char *plain;
	uint8_t pad_byte;    /* what the padding bytes are */
	unsigned pad_item;   /* item 20 as written */
	size_t key_len;      /* bytes wrapped (16 for AES-128) */
	size_t wrapped_len;  /* 0: the real wrapping; else that many bytes */
	bool bad_digest;     /* item 27 of other bytes */
	uint8_t digest_alg;  /* item 26 */
	size_t digest_len;   /* item 27 length */
	bool omit_22;        /* leave out the key group's unnamed item */
	uint8_t v18, v22, v24;
	uint16_t v23;        /* 0: 8 x wrapped length */
	bool empty_ciphertext;
} craft_t;

static craft_t craft_default(void)
{
	return (craft_t){.plain = example,
			 .pad_byte = 0x0d,
			 .pad_item = 1,
			 .key_len = 16,
			 .digest_alg = 1,
			 .digest_len = 20,
			 .v24 = 1};
}

static void put(uint8_t **p, size_t n, const uint8_t *bytes)
{
	memcpy(*p, bytes, n);
	*p += n;
}

static uint8_t *craft_file(const craft_t *c, size_t *out_len)
{
	size_t plen = strlen(c->plain);
	size_t pad = 16 - plen % 16;
	uint8_t padded[256], ct[256], wrapped[64], digest[64] = {0};
	uint8_t key[32] = {0x11, 0x22, 0x33};
	uint8_t extra[512];
	size_t n = 0, wl = 64, dl = 0;
	int outl = 0, fin = 0;

	ck_assert_uint_le(plen + pad, sizeof padded);
	memcpy(padded, c->plain, plen);
	memset(padded + plen, c->pad_byte, pad);
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	ck_assert(EVP_EncryptInit_ex(cc, EVP_aes_128_cbc(), NULL, key,
				     kat_iv) == 1);
	EVP_CIPHER_CTX_set_padding(cc, 0);
	ck_assert(EVP_EncryptUpdate(cc, ct, &outl, padded,
				    (int)(plen + pad)) == 1);
	ck_assert(EVP_EncryptFinal_ex(cc, ct + outl, &fin) == 1);
	EVP_CIPHER_CTX_free(cc);

	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(phone512, NULL);
	ck_assert(EVP_PKEY_encrypt_init(pc) == 1);
	ck_assert(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0);
	ck_assert(EVP_PKEY_encrypt(pc, wrapped, &wl, key, c->key_len) == 1);
	EVP_PKEY_CTX_free(pc);
	if (c->wrapped_len)
		wl = c->wrapped_len;

	unsigned int mdl = 0;
	ck_assert(EVP_Digest(c->plain, plen, digest, &mdl,
			     c->digest_alg == 3 ? EVP_sha512() : EVP_sha1(),
			     NULL) == 1);
	if (c->bad_digest)
		digest[0] ^= 1;
	dl = c->digest_len;

	uint16_t v23 = c->v23 ? c->v23 : (uint16_t)(wl * 8);
	/* Group values: 21 = {22, 23, 24, 25}, 16 = {17{18, 19, 20}, 21}. */
	size_t g21 = 4 + 5 + 4 + 3 + wl - (c->omit_22 ? 4 : 0);
	size_t g16 = 3 + 28 + 3 + g21;
	uint8_t *p = extra;
	put(&p, 3, (const uint8_t[]){0x10, (uint8_t)(g16 >> 8), (uint8_t)g16});
	put(&p, 10,
	    (const uint8_t[]){0x11, 0x00, 0x1c, 0x12, 0x00, 0x01, c->v18, 0x13,
			      0x00, 0x10});
	put(&p, 16, kat_iv);
	put(&p, 5,
	    (const uint8_t[]){0x14, 0x00, 0x02, (uint8_t)(c->pad_item >> 8),
			      (uint8_t)c->pad_item});
	put(&p, 3,
	    (const uint8_t[]){0x15, (uint8_t)(g21 >> 8), (uint8_t)g21});
	if (!c->omit_22)
		put(&p, 4, (const uint8_t[]){0x16, 0x00, 0x01, c->v22});
	put(&p, 5,
	    (const uint8_t[]){0x17, 0x00, 0x02, (uint8_t)(v23 >> 8),
			      (uint8_t)v23});
	put(&p, 4, (const uint8_t[]){0x18, 0x00, 0x01, c->v24});
	put(&p, 3, (const uint8_t[]){0x19, (uint8_t)(wl >> 8), (uint8_t)wl});
	put(&p, wl, wrapped);
	put(&p, 4, (const uint8_t[]){0x1a, 0x00, 0x01, c->digest_alg});
	put(&p, 3, (const uint8_t[]){0x1b, (uint8_t)(dl >> 8), (uint8_t)dl});
	put(&p, dl, digest);
	n = (size_t)(p - extra);

	pt_sgn_opts_t so = {PT_SGN_SHA1, enc_name, 1};
	uint8_t *f = NULL;
	ck_assert_int_eq(pt_sgn_build_ext(2, extra, n, ct,
					  c->empty_ciphertext ? 0 : plen + pad,
					  tftp512, tftp_a, &so, &f, out_len),
			 PT_OK);
	return f;
}

static const struct {
	const char *name;
	int err;
	const char *what;
} crafted_names[] = {
	{"as built", PT_OK, ""},
	{"pad bytes not 0x0D", PT_ERR_AUTH, "pad bytes"},
	{"content digest altered", PT_ERR_AUTH, "content digest"},
	{"15-byte AES key", PT_ERR_AUTH, "does not open"},
	{"32-byte AES key", PT_ERR_AUTH, "does not open"},
	{"pad count 0", PT_ERR_INVALID, "pad count 0"},
	{"pad count 17", PT_ERR_INVALID, "pad count 17"},
	{"pad count 2 over one pad byte", PT_ERR_AUTH, "pad bytes"},
	{"no ciphertext", PT_ERR_MALFORMED, "ciphertext"},
	{"content digest SHA-256", PT_ERR_INVALID, "SHA-256"},
	{"content digest 5", PT_ERR_INVALID, "unknown"},
	{"SHA-512 code, 20 bytes", PT_ERR_MALFORMED, "expected 64"},
	{"item 22 missing", PT_ERR_MALFORMED, "item 22"},
	{"wrapped key of 32 bytes", PT_ERR_MALFORMED, "wrapped key"},
	{"unnamed and key items of other values", PT_OK, ""},
	{"SHA-512 content digest under SHA-1 signature", PT_OK, ""},
};

START_TEST(crafted_files)
{
	craft_t c = craft_default();
	switch (_i) {
	case 1: c.pad_byte = 0x00; break;
	case 2: c.bad_digest = true; break;
	case 3: c.key_len = 15; break;
	case 4: c.key_len = 32; break;
	case 5: c.pad_item = 0; break;
	case 6: c.pad_item = 17; break;
	case 7: c.pad_item = 2; break;
	case 8: c.empty_ciphertext = true; break;
	case 9: c.digest_alg = 2; break;
	case 10: c.digest_alg = 5; break;
	case 11: c.digest_alg = 3; c.digest_len = 20; break;
	case 12: c.omit_22 = true; break;
	case 13: c.wrapped_len = 32; break;
	case 14: c.v18 = 7; c.v22 = 9; c.v24 = 2; c.v23 = 128; break;
	case 15: c.digest_alg = 3; c.digest_len = 64; break;
	}
	size_t len = 0;
	uint8_t *f = craft_file(&c, &len);
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	pt_sgn_diag_t d = {0};
	int r = pt_encconfig_open(f, len, tftp_a, phone512, &plain, &plain_len,
				  &d);
	ck_assert_msg(r == crafted_names[_i].err, "%s: %s (%s)",
		      crafted_names[_i].name, pt_strerror(r), d.what);
	ck_assert_msg(strstr(d.what, crafted_names[_i].what), "%s: '%s'",
		      crafted_names[_i].name, d.what);
	if (r == PT_OK) {
		ck_assert_uint_eq(plain_len, EXAMPLE_LEN);
		ck_assert_mem_eq(plain, example, EXAMPLE_LEN);
	} else {
		ck_assert_ptr_null(plain);
	}
	free(plain);
	free(f);
}
END_TEST

/* ---- <certHash> ---- */

START_TEST(cert_hash)
{
	char h[PT_ENCCONFIG_CERT_HASH_LEN + 1];
	unsigned char *der = NULL;
	int n = i2d_X509(phone_2k, &der);
	uint8_t md[16];
	size_t mdlen = 0;
	char want[33];

	ck_assert_int_gt(n, 0);
	ck_assert(EVP_Q_digest(NULL, "MD5", NULL, der, (size_t)n, md, &mdlen));
	for (int i = 0; i < 16; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
	ck_assert_int_eq(pt_encconfig_cert_hash(phone_2k, h), PT_OK);
	ck_assert_str_eq(h, want);
	ck_assert_uint_eq(strlen(h), 32);
	ck_assert_int_eq(pt_encconfig_cert_hash(phone_a, h), PT_OK);
	ck_assert_str_ne(h, want);
	ck_assert_int_eq(pt_encconfig_cert_hash(NULL, h), PT_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("encconfig");
	TCase *tc = tcase_create("encconfig");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, known_answer_example);
	tcase_add_test(tc, round_trips);
	tcase_add_test(tc, short_config_and_prolog);
	tcase_add_test(tc, config_root_rule);
	tcase_add_test(tc, only_the_right_phone_key_decrypts);
	tcase_add_test(tc, new_key_every_build);
	tcase_add_test(tc, build_refusals);
	tcase_add_test(tc, versions_do_not_mix);
	tcase_add_test(tc, every_mutation_refused);
	tcase_add_loop_test(tc, crafted_files, 0,
			    (int)(sizeof crafted_names / sizeof crafted_names[0]));
	tcase_add_test(tc, cert_hash);
	suite_add_tcase(s, tc);
	return pt_test_main(s);
}
