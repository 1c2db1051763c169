#include "store/apply.h"

#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "store/store_internal.h"
#include "store/upgrade.h"

#define PT_MAX_KEY_LEN 511

#define META_SKIPPED "repl_skipped_changes"
#define META_SKIPPED_FIRST "repl_skipped_first"
#define META_NEWEST_SCHEMA "repl_newest_schema"

static unsigned tx_schema(const Pt__Transaction *t)
{
	return t->schema ? t->schema : 1;
}

/* A change this node leaves alone: its table is unknown here, and the
 * transaction comes from a newer schema that may have added it. */
static bool unknown_table(const Pt__Transaction *t, const Pt__Change *c,
			  const pt_apply_limits_t *lim)
{
	return c->table > lim->last_table && tx_schema(t) > lim->schema;
}

/* Checks everything about t that could make applying it fail half-way or
 * write something a publisher never would, before any write. */
static int validate_transaction(const Pt__Transaction *t,
				const pt_apply_limits_t *lim)
{
	if (t->sequence == 0 || (t->n_changes > 0 && !t->changes))
		return PT_ERR_MALFORMED;
	for (size_t i = 0; i < t->n_changes; i++) {
		const Pt__Change *c = t->changes[i];
		if (!c)
			return PT_ERR_MALFORMED;
		if (c->table == 0)
			return PT_ERR_MALFORMED;
		if (unknown_table(t, c, lim))
			continue;
		if (c->table > lim->last_table ||
		    !pt_store_valid_table((pt_table_t)c->table))
			return PT_ERR_MALFORMED;
		if (c->key.len == 0 || c->key.len > PT_MAX_KEY_LEN)
			return PT_ERR_MALFORMED;
		if (c->op != PT__CHANGE_OP__CHANGE_PUT &&
		    c->op != PT__CHANGE_OP__CHANGE_DELETE)
			return PT_ERR_MALFORMED;
		if (c->op == PT__CHANGE_OP__CHANGE_DELETE && c->value.len != 0)
			return PT_ERR_MALFORMED;
	}
	return PT_OK;
}

static int apply_change(pt_store_t *store, MDB_txn *txn,
			const Pt__Change *c, unsigned from, unsigned to)
{
	MDB_dbi dbi = store->tables[c->table];
	MDB_val k = {c->key.len, c->key.data};
	if (c->op == PT__CHANGE_OP__CHANGE_DELETE) {
		int rc = mdb_del(txn, dbi, &k, NULL);
		/* Deleting what is already gone converges to the same state. */
		return rc == MDB_NOTFOUND ? PT_OK : pt_store_from_mdb(rc);
	}
	uint8_t *upgraded = NULL;
	size_t upgraded_len = 0;
	if (from < to) {
		int r = pt_upgrade_record((pt_table_t)c->table, from, to,
					  c->value.data, c->value.len,
					  &upgraded, &upgraded_len);
		if (r != PT_OK)
			return r;
	}
	MDB_val v = {c->value.len, c->value.data};
	if (upgraded) {
		v.mv_size = upgraded_len;
		v.mv_data = upgraded;
	}
	int r = pt_store_from_mdb(mdb_put(txn, dbi, &k, &v, 0));
	free(upgraded);
	return r;
}

static void note_skipped_table(pt_apply_info_t *info, uint32_t table)
{
	for (size_t i = 0; i < info->n_skipped_tables; i++)
		if (info->skipped_tables[i] == table)
			return;
	if (info->n_skipped_tables < PT_APPLY_SKIPPED_TABLES_MAX)
		info->skipped_tables[info->n_skipped_tables++] = table;
}

/* Node-local counters of skips and schemas, in the apply's transaction. */
static int note_meta(pt_store_t *store, MDB_txn *txn, uint64_t seq,
		     const pt_apply_info_t *info)
{
	uint64_t v = 0;
	int r = pt_store_meta_get_u64(txn, store->meta, META_NEWEST_SCHEMA, &v);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	if (r == PT_ERR_NOT_FOUND || v < info->schema)
		r = pt_store_meta_put_u64(txn, store->meta, META_NEWEST_SCHEMA,
					  info->schema);
	else
		r = PT_OK;
	if (r != PT_OK || info->skipped == 0)
		return r;
	v = 0;
	r = pt_store_meta_get_u64(txn, store->meta, META_SKIPPED, &v);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	r = pt_store_meta_put_u64(txn, store->meta, META_SKIPPED,
				  v + info->skipped);
	if (r != PT_OK)
		return r;
	r = pt_store_meta_get_u64(txn, store->meta, META_SKIPPED_FIRST, &v);
	if (r == PT_ERR_NOT_FOUND)
		r = pt_store_meta_put_u64(txn, store->meta, META_SKIPPED_FIRST,
					  seq);
	return r;
}

int pt_store_apply(pt_store_t *store, const Pt__Transaction *t,
		   const uint8_t *packed, size_t packed_len,
		   pt_apply_result_t *result)
{
	return pt_store_apply_limited(store, t, packed, packed_len, NULL,
				      result, NULL);
}

int pt_store_apply_limited(pt_store_t *store, const Pt__Transaction *t,
			   const uint8_t *packed, size_t packed_len,
			   const pt_apply_limits_t *limits,
			   pt_apply_result_t *result, pt_apply_info_t *infop)
{
	static const pt_apply_limits_t own = {PT_SCHEMA_VERSION, PT_TABLE_LAST};
	const pt_apply_limits_t *lim = limits ? limits : &own;
	pt_apply_info_t scratch;
	pt_apply_info_t *info = infop ? infop : &scratch;
	MDB_txn *txn = NULL;
	uint64_t last = 0;
	pt_apply_result_t res = PT_APPLY_DONE;

	memset(info, 0, sizeof *info);
	info->schema = tx_schema(t);
	int r = validate_transaction(t, lim);
	if (r != PT_OK)
		return r;
	r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, 0, &txn));
	if (r != PT_OK)
		return r;
	r = pt_store_meta_get_u64(txn, store->meta, META_LAST_SEQ, &last);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_OK;
	if (r != PT_OK)
		goto out;
	if (t->sequence <= last) {
		res = PT_APPLY_DUPLICATE;
		goto out;
	}
	if (t->sequence != last + 1) {
		res = PT_APPLY_GAP;
		goto out;
	}
	for (size_t i = 0; i < t->n_changes; i++) {
		const Pt__Change *c = t->changes[i];
		if (unknown_table(t, c, lim)) {
			info->skipped++;
			note_skipped_table(info, c->table);
			continue;
		}
		r = apply_change(store, txn, c, info->schema, lim->schema);
		if (r != PT_OK)
			goto out;
	}
	r = note_meta(store, txn, t->sequence, info);
	if (r != PT_OK)
		goto out;

	/* Keep the transaction in this node's own changelog, under the
	 * publisher's sequence, so digests of history match and this node can
	 * answer catch-up requests if it is ever promoted. */
	uint8_t key[8];
	pt_store_put_be64(key, t->sequence);
	MDB_val k = {sizeof key, key};
	MDB_val v = {packed ? packed_len
			    : protobuf_c_message_get_packed_size(&t->base),
		     NULL};
	r = pt_store_from_mdb(mdb_put(txn, store->changelog, &k, &v,
				      MDB_RESERVE | MDB_APPEND));
	if (r != PT_OK)
		goto out;
	if (packed)
		memcpy(v.mv_data, packed, packed_len);
	else
		protobuf_c_message_pack(&t->base, v.mv_data);
	r = pt_store_meta_put_u64(txn, store->meta, META_LAST_SEQ, t->sequence);
	if (r != PT_OK)
		goto out;
	r = pt_store_from_mdb(mdb_txn_commit(txn));
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	if (r == PT_OK && result)
		*result = res;
	if (r != PT_OK || res != PT_APPLY_DONE) {
		info->skipped = 0;
		info->n_skipped_tables = 0;
	}
	return r;
}

int pt_store_repl_skips(pt_store_t *store, pt_repl_skips_t *out)
{
	MDB_txn *txn = NULL;
	uint64_t v = 0;
	memset(out, 0, sizeof *out);
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, MDB_RDONLY,
						&txn));
	if (r != PT_OK)
		return r;
	r = pt_store_meta_get_u64(txn, store->meta, META_SKIPPED,
				  &out->skipped);
	if (r == PT_OK || r == PT_ERR_NOT_FOUND)
		r = pt_store_meta_get_u64(txn, store->meta, META_SKIPPED_FIRST,
					  &out->first_skipped_sequence);
	if (r == PT_OK || r == PT_ERR_NOT_FOUND)
		r = pt_store_meta_get_u64(txn, store->meta, META_NEWEST_SCHEMA,
					  &v);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_OK;
	out->newest_schema = (unsigned)v;
	mdb_txn_abort(txn);
	return r;
}

int pt_store_applied_sequence(pt_store_t *store, uint64_t *out)
{
	return pt_store_last_sequence(store, out);
}

int pt_store_first_sequence(pt_store_t *store, uint64_t *out)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, MDB_RDONLY,
						&txn));
	if (r != PT_OK)
		return r;
	*out = 0;
	r = pt_store_from_mdb(mdb_cursor_open(txn, store->changelog, &cur));
	if (r != PT_OK)
		goto out;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (rc == MDB_SUCCESS && k.mv_size == 8)
		*out = pt_store_get_be64(k.mv_data);
	else if (rc != MDB_NOTFOUND)
		r = rc == MDB_SUCCESS ? PT_ERR_CORRUPT : pt_store_from_mdb(rc);
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return r;
}

/* Commit time of a changelog entry.  Decoding a whole entry for its age is
 * acceptable here: compaction runs in small batches, off every hot path,
 * and stops at the first entry young enough to keep. */
static int entry_time(const MDB_val *v, int64_t *out)
{
	Pt__Transaction *t = pt__transaction__unpack(NULL, v->mv_size,
						     v->mv_data);
	if (!t)
		return PT_ERR_CORRUPT;
	*out = t->committed_at_us;
	pt__transaction__free_unpacked(t, NULL);
	return PT_OK;
}

int pt_store_compact(pt_store_t *store, uint64_t keep_last,
		     int64_t keep_seconds, uint64_t protect_above,
		     size_t max_batch, size_t *removed)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	uint64_t last = 0;
	size_t count = 0;
	int64_t cutoff_us = keep_seconds > 0
				    ? pt_clock_wall_us() - keep_seconds * 1000000
				    : INT64_MAX;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, 0, &txn));
	if (r != PT_OK)
		return r;
	r = pt_store_meta_get_u64(txn, store->meta, META_LAST_SEQ, &last);
	if (r == PT_ERR_NOT_FOUND) {
		r = PT_OK;
		goto out;
	}
	if (r != PT_OK)
		goto out;
	r = pt_store_from_mdb(mdb_cursor_open(txn, store->changelog, &cur));
	if (r != PT_OK)
		goto out;
	MDB_val k, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == MDB_SUCCESS && count < max_batch) {
		if (k.mv_size != 8) {
			r = PT_ERR_CORRUPT;
			goto out;
		}
		uint64_t seq = pt_store_get_be64(k.mv_data);
		if (keep_last > 0 && last - seq < keep_last)
			break;
		if (seq >= protect_above)
			break;
		if (keep_seconds > 0) {
			int64_t at;
			r = entry_time(&v, &at);
			if (r != PT_OK)
				goto out;
			if (at >= cutoff_us)
				break;
		}
		r = pt_store_from_mdb(mdb_cursor_del(cur, 0));
		if (r != PT_OK)
			goto out;
		count++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		r = pt_store_from_mdb(rc);
		goto out;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	r = pt_store_from_mdb(mdb_txn_commit(txn));
	txn = NULL;
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (removed)
		*removed = r == PT_OK ? count : 0;
	return r;
}

struct pt_snapshot_install {
	pt_store_t *store;
	MDB_txn *txn;
};

int pt_snapshot_install_begin(pt_store_t *store, pt_snapshot_install_t **out)
{
	pt_snapshot_install_t *snap = calloc(1, sizeof *snap);
	*out = NULL;
	if (!snap)
		return PT_ERR_NOMEM;
	snap->store = store;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, 0, &snap->txn));
	for (int t = PT_TABLE_FIRST; r == PT_OK && t <= PT_TABLE_LAST; t++)
		r = pt_store_from_mdb(mdb_drop(snap->txn, store->tables[t], 0));
	if (r == PT_OK)
		r = pt_store_from_mdb(mdb_drop(snap->txn, store->changelog, 0));
	if (r != PT_OK) {
		pt_snapshot_install_abort(&snap);
		return r;
	}
	*out = snap;
	return PT_OK;
}

int pt_snapshot_install_put(pt_snapshot_install_t *snap, pt_table_t table,
			    const void *key, size_t key_len, const void *val,
			    size_t val_len)
{
	if (!pt_store_valid_table(table) || key_len == 0 ||
	    key_len > PT_MAX_KEY_LEN)
		return PT_ERR_MALFORMED;
	MDB_val k = {key_len, (void *)key}, v = {val_len, (void *)val};
	return pt_store_from_mdb(mdb_put(snap->txn, snap->store->tables[table],
					 &k, &v, 0));
}

int pt_snapshot_install_commit(pt_snapshot_install_t **snapp,
			       uint64_t sequence)
{
	pt_snapshot_install_t *snap = *snapp;
	int r = pt_store_meta_put_u64(snap->txn, snap->store->meta,
				      META_LAST_SEQ, sequence);
	if (r == PT_OK) {
		r = pt_store_from_mdb(mdb_txn_commit(snap->txn));
		snap->txn = NULL;
	}
	pt_snapshot_install_abort(snapp);
	return r;
}

int pt_snapshot_install_skipped(pt_snapshot_install_t *snap, uint64_t skipped,
				unsigned schema)
{
	pt_apply_info_t info = {.schema = schema, .skipped = skipped};
	if (skipped == 0)
		return PT_OK;
	/* What a snapshot left out no replay after it brings back: only a
	 * start from sequence 1 does. */
	int r = note_meta(snap->store, snap->txn, 1, &info);
	if (r == PT_OK)
		r = pt_store_meta_put_u64(snap->txn, snap->store->meta,
					  META_SKIPPED_FIRST, 1);
	return r;
}

void pt_snapshot_install_abort(pt_snapshot_install_t **snap)
{
	if (!snap || !*snap)
		return;
	if ((*snap)->txn)
		mdb_txn_abort((*snap)->txn);
	free(*snap);
	*snap = NULL;
}

int pt_store_repl_rewind_skipped(pt_store_t *store,
				 const pt_apply_limits_t *limits,
				 uint64_t *from)
{
	unsigned own = limits ? limits->schema : PT_SCHEMA_VERSION;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	uint64_t first = 0, newest = 0;
	if (from)
		*from = 0;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, 0, &txn));
	if (r != PT_OK)
		return r;
	r = pt_store_meta_get_u64(txn, store->meta, META_SKIPPED_FIRST, &first);
	if (r == PT_OK)
		r = pt_store_meta_get_u64(txn, store->meta, META_NEWEST_SCHEMA,
					  &newest);
	if (r == PT_ERR_NOT_FOUND || (r == PT_OK && (first == 0 || newest > own))) {
		r = PT_OK;
		goto out;
	}
	if (r != PT_OK)
		goto out;
	r = pt_store_from_mdb(mdb_cursor_open(txn, store->changelog, &cur));
	if (r != PT_OK)
		goto out;
	uint8_t key[8];
	pt_store_put_be64(key, first);
	int rc;
	for (;;) {
		MDB_val k = {sizeof key, key}, v;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_SUCCESS)
			rc = mdb_cursor_del(cur, 0);
		if (rc != MDB_SUCCESS)
			break;
	}
	if (rc != MDB_NOTFOUND) {
		r = pt_store_from_mdb(rc);
		goto out;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	r = pt_store_meta_put_u64(txn, store->meta, META_LAST_SEQ, first - 1);
	MDB_val names[] = {
		{strlen(META_SKIPPED), META_SKIPPED},
		{strlen(META_SKIPPED_FIRST), META_SKIPPED_FIRST},
	};
	for (size_t i = 0; r == PT_OK && i < 2; i++) {
		rc = mdb_del(txn, store->meta, &names[i], NULL);
		if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
			r = pt_store_from_mdb(rc);
	}
	if (r != PT_OK)
		goto out;
	r = pt_store_from_mdb(mdb_txn_commit(txn));
	txn = NULL;
	if (r == PT_OK && from)
		*from = first;
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	return r;
}
