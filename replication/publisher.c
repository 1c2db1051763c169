#include "publisher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "changelog.pb-c.h"
#include "envelope.h"
#include "join_server.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/throttle.h"
#include "members.h"
#include "repl_status.h"
#include "store/apply.h"
#include "store/records.h"
#include "zap.h"

#define MAX_SNAPSHOTS 4
#define MAX_ADMITTED 1024
#define SNAPSHOT_CHUNK_BYTES ((size_t)8 << 20)
#define SYNC_BATCH_BYTES ((size_t)16 << 20)
/* How many changelog entries one tail pass publishes before the actor
 * looks at its requests again. */
#define TAIL_BURST 2000

struct snapshot {
	uint64_t id;
	uint64_t sequence;
	pt_txn_t *txn;        /* read transaction: the consistent view */
	int64_t last_used_ms;
};

struct pt_repl_pub {
	pt_repl_pub_opts_t opts;
	void *ctx;
	void *stream;         /* PUB */
	void *sync;           /* ROUTER */
	pt_zap_t *zap;
	pt_join_server_t *join;
	void *monitor;        /* PAIR: handshake failures on the sync port */
	/* Refused peers retry every few hundred ms: one line per 10 s. */
	pt_throttle_t handshake_refusals;
	pt_throttle_t member_refusals;
	pt_throttle_t schema_refusals;
	int wake_fd;          /* eventfd: notify and stop */
	atomic_bool stop;
	pthread_t thread;
	bool thread_started;

	char stream_bound[128];
	char sync_bound[128];
	uint64_t published;   /* last sequence sent on the stream */
	int64_t next_heartbeat_ms;
	struct snapshot snapshots[MAX_SNAPSHOTS];
	uint64_t next_snapshot_id;
	pt_repl_status_book_t *statuses;
	/* Keys ZAP admitted since they were last checked: if one of them
	 * stops being a member, its open connection must be cut. */
	uint8_t admitted[MAX_ADMITTED][32];
	size_t n_admitted;
};

/* ---- stream ---------------------------------------------------------- */

static void publish_heartbeat(pt_repl_pub_t *pub, uint64_t last)
{
	uint64_t first = 0;
	pt_store_first_sequence(pub->opts.store, &first);
	Pt__Heartbeat hb = PT__HEARTBEAT__INIT;
	hb.last_sequence = last;
	hb.first_sequence = first;
	hb.sent_at_us = pt_clock_wall_us();
	hb.schema = pub->opts.schema;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	if (pub->stream)
		pt_repl_send(pub->stream, &env, ZMQ_DONTWAIT);
}

/* Publishes changelog entries after pub->published.  Entries are sent as
 * the exact bytes stored, straight out of the LMDB map. */
static void tail_changelog(pt_repl_pub_t *pub)
{
	pt_txn_t *txn = NULL;
	uint64_t last = 0;
	if (!pub->stream ||
	    pt_txn_begin(pub->opts.store, false, NULL, &txn) != PT_OK)
		return;
	if (pt_txn_last_sequence(txn, &last) != PT_OK || last <= pub->published)
		goto out;
	for (int n = 0; n < TAIL_BURST && pub->published < last; n++) {
		uint64_t seq = pub->published + 1;
		const uint8_t *val;
		size_t len;
		int r = pt_txn_changelog_get(txn, seq, &val, &len);
		if (r != PT_OK) {
			/* Compacted before we saw it: subscribers find the
			 * gap through the heartbeat and catch up by sync. */
			pub->published = last;
			break;
		}
		Pt__Envelope env = PT__ENVELOPE__INIT;
		env.version = PT_REPL_VERSION;
		env.body_case = PT__ENVELOPE__BODY_TRANSACTION;
		env.transaction.data = (uint8_t *)val;
		env.transaction.len = len;
		pt_repl_send(pub->stream, &env, ZMQ_DONTWAIT);
		pub->published = seq;
	}
out:
	pt_txn_abort(&txn);
}

/* ---- sync: batches ----------------------------------------------------- */

static void reply_error(pt_repl_pub_t *pub, const zmq_msg_t *id,
			uint32_t code, const char *reason)
{
	Pt__ReplicationError err = PT__REPLICATION_ERROR__INIT;
	err.code = code;
	err.reason = (char *)reason;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_ERROR;
	env.error = &err;
	pt_repl_send_to(pub->sync, zmq_msg_data((zmq_msg_t *)id),
			zmq_msg_size((zmq_msg_t *)id), &env);
}

static struct snapshot *open_snapshot(pt_repl_pub_t *pub)
{
	struct snapshot *slot = NULL;
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (!pub->snapshots[i].txn) {
			slot = &pub->snapshots[i];
			break;
		}
		if (!slot || pub->snapshots[i].last_used_ms < slot->last_used_ms)
			slot = &pub->snapshots[i];
	}
	/* All slots busy: the least recently used one is given up; its
	 * subscriber will time out and ask again. */
	pt_txn_abort(&slot->txn);
	if (pt_txn_begin(pub->opts.store, false, NULL, &slot->txn) != PT_OK)
		return NULL;
	if (pt_txn_last_sequence(slot->txn, &slot->sequence) != PT_OK) {
		pt_txn_abort(&slot->txn);
		return NULL;
	}
	slot->id = ++pub->next_snapshot_id;
	slot->last_used_ms = pt_clock_mono_ms();
	return slot;
}

static void offer_snapshot(pt_repl_pub_t *pub, const zmq_msg_t *id,
			   uint64_t after)
{
	struct snapshot *snap = open_snapshot(pub);
	if (!snap) {
		reply_error(pub, id, 1, "cannot open a snapshot");
		return;
	}
	pt_log_info(pub->opts.log,
	    "replication: subscriber at sequence %llu is behind the changelog; "
	    "offering snapshot %llu at sequence %llu",
	    (unsigned long long)after, (unsigned long long)snap->id,
	    (unsigned long long)snap->sequence);
	Pt__SnapshotOffer offer = PT__SNAPSHOT_OFFER__INIT;
	offer.snapshot_id = snap->id;
	offer.sequence = snap->sequence;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_SNAPSHOT_OFFER;
	env.snapshot_offer = &offer;
	pt_repl_send_to(pub->sync, zmq_msg_data((zmq_msg_t *)id),
			zmq_msg_size((zmq_msg_t *)id), &env);
}

static void answer_sync(pt_repl_pub_t *pub, const zmq_msg_t *id,
			const Pt__SyncRequest *req)
{
	pt_txn_t *txn = NULL;
	uint64_t last = 0;
	ProtobufCBinaryData *items = NULL;
	if (pt_txn_begin(pub->opts.store, false, NULL, &txn) != PT_OK ||
	    pt_txn_last_sequence(txn, &last) != PT_OK) {
		reply_error(pub, id, 1, "cannot read the changelog");
		goto out;
	}
	uint64_t after = req->after_sequence;
	if (after > last) {
		/* The subscriber claims more than we ever wrote: it belongs to
		 * another cluster or our store was replaced.  Never guess. */
		reply_error(pub, id, 2, "subscriber is ahead of the publisher");
		pt_log_warn(pub->opts.log,
		    "replication: a subscriber asked for sequences after %llu "
		    "but the publisher's newest is %llu; refused",
		    (unsigned long long)after, (unsigned long long)last);
		goto out;
	}
	const uint8_t *val;
	size_t len;
	if (after < last &&
	    pt_txn_changelog_get(txn, after + 1, &val, &len) != PT_OK) {
		pt_txn_abort(&txn);
		offer_snapshot(pub, id, after);
		goto out;
	}
	unsigned max = pub->opts.batch_max;
	if (req->max_transactions && req->max_transactions < max)
		max = req->max_transactions;
	items = calloc(max ? max : 1, sizeof *items);
	if (!items)
		goto out;
	size_t n = 0, bytes = 0;
	for (uint64_t seq = after + 1; seq <= last && n < max; seq++) {
		if (pt_txn_changelog_get(txn, seq, &val, &len) != PT_OK)
			break;
		if (n > 0 && bytes + len > SYNC_BATCH_BYTES)
			break;
		items[n].data = (uint8_t *)val;
		items[n].len = len;
		bytes += len;
		n++;
	}
	Pt__SyncBatch batch = PT__SYNC_BATCH__INIT;
	batch.n_transactions = n;
	batch.transactions = items;
	batch.last_sequence = last;
	batch.more = after + n < last;
	batch.schema = pub->opts.schema;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_SYNC_BATCH;
	env.sync_batch = &batch;
	pt_repl_send_to(pub->sync, zmq_msg_data((zmq_msg_t *)id),
			zmq_msg_size((zmq_msg_t *)id), &env);
out:
	free(items);
	pt_txn_abort(&txn);
}

/* ---- sync: snapshot chunks --------------------------------------------- */

struct chunk_builder {
	Pt__SnapshotRecord *records;
	Pt__SnapshotRecord **ptrs;
	size_t n, cap;
	size_t bytes;
	uint32_t table;
};

static int add_record(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct chunk_builder *b = ctx;
	if (b->n == b->cap || (b->n > 0 && b->bytes + key_len + val_len >
						   SNAPSHOT_CHUNK_BYTES))
		return 1; /* chunk full: stop this walk */
	Pt__SnapshotRecord *r = &b->records[b->n];
	pt__snapshot_record__init(r);
	r->table = b->table;
	r->key.data = (uint8_t *)key;
	r->key.len = key_len;
	r->value.data = (uint8_t *)val;
	r->value.len = val_len;
	b->ptrs[b->n++] = r;
	b->bytes += key_len + val_len;
	return 0;
}

static void answer_snapshot(pt_repl_pub_t *pub, const zmq_msg_t *id,
			    const Pt__SnapshotRequest *req)
{
	struct snapshot *snap = NULL;
	for (int i = 0; i < MAX_SNAPSHOTS; i++)
		if (pub->snapshots[i].txn && pub->snapshots[i].id == req->snapshot_id)
			snap = &pub->snapshots[i];
	if (!snap) {
		reply_error(pub, id, 3, "unknown or expired snapshot");
		return;
	}
	snap->last_used_ms = pt_clock_mono_ms();
	struct chunk_builder b = {.cap = pub->opts.chunk_records};
	b.records = calloc(b.cap, sizeof *b.records);
	b.ptrs = calloc(b.cap, sizeof *b.ptrs);
	if (!b.records || !b.ptrs) {
		reply_error(pub, id, 1, "out of memory");
		goto out;
	}
	uint32_t table = req->first ? PT_TABLE_FIRST : req->table;
	const uint8_t *after = req->first ? NULL : req->after_key.data;
	size_t after_len = req->first ? 0 : req->after_key.len;
	bool done = false;
	if (table < PT_TABLE_FIRST || table > PT_TABLE_LAST) {
		reply_error(pub, id, 4, "bad snapshot position");
		goto out;
	}
	for (;;) {
		b.table = table;
		int r = pt_txn_foreach_after(snap->txn, (pt_table_t)table, after,
					     after_len, 0, add_record, &b, NULL);
		if (r < 0) {
			reply_error(pub, id, 1, "cannot read the snapshot");
			goto out;
		}
		if (r > 0)
			break; /* chunk full */
		if (table == PT_TABLE_LAST) {
			done = true;
			break;
		}
		table++;
		after = NULL;
		after_len = 0;
	}
	Pt__SnapshotChunk chunk = PT__SNAPSHOT_CHUNK__INIT;
	chunk.snapshot_id = snap->id;
	chunk.sequence = snap->sequence;
	chunk.n_records = b.n;
	chunk.records = b.ptrs;
	chunk.last = done;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_SNAPSHOT_CHUNK;
	env.snapshot_chunk = &chunk;
	pt_repl_send_to(pub->sync, zmq_msg_data((zmq_msg_t *)id),
			zmq_msg_size((zmq_msg_t *)id), &env);
	if (done)
		pt_txn_abort(&snap->txn);
out:
	free(b.records);
	free(b.ptrs);
}

static void expire_snapshots(pt_repl_pub_t *pub, int64_t now)
{
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot *s = &pub->snapshots[i];
		if (s->txn && now - s->last_used_ms > pub->opts.snapshot_idle_ms) {
			pt_log_info(pub->opts.log,
			    "replication: snapshot %llu unused for %u ms; "
			    "released",
			    (unsigned long long)s->id, pub->opts.snapshot_idle_ms);
			pt_txn_abort(&s->txn);
		}
	}
}

/* ---- requests ---------------------------------------------------------- */

static int authorize_member(void *ctx, const uint8_t key[32])
{
	pt_repl_pub_t *pub = ctx;
	if (!pt_repl_member_find(pub->opts.store, key, NULL, 0))
		return 0;
	for (size_t i = 0; i < pub->n_admitted; i++)
		if (memcmp(pub->admitted[i], key, 32) == 0)
			return 1;
	if (pub->n_admitted < MAX_ADMITTED)
		memcpy(pub->admitted[pub->n_admitted++], key, 32);
	return 1;
}

static void answer_join(pt_repl_pub_t *pub, const zmq_msg_t *id,
			const uint8_t key[32], const char *peer,
			const Pt__Envelope *env)
{
	Pt__Envelope reply;
	if (!pub->join) {
		reply_error(pub, id, 5, "this publisher does not accept joins");
		return;
	}
	if (pt_join_server_handle(pub->join, zmq_msg_data((zmq_msg_t *)id),
				  zmq_msg_size((zmq_msg_t *)id), key, peer, env,
				  &reply) == PT_OK)
		pt_repl_send_to(pub->sync, zmq_msg_data((zmq_msg_t *)id),
				zmq_msg_size((zmq_msg_t *)id), &reply);
}

/* The schema a request says its sender runs, for the requests that
 * carry one (0: none). */
static unsigned request_schema(const Pt__Envelope *env)
{
	unsigned v = 0;
	switch (env->body_case) {
	case PT__ENVELOPE__BODY_SYNC_REQUEST:
		v = env->sync_request->schema;
		break;
	case PT__ENVELOPE__BODY_SNAPSHOT_REQUEST:
		v = env->snapshot_request->schema;
		break;
	case PT__ENVELOPE__BODY_JOIN_HELLO:
		v = env->join_hello->schema;
		break;
	default:
		break;
	}
	return v;
}

/* A subscriber on a newer schema than this publisher's is neither fed nor
 * joined: its store would take records in the older form without the
 * step that upgrades them (snapshots carry none), and the newer tables
 * it may hold could never be fed.  The rule is: upgrade the publisher
 * first.  True when the request was refused (and answered). */
static bool newer_subscriber(pt_repl_pub_t *pub, const zmq_msg_t *id,
			     const Pt__Envelope *env, const char *member,
			     const char *peer)
{
	unsigned theirs = request_schema(env);
	if (theirs <= pub->opts.schema)
		return false;
	char reason[256];
	snprintf(reason, sizeof reason,
		 "this node runs store schema %u, newer than the publisher's "
		 "%u: upgrade the publisher first",
		 theirs, pub->opts.schema);
	unsigned n;
	if (pt_throttle_pass(&pub->schema_refusals, pt_clock_mono_ms(), &n))
		pt_log_warn(pub->opts.log,
			    "replication: refused %u request(s) from nodes "
			    "of a newer schema (the latest: %s from %s at %s, "
			    "schema %u; this publisher runs %u): upgrade the "
			    "publisher first",
			    n, pt_repl_body_name(env->body_case),
			    member ? member : "a node", peer, theirs,
			    pub->opts.schema);
	if (env->body_case == PT__ENVELOPE__BODY_JOIN_HELLO) {
		/* The joining node's client reads a refusal as a join
		 * result. */
		Pt__JoinResult res = PT__JOIN_RESULT__INIT;
		res.accepted = false;
		res.reason = reason;
		Pt__Envelope out = PT__ENVELOPE__INIT;
		out.version = PT_REPL_VERSION;
		out.body_case = PT__ENVELOPE__BODY_JOIN_RESULT;
		out.join_result = &res;
		pt_repl_send_to(pub->sync, zmq_msg_data((zmq_msg_t *)id),
				zmq_msg_size((zmq_msg_t *)id), &out);
	} else {
		reply_error(pub, id, 7, reason);
	}
	return true;
}

/* Reads one [id][payload] request from the ROUTER.  Returns false when no
 * complete request was waiting. */
static bool handle_request(pt_repl_pub_t *pub)
{
	zmq_msg_t id, payload;
	zmq_msg_init(&id);
	zmq_msg_init(&payload);
	bool got = false;
	if (zmq_msg_recv(&id, pub->sync, ZMQ_DONTWAIT) < 0)
		goto out;
	got = true;
	if (!zmq_msg_more(&id) || zmq_msg_recv(&payload, pub->sync, 0) < 0)
		goto out;
	if (zmq_msg_more(&payload)) {
		/* A well-behaved DEALER sends one frame; drain the rest. */
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		while (zmq_msg_more(&payload) &&
		       zmq_msg_recv(&extra, pub->sync, 0) >= 0 &&
		       zmq_msg_more(&extra))
			;
		zmq_msg_close(&extra);
		pt_log_warn(pub->opts.log, "replication: multi-frame request dropped");
		goto out;
	}
	const char *peer = zmq_msg_gets(&payload, "Peer-Address");
	Pt__Envelope *env = NULL;
	int r = pt_repl_decode(zmq_msg_data(&payload), zmq_msg_size(&payload),
			       PT_REPL_MAX_REQUEST, &env);
	if (r != PT_OK) {
		pt_log_warn(pub->opts.log,
		    "replication: dropped a request from %s: %s",
		    peer ? peer : "?", pt_strerror(r));
		goto out;
	}
	/* Who is asking: with CurveZMQ, the User-Id our ZAP handler set is
	 * the peer's key, looked up in the nodes table on every request so a
	 * removed node is served nothing more. */
	uint8_t key[32] = {0};
	char member[64] = "";
	bool is_member = true;
	if (pub->opts.curve_secret) {
		const char *uid = zmq_msg_gets(&payload, "User-Id");
		is_member = pt_repl_member_key_parse(uid, key) == PT_OK &&
			    pt_repl_member_find(pub->opts.store, key, member,
						sizeof member);
	}
	Pt__Envelope__BodyCase body = env->body_case;
	if (newer_subscriber(pub, &id, env, member[0] ? member : NULL,
			     peer ? peer : "?")) {
		/* refused and answered */
	} else if (body == PT__ENVELOPE__BODY_JOIN_HELLO ||
	    body == PT__ENVELOPE__BODY_JOIN_PROOF) {
		if (pub->opts.curve_secret)
			answer_join(pub, &id, key, peer ? peer : "?", env);
		else
			reply_error(pub, &id, 5, "joins need CurveZMQ");
	} else if (!is_member) {
		unsigned n;
		if (pt_throttle_pass(&pub->member_refusals, pt_clock_mono_ms(),
				     &n))
			pt_log_warn(pub->opts.log,
				    "replication: refused %u request(s) from "
				    "keys of no joined node (the latest: %s "
				    "from %s)",
				    n, pt_repl_body_name(body),
				    peer ? peer : "?");
		reply_error(pub, &id, 6, "not a member of this cluster");
	} else if (body == PT__ENVELOPE__BODY_SYNC_REQUEST) {
		answer_sync(pub, &id, env->sync_request);
	} else if (body == PT__ENVELOPE__BODY_SNAPSHOT_REQUEST) {
		answer_snapshot(pub, &id, env->snapshot_request);
	} else if (body == PT__ENVELOPE__BODY_STATUS) {
		if (member[0] && strcmp(member, env->status->node) != 0)
			pt_log_warn(pub->opts.log,
				    "replication: node %s reported status as "
				    "%s; dropped",
				    member, env->status->node);
		else
			pt_repl_status_note(pub->statuses, env->status,
					    peer ? peer : "", pt_clock_wall_us());
	} else {
		pt_log_warn(pub->opts.log,
			    "replication: unexpected %s from %s; dropped",
			    pt_repl_body_name(body), peer ? peer : "?");
	}
	pt__envelope__free_unpacked(env, NULL);
out:
	zmq_msg_close(&id);
	zmq_msg_close(&payload);
	return got;
}

/* ---- the actor ------------------------------------------------------- */

static int open_socket(pt_repl_pub_t *pub, int type, const char *endpoint,
		       const char *zap_domain, char *bound, size_t bound_len,
		       void **out);

/* ZAP judges a peer only when it connects, so after a node is removed the
 * stream socket is opened anew: every subscriber reconnects, and the
 * removed one is refused.  The listener closes in ZeroMQ's I/O thread, so
 * the new bind is retried until the port is free (about 2 s at most). */
static void reopen_stream(pt_repl_pub_t *pub)
{
	char endpoint[sizeof pub->stream_bound];
	snprintf(endpoint, sizeof endpoint, "%s", pub->stream_bound);
	zmq_close(pub->stream);
	pub->stream = NULL;
	for (int i = 0; i < 200 && !pub->stream; i++) {
		if (open_socket(pub, ZMQ_PUB, endpoint, PT_ZAP_DOMAIN_STREAM,
				pub->stream_bound, sizeof pub->stream_bound,
				&pub->stream) != PT_OK)
			usleep(10000);
	}
	if (pub->stream)
		pt_log_info(pub->opts.log,
			    "replication: a node was removed; stream reopened "
			    "so every subscriber proves its key again");
	else
		pt_log_error(pub->opts.log,
			     "replication: cannot reopen the stream on %s after "
			     "a node removal; the stream stays down until "
			     "restart",
			     endpoint);
}

#define LIVE_SUBSCRIBER_US (600LL * 1000000)
#define COMPACT_BATCH 10000

static void compact(pt_repl_pub_t *pub)
{
	const pt_repl_pub_opts_t *o = &pub->opts;
	if (!o->compact_keep_last && !o->compact_keep_seconds)
		return;
	uint64_t last = 0, needed = 0, protect = UINT64_MAX;
	pt_store_last_sequence(o->store, &last);
	if (pt_repl_status_min_applied(pub->statuses,
				       pt_clock_wall_us() - LIVE_SUBSCRIBER_US, &needed)) {
		protect = needed + 1;
		/* A subscriber far behind may not hold the log hostage: past
		 * the cap it will catch up by snapshot instead. */
		if (o->compact_max_entries && last > o->compact_max_entries &&
		    protect < last - o->compact_max_entries)
			protect = last - o->compact_max_entries;
	}
	size_t removed = 0;
	int r = pt_store_compact(o->store, o->compact_keep_last,
				 o->compact_keep_seconds, protect, COMPACT_BATCH,
				 &removed);
	if (r != PT_OK)
		pt_log_warn(o->log, "replication: changelog compaction failed: "
				    "%s; will try again",
			    pt_strerror(r));
	else if (removed)
		pt_log_debug(o->log, "replication: compacted %zu changelog "
				     "entries",
			     removed);
}

/* Reopens the stream when a key ZAP let in belongs to no node any more. */
static void check_members(pt_repl_pub_t *pub)
{
	bool removed = false;
	size_t w = 0;
	for (size_t i = 0; i < pub->n_admitted; i++) {
		if (pt_repl_member_find(pub->opts.store, pub->admitted[i], NULL,
					0))
			memcpy(pub->admitted[w++], pub->admitted[i], 32);
		else
			removed = true;
	}
	pub->n_admitted = w;
	if (removed && pub->stream)
		reopen_stream(pub);
}

/* A CurveZMQ handshake fails before any message exists, when a peer does
 * not know the publisher's key: a node with a wrong cluster password, or
 * something that is not a node of this cluster.  The monitor is the only
 * place such a refusal can be seen, so it is logged here. */
static void log_handshake_failures(pt_repl_pub_t *pub)
{
	for (int i = 0; i < 64; i++) {
		zmq_msg_t ev, addr;
		zmq_msg_init(&ev);
		zmq_msg_init(&addr);
		if (zmq_msg_recv(&ev, pub->monitor, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			zmq_msg_close(&addr);
			return;
		}
		if (zmq_msg_more(&ev))
			zmq_msg_recv(&addr, pub->monitor, 0);
		unsigned n;
		if (pt_throttle_pass(&pub->handshake_refusals, pt_clock_mono_ms(),
				     &n))
			pt_log_warn(pub->opts.log,
				    "replication: refused %u connection(s) on "
				    "the sync port: the CurveZMQ handshake "
				    "failed (a node with a wrong cluster "
				    "security password, or not a node of this "
				    "cluster)",
				    n);
		zmq_msg_close(&ev);
		zmq_msg_close(&addr);
	}
}

static void *run(void *arg)
{
	pt_repl_pub_t *pub = arg;
	while (!atomic_load(&pub->stop)) {
		int64_t now = pt_clock_mono_ms();
		long timeout = pub->opts.tail_ms;
		zmq_pollitem_t items[4] = {
			{pub->sync, 0, ZMQ_POLLIN, 0},
			{NULL, pub->wake_fd, ZMQ_POLLIN, 0},
			{pub->zap ? pt_zap_socket(pub->zap) : NULL, 0,
			 ZMQ_POLLIN, 0},
			{pub->monitor, 0, ZMQ_POLLIN, 0},
		};
		int n = zmq_poll(items, pub->zap ? 4 : 2, timeout);
		if (n < 0 && zmq_errno() == ETERM)
			break;
		if (items[1].revents & ZMQ_POLLIN) {
			uint64_t v;
			if (read(pub->wake_fd, &v, sizeof v) < 0)
				(void)0; /* nothing to do: woken is woken */
		}
		if (pub->zap && (items[2].revents & ZMQ_POLLIN))
			pt_zap_handle(pub->zap);
		if (pub->zap && (items[3].revents & ZMQ_POLLIN))
			log_handshake_failures(pub);
		for (int i = 0; i < 64 && handle_request(pub); i++)
			;
		tail_changelog(pub);
		now = pt_clock_mono_ms();
		if (now >= pub->next_heartbeat_ms) {
			/* What was streamed, not the store's newest: a commit
			 * landing after the tail pass would otherwise be
			 * announced before it is sent, and every subscriber
			 * would leave the stream for a needless sync. */
			publish_heartbeat(pub, pub->published);
			pub->next_heartbeat_ms = now + pub->opts.heartbeat_ms;
			expire_snapshots(pub, now);
			check_members(pub);
			compact(pub);
			pt_repl_status_flush(pub->statuses, pub->opts.store);
		}
	}
	return NULL;
}

static int set_int(void *sock, int option, int value)
{
	return zmq_setsockopt(sock, option, &value, sizeof value) == 0
		       ? PT_OK
		       : PT_ESYS(zmq_errno());
}

static int open_socket(pt_repl_pub_t *pub, int type, const char *endpoint,
		       const char *zap_domain, char *bound, size_t bound_len,
		       void **out)
{
	void *s = zmq_socket(pub->ctx, type);
	if (!s)
		return PT_ESYS(zmq_errno());
	int r = set_int(s, ZMQ_LINGER, 0);
	if (r == PT_OK && type == ZMQ_PUB)
		r = set_int(s, ZMQ_SNDHWM, 100000);
	if (r == PT_OK && type == ZMQ_ROUTER) {
		int64_t max = (int64_t)PT_REPL_MAX_REQUEST;
		if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0)
			r = PT_ESYS(zmq_errno());
		if (r == PT_OK)
			r = set_int(s, ZMQ_SNDHWM, 100000);
	}
	if (r == PT_OK && pub->opts.curve_secret) {
		r = set_int(s, ZMQ_CURVE_SERVER, 1);
		if (r == PT_OK &&
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, pub->opts.curve_secret,
				   32) != 0)
			r = PT_ESYS(zmq_errno());
		if (r == PT_OK && zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, zap_domain,
						 strlen(zap_domain)) != 0)
			r = PT_ESYS(zmq_errno());
	}
	if (r == PT_OK && zmq_bind(s, endpoint) != 0) {
		r = PT_ESYS(zmq_errno());
		pt_log_error(pub->opts.log, "replication: cannot bind %s: %s",
			     endpoint, zmq_strerror(zmq_errno()));
	}
	if (r == PT_OK &&
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0)
		r = PT_ESYS(zmq_errno());
	if (r != PT_OK) {
		zmq_close(s);
		return r;
	}
	*out = s;
	return PT_OK;
}

int pt_repl_pub_new(const pt_repl_pub_opts_t *opts, pt_repl_pub_t **out)
{
	pt_repl_pub_t *pub = calloc(1, sizeof *pub);
	int r = PT_ERR_NOMEM;
	*out = NULL;
	if (!pub)
		return r;
	pub->opts = *opts;
	pub->wake_fd = -1;
	pub->handshake_refusals.interval_ms = 10000;
	pub->member_refusals.interval_ms = 10000;
	pub->schema_refusals.interval_ms = 10000;
	if (!pub->opts.schema)
		pub->opts.schema = PT_SCHEMA_VERSION;
	if (!pub->opts.tail_ms)
		pub->opts.tail_ms = 1;
	if (!pub->opts.heartbeat_ms)
		pub->opts.heartbeat_ms = 1000;
	if (!pub->opts.batch_max)
		pub->opts.batch_max = 1000;
	if (!pub->opts.chunk_records)
		pub->opts.chunk_records = 2000;
	if (!pub->opts.snapshot_idle_ms)
		pub->opts.snapshot_idle_ms = 30000;
	pub->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pub->wake_fd < 0) {
		r = PT_ESYS(errno);
		goto fail;
	}
	if (opts->data_key && opts->curve_secret &&
	    (r = pt_join_server_new(opts->store, opts->data_key, opts->log,
				    &pub->join)) != PT_OK)
		goto fail;
	r = pt_repl_status_book_new(&pub->statuses);
	if (r != PT_OK)
		goto fail;
	if (!(pub->ctx = zmq_ctx_new())) {
		r = PT_ERR_NOMEM;
		goto fail;
	}
	if (opts->curve_secret) {
		/* The ZAP handler must be bound before any CURVE socket. */
		r = pt_zap_new(pub->ctx, authorize_member, pub, opts->log,
			       &pub->zap);
		if (r != PT_OK)
			goto fail;
	}
	r = open_socket(pub, ZMQ_PUB, opts->stream_endpoint, PT_ZAP_DOMAIN_STREAM,
			pub->stream_bound, sizeof pub->stream_bound,
			&pub->stream);
	if (r != PT_OK)
		goto fail;
	r = open_socket(pub, ZMQ_ROUTER, opts->sync_endpoint,
			PT_ZAP_DOMAIN_SYNC, pub->sync_bound,
			sizeof pub->sync_bound, &pub->sync);
	if (r != PT_OK)
		goto fail;
	if (pub->zap) {
		int zero = 0;
		if (zmq_socket_monitor(pub->sync, "inproc://pt-sync-monitor",
				       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
					       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
					       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) !=
			    0 ||
		    !(pub->monitor = zmq_socket(pub->ctx, ZMQ_PAIR)) ||
		    zmq_setsockopt(pub->monitor, ZMQ_LINGER, &zero,
				   sizeof zero) != 0 ||
		    zmq_connect(pub->monitor, "inproc://pt-sync-monitor") != 0) {
			r = PT_ESYS(zmq_errno());
			goto fail;
		}
	}
	/* Transactions committed before we started are not streamed: a
	 * subscriber that lacks them asks for them by sync. */
	r = pt_store_last_sequence(opts->store, &pub->published);
	if (r != PT_OK)
		goto fail;
	if (pthread_create(&pub->thread, NULL, run, pub) != 0) {
		r = PT_ESYS(errno);
		goto fail;
	}
	pub->thread_started = true;
	*out = pub;
	return PT_OK;
fail:
	pt_repl_pub_destroy(&pub);
	return r;
}

const char *pt_repl_pub_stream_endpoint(const pt_repl_pub_t *pub)
{
	return pub->stream_bound;
}

const char *pt_repl_pub_sync_endpoint(const pt_repl_pub_t *pub)
{
	return pub->sync_bound;
}

void pt_repl_pub_notify(pt_repl_pub_t *pub)
{
	uint64_t one = 1;
	if (write(pub->wake_fd, &one, sizeof one) < 0)
		(void)0; /* counter saturated: the actor is awake anyway */
}

void pt_repl_pub_destroy(pt_repl_pub_t **pubp)
{
	pt_repl_pub_t *pub = pubp ? *pubp : NULL;
	if (!pub)
		return;
	if (pub->thread_started) {
		atomic_store(&pub->stop, true);
		pt_repl_pub_notify(pub);
		pthread_join(pub->thread, NULL);
	}
	for (int i = 0; i < MAX_SNAPSHOTS; i++)
		pt_txn_abort(&pub->snapshots[i].txn);
	if (pub->statuses)
		pt_repl_status_flush(pub->statuses, pub->opts.store);
	pt_repl_status_book_destroy(&pub->statuses);
	if (pub->stream)
		zmq_close(pub->stream);
	if (pub->monitor)
		zmq_close(pub->monitor);
	if (pub->sync)
		zmq_close(pub->sync);
	pt_zap_destroy(&pub->zap);
	pt_join_server_destroy(&pub->join);
	if (pub->ctx)
		zmq_ctx_term(pub->ctx);
	if (pub->wake_fd >= 0)
		close(pub->wake_fd);
	free(pub);
	*pubp = NULL;
}
