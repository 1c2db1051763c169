/* Replication with real stores, real ZeroMQ sockets on loopback and the
 * real publisher and subscriber actors. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "changelog.pb-c.h"
#include "envelope.h"
#include "lib/errors.h"
#include "net/log.h"
#include "publisher.h"
#include "pt_test.h"
#include "replication.pb-c.h"
#include "store/apply.h"
#include "store/records.h"
#include "subscriber.h"

#define WAIT_MS 30000

static char *dirs[3];
static pt_store_t *stores[3]; /* 0 publisher, 1 and 2 subscribers */

static void setup(void)
{
	for (int i = 0; i < 3; i++) {
		dirs[i] = pt_test_tmpdir();
		ck_assert_int_eq(pt_store_open(dirs[i], PT_STORE_CREATE |
								PT_STORE_NOSYNC,
					       1 << 30, &stores[i]),
				 PT_OK);
	}
}

static void teardown(void)
{
	for (int i = 0; i < 3; i++) {
		pt_store_destroy(&stores[i]);
		pt_test_rmtree(dirs[i]);
		free(dirs[i]);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_devices(pt_store_t *store, int first, int count,
			  const char *desc)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	for (int i = first; i < first + count; i++) {
		char name[16];
		snprintf(name, sizeof name, "SEP%012X", i);
		Pt__Device dev = PT__DEVICE__INIT;
		dev.name = name;
		dev.description = (char *)desc;
		dev.protocol = PT__PROTOCOL__PROTOCOL_SIP;
		ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	}
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

static bool same_data(pt_store_t *a, pt_store_t *b)
{
	uint8_t da[32], db[32];
	ck_assert_int_eq(pt_store_digest(a, da), PT_OK);
	ck_assert_int_eq(pt_store_digest(b, db), PT_OK);
	return memcmp(da, db, 32) == 0;
}

/* Waits (bounded) until the subscriber holds what the publisher holds;
 * the assertion is on the data, the bound only keeps a broken build from
 * hanging. */
static void assert_converges(pt_store_t *pub, pt_store_t *sub)
{
	int64_t until = now_ms() + WAIT_MS;
	while (!same_data(pub, sub) && now_ms() < until)
		usleep(20000);
	ck_assert_msg(same_data(pub, sub),
		      "subscriber did not reach the publisher's data");
	uint64_t a, b;
	ck_assert_int_eq(pt_store_last_sequence(pub, &a), PT_OK);
	ck_assert_int_eq(pt_store_applied_sequence(sub, &b), PT_OK);
	ck_assert_uint_eq(a, b);
}

static size_t device_count(pt_store_t *store)
{
	pt_txn_t *txn;
	size_t n;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_DEVICES, &n), PT_OK);
	pt_txn_abort(&txn);
	return n;
}

static pt_repl_pub_t *start_publisher(void)
{
	pt_repl_pub_opts_t o = {
		.store = stores[0],
		.stream_endpoint = "tcp://127.0.0.1:*",
		.sync_endpoint = "tcp://127.0.0.1:*",
		.heartbeat_ms = 200,
	};
	pt_repl_pub_t *pub;
	ck_assert_int_eq(pt_repl_pub_new(&o, &pub), PT_OK);
	return pub;
}

static pt_repl_sub_t *start_subscriber(pt_repl_pub_t *pub, int i)
{
	pt_repl_sub_opts_t o = {
		.store = stores[i],
		.node = i == 1 ? "sub1" : "sub2",
		.stream_endpoint = pt_repl_pub_stream_endpoint(pub),
		.sync_endpoint = pt_repl_pub_sync_endpoint(pub),
		.status_ms = 100,
		.sync_timeout_ms = 1000,
	};
	pt_repl_sub_t *sub;
	ck_assert_int_eq(pt_repl_sub_new(&o, &sub), PT_OK);
	return sub;
}

START_TEST(stream_reaches_two_subscribers)
{
	pt_repl_pub_t *pub = start_publisher();
	pt_repl_sub_t *s1 = start_subscriber(pub, 1);
	pt_repl_sub_t *s2 = start_subscriber(pub, 2);
	for (int b = 0; b < 20; b++)
		write_devices(stores[0], b * 500, 500, "streamed");
	/* Single-change transactions too, and a delete. */
	for (int i = 0; i < 50; i++)
		write_devices(stores[0], i, 1, "changed");
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(stores[0], true, "del", &txn), PT_OK);
	ck_assert_int_eq(pt_device_del(txn, "SEP000000000007"), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);

	assert_converges(stores[0], stores[1]);
	assert_converges(stores[0], stores[2]);
	ck_assert_uint_eq(device_count(stores[1]), 9999);
	pt_repl_sub_destroy(&s1);
	pt_repl_sub_destroy(&s2);
	pt_repl_pub_destroy(&pub);
	ck_assert_ptr_null(pub);
}
END_TEST

START_TEST(late_subscriber_catches_up_by_sync)
{
	pt_repl_pub_t *pub = start_publisher();
	/* 3,500 single-device transactions: more than one sync batch. */
	for (int i = 0; i < 3500; i++)
		write_devices(stores[0], i, 1, "before");
	pt_repl_sub_t *s1 = start_subscriber(pub, 1);
	assert_converges(stores[0], stores[1]);
	write_devices(stores[0], 9000, 10, "after");
	assert_converges(stores[0], stores[1]);
	pt_repl_sub_destroy(&s1);
	pt_repl_pub_destroy(&pub);
}
END_TEST

START_TEST(compacted_changelog_gives_snapshot)
{
	for (int b = 0; b < 10; b++)
		write_devices(stores[0], b * 1000, 1000, "old");
	/* The subscriber already held some, older, data of its own. */
	write_devices(stores[1], 50000, 5, "stale");
	size_t removed;
	ck_assert_int_eq(pt_store_compact(stores[0], 2, 0, UINT64_MAX, 1000,
					  &removed),
			 PT_OK);
	ck_assert_uint_eq(removed, 8);

	pt_repl_pub_t *pub = start_publisher();
	pt_repl_sub_t *s1 = start_subscriber(pub, 1);
	assert_converges(stores[0], stores[1]);
	ck_assert_uint_eq(device_count(stores[1]), 10000);
	write_devices(stores[0], 20000, 3, "new");
	assert_converges(stores[0], stores[1]);
	pt_repl_sub_destroy(&s1);
	pt_repl_pub_destroy(&pub);
}
END_TEST

struct burst {
	atomic_bool stop;
	int written;
};

static void *burst_writer(void *arg)
{
	struct burst *b = arg;
	while (!atomic_load(&b->stop) && b->written < 4000) {
		write_devices(stores[0], b->written, 10, "burst");
		b->written += 10;
		usleep(500);
	}
	return NULL;
}

START_TEST(subscriber_restarted_mid_burst_converges)
{
	pt_repl_pub_t *pub = start_publisher();
	pt_repl_sub_t *s1 = start_subscriber(pub, 1);
	struct burst b = {0};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, burst_writer, &b), 0);
	usleep(100000);
	pt_repl_sub_destroy(&s1); /* stops between two transactions */
	usleep(100000);
	s1 = start_subscriber(pub, 1);
	pthread_join(t, NULL);
	assert_converges(stores[0], stores[1]);
	ck_assert_uint_eq(device_count(stores[1]), (size_t)b.written);
	pt_repl_sub_destroy(&s1);
	pt_repl_pub_destroy(&pub);
}
END_TEST

/* ---- a hand-driven publisher sends a real subscriber bad messages ---- */

static void send_frame(void *sock, const void *data, size_t len)
{
	ck_assert_int_ge(zmq_send(sock, data, len, 0), 0);
}

static void send_env(void *sock, Pt__Envelope *env)
{
	env->version = env->version ? env->version : PT_REPL_VERSION;
	ck_assert_int_eq(pt_repl_send(sock, env, 0), PT_OK);
}

static size_t pack_transaction(uint64_t seq, const char *name, uint8_t *buf)
{
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = (char *)name;
	uint8_t val[64];
	size_t vlen = pt__device__pack(&dev, val);
	Pt__Change c = PT__CHANGE__INIT;
	c.table = PT_TABLE_DEVICES;
	c.key.data = (uint8_t *)name;
	c.key.len = strlen(name);
	c.value.data = val;
	c.value.len = vlen;
	Pt__Change *cs[1] = {&c};
	Pt__Transaction t = PT__TRANSACTION__INIT;
	t.sequence = seq;
	t.n_changes = 1;
	t.changes = cs;
	return pt__transaction__pack(&t, buf);
}

/* Waits for the next request on the fake publisher's ROUTER and returns
 * its body case (NOT_SET when none came). */
static Pt__Envelope__BodyCase next_request(void *router, int timeout_ms,
					   uint64_t *after)
{
	int64_t until = now_ms() + timeout_ms;
	while (now_ms() < until) {
		zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 50) <= 0)
			continue;
		zmq_msg_t id, body;
		zmq_msg_init(&id);
		zmq_msg_init(&body);
		zmq_msg_recv(&id, router, 0);
		zmq_msg_recv(&body, router, 0);
		Pt__Envelope *env = NULL;
		Pt__Envelope__BodyCase c = PT__ENVELOPE__BODY__NOT_SET;
		if (pt_repl_decode(zmq_msg_data(&body), zmq_msg_size(&body),
				   PT_REPL_MAX_REQUEST, &env) == PT_OK) {
			c = env->body_case;
			if (c == PT__ENVELOPE__BODY_SYNC_REQUEST && after)
				*after = env->sync_request->after_sequence;
			pt__envelope__free_unpacked(env, NULL);
		}
		zmq_msg_close(&id);
		zmq_msg_close(&body);
		if (c != PT__ENVELOPE__BODY_STATUS)
			return c;
	}
	return PT__ENVELOPE__BODY__NOT_SET;
}

START_TEST(bad_messages_are_dropped_and_logged)
{
	void *ctx = zmq_ctx_new();
	void *pub = zmq_socket(ctx, ZMQ_PUB);
	void *router = zmq_socket(ctx, ZMQ_ROUTER);
	int zero = 0;
	zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
	ck_assert_int_eq(zmq_bind(pub, "tcp://127.0.0.1:*"), 0);
	ck_assert_int_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
	char stream_ep[128], sync_ep[128];
	size_t len = sizeof stream_ep;
	zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, stream_ep, &len);
	len = sizeof sync_ep;
	zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, sync_ep, &len);

	char logpath[4096];
	snprintf(logpath, sizeof logpath, "%s/sub.log", dirs[1]);
	int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pt_log_opts_t lo = {.level = PT_LOG_DEBUG, .fd = logfd};
	pt_log_t *log;
	ck_assert_int_eq(pt_log_new(&lo, &log), PT_OK);

	pt_repl_sub_opts_t o = {
		.store = stores[1],
		.log = log,
		.node = "sub1",
		.stream_endpoint = stream_ep,
		.sync_endpoint = sync_ep,
		.status_ms = 100000,
		.sync_timeout_ms = 100000,
	};
	pt_repl_sub_t *sub;
	ck_assert_int_eq(pt_repl_sub_new(&o, &sub), PT_OK);
	/* Its first act is a sync request; answer "nothing to send". */
	uint64_t after = 99;
	ck_assert_int_eq(next_request(router, 5000, &after),
			 PT__ENVELOPE__BODY_SYNC_REQUEST);
	ck_assert_uint_eq(after, 0);

	/* Give the SUB connection time to complete before publishing: PUB
	 * drops what it sends before a subscriber is attached. */
	usleep(300000);
	uint8_t buf[256];
	send_frame(pub, "\xff\xff\xff garbage", 12);              /* not protobuf */
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = 7;                                          /* unknown version */
	env.body_case = PT__ENVELOPE__BODY_TRANSACTION;
	size_t n = pack_transaction(1, "SEP00000000000A", buf);
	env.transaction.data = buf;
	env.transaction.len = n;
	ck_assert_int_eq(pt_repl_send(pub, &env, 0), PT_OK);
	env.version = PT_REPL_VERSION;
	env.transaction.len = n - 3;                              /* truncated */
	send_env(pub, &env);
	Pt__Envelope weird = PT__ENVELOPE__INIT;                  /* wrong type */
	Pt__JoinResult jr = PT__JOIN_RESULT__INIT;
	weird.body_case = PT__ENVELOPE__BODY_JOIN_RESULT;
	weird.join_result = &jr;
	send_env(pub, &weird);

	/* Still waiting for its sync answer, it ignores streamed data; the
	 * fake publisher never answers, so none of the above could have been
	 * applied by any path.  Check the log and the store. */
	usleep(300000);
	ck_assert_uint_eq(device_count(stores[1]), 0);
	pt_repl_sub_destroy(&sub);
	pt_log_destroy(&log);
	close(logfd);
	char *text = pt_test_read_file(logpath, NULL);
	ck_assert_msg(strstr(text, "dropped a 12-byte stream message"), "%s",
		      text);
	ck_assert_msg(strstr(text, "invalid value"), "%s", text);
	ck_assert_msg(strstr(text, "unexpected join result on the stream"),
		      "%s", text);
	free(text);
	zmq_close(pub);
	zmq_close(router);
	zmq_ctx_term(ctx);
}
END_TEST

/* A following subscriber (sync answered) applies good transactions, drops
 * bad ones and detects a gap by asking for a sync. */
START_TEST(following_subscriber_checks_sequences)
{
	void *ctx = zmq_ctx_new();
	void *pub = zmq_socket(ctx, ZMQ_PUB);
	void *router = zmq_socket(ctx, ZMQ_ROUTER);
	int zero = 0;
	zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
	ck_assert_int_eq(zmq_bind(pub, "tcp://127.0.0.1:*"), 0);
	ck_assert_int_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
	char stream_ep[128], sync_ep[128];
	size_t len = sizeof stream_ep;
	zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, stream_ep, &len);
	len = sizeof sync_ep;
	zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, sync_ep, &len);
	pt_repl_sub_opts_t o = {
		.store = stores[1],
		.node = "sub1",
		.stream_endpoint = stream_ep,
		.sync_endpoint = sync_ep,
		.status_ms = 100000,
		.sync_timeout_ms = 100000,
	};
	pt_repl_sub_t *sub;
	ck_assert_int_eq(pt_repl_sub_new(&o, &sub), PT_OK);

	/* Answer its first sync request with an empty, final batch. */
	zmq_msg_t id, body;
	zmq_msg_init(&id);
	zmq_msg_init(&body);
	zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
	ck_assert_int_eq(zmq_poll(&it, 1, 5000), 1);
	zmq_msg_recv(&id, router, 0);
	zmq_msg_recv(&body, router, 0);
	Pt__SyncBatch batch = PT__SYNC_BATCH__INIT;
	Pt__Envelope reply = PT__ENVELOPE__INIT;
	reply.version = PT_REPL_VERSION;
	reply.body_case = PT__ENVELOPE__BODY_SYNC_BATCH;
	reply.sync_batch = &batch;
	ck_assert_int_eq(pt_repl_send_to(router, zmq_msg_data(&id),
					 zmq_msg_size(&id), &reply),
			 PT_OK);
	zmq_msg_close(&id);
	zmq_msg_close(&body);
	usleep(300000);

	uint8_t buf[256];
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.body_case = PT__ENVELOPE__BODY_TRANSACTION;
	env.transaction.data = buf;
	/* A transaction whose change names an unknown table: refused whole. */
	env.transaction.len = pack_transaction(1, "SEP00000000000B", buf);
	Pt__Transaction *t = pt__transaction__unpack(NULL, env.transaction.len,
						     buf);
	t->changes[0]->table = 99;
	env.transaction.len = pt__transaction__pack(t, buf);
	pt__transaction__free_unpacked(t, NULL);
	send_env(pub, &env);
	/* The good sequence 1 is applied. */
	env.transaction.len = pack_transaction(1, "SEP00000000000C", buf);
	send_env(pub, &env);
	int64_t until = now_ms() + WAIT_MS;
	while (device_count(stores[1]) < 1 && now_ms() < until)
		usleep(10000);
	ck_assert_uint_eq(device_count(stores[1]), 1);
	Pt__Device *dev = NULL;
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(stores[1], false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, "SEP00000000000B", &dev),
			 PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_device_get(txn, "SEP00000000000C", &dev), PT_OK);
	pt_record_free(&dev->base);
	pt_txn_abort(&txn);

	/* Sequence 5 after 1 is a gap: nothing applied, a sync request for
	 * everything after 1 goes out. */
	env.transaction.len = pack_transaction(5, "SEP00000000000D", buf);
	send_env(pub, &env);
	uint64_t after = 0;
	ck_assert_int_eq(next_request(router, 5000, &after),
			 PT__ENVELOPE__BODY_SYNC_REQUEST);
	ck_assert_uint_eq(after, 1);
	ck_assert_uint_eq(device_count(stores[1]), 1);

	pt_repl_sub_destroy(&sub);
	zmq_close(pub);
	zmq_close(router);
	zmq_ctx_term(ctx);
}
END_TEST

static Suite *replication_suite(void)
{
	Suite *s = suite_create("replication");
	TCase *tc = tcase_create("flows");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stream_reaches_two_subscribers);
	tcase_add_test(tc, late_subscriber_catches_up_by_sync);
	tcase_add_test(tc, compacted_changelog_gives_snapshot);
	tcase_add_test(tc, subscriber_restarted_mid_burst_converges);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_messages_are_dropped_and_logged);
	tcase_add_test(tc, following_subscriber_checks_sequences);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(replication_suite());
}
