/* The files a serving node hands to phones, built once and kept.
 *
 * Names served: CTLFile.tlv (the cluster record's CTL), ITLFile.tlv and
 * ITLSEP<MAC>.tlv for known devices (the node's ITL, itl_source.h; the
 * per-phone file has the same bytes, itl.h says why), every configuration
 * name of configfiles.h (config_source.h), and with a static directory
 * its files, XMLDefault.cnf.xml, RingList.xml and their signed forms
 * (static_source.h).  Anything else is "not mine" (PT_ERR_NOT_FOUND with
 * an empty reason).
 *
 * Why a cache: a boot storm must not sign at request time.  Each entry
 * keeps the bytes (a shared blob, or a "File not found" answer with its
 * reason) and a fingerprint of its inputs: for a configuration the
 * device and profile records, the cluster record, the nodes table and
 * the node's TFTP certificate; for the CTL and ITL their own bytes.  A
 * request while the store's last sequence is the one the entry was
 * checked at is a hit without any store read (static files are checked by
 * a stat of the file and the directory on every request, since they
 * change outside the store).  After a replicated change
 * the first request recomputes the fingerprint (store reads, no signing)
 * and keeps the entry when its inputs did not change; only entries whose
 * inputs changed are rebuilt.  pt_file_cache_refresh() does the same for
 * every device ahead of the phones (the daemon calls it when the store
 * moves), so requests find their files built.
 *
 * Bounded: entries are evicted least recently used first when their bytes
 * exceed max_bytes; an evicted file is rebuilt on its next request.
 *
 * Thread-safe: lookups may come from any number of threads (each opens
 * its own read transaction); builds run outside the cache's lock.
 */
#ifndef PT_FILES_FILE_CACHE_H
#define PT_FILES_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/blob.h"
#include "store/store.h"

#define PT_FILE_CACHE_DEFAULT_MAX_BYTES ((size_t)256 << 20)

typedef struct pt_file_cache pt_file_cache_t;

typedef struct pt_file_cache_opts {
	const char *datadir;  /* the node's data directory: TFTP key, data key */
	const char *static_dir; /* TFTP static files; NULL: none */
	size_t max_bytes;     /* 0: PT_FILE_CACHE_DEFAULT_MAX_BYTES */
} pt_file_cache_opts_t;

typedef struct pt_file_cache_stats {
	uint64_t hits;        /* answered from a checked entry */
	uint64_t revalidated; /* store moved, inputs unchanged: kept */
	uint64_t misses;      /* built (first time, evicted or changed) */
	uint64_t evictions;
	uint64_t entries;
	uint64_t bytes;
} pt_file_cache_stats_t;

/* Loads the node's TFTP key and certificate and, when present, the
 * cluster data key (digest passwords) from opts->datadir.  store is
 * borrowed and must outlive the cache.  Errors: those of
 * pt_identity_load, PT_ERR_NOMEM. */
int pt_file_cache_new(pt_store_t *store, const pt_file_cache_opts_t *opts,
		      pt_file_cache_t **out);
void pt_file_cache_destroy(pt_file_cache_t **cache);

/* The file for name.  PT_OK: *out is a new reference (pt_blob_unref).
 * PT_ERR_NOT_FOUND: the phone gets File not found; reason (reason_len
 * bytes) says why, or is empty when the name is not one this cache
 * serves.  Other errors: the file exists but cannot be built now (reason
 * says why). */
int pt_file_cache_get(pt_file_cache_t *cache, const char *name,
		      pt_blob_t **out, char *reason, size_t reason_len);

/* Brings every device's configuration files (plain, signed, encrypted
 * names), the CTL and the ITL up to date, building what changed.  Stops
 * early when *stop becomes true (may be NULL).  *built (may be NULL)
 * counts files built.  Errors of the store. */
int pt_file_cache_refresh(pt_file_cache_t *cache, const volatile bool *stop,
			  size_t *built);

void pt_file_cache_stats(pt_file_cache_t *cache, pt_file_cache_stats_t *out);

#endif
