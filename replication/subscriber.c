#include "subscriber.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "changelog.pb-c.h"
#include "envelope.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "store/apply.h"
#include "store/upgrade.h"

/* Decoded transactions live in an arena: decoding one makes a thousand
 * small allocations, and freeing them one by one cost the actor as much as
 * the decoding itself.  One block holds a typical transaction; a larger one
 * gets more blocks, freed after it is applied. */
#define ARENA_BLOCK ((size_t)1 << 20)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_block *head; /* newest first */
};

/* What the subscriber is waiting for on its sync connection. */
enum sync_state {
	SYNC_IDLE,     /* following the stream */
	SYNC_BATCH,    /* a SyncRequest is out */
	SYNC_SNAPSHOT, /* a SnapshotRequest is out; an install is open */
};

struct pt_repl_sub {
	pt_repl_sub_opts_t opts;
	void *ctx;
	void *stream; /* SUB */
	void *sync;   /* DEALER */
	int wake_fd;
	atomic_bool stop;
	pthread_t thread;
	bool thread_started;

	struct arena arena;      /* the actor's, for decoded transactions */
	uint64_t applied;
	enum sync_state state;
	int64_t deadline_ms;     /* resend when no answer by then */
	int64_t next_status_ms;
	uint64_t snapshot_id;
	uint64_t snapshot_seq;
	pt_snapshot_install_t *install;
	uint32_t resume_table;   /* last record installed, to resume after */
	uint8_t resume_key[512];
	size_t resume_len;

	pt_apply_limits_t limits;
	/* Tables whose skipped changes were logged (bit t), so each is
	 * logged once; snapshot records of unknown tables skipped. */
	uint64_t logged_tables;
	uint64_t snapshot_skipped_now; /* in the install under way */
	/* The publisher announced an older schema than ours: nothing it
	 * sends is applied until it is upgraded. */
	unsigned publisher_schema;
	bool publisher_older;
};

static void send_request(pt_repl_sub_t *sub, Pt__Envelope *env)
{
	env->version = PT_REPL_VERSION;
	int r = pt_repl_send(sub->sync, env, ZMQ_DONTWAIT);
	if (r != PT_OK && r != PT_ESYS(EAGAIN))
		pt_log_warn(sub->opts.log,
			    "replication: cannot send %s to the publisher: %s",
			    pt_repl_body_name(env->body_case), pt_strerror(r));
	sub->deadline_ms = pt_clock_mono_ms() + sub->opts.sync_timeout_ms;
}

static void request_batch(pt_repl_sub_t *sub, uint64_t after)
{
	Pt__SyncRequest req = PT__SYNC_REQUEST__INIT;
	req.after_sequence = after;
	req.max_transactions = sub->opts.batch_max;
	req.schema = sub->limits.schema;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.body_case = PT__ENVELOPE__BODY_SYNC_REQUEST;
	env.sync_request = &req;
	sub->state = SYNC_BATCH;
	send_request(sub, &env);
}

static void request_sync(pt_repl_sub_t *sub)
{
	pt_snapshot_install_abort(&sub->install);
	request_batch(sub, sub->applied);
}

static void request_chunk(pt_repl_sub_t *sub, bool first)
{
	Pt__SnapshotRequest req = PT__SNAPSHOT_REQUEST__INIT;
	req.snapshot_id = sub->snapshot_id;
	req.first = first;
	req.table = sub->resume_table;
	req.after_key.data = sub->resume_key;
	req.after_key.len = first ? 0 : sub->resume_len;
	req.schema = sub->limits.schema;
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.body_case = PT__ENVELOPE__BODY_SNAPSHOT_REQUEST;
	env.snapshot_request = &req;
	sub->state = SYNC_SNAPSHOT;
	send_request(sub, &env);
}

static void send_status(pt_repl_sub_t *sub)
{
	Pt__StatusReport st = PT__STATUS_REPORT__INIT;
	st.node = (char *)sub->opts.node;
	st.applied_sequence = sub->applied;
	st.sent_at_us = pt_clock_wall_us();
	st.schema = sub->limits.schema;
	pt_repl_skips_t skips;
	if (pt_store_repl_skips(sub->opts.store, &skips) == PT_OK) {
		st.skipped_changes = skips.skipped;
		st.newest_schema_seen = skips.newest_schema;
	}
	Pt__Envelope env = PT__ENVELOPE__INIT;
	env.version = PT_REPL_VERSION;
	env.body_case = PT__ENVELOPE__BODY_STATUS;
	env.status = &st;
	pt_repl_send(sub->sync, &env, ZMQ_DONTWAIT);
}

static void applied_to(pt_repl_sub_t *sub, uint64_t seq)
{
	sub->applied = seq;
	if (sub->opts.on_applied)
		sub->opts.on_applied(sub->opts.on_applied_ctx, seq);
}

static void *arena_alloc(void *ctx, size_t size)
{
	struct arena *a = ctx;
	size_t align = alignof(max_align_t);
	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + align - 1) & ~(align - 1);
	if (!a->head || a->head->cap - a->head->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
		struct arena_block *b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	void *p = a->head->data + a->head->used;
	a->head->used += size;
	return p;
}

static void arena_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p; /* everything goes at the next reset */
}

/* Releases everything allocated since the last reset, keeping one block
 * for the next transaction. */
static void arena_reset(struct arena *a)
{
	struct arena_block *keep = NULL;
	while (a->head) {
		struct arena_block *b = a->head;
		a->head = b->next;
		if (!keep && b->cap == ARENA_BLOCK)
			keep = b;
		else
			free(b);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->head = keep;
}

/* Decodes one packed transaction into the arena (NULL, logged, when it
 * does not decode).  Valid until the next arena_reset. */
static Pt__Transaction *decode_transaction(pt_repl_sub_t *sub,
					   const ProtobufCBinaryData *bytes,
					   const char *via)
{
	ProtobufCAllocator alloc = {arena_alloc, arena_free, &sub->arena};
	Pt__Transaction *t = pt__transaction__unpack(&alloc, bytes->len,
						     bytes->data);
	if (!t)
		pt_log_warn(sub->opts.log,
			    "replication: dropped a %s transaction that does "
			    "not decode (%zu bytes)",
			    via, bytes->len);
	return t;
}

/* Says, once per table, that this node skipped changes it cannot apply. */
static void log_skipped(pt_repl_sub_t *sub, uint64_t seq, unsigned schema,
			uint32_t table)
{
	uint64_t bit = table < 64 ? (uint64_t)1 << table : (uint64_t)1 << 63;
	if (sub->logged_tables & bit)
		return;
	sub->logged_tables |= bit;
	pt_log_warn(sub->opts.log,
		    "replication: change %llu from schema %u touches table %u "
		    "(unknown to this node, schema %u): skipped; upgrade this "
		    "node%s",
		    (unsigned long long)seq, schema, table, sub->limits.schema,
		    table >= 63 ? " (further tables above 62 are not logged)"
				: "");
}

/* Whether the publisher's announced schema lets this node follow it;
 * says so once when it stops or starts to.  A publisher older than schema
 * 2 announces nothing (0): it is followed, its changelog transactions are
 * upgraded as they are applied (they carry no stamp, which means schema
 * 1) and so are its snapshot records (on_chunk). */
static bool publisher_ok(pt_repl_sub_t *sub, uint32_t announced)
{
	if (announced == 0)
		return true;
	bool older = announced < sub->limits.schema;
	if (older && (!sub->publisher_older || sub->publisher_schema != announced))
		pt_log_error(sub->opts.log,
			     "replication: the publisher runs store schema %u, "
			     "older than this node's %u: nothing is applied "
			     "until the publisher is upgraded (upgrade the "
			     "publisher first)",
			     announced, sub->limits.schema);
	else if (!older && sub->publisher_older)
		pt_log_info(sub->opts.log,
			    "replication: the publisher now runs schema %u; "
			    "following it again",
			    announced);
	sub->publisher_older = older;
	sub->publisher_schema = announced;
	return !older;
}

/* Applies one decoded transaction (bytes: what it was decoded from, kept
 * in our changelog as received) and releases the arena.  Returns the
 * apply result, or a negative error for a transaction that must never be
 * applied. */
static int apply_transaction(pt_repl_sub_t *sub, Pt__Transaction *t,
			     const ProtobufCBinaryData *bytes, const char *via)
{
	if (!t) {
		arena_reset(&sub->arena);
		return PT_ERR_MALFORMED;
	}
	pt_apply_result_t res;
	pt_apply_info_t info;
	int r = pt_store_apply_limited(sub->opts.store, t, bytes->data,
				       bytes->len, &sub->limits, &res, &info);
	for (size_t i = 0; r == PT_OK && i < info.n_skipped_tables; i++)
		log_skipped(sub, t->sequence, info.schema,
			    info.skipped_tables[i]);
	if (r != PT_OK) {
		pt_log_warn(sub->opts.log,
			    "replication: dropped %s transaction %llu: %s",
			    via, (unsigned long long)t->sequence,
			    pt_strerror(r));
	} else if (res == PT_APPLY_DONE) {
		applied_to(sub, t->sequence);
	}
	arena_reset(&sub->arena);
	return r == PT_OK ? (int)res : r;
}

static void on_stream(pt_repl_sub_t *sub, const Pt__Envelope *env)
{
	if (env->body_case == PT__ENVELOPE__BODY_TRANSACTION) {
		/* While catching up, the batches carry everything in order;
		 * streamed copies would only be duplicates or gaps. */
		if (sub->state != SYNC_IDLE || sub->publisher_older)
			return;
		int r = apply_transaction(
			sub, decode_transaction(sub, &env->transaction, "streamed"),
			&env->transaction, "streamed");
		if (r == PT_APPLY_GAP) {
			pt_log_info(sub->opts.log,
				    "replication: gap after sequence %llu; "
				    "catching up",
				    (unsigned long long)sub->applied);
			request_sync(sub);
		}
	} else if (env->body_case == PT__ENVELOPE__BODY_HEARTBEAT) {
		bool was_older = sub->publisher_older;
		if (!publisher_ok(sub, env->heartbeat->schema)) {
			/* Stop asking: every request would be refused. */
			pt_snapshot_install_abort(&sub->install);
			sub->state = SYNC_IDLE;
			return;
		}
		if (was_older) {
			request_sync(sub);
			return;
		}
		if (sub->state == SYNC_IDLE &&
		    env->heartbeat->last_sequence > sub->applied) {
			pt_log_info(sub->opts.log,
				    "replication: publisher is at %llu, this "
				    "node at %llu; catching up",
				    (unsigned long long)env->heartbeat->last_sequence,
				    (unsigned long long)sub->applied);
			request_sync(sub);
		}
	} else {
		pt_log_warn(sub->opts.log,
			    "replication: unexpected %s on the stream; dropped",
			    pt_repl_body_name(env->body_case));
	}
}

static void on_batch(pt_repl_sub_t *sub, const Pt__SyncBatch *batch)
{
	if (sub->state != SYNC_BATCH)
		return;
	if (!publisher_ok(sub, batch->schema)) {
		sub->state = SYNC_IDLE;
		return;
	}
	/* A batch that continues exactly from what we hold, with more to
	 * come, holds the sequences after it one by one (that is how the
	 * publisher answers), so the next request goes out before this batch
	 * is applied: the publisher reads, encrypts and sends the next batch
	 * while this one is written.  Should this one fail half-way, the
	 * answer to that request starts past a gap and is dropped like any
	 * gap, and the timeout asks again from what we hold. */
	Pt__Transaction *head = NULL;
	bool ahead = false;
	if (batch->n_transactions > 0) {
		head = decode_transaction(sub, &batch->transactions[0], "synced");
		ahead = batch->more && head && head->sequence == sub->applied + 1;
	}
	if (ahead)
		request_batch(sub, sub->applied + batch->n_transactions);
	for (size_t i = 0; i < batch->n_transactions; i++) {
		Pt__Transaction *t = i == 0 ? head
				: decode_transaction(sub, &batch->transactions[i],
						     "synced");
		int r = apply_transaction(sub, t, &batch->transactions[i],
					  "synced");
		if (r < 0 || r == PT_APPLY_GAP) {
			/* Ask again from what we hold, after the timeout, so
			 * a bad batch cannot make us spin. */
			return;
		}
	}
	if (ahead)
		return;
	if (batch->more || batch->last_sequence > sub->applied)
		request_sync(sub);
	else
		sub->state = SYNC_IDLE;
}

static void on_offer(pt_repl_sub_t *sub, const Pt__SnapshotOffer *offer)
{
	if (sub->state != SYNC_BATCH)
		return;
	pt_snapshot_install_abort(&sub->install);
	int r = pt_snapshot_install_begin(sub->opts.store, &sub->install);
	if (r != PT_OK) {
		pt_log_error(sub->opts.log,
			     "replication: cannot start a snapshot install: %s",
			     pt_strerror(r));
		return;
	}
	pt_log_info(sub->opts.log,
		    "replication: installing snapshot %llu at sequence %llu "
		    "(this node held %llu)",
		    (unsigned long long)offer->snapshot_id,
		    (unsigned long long)offer->sequence,
		    (unsigned long long)sub->applied);
	sub->snapshot_id = offer->snapshot_id;
	sub->snapshot_seq = offer->sequence;
	sub->snapshot_skipped_now = 0;
	sub->resume_table = PT_TABLE_FIRST;
	sub->resume_len = 0;
	request_chunk(sub, true);
}

static void on_chunk(pt_repl_sub_t *sub, const Pt__SnapshotChunk *chunk)
{
	if (sub->state != SYNC_SNAPSHOT || !sub->install ||
	    chunk->snapshot_id != sub->snapshot_id ||
	    chunk->sequence != sub->snapshot_seq)
		return;
	for (size_t i = 0; i < chunk->n_records; i++) {
		const Pt__SnapshotRecord *rec = chunk->records[i];
		if (rec->table > sub->limits.last_table &&
		    rec->key.len <= sizeof sub->resume_key) {
			/* A table of a newer schema: the publisher refuses
			 * nodes newer than itself, so a table we do not know
			 * is one it added. */
			log_skipped(sub, chunk->sequence, sub->publisher_schema,
				    rec->table);
			sub->snapshot_skipped_now++;
			sub->resume_table = rec->table;
			memcpy(sub->resume_key, rec->key.data, rec->key.len);
			sub->resume_len = rec->key.len;
			continue;
		}
		/* Records of a publisher that announced no schema may be in
		 * schema 1's form; the record step leaves current ones as they
		 * are. */
		uint8_t *up = NULL;
		size_t up_len = 0;
		int r = PT_OK;
		if (sub->publisher_schema < sub->limits.schema)
			r = pt_upgrade_record((pt_table_t)rec->table,
					      sub->publisher_schema,
					      sub->limits.schema, rec->value.data,
					      rec->value.len, &up, &up_len);
		if (r == PT_OK)
			r = pt_snapshot_install_put(
				sub->install, (pt_table_t)rec->table,
				rec->key.data, rec->key.len,
				up ? up : rec->value.data,
				up ? up_len : rec->value.len);
		free(up);
		if (r != PT_OK || rec->key.len > sizeof sub->resume_key) {
			pt_log_warn(sub->opts.log,
				    "replication: snapshot %llu has a bad "
				    "record; abandoned, will ask again",
				    (unsigned long long)sub->snapshot_id);
			pt_snapshot_install_abort(&sub->install);
			return;
		}
		sub->resume_table = rec->table;
		memcpy(sub->resume_key, rec->key.data, rec->key.len);
		sub->resume_len = rec->key.len;
	}
	if (!chunk->last) {
		request_chunk(sub, false);
		return;
	}
	int r = pt_snapshot_install_skipped(sub->install,
					    sub->snapshot_skipped_now,
					    sub->publisher_schema);
	if (r == PT_OK)
		r = pt_snapshot_install_commit(&sub->install,
					       sub->snapshot_seq);
	else
		pt_snapshot_install_abort(&sub->install);
	sub->snapshot_skipped_now = 0;
	if (r != PT_OK) {
		pt_log_error(sub->opts.log,
			     "replication: cannot commit snapshot %llu: %s",
			     (unsigned long long)sub->snapshot_id,
			     pt_strerror(r));
		return;
	}
	pt_log_info(sub->opts.log,
		    "replication: snapshot %llu installed; this node is at "
		    "sequence %llu",
		    (unsigned long long)sub->snapshot_id,
		    (unsigned long long)sub->snapshot_seq);
	applied_to(sub, sub->snapshot_seq);
	request_sync(sub);
}

static void on_sync(pt_repl_sub_t *sub, const Pt__Envelope *env)
{
	switch (env->body_case) {
	case PT__ENVELOPE__BODY_SYNC_BATCH:
		on_batch(sub, env->sync_batch);
		break;
	case PT__ENVELOPE__BODY_SNAPSHOT_OFFER:
		on_offer(sub, env->snapshot_offer);
		break;
	case PT__ENVELOPE__BODY_SNAPSHOT_CHUNK:
		on_chunk(sub, env->snapshot_chunk);
		break;
	case PT__ENVELOPE__BODY_ERROR:
		pt_log_warn(sub->opts.log,
			    "replication: the publisher refused a request: %s",
			    env->error->reason);
		break;
	default:
		pt_log_warn(sub->opts.log,
			    "replication: unexpected %s on the sync "
			    "connection; dropped",
			    pt_repl_body_name(env->body_case));
		break;
	}
}

/* Receives and handles one message from sock; false when none waited. */
static bool receive(pt_repl_sub_t *sub, void *sock, bool stream)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return false;
	}
	if (zmq_msg_more(&msg)) {
		/* Our publisher sends single frames; drain anything else. */
		pt_log_warn(sub->opts.log,
			    "replication: multi-frame message dropped");
		while (zmq_msg_more(&msg) && zmq_msg_recv(&msg, sock, 0) >= 0)
			;
		zmq_msg_close(&msg);
		return true;
	}
	Pt__Envelope *env = NULL;
	int r = pt_repl_decode(zmq_msg_data(&msg), zmq_msg_size(&msg),
			       PT_REPL_MAX_FRAME, &env);
	if (r != PT_OK) {
		pt_log_warn(sub->opts.log,
			    "replication: dropped a %zu-byte %s message: %s",
			    zmq_msg_size(&msg), stream ? "stream" : "sync",
			    pt_strerror(r));
	} else if (stream) {
		on_stream(sub, env);
	} else {
		on_sync(sub, env);
	}
	if (env)
		pt__envelope__free_unpacked(env, NULL);
	zmq_msg_close(&msg);
	return true;
}

static void *run(void *arg)
{
	pt_repl_sub_t *sub = arg;
	request_sync(sub);
	while (!atomic_load(&sub->stop)) {
		zmq_pollitem_t items[3] = {
			{sub->stream, 0, ZMQ_POLLIN, 0},
			{sub->sync, 0, ZMQ_POLLIN, 0},
			{NULL, sub->wake_fd, ZMQ_POLLIN, 0},
		};
		if (zmq_poll(items, 3, 100) < 0 && zmq_errno() == ETERM)
			break;
		/* Bounded bursts keep one busy socket from starving the
		 * other. */
		for (int i = 0; i < 256 && receive(sub, sub->sync, false); i++)
			;
		for (int i = 0; i < 256 && receive(sub, sub->stream, true); i++)
			;
		int64_t now = pt_clock_mono_ms();
		if (sub->state != SYNC_IDLE && now >= sub->deadline_ms) {
			pt_log_info(sub->opts.log,
				    "replication: no answer from the publisher "
				    "in %u ms; asking again",
				    sub->opts.sync_timeout_ms);
			request_sync(sub);
		}
		if (now >= sub->next_status_ms) {
			send_status(sub);
			sub->next_status_ms = now + sub->opts.status_ms;
		}
	}
	pt_snapshot_install_abort(&sub->install);
	return NULL;
}

/* ZMTP heartbeats: a subscriber never writes on its stream connection, so
 * when a partition outlasts TCP's patience the publisher drops that
 * connection while ours stays half-open and silent for good.  A PING every
 * second with no answer for three makes ZeroMQ drop and redial it; the new
 * connection's first heartbeat shows the gap and catch-up follows. */
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TIMEOUT_MS 3000

static int configure(pt_repl_sub_t *sub, void *s, bool stream)
{
	int zero = 0, ivl = HEARTBEAT_IVL_MS, timeout = HEARTBEAT_TIMEOUT_MS;
	int64_t max = (int64_t)PT_REPL_MAX_FRAME;
	if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
	    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) != 0 ||
	    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout,
			   sizeof timeout) != 0)
		return PT_ESYS(zmq_errno());
	if (stream) {
		int hwm = 100000;
		if (zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
		    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0)
			return PT_ESYS(zmq_errno());
	}
	if (sub->opts.curve_server_public) {
		if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY,
				   sub->opts.curve_server_public, 32) != 0 ||
		    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY,
				   sub->opts.curve_public, 32) != 0 ||
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY,
				   sub->opts.curve_secret, 32) != 0)
			return PT_ESYS(zmq_errno());
	}
	return PT_OK;
}

int pt_repl_sub_new(const pt_repl_sub_opts_t *opts, pt_repl_sub_t **out)
{
	pt_repl_sub_t *sub = calloc(1, sizeof *sub);
	int r = PT_ERR_NOMEM;
	*out = NULL;
	if (!sub)
		return r;
	sub->opts = *opts;
	sub->wake_fd = -1;
	sub->limits = opts->limits
			      ? *opts->limits
			      : (pt_apply_limits_t){PT_SCHEMA_VERSION,
						    PT_TABLE_LAST};
	sub->opts.limits = NULL;
	if (!sub->opts.status_ms)
		sub->opts.status_ms = 1000;
	if (!sub->opts.sync_timeout_ms)
		sub->opts.sync_timeout_ms = 3000;
	if (!sub->opts.batch_max)
		sub->opts.batch_max = 1000;
	if (opts->curve_server_public &&
	    (!opts->curve_public || !opts->curve_secret)) {
		r = PT_ERR_INVALID;
		goto fail;
	}
	uint64_t skips_from = 0;
	pt_repl_skips_t skips;
	r = pt_store_repl_skips(opts->store, &skips);
	if (r == PT_OK)
		r = pt_store_repl_rewind_skipped(opts->store, &sub->limits,
						 &skips_from);
	if (r != PT_OK)
		goto fail;
	if (skips_from)
		pt_log_info(opts->log,
			    "replication: this node skipped %llu change(s) "
			    "from schema %u while it ran an older schema; "
			    "applying the publisher's transactions again from "
			    "sequence %llu",
			    (unsigned long long)skips.skipped,
			    skips.newest_schema,
			    (unsigned long long)skips_from);
	r = pt_store_applied_sequence(opts->store, &sub->applied);
	if (r != PT_OK)
		goto fail;
	sub->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sub->wake_fd < 0) {
		r = PT_ESYS(errno);
		goto fail;
	}
	r = PT_ERR_NOMEM;
	if (!(sub->ctx = zmq_ctx_new()) ||
	    !(sub->stream = zmq_socket(sub->ctx, ZMQ_SUB)) ||
	    !(sub->sync = zmq_socket(sub->ctx, ZMQ_DEALER)))
		goto fail;
	if ((r = configure(sub, sub->stream, true)) != PT_OK ||
	    (r = configure(sub, sub->sync, false)) != PT_OK)
		goto fail;
	if (zmq_connect(sub->stream, opts->stream_endpoint) != 0 ||
	    zmq_connect(sub->sync, opts->sync_endpoint) != 0) {
		r = PT_ESYS(zmq_errno());
		pt_log_error(opts->log, "replication: cannot connect to %s / %s: %s",
			     opts->stream_endpoint, opts->sync_endpoint,
			     zmq_strerror(zmq_errno()));
		goto fail;
	}
	if (pthread_create(&sub->thread, NULL, run, sub) != 0) {
		r = PT_ESYS(errno);
		goto fail;
	}
	sub->thread_started = true;
	*out = sub;
	return PT_OK;
fail:
	pt_repl_sub_destroy(&sub);
	return r;
}

void pt_repl_sub_destroy(pt_repl_sub_t **subp)
{
	pt_repl_sub_t *sub = subp ? *subp : NULL;
	if (!sub)
		return;
	if (sub->thread_started) {
		uint64_t one = 1;
		atomic_store(&sub->stop, true);
		if (write(sub->wake_fd, &one, sizeof one) < 0)
			(void)0; /* saturated counter: already awake */
		pthread_join(sub->thread, NULL);
	}
	pt_snapshot_install_abort(&sub->install);
	arena_reset(&sub->arena);
	free(sub->arena.head);
	if (sub->stream)
		zmq_close(sub->stream);
	if (sub->sync)
		zmq_close(sub->sync);
	if (sub->ctx)
		zmq_ctx_term(sub->ctx);
	if (sub->wake_fd >= 0)
		close(sub->wake_fd);
	free(sub);
	*subp = NULL;
}
