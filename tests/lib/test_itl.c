/* The per-node ITL: records, roles and order, signer, verification, the
 * recovery token, EC TVS certificates, skipped and refused inputs, the
 * inputs digest, the ITLSEP<MAC>.tlv form. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/itl.h"
#include "lib/tlv.h"
#include "pt_test.h"
#include "pt_testcert.h"

/* ---- fixtures ---- */

static EVP_PKEY *tftp_key, *capf_key, *rec_key, *tvs1_key, *tvs2_key,
	*ec_key;
static X509 *tftp_cert, *capf_cert, *rec_cert, *tvs1_cert, *tvs2_cert;

typedef struct der {
	uint8_t *p;
	size_t n;
} der_t;

static der_t tftp_der, capf_der, rec_der, tvs1_der, tvs2_der;

static der_t der_of(X509 *x)
{
	der_t d;
	ck_assert_int_eq(pt_certs_encode_der(x, &d.p, &d.n), PT_OK);
	return d;
}

static void setup(void)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &tftp_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &capf_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rec_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &tvs1_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &tvs2_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC384, &ec_key), PT_OK);
	tftp_cert = pt_testcert(tftp_key, "pub-tftp", 0x1001);
	capf_cert = pt_testcert(capf_key, "CAPF-0a0b0c0d", 0x1002);
	rec_cert = pt_testcert(rec_key, "ITLRECOVERY_pub", 0x1003);
	tvs1_cert = pt_testcert(tvs1_key, "pub-tvs", 0x1004);
	tvs2_cert = pt_testcert(tvs2_key, "sub1-tvs", 0x1005);
	tftp_der = der_of(tftp_cert);
	capf_der = der_of(capf_cert);
	rec_der = der_of(rec_cert);
	tvs1_der = der_of(tvs1_cert);
	tvs2_der = der_of(tvs2_cert);
}

static void teardown(void)
{
	EVP_PKEY *keys[] = {tftp_key, capf_key, rec_key, tvs1_key, tvs2_key,
			    ec_key};
	X509 *certs[] = {tftp_cert, capf_cert, rec_cert, tvs1_cert, tvs2_cert};
	der_t ders[] = {tftp_der, capf_der, rec_der, tvs1_der, tvs2_der};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		EVP_PKEY_free(keys[i]);
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		X509_free(certs[i]);
		free(ders[i].p);
	}
}

/* The publisher and one subscriber (EC TVS key). */
static pt_itl_tvs_t two_nodes[2];

static pt_itl_inputs_t cluster_inputs(void)
{
	two_nodes[0] = (pt_itl_tvs_t){"pub", "10.0.0.1", tvs1_der.p,
				      tvs1_der.n};
	two_nodes[1] = (pt_itl_tvs_t){"sub1", "sub1.example", tvs2_der.p,
				      tvs2_der.n};
	return (pt_itl_inputs_t){
		.tftp_cert = tftp_cert,
		.capf_der = capf_der.p,
		.capf_len = capf_der.n,
		.recovery_der = rec_der.p,
		.recovery_len = rec_der.n,
		.tvs = two_nodes,
		.n_tvs = 2,
	};
}

static uint8_t *build_ok(const pt_itl_inputs_t *in, uint32_t ts,
			 size_t *len, size_t *n_records)
{
	uint8_t *out = NULL;
	pt_tlv_diag_t d;
	int r = pt_itl_build(in, tftp_key, ts, &out, len, n_records, &d);
	ck_assert_msg(r == PT_OK, "build: %d %s", r, d.text);
	ck_assert_ptr_nonnull(out);
	return out;
}

static pt_tlv_file_t *parse_verified(const uint8_t *p, size_t n,
				     size_t *signer)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	int r = pt_tlv_parse(p, n, &f, &d);
	ck_assert_msg(r == PT_OK, "parse: %s", d.text);
	r = pt_tlv_verify(f, NULL, signer, &d);
	ck_assert_msg(r == PT_OK, "verify: %s", d.text);
	return f;
}

static void expect_record(const pt_tlv_file_t *f, size_t i, uint16_t role,
			  const der_t *cert, const char *dns)
{
	ck_assert_uint_lt(i, f->n_records);
	const pt_tlv_record_t *r = &f->records[i];
	ck_assert_msg(r->role == role, "record %zu: role %u, want %u", i + 1,
		      r->role, role);
	ck_assert_uint_eq(r->cert.len, cert->n);
	ck_assert_mem_eq(r->cert.data, cert->p, cert->n);
	pt_tlv_entry_t e;
	ck_assert_int_eq(pt_tlv_record_entry(r, &e), PT_OK);
	if (dns)
		ck_assert_str_eq(e.dns_name, dns);
	else
		ck_assert_ptr_null(e.dns_name);
}

/* ---- records ---- */

START_TEST(records_roles_and_order)
{
	pt_itl_inputs_t in = cluster_inputs();
	size_t len = 0, n = 0, signer = 99;
	uint8_t *bytes = build_ok(&in, 1700000000u, &len, &n);
	pt_tlv_file_t *f = parse_verified(bytes, len, &signer);

	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(f->n_records, 6);
	expect_record(f, 0, PT_TLV_ROLE_SAST, &tftp_der, NULL);
	expect_record(f, 1, PT_TLV_ROLE_TFTP, &tftp_der, NULL);
	expect_record(f, 2, PT_TLV_ROLE_CAPF, &capf_der, NULL);
	expect_record(f, 3, PT_TLV_ROLE_TVS, &tvs1_der, "10.0.0.1");
	expect_record(f, 4, PT_TLV_ROLE_TVS, &tvs2_der, "sub1.example");
	expect_record(f, 5, PT_TLV_ROLE_SAST, &rec_der, NULL);

	/* The TFTP certificate signed; the recovery token did not. */
	ck_assert_uint_eq(signer, 0);
	ck_assert_str_eq(f->header.signer_name, "CN=pub-tftp");
	ck_assert_str_eq(f->header.file_name, PT_TLV_ITL_NAME);
	ck_assert_uint_eq(f->header.timestamp, 1700000000u);
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA1);
	ck_assert_uint_eq(f->header.list_version[0], 1);
	ck_assert_uint_eq(f->header.list_version[1], 0);

	/* The EC TVS record carries the uncompressed point. */
	ck_assert_uint_eq(f->records[4].public_key.len, 65);
	ck_assert_uint_eq(f->records[4].public_key.data[0], 0x04);

	/* Verified against the TFTP certificate as an outside token too, but
	 * not against the recovery certificate. */
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_verify(f, tftp_cert, NULL, &d), PT_OK);
	ck_assert_int_ne(pt_tlv_verify(f, rec_cert, NULL, &d), PT_OK);
	pt_tlv_file_destroy(&f);
	free(bytes);
}
END_TEST

START_TEST(sha512_from_the_parameter)
{
	pt_tlv_digest_t dg = 0;
	ck_assert_int_eq(pt_itl_digest_parse("sha512", &dg), PT_OK);
	ck_assert_int_eq(dg, PT_TLV_DIGEST_SHA512);
	ck_assert_int_eq(pt_itl_digest_parse("SHA1", &dg), PT_OK);
	ck_assert_int_eq(dg, PT_TLV_DIGEST_SHA1);
	ck_assert_int_eq(pt_itl_digest_parse("sha256", &dg), PT_ERR_INVALID);
	ck_assert_int_eq(pt_itl_digest_parse("", &dg), PT_ERR_INVALID);
	ck_assert_int_eq(pt_itl_digest_parse(NULL, &dg), PT_ERR_INVALID);

	pt_itl_inputs_t in = cluster_inputs();
	in.digest = PT_TLV_DIGEST_SHA512;
	size_t len = 0, signer = 99;
	uint8_t *bytes = build_ok(&in, 1700000001u, &len, NULL);
	pt_tlv_file_t *f = parse_verified(bytes, len, &signer);
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA512);
	ck_assert_uint_eq(signer, 0);
	pt_tlv_file_destroy(&f);
	free(bytes);
}
END_TEST

START_TEST(deterministic_given_the_timestamp)
{
	pt_itl_inputs_t in = cluster_inputs();
	size_t a_len = 0, b_len = 0, c_len = 0;
	uint8_t *a = build_ok(&in, 1700000000u, &a_len, NULL);
	uint8_t *b = build_ok(&in, 1700000000u, &b_len, NULL);
	uint8_t *c = build_ok(&in, 1700000002u, &c_len, NULL);
	ck_assert_uint_eq(a_len, b_len);
	ck_assert_mem_eq(a, b, a_len);
	ck_assert_uint_eq(a_len, c_len);
	ck_assert_int_ne(memcmp(a, c, a_len), 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(optional_and_skipped_inputs)
{
	/* A single node without CAPF or recovery certificate (a store from
	 * before the cluster record named them): SAST, TFTP, TVS. */
	pt_itl_tvs_t one = {"pub", NULL, tvs1_der.p, tvs1_der.n};
	pt_itl_inputs_t in = {.tftp_cert = tftp_cert, .tvs = &one,
			      .n_tvs = 1};
	size_t len = 0, n = 0, signer = 99;
	uint8_t *bytes = build_ok(&in, 1, &len, &n);
	pt_tlv_file_t *f = parse_verified(bytes, len, &signer);
	ck_assert_uint_eq(n, 3);
	expect_record(f, 0, PT_TLV_ROLE_SAST, &tftp_der, NULL);
	expect_record(f, 1, PT_TLV_ROLE_TFTP, &tftp_der, NULL);
	expect_record(f, 2, PT_TLV_ROLE_TVS, &tvs1_der, NULL);
	pt_tlv_file_destroy(&f);
	free(bytes);

	/* A node without a TVS certificate and a node repeating another's
	 * add nothing; an empty address means no DNS name item. */
	pt_itl_tvs_t nodes[] = {
		{"a", "", tvs1_der.p, tvs1_der.n},
		{"b", "b.example", NULL, 0},
		{"c", "c.example", tvs1_der.p, tvs1_der.n},
		{"d", "d.example", tvs2_der.p, tvs2_der.n},
	};
	in = cluster_inputs();
	in.tvs = nodes;
	in.n_tvs = 4;
	bytes = build_ok(&in, 2, &len, &n);
	f = parse_verified(bytes, len, &signer);
	ck_assert_uint_eq(n, 6);
	expect_record(f, 3, PT_TLV_ROLE_TVS, &tvs1_der, NULL);
	expect_record(f, 4, PT_TLV_ROLE_TVS, &tvs2_der, "d.example");
	expect_record(f, 5, PT_TLV_ROLE_SAST, &rec_der, NULL);
	pt_tlv_file_destroy(&f);
	free(bytes);
}
END_TEST

static void refused(const pt_itl_inputs_t *in, EVP_PKEY *key, int want,
		    const char *fragment)
{
	uint8_t *out = (uint8_t *)&out;
	size_t len = 7;
	pt_tlv_diag_t d;
	int r = pt_itl_build(in, key, 1, &out, &len, NULL, &d);
	ck_assert_int_eq(r, want);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	ck_assert_msg(strstr(d.text, fragment), "diag '%s' lacks '%s'",
		      d.text, fragment);
}

START_TEST(refusals)
{
	pt_itl_inputs_t in = cluster_inputs();

	/* An EC TFTP key cannot sign (no EC signer encoding, §7). */
	X509 *ec_cert = pt_testcert(ec_key, "ec-tftp", 7);
	pt_itl_inputs_t ec = in;
	ec.tftp_cert = ec_cert;
	refused(&ec, ec_key, PT_ERR_INVALID, "not RSA");
	X509_free(ec_cert);

	/* A key that is not the certificate's. */
	refused(&in, capf_key, PT_ERR_INVALID, "does not belong");

	/* No TFTP certificate or key. */
	pt_itl_inputs_t none = in;
	none.tftp_cert = NULL;
	refused(&none, tftp_key, PT_ERR_INVALID, "no TFTP certificate");
	refused(&in, NULL, PT_ERR_INVALID, "no TFTP certificate");

	/* Bytes that are no certificate, named by node or input. */
	uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	pt_itl_tvs_t bad[] = {
		{"pub", "10.0.0.1", tvs1_der.p, tvs1_der.n},
		{"sub9", "10.0.0.9", junk, sizeof junk},
	};
	pt_itl_inputs_t b = in;
	b.tvs = bad;
	b.n_tvs = 2;
	refused(&b, tftp_key, PT_ERR_INVALID, "TVS certificate of node sub9");
	b = in;
	b.capf_der = junk;
	b.capf_len = sizeof junk;
	refused(&b, tftp_key, PT_ERR_INVALID, "CAPF certificate");
	b = in;
	b.recovery_der = junk;
	b.recovery_len = sizeof junk;
	refused(&b, tftp_key, PT_ERR_INVALID, "ITL recovery certificate");

	/* The recovery certificate must not be the signer's own: two SAST
	 * records for one certificate. */
	b = in;
	b.recovery_der = tftp_der.p;
	b.recovery_len = tftp_der.n;
	refused(&b, tftp_key, PT_ERR_INVALID, "same certificate");
}
END_TEST

/* ---- inputs digest ---- */

static void digest_of(const pt_itl_inputs_t *in, uint8_t out[32])
{
	ck_assert_int_eq(pt_itl_inputs_digest(in, out), PT_OK);
}

START_TEST(inputs_digest)
{
	pt_itl_inputs_t in = cluster_inputs();
	uint8_t base[32], again[32], other[32];
	digest_of(&in, base);
	digest_of(&in, again);
	ck_assert_mem_eq(base, again, 32);

	/* Every input counts. */
	pt_itl_inputs_t v = in;
	v.digest = PT_TLV_DIGEST_SHA512;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(base, other, 32), 0);

	v = in;
	v.capf_der = rec_der.p;
	v.capf_len = rec_der.n;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(base, other, 32), 0);

	v = in;
	v.recovery_der = NULL;
	v.recovery_len = 0;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(base, other, 32), 0);

	v = in;
	v.tftp_cert = capf_cert;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(base, other, 32), 0);

	v = in;
	v.n_tvs = 1;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(base, other, 32), 0);

	pt_itl_tvs_t moved[2] = {two_nodes[0], two_nodes[1]};
	moved[1].address = "10.0.0.2";
	v = in;
	v.tvs = moved;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(base, other, 32), 0);

	/* The node name is not part of the list. */
	moved[1] = two_nodes[1];
	moved[1].node = "renamed";
	digest_of(&v, other);
	ck_assert_mem_eq(base, other, 32);

	/* Framing: moving bytes between the CAPF and recovery fields is a
	 * different input. */
	v = in;
	v.capf_der = NULL;
	v.capf_len = 0;
	v.recovery_der = capf_der.p;
	v.recovery_len = capf_der.n;
	uint8_t swapped[32];
	digest_of(&v, swapped);
	v = in;
	v.recovery_der = NULL;
	v.recovery_len = 0;
	digest_of(&v, other);
	ck_assert_int_ne(memcmp(swapped, other, 32), 0);

	pt_itl_inputs_t empty = {0};
	ck_assert_int_eq(pt_itl_inputs_digest(&empty, other), PT_ERR_INVALID);
}
END_TEST

/* ---- ITLSEP<MAC>.tlv ---- */

START_TEST(sep_name)
{
	char buf[PT_ITL_SEP_NAME_LEN];
	ck_assert_int_eq(pt_itl_sep_name("0011aabbCCdd", buf, sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, "ITLSEP0011AABBCCDD.tlv");
	ck_assert_int_eq(pt_itl_sep_name("0011aabbccd", buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_itl_sep_name("0011aabbccddee", buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_itl_sep_name("0011aabbccdg", buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_itl_sep_name(NULL, buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_itl_sep_name("0011aabbccdd", buf, sizeof buf - 1),
			 PT_ERR_TOO_LARGE);
}
END_TEST

START_TEST(sep_file)
{
	pt_itl_inputs_t in = cluster_inputs();
	size_t len = 0, sep_len = 0, signer = 99;
	uint8_t *itl = build_ok(&in, 1700000003u, &len, NULL);
	uint8_t *sep = NULL;
	pt_tlv_diag_t d;
	int r = pt_itl_build_sep(&in, tftp_key, "0011AABBCCDD", 1700000003u,
				 &sep, &sep_len, &d);
	ck_assert_msg(r == PT_OK, "build_sep: %s", d.text);

	/* Same records, and the generic name item (spec §1). */
	pt_tlv_file_t *f = parse_verified(sep, sep_len, &signer);
	ck_assert_str_eq(f->header.file_name, PT_TLV_ITL_NAME);
	ck_assert_uint_eq(f->n_records, 6);
	ck_assert_uint_eq(signer, 0);
	ck_assert_uint_eq(sep_len, len);
	ck_assert_mem_eq(sep, itl, len);
	pt_tlv_file_destroy(&f);
	free(sep);
	free(itl);

	sep = (uint8_t *)&sep;
	r = pt_itl_build_sep(&in, tftp_key, "SEP0011AABBCCDD", 1, &sep,
			     &sep_len, &d);
	ck_assert_int_eq(r, PT_ERR_INVALID);
	ck_assert_ptr_null(sep);
	ck_assert_ptr_nonnull(strstr(d.text, "MAC"));
}
END_TEST

static Suite *itl_suite(void)
{
	Suite *s = suite_create("itl");
	TCase *tc = tcase_create("build");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, records_roles_and_order);
	tcase_add_test(tc, sha512_from_the_parameter);
	tcase_add_test(tc, deterministic_given_the_timestamp);
	tcase_add_test(tc, optional_and_skipped_inputs);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);

	tc = tcase_create("digest");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inputs_digest);
	suite_add_tcase(s, tc);

	tc = tcase_create("sep");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sep_name);
	tcase_add_test(tc, sep_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(itl_suite());
}
