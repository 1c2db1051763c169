/* The strict reader (spec/tlv-files.md §8) on crafted input: items in
 * any order where the spec allows it, and one refusal per rule, each with
 * the expected error, tag and message.  Files are written item by item
 * here, since the builder never makes them. */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certname.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "pt_test.h"
#include "pt_testcert.h"

/* ---- fixtures ---- */

/* The spec's §9 example signer (tests/data/tlv): a 512-bit RSA key whose
 * modulus starts with E0 like the example's, and a 352-byte self-signed
 * certificate with subject and issuer CN=A and serial 1. */
#define KAT_DIR PT_SOURCE_DIR "/tests/data/tlv/"

static EVP_PKEY *kat_key, *rsa_1024, *ec_384;
static X509 *kat_cert;
static uint8_t *kat_der;
static size_t kat_der_len;

static void keys_setup(void)
{
	size_t n = 0;
	char *pem = pt_test_read_file(KAT_DIR "spec-example-key.pem", &n);
	ck_assert_int_eq(pt_certs_decode_key_pem(pem, n, &kat_key), PT_OK);
	free(pem);
	kat_der = (uint8_t *)pt_test_read_file(KAT_DIR "spec-example-cert.der",
					       &kat_der_len);
	ck_assert_int_eq(pt_certs_decode_der(kat_der, kat_der_len, &kat_cert),
			 PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC384, &ec_384), PT_OK);
	rsa_1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ck_assert_ptr_nonnull(rsa_1024);
}

static void keys_teardown(void)
{
	EVP_PKEY *keys[] = {kat_key, rsa_1024, ec_384};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		EVP_PKEY_free(keys[i]);
	X509_free(kat_cert);
	free(kat_der);
}


/* Parses and verifies; returns the first error (0 when the file is good)
 * and leaves the diagnosis in *d. */
static int check_file(const uint8_t *p, size_t n, pt_tlv_diag_t *d)
{
	pt_tlv_file_t *f = NULL;
	int r = pt_tlv_parse(p, n, &f, d);
	if (r == PT_OK)
		r = pt_tlv_verify(f, NULL, NULL, d);
	pt_tlv_file_destroy(&f);
	return r;
}

static pt_tlv_file_t *parse_ok(const uint8_t *p, size_t n)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	int r = pt_tlv_parse(p, n, &f, &d);
	ck_assert_msg(r == PT_OK, "parse: %s", d.text);
	return f;
}

static void build_ok(const pt_tlv_entry_t *e, size_t n,
		     const pt_tlv_build_opts_t *o, EVP_PKEY *key, X509 *cert,
		     uint8_t **out, size_t *len)
{
	pt_tlv_diag_t d;
	int r = pt_tlv_build(e, n, o, key, cert, out, len, &d);
	ck_assert_msg(r == PT_OK, "build: %d %s", r, d.text);
}

static uint8_t *build_kat(size_t *len)
{
	pt_tlv_entry_t e = {.role = PT_TLV_ROLE_SAST, .cert_der = kat_der,
			    .cert_len = kat_der_len};
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_ITL_NAME,
				 .timestamp = 0x65000000,
				 .digest = PT_TLV_DIGEST_SHA1};
	uint8_t *out = NULL;
	build_ok(&e, 1, &o, kat_key, kat_cert, &out, len);
	return out;
}

static void set_u16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- crafted inputs ---- */

/* A file written item by item, for inputs the builder never makes. */
typedef struct craft {
	uint8_t b[8192];
	size_t n;
	size_t sig_at; /* offset of item 12, 0 when none */
	size_t sig_len;
} craft_t;

static void c_put(craft_t *c, const void *p, size_t n)
{
	ck_assert_uint_le(c->n + n, sizeof c->b);
	if (n == 0)
		return;
	memcpy(c->b + c->n, p, n);
	c->n += n;
}

static void c_item(craft_t *c, uint8_t tag, const void *v, size_t n)
{
	uint8_t h[3] = {tag, (uint8_t)(n >> 8), (uint8_t)n};
	c_put(c, h, 3);
	c_put(c, v, n);
}

static void c_u8(craft_t *c, uint8_t tag, uint8_t v)
{
	c_item(c, tag, &v, 1);
}

static void c_text(craft_t *c, uint8_t tag, const char *s)
{
	c_item(c, tag, s, strlen(s) + 1);
}

static size_t c_open(craft_t *c, uint8_t tag)
{
	size_t at = c->n;
	c_item(c, tag, NULL, 0);
	return at;
}

static void c_close(craft_t *c, size_t at)
{
	set_u16(c->b + at + 1, (unsigned)(c->n - at - 3));
}

static void c_sig(craft_t *c, size_t len)
{
	static const uint8_t zeros[512];
	c->sig_at = c->n;
	c->sig_len = len;
	c_item(c, PT_TLV_H_SIGNATURE, zeros, len);
}

/* Pads to a multiple of 4 and writes H. */
static void c_end_header(craft_t *c)
{
	while (c->n % 4)
		c_put(c, "\x0d", 1);
	set_u16(c->b + 8, (unsigned)c->n);
}

static void c_start(craft_t *c)
{
	memset(c, 0, sizeof *c);
	c_item(c, PT_TLV_H_VERSION, "\x01\x02", 2);
	c_item(c, PT_TLV_H_HEADER_LENGTH, "\0\0", 2);
}

/* The usual header for the KAT signer (digest 1, 512 bits). */
static void c_header(craft_t *c)
{
	c_start(c);
	c_item(c, PT_TLV_H_LIST_VERSION, "\x01\x00", 2);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_text(c, PT_TLV_H_SIGNER_NAME, "CN=A");
	c_text(c, PT_TLV_H_ISSUER_NAME, "CN=A");
	c_item(c, PT_TLV_H_SERIAL, "\x01", 1);
	c_close(c, g);
	g = c_open(c, PT_TLV_H_SIGNATURE_INFO);
	c_u8(c, PT_TLV_H_DIGEST, 1);
	size_t g9 = c_open(c, PT_TLV_H_ALGORITHM_INFO);
	c_u8(c, PT_TLV_H_ALGORITHM, 0);
	c_u8(c, PT_TLV_H_MODULUS, 0);
	c_close(c, g9);
	c_close(c, g);
	c_sig(c, 64);
	c_text(c, PT_TLV_H_FILE_NAME, "ITLFile.tlv");
	c_item(c, PT_TLV_H_TIMESTAMP, "\x65\0\0\0", 4);
	c_end_header(c);
}

/* When set, the serial item of crafted records. */
static const uint8_t *serial_override;
static size_t serial_override_len;

static void c_record_item(craft_t *c, uint8_t tag, X509 *x, uint16_t role)
{
	uint8_t *p = NULL;
	const ASN1_BIT_STRING *sig;
	int len;
	uint8_t r2[2] = {(uint8_t)(role >> 8), (uint8_t)role};
	uint8_t sha1[20];
	switch (tag) {
	case PT_TLV_R_SUBJECT:
	case PT_TLV_R_ISSUER: {
		char *s = NULL;
		ck_assert_int_eq(pt_certname_text(
					 tag == PT_TLV_R_SUBJECT
						 ? X509_get_subject_name(x)
						 : X509_get_issuer_name(x),
					 &s),
				 PT_OK);
		c_text(c, tag, s);
		free(s);
		break;
	}
	case PT_TLV_R_SERIAL: {
		size_t n;
		if (serial_override) {
			c_item(c, tag, serial_override, serial_override_len);
			break;
		}
		ck_assert_int_eq(pt_certname_serial(x, &p, &n), PT_OK);
		c_item(c, tag, p, n);
		free(p);
		break;
	}
	case PT_TLV_R_ROLE:
		c_item(c, tag, r2, 2);
		break;
	case PT_TLV_R_PUBLIC_KEY:
		len = i2d_PublicKey(X509_get0_pubkey(x), &p);
		ck_assert_int_gt(len, 0);
		c_item(c, tag, p, (size_t)len);
		OPENSSL_free(p);
		break;
	case PT_TLV_R_SIGNATURE:
		X509_get0_signature(&sig, NULL, x);
		c_item(c, tag, ASN1_STRING_get0_data(sig),
		       (size_t)ASN1_STRING_length(sig));
		break;
	case PT_TLV_R_CERTIFICATE:
		len = i2d_X509(x, &p);
		c_item(c, tag, p, (size_t)len);
		OPENSSL_free(p);
		break;
	case PT_TLV_R_DNS_NAME:
		c_item(c, tag, "\0\0", 2); /* the real files' empty form */
		break;
	case PT_TLV_R_IP_ADDRESS:
		c_item(c, tag, "\x0a\x00\x00\x01", 4);
		break;
	case PT_TLV_R_CERT_HASH:
		len = i2d_X509(x, &p);
		EVP_Digest(p, (size_t)len, sha1, NULL, EVP_sha1(), NULL);
		OPENSSL_free(p);
		c_item(c, tag, sha1, 20);
		break;
	case PT_TLV_R_HASH_ALGORITHM:
		c_u8(c, tag, 1);
		break;
	default:
		ck_abort_msg("tag %u", tag);
	}
}

/* A record whose items come in the given order (after item 1). */
static size_t c_record(craft_t *c, X509 *x, uint16_t role,
		       const uint8_t *order, size_t n)
{
	size_t at = c->n;
	c_item(c, PT_TLV_R_LENGTH, "\0\0", 2);
	for (size_t i = 0; i < n; i++)
		c_record_item(c, order[i], x, role);
	set_u16(c->b + at + 3, (unsigned)(c->n - at));
	return at;
}

static const uint8_t tools_order[] = {3, 5, 6, 4, 7, 8, 9};
static const uint8_t server_order[] = {2, 3, 4, 5, 6, 7, 8, 9};

static void c_sign(craft_t *c, EVP_PKEY *key, const EVP_MD *md)
{
	size_t cut = c->sig_at + 3 + c->sig_len;
	size_t len = c->sig_len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ck_assert(EVP_DigestSignInit(ctx, NULL, md, NULL, key));
	ck_assert(EVP_DigestSignUpdate(ctx, c->b, c->sig_at));
	ck_assert(EVP_DigestSignUpdate(ctx, c->b + cut, c->n - cut));
	ck_assert(EVP_DigestSignFinal(ctx, c->b + c->sig_at + 3, &len));
	ck_assert_uint_eq(len, c->sig_len);
	EVP_MD_CTX_free(ctx);
}

/* The crafted standard file verifies: the writer above is right. */
START_TEST(crafted_baseline_verifies)
{
	craft_t c;
	c_header(&c);
	c_record(&c, kat_cert, 0, tools_order, sizeof tools_order);
	c_sign(&c, kat_key, EVP_sha1());
	size_t n = 0;
	uint8_t *built = build_kat(&n);
	ck_assert_uint_eq(c.n, n);
	/* The writer and the builder agree on every byte. */
	ck_assert_mem_eq(c.b, built, n);
	free(built);
}
END_TEST

/* Readers accept any order inside groups, across the header after item
 * 2, and inside records after item 1; server-made records with a 2-byte
 * DNS name, an IP address item and a certificate hash instead of the
 * certificate. */
START_TEST(any_order_is_accepted)
{
	craft_t c;
	c_start(&c);
	c_text(&c, PT_TLV_H_FILE_NAME, "CTLFile.tlv");
	size_t g = c_open(&c, PT_TLV_H_SIGNATURE_INFO);
	size_t g9 = c_open(&c, PT_TLV_H_ALGORITHM_INFO);
	c_u8(&c, PT_TLV_H_MODULUS, 0);
	c_u8(&c, PT_TLV_H_ALGORITHM, 0);
	c_close(&c, g9);
	c_u8(&c, PT_TLV_H_DIGEST, 1);
	c_close(&c, g);
	c_put(&c, "\x0d", 1); /* padding may stand between items */
	c_sig(&c, 64);
	g = c_open(&c, PT_TLV_H_SIGNER_INFO);
	c_item(&c, PT_TLV_H_SERIAL, "\x01", 1);
	c_text(&c, PT_TLV_H_ISSUER_NAME, "CN=A");
	c_text(&c, PT_TLV_H_SIGNER_NAME, "CN=A");
	c_close(&c, g);
	c_item(&c, PT_TLV_H_TIMESTAMP, "\0\0\0\1", 4);
	/* No item 28 (whether server files carry it is unknown), and an H
	 * that is not a multiple of 4: only producers promise that. */
	set_u16(c.b + 8, (unsigned)c.n);
	ck_assert_uint_ne(c.n % 4, 0);
	X509 *tvs = pt_testcert(ec_384, "tvs", 0x99);
	c_record(&c, tvs, PT_TLV_ROLE_TVS, server_order, sizeof server_order);
	static const uint8_t hashed[] = {2, 3, 4, 5, 6, 7, 8, 11, 12, 10};
	c_record(&c, tvs, PT_TLV_ROLE_TVS, hashed, sizeof hashed);
	static const uint8_t shuffled[] = {9, 8, 7, 6, 5, 4, 3};
	c_record(&c, kat_cert, PT_TLV_ROLE_SAST, shuffled, sizeof shuffled);
	c_sign(&c, kat_key, EVP_sha1());

	pt_tlv_file_t *f = parse_ok(c.b, c.n);
	pt_tlv_diag_t d;
	size_t signer = 0;
	int r = pt_tlv_verify(f, NULL, &signer, &d);
	ck_assert_msg(r == PT_OK, "verify: %s", d.text);
	ck_assert_uint_eq(signer, 2);
	ck_assert(!(f->header.present & PT_TLV_BIT(PT_TLV_H_LIST_VERSION)));
	ck_assert_uint_eq(f->header.padding, 1);
	ck_assert_str_eq(f->header.file_name, "CTLFile.tlv");
	const pt_tlv_record_t *hr = &f->records[1];
	ck_assert_uint_eq(hr->cert_hash.len, 20);
	ck_assert_uint_eq(hr->hash_algorithm, 1);
	ck_assert_uint_eq(hr->ip_address.len, 4);
	ck_assert_uint_eq(hr->dns_name.len, 2);
	ck_assert(!(hr->present & PT_TLV_BIT(PT_TLV_R_CERTIFICATE)));
	pt_tlv_entry_t e;
	ck_assert_int_eq(pt_tlv_record_entry(hr, &e), PT_ERR_INVALID);
	/* A 2-byte "empty" DNS name is no text: it cannot be rebuilt. */
	ck_assert_int_eq(pt_tlv_record_entry(&f->records[0], &e),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_tlv_record_entry(&f->records[2], &e), PT_OK);
	pt_tlv_file_destroy(&f);
	X509_free(tvs);
}
END_TEST

typedef void (*craft_fn)(craft_t *c);

struct bad_case {
	const char *name;
	craft_fn make;
	int err;        /* from parse, or from verify when parse passes */
	int tag;        /* expected diag tag (-2: do not check) */
	const char *text;
};

static void put_std_record(craft_t *c)
{
	c_record(c, kat_cert, 0, tools_order, sizeof tools_order);
}

static void bad_dup_header_item(craft_t *c)
{
	c_header(c);
	/* Rewrite the header with a second file name before padding. */
	c->n = c->sig_at + 3 + 64;
	c_text(c, PT_TLV_H_FILE_NAME, "ITLFile.tlv");
	c_text(c, PT_TLV_H_FILE_NAME, "CTLFile.tlv");
	c_end_header(c);
	put_std_record(c);
}

static void bad_dup_record_item(craft_t *c)
{
	c_header(c);
	static const uint8_t order[] = {3, 5, 6, 4, 7, 8, 9, 3};
	c_record(c, kat_cert, 0, order, sizeof order);
}

static void bad_unknown_header_tag(craft_t *c)
{
	c_header(c);
	c->n = c->sig_at + 3 + 64;
	c_u8(c, 29, 0);
	c_end_header(c);
	put_std_record(c);
}

static void bad_enc_tag(craft_t *c)
{
	c_header(c);
	c->n = c->sig_at + 3 + 64;
	c_u8(c, 18, 0);
	c_end_header(c);
	put_std_record(c);
}

static void bad_tag_zero(craft_t *c)
{
	c_header(c);
	c->n = c->sig_at + 3 + 64;
	c_u8(c, 0, 0);
	c_end_header(c);
	put_std_record(c);
}

static void bad_unknown_record_tag(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	c_record(c, kat_cert, 0, tools_order, sizeof tools_order);
	c_u8(c, 14, 0);
	set_u16(c->b + at + 3, (unsigned)(c->n - at));
}

static void bad_padding_in_record(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	c_record(c, kat_cert, 0, tools_order, sizeof tools_order);
	c_item(c, PT_TLV_H_PADDING, NULL, 0);
	set_u16(c->b + at + 3, (unsigned)(c->n - at));
}

static void bad_serial_outside_group(craft_t *c)
{
	c_header(c);
	c->n = c->sig_at + 3 + 64;
	c_item(c, PT_TLV_H_SERIAL, "\x01", 1);
	c_end_header(c);
	put_std_record(c);
}

static void bad_group_not_filled(craft_t *c)
{
	c_start(c);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_text(c, PT_TLV_H_SIGNER_NAME, "CN=A");
	c_put(c, "\x06\x00", 2);
	c_close(c, g);
	c_end_header(c);
}

static void bad_group_overrun(craft_t *c)
{
	c_start(c);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_text(c, PT_TLV_H_SIGNER_NAME, "CN=A");
	c_close(c, g);
	c->b[c->n - 6] = 9; /* item 4 claims more than group 3 holds */
	c_end_header(c);
}

static void bad_item_crosses_h(craft_t *c)
{
	c_header(c);
	set_u16(c->b + 8, (unsigned)(c->sig_at + 10));
	c->n = c->sig_at + 3 + 64;
	while (c->n % 4)
		c_put(c, "\0", 1);
}

static void bad_h_small(craft_t *c)
{
	c_header(c);
	set_u16(c->b + 8, 9);
}

static void bad_first_tag(craft_t *c)
{
	c_header(c);
	c->b[0] = 2;
}

static void bad_second_item(craft_t *c)
{
	c_header(c);
	c->b[7] = 3;
}

static void bad_record_start(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	put_std_record(c);
	c->b[at] = 3;
}

static void bad_record_short(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	put_std_record(c);
	set_u16(c->b + at + 3, 4);
}

static void bad_record_stray(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	put_std_record(c);
	c_put(c, "\x02\x00", 2);
	set_u16(c->b + at + 3, (unsigned)(c->n - at));
}

static void bad_name_no_nul(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	c_item(c, PT_TLV_R_LENGTH, "\0\0", 2);
	c_item(c, PT_TLV_R_SUBJECT, "CN=A", 4);
	set_u16(c->b + at + 3, (unsigned)(c->n - at));
}

static void bad_name_inner_nul(craft_t *c)
{
	c_start(c);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_item(c, PT_TLV_H_SIGNER_NAME, "CN=A\0B", 7);
	c_close(c, g);
	c_end_header(c);
}

static void bad_modulus_code(craft_t *c)
{
	c_header(c);
	c->b[0x37] = 4;
}

static void bad_role_length(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	c_item(c, PT_TLV_R_LENGTH, "\0\0", 2);
	c_u8(c, PT_TLV_R_ROLE, 0);
	set_u16(c->b + at + 3, (unsigned)(c->n - at));
}

static void bad_too_much_padding(craft_t *c)
{
	c_header(c);
	c->n = c->sig_at + 3 + 64;
	c_text(c, PT_TLV_H_FILE_NAME, "ITLFile.tlv");
	c_item(c, PT_TLV_H_TIMESTAMP, "\x65\0\0\0", 4);
	c_put(c, "\x0d\x0d\x0d\x0d\x0d\x0d\x0d", 7);
	c_end_header(c);
}

static void bad_padding_in_group(craft_t *c)
{
	c_start(c);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_put(c, "\x0d", 1);
	c_close(c, g);
	c_end_header(c);
}

/* Validation and signer rules: these parse, then fail verification. */

static void bad_sig_len(craft_t *c)
{
	c_header(c);
	c->b[0x37] = 1; /* 1024 bits, yet 64 signature bytes */
	put_std_record(c);
}

static void bad_algorithm(craft_t *c)
{
	c_header(c);
	c->b[0x33] = 1;
	put_std_record(c);
}

static void bad_digest_sha256(craft_t *c)
{
	c_header(c);
	c->b[0x2C] = 2;
	put_std_record(c);
	c_sign(c, kat_key, EVP_sha256());
}

static void bad_digest_zero(craft_t *c)
{
	c_header(c);
	c->b[0x2C] = 0;
	put_std_record(c);
}

static void bad_list_version(craft_t *c)
{
	c_header(c);
	c->b[0x0E] = 2;
	put_std_record(c);
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_missing_serial(craft_t *c)
{
	c_start(c);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_text(c, PT_TLV_H_SIGNER_NAME, "CN=A");
	c_text(c, PT_TLV_H_ISSUER_NAME, "CN=A");
	c_close(c, g);
	g = c_open(c, PT_TLV_H_SIGNATURE_INFO);
	c_u8(c, PT_TLV_H_DIGEST, 1);
	size_t g9 = c_open(c, PT_TLV_H_ALGORITHM_INFO);
	c_u8(c, PT_TLV_H_ALGORITHM, 0);
	c_u8(c, PT_TLV_H_MODULUS, 0);
	c_close(c, g9);
	c_close(c, g);
	c_sig(c, 64);
	c_end_header(c);
	put_std_record(c);
}

static void bad_missing_role(craft_t *c)
{
	c_header(c);
	static const uint8_t order[] = {3, 5, 6, 7, 8, 9};
	c_record(c, kat_cert, 0, order, sizeof order);
}

static void bad_cert_and_hash(craft_t *c)
{
	c_header(c);
	static const uint8_t order[] = {3, 5, 6, 4, 7, 8, 9, 11, 12};
	c_record(c, kat_cert, 0, order, sizeof order);
}

static void bad_hash_alone(craft_t *c)
{
	c_header(c);
	static const uint8_t order[] = {3, 5, 6, 4, 7, 8, 11};
	c_record(c, kat_cert, 0, order, sizeof order);
}

static void bad_cert_bytes(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	put_std_record(c);
	c->b[at + 5 + 8 + 8 + 4 + 5 + 77 + 67 + 3 + 10] ^= 0x40;
}

static void bad_public_key_item(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	put_std_record(c);
	c->b[at + 5 + 8 + 8 + 4 + 5 + 20] ^= 1;
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_serial_item(craft_t *c)
{
	c_header(c);
	size_t at = c->n;
	put_std_record(c);
	c->b[at + 5 + 8 + 8 + 3] = 2;
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_three_sast(craft_t *c)
{
	c_header(c);
	put_std_record(c);
	put_std_record(c);
	put_std_record(c);
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_two_signers(craft_t *c)
{
	c_header(c);
	put_std_record(c);
	put_std_record(c);
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_signer_name(craft_t *c)
{
	c_header(c);
	c->b[0x18] = 'B'; /* header signer name CN=B */
	put_std_record(c);
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_no_signer(craft_t *c)
{
	c_header(c);
	c_record(c, kat_cert, PT_TLV_ROLE_TFTP, tools_order,
		 sizeof tools_order);
	c_sign(c, kat_key, EVP_sha1());
}

static void bad_signature(craft_t *c)
{
	c_header(c);
	put_std_record(c);
	c_sign(c, kat_key, EVP_sha256()); /* header says SHA-1 */
}

static const struct bad_case bad_cases[] = {
	{"duplicate header item", bad_dup_header_item, PT_ERR_MALFORMED, 14,
	 "duplicate"},
	{"duplicate record item", bad_dup_record_item, PT_ERR_MALFORMED, 3,
	 "duplicate"},
	{"unknown header tag", bad_unknown_header_tag, PT_ERR_MALFORMED, 29,
	 "unknown tag 29"},
	{"encrypted-config tag", bad_enc_tag, PT_ERR_MALFORMED, 18,
	 "encrypted configuration"},
	{"tag zero", bad_tag_zero, PT_ERR_MALFORMED, 0, "unknown tag 0"},
	{"unknown record tag", bad_unknown_record_tag, PT_ERR_MALFORMED, 14,
	 "unknown tag 14"},
	{"padding in a record", bad_padding_in_record, PT_ERR_MALFORMED, 13,
	 "only in the header"},
	{"serial outside group 3", bad_serial_outside_group, PT_ERR_MALFORMED,
	 5, "inside group 3"},
	{"group not filled", bad_group_not_filled, PT_ERR_TRAILING, -1,
	 "end of group 3"},
	{"group overrun", bad_group_overrun, PT_ERR_MALFORMED, 4,
	 "past the end of group 3"},
	{"item crosses H", bad_item_crosses_h, PT_ERR_MALFORMED, 12,
	 "past the end of the header"},
	{"H below 10", bad_h_small, PT_ERR_MALFORMED, 2, "below 10"},
	{"first tag", bad_first_tag, PT_ERR_MALFORMED, 1, "start with tag 1"},
	{"second item", bad_second_item, PT_ERR_MALFORMED, 2,
	 "offset 5 must hold"},
	{"record start", bad_record_start, PT_ERR_MALFORMED, -1,
	 "must start with tag 1"},
	{"record length below 5", bad_record_short, PT_ERR_MALFORMED, 1,
	 "below 5"},
	{"stray bytes in a record", bad_record_stray, PT_ERR_TRAILING, -1,
	 "stray"},
	{"name without NUL", bad_name_no_nul, PT_ERR_MALFORMED, 3,
	 "does not end with a NUL"},
	{"name with inner NUL", bad_name_inner_nul, PT_ERR_MALFORMED, 4,
	 "NUL byte before its end"},
	{"modulus code 4", bad_modulus_code, PT_ERR_MALFORMED, 11,
	 "not one of 0 to 3"},
	{"role length", bad_role_length, PT_ERR_MALFORMED, 4, "must be 2"},
	{"too much padding", bad_too_much_padding, PT_ERR_MALFORMED, 13,
	 "padding bytes"},
	{"padding in a group", bad_padding_in_group, PT_ERR_MALFORMED, 13,
	 "inside group 3"},
	{"signature length vs code", bad_sig_len, PT_ERR_INVALID, 12,
	 "does not match modulus code 1"},
	{"algorithm 1", bad_algorithm, PT_ERR_INVALID, 10, "not RSA"},
	{"digest SHA-256", bad_digest_sha256, PT_ERR_INVALID, 8,
	 "not supported"},
	{"digest 0", bad_digest_zero, PT_ERR_INVALID, 8, "not defined"},
	{"list version 1.2", bad_list_version, PT_ERR_INVALID, 28,
	 "neither 1.0 nor 1.1"},
	{"missing serial", bad_missing_serial, PT_ERR_INVALID, 5, "missing"},
	{"missing role", bad_missing_role, PT_ERR_INVALID, 4, "missing"},
	{"certificate and hash", bad_cert_and_hash, PT_ERR_INVALID, -1,
	 "not both"},
	{"hash without algorithm", bad_hash_alone, PT_ERR_INVALID, 12,
	 "go together"},
	{"certificate bytes", bad_cert_bytes, PT_ERR_MALFORMED, 9,
	 "not one DER"},
	{"public key item", bad_public_key_item, PT_ERR_INVALID, 7,
	 "certificate's key"},
	{"serial item", bad_serial_item, PT_ERR_INVALID, 6,
	 "certificate's serial"},
	{"three SAST", bad_three_sast, PT_ERR_INVALID, 4, "third SAST"},
	{"two signer records", bad_two_signers, PT_ERR_INVALID, -1,
	 "both match"},
	{"signer name", bad_signer_name, PT_ERR_INVALID, 3, "subject differs"},
	{"no signer record", bad_no_signer, PT_ERR_NOT_FOUND, 5,
	 "no SAST record"},
	{"signature", bad_signature, PT_ERR_AUTH, 12, "does not match"},
};

START_TEST(crafted_refusals)
{
	const struct bad_case *bc = &bad_cases[_i];
	craft_t *c = calloc(1, sizeof *c);
	bc->make(c);
	/* Exactly the crafted length, so ASan catches any over-read. */
	uint8_t *p = malloc(c->n);
	memcpy(p, c->b, c->n);
	pt_tlv_diag_t d;
	memset(&d, 0, sizeof d);
	int r = check_file(p, c->n, &d);
	ck_assert_msg(r == bc->err, "%s: got %d (%s), want %d", bc->name, r,
		      d.text, bc->err);
	if (bc->tag != -2)
		ck_assert_msg(d.tag == bc->tag, "%s: tag %d, want %d (%s)",
			      bc->name, d.tag, bc->tag, d.text);
	ck_assert_msg(strstr(d.text, bc->text), "%s: '%s' lacks '%s'",
		      bc->name, d.text, bc->text);
	free(p);
	free(c);
}
END_TEST

/* A file whose record serial carries the DER sign byte, as servers may
 * write it for a top-bit serial (§11), with the given header serial. */

static void sign_byte_file(craft_t *c, X509 *x, const char *header_serial,
			   size_t header_len)
{
	c_start(c);
	size_t g = c_open(c, PT_TLV_H_SIGNER_INFO);
	c_text(c, PT_TLV_H_SIGNER_NAME, "CN=T");
	c_text(c, PT_TLV_H_ISSUER_NAME, "CN=T");
	c_item(c, PT_TLV_H_SERIAL, header_serial, header_len);
	c_close(c, g);
	g = c_open(c, PT_TLV_H_SIGNATURE_INFO);
	c_u8(c, PT_TLV_H_DIGEST, 1);
	size_t g9 = c_open(c, PT_TLV_H_ALGORITHM_INFO);
	c_u8(c, PT_TLV_H_ALGORITHM, 0);
	c_u8(c, PT_TLV_H_MODULUS, 1);
	c_close(c, g9);
	c_close(c, g);
	c_sig(c, 128);
	c_end_header(c);
	serial_override = (const uint8_t *)"\x00\x80\x01";
	serial_override_len = 3;
	c_record(c, x, 0, tools_order, sizeof tools_order);
	serial_override = NULL;
	c_sign(c, rsa_1024, EVP_sha1());
}

START_TEST(serial_with_sign_byte_is_accepted)
{
	uint8_t s[] = {0x80, 0x01};
	X509 *x = pt_testcert_names(rsa_1024, (const char *[]){"CN=T", NULL}, s,
				  2);
	uint8_t *bytes = NULL;
	size_t n = 0;
	ck_assert_int_eq(pt_certname_serial(x, &bytes, &n), PT_OK);
	ck_assert_uint_eq(n, 2); /* the builder writes no sign byte */
	ck_assert_uint_eq(bytes[0], 0x80);
	free(bytes);

	craft_t *c = calloc(1, sizeof *c);
	pt_tlv_diag_t d;
	sign_byte_file(c, x, "\x00\x80\x01", 3);
	int r = check_file(c->b, c->n, &d);
	ck_assert_msg(r == PT_OK, "%s", d.text);
	/* Header and record serials are compared byte for byte (§4.3). */
	sign_byte_file(c, x, "\x80\x01", 2);
	ck_assert_int_eq(check_file(c->b, c->n, &d), PT_ERR_NOT_FOUND);
	free(c);
	X509_free(x);
}
END_TEST

START_TEST(parse_refuses_oversized_input)
{
	size_t n = PT_TLV_FILE_MAX + 1u;
	uint8_t *p = calloc(1, n);
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_parse(p, n, &f, &d), PT_ERR_TOO_LARGE);
	ck_assert_ptr_null(f);
	ck_assert_ptr_nonnull(strstr(d.text, "limit"));
	ck_assert_int_eq(pt_tlv_parse(p, 3, &f, NULL), PT_ERR_INCOMPLETE);
	free(p);
}
END_TEST

static Suite *tlv_reader_suite(void)
{
	Suite *s = suite_create("tlv_reader");
	TCase *tc = tcase_create("strict reader");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, crafted_baseline_verifies);
	tcase_add_test(tc, any_order_is_accepted);
	tcase_add_loop_test(tc, crafted_refusals, 0,
			    sizeof bad_cases / sizeof bad_cases[0]);
	tcase_add_test(tc, serial_with_sign_byte_is_accepted);
	tcase_add_test(tc, parse_refuses_oversized_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(tlv_reader_suite());
}
