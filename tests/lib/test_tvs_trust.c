/* TVS trust decisions: roles from purposes, node and cluster certificates,
 * TTLs, expiry. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tvs_trust.h"
#include "pt_test.h"
#include "pt_testcert.h"

#define NOW 1700000000
#define YEAR (365 * 86400)

struct cert {
	uint8_t *der;
	size_t len;
	uint8_t sha[32];
};

static EVP_PKEY *key;
static struct cert a, b, c;

static void make(struct cert *out, const char *cn, uint32_t serial)
{
	X509 *x = pt_testcert(key, cn, serial);
	ck_assert_int_eq(pt_certs_encode_der(x, &out->der, &out->len), PT_OK);
	ck_assert_int_eq(pt_certs_sha256(out->der, out->len, out->sha), PT_OK);
	X509_free(x);
}

static void setup(void)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	make(&a, "a", 1);
	make(&b, "b", 2);
	make(&c, "c", 3);
}

static void teardown(void)
{
	free(a.der);
	free(b.der);
	free(c.der);
	EVP_PKEY_free(key);
}

static Pt__TrustEntry entry(const struct cert *ct, Pt__TrustPurpose *p,
			    size_t n, uint32_t ttl)
{
	Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
	e.der.data = ct->der;
	e.der.len = ct->len;
	e.sha256.data = (uint8_t *)ct->sha;
	e.sha256.len = 32;
	e.purposes = p;
	e.n_purposes = n;
	e.ttl_seconds = ttl;
	return e;
}

static void assert_roles(const pt_tvs_verdict_t *v, const uint8_t *want,
			 size_t n)
{
	ck_assert_uint_eq(v->status, PT_TVS_STATUS_VALID);
	ck_assert_uint_eq(v->n_roles, n);
	ck_assert_mem_eq(v->roles, want, n);
}

START_TEST(purposes_map_to_sorted_roles)
{
	Pt__TrustPurpose p[] = {
		PT__TRUST_PURPOSE__TRUST_TVS,
		PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF,
		PT__TRUST_PURPOSE__TRUST_CAPF,
		PT__TRUST_PURPOSE__TRUST_CALLMANAGER,
		PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY,
		PT__TRUST_PURPOSE__TRUST_SAST,
		PT__TRUST_PURPOSE__TRUST_TFTP,
		PT__TRUST_PURPOSE__TRUST_APP_SERVER,
		(Pt__TrustPurpose)99,
		PT__TRUST_PURPOSE__TRUST_UNSPECIFIED,
	};
	Pt__TrustEntry e = entry(&a, p, sizeof p / sizeof p[0], 0);
	pt_tvs_trust_in_t in = {.entry = &e};
	pt_tvs_verdict_t v;
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	static const uint8_t want[] = {0, 1, 3, 4, 7, 21};
	assert_roles(&v, want, sizeof want);
	ck_assert(v.has_ttl);
	ck_assert_uint_eq(v.ttl, PT_TVS_TTL_DEFAULT);

	/* One purpose at a time, as the issue lists them. */
	static const struct {
		Pt__TrustPurpose p;
		uint8_t role;
	} one[] = {
		{PT__TRUST_PURPOSE__TRUST_CAPF, 4},
		{PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF, 4},
		{PT__TRUST_PURPOSE__TRUST_CALLMANAGER, 1},
		{PT__TRUST_PURPOSE__TRUST_TVS, 21},
		{PT__TRUST_PURPOSE__TRUST_TFTP, 3},
		{PT__TRUST_PURPOSE__TRUST_SAST, 0},
		{PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY, 0},
		{PT__TRUST_PURPOSE__TRUST_APP_SERVER, 7},
	};
	for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
		Pt__TrustPurpose q = one[i].p;
		e = entry(&a, &q, 1, 0);
		ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR,
						     NOW, &v),
				 PT_TVS_KNOWN);
		assert_roles(&v, &one[i].role, 1);
	}
	/* Only unknown purposes: valid, with no roles (spec §7 skips names
	 * the server does not know). */
	Pt__TrustPurpose unknown = (Pt__TrustPurpose)42;
	e = entry(&a, &unknown, 1, 0);
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	ck_assert_uint_eq(v.status, PT_TVS_STATUS_VALID);
	ck_assert_uint_eq(v.n_roles, 0);
}
END_TEST

START_TEST(nodes_and_cluster)
{
	Pt__Node n1 = PT__NODE__INIT, n2 = PT__NODE__INIT;
	n1.tftp_cert_der = (ProtobufCBinaryData){a.len, a.der};
	n1.tvs_cert_der = (ProtobufCBinaryData){b.len, b.der};
	const Pt__Node *nodes[3] = {&n2, NULL, &n1};
	Pt__Cluster cl = PT__CLUSTER__INIT;
	cl.capf_cert_der = (ProtobufCBinaryData){c.len, c.der};
	pt_tvs_trust_in_t in = {.nodes = nodes, .n_nodes = 3, .cluster = &cl};
	pt_tvs_verdict_t v;

	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	static const uint8_t tftp[] = {2, 3};
	assert_roles(&v, tftp, 2);
	ck_assert_uint_eq(v.ttl, PT_TVS_TTL_DEFAULT);
	ck_assert_int_eq(pt_tvs_trust_decide(&in, b.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	static const uint8_t tvs[] = {21};
	assert_roles(&v, tvs, 1);
	ck_assert_int_eq(pt_tvs_trust_decide(&in, c.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	static const uint8_t capf[] = {4};
	assert_roles(&v, capf, 1);

	/* The node's trust entry (TFTP, with its TTL) merges with the node
	 * record. */
	Pt__TrustPurpose p = PT__TRUST_PURPOSE__TRUST_TFTP;
	Pt__TrustEntry e = entry(&a, &p, 1, 600);
	in.entry = &e;
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	assert_roles(&v, tftp, 2);
	ck_assert_uint_eq(v.ttl, 600);

	/* An entry handed in for another certificate does not count. */
	uint8_t other[32];
	memset(other, 0xab, sizeof other);
	ck_assert_int_eq(pt_tvs_trust_decide(&in, other, NOW + YEAR, NOW, &v),
			 PT_TVS_UNKNOWN);
	ck_assert_uint_eq(v.status, PT_TVS_STATUS_INVALID);
	ck_assert_uint_eq(v.n_roles, 0);
	ck_assert(!v.has_ttl);

	pt_tvs_trust_in_t empty = {0};
	ck_assert_int_eq(pt_tvs_trust_decide(&empty, a.sha, NOW + YEAR, NOW,
					     &v),
			 PT_TVS_UNKNOWN);
}
END_TEST

START_TEST(ttl_and_expiry)
{
	Pt__TrustPurpose p = PT__TRUST_PURPOSE__TRUST_CALLMANAGER;
	Pt__TrustEntry e = entry(&a, &p, 1, 3600);
	pt_tvs_trust_in_t in = {.entry = &e};
	pt_tvs_verdict_t v;

	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	ck_assert_uint_eq(v.ttl, 3600);
	/* Capped at the seconds the certificate has left. */
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + 100, NOW, &v),
			 PT_TVS_KNOWN);
	ck_assert_uint_eq(v.ttl, 100);
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + 1, NOW, &v),
			 PT_TVS_KNOWN);
	ck_assert_uint_eq(v.ttl, 1);
	/* notAfter reached or passed: invalid, no roles, no TTL. */
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW, NOW, &v),
			 PT_TVS_EXPIRED);
	ck_assert_uint_eq(v.status, PT_TVS_STATUS_INVALID);
	ck_assert_uint_eq(v.n_roles, 0);
	ck_assert(!v.has_ttl);
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW - YEAR, NOW, &v),
			 PT_TVS_EXPIRED);
	/* Unknown stays unknown whatever the dates. */
	ck_assert_int_eq(pt_tvs_trust_decide(&in, b.sha, NOW - YEAR, NOW, &v),
			 PT_TVS_UNKNOWN);

	e.ttl_seconds = 0;
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	ck_assert_uint_eq(v.ttl, 86400);
	e.ttl_seconds = 4000000000u;
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + 10 * YEAR, NOW,
					     &v),
			 PT_TVS_KNOWN);
	ck_assert_uint_eq(v.ttl, PT_TVS_TTL_MAX);

	const char *why = NULL;
	ck_assert_int_eq(pt_tvs_trust_ttl_check(1, &why), PT_OK);
	ck_assert_int_eq(pt_tvs_trust_ttl_check(2592000, &why), PT_OK);
	ck_assert_int_eq(pt_tvs_trust_ttl_check(0, &why), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(pt_tvs_trust_ttl_check(2592001, &why),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(verdict_builds_the_spec_answer)
{
	static const uint8_t valid[] = {
		0x57, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x10,
		0x07, 0x00, 0x01, 0x00, 0x08, 0x00, 0x02, 0x01, 0x03,
		0x09, 0x00, 0x04, 0x00, 0x01, 0x51, 0x80};
	Pt__TrustPurpose p[] = {PT__TRUST_PURPOSE__TRUST_TFTP,
				PT__TRUST_PURPOSE__TRUST_CALLMANAGER};
	Pt__TrustEntry e = entry(&a, p, 2, 86400);
	pt_tvs_trust_in_t in = {.entry = &e};
	pt_tvs_verdict_t v;
	ck_assert_int_eq(pt_tvs_trust_decide(&in, a.sha, NOW + YEAR, NOW, &v),
			 PT_TVS_KNOWN);
	uint8_t out[PT_TVS_RESPONSE_MAX];
	size_t len;
	ck_assert_int_eq(pt_tvs_response_build(1, &v, out, sizeof out, &len),
			 PT_OK);
	ck_assert_uint_eq(len, sizeof valid);
	ck_assert_mem_eq(out, valid, sizeof valid);
}
END_TEST

static Suite *tvs_trust_suite(void)
{
	Suite *s = suite_create("tvs_trust");
	TCase *tc = tcase_create("decide");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, purposes_map_to_sorted_roles);
	tcase_add_test(tc, nodes_and_cluster);
	tcase_add_test(tc, ttl_and_expiry);
	tcase_add_test(tc, verdict_builds_the_spec_answer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(tvs_trust_suite());
}
