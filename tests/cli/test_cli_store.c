/* phonetrust store digest | info, end to end with the real binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/errors.h"
#include "lib/profiles.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

#define BIN "cli/phonetrust"

static char *dir_a, *dir_b;

static void setup(void)
{
	dir_a = pt_test_tmpdir();
	dir_b = pt_test_tmpdir();
}

static void teardown(void)
{
	pt_test_rmtree(dir_a);
	pt_test_rmtree(dir_b);
	free(dir_a);
	free(dir_b);
}

static pt_store_t *create(const char *dir)
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, 64 << 20, &store),
			 PT_OK);
	return store;
}

static void put_device(pt_store_t *store, const char *name, const char *desc)
{
	pt_txn_t *txn = NULL;
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = (char *)name;
	dev.description = (char *)desc;
	dev.protocol = PT__PROTOCOL__PROTOCOL_SCCP;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

static void put_meta(pt_store_t *store, const char *name, const char *value)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_txn_meta_put(txn, name, value, strlen(value)),
			 PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

/* `store digest` output (one line, newline stripped); caller frees. */
static char *digest_of(const char *dir)
{
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", dir, "store", "digest", NULL);
	ck_assert_msg(res.status == 0, "store digest failed: %s", res.err);
	ck_assert_uint_eq(strlen(res.out), 65);
	ck_assert_int_eq(res.out[64], '\n');
	res.out[64] = '\0';
	char *d = strdup(res.out);
	pt_run_clear(&res);
	return d;
}

static char *hex(const uint8_t *b, size_t n)
{
	char *s = malloc(n * 2 + 1);
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return s;
}

START_TEST(digest_same_data_same_digest)
{
	pt_store_t *a = create(dir_a), *b = create(dir_b);
	/* Same records, other order, other transactions, other node-local
	 * metadata. */
	put_device(a, "SEP000000000001", "one");
	put_device(a, "SEP000000000002", "two");
	put_device(b, "SEP000000000002", "two");
	put_device(b, "SEP000000000001", "one");
	put_meta(a, "node_name", "pub1");
	put_meta(b, "node_name", "sub1");
	uint8_t raw[32];
	ck_assert_int_eq(pt_store_digest(a, raw), PT_OK);
	pt_store_destroy(&a);

	char *da = digest_of(dir_a), *db = digest_of(dir_b);
	ck_assert_str_eq(da, db);
	char *want = hex(raw, 32);
	ck_assert_str_eq(da, want);
	free(want);

	/* One change anywhere changes it. */
	put_device(b, "SEP000000000001", "one!");
	pt_store_destroy(&b);
	char *db2 = digest_of(dir_b);
	ck_assert_str_ne(da, db2);
	free(da);
	free(db);
	free(db2);
}
END_TEST

START_TEST(digest_json)
{
	pt_store_t *a = create(dir_a);
	put_device(a, "SEP000000000001", "one");
	put_device(a, "SEP000000000002", "two");
	pt_store_destroy(&a);
	char *plain = digest_of(dir_a);
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", "digest",
		    "--json", NULL);
	ck_assert_int_eq(res.status, 0);
	char want[128];
	snprintf(want, sizeof want, "\"digest\": \"%s\"", plain);
	ck_assert_msg(strstr(res.out, want), "%s", res.out);
	ck_assert_msg(strstr(res.out, "\"last_sequence\": 2"), "%s", res.out);
	pt_run_clear(&res);
	free(plain);
}
END_TEST

START_TEST(info_counts)
{
	pt_store_t *a = create(dir_a);
	put_device(a, "SEP000000000001", "one");
	put_device(a, "SEP000000000002", "two");
	put_device(a, "CTIPORT7", "three");
	pt_txn_t *txn = NULL;
	Pt__Profile *p = NULL;
	ck_assert_int_eq(pt_profile_predefined_build(0, &p), PT_OK);
	uint8_t sha[32] = {1, 2, 3};
	Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
	e.sha256.data = sha;
	e.sha256.len = 32;
	e.source = "test";
	ck_assert_int_eq(pt_txn_begin(a, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_profile_put(txn, p), PT_OK);
	ck_assert_int_eq(pt_trust_put(txn, &e), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&p->base);
	put_meta(a, "node_name", "pub1");
	put_meta(a, "role", "publisher");
	pt_store_destroy(&a);

	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "--json", "store", "info",
		    NULL);
	ck_assert_msg(res.status == 0, "store info: %s", res.err);
	static const char *const want[] = {
		"\"schema_version\": 2", "\"last_sequence\": 4",
		"\"node_name\": \"pub1\"", "\"role\": \"publisher\"",
		"\"devices\": 3", "\"profiles\": 1", "\"trust\": 1",
		"\"nodes\": 0", "\"cluster\": 0",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(res.out, want[i]), "no %s in %s", want[i],
			      res.out);
	pt_run_clear(&res);

	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", "info", NULL);
	ck_assert_int_eq(res.status, 0);
	ck_assert_ptr_nonnull(strstr(res.out, "pub1"));
	ck_assert_ptr_nonnull(strstr(res.out, "devices        3\n"));
	ck_assert_ptr_nonnull(strstr(res.out, "last sequence    4\n"));
	pt_run_clear(&res);
}
END_TEST

/* After init, info reflects what init wrote. */
START_TEST(info_after_init)
{
	char *pw = NULL, *node = NULL;
	ck_assert_int_ge(asprintf(&pw, "%s/pw", dir_b), 0);
	ck_assert_int_ge(asprintf(&node, "%s/node", dir_a), 0);
	pt_test_write_file(pw, "a long enough password\n");
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", node, "init", "--name", "p1",
		    "--role", "publisher", "--password-file", pw,
		    "--key-type", "ec256", NULL);
	ck_assert_msg(res.status == 0, "init: %s", res.err);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", node, "--json", "store", "info",
		    NULL);
	ck_assert_int_eq(res.status, 0);
	char want[64];
	snprintf(want, sizeof want, "\"profiles\": %zu",
		 pt_profile_predefined_count());
	ck_assert_msg(strstr(res.out, want), "no %s in %s", want, res.out);
	ck_assert_ptr_nonnull(strstr(res.out, "\"trust\": 4"));
	ck_assert_ptr_nonnull(strstr(res.out, "\"nodes\": 1"));
	ck_assert_ptr_nonnull(strstr(res.out, "\"cluster\": 1"));
	ck_assert_ptr_nonnull(strstr(res.out, "\"node_name\": \"p1\""));
	ck_assert_ptr_nonnull(strstr(res.out, "\"last_sequence\": 1"));
	pt_run_clear(&res);
	free(pw);
	free(node);
}
END_TEST

START_TEST(refusals)
{
	pt_run_t res;
	char *missing = NULL;
	ck_assert_int_ge(asprintf(&missing, "%s/none", dir_a), 0);
	pt_test_run(&res, NULL, BIN, "--data", missing, "store", "digest",
		    NULL);
	ck_assert_int_eq(res.status, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "no store"));
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", missing, "store", "info", NULL);
	ck_assert_int_eq(res.status, 1);
	pt_run_clear(&res);
	struct stat st;
	ck_assert_int_ne(stat(missing, &st), 0);
	free(missing);

	pt_store_t *empty = create(dir_a);
	pt_store_destroy(&empty);
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", "compact", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", "digest",
		    "extra", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", "--help", NULL);
	ck_assert_int_eq(res.status, 0);
	ck_assert_ptr_nonnull(strstr(res.out, "digest"));
	pt_run_clear(&res);
	/* An empty store has a digest and no records. */
	pt_test_run(&res, NULL, BIN, "--data", dir_a, "store", "info", NULL);
	ck_assert_int_eq(res.status, 0);
	ck_assert_ptr_nonnull(strstr(res.out, "(not set)"));
	pt_run_clear(&res);
}
END_TEST

static Suite *store_cli_suite(void)
{
	Suite *s = suite_create("cli store");
	TCase *tc = tcase_create("digest");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, digest_same_data_same_digest);
	tcase_add_test(tc, digest_json);
	suite_add_tcase(s, tc);
	tc = tcase_create("info");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, info_counts);
	tcase_add_test(tc, info_after_init);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(store_cli_suite());
}
