#include "store/store.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "changelog.pb-c.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "store/store_internal.h"

#define PT_DEFAULT_MAP_SIZE ((size_t)16 << 30)

static const char *const table_names[PT_TABLE_COUNT_] = {
	[PT_TABLE_DEVICES] = "devices",
	[PT_TABLE_PROFILES] = "profiles",
	[PT_TABLE_TRUST] = "trust",
	[PT_TABLE_NODES] = "nodes",
	[PT_TABLE_CLUSTER] = "cluster",
	[PT_TABLE_CAPF_PROFILES] = "capf_profiles",
	[PT_TABLE_LEGACY_SOURCES] = "legacy_sources",
};

/* The tables of the first schema; later ones may be missing from a store
 * a schema-1 binary made (it created them only when it first wrote). */
#define PT_TABLE_ORIGINAL_LAST PT_TABLE_CLUSTER

const char *pt_table_name(pt_table_t table)
{
	if (table < PT_TABLE_FIRST || table > PT_TABLE_LAST)
		return NULL;
	return table_names[table];
}

/* LMDB mixes its own negative codes with positive errno values; fold both
 * into our single space here so nothing above sees an MDB_* code. */
int pt_store_from_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return PT_OK;
	case MDB_NOTFOUND: return PT_ERR_NOT_FOUND;
	case MDB_MAP_FULL: return PT_ERR_STORE_FULL;
	case MDB_TXN_FULL: return PT_ERR_STORE_FULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH: return PT_ERR_CORRUPT;
	default:
		break;
	}
	if (rc > 0)
		return PT_ESYS(rc);
	return PT_ERR_STORE;
}

bool pt_store_valid_table(pt_table_t table)
{
	return table >= PT_TABLE_FIRST && table <= PT_TABLE_LAST;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void pt_store_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t pt_store_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int pt_store_meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *name,
			uint64_t *out)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc != MDB_SUCCESS)
		return pt_store_from_mdb(rc);
	if (v.mv_size != 8)
		return PT_ERR_CORRUPT;
	*out = pt_store_get_be64(v.mv_data);
	return PT_OK;
}

int pt_store_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *name,
			uint64_t value)
{
	uint8_t buf[8];
	pt_store_put_be64(buf, value);
	MDB_val k = {strlen(name), (void *)name}, v = {sizeof buf, buf};
	return pt_store_from_mdb(mdb_put(txn, meta, &k, &v, 0));
}

/* Upgrade steps: upgrades[v] turns a version-v store into version v+1 inside
 * the opening transaction.
 *
 * Upgrade writes bypass pt_txn_put and so never reach the changelog: every
 * node, publisher or subscriber, upgrades its own store with the same
 * step, whose result depends only on the record bytes, so nodes holding
 * the same data before hold the same data (and digest) after, with no
 * transaction of the size of the whole store to replicate.  A subscriber
 * never writes its own changelog entries anyway, so logging could only
 * ever happen on the publisher.  What this leaves open is a node that
 * replays the publisher's changelog from before the upgrade (a joining
 * subscriber, a catch-up): those entries hold the records as schema 1
 * wrote them.  Each changelog transaction is therefore stamped with the
 * schema that wrote it, and pt_store_apply passes the changes of an older
 * one through the same record step (store/upgrade.h), so the replay ends
 * where the publisher's upgrade did.  Snapshots are read from the
 * publisher's upgraded store and need nothing. */
typedef int (*upgrade_fn)(pt_store_t *store, MDB_txn *txn, size_t *rewritten);
static const upgrade_fn upgrades[PT_SCHEMA_VERSION] = {
	[1] = pt_store_upgrade_1_to_2,
};

/* The schema version a store holds, read without writing: 0 for a store
 * that has none yet (being created). */
static int peek_schema(pt_store_t *store, unsigned *out)
{
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	uint64_t version = 0;
	*out = 0;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, MDB_RDONLY,
						&txn));
	if (r != PT_OK)
		return r;
	r = pt_store_from_mdb(mdb_dbi_open(txn, "meta", 0, &meta));
	if (r == PT_OK)
		r = pt_store_meta_get_u64(txn, meta, META_SCHEMA, &version);
	mdb_txn_abort(txn);
	if (r == PT_ERR_NOT_FOUND)
		return PT_OK;
	if (r == PT_OK && (version == 0 || version > UINT32_MAX))
		r = PT_ERR_CORRUPT;
	if (r == PT_OK)
		*out = (unsigned)version;
	return r;
}

/* Opens every table.  create: make the missing ones (a new store, or one
 * being upgraded); lenient: a table after the first schema's may be
 * missing and reads as empty (read-only opens of older stores). */
static int open_dbis(pt_store_t *store, MDB_txn *txn, bool create,
		     bool lenient)
{
	unsigned dbflags = create ? MDB_CREATE : 0;
	int r = PT_OK;
	for (int t = PT_TABLE_FIRST; r == PT_OK && t <= PT_TABLE_LAST; t++) {
		r = pt_store_from_mdb(mdb_dbi_open(txn, table_names[t], dbflags,
						   &store->tables[t]));
		if (r == PT_ERR_NOT_FOUND && lenient &&
		    t > PT_TABLE_ORIGINAL_LAST) {
			store->absent[t] = true;
			r = PT_OK;
		}
	}
	if (r == PT_OK)
		r = pt_store_from_mdb(mdb_dbi_open(txn, "changelog", dbflags,
						   &store->changelog));
	if (r == PT_OK)
		r = pt_store_from_mdb(mdb_dbi_open(txn, "meta", dbflags,
						   &store->meta));
	return r;
}

static int open_readonly(pt_store_t *store, unsigned found)
{
	MDB_txn *txn = NULL;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, MDB_RDONLY,
						&txn));
	if (r != PT_OK)
		return r;
	r = open_dbis(store, txn, false, found < PT_SCHEMA_VERSION);
	store->schema_version = found ? found : PT_SCHEMA_VERSION;
	/* Committing a read transaction keeps the handles it opened. */
	if (r == PT_OK) {
		r = pt_store_from_mdb(mdb_txn_commit(txn));
		txn = NULL;
	}
	if (txn)
		mdb_txn_abort(txn);
	return r;
}

/* The write transaction of a read-write open: creates a new store's
 * tables, or runs every upgrade step, and records the schema. */
static int open_readwrite(pt_store_t *store, unsigned found, unsigned flags,
			  pt_store_upgrade_report_t *report)
{
	MDB_txn *txn = NULL;
	uint64_t version = 0;
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, 0, &txn));
	if (r != PT_OK)
		return r;
	r = open_dbis(store, txn, found < PT_SCHEMA_VERSION, false);
	if (r == PT_OK)
		r = pt_store_meta_get_u64(txn, store->meta, META_SCHEMA,
					  &version);
	if (r == PT_ERR_NOT_FOUND) {
		r = PT_OK;
		version = PT_SCHEMA_VERSION;
		if (found == 0)
			r = pt_store_meta_put_u64(txn, store->meta, META_SCHEMA,
						  version);
	}
	if (r != PT_OK)
		goto out;
	/* Read again under the write lock: another process may have upgraded
	 * the store since peek_schema. */
	if (version > PT_SCHEMA_VERSION) {
		store->schema_version = (unsigned)version;
		r = PT_ERR_SCHEMA_NEWER;
		goto out;
	}
	unsigned from = (unsigned)version;
	for (unsigned v = from; r == PT_OK && v < PT_SCHEMA_VERSION; v++)
		r = upgrades[v] ? upgrades[v](store, txn, &report->rewritten)
				: PT_ERR_CORRUPT;
	if (r == PT_OK && from < PT_SCHEMA_VERSION)
		r = pt_store_meta_put_u64(txn, store->meta, META_SCHEMA,
					  PT_SCHEMA_VERSION);
	if (r == PT_OK && from < PT_SCHEMA_VERSION) {
		if (flags & PT_STORE_TEST_UPGRADE_STOP)
			raise(SIGSTOP);
		if (flags & PT_STORE_TEST_UPGRADE_FAIL)
			r = PT_ERR_STORE;
	}
	if (r != PT_OK)
		goto out;
	r = pt_store_from_mdb(mdb_txn_commit(txn));
	txn = NULL;
	if (r == PT_OK && from < PT_SCHEMA_VERSION) {
		store->upgraded_from = from;
		report->upgraded_to = PT_SCHEMA_VERSION;
	}
	store->schema_version = PT_SCHEMA_VERSION;
out:
	if (txn)
		mdb_txn_abort(txn);
	return r;
}

static int open_tables(pt_store_t *store, unsigned flags,
		       pt_store_upgrade_report_t *report)
{
	unsigned found = 0;
	int r = peek_schema(store, &found);
	report->found = found;
	if (r != PT_OK)
		return r;
	if (found > PT_SCHEMA_VERSION) {
		store->schema_version = found;
		return PT_ERR_SCHEMA_NEWER;
	}
	if (flags & PT_STORE_READONLY)
		return open_readonly(store, found);
	if (found != 0 && found < PT_SCHEMA_VERSION) {
		r = pt_store_backup(store, found, report->backup,
				    sizeof report->backup);
		if (r == PT_OK && !(store->backup = strdup(report->backup)))
			r = PT_ERR_NOMEM;
		if (r != PT_OK)
			return r;
	}
	return open_readwrite(store, found, flags, report);
}

int pt_store_open(const char *dir, unsigned flags, size_t map_size,
		  pt_store_t **out)
{
	return pt_store_open_report(dir, flags, map_size, NULL, out);
}

int pt_store_open_report(const char *dir, unsigned flags, size_t map_size,
			 pt_store_upgrade_report_t *report, pt_store_t **out)
{
	pt_store_upgrade_report_t scratch;
	pt_store_t *store = NULL;
	char *path = NULL;
	bool readonly = flags & PT_STORE_READONLY;
	int r;

	*out = NULL;
	if (!report)
		report = &scratch;
	memset(report, 0, sizeof *report);
	if (asprintf(&path, "%s/store", dir) < 0)
		return PT_ERR_NOMEM;
	if (flags & PT_STORE_CREATE) {
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			r = PT_ESYS(errno);
			goto out;
		}
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			r = PT_ESYS(errno);
			goto out;
		}
	} else {
		struct stat st;
		char *data = NULL;
		if (asprintf(&data, "%s/data.mdb", path) < 0) {
			r = PT_ERR_NOMEM;
			goto out;
		}
		int missing = stat(data, &st) != 0;
		free(data);
		if (missing) {
			r = PT_ERR_NOT_FOUND;
			goto out;
		}
	}

	store = calloc(1, sizeof *store);
	if (!store || !(store->dir = strdup(dir))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	r = pt_store_from_mdb(mdb_env_create(&store->env));
	if (r != PT_OK)
		goto out;
	mdb_env_set_maxdbs(store->env, 16);
	r = pt_store_from_mdb(mdb_env_set_mapsize(store->env,
					 map_size ? map_size : PT_DEFAULT_MAP_SIZE));
	if (r != PT_OK)
		goto out;
	unsigned envflags = MDB_NOTLS;
	if (readonly)
		envflags |= MDB_RDONLY;
	if (flags & PT_STORE_NOSYNC)
		envflags |= MDB_NOSYNC;
	r = pt_store_from_mdb(mdb_env_open(store->env, path, envflags, 0600));
	if (r != PT_OK)
		goto out;
	r = open_tables(store, flags, report);
	if (r != PT_OK)
		goto out;
	*out = store;
	store = NULL;
out:
	pt_store_destroy(&store);
	free(path);
	return r;
}

void pt_store_destroy(pt_store_t **store)
{
	if (!store || !*store)
		return;
	if ((*store)->env)
		mdb_env_close((*store)->env);
	free((*store)->dir);
	free((*store)->backup);
	free(*store);
	*store = NULL;
}

const char *pt_store_dir(const pt_store_t *store)
{
	return store->dir;
}

unsigned pt_store_schema_version(const pt_store_t *store)
{
	return store->schema_version;
}

unsigned pt_store_upgraded_from(const pt_store_t *store)
{
	return store->upgraded_from;
}

const char *pt_store_upgrade_backup(const pt_store_t *store)
{
	return store->backup;
}

int pt_txn_begin(pt_store_t *store, bool write, const char *origin,
		 pt_txn_t **out)
{
	pt_txn_t *txn = calloc(1, sizeof *txn);
	*out = NULL;
	if (!txn)
		return PT_ERR_NOMEM;
	txn->store = store;
	txn->write = write;
	if (origin && !(txn->origin = strdup(origin))) {
		free(txn);
		return PT_ERR_NOMEM;
	}
	int r = pt_store_from_mdb(mdb_txn_begin(store->env, NULL, write ? 0 : MDB_RDONLY,
				       &txn->txn));
	if (r != PT_OK) {
		free(txn->origin);
		free(txn);
		return r;
	}
	*out = txn;
	return PT_OK;
}

static void free_changes(pt_txn_t *txn)
{
	for (size_t i = 0; i < txn->n_changes; i++)
		free(txn->changes[i]);
	free(txn->changes);
	txn->changes = NULL;
	txn->n_changes = txn->cap_changes = 0;
}

void pt_txn_abort(pt_txn_t **txn)
{
	if (!txn || !*txn)
		return;
	if ((*txn)->txn)
		mdb_txn_abort((*txn)->txn);
	free_changes(*txn);
	free((*txn)->origin);
	free(*txn);
	*txn = NULL;
}

int pt_txn_get(pt_txn_t *txn, pt_table_t table, const void *key,
	       size_t key_len, const uint8_t **val, size_t *val_len)
{
	if (!pt_store_valid_table(table) || key_len == 0)
		return PT_ERR_INVALID;
	if (txn->store->absent[table])
		return PT_ERR_NOT_FOUND;
	MDB_val k = {key_len, (void *)key}, v;
	int r = pt_store_from_mdb(mdb_get(txn->txn, txn->store->tables[table], &k, &v));
	if (r == PT_OK) {
		*val = v.mv_data;
		*val_len = v.mv_size;
	}
	return r;
}

/* Remembers a change for the changelog.  Key and value are copied into one
 * allocation that also holds the Pt__Change header. */
static int record_change(pt_txn_t *txn, pt_table_t table, Pt__ChangeOp op,
			 const void *key, size_t key_len, const void *val,
			 size_t val_len)
{
	if (txn->n_changes == txn->cap_changes) {
		size_t cap = txn->cap_changes ? txn->cap_changes * 2 : 16;
		Pt__Change **grown = realloc(txn->changes, cap * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		txn->changes = grown;
		txn->cap_changes = cap;
	}
	Pt__Change *c = malloc(sizeof *c + key_len + val_len);
	if (!c)
		return PT_ERR_NOMEM;
	pt__change__init(c);
	uint8_t *payload = (uint8_t *)(c + 1);
	memcpy(payload, key, key_len);
	if (val_len)
		memcpy(payload + key_len, val, val_len);
	c->table = (uint32_t)table;
	c->op = op;
	c->key.data = payload;
	c->key.len = key_len;
	c->value.data = val_len ? payload + key_len : NULL;
	c->value.len = val_len;
	txn->changes[txn->n_changes++] = c;
	return PT_OK;
}

int pt_txn_put(pt_txn_t *txn, pt_table_t table, const void *key,
	       size_t key_len, const void *val, size_t val_len)
{
	if (!txn->write)
		return PT_ERR_DENIED;
	if (!pt_store_valid_table(table) || key_len == 0 || key_len > 511)
		return PT_ERR_INVALID;
	MDB_dbi dbi = txn->store->tables[table];
	MDB_val k = {key_len, (void *)key}, old;
	int rc = mdb_get(txn->txn, dbi, &k, &old);
	if (rc == MDB_SUCCESS && old.mv_size == val_len &&
	    memcmp(old.mv_data, val, val_len) == 0)
		return PT_OK;
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return pt_store_from_mdb(rc);
	int r = record_change(txn, table, PT__CHANGE_OP__CHANGE_PUT, key,
			      key_len, val, val_len);
	if (r != PT_OK)
		return r;
	MDB_val v = {val_len, (void *)val};
	r = pt_store_from_mdb(mdb_put(txn->txn, dbi, &k, &v, 0));
	if (r != PT_OK)
		free(txn->changes[--txn->n_changes]);
	return r;
}

int pt_txn_del(pt_txn_t *txn, pt_table_t table, const void *key,
	       size_t key_len)
{
	if (!txn->write)
		return PT_ERR_DENIED;
	if (!pt_store_valid_table(table) || key_len == 0 || key_len > 511)
		return PT_ERR_INVALID;
	MDB_val k = {key_len, (void *)key};
	int r = pt_store_from_mdb(mdb_del(txn->txn, txn->store->tables[table], &k, NULL));
	if (r != PT_OK)
		return r;
	return record_change(txn, table, PT__CHANGE_OP__CHANGE_DELETE, key,
			     key_len, NULL, 0);
}

int pt_txn_foreach_after(pt_txn_t *txn, pt_table_t table,
			 const void *after_key, size_t after_len,
			 size_t max_records, pt_txn_visit_fn visit, void *ctx,
			 size_t *visited)
{
	size_t count = 0;
	if (visited)
		*visited = 0;
	if (!pt_store_valid_table(table))
		return PT_ERR_INVALID;
	if (txn->store->absent[table])
		return PT_OK;
	MDB_cursor *cur = NULL;
	int r = pt_store_from_mdb(mdb_cursor_open(txn->txn,
						  txn->store->tables[table], &cur));
	if (r != PT_OK)
		return r;
	MDB_val k = {after_len, (void *)after_key}, v;
	int rc;
	if (after_key && after_len > 0) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		/* SET_RANGE lands on the key itself when it still exists. */
		if (rc == MDB_SUCCESS && k.mv_size == after_len &&
		    memcmp(k.mv_data, after_key, after_len) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	while (rc == MDB_SUCCESS && (max_records == 0 || count < max_records)) {
		r = visit(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r != 0)
			break;
		count++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (r == 0 && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		r = pt_store_from_mdb(rc);
	mdb_cursor_close(cur);
	if (visited)
		*visited = count;
	return r;
}

int pt_txn_foreach(pt_txn_t *txn, pt_table_t table, pt_txn_visit_fn visit,
		   void *ctx)
{
	return pt_txn_foreach_after(txn, table, NULL, 0, 0, visit, ctx, NULL);
}

int pt_txn_count(pt_txn_t *txn, pt_table_t table, size_t *out)
{
	if (!pt_store_valid_table(table))
		return PT_ERR_INVALID;
	if (txn->store->absent[table]) {
		*out = 0;
		return PT_OK;
	}
	MDB_stat st;
	int r = pt_store_from_mdb(mdb_stat(txn->txn, txn->store->tables[table], &st));
	if (r == PT_OK)
		*out = st.ms_entries;
	return r;
}

size_t pt_txn_changes(const pt_txn_t *txn)
{
	return txn->n_changes;
}

static int append_changelog(pt_txn_t *txn, uint64_t *seq_out)
{
	pt_store_t *store = txn->store;
	uint64_t last = 0;
	int r = pt_store_meta_get_u64(txn->txn, store->meta, META_LAST_SEQ, &last);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	uint64_t seq = last + 1;

	Pt__Transaction t = PT__TRANSACTION__INIT;
	t.sequence = seq;
	t.committed_at_us = pt_clock_wall_us();
	t.origin = txn->origin ? txn->origin : "";
	t.schema = PT_SCHEMA_VERSION;
	t.n_changes = txn->n_changes;
	t.changes = txn->changes;

	uint8_t key[8];
	pt_store_put_be64(key, seq);
	MDB_val k = {sizeof key, key};
	MDB_val v = {protobuf_c_message_get_packed_size(&t.base), NULL};
	/* MDB_RESERVE lets protobuf-c pack straight into the map. */
	r = pt_store_from_mdb(mdb_put(txn->txn, store->changelog, &k, &v,
			     MDB_RESERVE | MDB_APPEND));
	if (r != PT_OK)
		return r;
	protobuf_c_message_pack(&t.base, v.mv_data);
	r = pt_store_meta_put_u64(txn->txn, store->meta, META_LAST_SEQ, seq);
	if (r == PT_OK)
		*seq_out = seq;
	return r;
}

int pt_txn_commit(pt_txn_t **txnp, uint64_t *seq_out)
{
	pt_txn_t *txn = *txnp;
	uint64_t seq = 0;
	int r = PT_OK;

	if (seq_out)
		*seq_out = 0;
	if (!txn->write) {
		pt_txn_abort(txnp);
		return PT_OK;
	}
	if (txn->n_changes > 0)
		r = append_changelog(txn, &seq);
	if (r == PT_OK) {
		r = pt_store_from_mdb(mdb_txn_commit(txn->txn));
		txn->txn = NULL;
	}
	if (r == PT_OK && seq_out)
		*seq_out = seq;
	pt_txn_abort(txnp);
	return r;
}

int pt_store_last_sequence(pt_store_t *store, uint64_t *out)
{
	pt_txn_t *txn;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return r;
	*out = 0;
	r = pt_store_meta_get_u64(txn->txn, store->meta, META_LAST_SEQ, out);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_OK;
	pt_txn_abort(&txn);
	return r;
}

int pt_txn_last_sequence(pt_txn_t *txn, uint64_t *out)
{
	*out = 0;
	int r = pt_store_meta_get_u64(txn->txn, txn->store->meta, META_LAST_SEQ,
				      out);
	return r == PT_ERR_NOT_FOUND ? PT_OK : r;
}

int pt_txn_changelog_get(pt_txn_t *txn, uint64_t seq, const uint8_t **val,
			 size_t *val_len)
{
	uint8_t key[8];
	pt_store_put_be64(key, seq);
	MDB_val k = {sizeof key, key}, v;
	int r = pt_store_from_mdb(mdb_get(txn->txn, txn->store->changelog, &k, &v));
	if (r == PT_OK) {
		*val = v.mv_data;
		*val_len = v.mv_size;
	}
	return r;
}

int pt_txn_meta_get(pt_txn_t *txn, const char *name, const uint8_t **val,
		    size_t *val_len)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int r = pt_store_from_mdb(mdb_get(txn->txn, txn->store->meta, &k, &v));
	if (r == PT_OK) {
		*val = v.mv_data;
		*val_len = v.mv_size;
	}
	return r;
}

int pt_txn_meta_put(pt_txn_t *txn, const char *name, const void *val,
		    size_t val_len)
{
	if (!txn->write)
		return PT_ERR_DENIED;
	MDB_val k = {strlen(name), (void *)name}, v = {val_len, (void *)val};
	return pt_store_from_mdb(mdb_put(txn->txn, txn->store->meta, &k, &v, 0));
}

int pt_txn_meta_del(pt_txn_t *txn, const char *name)
{
	if (!txn->write)
		return PT_ERR_DENIED;
	MDB_val k = {strlen(name), (void *)name};
	int rc = mdb_del(txn->txn, txn->store->meta, &k, NULL);
	return rc == MDB_NOTFOUND ? PT_OK : pt_store_from_mdb(rc);
}

struct digest_ctx {
	EVP_MD_CTX *md;
	uint8_t table;
};

static int digest_visit(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	struct digest_ctx *d = ctx;
	uint8_t frame[4];
	int ok = EVP_DigestUpdate(d->md, &d->table, 1);
	put_be32(frame, (uint32_t)key_len);
	ok = ok && EVP_DigestUpdate(d->md, frame, 4);
	ok = ok && EVP_DigestUpdate(d->md, key, key_len);
	put_be32(frame, (uint32_t)val_len);
	ok = ok && EVP_DigestUpdate(d->md, frame, 4);
	ok = ok && EVP_DigestUpdate(d->md, val, val_len);
	return ok ? 0 : PT_ERR_CRYPTO;
}

int pt_store_digest(pt_store_t *store, uint8_t out[32])
{
	struct digest_ctx d = {EVP_MD_CTX_new(), 0};
	pt_txn_t *txn = NULL;
	int r = PT_ERR_CRYPTO;

	if (!d.md || !EVP_DigestInit_ex(d.md, EVP_sha256(), NULL))
		goto out;
	r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		goto out;
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++) {
		d.table = (uint8_t)t;
		r = pt_txn_foreach(txn, (pt_table_t)t, digest_visit, &d);
		if (r != PT_OK)
			goto out;
	}
	unsigned int len = 0;
	r = EVP_DigestFinal_ex(d.md, out, &len) && len == 32 ? PT_OK
							     : PT_ERR_CRYPTO;
out:
	pt_txn_abort(&txn);
	EVP_MD_CTX_free(d.md);
	return r;
}
