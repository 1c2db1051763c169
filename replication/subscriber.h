/* The subscriber side of replication: an actor thread with a SUB socket on
 * the publisher's stream and a DEALER on its sync port.
 *
 * It applies each streamed transaction whole (pt_store_apply), notices gaps
 * (a sequence that is not the next one, or a heartbeat ahead of what it
 * holds) and then catches up by sync in bounded batches, or by installing a
 * snapshot when the publisher's changelog no longer reaches back that far.
 * It reports its applied sequence to the publisher every status interval.
 */
#ifndef PT_REPLICATION_SUBSCRIBER_H
#define PT_REPLICATION_SUBSCRIBER_H

#include <stdint.h>

#include "net/log.h"
#include "store/apply.h"
#include "store/store.h"

typedef struct pt_repl_sub pt_repl_sub_t;

typedef struct pt_repl_sub_opts {
	pt_store_t *store;           /* borrowed; outlives the subscriber */
	pt_log_t *log;               /* borrowed; may be NULL */
	const char *node;            /* this node's name, for status reports */
	const char *stream_endpoint; /* e.g. "tcp://127.0.0.1:5556" */
	const char *sync_endpoint;   /* e.g. "tcp://127.0.0.1:5557" */
	unsigned status_ms;          /* status report interval (1000) */
	unsigned sync_timeout_ms;    /* resend an unanswered request (3000) */
	unsigned batch_max;          /* transactions asked per batch (1000) */
	/* CurveZMQ: the publisher's public key and this node's key pair (32
	 * bytes each), or all NULL for none. */
	const uint8_t *curve_server_public;
	const uint8_t *curve_public;
	const uint8_t *curve_secret;
	/* Called in the actor's thread after each committed change of the
	 * store (a transaction, a batch or a snapshot), with the new applied
	 * sequence; may be NULL. */
	void (*on_applied)(void *ctx, uint64_t sequence);
	void *on_applied_ctx;
	/* What this node understands (NULL: this binary's schema and
	 * tables; tests pass lower limits to act as an older node).  Changes
	 * to tables a newer publisher added are skipped, logged once per
	 * table and counted in the status reports; a publisher on an older
	 * schema than this node's is not followed (upgrade it first). */
	const pt_apply_limits_t *limits;
} pt_repl_sub_opts_t;

/* Connects and starts the actor (connections complete in the background).
 * *out owns it. */
int pt_repl_sub_new(const pt_repl_sub_opts_t *opts, pt_repl_sub_t **out);

/* Stops the actor (a snapshot in progress is abandoned, leaving the store
 * as it was) and frees it; accepts NULL. */
void pt_repl_sub_destroy(pt_repl_sub_t **sub);

#endif
