/* CTL contents, the token rules of `ctl init` and `ctl update`, and the
 * staleness check, on real certificates and real signatures. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/ctl.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "pt_test.h"
#include "pt_testcert.h"

/* Two tokens, a third one, two nodes and CAPF. */
static EVP_PKEY *k_a, *k_b, *k_c, *k_n1, *k_n2, *k_capf;
static X509 *x_a, *x_b, *x_c, *x_n1, *x_n2, *x_capf;
static uint8_t *d_a, *d_b, *d_c, *d_n1, *d_n2, *d_capf;
static size_t l_a, l_b, l_c, l_n1, l_n2, l_capf;

static void der_of(X509 *x, uint8_t **der, size_t *len)
{
	ck_assert_int_eq(pt_certs_encode_der(x, der, len), PT_OK);
}

static void keys_setup(void)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_a), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_b), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_c), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_n1), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &k_n2), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k_capf), PT_OK);
	x_a = pt_testcert(k_a, "SAST-A", 11);
	x_b = pt_testcert(k_b, "SAST-B", 12);
	x_c = pt_testcert(k_c, "SAST-C", 13);
	ck_assert_int_eq(pt_certs_build_service(k_n1, "pub1", "tftp", NULL,
						&x_n1),
			 PT_OK);
	ck_assert_int_eq(pt_certs_build_service(k_n2, "sub1", "tftp", NULL,
						&x_n2),
			 PT_OK);
	ck_assert_int_eq(pt_certs_build_capf(k_capf, NULL, &x_capf), PT_OK);
	der_of(x_a, &d_a, &l_a);
	der_of(x_b, &d_b, &l_b);
	der_of(x_c, &d_c, &l_c);
	der_of(x_n1, &d_n1, &l_n1);
	der_of(x_n2, &d_n2, &l_n2);
	der_of(x_capf, &d_capf, &l_capf);
}

static void keys_teardown(void)
{
	EVP_PKEY *k[] = {k_a, k_b, k_c, k_n1, k_n2, k_capf};
	X509 *x[] = {x_a, x_b, x_c, x_n1, x_n2, x_capf};
	uint8_t *d[] = {d_a, d_b, d_c, d_n1, d_n2, d_capf};
	for (size_t i = 0; i < 6; i++) {
		EVP_PKEY_free(k[i]);
		X509_free(x[i]);
		free(d[i]);
	}
}

static pt_ctl_cert_t tokens_ab[2];
static pt_ctl_node_t nodes[2];

static pt_ctl_inputs_t inputs(bool nonsecure)
{
	tokens_ab[0] = (pt_ctl_cert_t){d_a, l_a};
	tokens_ab[1] = (pt_ctl_cert_t){d_b, l_b};
	nodes[0] = (pt_ctl_node_t){"pub1", "10.0.0.1", d_n1, l_n1};
	nodes[1] = (pt_ctl_node_t){"sub1", "sub1.example", d_n2, l_n2};
	return (pt_ctl_inputs_t){
		.tokens = tokens_ab,
		.n_tokens = 2,
		.nodes = nodes,
		.n_nodes = 2,
		.capf_der = d_capf,
		.capf_len = l_capf,
		.nonsecure = nonsecure,
	};
}

static pt_ctl_id_t id(const uint8_t *der, size_t len)
{
	pt_ctl_id_t i;
	ck_assert_int_eq(pt_certs_sha256(der, len, i.sha256), PT_OK);
	return i;
}

START_TEST(entry_list)
{
	pt_ctl_inputs_t in = inputs(false);
	pt_tlv_entry_t *e = NULL;
	size_t n = 0, *from = NULL;
	ck_assert_int_eq(pt_ctl_entries(&in, &e, &n, &from), PT_OK);
	ck_assert_uint_eq(n, 5);
	uint16_t roles[] = {PT_TLV_ROLE_SAST, PT_TLV_ROLE_SAST,
			    PT_TLV_ROLE_CCM_TFTP, PT_TLV_ROLE_CCM_TFTP,
			    PT_TLV_ROLE_CAPF};
	const uint8_t *ders[] = {d_a, d_b, d_n1, d_n2, d_capf};
	const char *dns[] = {NULL, NULL, "10.0.0.1", "sub1.example", NULL};
	size_t node[] = {SIZE_MAX, SIZE_MAX, 0, 1, SIZE_MAX};
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(e[i].role, roles[i]);
		ck_assert_ptr_eq(e[i].cert_der, ders[i]);
		if (dns[i])
			ck_assert_str_eq(e[i].dns_name, dns[i]);
		else
			ck_assert_ptr_null(e[i].dns_name);
		ck_assert_uint_eq(from[i], node[i]);
	}
	free(e);
	free(from);

	/* A node without a certificate, no address, no CAPF. */
	nodes[1].tftp_der = NULL;
	nodes[0].address = "";
	in.capf_der = NULL;
	ck_assert_int_eq(pt_ctl_entries(&in, &e, &n, NULL), PT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_null(e[2].dns_name);
	free(e);

	/* Non-secure: nothing at all. */
	in = inputs(true);
	ck_assert_int_eq(pt_ctl_entries(&in, &e, &n, &from), PT_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(e);
	ck_assert_ptr_null(from);
}
END_TEST

static pt_tlv_file_t *build_parse(const pt_ctl_inputs_t *in, EVP_PKEY *key,
				  X509 *cert, pt_tlv_digest_t digest)
{
	uint8_t *b = NULL;
	size_t n = 0;
	pt_tlv_diag_t d;
	int r = pt_ctl_build(in, key, cert, digest, 1700000000, &b, &n, &d);
	ck_assert_msg(r == PT_OK, "build: %s", d.text);
	pt_tlv_file_t *f = NULL;
	ck_assert_int_eq(pt_tlv_parse(b, n, &f, &d), PT_OK);
	free(b);
	return f;
}

START_TEST(build_mixed_and_nonsecure)
{
	pt_ctl_inputs_t in = inputs(false);
	pt_tlv_file_t *f = build_parse(&in, k_a, x_a, PT_TLV_DIGEST_SHA512);
	size_t signer = SIZE_MAX;
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_verify(f, NULL, &signer, &d), PT_OK);
	ck_assert_uint_eq(signer, 0);
	ck_assert_uint_eq(f->n_records, 5);
	ck_assert_str_eq(f->header.file_name, PT_TLV_CTL_NAME);
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA512);
	ck_assert_uint_eq(f->header.timestamp, 1700000000);
	ck_assert_uint_eq(f->records[2].role, PT_TLV_ROLE_CCM_TFTP);
	ck_assert_mem_eq(f->records[2].dns_name.data, "10.0.0.1", 9);
	ck_assert_uint_eq(f->records[4].role, PT_TLV_ROLE_CAPF);
	/* Both tokens' certificates verify it: the other one with its own
	 * key does not sign, but a phone checks against the signer. */
	ck_assert_int_eq(pt_tlv_verify(f, x_a, NULL, &d), PT_OK);
	ck_assert_int_ne(pt_tlv_verify(f, x_b, NULL, &d), PT_OK);
	pt_ctl_gap_t *gaps = NULL;
	size_t n_gaps = 9;
	ck_assert_int_eq(pt_ctl_stale(f, &in, &gaps, &n_gaps), PT_OK);
	ck_assert_uint_eq(n_gaps, 0);
	pt_tlv_file_destroy(&f);

	/* Non-secure: signed by the first token, no records. */
	in = inputs(true);
	f = build_parse(&in, k_a, x_a, PT_TLV_DIGEST_SHA1);
	ck_assert_uint_eq(f->n_records, 0);
	ck_assert_int_eq(pt_tlv_verify(f, x_a, NULL, &d), PT_OK);
	ck_assert_int_ne(pt_tlv_verify(f, NULL, NULL, &d), PT_OK);
	ck_assert_int_eq(pt_ctl_stale(f, &in, &gaps, &n_gaps), PT_OK);
	ck_assert_uint_eq(n_gaps, 0);
	pt_tlv_file_destroy(&f);
}
END_TEST

START_TEST(build_refusals)
{
	uint8_t *b = NULL;
	size_t n = 0;
	pt_tlv_diag_t d;
	/* Only the first token signs, in either mode. */
	for (int ns = 0; ns < 2; ns++) {
		pt_ctl_inputs_t in = inputs(ns);
		ck_assert_int_eq(pt_ctl_build(&in, k_b, x_b, 0, 1, &b, &n, &d),
				 PT_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(d.text, "first token"));
		ck_assert_ptr_null(b);
		/* A key that is not the certificate's. */
		ck_assert_int_eq(pt_ctl_build(&in, k_b, x_a, 0, 1, &b, &n, &d),
				 PT_ERR_INVALID);
		in.n_tokens = 1;
		ck_assert_int_eq(pt_ctl_build(&in, k_a, x_a, 0, 1, &b, &n, &d),
				 PT_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(d.text, "two tokens"));
	}
	/* A token listed twice. */
	pt_ctl_inputs_t in = inputs(false);
	tokens_ab[1] = tokens_ab[0];
	ck_assert_int_eq(pt_ctl_build(&in, k_a, x_a, 0, 1, &b, &n, &d),
			 PT_ERR_INVALID);
	/* An EC token cannot sign. */
	in = inputs(false);
	tokens_ab[0] = (pt_ctl_cert_t){d_n2, l_n2};
	ck_assert_int_eq(pt_ctl_build(&in, k_n2, x_n2, 0, 1, &b, &n, &d),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(b);
}
END_TEST

START_TEST(digest_parameter)
{
	ck_assert_int_eq(pt_ctl_digest(NULL), PT_TLV_DIGEST_SHA1);
	Pt__Cluster c = PT__CLUSTER__INIT;
	Pt__KeyValue kv = PT__KEY_VALUE__INIT;
	Pt__KeyValue *kvs[] = {&kv};
	kv.key = (char *)"tftp_file_signature_algorithm";
	kv.value = (char *)"sha512";
	c.n_parameters = 1;
	c.parameters = kvs;
	ck_assert_int_eq(pt_ctl_digest(&c), PT_TLV_DIGEST_SHA512);
	kv.value = (char *)"sha1";
	ck_assert_int_eq(pt_ctl_digest(&c), PT_TLV_DIGEST_SHA1);
}
END_TEST

START_TEST(rules_init)
{
	pt_ctl_id_t ids[3] = {id(d_a, l_a), id(d_b, l_b), id(d_c, l_c)};
	pt_ctl_token_set_t set;
	char why[256];
	ck_assert_int_eq(pt_ctl_rules_init(ids, 2, &set, why, sizeof why),
			 PT_OK);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_mem_eq(set.ids[0].sha256, ids[0].sha256, 32);
	ck_assert_mem_eq(set.ids[1].sha256, ids[1].sha256, 32);

	ck_assert_int_eq(pt_ctl_rules_init(ids, 1, &set, why, sizeof why),
			 PT_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "exactly two tokens (1 given)"));
	ck_assert_int_eq(pt_ctl_rules_init(ids, 3, &set, why, sizeof why),
			 PT_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "at most"));
	ck_assert_int_eq(pt_ctl_rules_init(ids, 0, &set, NULL, 0),
			 PT_ERR_DENIED);
	pt_ctl_id_t twice[2] = {ids[0], ids[0]};
	ck_assert_int_eq(pt_ctl_rules_init(twice, 2, &set, why, sizeof why),
			 PT_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "twice"));
}
END_TEST

/* The change of an update on current = {A, B}; fixed = node and CAPF
 * certificates. */
static pt_ctl_id_t cur[2], fixed[3], ida, idb, idc;

static pt_ctl_change_t change(pt_ctl_id_t signer)
{
	ida = id(d_a, l_a);
	idb = id(d_b, l_b);
	idc = id(d_c, l_c);
	cur[0] = ida;
	cur[1] = idb;
	fixed[0] = id(d_n1, l_n1);
	fixed[1] = id(d_n2, l_n2);
	fixed[2] = id(d_capf, l_capf);
	return (pt_ctl_change_t){.current = cur,
				 .n_current = 2,
				 .fixed = fixed,
				 .n_fixed = 3,
				 .signer = signer};
}

static void refused(const pt_ctl_change_t *c, const char *hint)
{
	pt_ctl_token_set_t set;
	char why[256] = "";
	ck_assert_int_eq(pt_ctl_rules_update(c, &set, why, sizeof why),
			 PT_ERR_DENIED);
	ck_assert_msg(strstr(why, hint), "'%s' not in '%s'", hint, why);
}

static void accepted(const pt_ctl_change_t *c, const pt_ctl_id_t *want0,
		     const pt_ctl_id_t *want1)
{
	pt_ctl_token_set_t set;
	char why[256] = "";
	int r = pt_ctl_rules_update(c, &set, why, sizeof why);
	ck_assert_msg(r == PT_OK, "refused: %s", why);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_mem_eq(set.ids[0].sha256, want0->sha256, 32);
	ck_assert_mem_eq(set.ids[1].sha256, want1->sha256, 32);
}

START_TEST(rules_update_accepted)
{
	/* No change: a re-signing, signer first. */
	pt_ctl_change_t c = change(id(d_b, l_b));
	accepted(&c, &idb, &ida);
	c = change(id(d_a, l_a));
	accepted(&c, &ida, &idb);
	/* Replace B with C, signed by A. */
	pt_ctl_id_t add[1], rem[1];
	c = change(id(d_a, l_a));
	add[0] = idc;
	rem[0] = idb;
	c.add = add;
	c.n_add = 1;
	c.remove = rem;
	c.n_remove = 1;
	accepted(&c, &ida, &idc);
}
END_TEST

START_TEST(rules_update_refused)
{
	pt_ctl_id_t add[2], rem[2];
	/* Unknown signer. */
	pt_ctl_change_t c = change(id(d_c, l_c));
	refused(&c, "not a token of the current CTL");
	/* Even a node's certificate does not sign. */
	c = change(id(d_n1, l_n1));
	refused(&c, "not a token of the current CTL");

	/* The signer removes itself. */
	c = change(id(d_a, l_a));
	rem[0] = ida;
	c.remove = rem;
	c.n_remove = 1;
	refused(&c, "cannot remove itself");

	/* Removing the other token would leave one. */
	c = change(id(d_a, l_a));
	rem[0] = idb;
	c.remove = rem;
	c.n_remove = 1;
	refused(&c, "two tokens must always remain");

	/* CCM+TFTP and CAPF entries. */
	for (size_t i = 0; i < 3; i++) {
		c = change(id(d_a, l_a));
		rem[0] = fixed[i];
		c.remove = rem;
		c.n_remove = 1;
		refused(&c, "the CCM+TFTP, TFTP and CAPF entries cannot be "
			    "removed");
	}
	/* Something the CTL does not list at all. */
	c = change(id(d_a, l_a));
	rem[0] = idc;
	c.remove = rem;
	c.n_remove = 1;
	refused(&c, "nothing to remove");

	/* A third token without a removal. */
	c = change(id(d_a, l_a));
	add[0] = idc;
	c.add = add;
	c.n_add = 1;
	refused(&c, "at most two tokens");
	/* A token already present. */
	c = change(id(d_a, l_a));
	add[0] = idb;
	c.add = add;
	c.n_add = 1;
	refused(&c, "already in the CTL");
	/* Named twice. */
	c = change(id(d_a, l_a));
	add[0] = idc;
	add[1] = idc;
	rem[0] = idb;
	c.add = add;
	c.n_add = 2;
	c.remove = rem;
	c.n_remove = 1;
	refused(&c, "named twice");
	c = change(id(d_a, l_a));
	rem[0] = idb;
	rem[1] = idb;
	c.remove = rem;
	c.n_remove = 2;
	refused(&c, "named twice");
	/* A store that knows no tokens. */
	c = change(id(d_a, l_a));
	c.n_current = 0;
	refused(&c, "not a token of the current CTL");
}
END_TEST

START_TEST(staleness)
{
	pt_ctl_inputs_t in = inputs(false);
	in.n_nodes = 1; /* signed before sub1 joined */
	pt_tlv_file_t *f = build_parse(&in, k_a, x_a, PT_TLV_DIGEST_SHA1);
	pt_ctl_gap_t *g = NULL;
	size_t n = 0;

	in = inputs(false);
	ck_assert_int_eq(pt_ctl_stale(f, &in, &g, &n), PT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(g[0].kind, PT_CTL_GAP_MISSING);
	ck_assert_uint_eq(g[0].role, PT_TLV_ROLE_CCM_TFTP);
	ck_assert_uint_eq(g[0].node, 1);
	pt_ctl_id_t want = id(d_n2, l_n2);
	ck_assert_mem_eq(g[0].sha256, want.sha256, 32);
	free(g);

	/* A new CAPF certificate and pub1 at another address; the old
	 * CAPF entry is extra. */
	in.n_nodes = 1;
	nodes[0].address = "10.9.9.9";
	in.capf_der = d_c;
	in.capf_len = l_c;
	ck_assert_int_eq(pt_ctl_stale(f, &in, &g, &n), PT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(g[0].kind, PT_CTL_GAP_ADDRESS);
	ck_assert_uint_eq(g[0].node, 0);
	ck_assert_uint_eq(g[0].record, 2);
	ck_assert_int_eq(g[1].kind, PT_CTL_GAP_MISSING);
	ck_assert_uint_eq(g[1].role, PT_TLV_ROLE_CAPF);
	ck_assert_int_eq(g[2].kind, PT_CTL_GAP_EXTRA);
	ck_assert_uint_eq(g[2].role, PT_TLV_ROLE_CAPF);
	ck_assert_uint_eq(g[2].record, 3);
	free(g);

	/* The cluster went non-secure without a new CTL: everything the
	 * file lists is extra. */
	in = inputs(true);
	ck_assert_int_eq(pt_ctl_stale(f, &in, &g, &n), PT_OK);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(g[i].kind, PT_CTL_GAP_EXTRA);
	free(g);
	pt_tlv_file_destroy(&f);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, entry_list);
	tcase_add_test(tc, build_mixed_and_nonsecure);
	tcase_add_test(tc, build_refusals);
	tcase_add_test(tc, digest_parameter);
	tcase_add_test(tc, rules_init);
	tcase_add_test(tc, rules_update_accepted);
	tcase_add_test(tc, rules_update_refused);
	tcase_add_test(tc, staleness);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(ctl_suite());
}
