/* Internals shared by the store's own files (store.c, apply.c).  Nothing
 * outside node/store includes this. */
#ifndef PT_STORE_STORE_INTERNAL_H
#define PT_STORE_STORE_INTERNAL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "changelog.pb-c.h"
#include "store/store.h"

#define META_SCHEMA "schema_version"
/* Last sequence in this node's changelog: on the publisher the last commit,
 * on a subscriber the last transaction applied (or snapshot installed). */
#define META_LAST_SEQ "last_sequence"

struct pt_store {
	MDB_env *env;
	MDB_dbi tables[PT_TABLE_COUNT_];
	/* A table added after the store was made, opened read-only: it does
	 * not exist yet and reads as empty. */
	bool absent[PT_TABLE_COUNT_];
	MDB_dbi changelog;
	MDB_dbi meta;
	char *dir;
	unsigned schema_version;
	/* Set when this open upgraded the store (pt_store_upgraded_from). */
	unsigned upgraded_from;
	char *backup;
};

struct pt_txn {
	pt_store_t *store;
	MDB_txn *txn;
	bool write;
	char *origin;
	Pt__Change **changes;
	size_t n_changes;
	size_t cap_changes;
};

/* LMDB result codes folded into pt_err_t. */
int pt_store_from_mdb(int rc);
bool pt_store_valid_table(pt_table_t table);
void pt_store_put_be64(uint8_t *p, uint64_t v);
uint64_t pt_store_get_be64(const uint8_t *p);
int pt_store_meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *name,
			  uint64_t *out);
int pt_store_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *name,
			  uint64_t value);

/* The schema 1 -> 2 step (upgrade.c) inside the opening write
 * transaction; *rewritten counts the records it rewrote. */
int pt_store_upgrade_1_to_2(pt_store_t *store, MDB_txn *txn,
			    size_t *rewritten);

/* Compacting copy of the store (as it is now, schema version) to
 * <dir>/backups/store-schema<version>-<UTC stamp>/data.mdb, mode 0600,
 * fsync'd; path receives the data.mdb path ("" on failure). */
int pt_store_backup(pt_store_t *store, unsigned version, char *path,
		    size_t path_len);

#endif
