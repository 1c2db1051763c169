/* bench_replication: the real publisher and two real subscribers, each with
 * its own store, talking CurveZMQ over TCP on 127.0.0.1 (in-process actors,
 * keys and node records as in production), measured in one run:
 *
 *   bench_replication [--quick] [--dir D] [--nosync]
 *
 * Every node fsyncs at commit as phonetrustd does (--nosync: none, for all
 * stores and the raw LMDB environment alike).
 *
 * (a) lag: single-change transactions at 1,000/s for 10 s; for every
 *     sequence, the time from the publisher's commit returning to each
 *     subscriber's on_applied callback for it (p50/p99/max).
 * (b) import: 100,000 devices in transactions of 1,000; the time from the
 *     first publisher write until both subscribers applied the last
 *     transaction, as a ratio to the publisher's own write time.
 * (c) catch-up: one subscriber is stopped (actor and store closed),
 *     1,000,000 changes are committed (1,000 transactions of 1,000), and it
 *     is restarted; changes/s until it holds the newest sequence, next to
 *     mdb_put of the very same keys and values (read back from those
 *     transactions) into a plain LMDB environment, 1,000 per transaction.
 * (d) ceiling: raw ZeroMQ PUB/SUB over TCP loopback, plain and CurveZMQ,
 *     with messages of the sizes of (a)'s and (b)'s stream messages.
 *
 * Prints figures and the targets; asserts nothing.  Exit status 1
 * only when the run itself failed (a subscriber never converged, digests
 * differ, a store error).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "changelog.pb-c.h"
#include "envelope.h"
#include "lib/device_rules.h"
#include "lib/errors.h"
#include "lib/seal.h"
#include "net/log.h"
#include "publisher.h"
#include "replication.pb-c.h"
#include "store/apply.h"
#include "store/curve_keys.h"
#include "store/records.h"
#include "store/store.h"
#include "subscriber.h"

#define BATCH 1000
#define MAP_SIZE ((size_t)16 << 30)
#define PASSWORD "bench cluster security password, long and strong"
/* Device names: one range per phase, so no phase rewrites another's. */
#define NAMES_A UINT64_C(0xA00000000000)
#define NAMES_B UINT64_C(0xB00000000000)
#define NAMES_C UINT64_C(0xC00000000000)
#define WARMUP 100

struct sizes {
	double rate;       /* (a) transactions per second */
	double seconds;    /* (a) duration */
	size_t import;     /* (b) devices */
	size_t catchup;    /* (c) changes */
	size_t zmq_bytes;  /* (d) bytes sent per measurement */
};

/* One subscriber as its on_applied callback sees it.  The callback runs in
 * the actor's thread; it writes applied_at[] and then publishes the new
 * sequence with release, so a reader that saw the sequence (acquire) may
 * read the times. */
struct track {
	atomic_uint_fast64_t applied;
	double *applied_at; /* by sequence, CLOCK_MONOTONIC seconds */
	uint64_t cap;
};

struct node {
	const char *name;
	char *dir;
	pt_store_t *store;
	pt_log_t *log;
	pt_curve_pair_t keys;
	struct track track;
	pt_repl_sub_t *sub;
};

struct bench {
	struct sizes sz;
	bool nosync;
	char *dir;
	unsigned store_flags;
	pt_data_key_t data_key;
	pt_curve_pair_t server;
	pt_store_t *pub_store;
	pt_log_t *pub_log;
	pt_repl_pub_t *pub;
	struct node subs[2];
	double *commit_at; /* by sequence, set by the writer after commit */
	uint64_t cap;
	bool failed;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_replication: %s: %s\n", what, pt_strerror(err));
	exit(1);
}

static void die_mdb(const char *what, int rc)
{
	fprintf(stderr, "bench_replication: %s: %s\n", what, mdb_strerror(rc));
	exit(1);
}

static void die_zmq(const char *what)
{
	fprintf(stderr, "bench_replication: %s: %s\n", what,
		zmq_strerror(zmq_errno()));
	exit(1);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;
	if (!d)
		die(dir, PT_ESYS(errno));
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static char *subdir(const char *dir, const char *name)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		die("asprintf", PT_ERR_NOMEM);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		die(path, PT_ESYS(errno));
	return path;
}

/* ---- records ---------------------------------------------------------- */

/* A device shaped like a provisioned phone (CAPF settings with a sealed
 * authentication string, hardening), newly allocated (pt_record_free). */
static Pt__Device *make_device(uint64_t id, const pt_data_key_t *key)
{
	Pt__Device dev = PT__DEVICE__INIT, *copy = NULL;
	Pt__CapfSettings capf = PT__CAPF_SETTINGS__INIT;
	Pt__Hardening hard = PT__HARDENING__INIT;
	Pt__Sealed *sealed = NULL;
	char name[24], aad[64], digits[16], desc[64];
	snprintf(name, sizeof name, "SEP%012" PRIX64, id);
	snprintf(desc, sizeof desc, "bench phone %" PRIu64 ", floor %" PRIu64,
		 id & UINT64_C(0xffffffffff), id % 40);
	snprintf(aad, sizeof aad, "device/%s/auth_string", name);
	snprintf(digits, sizeof digits, "%08" PRIu64, (id * 7919) % 100000000);
	int r = pt_seal(key, aad, digits, strlen(digits), &sealed);
	if (r != PT_OK)
		die("seal", r);
	dev.name = name;
	dev.description = desc;
	dev.model = id % 2 ? "8841" : "7975";
	dev.protocol = id % 2 ? PT__PROTOCOL__PROTOCOL_SIP
			      : PT__PROTOCOL__PROTOCOL_SCCP;
	dev.security_profile =
		id % 2 ? "Cisco 8841 - Standard SIP Non-Secure Profile"
		       : "Cisco 7975 - Standard SCCP Non-Secure Profile";
	capf.operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	capf.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	capf.auth_string = sealed;
	capf.key_size = 2048;
	capf.completes_by = 1800000000;
	capf.status = PT__CAPF_STATUS__CAPF_STATUS_PENDING;
	capf.status_operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	capf.status_time = 1790000000;
	hard.web_access = PT__TOGGLE__TOGGLE_DISABLED;
	dev.capf = &capf;
	dev.hardening = &hard;
	dev.created = dev.updated = 1790000000;
	r = pt_device_copy(&dev, &copy);
	protobuf_c_message_free_unpacked(&sealed->base, NULL);
	if (r != PT_OK)
		die("copy", r);
	return copy;
}

/* Commits devices[0..n) in one publisher transaction and records when the
 * commit returned.  Returns the sequence. */
static uint64_t commit_devices(struct bench *b, Pt__Device **devs, size_t n,
			       const char *origin)
{
	pt_txn_t *txn = NULL;
	uint64_t seq = 0;
	int r = pt_txn_begin(b->pub_store, true, origin, &txn);
	if (r != PT_OK)
		die("begin", r);
	for (size_t i = 0; i < n; i++)
		if ((r = pt_device_put(txn, devs[i])) != PT_OK)
			die("put", r);
	if ((r = pt_txn_commit(&txn, &seq)) != PT_OK)
		die("commit", r);
	double t = now_s();
	if (seq == 0 || seq >= b->cap) {
		fprintf(stderr, "bench_replication: unexpected sequence %" PRIu64
				"\n", seq);
		exit(1);
	}
	b->commit_at[seq] = t;
	return seq;
}

/* Single-change transactions of fresh devices from id on, one every
 * 1/rate seconds on a fixed schedule (a late one is not made up for by
 * sleeping less later, only by not sleeping).  Returns the last sequence;
 * *late counts transactions that started more than 1 ms behind. */
static uint64_t write_paced(struct bench *b, uint64_t id, size_t n,
			    double rate, size_t *late, double *elapsed)
{
	uint64_t seq = 0;
	size_t behind = 0;
	double t0 = now_s() + 0.001;
	for (size_t i = 0; i < n; i++) {
		double at = t0 + (double)i / rate;
		if (now_s() > at + 0.001)
			behind++;
		else
			sleep_until(at);
		Pt__Device *dev = make_device(id + i, &b->data_key);
		seq = commit_devices(b, &dev, 1, "bench lag");
		pt_record_free(&dev->base);
	}
	if (late)
		*late = behind;
	if (elapsed)
		*elapsed = now_s() - t0;
	return seq;
}

/* ---- subscribers ------------------------------------------------------- */

static void on_applied(void *ctx, uint64_t seq)
{
	struct track *t = ctx;
	double now = now_s();
	uint64_t prev = atomic_load_explicit(&t->applied, memory_order_relaxed);
	/* A sync batch reports each transaction; a snapshot jumps: every
	 * sequence it covers became visible now. */
	for (uint64_t s = prev + 1; s <= seq && s < t->cap; s++)
		t->applied_at[s] = now;
	atomic_store_explicit(&t->applied, seq, memory_order_release);
}

static void open_node_store(struct bench *b, struct node *n)
{
	int r = pt_store_open(n->dir, b->store_flags, MAP_SIZE, &n->store);
	if (r != PT_OK)
		die("open subscriber store", r);
	uint64_t seq = 0;
	if ((r = pt_store_applied_sequence(n->store, &seq)) != PT_OK)
		die("applied sequence", r);
	atomic_store(&n->track.applied, seq);
}

static void start_subscriber(struct bench *b, struct node *n)
{
	pt_repl_sub_opts_t o = {
		.store = n->store,
		.log = n->log,
		.node = n->name,
		.stream_endpoint = pt_repl_pub_stream_endpoint(b->pub),
		.sync_endpoint = pt_repl_pub_sync_endpoint(b->pub),
		.curve_server_public = b->server.public_key,
		.curve_public = n->keys.public_key,
		.curve_secret = n->keys.secret_key,
		.on_applied = on_applied,
		.on_applied_ctx = &n->track,
	};
	int r = pt_repl_sub_new(&o, &n->sub);
	if (r != PT_OK)
		die("start subscriber", r);
}

/* Waits until the subscriber applied seq; false after limit seconds. */
static bool wait_applied(const struct node *n, uint64_t seq, double limit)
{
	double until = now_s() + limit;
	while (atomic_load_explicit(&n->track.applied, memory_order_acquire) <
	       seq) {
		if (now_s() > until)
			return false;
		/* The times come from the callback; polling slowly keeps
		 * this thread off the CPUs the actors need. */
		usleep(10000);
	}
	return true;
}

static bool wait_both(struct bench *b, uint64_t seq, double limit)
{
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		if (!wait_applied(&b->subs[i], seq, limit)) {
			fprintf(stderr,
				"bench_replication: %s did not reach sequence "
				"%" PRIu64 " within %.0f s (it holds %" PRIu64
				")\n",
				b->subs[i].name, seq, limit,
				(uint64_t)atomic_load(&b->subs[i].track.applied));
			ok = false;
		}
	}
	if (!ok)
		b->failed = true;
	return ok;
}

/* Size of the stream message that carries a changelog entry of len bytes:
 * the envelope around it. */
static size_t envelope_size(size_t len)
{
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_TRANSACTION;
	env.transaction.len = len;
	return pt__envelope__get_packed_size(&env);
}

/* Total and mean stream message size for sequences first..last. */
static void message_sizes(struct bench *b, uint64_t first, uint64_t last,
			  size_t *total, size_t *mean)
{
	pt_txn_t *txn = NULL;
	size_t sum = 0;
	int r = pt_txn_begin(b->pub_store, false, NULL, &txn);
	if (r != PT_OK)
		die("begin", r);
	for (uint64_t s = first; s <= last; s++) {
		const uint8_t *val;
		size_t len;
		if ((r = pt_txn_changelog_get(txn, s, &val, &len)) != PT_OK)
			die("changelog", r);
		sum += envelope_size(len);
	}
	pt_txn_abort(&txn);
	*total = sum;
	*mean = sum / (size_t)(last - first + 1);
}

/* ---- setup -------------------------------------------------------------- */

static pt_log_t *new_log(const char *ident)
{
	pt_log_opts_t o = {.level = PT_LOG_INFO, .fd = 2, .ident = ident};
	pt_log_t *log = NULL;
	int r = pt_log_new(&o, &log);
	if (r != PT_OK)
		die("log", r);
	return log;
}

/* The publisher's store as a cluster with two joined subscribers holds
 * it, as far as CurveZMQ admission goes: a node record with each
 * subscriber's public key. */
static void add_node_records(struct bench *b)
{
	pt_txn_t *txn = NULL;
	int r = pt_txn_begin(b->pub_store, true, "bench nodes", &txn);
	if (r != PT_OK)
		die("begin", r);
	for (int i = 0; i < 2; i++) {
		Pt__Node node = PT__NODE__INIT;
		node.name = (char *)b->subs[i].name;
		node.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
		node.address = "127.0.0.1";
		node.curve_public_key.data = b->subs[i].keys.public_key;
		node.curve_public_key.len = PT_CURVE_KEY_LEN;
		node.joined = (int64_t)time(NULL);
		if ((r = pt_node_put(txn, &node)) != PT_OK)
			die("node put", r);
	}
	if ((r = pt_txn_commit(&txn, NULL)) != PT_OK)
		die("commit", r);
}

static void setup(struct bench *b)
{
	int r;
	b->store_flags = PT_STORE_CREATE | (b->nosync ? PT_STORE_NOSYNC : 0);
	memset(&b->data_key, 0x11, sizeof b->data_key);
	b->cap = 16 + WARMUP + (uint64_t)(b->sz.rate * b->sz.seconds) +
		 b->sz.import / BATCH + b->sz.catchup / BATCH + 16;
	b->commit_at = calloc(b->cap, sizeof *b->commit_at);
	if ((r = pt_curve_pair_from_password(PASSWORD, &b->server)) != PT_OK)
		die("server key pair", r);

	char *pub_dir = subdir(b->dir, "publisher");
	r = pt_store_open(pub_dir, b->store_flags, MAP_SIZE, &b->pub_store);
	free(pub_dir);
	if (r != PT_OK)
		die("open publisher store", r);
	static const char *names[2] = {"sub1", "sub2"};
	for (int i = 0; i < 2; i++) {
		struct node *n = &b->subs[i];
		n->name = names[i];
		n->dir = subdir(b->dir, names[i]);
		n->log = new_log(names[i]);
		n->track.cap = b->cap;
		n->track.applied_at = calloc(b->cap, sizeof(double));
		if ((r = pt_curve_pair_generate(&n->keys)) != PT_OK)
			die("subscriber key pair", r);
		open_node_store(b, n);
	}
	add_node_records(b);

	b->pub_log = new_log("publisher");
	pt_repl_pub_opts_t o = {
		.store = b->pub_store,
		.log = b->pub_log,
		.stream_endpoint = "tcp://127.0.0.1:*",
		.sync_endpoint = "tcp://127.0.0.1:*",
		.curve_secret = b->server.secret_key,
	};
	if ((r = pt_repl_pub_new(&o, &b->pub)) != PT_OK)
		die("start publisher", r);
	for (int i = 0; i < 2; i++)
		start_subscriber(b, &b->subs[i]);
	uint64_t last = 0;
	pt_store_last_sequence(b->pub_store, &last);
	if (!wait_both(b, last, 60))
		exit(1);
	/* The first sync answers before the SUB connection is surely up; a
	 * transaction published before that would be lost to the stream and
	 * recovered by sync, which (a) must not measure.  Heartbeats come
	 * every second; after two, both streams are attached. */
	usleep(2200000);
	last = write_paced(b, NAMES_A - WARMUP, WARMUP, 1000, NULL, NULL);
	if (!wait_both(b, last, 60))
		exit(1);
}

static void teardown(struct bench *b)
{
	for (int i = 0; i < 2; i++) {
		struct node *n = &b->subs[i];
		pt_repl_sub_destroy(&n->sub);
		pt_store_destroy(&n->store);
		pt_log_destroy(&n->log);
		free(n->track.applied_at);
		free(n->dir);
		pt_curve_pair_clear(&n->keys);
	}
	pt_repl_pub_destroy(&b->pub);
	pt_log_destroy(&b->pub_log);
	pt_store_destroy(&b->pub_store);
	pt_curve_pair_clear(&b->server);
	free(b->commit_at);
}

/* ---- statistics ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double p)
{
	double exact = p / 100.0 * (double)n;
	size_t rank = (size_t)exact;
	if ((double)rank < exact)
		rank++;
	return v[rank ? rank - 1 : 0];
}

static const char *verdict(bool met)
{
	return met ? "met" : "NOT MET";
}

/* ---- (a) lag ------------------------------------------------------------- */

struct lag_result {
	double p50[2], p99[2], max[2];
	size_t n, late, msg_mean;
	double achieved;
	bool ok;
};

static void bench_lag(struct bench *b, struct lag_result *res)
{
	size_t n = (size_t)(b->sz.rate * b->sz.seconds), total;
	double elapsed;
	uint64_t first = 0;
	pt_store_last_sequence(b->pub_store, &first);
	first++;
	uint64_t last = write_paced(b, NAMES_A, n, b->sz.rate, &res->late,
				    &elapsed);
	res->n = n;
	res->achieved = (double)n / elapsed;
	res->ok = wait_both(b, last, 60);
	message_sizes(b, first, last, &total, &res->msg_mean);
	if (!res->ok)
		return;
	double *lag = malloc(n * sizeof *lag);
	for (int i = 0; i < 2; i++) {
		const struct track *t = &b->subs[i].track;
		for (size_t k = 0; k < n; k++)
			lag[k] = t->applied_at[first + k] - b->commit_at[first + k];
		qsort(lag, n, sizeof *lag, cmp_double);
		res->p50[i] = percentile(lag, n, 50) * 1e3;
		res->p99[i] = percentile(lag, n, 99) * 1e3;
		res->max[i] = lag[n - 1] * 1e3;
	}
	free(lag);
}

/* ---- (b) import ---------------------------------------------------------- */

struct import_result {
	double pub_s, sub_s[2], both_s;
	size_t txns, bytes, msg_mean;
	bool ok;
};

static void bench_import(struct bench *b, struct import_result *res)
{
	size_t n = b->sz.import;
	/* Records are built (and auth strings sealed) before the clock
	 * starts: that is the caller's work, the same on any store. */
	Pt__Device **devs = calloc(n, sizeof *devs);
	for (size_t i = 0; i < n; i++)
		devs[i] = make_device(NAMES_B + i, &b->data_key);
	uint64_t first = 0, last = 0;
	pt_store_last_sequence(b->pub_store, &first);
	first++;
	double t0 = now_s();
	for (size_t i = 0; i < n; i += BATCH)
		last = commit_devices(b, devs + i, n - i < BATCH ? n - i : BATCH,
				      "bench import");
	res->pub_s = b->commit_at[last] - t0;
	res->txns = (size_t)(last - first + 1);
	res->ok = wait_both(b, last, 600);
	for (size_t i = 0; i < n; i++)
		pt_record_free(&devs[i]->base);
	free(devs);
	message_sizes(b, first, last, &res->bytes, &res->msg_mean);
	if (!res->ok)
		return;
	res->both_s = 0;
	for (int i = 0; i < 2; i++) {
		res->sub_s[i] = b->subs[i].track.applied_at[last] - t0;
		if (res->sub_s[i] > res->both_s)
			res->both_s = res->sub_s[i];
	}
}

/* ---- (c) catch-up --------------------------------------------------------- */

#define RUNS 3

struct catchup_result {
	double pub_s, live_s;
	double catchup_s[RUNS], raw_s[RUNS]; /* sorted */
	size_t changes, bytes, msg_mean;
	bool ok;
};

/* Writes the changes of changelog entries first..last, exactly as the
 * publisher committed them, into a new plain LMDB environment, one LMDB
 * transaction per changelog entry.  Only the write transactions are
 * timed; reading and decoding the entries is not. */
static double raw_lmdb_writes(struct bench *b, uint64_t first, uint64_t last)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;
	char *path = subdir(b->dir, "raw");
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(subdir(b->dir, "raw"));
	if ((rc = mdb_env_create(&env)) != 0)
		die_mdb("env", rc);
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_mapsize(env, MAP_SIZE);
	if ((rc = mdb_env_open(env, path, MDB_NOTLS | (b->nosync ? MDB_NOSYNC : 0),
			       0600)) != 0)
		die_mdb("open", rc);
	free(path);
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "devices", MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0)
		die_mdb("dbi", rc);

	pt_txn_t *rtxn = NULL;
	int r = pt_txn_begin(b->pub_store, false, NULL, &rtxn);
	if (r != PT_OK)
		die("begin", r);
	double spent = 0;
	for (uint64_t s = first; s <= last; s++) {
		const uint8_t *val;
		size_t len;
		if ((r = pt_txn_changelog_get(rtxn, s, &val, &len)) != PT_OK)
			die("changelog", r);
		Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
		if (!t)
			die("changelog entry", PT_ERR_CORRUPT);
		double t0 = now_s();
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			die_mdb("begin", rc);
		for (size_t i = 0; i < t->n_changes; i++) {
			const Pt__Change *c = t->changes[i];
			MDB_val k = {c->key.len, c->key.data};
			MDB_val v = {c->value.len, c->value.data};
			if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
				die_mdb("put", rc);
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			die_mdb("commit", rc);
		spent += now_s() - t0;
		pt__transaction__free_unpacked(t, NULL);
	}
	pt_txn_abort(&rtxn);
	mdb_env_close(env);
	return spent;
}

/* Copies the file from to the file to (created or truncated). */
static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	if (!in || !out)
		die(in ? to : from, PT_ESYS(errno));
	static char buf[1 << 20];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			die(to, PT_ESYS(errno));
	if (ferror(in) || fclose(out) != 0)
		die(to, PT_ESYS(errno));
	fclose(in);
}

/* One restart: the subscriber's store as it was when it stopped, the
 * actor started, and the time until it holds sequence last. */
static double catch_up_once(struct bench *b, struct node *n,
			    const char *saved, uint64_t last)
{
	char *data = NULL;
	if (asprintf(&data, "%s/store/data.mdb", n->dir) < 0)
		die("asprintf", PT_ERR_NOMEM);
	copy_file(saved, data);
	free(data);
	double t0 = now_s();
	open_node_store(b, n);
	start_subscriber(b, n);
	if (!wait_applied(n, last, 1800)) {
		fprintf(stderr, "bench_replication: %s did not catch up within "
				"30 minutes\n", n->name);
		b->failed = true;
		return -1;
	}
	return n->track.applied_at[last] - t0;
}

static void sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
}

static void bench_catchup(struct bench *b, struct catchup_result *res)
{
	struct node *live = &b->subs[0], *late = &b->subs[1];
	/* A restart: the actor stops and the store is closed, as when the
	 * node's daemon stops.  Its file is saved so the catch-up can be
	 * run several times from the same state. */
	pt_repl_sub_destroy(&late->sub);
	pt_store_destroy(&late->store);
	char *data = NULL, *saved = NULL;
	if (asprintf(&data, "%s/store/data.mdb", late->dir) < 0 ||
	    asprintf(&saved, "%s/sub2-at-restart.mdb", b->dir) < 0)
		die("asprintf", PT_ERR_NOMEM);
	copy_file(data, saved);
	free(data);
	uint64_t held = atomic_load(&late->track.applied);

	uint64_t first = 0, last = 0;
	pt_store_last_sequence(b->pub_store, &first);
	first++;
	size_t n = b->sz.catchup;
	Pt__Device *devs[BATCH];
	double t0 = now_s();
	for (size_t i = 0; i < n; i += BATCH) {
		size_t k = n - i < BATCH ? n - i : BATCH;
		for (size_t j = 0; j < k; j++)
			devs[j] = make_device(NAMES_C + i + j, &b->data_key);
		last = commit_devices(b, devs, k, "bench catch-up");
		for (size_t j = 0; j < k; j++)
			pt_record_free(&devs[j]->base);
	}
	res->pub_s = now_s() - t0;
	res->changes = n;
	if (!wait_applied(live, last, 1800)) {
		fprintf(stderr, "bench_replication: %s did not follow the "
				"writes\n", live->name);
		b->failed = true;
		goto out;
	}
	res->live_s = live->track.applied_at[last] - t0;
	message_sizes(b, first, last, &res->bytes, &res->msg_mean);

	/* Catch-up and raw writes alternate so that a neighbour's load on a
	 * shared machine hits both sides alike; medians are reported. */
	for (int run = 0; run < RUNS; run++) {
		if (run > 0) {
			pt_repl_sub_destroy(&late->sub);
			pt_store_destroy(&late->store);
			atomic_store(&late->track.applied, held);
		}
		res->catchup_s[run] = catch_up_once(b, late, saved, last);
		if (res->catchup_s[run] < 0)
			goto out;
		res->raw_s[run] = raw_lmdb_writes(b, first, last);
	}
	sort_doubles(res->catchup_s, RUNS);
	sort_doubles(res->raw_s, RUNS);
	res->ok = true;
out:
	remove(saved);
	free(saved);
}

/* ---- (d) raw ZeroMQ ceiling ------------------------------------------------ */

struct zmq_run {
	const char *endpoint;
	const pt_curve_pair_t *server; /* NULL: plain TCP */
	const pt_curve_pair_t *client;
	size_t size, count;
	atomic_bool ready;
	double t_last;
	size_t got;
};

static void set_curve_client(void *s, const struct zmq_run *z)
{
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, z->server->public_key, 32) ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, z->client->public_key, 32) ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, z->client->secret_key, 32))
		die_zmq("curve client");
}

/* The SUB side, in its own context as a subscriber has: counts messages
 * of the measured size (1-byte probes only signal that it is attached). */
static void *zmq_sink(void *arg)
{
	struct zmq_run *z = arg;
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_SUB);
	int zero = 0, timeout = 10000, hwm = 100000;
	if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout) ||
	    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
	    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0))
		die_zmq("sub socket");
	if (z->server)
		set_curve_client(s, z);
	if (zmq_connect(s, z->endpoint) != 0)
		die_zmq("connect");
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	while (z->got < z->count) {
		if (zmq_msg_recv(&msg, s, 0) < 0)
			break; /* timed out: the count shows what arrived */
		if (zmq_msg_size(&msg) == 1)
			atomic_store(&z->ready, true);
		else if (zmq_msg_size(&msg) == z->size && ++z->got == z->count)
			z->t_last = now_s();
	}
	zmq_msg_close(&msg);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return NULL;
}

/* Messages per second from a PUB to a SUB: from the first send to the
 * last receipt.  NODROP makes the PUB wait at its high-water mark instead
 * of dropping, so what is measured is what the transport sustains. */
static double zmq_rate(const pt_curve_pair_t *server,
		       const pt_curve_pair_t *client, size_t size, size_t count)
{
	void *ctx = zmq_ctx_new();
	void *s = zmq_socket(ctx, ZMQ_PUB);
	int zero = 0, one = 1, hwm = 100000;
	if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
	    zmq_setsockopt(s, ZMQ_XPUB_NODROP, &one, sizeof one))
		die_zmq("pub socket");
	if (server && (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) ||
		       zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, server->secret_key,
				      32)))
		die_zmq("curve server");
	char endpoint[128];
	size_t len = sizeof endpoint;
	if (zmq_bind(s, "tcp://127.0.0.1:*") != 0 ||
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0)
		die_zmq("bind");
	struct zmq_run z = {.endpoint = endpoint, .server = server,
			    .client = client, .size = size, .count = count};
	pthread_t t;
	if (pthread_create(&t, NULL, zmq_sink, &z) != 0)
		die("thread", PT_ESYS(errno));
	double until = now_s() + 10;
	while (!atomic_load(&z.ready) && now_s() < until) {
		zmq_send(s, "p", 1, ZMQ_DONTWAIT);
		usleep(1000);
	}
	uint8_t *buf = malloc(size);
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	double t0 = now_s();
	for (size_t i = 0; i < count && atomic_load(&z.ready); i++)
		if (zmq_send(s, buf, size, 0) < 0)
			die_zmq("send");
	pthread_join(t, NULL);
	free(buf);
	zmq_close(s);
	zmq_ctx_term(ctx);
	if (z.got < count) {
		fprintf(stderr, "bench_replication: raw ZeroMQ run of %zu-byte "
				"messages received %zu of %zu\n",
			size, z.got, count);
		return 0;
	}
	return (double)count / (z.t_last - t0);
}

struct ceiling {
	size_t size;
	double plain, curve; /* messages per second */
};

static void bench_ceiling(struct bench *b, struct ceiling *c)
{
	pt_curve_pair_t client;
	int r = pt_curve_pair_generate(&client);
	if (r != PT_OK)
		die("key pair", r);
	size_t count = b->sz.zmq_bytes / c->size;
	if (count < 200)
		count = 200;
	if (count > 200000)
		count = 200000;
	c->plain = zmq_rate(NULL, NULL, c->size, count);
	c->curve = zmq_rate(&b->server, &client, c->size, count);
	pt_curve_pair_clear(&client);
}

/* ---- report ------------------------------------------------------------- */

static bool same_digests(struct bench *b, size_t *records)
{
	uint8_t d[3][32];
	int r;
	pt_store_t *stores[3] = {b->pub_store, b->subs[0].store,
				 b->subs[1].store};
	for (int i = 0; i < 3; i++)
		if ((r = pt_store_digest(stores[i], d[i])) != PT_OK)
			die("digest", r);
	pt_txn_t *txn = NULL;
	*records = 0;
	if ((r = pt_txn_begin(b->pub_store, false, NULL, &txn)) != PT_OK)
		die("begin", r);
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++) {
		size_t n = 0;
		if ((r = pt_txn_count(txn, (pt_table_t)t, &n)) != PT_OK)
			die("count", r);
		*records += n;
	}
	pt_txn_abort(&txn);
	return memcmp(d[0], d[1], 32) == 0 && memcmp(d[0], d[2], 32) == 0;
}

static void fmt_size(size_t bytes, char *out, size_t len)
{
	if (bytes >= 10000)
		snprintf(out, len, "%.1f kB", (double)bytes / 1e3);
	else
		snprintf(out, len, "%zu B", bytes);
}

static void print_ceiling(const struct ceiling *c)
{
	char size[32];
	fmt_size(c->size, size, sizeof size);
	printf("  %-10s %12.0f %10.1f %14.0f %10.1f\n", size, c->plain,
	       c->plain * (double)c->size / 1e6, c->curve,
	       c->curve * (double)c->size / 1e6);
}

static void row_s(const char *label, double seconds, const char *note)
{
	printf("  %-48s %9.3f s %s\n", label, seconds, note);
}

static void report(struct bench *b, const struct lag_result *a,
		   const struct import_result *im,
		   const struct catchup_result *cu, const struct ceiling *ca,
		   const struct ceiling *cb)
{
	char size[32];
	printf("phonetrust replication benchmark: 1 publisher + 2 subscribers, "
	       "in-process actors, separate LMDB stores,\nCurveZMQ over TCP "
	       "127.0.0.1 with ZAP admission by node record; %s at commit; "
	       "%ld CPUs\n\n",
	       b->nosync ? "no fsync (--nosync)" : "fsync",
	       sysconf(_SC_NPROCESSORS_ONLN));

	fmt_size(a->msg_mean, size, sizeof size);
	printf("(a) lag from publisher commit to applied on each subscriber\n"
	       "    %zu single-change transactions scheduled at %.0f/s "
	       "(achieved %.1f/s, %zu started >1 ms late),\n    stream "
	       "messages of %s\n",
	       a->n, b->sz.rate, a->achieved, a->late, size);
	if (a->ok) {
		printf("  %-10s %10s %10s %10s    %s\n", "", "p50 ms", "p99 ms",
		       "max ms", "target p99 < 20 ms");
		for (int i = 0; i < 2; i++)
			printf("  %-10s %10.2f %10.2f %10.2f    %s\n",
			       b->subs[i].name, a->p50[i], a->p99[i], a->max[i],
			       verdict(a->p99[i] < 20.0));
	} else {
		printf("  a subscriber did not converge: NOT MET\n");
	}

	fmt_size(im->msg_mean, size, sizeof size);
	printf("\n(b) import of %zu devices in %zu transactions of %d "
	       "(stream messages of %s)\n",
	       b->sz.import, im->txns, BATCH, size);
	row_s("publisher: encode, put, changelog, commit", im->pub_s, "");
	if (im->ok) {
		char label[64];
		for (int i = 0; i < 2; i++) {
			snprintf(label, sizeof label, "%s: holds all of it",
				 b->subs[i].name);
			row_s(label, im->sub_s[i], "(from the first write)");
		}
		printf("  %-48s %9.2fx   target < 2x: %s\n",
		       "both subscribers / publisher", im->both_s / im->pub_s,
		       verdict(im->both_s / im->pub_s < 2));
	} else {
		printf("  a subscriber did not converge: NOT MET\n");
	}

	fmt_size(cu->msg_mean, size, sizeof size);
	printf("\n(c) catch-up of %zu changes (%zu transactions of %d, %s "
	       "each) after a subscriber restart\n",
	       cu->changes, cu->changes / BATCH, BATCH, size);
	char note[96];
	snprintf(note, sizeof note, "(%s, following live, held them after "
				    "%.3f s)",
		 b->subs[0].name, cu->live_s);
	row_s("publisher: wrote them", cu->pub_s, note);
	if (cu->ok) {
		double cs = cu->catchup_s[RUNS / 2], rs = cu->raw_s[RUNS / 2];
		double rate = (double)cu->changes / cs;
		double raw = (double)cu->changes / rs;
		char label[64];
		snprintf(label, sizeof label, "%s restarted: holds all (median "
					      "of %d)",
			 b->subs[1].name, RUNS);
		printf("  %-48s %9.3f s %10.0f changes/s   runs %.3f %.3f "
		       "%.3f s\n",
		       label, cs, rate, cu->catchup_s[0], cu->catchup_s[1],
		       cu->catchup_s[2]);
		snprintf(label, sizeof label, "raw LMDB, same records, %d/txn "
					      "(median of %d)",
			 BATCH, RUNS);
		printf("  %-48s %9.3f s %10.0f changes/s   runs %.3f %.3f "
		       "%.3f s\n",
		       label, rs, raw, cu->raw_s[0], cu->raw_s[1],
		       cu->raw_s[2]);
		printf("  %-48s %9.1f %%   target >= 50%%: %s\n",
		       "catch-up / raw LMDB", 100 * rate / raw,
		       verdict(rate >= raw / 2));
	} else {
		printf("  the restarted subscriber did not catch up: NOT MET\n");
	}

	printf("\n(d) ceiling: raw ZeroMQ PUB/SUB, TCP loopback, same process "
	       "layout, same message sizes\n");
	printf("  %-10s %12s %10s %14s %10s\n", "message", "plain msg/s",
	       "MB/s", "CurveZMQ msg/s", "MB/s");
	print_ceiling(ca);
	print_ceiling(cb);
	if (ca->curve > 0)
		printf("  (a) needs %.0f msg/s: %.2f%% of the CurveZMQ "
		       "ceiling\n",
		       b->sz.rate, 100 * b->sz.rate / ca->curve);
	if (im->ok && cb->curve > 0) {
		double wire = (double)im->txns / cb->curve;
		printf("  (b) carried %.1f MB in %.3f s (%.1f MB/s); the "
		       "CurveZMQ ceiling moves it in %.3f s\n",
		       (double)im->bytes / 1e6, im->both_s,
		       (double)im->bytes / im->both_s / 1e6, wire);
	}
	if (cu->ok && cb->curve > 0)
		printf("  (c) moved %.1f MB in %.3f s (%.1f MB/s) by sync "
		       "batches; at the PUB/SUB ceiling: %.3f s\n",
		       (double)cu->bytes / 1e6, cu->catchup_s[RUNS / 2],
		       (double)cu->bytes / cu->catchup_s[RUNS / 2] / 1e6,
		       (double)(cu->changes / BATCH) / cb->curve);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"quick", no_argument, NULL, 'q'},
		{"dir", required_argument, NULL, 'd'},
		{"nosync", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench b = {
		.sz = {.rate = 1000, .seconds = 10, .import = 100000,
		       .catchup = 1000000, .zmq_bytes = (size_t)512 << 20},
	};
	bool keep = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'q':
			b.sz = (struct sizes){.rate = 1000, .seconds = 2,
					      .import = 10000, .catchup = 100000,
					      .zmq_bytes = (size_t)32 << 20};
			break;
		case 'd':
			free(b.dir);
			b.dir = strdup(optarg);
			keep = true;
			break;
		case 's':
			b.nosync = true;
			break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: bench_replication [--quick] [--dir D] "
				"[--nosync]\n"
				"  --quick  smaller sizes, for a smoke run\n"
				"  --dir D  put the stores under D and keep them "
				"(default: a temporary directory, removed)\n"
				"  --nosync no fsync at commit on any node (default: "
				"fsync, as phonetrustd)\n");
			free(b.dir);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench_replication: unexpected argument %s\n",
			argv[optind]);
		free(b.dir);
		return 2;
	}
	if (!b.dir) {
		b.dir = strdup("/tmp/bench-replication-XXXXXX");
		if (!mkdtemp(b.dir))
			die("mkdtemp", PT_ESYS(errno));
	} else if (mkdir(b.dir, 0700) != 0 && errno != EEXIST) {
		die(b.dir, PT_ESYS(errno));
	} else if (!dir_empty(b.dir)) {
		/* Sequences and timings assume stores that start empty. */
		fprintf(stderr, "bench_replication: %s is not empty; give a new "
				"or empty directory\n",
			b.dir);
		free(b.dir);
		return 2;
	}

	struct lag_result a = {0};
	struct import_result im = {0};
	struct catchup_result cu = {0};
	struct ceiling ca = {0}, cb = {0};
	setup(&b);
	bench_lag(&b, &a);
	bench_import(&b, &im);
	bench_catchup(&b, &cu);
	size_t records = 0;
	bool same = !b.failed && same_digests(&b, &records);
	/* The ceiling is measured with every actor stopped: nothing else
	 * competes for the CPUs. */
	for (int i = 0; i < 2; i++)
		pt_repl_sub_destroy(&b.subs[i].sub);
	pt_repl_pub_destroy(&b.pub);
	ca.size = a.msg_mean;
	cb.size = im.msg_mean;
	bench_ceiling(&b, &ca);
	bench_ceiling(&b, &cb);

	report(&b, &a, &im, &cu, &ca, &cb);
	if (!b.failed)
		printf("\nstore digests: publisher, sub1 and sub2 %s (%zu "
		       "records)\n",
		       same ? "identical" : "DIFFER", records);
	printf("stores: %s (%s)\n", b.dir, keep ? "kept" : "removed");
	teardown(&b);
	if (!keep)
		nftw(b.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(b.dir);
	return b.failed || !same ? 1 : 0;
}
