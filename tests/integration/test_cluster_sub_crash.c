/* A real subscriber killed with SIGKILL in the middle of a write burst on
 * the publisher, and started again while the burst goes on, converges:
 * the same digest and applied sequence as the publisher, and exactly the
 * devices written (nothing missing, nothing doubled). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "pt_cluster.h"

/* The burst: transactions of one new device each, until the test says
 * stop; the subscriber goes down after KILL_AT of them and comes back
 * after START_AT, and the burst goes on until STOP_AT. */
#define KILL_AT 100
#define START_AT 200
#define STOP_AT 300

static pt_cluster_t cluster;

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

START_TEST(killed_subscriber_converges)
{
	pt_cluster_t *c = &cluster;
	pt_cluster_up(c, 2);
	uint64_t start = 0;
	free(pt_cluster_digest(c, "pub", &start));

	char *script = NULL;
	ck_assert_int_ge(asprintf(&script,
				  "i=0; while [ ! -e '%s/stop' ]; do "
				  "\"$PT_CLI\" --data '%s/pub' device add "
				  "\"$(printf 'SEP%%012X' $i)\" --model 8841 "
				  "--protocol sip >/dev/null || exit 1; "
				  "i=$((i + 1)); done",
				  c->dir, c->dir),
			 0);
	pid_t burst = pt_cluster_spawn(c, "burst", script);
	free(script);

	pt_cluster_wait_seq(c, start + KILL_AT, 300);
	pt_cluster_do(c, "kill", "sub1");
	pt_cluster_wait_seq(c, start + START_AT, 300);
	pt_cluster_do(c, "start", "sub1");
	pt_cluster_wait_seq(c, start + STOP_AT, 300);
	char stop[4096];
	snprintf(stop, sizeof stop, "%s/stop", c->dir);
	pt_test_write_file(stop, "");
	ck_assert_int_eq(pt_cluster_spawn_wait(burst, 300), 0);

	/* Every transaction added one device: as many devices everywhere
	 * as the publisher committed transactions. */
	pt_cluster_wait_same(c, 300, "sub1", "sub2", NULL);
	uint64_t last = 0;
	free(pt_cluster_digest(c, "pub", &last));
	ck_assert_uint_ge(last, start + STOP_AT);
	const char *nodes[] = {"pub", "sub1", "sub2"};
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(pt_cluster_devices(c, nodes[i]), last - start);

	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_sub_crash");
	TCase *tc = tcase_create("sub_crash");
	/* Unchecked: runs in the runner's process, so the nodes are stopped
	 * even when the test's process failed or timed out. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 800);
	tcase_add_test(tc, killed_subscriber_converges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
