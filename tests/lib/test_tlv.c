/* CTL/ITL codec: the spec's example as a known-answer vector, round trips
 * with RSA (SHA-1, SHA-512) and EC certificates, the builder's refusals,
 * every mutation of a valid file, names and serials.  The strict reader's
 * rules on crafted input are in test_tlv_reader.c. */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
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

static EVP_PKEY *kat_key, *rsa_a, *rsa_b, *rsa_1024, *ec_256, *ec_384;
static X509 *kat_cert;
static uint8_t *kat_der;
static size_t kat_der_len;

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = hex; p[0] && p[1]; p += 2) {
		ck_assert_uint_lt(n, cap);
		unsigned v;
		ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

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
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rsa_a), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rsa_b), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ec_256), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC384, &ec_384), PT_OK);
	rsa_1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ck_assert_ptr_nonnull(rsa_1024);
}

static void keys_teardown(void)
{
	EVP_PKEY *keys[] = {kat_key, rsa_a, rsa_b, rsa_1024, ec_256, ec_384};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		EVP_PKEY_free(keys[i]);
	X509_free(kat_cert);
	free(kat_der);
}


typedef struct der {
	uint8_t *p;
	size_t n;
} der_t;

static der_t der_of(X509 *x)
{
	der_t d;
	ck_assert_int_eq(pt_certs_encode_der(x, &d.p, &d.n), PT_OK);
	return d;
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

/* ---- the spec's example (§9) ---- */

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

static void expect_bytes(const uint8_t *file, size_t off, const char *hex)
{
	uint8_t want[128];
	size_t n = unhex(hex, want, sizeof want);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(file[off + i] == want[i],
			      "byte 0x%zx is %02x, the spec says %02x",
			      off + i, file[off + i], want[i]);
}

START_TEST(kat_builds_the_spec_bytes)
{
	size_t n = 0;
	uint8_t *f = build_kat(&n);
	ck_assert_uint_eq(n, 677);
	/* Header, every byte the spec gives (§9). */
	expect_bytes(f, 0x000, "0100020102");
	expect_bytes(f, 0x005, "0200020094");
	expect_bytes(f, 0x00A, "1C00020100");
	expect_bytes(f, 0x00F, "030014");
	expect_bytes(f, 0x012, "040005434E3D4100");
	expect_bytes(f, 0x01A, "060005434E3D4100");
	expect_bytes(f, 0x022, "05000101");
	expect_bytes(f, 0x026, "07000F");
	expect_bytes(f, 0x029, "08000101");
	expect_bytes(f, 0x02D, "090008");
	expect_bytes(f, 0x030, "0A000100");
	expect_bytes(f, 0x034, "0B000100");
	expect_bytes(f, 0x038, "0C0040");
	expect_bytes(f, 0x07B, "0E000C49544C46696C652E746C7600");
	expect_bytes(f, 0x08A, "0F000465000000");
	expect_bytes(f, 0x091, "0D0D0D");
	/* The record: fixed bytes, and the key, signature and certificate
	 * items where the spec puts them. */
	expect_bytes(f, 0x094, "0100020211");
	expect_bytes(f, 0x099, "030005434E3D4100");
	expect_bytes(f, 0x0A1, "050005434E3D4100");
	expect_bytes(f, 0x0A9, "06000101");
	expect_bytes(f, 0x0AD, "0400020000");
	expect_bytes(f, 0x0B2, "07004A3048024100E0");
	expect_bytes(f, 0x0FA, "0203010001");
	expect_bytes(f, 0x0FF, "080040");
	expect_bytes(f, 0x142, "0901603082015C");
	ck_assert_mem_eq(f + 0x145, kat_der, kat_der_len);
	ck_assert_uint_eq(0x145 + kat_der_len, n);

	/* The signed data is 0x000-0x037 then 0x07B-0x2A4: PKCS#1 v1.5 is
	 * deterministic, so signing exactly those bytes must give the
	 * signature item's value. */
	uint8_t sig[64];
	size_t sig_len = sizeof sig;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ck_assert(EVP_DigestSignInit(ctx, NULL, EVP_sha1(), NULL, kat_key));
	ck_assert(EVP_DigestSignUpdate(ctx, f, 0x38));
	ck_assert(EVP_DigestSignUpdate(ctx, f + 0x7B, n - 0x7B));
	ck_assert(EVP_DigestSignFinal(ctx, sig, &sig_len));
	EVP_MD_CTX_free(ctx);
	ck_assert_uint_eq(sig_len, 64);
	ck_assert_mem_eq(f + 0x3B, sig, 64);

	/* The whole file, fixed key and certificate: a regression vector
	 * (also a fuzz seed). */
	size_t vn = 0;
	char *vector = pt_test_read_file(KAT_DIR "spec-example-itl.tlv", &vn);
	ck_assert_uint_eq(vn, n);
	ck_assert_mem_eq(vector, f, n);
	free(vector);
	free(f);
}
END_TEST

START_TEST(kat_parses_every_field)
{
	size_t n = 0;
	uint8_t *bytes = build_kat(&n);
	pt_tlv_file_t *f = parse_ok(bytes, n);
	const pt_tlv_header_t *h = &f->header;
	ck_assert_uint_eq(h->length, 148);
	ck_assert_uint_eq(h->version[0], 1);
	ck_assert_uint_eq(h->version[1], 2);
	ck_assert_uint_eq(h->list_version[0], 1);
	ck_assert_uint_eq(h->list_version[1], 0);
	ck_assert_str_eq(h->signer_name, "CN=A");
	ck_assert_str_eq(h->issuer_name, "CN=A");
	ck_assert_uint_eq(h->serial.len, 1);
	ck_assert_uint_eq(h->serial.data[0], 1);
	ck_assert_uint_eq(h->digest, PT_TLV_DIGEST_SHA1);
	ck_assert_uint_eq(h->algorithm, 0);
	ck_assert_uint_eq(h->modulus, 0);
	ck_assert_uint_eq(h->signature.len, 64);
	ck_assert_uint_eq(h->signature_offset, 0x38);
	ck_assert_str_eq(h->file_name, "ITLFile.tlv");
	ck_assert_uint_eq(h->timestamp, 0x65000000);
	ck_assert_uint_eq(h->padding, 3);
	/* Items in file order with their offsets (§9's left column). */
	static const struct {
		uint8_t tag, depth;
		size_t off;
		uint16_t len;
	} want_h[] = {
		{1, 0, 0x00, 2},  {2, 0, 0x05, 2},  {28, 0, 0x0A, 2},
		{3, 0, 0x0F, 20}, {4, 1, 0x12, 5},  {6, 1, 0x1A, 5},
		{5, 1, 0x22, 1},  {7, 0, 0x26, 15}, {8, 1, 0x29, 1},
		{9, 1, 0x2D, 8},  {10, 2, 0x30, 1}, {11, 2, 0x34, 1},
		{12, 0, 0x38, 64}, {14, 0, 0x7B, 12}, {15, 0, 0x8A, 4},
	};
	ck_assert_uint_eq(h->n_items, sizeof want_h / sizeof want_h[0]);
	for (size_t i = 0; i < h->n_items; i++) {
		ck_assert_uint_eq(h->items[i].tag, want_h[i].tag);
		ck_assert_uint_eq(h->items[i].depth, want_h[i].depth);
		ck_assert_uint_eq(h->items[i].offset, want_h[i].off);
		ck_assert_uint_eq(h->items[i].length, want_h[i].len);
	}

	ck_assert_uint_eq(f->n_records, 1);
	const pt_tlv_record_t *r = &f->records[0];
	ck_assert_uint_eq(r->offset, 0x94);
	ck_assert_uint_eq(r->length, 529);
	ck_assert_uint_eq(r->role, PT_TLV_ROLE_SAST);
	ck_assert_str_eq(r->subject, "CN=A");
	ck_assert_str_eq(r->issuer, "CN=A");
	ck_assert_uint_eq(r->serial.len, 1);
	ck_assert_uint_eq(r->serial.data[0], 1);
	ck_assert_uint_eq(r->public_key.len, 74);
	ck_assert_uint_eq(r->signature.len, 64);
	ck_assert_uint_eq(r->cert.len, 352);
	ck_assert_mem_eq(r->cert.data, kat_der, kat_der_len);
	ck_assert(!(r->present & PT_TLV_BIT(PT_TLV_R_DNS_NAME)));
	static const struct {
		uint8_t tag;
		size_t off;
		uint16_t len;
	} want_r[] = {
		{1, 0x94, 2},  {3, 0x99, 5},  {5, 0xA1, 5},   {6, 0xA9, 1},
		{4, 0xAD, 2},  {7, 0xB2, 74}, {8, 0xFF, 64}, {9, 0x142, 352},
	};
	ck_assert_uint_eq(r->n_items, sizeof want_r / sizeof want_r[0]);
	for (size_t i = 0; i < r->n_items; i++) {
		ck_assert_uint_eq(r->items[i].tag, want_r[i].tag);
		ck_assert_uint_eq(r->items[i].offset, want_r[i].off);
		ck_assert_uint_eq(r->items[i].length, want_r[i].len);
	}
	size_t signer = 99;
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_find_signer(f, &signer, &d), PT_OK);
	ck_assert_uint_eq(signer, 0);
	ck_assert_int_eq(pt_tlv_verify(f, NULL, &signer, &d), PT_OK);
	ck_assert_uint_eq(signer, 0);
	ck_assert_int_eq(pt_tlv_verify(f, kat_cert, &signer, &d), PT_OK);
	ck_assert_uint_eq(signer, SIZE_MAX);
	pt_tlv_file_destroy(&f);
	ck_assert_ptr_null(f);
	pt_tlv_file_destroy(&f);
	pt_tlv_file_destroy(NULL);
	free(bytes);
}
END_TEST

/* ---- round trips ---- */

typedef struct list {
	X509 *certs[8];
	der_t der[8];
	pt_tlv_entry_t e[8];
	size_t n;
} list_t;

static void list_add(list_t *l, EVP_PKEY *key, const char *cn,
		     uint32_t serial, uint16_t role, const char *dns)
{
	X509 *x = pt_testcert(key, cn, serial);
	l->certs[l->n] = x;
	l->der[l->n] = der_of(x);
	l->e[l->n] = (pt_tlv_entry_t){.role = role,
				      .cert_der = l->der[l->n].p,
				      .cert_len = l->der[l->n].n,
				      .dns_name = dns};
	l->n++;
}

/* The same certificate as entry i with another role. */
static void list_again(list_t *l, size_t i, uint16_t role)
{
	X509_up_ref(l->certs[i]);
	l->certs[l->n] = l->certs[i];
	l->der[l->n] = der_of(l->certs[i]);
	l->e[l->n] = (pt_tlv_entry_t){.role = role,
				      .cert_der = l->der[l->n].p,
				      .cert_len = l->der[l->n].n};
	l->n++;
}

static void list_clear(list_t *l)
{
	for (size_t i = 0; i < l->n; i++) {
		X509_free(l->certs[i]);
		free(l->der[i].p);
	}
	memset(l, 0, sizeof *l);
}

/* A real ITL's shape (§1): the TFTP certificate as SAST (signer) and as
 * TFTP, CAPF, two TVS, a recovery SAST and an EC P-384 TFTP. */
static void itl_list(list_t *l)
{
	list_add(l, rsa_a, "pub-tftp", 0x1001, PT_TLV_ROLE_SAST, NULL);
	list_again(l, 0, PT_TLV_ROLE_TFTP);
	list_add(l, rsa_b, "CAPF-0a0b0c0d", 0x80000001u, PT_TLV_ROLE_CAPF,
		 NULL);
	list_add(l, ec_256, "pub-tvs", 0x1003, PT_TLV_ROLE_TVS, NULL);
	list_add(l, rsa_1024, "sub1-tvs", 0x1004, PT_TLV_ROLE_TVS, NULL);
	list_add(l, rsa_b, "ITLRECOVERY_pub", 0x1005, PT_TLV_ROLE_SAST, NULL);
	list_add(l, ec_384, "pub-tftp-ec", 0x1006, PT_TLV_ROLE_TFTP, NULL);
}

static void check_round_trip(list_t *l, EVP_PKEY *key, size_t signer,
			     const pt_tlv_build_opts_t *o)
{
	uint8_t *bytes = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	build_ok(l->e, l->n, o, key, l->certs[signer], &bytes, &n);
	pt_tlv_file_t *f = parse_ok(bytes, n);
	pt_tlv_diag_t d;
	size_t who = 99;
	int r = pt_tlv_verify(f, NULL, &who, &d);
	ck_assert_msg(r == PT_OK, "verify: %s", d.text);
	ck_assert_uint_eq(who, signer);
	ck_assert_uint_eq(f->header.length % 4, 0);
	ck_assert_uint_eq(f->header.digest,
			  o->digest ? (unsigned)o->digest : 1u);
	ck_assert_uint_eq(f->header.list_version[1], o->list_minor);
	ck_assert_str_eq(f->header.file_name, o->file_name);
	ck_assert_uint_eq(f->header.timestamp, o->timestamp);
	ck_assert_uint_eq(f->n_records, l->n);

	pt_tlv_entry_t back[8];
	for (size_t i = 0; i < l->n; i++) {
		const pt_tlv_record_t *rec = &f->records[i];
		char *subject = NULL;
		ck_assert_int_eq(pt_certname_text(X509_get_subject_name(
							  l->certs[i]),
						  &subject),
				 PT_OK);
		ck_assert_str_eq(rec->subject, subject);
		ck_assert_str_eq(rec->issuer, subject); /* self-signed */
		free(subject);
		ck_assert_uint_eq(rec->role, l->e[i].role);
		ck_assert_uint_eq(rec->cert.len, l->e[i].cert_len);
		ck_assert_mem_eq(rec->cert.data, l->e[i].cert_der,
				 rec->cert.len);
		if (EVP_PKEY_get_base_id(X509_get0_pubkey(l->certs[i])) ==
		    EVP_PKEY_EC) {
			size_t pt_len =
				EVP_PKEY_get_bits(X509_get0_pubkey(
					l->certs[i])) == 256
					? 65
					: 97;
			ck_assert_uint_eq(rec->public_key.len, pt_len);
			ck_assert_uint_eq(rec->public_key.data[0], 0x04);
		}
		ck_assert_int_eq(pt_tlv_record_entry(rec, &back[i]), PT_OK);
		if (l->e[i].dns_name)
			ck_assert_str_eq(back[i].dns_name, l->e[i].dns_name);
		else
			ck_assert_ptr_null(back[i].dns_name);
	}
	/* The parsed records, handed back, give the same bytes. */
	build_ok(back, l->n, o, key, l->certs[signer], &again, &n2);
	ck_assert_uint_eq(n2, n);
	ck_assert_mem_eq(again, bytes, n);
	pt_tlv_file_destroy(&f);
	free(bytes);
	free(again);
}

START_TEST(itl_round_trip_sha1)
{
	list_t l = {0};
	itl_list(&l);
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_ITL_NAME,
				 .timestamp = 1700000000};
	check_round_trip(&l, rsa_a, 0, &o);
	list_clear(&l);
}
END_TEST

START_TEST(itl_round_trip_sha512)
{
	list_t l = {0};
	itl_list(&l);
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_ITL_NAME,
				 .timestamp = 1700000001,
				 .digest = PT_TLV_DIGEST_SHA512};
	check_round_trip(&l, rsa_a, 0, &o);
	list_clear(&l);
}
END_TEST

/* A CTL: two tokens, CCM+TFTP nodes with DNS names, CAPF; list 1.1. */
START_TEST(ctl_round_trip)
{
	list_t l = {0};
	list_add(&l, rsa_b, "pub", 0x2000, PT_TLV_ROLE_CCM_TFTP,
		 "pub.example");
	list_add(&l, rsa_a, "SAST-token-1", 0x2001, PT_TLV_ROLE_SAST, NULL);
	list_add(&l, rsa_b, "SAST-token-2", 0x2002, PT_TLV_ROLE_SAST, NULL);
	list_add(&l, ec_256, "sub1", 0x2003, PT_TLV_ROLE_CCM_TFTP,
		 "sub1.example");
	list_add(&l, rsa_1024, "CAPF-1", 0x2004, PT_TLV_ROLE_CAPF, "");
	list_add(&l, rsa_1024, "apps", 0x2005, PT_TLV_ROLE_APP_SERVER, NULL);
	list_add(&l, rsa_1024, "ccm", 0x2006, PT_TLV_ROLE_CCM, NULL);
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_CTL_NAME,
				 .timestamp = 1700000002,
				 .digest = PT_TLV_DIGEST_SHA512,
				 .list_minor = 1};
	check_round_trip(&l, rsa_a, 1, &o);

	/* The signer must be the first SAST entry (§6). */
	uint8_t *out = NULL;
	size_t n = 0;
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_build(l.e, l.n, &o, rsa_b, l.certs[2], &out,
				      &n, &d),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(d.text, "first SAST"));
	/* DNS name: the builder puts item 2 right after item 1. */
	uint8_t *bytes = NULL;
	build_ok(l.e, l.n, &o, rsa_a, l.certs[1], &bytes, &n);
	pt_tlv_file_t *f = parse_ok(bytes, n);
	ck_assert_uint_eq(f->records[0].items[1].tag, PT_TLV_R_DNS_NAME);
	ck_assert_uint_eq(f->records[0].dns_name.len, 12);
	ck_assert_mem_eq(f->records[0].dns_name.data, "pub.example", 12);
	ck_assert_uint_eq(f->records[4].dns_name.len, 1);
	static const uint8_t order[] = {1, 3, 5, 6, 4, 7, 8, 9};
	ck_assert_uint_eq(f->records[1].n_items, sizeof order);
	for (size_t i = 0; i < sizeof order; i++)
		ck_assert_uint_eq(f->records[1].items[i].tag, order[i]);
	pt_tlv_file_destroy(&f);
	free(bytes);
	list_clear(&l);
}
END_TEST

/* Modulus codes 1 (1024) and 3 (4096, encodable though phones stop at
 * 2048). */
START_TEST(rsa_key_sizes)
{
	EVP_PKEY *big = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	ck_assert_ptr_nonnull(big);
	struct {
		EVP_PKEY *key;
		unsigned code;
	} cases[] = {{rsa_1024, 1}, {rsa_a, 2}, {big, 3}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		list_t l = {0};
		list_add(&l, cases[i].key, "signer", 7, PT_TLV_ROLE_SAST,
			 NULL);
		pt_tlv_build_opts_t o = {.file_name = PT_TLV_CTL_NAME,
					 .timestamp = 1,
					 .digest = PT_TLV_DIGEST_SHA512};
		uint8_t *bytes = NULL;
		size_t n = 0;
		build_ok(l.e, l.n, &o, cases[i].key, l.certs[0], &bytes, &n);
		pt_tlv_file_t *f = parse_ok(bytes, n);
		ck_assert_uint_eq(f->header.modulus, cases[i].code);
		ck_assert_uint_eq(f->header.signature.len,
				  (size_t)64 << cases[i].code);
		pt_tlv_diag_t d;
		ck_assert_int_eq(pt_tlv_verify(f, NULL, NULL, &d), PT_OK);
		pt_tlv_file_destroy(&f);
		free(bytes);
		list_clear(&l);
	}
	EVP_PKEY_free(big);
}
END_TEST

/* A non-secure CTL holds no certificates: no records, and only a token
 * the phone already trusts can verify it. */
START_TEST(list_without_records)
{
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_CTL_NAME,
				 .timestamp = 5};
	uint8_t *bytes = NULL;
	size_t n = 0;
	build_ok(NULL, 0, &o, kat_key, kat_cert, &bytes, &n);
	pt_tlv_file_t *f = parse_ok(bytes, n);
	ck_assert_uint_eq(f->n_records, 0);
	ck_assert_uint_eq(n, f->header.length);
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_verify(f, NULL, NULL, &d), PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_tlv_verify(f, kat_cert, NULL, &d), PT_OK);
	X509 *other = pt_testcert(rsa_a, "A", 2);
	ck_assert_int_eq(pt_tlv_verify(f, other, NULL, &d), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(d.text, "another serial"));
	X509_free(other);
	/* Same serial and size, another key: the signature says no. */
	EVP_PKEY *k512 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	other = pt_testcert(k512, "A", 1);
	ck_assert_int_eq(pt_tlv_verify(f, other, NULL, &d), PT_ERR_AUTH);
	X509_free(other);
	EVP_PKEY_free(k512);
	/* A key of another size cannot have made the signature. */
	other = pt_testcert(rsa_a, "A", 1);
	ck_assert_int_eq(pt_tlv_verify(f, other, NULL, &d), PT_ERR_INVALID);
	X509_free(other);
	/* The names of an outside certificate are not compared (§4.3). */
	other = pt_testcert(kat_key, "B", 1);
	ck_assert_int_eq(pt_tlv_verify(f, other, NULL, &d), PT_OK);
	X509_free(other);
	pt_tlv_file_destroy(&f);
	free(bytes);
}
END_TEST

static void refused(int got, int want, const char *fragment,
		    const pt_tlv_diag_t *d, const uint8_t *out)
{
	ck_assert_msg(got == want, "got %d (%s), want %d", got, d->text, want);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(d->text, fragment), "'%s' lacks '%s'", d->text,
		      fragment);
}

START_TEST(builder_refusals)
{
	list_t l = {0};
	list_add(&l, rsa_a, "sast1", 1, PT_TLV_ROLE_SAST, NULL);
	list_add(&l, rsa_b, "sast2", 2, PT_TLV_ROLE_SAST, NULL);
	list_add(&l, ec_256, "ec-sast", 3, PT_TLV_ROLE_SAST, NULL);
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_ITL_NAME,
				 .timestamp = 9};
	uint8_t *out = NULL;
	size_t n = 0;
	pt_tlv_diag_t d;
	int r;

	/* Three SAST entries. */
	r = pt_tlv_build(l.e, 3, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "third SAST", &d, out);
	/* An EC signer: no encoding is known (§7). */
	pt_tlv_entry_t ec_first[] = {l.e[2]};
	r = pt_tlv_build(ec_first, 1, &o, ec_256, l.certs[2], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "RSA key", &d, out);
	/* SHA-256 and undefined digests. */
	pt_tlv_build_opts_t bad = o;
	bad.digest = PT_TLV_DIGEST_SHA256;
	r = pt_tlv_build(l.e, 1, &bad, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "SHA-512 (3)", &d, out);
	/* SHA-512's DigestInfo does not fit a 512-bit modulus. */
	bad.digest = PT_TLV_DIGEST_SHA512;
	pt_tlv_entry_t kat = {.role = PT_TLV_ROLE_SAST,
			      .cert_der = kat_der,
			      .cert_len = kat_der_len};
	r = pt_tlv_build(&kat, 1, &bad, kat_key, kat_cert, &out, &n, &d);
	refused(r, PT_ERR_INVALID, "1024 bits", &d, out);
	bad.digest = 7;
	r = pt_tlv_build(l.e, 1, &bad, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "digest code 7", &d, out);
	bad = o;
	bad.list_minor = 2;
	r = pt_tlv_build(l.e, 1, &bad, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "1.0 and 1.1", &d, out);
	bad = o;
	bad.file_name = "";
	r = pt_tlv_build(l.e, 1, &bad, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "file name", &d, out);
	/* Key and certificate that do not belong together. */
	r = pt_tlv_build(l.e, 1, &o, rsa_b, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "does not belong", &d, out);
	/* No SAST entry at all. */
	pt_tlv_entry_t tftp = l.e[0];
	tftp.role = PT_TLV_ROLE_TFTP;
	r = pt_tlv_build(&tftp, 1, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "no SAST", &d, out);
	/* Unknown role code. */
	pt_tlv_entry_t two[] = {l.e[0], l.e[1]};
	two[1].role = 9;
	r = pt_tlv_build(two, 2, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "role 9", &d, out);
	/* The same certificate twice with the same role. */
	two[1] = l.e[0];
	two[1].role = PT_TLV_ROLE_SAST;
	r = pt_tlv_build(two, 2, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "same role", &d, out);
	/* Bytes that are no certificate. */
	two[1] = l.e[1];
	two[1].cert_len -= 1;
	r = pt_tlv_build(two, 2, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_MALFORMED, "entry 2", &d, out);
	two[1].cert_der = NULL;
	r = pt_tlv_build(two, 2, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "no certificate", &d, out);
	/* A key that is neither RSA nor EC. */
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(ed);
	X509 *edx = pt_testcert(ed, "ed", 5);
	der_t edd = der_of(edx);
	two[1] = (pt_tlv_entry_t){.role = PT_TLV_ROLE_TFTP,
				  .cert_der = edd.p,
				  .cert_len = edd.n};
	r = pt_tlv_build(two, 2, &o, rsa_a, l.certs[0], &out, &n, &d);
	refused(r, PT_ERR_INVALID, "neither RSA nor EC", &d, out);
	/* A signer key of a size with no modulus code. */
	EVP_PKEY *odd = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1536);
	X509 *oddx = pt_testcert(odd, "odd", 6);
	der_t oddd = der_of(oddx);
	pt_tlv_entry_t odde = {.role = PT_TLV_ROLE_SAST,
			       .cert_der = oddd.p,
			       .cert_len = oddd.n};
	r = pt_tlv_build(&odde, 1, &o, odd, oddx, &out, &n, &d);
	refused(r, PT_ERR_INVALID, "512, 1024, 2048 or 4096", &d, out);
	ck_assert_int_eq(pt_tlv_build(l.e, 1, NULL, rsa_a, l.certs[0], &out,
				      &n, NULL),
			 PT_ERR_INVALID);
	free(oddd.p);
	X509_free(oddx);
	EVP_PKEY_free(odd);
	free(edd.p);
	X509_free(edx);
	EVP_PKEY_free(ed);
	list_clear(&l);
}
END_TEST

/* A certificate made large by a comment extension of pad bytes. */
static der_t big_cert(EVP_PKEY *key, uint32_t serial, size_t pad)
{
	X509 *x = pt_testcert(key, "big", serial);
	ASN1_IA5STRING *text = ASN1_IA5STRING_new();
	char *fill = malloc(pad);
	memset(fill, 'x', pad);
	ck_assert(ASN1_STRING_set(text, fill, (int)pad));
	ck_assert(X509_add1_ext_i2d(x, NID_netscape_comment, text, 0, 0));
	ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
	der_t d = der_of(x);
	free(fill);
	ASN1_IA5STRING_free(text);
	X509_free(x);
	return d;
}

/* Lengths are 16 bits and a list is capped: a builder refuses what a
 * reader would refuse. */
START_TEST(oversized_lists)
{
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_ITL_NAME,
				 .timestamp = 3};
	X509 *signer = pt_testcert(rsa_1024, "signer", 1);
	der_t sd = der_of(signer);
	pt_tlv_entry_t e[18] = {{.role = PT_TLV_ROLE_SAST,
				 .cert_der = sd.p,
				 .cert_len = sd.n}};
	der_t huge = big_cert(rsa_1024, 2, 65000);
	ck_assert_uint_le(huge.n, PT_CERT_DER_MAX);
	ck_assert_uint_gt(huge.n, 65300);
	e[1] = (pt_tlv_entry_t){.role = PT_TLV_ROLE_TVS,
				.cert_der = huge.p,
				.cert_len = huge.n};
	uint8_t *out = NULL;
	size_t n = 0;
	pt_tlv_diag_t d;
	int r = pt_tlv_build(e, 2, &o, rsa_1024, signer, &out, &n, &d);
	refused(r, PT_ERR_TOO_LARGE, "16-bit", &d, out);
	free(huge.p);

	der_t bigs[17];
	for (size_t i = 0; i < 17; i++) {
		bigs[i] = big_cert(rsa_1024, 10 + (uint32_t)i, 61800);
		e[1 + i] = (pt_tlv_entry_t){.role = PT_TLV_ROLE_TVS,
					    .cert_der = bigs[i].p,
					    .cert_len = bigs[i].n};
	}
	r = pt_tlv_build(e, 18, &o, rsa_1024, signer, &out, &n, &d);
	refused(r, PT_ERR_TOO_LARGE, "limit", &d, out);
	/* One fewer fits, and reads back. */
	build_ok(e, 17, &o, rsa_1024, signer, &out, &n);
	ck_assert_uint_gt(n, 1000000);
	ck_assert_int_eq(check_file(out, n, &d), PT_OK);
	free(out);
	for (size_t i = 0; i < 17; i++)
		free(bigs[i].p);
	free(sd.p);
	X509_free(signer);
}
END_TEST

/* ---- every mutation of a valid file ---- */

static uint8_t *mutation_file(size_t *n, EVP_PKEY *signer_key,
			      pt_tlv_digest_t digest)
{
	list_t l = {0};
	list_add(&l, signer_key, "signer", 0x81, PT_TLV_ROLE_SAST, NULL);
	list_add(&l, ec_256, "tftp-ec", 0x42, PT_TLV_ROLE_TFTP, "host");
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_ITL_NAME,
				 .timestamp = 77,
				 .digest = digest};
	uint8_t *bytes = NULL;
	build_ok(l.e, l.n, &o, signer_key, l.certs[0], &bytes, n);
	list_clear(&l);
	pt_tlv_diag_t d;
	ck_assert_int_eq(check_file(bytes, *n, &d), PT_OK);
	return bytes;
}

static void expect_rejected(const uint8_t *p, size_t n, const char *what,
			    size_t where, unsigned how)
{
	pt_tlv_diag_t d;
	int r = check_file(p, n, &d);
	ck_assert_msg(r != PT_OK, "%s at %zu (%u) was accepted", what, where,
		      how);
	ck_assert_msg(d.text[0] != '\0', "%s at %zu: no diagnosis", what,
		      where);
}

START_TEST(every_bit_flip_is_rejected)
{
	size_t n = 0;
	uint8_t *good = mutation_file(&n, rsa_1024, PT_TLV_DIGEST_SHA1);
	uint8_t *m = malloc(n);
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(m, good, n);
			m[i] ^= (uint8_t)(1u << bit);
			expect_rejected(m, n, "bit flip", i, bit);
		}
	}
	free(m);
	free(good);
}
END_TEST

START_TEST(every_byte_flip_is_rejected)
{
	size_t n = 0;
	uint8_t *good = mutation_file(&n, rsa_a, PT_TLV_DIGEST_SHA512);
	uint8_t *m = malloc(n);
	for (size_t i = 0; i < n; i++) {
		memcpy(m, good, n);
		m[i] ^= 0xff;
		expect_rejected(m, n, "byte flip", i, 0xff);
	}
	free(m);
	free(good);
}
END_TEST

static void set_u16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Every length field (each item's, and the values of H and R) set to
 * neighbouring and extreme values. */
START_TEST(every_length_change_is_rejected)
{
	size_t n = 0;
	uint8_t *good = mutation_file(&n, rsa_1024, PT_TLV_DIGEST_SHA1);
	pt_tlv_file_t *f = parse_ok(good, n);
	size_t fields[64];
	size_t nf = 0;
	for (size_t i = 0; i < f->header.n_items; i++)
		fields[nf++] = f->header.items[i].offset + 1;
	fields[nf++] = 8; /* H */
	for (size_t r = 0; r < f->n_records; r++) {
		const pt_tlv_record_t *rec = &f->records[r];
		fields[nf++] = rec->offset + 3; /* R */
		for (size_t i = 0; i < rec->n_items; i++)
			fields[nf++] = rec->items[i].offset + 1;
	}
	ck_assert_uint_ge(nf, 30);
	uint8_t *m = malloc(n);
	for (size_t i = 0; i < nf; i++) {
		unsigned v = (unsigned)((good[fields[i]] << 8) |
					good[fields[i] + 1]);
		unsigned tries[] = {v + 1, v - 1, v + 2, v - 2, v + 4,
				    0,     1,     0xffff, v ^ 0x100, v ^ 0x8000};
		for (size_t t = 0; t < sizeof tries / sizeof tries[0]; t++) {
			if ((tries[t] & 0xffff) == v)
				continue;
			memcpy(m, good, n);
			set_u16(m + fields[i], tries[t] & 0xffff);
			expect_rejected(m, n, "length change", fields[i],
					tries[t] & 0xffff);
		}
	}
	free(m);
	pt_tlv_file_destroy(&f);
	free(good);
}
END_TEST

START_TEST(every_truncation_is_rejected)
{
	size_t n = 0;
	uint8_t *good = mutation_file(&n, rsa_1024, PT_TLV_DIGEST_SHA1);
	for (size_t cut = 0; cut < n; cut++) {
		/* A fresh copy of exactly cut bytes, so ASan sees any read
		 * past the end. */
		uint8_t *m = malloc(cut ? cut : 1);
		memcpy(m, good, cut);
		expect_rejected(m, cut, "truncation", cut, 0);
		free(m);
	}
	free(good);
}
END_TEST

START_TEST(trailing_bytes_are_rejected)
{
	size_t n = 0;
	uint8_t *good = mutation_file(&n, rsa_1024, PT_TLV_DIGEST_SHA1);
	pt_tlv_file_t *f = parse_ok(good, n);
	size_t last = f->records[f->n_records - 1].offset;
	pt_tlv_file_destroy(&f);
	uint8_t *m = malloc(2 * n);
	pt_tlv_diag_t d;
	for (size_t extra = 1; extra <= 8; extra++) {
		memcpy(m, good, n);
		memset(m + n, extra == 1 ? 0x0d : 0, extra);
		int r = check_file(m, n + extra, &d);
		ck_assert_int_eq(r, extra < 5 ? PT_ERR_TRAILING
					      : PT_ERR_MALFORMED);
		ck_assert_uint_eq(d.offset, n);
	}
	/* A copy of the last record: well formed, not signed. */
	memcpy(m, good, n);
	memcpy(m + n, good + last, n - last);
	ck_assert_int_eq(check_file(m, n + n - last, &d), PT_ERR_AUTH);
	free(m);
	free(good);
}
END_TEST

/* ---- names and serials (§4.3) ---- */

static void expect_name(const char *const *attrs, const char *want)
{
	uint8_t s[] = {1};
	X509 *x = pt_testcert_names(rsa_1024, attrs, s, 1);
	char *text = NULL;
	ck_assert_int_eq(pt_certname_text(X509_get_subject_name(x), &text),
			 PT_OK);
	ck_assert_str_eq(text, want);
	free(text);
	X509_free(x);
}

START_TEST(name_strings)
{
	/* Encoded order, ',' without spaces. */
	expect_name((const char *[]){"CN=tftp.example", "O=Example",
				     "OU=Voice", NULL},
		    "CN=tftp.example,O=Example,OU=Voice");
	expect_name((const char *[]){"C=US", "ST=CA", "L=San Jose",
				     "O=Ex", "OU=V", "CN=n", NULL},
		    "C=US,ST=CA,L=San Jose,O=Ex,OU=V,CN=n");
	expect_name((const char *[]){"DC=example", "DC=com", "UID=u1",
				     "street=Main 1", NULL},
		    "DC=example,DC=com,UID=u1,STREET=Main 1");
	/* RFC 4514 escaping. */
	expect_name((const char *[]){"CN=a,b+c;d<e>f\"g\\h", NULL},
		    "CN=a\\,b\\+c\\;d\\<e\\>f\\\"g\\\\h");
	expect_name((const char *[]){"CN=#lead", "O= padded ", NULL},
		    "CN=\\#lead,O=\\ padded\\ ");
	/* UTF-8 stays UTF-8. */
	expect_name((const char *[]){"CN=T\xc3\xa9l\xc3\xa9phone", NULL},
		    "CN=T\xc3\xa9l\xc3\xa9phone");
	/* Other attributes: the dotted OID, then the value's text, as the
	 * compatible tools print it (lib/certname.h). */
	expect_name((const char *[]){"CN=x", "emailAddress=a@b", NULL},
		    "CN=x,1.2.840.113549.1.9.1=a@b");
	expect_name((const char *[]){NULL}, "");
}
END_TEST

START_TEST(serial_bytes)
{
	struct {
		const char *hex;
		const char *want;
	} cases[] = {
		{"01", "01"},
		{"0080", "80"},
		{"80", "80"},
		{"00000102", "0102"},
		{"ff00112233445566778899aabbccddeeff", "ff00112233445566778899aabbccddeeff"},
		{"8877665544332211ffeeddccbbaa9988", "8877665544332211ffeeddccbbaa9988"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t s[32], want[32];
		size_t sn = unhex(cases[i].hex, s, sizeof s);
		size_t wn = unhex(cases[i].want, want, sizeof want);
		X509 *x = pt_testcert_names(rsa_1024,
					  (const char *[]){"CN=s", NULL}, s,
					  sn);
		uint8_t *got = NULL;
		size_t n = 0;
		ck_assert_int_eq(pt_certname_serial(x, &got, &n), PT_OK);
		ck_assert_uint_eq(n, wn);
		ck_assert_mem_eq(got, want, wn);
		free(got);
		X509_free(x);
	}
}
END_TEST

START_TEST(role_and_tag_names)
{
	ck_assert_str_eq(pt_tlv_role_name(0),
			 "System Administrator Security Token");
	ck_assert_str_eq(pt_tlv_role_name(3), "TFTP");
	ck_assert_str_eq(pt_tlv_role_name(4), "CAPF");
	ck_assert_str_eq(pt_tlv_role_name(21), "TVS");
	ck_assert_str_eq(pt_tlv_role_name(2), "CCM+TFTP");
	ck_assert_ptr_null(pt_tlv_role_name(5));
	ck_assert_str_eq(pt_tlv_role_key(21), "tvs");
	ck_assert_ptr_null(pt_tlv_role_key(99));
	ck_assert_str_eq(pt_tlv_record_tag_name(12), "HASH ALGORITHM");
	ck_assert_str_eq(pt_tlv_record_tag_name(9), "CERTIFICATE");
	ck_assert_str_eq(pt_tlv_record_tag_name(13), "");
	ck_assert_str_eq(pt_tlv_header_tag_name(28), "LISTVERSION");
	ck_assert_str_eq(pt_tlv_header_tag_name(20), "");
}
END_TEST

static Suite *tlv_suite(void)
{
	Suite *s = suite_create("tlv");
	TCase *tc = tcase_create("known answers");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, kat_builds_the_spec_bytes);
	tcase_add_test(tc, kat_parses_every_field);
	suite_add_tcase(s, tc);

	tc = tcase_create("round trips");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, itl_round_trip_sha1);
	tcase_add_test(tc, itl_round_trip_sha512);
	tcase_add_test(tc, ctl_round_trip);
	tcase_add_test(tc, rsa_key_sizes);
	tcase_add_test(tc, list_without_records);
	tcase_add_test(tc, builder_refusals);
	tcase_add_test(tc, oversized_lists);
	suite_add_tcase(s, tc);

	tc = tcase_create("mutations");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, every_bit_flip_is_rejected);
	tcase_add_test(tc, every_byte_flip_is_rejected);
	tcase_add_test(tc, every_length_change_is_rejected);
	tcase_add_test(tc, every_truncation_is_rejected);
	tcase_add_test(tc, trailing_bytes_are_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, name_strings);
	tcase_add_test(tc, serial_bytes);
	tcase_add_test(tc, role_and_tag_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(tlv_suite());
}
