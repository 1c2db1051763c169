/* What the publisher knows about each subscriber's progress.
 *
 * Reports arrive every second or so from each subscriber; the book keeps
 * them in memory and flushes changed ones to the publisher's node-local
 * metadata (key "repl_status/<node>", a packed pt.NodeStatus) at most once
 * per flush call, so status never costs a write per report and never enters
 * the changelog.  `phonetrust cluster status` reads them back.
 */
#ifndef PT_REPLICATION_REPL_STATUS_H
#define PT_REPLICATION_REPL_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "replication.pb-c.h"
#include "store/store.h"

#define PT_REPL_STATUS_PREFIX "repl_status/"

typedef struct pt_repl_status_book pt_repl_status_book_t;

int pt_repl_status_book_new(pt_repl_status_book_t **out);
void pt_repl_status_book_destroy(pt_repl_status_book_t **book);

/* Records a report (borrowed) from peer at now_us: applied sequence,
 * schema, changes skipped as unknown and the newest schema seen.  Reports
 * naming an invalid node are ignored; the book holds at most 1024 nodes. */
void pt_repl_status_note(pt_repl_status_book_t *book,
			 const Pt__StatusReport *report, const char *peer,
			 int64_t now_us);

/* The lowest applied sequence among nodes heard from since since_us;
 * false when none was. */
bool pt_repl_status_min_applied(const pt_repl_status_book_t *book,
				int64_t since_us, uint64_t *out);

/* Writes every changed entry in one store transaction. */
int pt_repl_status_flush(pt_repl_status_book_t *book, pt_store_t *store);

/* Reads node's last recorded status.  PT_ERR_NOT_FOUND if it never
 * reported.  *out is freed with pt__node_status__free_unpacked. */
int pt_repl_status_load(pt_store_t *store, const char *node,
			Pt__NodeStatus **out);

#endif
