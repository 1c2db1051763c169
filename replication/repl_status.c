#include "repl_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/validate.h"

#define MAX_NODES 1024

struct entry {
	char node[64];
	char peer[64];
	uint64_t applied;
	int64_t contact_us;
	unsigned schema, newest_schema;
	uint64_t skipped;
	bool dirty;
};

struct pt_repl_status_book {
	struct entry *entries;
	size_t n;
};

int pt_repl_status_book_new(pt_repl_status_book_t **out)
{
	pt_repl_status_book_t *b = calloc(1, sizeof *b);
	if (b && !(b->entries = calloc(MAX_NODES, sizeof *b->entries))) {
		free(b);
		b = NULL;
	}
	*out = b;
	return b ? PT_OK : PT_ERR_NOMEM;
}

void pt_repl_status_book_destroy(pt_repl_status_book_t **book)
{
	if (!book || !*book)
		return;
	free((*book)->entries);
	free(*book);
	*book = NULL;
}

void pt_repl_status_note(pt_repl_status_book_t *book,
			 const Pt__StatusReport *report, const char *peer,
			 int64_t now_us)
{
	if (pt_validate_node_name(report->node, NULL) != PT_OK)
		return;
	struct entry *e = NULL;
	for (size_t i = 0; i < book->n && !e; i++)
		if (strcmp(book->entries[i].node, report->node) == 0)
			e = &book->entries[i];
	if (!e) {
		if (book->n == MAX_NODES)
			return;
		e = &book->entries[book->n++];
		snprintf(e->node, sizeof e->node, "%s", report->node);
	}
	snprintf(e->peer, sizeof e->peer, "%s", peer);
	e->applied = report->applied_sequence;
	e->contact_us = now_us;
	e->schema = report->schema ? report->schema : 1;
	e->newest_schema = report->newest_schema_seen;
	e->skipped = report->skipped_changes;
	e->dirty = true;
}

bool pt_repl_status_min_applied(const pt_repl_status_book_t *book,
				int64_t since_us, uint64_t *out)
{
	bool any = false;
	for (size_t i = 0; i < book->n; i++) {
		const struct entry *e = &book->entries[i];
		if (e->contact_us < since_us)
			continue;
		if (!any || e->applied < *out)
			*out = e->applied;
		any = true;
	}
	return any;
}

int pt_repl_status_flush(pt_repl_status_book_t *book, pt_store_t *store)
{
	pt_txn_t *txn = NULL;
	int r = PT_OK;
	for (size_t i = 0; i < book->n && r == PT_OK; i++) {
		struct entry *e = &book->entries[i];
		if (!e->dirty)
			continue;
		if (!txn && (r = pt_txn_begin(store, true, NULL, &txn)) != PT_OK)
			break;
		Pt__NodeStatus st = PT__NODE_STATUS__INIT;
		st.node = e->node;
		st.applied_sequence = e->applied;
		st.last_contact_us = e->contact_us;
		st.peer_address = e->peer;
		st.schema = e->schema;
		st.skipped_changes = e->skipped;
		st.newest_schema_seen = e->newest_schema;
		uint8_t buf[256];
		size_t len = pt__node_status__pack(&st, buf);
		char key[96];
		snprintf(key, sizeof key, PT_REPL_STATUS_PREFIX "%s", e->node);
		r = pt_txn_meta_put(txn, key, buf, len);
	}
	if (txn && r == PT_OK)
		r = pt_txn_commit(&txn, NULL);
	pt_txn_abort(&txn);
	if (r == PT_OK)
		for (size_t i = 0; i < book->n; i++)
			book->entries[i].dirty = false;
	return r;
}

int pt_repl_status_load(pt_store_t *store, const char *node,
			Pt__NodeStatus **out)
{
	pt_txn_t *txn = NULL;
	const uint8_t *val;
	size_t len;
	char key[96];
	*out = NULL;
	snprintf(key, sizeof key, PT_REPL_STATUS_PREFIX "%s", node);
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_txn_meta_get(txn, key, &val, &len);
	if (r == PT_OK) {
		*out = pt__node_status__unpack(NULL, len, val);
		if (!*out)
			r = PT_ERR_CORRUPT;
	}
	pt_txn_abort(&txn);
	return r;
}
