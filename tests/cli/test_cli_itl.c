/* phonetrust itl show, run as the real binary on nodes made by the real
 * `phonetrust init`. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "pt_node.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

static char *root, *dir;

static void setup(void)
{
	root = pt_test_tmpdir();
	ck_assert_int_ne(asprintf(&dir, "%s/pub", root), -1);
	pt_node_init(dir, "pub", "publisher", "rsa2048");
}

static void teardown(void)
{
	pt_test_rmtree(root);
	free(root);
	free(dir);
	root = dir = NULL;
}

static void cli(pt_run_t *res, const char *data, const char *a1,
		const char *a2, const char *a3, const char *a4)
{
	pt_test_run(res, NULL, pt_test_bin("cli/phonetrust"), "--data", data,
		    a1, a2, a3, a4, (char *)NULL);
}

static void expect_line(const char *out, const char *line)
{
	char *want = NULL;
	ck_assert_int_ne(asprintf(&want, "\n%s\n", line), -1);
	ck_assert_msg(strstr(out, want), "no line '%s' in:\n%s", line, out);
	free(want);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Parses and verifies with the file's own signer: record 1, this node's
 * TFTP certificate. */
static void expect_verified_itl(const uint8_t *p, size_t n, size_t records)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	size_t signer = 99;
	int r = pt_tlv_parse(p, n, &f, &d);
	ck_assert_msg(r == PT_OK, "parse: %s", d.text);
	r = pt_tlv_verify(f, NULL, &signer, &d);
	ck_assert_msg(r == PT_OK, "verify: %s", d.text);
	ck_assert_uint_eq(signer, 0);
	ck_assert_uint_eq(f->n_records, records);
	ck_assert_str_eq(f->header.file_name, PT_TLV_ITL_NAME);

	char path[512];
	size_t len = 0;
	snprintf(path, sizeof path, "%s/certs/tftp.pem", dir);
	char *pem = pt_test_read_file(path, &len);
	X509 *tftp = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, len, &tftp), PT_OK);
	ck_assert_int_eq(pt_tlv_verify(f, tftp, NULL, &d), PT_OK);
	X509_free(tftp);
	free(pem);
	pt_tlv_file_destroy(&f);
}

START_TEST(show_lists_the_node_itl)
{
	pt_run_t r;
	cli(&r, dir, "itl", "show", NULL, NULL);
	ck_assert_msg(r.status == 0, "itl show: %s", r.err);
	ck_assert_str_eq(r.err, "");
	expect_line(r.out, "ITL Record #:1");
	expect_line(r.out, "ITL Record #:5");
	ck_assert_ptr_null(strstr(r.out, "ITL Record #:6"));
	expect_line(r.out, "BYTEPOS TAG LENGTH VALUE");
	expect_line(r.out, "3 SUBJECTNAME 12 CN=pub-tftp");
	expect_line(r.out, "4 FUNCTION 2 System Administrator Security Token");
	expect_line(r.out, "4 FUNCTION 2 TFTP");
	expect_line(r.out, "4 FUNCTION 2 CAPF");
	expect_line(r.out, "4 FUNCTION 2 TVS");
	expect_line(r.out, "3 SUBJECTNAME 11 CN=pub-tvs");
	expect_line(r.out, "2 DNSNAME 10 127.0.0.1");
	expect_line(r.out, "3 SUBJECTNAME 19 CN=ITLRECOVERY_pub");
	expect_line(r.out, "This etoken was used to sign the ITL file.");
	expect_line(r.out, "This etoken was not used to sign the ITL file.");
	ck_assert_int_eq(count(r.out, "This etoken was used"), 1);
	ck_assert_int_eq(count(r.out, "(SHA1 Hash HEX)"), 5);
	const char *last = "\nThe ITL file was verified successfully.\n";
	size_t n = strlen(r.out);
	ck_assert_uint_ge(n, strlen(last));
	ck_assert_str_eq(r.out + n - strlen(last), last);
	pt_run_clear(&r);
}
END_TEST

START_TEST(out_writes_stable_bytes)
{
	char f1[512], f2[512];
	snprintf(f1, sizeof f1, "%s/a.tlv", root);
	snprintf(f2, sizeof f2, "%s/b.tlv", root);
	pt_run_t r;
	cli(&r, dir, "itl", "show", "--out", f1);
	ck_assert_msg(r.status == 0, "itl show --out: %s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "5 records, signed by "
					    "CN=pub-tftp"));
	pt_run_clear(&r);
	size_t n1 = 0, n2 = 0;
	uint8_t *a = (uint8_t *)pt_test_read_file(f1, &n1);
	expect_verified_itl(a, n1, 5);

	/* Nothing changed: the same bytes (timestamp included) a second
	 * later. */
	sleep(1);
	cli(&r, dir, "itl", "show", "--out", f2);
	ck_assert_int_eq(r.status, 0);
	pt_run_clear(&r);
	uint8_t *b = (uint8_t *)pt_test_read_file(f2, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(a, b, n1);
	free(b);

	/* A new node record: rebuilt with its TVS certificate. */
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k), PT_OK);
	ck_assert_int_eq(pt_certs_build_service(k, "sub1", "tvs", NULL, &x),
			 PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &der_len), PT_OK);
	pt_store_t *s = NULL;
	pt_txn_t *txn = NULL;
	Pt__Node node = PT__NODE__INIT;
	node.name = "sub1";
	node.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
	node.address = "10.1.2.3";
	node.tvs_cert_der.data = der;
	node.tvs_cert_der.len = der_len;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &s), PT_OK);
	ck_assert_int_eq(pt_txn_begin(s, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_node_put(txn, &node), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&s);

	cli(&r, dir, "itl", "show", "--out", f2);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "6 records"));
	pt_run_clear(&r);
	b = (uint8_t *)pt_test_read_file(f2, &n2);
	expect_verified_itl(b, n2, 6);
	ck_assert(n1 != n2 || memcmp(a, b, n1) != 0);

	cli(&r, dir, "itl", "show", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	expect_line(r.out, "3 SUBJECTNAME 12 CN=sub1-tvs");
	expect_line(r.out, "2 DNSNAME 9 10.1.2.3");
	pt_run_clear(&r);
	free(a);
	free(b);
	free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(json)
{
	pt_run_t r;
	cli(&r, dir, "itl", "show", "--json", NULL);
	ck_assert_msg(r.status == 0, "itl show --json: %s", r.err);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "JSON: %s", e.text);
	ck_assert(json_is_true(json_object_get(j, "verified")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "signer")), 1);
	json_t *recs = json_object_get(j, "records");
	ck_assert_uint_eq(json_array_size(recs), 5);
	const char *roles[] = {"sast", "tftp", "capf", "tvs", "sast"};
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_array_get(recs, i), "role_name")),
				 roles[i]);
	json_decref(j);
	pt_run_clear(&r);

	char f[512];
	snprintf(f, sizeof f, "%s/x.tlv", root);
	cli(&r, dir, "itl", "show", "--out", f);
	pt_run_clear(&r);
	cli(&r, dir, "--json", "itl", "show", "--out");
	/* "--out" without a value is a usage error... */
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	/* ...and with one, JSON says what was written. */
	pt_test_run(&r, NULL, pt_test_bin("cli/phonetrust"), "--data", dir,
		    "--json", "itl", "show", "--out", f, (char *)NULL);
	ck_assert_int_eq(r.status, 0);
	j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "JSON: %s", e.text);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "records")), 5);
	ck_assert(json_is_false(json_object_get(j, "rebuilt")));
	size_t n = 0;
	free(pt_test_read_file(f, &n));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")),
			 (json_int_t)n);
	json_decref(j);
	pt_run_clear(&r);
}
END_TEST

START_TEST(usage_and_refusals)
{
	pt_run_t r;
	cli(&r, dir, "itl", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	cli(&r, dir, "itl", "frob", NULL, NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	cli(&r, dir, "itl", "show", "extra", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	cli(&r, dir, "itl", "show", "--bogus", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	cli(&r, dir, "itl", "show", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--out FILE"));
	pt_run_clear(&r);
	cli(&r, dir, "itl", "--help", NULL, NULL);
	ck_assert_int_eq(r.status, 0);
	pt_run_clear(&r);

	/* A file that cannot be written. */
	char f[512];
	snprintf(f, sizeof f, "%s/no/such/dir/itl.tlv", root);
	cli(&r, dir, "itl", "show", "--out", f);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot write"));
	pt_run_clear(&r);

	/* No node here. */
	char *none = NULL;
	ck_assert_int_ne(asprintf(&none, "%s/none", root), -1);
	cli(&r, none, "itl", "show", NULL, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "no store"));
	pt_run_clear(&r);

	/* A subscriber that has not joined holds no cluster data. */
	char *sub = NULL;
	ck_assert_int_ne(asprintf(&sub, "%s/sub", root), -1);
	pt_node_init(sub, "sub", "subscriber", "rsa2048");
	cli(&r, sub, "itl", "show", NULL, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "cluster record"));
	ck_assert_str_eq(r.out, "");
	pt_run_clear(&r);

	/* A node made with --key-type ec256 still signs its ITL: the TFTP
	 * key is RSA whatever the key type. */
	char *ec = NULL;
	ck_assert_int_ne(asprintf(&ec, "%s/ec", root), -1);
	pt_node_init(ec, "ecpub", "publisher", "ec256");
	cli(&r, ec, "itl", "show", NULL, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "verified successfully"));
	pt_run_clear(&r);
	free(none);
	free(sub);
	free(ec);
}
END_TEST

static Suite *cli_itl_suite(void)
{
	Suite *s = suite_create("cli_itl");
	TCase *tc = tcase_create("show");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, show_lists_the_node_itl);
	tcase_add_test(tc, out_writes_stable_bytes);
	tcase_add_test(tc, json);
	tcase_add_test(tc, usage_and_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cli_itl_suite());
}
