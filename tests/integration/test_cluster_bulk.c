/* 100,000 device writes on a real publisher reach two real subscribers:
 * deploy/local-cluster.sh starts the nodes, the CLI imports CSV files in
 * batches on the publisher, and `phonetrust store digest` on each node
 * proves record-for-record equality.
 *
 * $PT_TEST_BULK_DEVICES scales the count (tests/CMakeLists.txt lowers it
 * for the sanitizer build, where every process runs several times
 * slower). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pt_cluster.h"

#define DEFAULT_DEVICES 100000u
#define FILE_ROWS 10000u

static pt_cluster_t cluster;

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

static unsigned device_count(void)
{
	const char *v = getenv("PT_TEST_BULK_DEVICES");
	unsigned n = v && *v ? (unsigned)strtoul(v, NULL, 10) : DEFAULT_DEVICES;
	ck_assert_uint_gt(n, 0);
	return n;
}

/* True when the publisher's `cluster status --json` shows both
 * subscribers "in sync" at its last sequence. */
static bool status_shows_in_sync(pt_cluster_t *c, uint64_t last)
{
	pt_run_t r;
	pt_cluster_cli(c, &r, "pub", "cluster", "status", "--json", NULL);
	ck_assert_msg(r.status == 0, "cluster status: %s", r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "cluster status: bad JSON: %s", r.out);
	ck_assert_uint_eq(json_integer_value(json_object_get(j,
							     "last_sequence")),
			  last);
	unsigned in_sync = 0;
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(j, "nodes"), i, row)
	{
		const char *state =
			json_string_value(json_object_get(row, "state"));
		json_int_t applied = json_integer_value(
			json_object_get(row, "applied_sequence"));
		if (state && strcmp(state, "in sync") == 0 &&
		    (uint64_t)applied == last &&
		    json_integer_value(json_object_get(row,
						       "lag_transactions")) == 0)
			in_sync++;
	}
	json_decref(j);
	pt_run_clear(&r);
	return in_sync == 2;
}

START_TEST(bulk_import_reaches_both_subscribers)
{
	pt_cluster_t *c = &cluster;
	unsigned total = device_count();
	pt_cluster_up(c, 2);
	uint64_t before = 0;
	free(pt_cluster_digest(c, "pub", &before));

	/* Batches: one import per file of FILE_ROWS rows, each written in
	 * transactions of 1,000, while the subscribers follow. */
	unsigned files = 0;
	for (unsigned first = 0; first < total; first += FILE_ROWS) {
		unsigned rows = total - first < FILE_ROWS ? total - first
							  : FILE_ROWS;
		char path[4096], msg[64];
		snprintf(path, sizeof path, "%s/batch%u.csv", c->dir, files++);
		pt_cluster_write_csv(path, first, rows);
		pt_run_t r;
		pt_cluster_cli(c, &r, "pub", "device", "import", "--csv", path,
			       NULL);
		ck_assert_msg(r.status == 0, "import of %s: %s", path, r.err);
		snprintf(msg, sizeof msg, "inserted %u,", rows);
		ck_assert_msg(strstr(r.out, msg), "import said: %s", r.out);
		pt_run_clear(&r);
	}
	uint64_t last = 0;
	free(pt_cluster_digest(c, "pub", &last));
	ck_assert_uint_ge(last, before + (total + 999) / 1000);

	pt_cluster_wait_same(c, 600, "sub1", "sub2", NULL);
	const char *nodes[] = {"pub", "sub1", "sub2"};
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(pt_cluster_devices(c, nodes[i]), total);
	/* Their status reports reach the publisher about once a second;
	 * the bound only keeps a broken build from hanging. */
	bool shown = false;
	for (int tries = 0; tries < 200 && !shown; tries++) {
		shown = status_shows_in_sync(c, last);
		if (!shown)
			usleep(100000);
	}
	ck_assert_msg(shown, "cluster status never showed both subscribers "
			     "in sync at sequence %llu",
		      (unsigned long long)last);

	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_bulk");
	TCase *tc = tcase_create("bulk");
	/* Unchecked: runs in the runner's process, so the nodes are stopped
	 * even when the test's process failed or timed out. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 800);
	tcase_add_test(tc, bulk_import_reaches_both_subscribers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
