/* Each node's ITL in a real cluster: a publisher runs, a subscriber joins
 * it and starts; both daemons rebuild their ITL from the replicated nodes
 * table, and `phonetrust itl show --out`, run beside the running daemons,
 * gives on each node an ITL that lists both TVS certificates and is
 * signed by that node's own TFTP certificate.
 *
 * The cluster scripts initialise nodes with EC keys, which cannot sign an
 * ITL (no EC signer encoding is known), so the nodes are initialised here
 * with RSA keys on the scripts' port plan before `up`, which then only
 * writes their INI files and starts them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "pt_cluster.h"

static pt_cluster_t cluster;

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

/* `phonetrust init` of node with RSA keys and the scripts' ports: node i
 * (pub 0, subK K) uses BASE+10i (TFTP) and BASE+10i+1 (TVS); the
 * publisher's sync port is BASE+4. */
static void init_rsa_node(pt_cluster_t *c, const char *node, unsigned i)
{
	char pw[4096], tftp[16], tvs[16], capf[16], stream[16], sync[16],
		join[64];
	snprintf(pw, sizeof pw, "%s/password", c->dir);
	pt_test_write_file(pw, PT_CLUSTER_PASSWORD "\n");
	snprintf(tftp, sizeof tftp, "%u", c->base_port + 10 * i);
	snprintf(tvs, sizeof tvs, "%u", c->base_port + 10 * i + 1);
	snprintf(capf, sizeof capf, "%u", c->base_port + 10 * i + 2);
	snprintf(stream, sizeof stream, "%u", c->base_port + 3);
	snprintf(sync, sizeof sync, "%u", c->base_port + 4);
	snprintf(join, sizeof join, "tcp://127.0.0.1:%u", c->base_port + 4);
	bool pub = i == 0;
	pt_run_t r;
	if (pub)
		pt_cluster_cli(c, &r, node, "init", "--name", node, "--role",
			       "publisher", "--address", "127.0.0.1",
			       "--key-type", "rsa2048", "--tftp-port", tftp,
			       "--tvs-port", tvs, "--capf-port", capf,
			       "--stream-port", stream, "--sync-port", sync,
			       "--password-file", pw, NULL);
	else
		pt_cluster_cli(c, &r, node, "init", "--name", node, "--role",
			       "subscriber", "--address", "127.0.0.1",
			       "--key-type", "rsa2048", "--tftp-port", tftp,
			       "--tvs-port", tvs, "--join", join,
			       "--password-file", pw, NULL);
	ck_assert_msg(r.status == 0, "init %s: exit %d: %s", node, r.status,
		      r.err);
	pt_run_clear(&r);
}

typedef struct der {
	uint8_t *p;
	size_t n;
} der_t;

static der_t node_cert(pt_cluster_t *c, const char *node, const char *slot)
{
	char path[4096];
	size_t n = 0;
	snprintf(path, sizeof path, "%s/certs/%s.pem",
		 pt_cluster_node_dir(c, node), slot);
	char *pem = pt_test_read_file(path, &n);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, n, &x), PT_OK);
	der_t d;
	ck_assert_int_eq(pt_certs_encode_der(x, &d.p, &d.n), PT_OK);
	X509_free(x);
	free(pem);
	return d;
}

static const pt_tlv_record_t *find(const pt_tlv_file_t *f, uint16_t role,
				   const der_t *cert)
{
	for (size_t i = 0; i < f->n_records; i++) {
		const pt_tlv_record_t *r = &f->records[i];
		if (r->role == role && r->cert.len == cert->n &&
		    memcmp(r->cert.data, cert->p, cert->n) == 0)
			return r;
	}
	return NULL;
}

/* The node's ITL through the CLI while its daemon runs; the daemon built
 * it already, so the CLI finds it up to date. */
static pt_tlv_file_t *node_itl(pt_cluster_t *c, const char *node)
{
	char out[4096];
	snprintf(out, sizeof out, "%s/%s-ITLFile.tlv", c->dir, node);
	pt_run_t r;
	pt_cluster_cli(c, &r, node, "--json", "itl", "show", "--out", out,
		       NULL);
	ck_assert_msg(r.status == 0, "%s: itl show --out: exit %d: %s", node,
		      r.status, r.err);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "%s: itl show: bad JSON (%s): %s", node, e.text,
		      r.out);
	ck_assert_msg(json_is_false(json_object_get(j, "rebuilt")),
		      "%s: the CLI rebuilt an ITL the daemon should have "
		      "built: %s",
		      node, r.out);
	json_decref(j);
	pt_run_clear(&r);

	size_t n = 0;
	uint8_t *bytes = (uint8_t *)pt_test_read_file(out, &n);
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	size_t signer = 99;
	int rc = pt_tlv_parse(bytes, n, &f, &d);
	ck_assert_msg(rc == PT_OK, "%s: parse: %s", node, d.text);
	rc = pt_tlv_verify(f, NULL, &signer, &d);
	ck_assert_msg(rc == PT_OK, "%s: verify: %s", node, d.text);
	ck_assert_uint_eq(signer, 0);
	free(bytes);
	return f;
}

static void check_itl(pt_cluster_t *c, const char *node,
		      const der_t *tvs_pub, const der_t *tvs_sub)
{
	pt_tlv_file_t *f = node_itl(c, node);
	ck_assert_uint_eq(f->n_records, 6);

	/* Signed by this node's own TFTP certificate, listed as SAST and
	 * TFTP. */
	der_t tftp = node_cert(c, node, "tftp");
	ck_assert_uint_eq(f->records[0].cert.len, tftp.n);
	ck_assert_mem_eq(f->records[0].cert.data, tftp.p, tftp.n);
	ck_assert_uint_eq(f->records[0].role, PT_TLV_ROLE_SAST);
	ck_assert_ptr_nonnull(find(f, PT_TLV_ROLE_TFTP, &tftp));
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_der(tftp.p, tftp.n, &x), PT_OK);
	pt_tlv_diag_t d;
	ck_assert_int_eq(pt_tlv_verify(f, x, NULL, &d), PT_OK);
	X509_free(x);

	/* Both TVS certificates, each with its node's address. */
	const der_t *tvs[] = {tvs_pub, tvs_sub};
	for (size_t i = 0; i < 2; i++) {
		const pt_tlv_record_t *r = find(f, PT_TLV_ROLE_TVS, tvs[i]);
		ck_assert_msg(r, "%s: TVS certificate %zu missing", node, i);
		pt_tlv_entry_t e;
		ck_assert_int_eq(pt_tlv_record_entry(r, &e), PT_OK);
		ck_assert_str_eq(e.dns_name, "127.0.0.1");
	}

	/* The publisher's CAPF and recovery certificates, replicated. */
	der_t capf = node_cert(c, "pub", "capf");
	der_t rec = node_cert(c, "pub", "itlrecovery");
	ck_assert_ptr_nonnull(find(f, PT_TLV_ROLE_CAPF, &capf));
	const pt_tlv_record_t *r = find(f, PT_TLV_ROLE_SAST, &rec);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_ne(r, &f->records[0]);
	free(tftp.p);
	free(capf.p);
	free(rec.p);
	pt_tlv_file_destroy(&f);
}

START_TEST(subscriber_joins_and_both_itls_list_both_tvs)
{
	pt_cluster_t *c = &cluster;
	init_rsa_node(c, "pub", 0);
	pt_cluster_up(c, 0);
	pt_cluster_wait_log(c, "pub",
			    "ITL rebuilt: 5 records, signed by CN=pub-tftp",
			    60);

	/* The join writes sub1's node record through the running
	 * publisher: its ITL gains sub1's TVS certificate. */
	init_rsa_node(c, "sub1", 1);
	pt_cluster_wait_log(c, "pub",
			    "ITL rebuilt: 6 records, signed by CN=pub-tftp",
			    60);
	pt_cluster_up(c, 1);
	pt_cluster_wait_same(c, 120, "sub1", NULL);
	pt_cluster_wait_log(c, "sub1",
			    "ITL rebuilt: 6 records, signed by CN=sub1-tftp",
			    60);

	der_t tvs_pub = node_cert(c, "pub", "tvs");
	der_t tvs_sub = node_cert(c, "sub1", "tvs");
	check_itl(c, "pub", &tvs_pub, &tvs_sub);
	check_itl(c, "sub1", &tvs_pub, &tvs_sub);

	/* Node-local: the ITLs differ (signers), the replicated stores do
	 * not. */
	uint64_t seq_pub = 0, seq_sub = 0;
	char *dp = pt_cluster_digest(c, "pub", &seq_pub);
	char *ds = pt_cluster_digest(c, "sub1", &seq_sub);
	ck_assert_str_eq(dp, ds);
	ck_assert_uint_eq(seq_pub, seq_sub);
	free(dp);
	free(ds);
	free(tvs_pub.p);
	free(tvs_sub.p);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *cluster_itl_suite(void)
{
	Suite *s = suite_create("cluster_itl");
	TCase *tc = tcase_create("itl");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, subscriber_joins_and_both_itls_list_both_tvs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cluster_itl_suite());
}
