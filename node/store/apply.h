/* The subscriber side of the changelog, and changelog upkeep on the
 * publisher.
 *
 * A subscriber never writes records of its own: it applies the publisher's
 * transactions, each whole, in one LMDB transaction together with its
 * applied sequence.  Applying is idempotent: a transaction at or below the
 * applied sequence is skipped, so duplicates and restarts are harmless.
 */
#ifndef PT_STORE_APPLY_H
#define PT_STORE_APPLY_H

#include <stdint.h>

#include "changelog.pb-c.h"
#include "store/store.h"

/* Result of pt_store_apply. */
typedef enum pt_apply_result {
	PT_APPLY_DONE = 0,      /* applied; applied sequence moved */
	PT_APPLY_DUPLICATE = 1, /* at or below the applied sequence: skipped */
	PT_APPLY_GAP = 2,       /* not the next sequence: nothing applied */
} pt_apply_result_t;

/* Validates t (known tables, keys present, puts carry a value, the
 * sequence is the next one) and applies all of its changes plus the new
 * applied sequence in one LMDB transaction.  The transaction is also kept
 * in this node's changelog so the node can serve catch-up itself.  On any
 * error nothing is written.  *result may be NULL.
 *
 * packed/packed_len, when not NULL, are the bytes t was decoded from (a
 * publisher's changelog entry as received): they are stored as they are,
 * saving an encode per transaction.  NULL: t is encoded here.
 *
 * Record values are stored as received, byte for byte (so fields this
 * binary does not know survive), except that the changes of a
 * transaction stamped with an older schema pass through that schema's
 * record upgrade (store/upgrade.h). */
int pt_store_apply(pt_store_t *store, const Pt__Transaction *t,
		   const uint8_t *packed, size_t packed_len,
		   pt_apply_result_t *result);

/* What an applying node understands.  pt_store_apply uses this binary's
 * (PT_SCHEMA_VERSION, PT_TABLE_LAST); tests pass lower values to act as
 * an older node. */
typedef struct pt_apply_limits {
	unsigned schema;
	unsigned last_table;
} pt_apply_limits_t;

#define PT_APPLY_SKIPPED_TABLES_MAX 8

/* What one apply could not do. */
typedef struct pt_apply_info {
	unsigned schema;  /* the transaction's schema (an unstamped one: 1) */
	size_t skipped;   /* changes to tables this node does not know */
	/* The distinct tables they touched (the first few). */
	uint32_t skipped_tables[PT_APPLY_SKIPPED_TABLES_MAX];
	size_t n_skipped_tables;
} pt_apply_info_t;

/* pt_store_apply with limits (NULL: this binary's).  A change to a table
 * above limits->last_table is skipped when the transaction comes from a
 * newer schema than limits->schema (and makes t malformed otherwise);
 * the rest is applied.  Skips are counted in node-local metadata in the
 * same transaction (pt_store_repl_skips).  *info may be NULL. */
int pt_store_apply_limited(pt_store_t *store, const Pt__Transaction *t,
			   const uint8_t *packed, size_t packed_len,
			   const pt_apply_limits_t *limits,
			   pt_apply_result_t *result, pt_apply_info_t *info);

/* What this node has skipped and seen while applying, kept across
 * restarts: changes skipped in all, the first sequence that skipped
 * anything (0: none) and the newest schema any applied transaction
 * carried (0: none applied yet). */
typedef struct pt_repl_skips {
	uint64_t skipped;
	uint64_t first_skipped_sequence;
	unsigned newest_schema;
} pt_repl_skips_t;
int pt_store_repl_skips(pt_store_t *store, pt_repl_skips_t *out);

/* For a node that skipped changes while it ran an older binary and now
 * understands the schema they came from (the newest one it saw is at most
 * limits->schema; NULL: this binary's): forgets what it applied from the
 * first skipping sequence on, so that catch-up applies those transactions
 * again, whole.  Applying a suffix of the changelog again over its own
 * result ends in the same state, now with the skipped changes; when the
 * publisher's changelog no longer reaches back that far, catch-up brings
 * a snapshot.  Removes this node's changelog entries from that sequence,
 * sets the applied sequence just before it and clears the skip counters,
 * in one transaction.  *from (may be NULL) receives that sequence, or 0
 * when there was nothing to do. */
int pt_store_repl_rewind_skipped(pt_store_t *store,
				 const pt_apply_limits_t *limits,
				 uint64_t *from);

/* Installing a snapshot: the subscriber's answer to a changelog that no
 * longer reaches back far enough.  begin opens one write transaction and
 * empties every replicated table and the changelog; put adds records;
 * commit sets the applied sequence to the snapshot's and commits, so
 * readers see the old data until the new data is whole.  abort (accepts
 * NULL) leaves the store as it was. */
typedef struct pt_snapshot_install pt_snapshot_install_t;
int pt_snapshot_install_begin(pt_store_t *store, pt_snapshot_install_t **out);
int pt_snapshot_install_put(pt_snapshot_install_t *snap, pt_table_t table,
			    const void *key, size_t key_len, const void *val,
			    size_t val_len);
int pt_snapshot_install_commit(pt_snapshot_install_t **snap,
			       uint64_t sequence);
/* Records, in the install's transaction, that skipped records of tables
 * this node does not know (from a publisher of schema `schema`) were left
 * out: they count as skipped changes, and since a snapshot holds what no
 * changelog replay after it brings back, a later
 * pt_store_repl_rewind_skipped starts over from sequence 1. */
int pt_snapshot_install_skipped(pt_snapshot_install_t *snap, uint64_t skipped,
				unsigned schema);
void pt_snapshot_install_abort(pt_snapshot_install_t **snap);

/* The sequence up to which this node holds the publisher's data: on a
 * subscriber the last applied one, on a publisher its last commit. */
int pt_store_applied_sequence(pt_store_t *store, uint64_t *out);

/* Oldest sequence still in the changelog (0 when it is empty). */
int pt_store_first_sequence(pt_store_t *store, uint64_t *out);

/* Removes changelog entries older than both limits allow: keeps at least
 * keep_last entries and every entry younger than keep_seconds (0 disables a
 * limit), and never removes an entry above protect_above (the lowest
 * sequence a live subscriber still needs; UINT64_MAX for none).  Deletes at
 * most max_batch entries per call so writers are not held up.  *removed may
 * be NULL. */
int pt_store_compact(pt_store_t *store, uint64_t keep_last,
		     int64_t keep_seconds, uint64_t protect_above,
		     size_t max_batch, size_t *removed);

#endif
