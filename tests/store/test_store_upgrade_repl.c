/* Mixed schemas in replication, with real stores, real ZeroMQ sockets on
 * loopback and the real publisher and subscriber actors: a subscriber
 * limited to an older schema (the apply limits, a test parameter) skips
 * the tables it does not know, says so once per table in its log, counts
 * the skips in its status reports; one on a newer schema than its
 * publisher is refused and applies nothing. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "join_client.h"
#include "lib/errors.h"
#include "lib/seal.h"
#include "net/log.h"
#include "publisher.h"
#include "pt_test.h"
#include "repl_status.h"
#include "store/apply.h"
#include "store/curve_keys.h"
#include "store/records.h"
#include "subscriber.h"

#define WAIT_MS 30000

static char *tmp;
static pt_store_t *pub_store, *sub_store;
static pt_log_t *pub_log, *sub_log;
static int pub_fd = -1, sub_fd = -1;
static char *pub_log_path, *sub_log_path;

static pt_log_t *file_log(const char *name, char **path, int *fd)
{
	pt_log_t *log = NULL;
	ck_assert_int_ge(asprintf(path, "%s/%s.log", tmp, name), 0);
	*fd = open(*path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(*fd, 0);
	pt_log_opts_t o = {PT_LOG_INFO, *fd, false, name};
	ck_assert_int_eq(pt_log_new(&o, &log), PT_OK);
	return log;
}

static void setup(void)
{
	char *p = NULL, *s = NULL;
	tmp = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&p, "%s/pub", tmp), 0);
	ck_assert_int_ge(asprintf(&s, "%s/sub", tmp), 0);
	ck_assert_int_eq(pt_store_open(p, PT_STORE_CREATE | PT_STORE_NOSYNC,
				       1 << 28, &pub_store),
			 PT_OK);
	ck_assert_int_eq(pt_store_open(s, PT_STORE_CREATE | PT_STORE_NOSYNC,
				       1 << 28, &sub_store),
			 PT_OK);
	free(p);
	free(s);
	pub_log = file_log("pub", &pub_log_path, &pub_fd);
	sub_log = file_log("sub", &sub_log_path, &sub_fd);
}

static void teardown(void)
{
	pt_store_destroy(&pub_store);
	pt_store_destroy(&sub_store);
	pt_log_destroy(&pub_log);
	pt_log_destroy(&sub_log);
	close(pub_fd);
	close(sub_fd);
	free(pub_log_path);
	free(sub_log_path);
	pt_test_rmtree(tmp);
	free(tmp);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One transaction: count devices from first, and (when source) one
 * legacy_sources record. */
static void write_batch(int first, int count, const char *source)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(pub_store, true, "test", &txn), PT_OK);
	for (int i = first; i < first + count; i++) {
		char name[16];
		snprintf(name, sizeof name, "SEP%012X", i);
		Pt__Device dev = PT__DEVICE__INIT;
		dev.name = name;
		ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	}
	if (source) {
		Pt__LegacySource src = PT__LEGACY_SOURCE__INIT;
		src.file = (char *)source;
		ck_assert_int_eq(pt_record_put(txn, PT_TABLE_LEGACY_SOURCES,
					       source, strlen(source), &src.base),
				 PT_OK);
	}
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

static pt_repl_pub_t *start_publisher(unsigned schema)
{
	pt_repl_pub_opts_t o = {
		.store = pub_store,
		.log = pub_log,
		.stream_endpoint = "tcp://127.0.0.1:*",
		.sync_endpoint = "tcp://127.0.0.1:*",
		.heartbeat_ms = 100,
		.schema = schema,
	};
	pt_repl_pub_t *pub = NULL;
	ck_assert_int_eq(pt_repl_pub_new(&o, &pub), PT_OK);
	return pub;
}

static pt_repl_sub_t *start_subscriber(pt_repl_pub_t *pub,
				       const pt_apply_limits_t *limits)
{
	pt_repl_sub_opts_t o = {
		.store = sub_store,
		.log = sub_log,
		.node = "sub1",
		.stream_endpoint = pt_repl_pub_stream_endpoint(pub),
		.sync_endpoint = pt_repl_pub_sync_endpoint(pub),
		.status_ms = 100,
		.sync_timeout_ms = 1000,
		.limits = limits,
	};
	pt_repl_sub_t *sub = NULL;
	ck_assert_int_eq(pt_repl_sub_new(&o, &sub), PT_OK);
	return sub;
}

static uint64_t applied(void)
{
	uint64_t a = 0;
	ck_assert_int_eq(pt_store_applied_sequence(sub_store, &a), PT_OK);
	return a;
}

/* Waits (bounded, so a broken build cannot hang) until the subscriber
 * has applied everything the publisher committed. */
static void wait_applied(void)
{
	uint64_t last = 0;
	ck_assert_int_eq(pt_store_last_sequence(pub_store, &last), PT_OK);
	int64_t until = now_ms() + WAIT_MS;
	while (applied() < last && now_ms() < until)
		usleep(20000);
	ck_assert_uint_eq(applied(), last);
}

static size_t count(pt_store_t *store, pt_table_t table)
{
	pt_txn_t *txn = NULL;
	size_t n = 0;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, table, &n), PT_OK);
	pt_txn_abort(&txn);
	return n;
}

static size_t occurrences(const char *path, const char *needle)
{
	char *text = pt_test_read_file(path, NULL);
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	free(text);
	return n;
}

/* Waits until the publisher has flushed a status of sub1 showing at least
 * skipped changes; returns it. */
static Pt__NodeStatus *wait_status(uint64_t skipped)
{
	Pt__NodeStatus *st = NULL;
	int64_t until = now_ms() + WAIT_MS;
	for (;;) {
		if (pt_repl_status_load(pub_store, "sub1", &st) == PT_OK &&
		    st->skipped_changes >= skipped)
			return st;
		if (st)
			pt__node_status__free_unpacked(st, NULL);
		st = NULL;
		ck_assert_msg(now_ms() < until, "no status with %llu skipped",
			      (unsigned long long)skipped);
		usleep(50000);
	}
}

static const char skip_line[] =
	"touches table 7 (unknown to this node, schema 1): skipped; upgrade "
	"this node";

START_TEST(older_subscriber_skips_unknown_table)
{
	/* A node of schema 1 that knew only the first six tables. */
	pt_apply_limits_t old = {1, PT_TABLE_CAPF_PROFILES};
	pt_repl_pub_t *pub = start_publisher(0);
	write_batch(0, 3, NULL);
	write_batch(3, 2, "CAPF.phone");
	pt_repl_sub_t *sub = start_subscriber(pub, &old);
	wait_applied();
	write_batch(5, 1, "CAPF.cfg");
	write_batch(6, 1, NULL);
	wait_applied();

	/* Everything it knows is there, the unknown table is not, and the
	 * store still took every transaction whole. */
	ck_assert_uint_eq(count(sub_store, PT_TABLE_DEVICES), 7);
	ck_assert_uint_eq(count(sub_store, PT_TABLE_LEGACY_SOURCES), 0);
	ck_assert_uint_eq(count(pub_store, PT_TABLE_LEGACY_SOURCES), 2);
	pt_repl_skips_t skips;
	ck_assert_int_eq(pt_store_repl_skips(sub_store, &skips), PT_OK);
	ck_assert_uint_eq(skips.skipped, 2);
	ck_assert_uint_eq(skips.first_skipped_sequence, 2);
	ck_assert_uint_eq(skips.newest_schema, PT_SCHEMA_VERSION);

	/* Said once for the table, however many changes touched it. */
	ck_assert_uint_eq(occurrences(sub_log_path, skip_line), 1);
	ck_assert_uint_eq(occurrences(sub_log_path, "change 2 from schema 2"),
			  1);

	/* The publisher learns it from the status reports. */
	Pt__NodeStatus *st = wait_status(2);
	ck_assert_uint_eq(st->skipped_changes, 2);
	ck_assert_uint_eq(st->schema, 1);
	ck_assert_uint_eq(st->newest_schema_seen, PT_SCHEMA_VERSION);
	ck_assert_uint_eq(st->applied_sequence, 4);
	pt__node_status__free_unpacked(st, NULL);
	pt_repl_sub_destroy(&sub);

	/* The node is upgraded (this binary, no limits): it applies again
	 * what it skipped, and then holds exactly the publisher's data. */
	sub = start_subscriber(pub, NULL);
	int64_t until = now_ms() + WAIT_MS;
	while (count(sub_store, PT_TABLE_LEGACY_SOURCES) < 2 &&
	       now_ms() < until)
		usleep(20000);
	wait_applied();
	ck_assert_uint_eq(count(sub_store, PT_TABLE_LEGACY_SOURCES), 2);
	uint8_t dp[32], ds[32];
	ck_assert_int_eq(pt_store_digest(pub_store, dp), PT_OK);
	ck_assert_int_eq(pt_store_digest(sub_store, ds), PT_OK);
	ck_assert(memcmp(dp, ds, 32) == 0);
	ck_assert_int_eq(pt_store_repl_skips(sub_store, &skips), PT_OK);
	ck_assert_uint_eq(skips.skipped, 0);
	ck_assert_uint_eq(skips.first_skipped_sequence, 0);
	ck_assert_uint_eq(occurrences(sub_log_path,
				      "applying the publisher's transactions "
				      "again from sequence 2"),
			  1);
	pt_repl_sub_destroy(&sub);
	pt_repl_pub_destroy(&pub);
}
END_TEST

START_TEST(older_subscriber_skips_in_snapshot)
{
	pt_apply_limits_t old = {1, PT_TABLE_CAPF_PROFILES};
	write_batch(0, 4, "CAPF.phone");
	write_batch(4, 1, "CAPF.cfg");
	/* The changelog no longer reaches back: the subscriber gets a
	 * snapshot. */
	size_t removed = 0;
	ck_assert_int_eq(pt_store_compact(pub_store, 1, 0, UINT64_MAX, 100,
					  &removed),
			 PT_OK);
	ck_assert_uint_eq(removed, 1);
	pt_repl_pub_t *pub = start_publisher(0);
	pt_repl_sub_t *sub = start_subscriber(pub, &old);
	wait_applied();
	ck_assert_uint_eq(count(sub_store, PT_TABLE_DEVICES), 5);
	ck_assert_uint_eq(count(sub_store, PT_TABLE_LEGACY_SOURCES), 0);
	ck_assert_uint_eq(occurrences(sub_log_path, skip_line), 1);
	Pt__NodeStatus *st = wait_status(2);
	ck_assert_uint_eq(st->skipped_changes, 2);
	pt__node_status__free_unpacked(st, NULL);
	pt_repl_skips_t skips;
	ck_assert_int_eq(pt_store_repl_skips(sub_store, &skips), PT_OK);
	ck_assert_uint_eq(skips.skipped, 2);
	ck_assert_uint_eq(skips.first_skipped_sequence, 1);
	pt_repl_sub_destroy(&sub);

	/* Upgraded, it starts over and gets what the snapshot held. */
	sub = start_subscriber(pub, NULL);
	int64_t until = now_ms() + WAIT_MS;
	while (count(sub_store, PT_TABLE_LEGACY_SOURCES) < 2 &&
	       now_ms() < until)
		usleep(20000);
	wait_applied();
	uint8_t dp[32], ds[32];
	ck_assert_int_eq(pt_store_digest(pub_store, dp), PT_OK);
	ck_assert_int_eq(pt_store_digest(sub_store, ds), PT_OK);
	ck_assert(memcmp(dp, ds, 32) == 0);
	pt_repl_sub_destroy(&sub);
	pt_repl_pub_destroy(&pub);
}
END_TEST

START_TEST(newer_subscriber_refused)
{
	write_batch(0, 2, NULL);
	/* The publisher acts as a schema-1 one; the subscriber is this
	 * binary. */
	pt_repl_pub_t *pub = start_publisher(1);
	pt_repl_sub_t *sub = start_subscriber(pub, NULL);
	int64_t until = now_ms() + WAIT_MS;
	while ((occurrences(pub_log_path, "upgrade the publisher first") == 0 ||
		occurrences(sub_log_path, "older than this node's 2") == 0) &&
	       now_ms() < until)
		usleep(20000);
	ck_assert_uint_ge(occurrences(pub_log_path,
				      "newer schema (the latest: sync request"),
			  1);
	ck_assert_uint_eq(occurrences(sub_log_path,
				      "the publisher runs store schema 1, "
				      "older than this node's 2"),
			  1);
	write_batch(2, 1, NULL);
	/* The subscriber is alive and reporting after that write, and has
	 * still applied nothing. */
	int64_t written_us = pt_clock_wall_us();
	Pt__NodeStatus *st = NULL;
	until = now_ms() + WAIT_MS;
	for (;;) {
		if (pt_repl_status_load(pub_store, "sub1", &st) == PT_OK &&
		    st->last_contact_us > written_us + 300000)
			break;
		if (st)
			pt__node_status__free_unpacked(st, NULL);
		st = NULL;
		ck_assert_msg(now_ms() < until, "no status after the write");
		usleep(50000);
	}
	ck_assert_uint_eq(st->applied_sequence, 0);
	ck_assert_uint_eq(st->schema, 2);
	pt__node_status__free_unpacked(st, NULL);
	ck_assert_uint_eq(applied(), 0);
	ck_assert_uint_eq(count(sub_store, PT_TABLE_DEVICES), 0);
	pt_repl_sub_destroy(&sub);
	pt_repl_pub_destroy(&pub);

	/* The publisher upgraded: the same subscriber follows it. */
	pub = start_publisher(0);
	sub = start_subscriber(pub, NULL);
	wait_applied();
	ck_assert_uint_eq(count(sub_store, PT_TABLE_DEVICES), 3);
	pt_repl_sub_destroy(&sub);
	pt_repl_pub_destroy(&pub);
}
END_TEST

/* A node of a newer schema asking a publisher of an older one to join is
 * refused with the reason, and nothing is recorded. */
START_TEST(newer_node_cannot_join)
{
	uint8_t salt[32];
	pt_data_key_t key;
	pt_curve_pair_t server, node;
	memset(salt, 0x5a, sizeof salt);
	ck_assert_int_eq(pt_seal_derive_key("join password", salt, sizeof salt,
					    PT_KDF_N, PT_KDF_R, PT_KDF_P, &key),
			 PT_OK);
	Pt__Cluster cl = PT__CLUSTER__INIT;
	cl.name = "c";
	cl.kdf_salt.data = salt;
	cl.kdf_salt.len = sizeof salt;
	cl.kdf_n = PT_KDF_N;
	cl.kdf_r = PT_KDF_R;
	cl.kdf_p = PT_KDF_P;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(pub_store, true, "init", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_put(txn, &cl), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_curve_pair_from_password("join password", &server),
			 PT_OK);
	ck_assert_int_eq(pt_curve_pair_generate(&node), PT_OK);
	pt_repl_pub_opts_t o = {
		.store = pub_store,
		.log = pub_log,
		.stream_endpoint = "tcp://127.0.0.1:*",
		.sync_endpoint = "tcp://127.0.0.1:*",
		.heartbeat_ms = 100,
		.curve_secret = server.secret_key,
		.data_key = &key,
		.schema = 1,
	};
	pt_repl_pub_t *pub = NULL;
	ck_assert_int_eq(pt_repl_pub_new(&o, &pub), PT_OK);
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	pt_join_request_t req = {
		.endpoint = pt_repl_pub_sync_endpoint(pub),
		.password = "join password",
		.node = "sub1",
		.address = "127.0.0.1",
		.tftp_port = 6970,
		.tvs_port = 2446,
		.tftp_der = der,
		.tftp_len = sizeof der,
		.tvs_der = der,
		.tvs_len = sizeof der,
		.node_keys = &node,
		.timeout_ms = 5000,
	};
	pt_join_outcome_t out;
	ck_assert_int_eq(pt_join_run(&req, &out), PT_ERR_DENIED);
	ck_assert_msg(strstr(out.why, "store schema 2, newer than the "
				      "publisher's 1: upgrade the publisher "
				      "first"),
		      "%s", out.why);
	ck_assert_uint_eq(count(pub_store, PT_TABLE_NODES), 0);
	pt_repl_pub_destroy(&pub);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store_upgrade_repl");
	TCase *tc = tcase_create("mixed_schemas");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, older_subscriber_skips_unknown_table);
	tcase_add_test(tc, older_subscriber_skips_in_snapshot);
	tcase_add_test(tc, newer_subscriber_refused);
	tcase_add_test(tc, newer_node_cannot_join);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
