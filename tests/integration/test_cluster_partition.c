/* A subscriber cut off from the publisher for a while, with the changelog
 * compacted past its applied sequence meanwhile, recovers by snapshot.
 *
 * With network namespaces (deploy/netns-cluster.sh; needs root) the cut is
 * real: the subscriber's link goes down.  TCP is told to give up on a dead
 * link within seconds (PT_NETNS_TCP_RETRIES), so the test reaches in
 * seconds the state a long partition reaches in about fifteen minutes:
 * the publisher has dropped the subscriber's stream connection, and what
 * it published meanwhile is gone for that subscriber.  The test waits for
 * exactly that (no established stream connection from the subscriber on
 * the publisher's side) before it restores the link.
 *
 * Without namespaces (not root, or ip netns unusable) the subscriber is
 * stopped with SIGSTOP instead.  A stopped process's kernel keeps its TCP
 * connections open and acknowledges what arrives, so the publisher's stream
 * still reaches it afterwards: that variant checks convergence, not the
 * snapshot, and says so on stderr. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pt_cluster.h"

/* The publisher keeps at least KEEP_SEQUENCES changelog entries and holds
 * back no more than MAX_SEQUENCES for a subscriber that lags; the cut
 * subscriber misses WRITES transactions, far more than both. */
#define KEEP_SEQUENCES "5"
#define MAX_SEQUENCES "20"
#define WRITES 80

static pt_cluster_t cluster;
static bool use_netns;

static void setup(void)
{
	char why[512];
	static const char *const env[] = {
		"PT_CLUSTER_KEEP_SEQUENCES=" KEEP_SEQUENCES,
		"PT_CLUSTER_KEEP_DAYS=0",
		"PT_CLUSTER_MAX_SEQUENCES=" MAX_SEQUENCES,
		"PT_NETNS_TCP_RETRIES=3",
		NULL,
	};
	use_netns = pt_cluster_netns_usable(why, sizeof why);
	if (!use_netns)
		fprintf(stderr, "note: %s; the subscriber is stopped with "
				"SIGSTOP instead of cut off, and recovery by "
				"snapshot is not checked\n",
			why);
	pt_cluster_init(&cluster, use_netns, env);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_devices(pt_cluster_t *c, unsigned first, unsigned count)
{
	char *script = NULL;
	ck_assert_int_ge(asprintf(&script,
				  "i=%u; while [ $i -lt %u ]; do "
				  "\"$PT_CLI\" --data '%s/pub' device add "
				  "\"$(printf 'SEP%%012X' $i)\" --model 8841 "
				  "--protocol sip >/dev/null || exit 1; "
				  "i=$((i + 1)); done",
				  first, first + count, c->dir),
			 0);
	pid_t pid = pt_cluster_spawn(c, "writes", script);
	free(script);
	ck_assert_int_eq(pt_cluster_spawn_wait(pid, 300), 0);
}

/* True when the publisher's status shows that the changelog no longer
 * holds the first transaction node lacks (its lag in time is unknown). */
static bool compacted_past(pt_cluster_t *c, const char *node)
{
	pt_run_t r;
	pt_cluster_cli(c, &r, "pub", "cluster", "status", "--json", NULL);
	ck_assert_msg(r.status == 0, "cluster status: %s", r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "cluster status: bad JSON: %s", r.out);
	bool past = false;
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(j, "nodes"), i, row)
	{
		const char *name =
			json_string_value(json_object_get(row, "name"));
		if (name && strcmp(name, node) == 0)
			past = json_integer_value(json_object_get(
				       row, "lag_transactions")) > 0 &&
			       json_is_null(json_object_get(row,
							    "lag_seconds"));
	}
	json_decref(j);
	pt_run_clear(&r);
	return past;
}

/* An established stream connection to addr on the publisher's side.  (The
 * publisher sends nothing on an idle sync connection, so only the stream
 * connection, with its heartbeats, is ever given up.) */
static bool publisher_holds_stream(pt_cluster_t *c, const char *addr)
{
	char ns[64], filter[128];
	snprintf(ns, sizeof ns, "%s-pub", c->prefix);
	snprintf(filter, sizeof filter, "dst %s sport = :%u", addr,
		 c->base_port + 3);
	pt_run_t r;
	pt_test_run(&r, NULL, "/bin/sh", "-c",
		    "ip netns exec \"$0\" ss -Htn state established $1", ns,
		    filter, NULL);
	ck_assert_msg(r.status == 0, "ss: %s", r.err);
	bool held = r.out[0] != '\0';
	pt_run_clear(&r);
	return held;
}

static long node_pid(pt_cluster_t *c, const char *node)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/phonetrustd.pid",
		 pt_cluster_node_dir(c, node));
	char *text = pt_test_read_file(path, NULL);
	long pid = strtol(text, NULL, 10);
	free(text);
	ck_assert_int_gt(pid, 1);
	return pid;
}

START_TEST(cut_subscriber_recovers_by_snapshot)
{
	pt_cluster_t *c = &cluster;
	pt_cluster_up(c, 2);
	write_devices(c, 0, 10);
	pt_cluster_wait_same(c, 120, "sub1", "sub2", NULL);

	long pid = 0;
	if (use_netns) {
		pt_cluster_do(c, "cut", "sub1");
	} else {
		pid = node_pid(c, "sub1");
		ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
	}
	write_devices(c, 10, WRITES);
	/* sub2 keeps up all along. */
	pt_cluster_wait_same(c, 120, "sub2", NULL);

	int64_t deadline = now_ms() + 120 * 1000;
	while (!compacted_past(c, "sub1")) {
		ck_assert_msg(now_ms() < deadline,
			      "the changelog still holds what sub1 lacks "
			      "after 120 s");
		usleep(200 * 1000);
	}
	if (use_netns) {
		/* 10.77.0.2 is sub1 in netns-cluster.sh's default subnet. */
		deadline = now_ms() + 180 * 1000;
		while (publisher_holds_stream(c, "10.77.0.2")) {
			ck_assert_msg(now_ms() < deadline,
				      "the publisher still holds sub1's "
				      "stream connection 180 s into the "
				      "cut");
			usleep(500 * 1000);
		}
		pt_cluster_do(c, "restore", "sub1");
	} else {
		ck_assert_int_eq(kill((pid_t)pid, SIGCONT), 0);
	}

	/* What sub1 missed is no longer in the changelog: a snapshot is the
	 * only way back, once sub1 notices that it is behind. */
	if (use_netns)
		pt_cluster_wait_log(c, "sub1", "installing snapshot", 90);
	pt_cluster_wait_same(c, 90, "sub1", "sub2", NULL);
	ck_assert_uint_eq(pt_cluster_devices(c, "sub1"), 10 + WRITES);

	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_partition");
	TCase *tc = tcase_create("partition");
	/* Unchecked: runs in the runner's process, so the nodes and
	 * namespaces go even when the test's process failed or timed out. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 800);
	tcase_add_test(tc, cut_subscriber_recovers_by_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
