/* The publisher node crashes in the middle of a write burst: its
 * phonetrustd and the CLI import writing its store are both killed with
 * SIGKILL.  After phonetrustd starts again, every transaction the store
 * committed is on every subscriber, and no transaction is there in part:
 * the digests and applied sequences equal the publisher's, and the device
 * count everywhere is a whole number of import transactions (1,000
 * devices each). */
#include <stdio.h>
#include <stdlib.h>

#include "pt_cluster.h"

#define FILE_ROWS 3000 /* three transactions of 1,000 */
#define TXN_ROWS 1000
#define CRASH_AT 60     /* transactions into the burst */

static pt_cluster_t cluster;

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

START_TEST(crashed_publisher_loses_nothing_committed)
{
	pt_cluster_t *c = &cluster;
	pt_cluster_up(c, 2);
	uint64_t start = 0;
	free(pt_cluster_digest(c, "pub", &start));
	/* Imports of FILE_ROWS new devices each, one after another, until
	 * the crash. */
	char *script = NULL;
	ck_assert_int_ge(asprintf(&script,
				  "i=0; while :; do "
				  "awk -v s=$((i * %d)) 'BEGIN { "
				  "print \"name,model,protocol\"; "
				  "for (j = 0; j < %d; j++) "
				  "printf \"SEP%%012X,8841,SIP\\n\", s + j }' "
				  "> '%s/burst.csv' || exit 1; "
				  "\"$PT_CLI\" --data '%s/pub' device import "
				  "--csv '%s/burst.csv' >/dev/null || exit 1; "
				  "i=$((i + 1)); done",
				  FILE_ROWS, FILE_ROWS, c->dir, c->dir, c->dir),
			 0);
	pid_t burst = pt_cluster_spawn(c, "burst", script);
	free(script);

	/* The whole node goes down: the daemon, then (after a few more
	 * commits, maybe) the writer, likely in the middle of a
	 * transaction. */
	pt_cluster_wait_seq(c, start + CRASH_AT, 300);
	pt_cluster_do(c, "kill", "pub");
	int status = 0;
	ck_assert_msg(pt_cluster_spawn_running(burst, &status),
		      "the burst ended by itself (status %d)", status);
	pt_cluster_spawn_kill(burst);

	/* Up again; a write after the restart must flow too. */
	pt_cluster_do(c, "start", "pub");
	pt_run_t r;
	pt_cluster_cli(c, &r, "pub", "device", "add", "SEPAAAAAAAAAAAA",
		       "--model", "8841", "--protocol", "sip", NULL);
	ck_assert_msg(r.status == 0, "device add: %s", r.err);
	pt_run_clear(&r);

	pt_cluster_wait_same(c, 300, "sub1", "sub2", NULL);
	uint64_t devices = pt_cluster_devices(c, "pub");
	ck_assert_uint_ge(devices, CRASH_AT * TXN_ROWS);
	ck_assert_msg((devices - 1) % TXN_ROWS == 0,
		      "%llu devices: a transaction is there in part",
		      (unsigned long long)devices);
	ck_assert_uint_eq(pt_cluster_devices(c, "sub1"), devices);
	ck_assert_uint_eq(pt_cluster_devices(c, "sub2"), devices);

	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_pub_crash");
	TCase *tc = tcase_create("pub_crash");
	/* Unchecked: runs in the runner's process, so the nodes are stopped
	 * even when the test's process failed or timed out. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 800);
	tcase_add_test(tc, crashed_publisher_loses_nothing_committed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
