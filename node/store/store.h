/* The node's LMDB store.
 *
 * One LMDB environment per node, under <datadir>/store.  Replicated tables
 * hold protobuf-c records (proto/records.proto) under natural keys; the
 * changelog and meta tables are the store's own.
 *
 * Every write goes through a pt_txn_t: pt_txn_put()/pt_txn_del() apply the
 * change and remember it, and pt_txn_commit() appends all of them to the
 * changelog under the next 64-bit sequence number in the same LMDB
 * transaction.  A transaction that fails or is aborted leaves neither a
 * record nor a changelog entry.  A transaction that changes nothing (every
 * put wrote the bytes already stored) appends nothing.
 *
 * Threading: a pt_store_t may be shared by threads; a pt_txn_t belongs to
 * the thread that began it.  LMDB admits one writer at a time across all
 * processes, so the CLI and the daemon may write the same store.
 */
#ifndef PT_STORE_STORE_H
#define PT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Replicated tables.  The numbers travel in changelog entries: never
 * renumber. */
typedef enum pt_table {
	PT_TABLE_DEVICES = 1,  /* key: device name */
	PT_TABLE_PROFILES = 2, /* key: profile name */
	PT_TABLE_TRUST = 3,    /* key: SHA-256 of the certificate DER (32 bytes) */
	PT_TABLE_NODES = 4,    /* key: node name */
	PT_TABLE_CLUSTER = 5,  /* key: "cluster" (one record) */
	/* Part of schema 2 (a schema-1 binary created them lazily, so a
	 * schema-1 store may lack them: read-only opens see them empty,
	 * the upgrade creates them). */
	PT_TABLE_CAPF_PROFILES = 6, /* key: CTI instance ID (CapfUserProfile) */
	PT_TABLE_LEGACY_SOURCES = 7, /* key: SHA-256 of the file (LegacySource) */
	PT_TABLE_COUNT_ = 8,
} pt_table_t;

#define PT_TABLE_FIRST PT_TABLE_DEVICES
#define PT_TABLE_LAST PT_TABLE_LEGACY_SOURCES
#define PT_CLUSTER_KEY "cluster"

/* The schema this binary writes.  Older stores are upgraded on open.
 * 2: capf_profiles and legacy_sources are part of the schema; certificate
 * lists meet the invariant of store/cert_history.h. */
#define PT_SCHEMA_VERSION 2u

typedef struct pt_store pt_store_t;
typedef struct pt_txn pt_txn_t;

enum {
	PT_STORE_CREATE = 1u << 0,   /* create the store if it does not exist */
	PT_STORE_READONLY = 1u << 1, /* open for reading only */
	PT_STORE_NOSYNC = 1u << 2,   /* no fsync at commit (benchmarks, tests) */
	/* Test hooks for an upgrade that does not complete: fail after
	 * every step ran, just before the commit; or stop the process there
	 * (SIGSTOP) for the caller's parent to kill it. */
	PT_STORE_TEST_UPGRADE_FAIL = 1u << 8,
	PT_STORE_TEST_UPGRADE_STOP = 1u << 9,
};

/* What an open did about the schema; see pt_store_open_report(). */
typedef struct pt_store_upgrade_report {
	unsigned found;      /* schema found in the store (0: a new store) */
	unsigned upgraded_to; /* 0 when no upgrade completed */
	size_t rewritten;    /* records the upgrade rewrote */
	char backup[4096];   /* the backup's data.mdb, "" when none was made */
} pt_store_upgrade_report_t;

/* Opens (and with PT_STORE_CREATE creates) the store in <dir>/store.
 * Refuses a store written by a newer schema with PT_ERR_SCHEMA_NEWER
 * (the store untouched).  A read-write open of an older store first makes
 * a compacting copy of it under <dir>/backups/store-schema<N>-<UTC
 * time>/data.mdb, then upgrades it in one transaction that is not
 * logged in the changelog; when the backup or the upgrade fails the open
 * fails and the store is as it was.  A read-only open reads an older
 * store as it is (pt_store_schema_version() tells).  map_size 0 picks the
 * default (16 GiB of address space; the file grows only as data does).
 * On success *out owns the store; free it with pt_store_destroy(). */
int pt_store_open(const char *dir, unsigned flags, size_t map_size,
		  pt_store_t **out);

/* The same; *report (may be NULL) says what was found, upgraded and
 * backed up, also when the open failed. */
int pt_store_open_report(const char *dir, unsigned flags, size_t map_size,
			 pt_store_upgrade_report_t *report, pt_store_t **out);
void pt_store_destroy(pt_store_t **store);

/* The data directory the store was opened from (borrowed). */
const char *pt_store_dir(const pt_store_t *store);

/* Schema version found in the store (after any upgrade). */
unsigned pt_store_schema_version(const pt_store_t *store);

/* The schema this open upgraded the store from (0: none) and the backup
 * it made first (NULL: none; borrowed, valid as long as the store). */
unsigned pt_store_upgraded_from(const pt_store_t *store);
const char *pt_store_upgrade_backup(const pt_store_t *store);

/* Begins a transaction.  origin (copied) names the writer in the changelog,
 * e.g. "cli device add".  A read transaction is begun with write=false and
 * must be ended with pt_txn_abort(). */
int pt_txn_begin(pt_store_t *store, bool write, const char *origin,
		 pt_txn_t **out);

/* Looks a record up.  On success *val points into the database map and is
 * valid until the transaction ends or the next write in it. */
int pt_txn_get(pt_txn_t *txn, pt_table_t table, const void *key,
	       size_t key_len, const uint8_t **val, size_t *val_len);

/* Stores val under key (copies both).  Writing the bytes already stored is
 * not a change and leaves no changelog entry. */
int pt_txn_put(pt_txn_t *txn, pt_table_t table, const void *key,
	       size_t key_len, const void *val, size_t val_len);

/* Deletes key; PT_ERR_NOT_FOUND if it is absent. */
int pt_txn_del(pt_txn_t *txn, pt_table_t table, const void *key,
	       size_t key_len);

/* Called for each record in key order; a non-zero return stops the walk and
 * becomes pt_txn_foreach's result.  key and val are valid only during the
 * call. */
typedef int (*pt_txn_visit_fn)(void *ctx, const uint8_t *key, size_t key_len,
			       const uint8_t *val, size_t val_len);
int pt_txn_foreach(pt_txn_t *txn, pt_table_t table, pt_txn_visit_fn visit,
		   void *ctx);

/* The same walk, starting after after_key (NULL or empty: from the first
 * record) and stopping once max_records have been visited (0: no limit).
 * *visited (may be NULL) counts the records handed to visit. */
int pt_txn_foreach_after(pt_txn_t *txn, pt_table_t table,
			 const void *after_key, size_t after_len,
			 size_t max_records, pt_txn_visit_fn visit, void *ctx,
			 size_t *visited);

/* Number of records in table. */
int pt_txn_count(pt_txn_t *txn, pt_table_t table, size_t *out);

/* Number of changes this transaction has recorded so far. */
size_t pt_txn_changes(const pt_txn_t *txn);

/* Appends the recorded changes to the changelog and commits.  *txn is
 * freed whatever the result; on failure nothing was written.  *seq_out
 * (may be NULL) receives the sequence assigned, or 0 when nothing changed. */
int pt_txn_commit(pt_txn_t **txn, uint64_t *seq_out);

/* Ends a transaction without writing; accepts NULL. */
void pt_txn_abort(pt_txn_t **txn);

/* Last sequence number appended to the changelog (0 for none). */
int pt_store_last_sequence(pt_store_t *store, uint64_t *out);

/* Last changelog sequence as seen by this transaction. */
int pt_txn_last_sequence(pt_txn_t *txn, uint64_t *out);

/* Reads changelog entry seq; *val points into the map (see pt_txn_get). */
int pt_txn_changelog_get(pt_txn_t *txn, uint64_t seq, const uint8_t **val,
			 size_t *val_len);

/* Node-local metadata (never replicated, excluded from digests). */
int pt_txn_meta_get(pt_txn_t *txn, const char *name, const uint8_t **val,
		    size_t *val_len);
int pt_txn_meta_put(pt_txn_t *txn, const char *name, const void *val,
		    size_t val_len);

/* Removes a metadata entry; absent is not an error. */
int pt_txn_meta_del(pt_txn_t *txn, const char *name);

/* SHA-256 over every record of every replicated table, in table then key
 * order, each framed as (table, key length, key, value length, value).
 * Two nodes holding the same data compute the same digest. */
int pt_store_digest(pt_store_t *store, uint8_t out[32]);

/* Name of a replicated table ("devices", ...) or NULL. */
const char *pt_table_name(pt_table_t table);

#endif
