/* The publisher side of replication: an actor thread that owns the PUB
 * (stream) and ROUTER (sync) sockets.
 *
 * Stream: it tails the store's changelog and publishes every committed
 * transaction, whoever wrote it (this daemon or the CLI writing the store
 * directly), plus a heartbeat carrying the newest sequence.
 * Sync: it answers catch-up requests with bounded batches of changelog
 * entries, or with a snapshot (read in one LMDB read transaction, served in
 * chunks) when the changelog no longer reaches back far enough, and it
 * records each subscriber's status report in node-local metadata.
 */
#ifndef PT_REPLICATION_PUBLISHER_H
#define PT_REPLICATION_PUBLISHER_H

#include <stdint.h>

#include "lib/seal.h"
#include "net/log.h"
#include "store/store.h"

typedef struct pt_repl_pub pt_repl_pub_t;

typedef struct pt_repl_pub_opts {
	pt_store_t *store;          /* borrowed; outlives the publisher */
	pt_log_t *log;              /* borrowed; may be NULL */
	const char *stream_endpoint; /* e.g. "tcp://127.0.0.1:5556" */
	const char *sync_endpoint;   /* e.g. "tcp://127.0.0.1:5557" */
	unsigned tail_ms;           /* changelog poll interval (default 1) */
	unsigned heartbeat_ms;      /* default 1000 */
	unsigned batch_max;         /* transactions per sync batch (1000) */
	unsigned chunk_records;     /* records per snapshot chunk (2000) */
	unsigned snapshot_idle_ms;  /* forget an unused snapshot (30000) */
	/* Changelog compaction, checked every heartbeat (all 0: never).
	 * Keeps the newest keep_last entries and those younger than
	 * keep_seconds; holds back older ones a subscriber heard from in the
	 * last ten minutes still lacks, unless that would keep more than
	 * max_entries. */
	uint64_t compact_keep_last;
	int64_t compact_keep_seconds;
	uint64_t compact_max_entries;
	/* CurveZMQ: the server's secret key (32 bytes) or NULL for none
	 * (tests only: then every peer is trusted and nobody can join).
	 * With it, only nodes in the nodes table may stream or sync; other
	 * keys may only run the join handshake. */
	const uint8_t *curve_secret;
	/* The cluster data key, for the join handshake; NULL: joins are
	 * refused. */
	const pt_data_key_t *data_key;
	/* The schema this publisher announces and serves (0: this binary's
	 * PT_SCHEMA_VERSION; tests set a lower one to act as an older
	 * publisher).  Sync, snapshot and join requests from a subscriber
	 * of a newer schema are refused: the publisher is upgraded first. */
	unsigned schema;
} pt_repl_pub_opts_t;

/* Binds both sockets and starts the actor.  Fails (nothing left running)
 * when an endpoint cannot be bound.  *out owns the actor. */
int pt_repl_pub_new(const pt_repl_pub_opts_t *opts, pt_repl_pub_t **out);

/* The endpoints actually bound (useful with a "tcp://127.0.0.1:*" port),
 * valid as long as the publisher. */
const char *pt_repl_pub_stream_endpoint(const pt_repl_pub_t *pub);
const char *pt_repl_pub_sync_endpoint(const pt_repl_pub_t *pub);

/* Wakes the actor to look at the changelog now (after a local commit), so
 * the stream does not wait for the next poll. Thread-safe. */
void pt_repl_pub_notify(pt_repl_pub_t *pub);

/* Stops the actor, closes its sockets and frees it; accepts NULL. */
void pt_repl_pub_destroy(pt_repl_pub_t **pub);

#endif
