/* `migrate legacy`: legacy CAPF 1.0 directories into the store
 * (../shared/spec/legacy-capf.md).
 *
 * A run, with memory independent of the input's size:
 * 1. opens every directory (refusals here: nothing is written yet),
 *    collects the CAPF certificates and plans the settings
 *    (legacy_settings.h);
 * 2. streams each CAPF.phone through the parser, in the order given
 *    (publisher first), checks each LSC's issuer, maps each valid record
 *    to a candidate device (legacy_device.h) and spills it to sorted runs
 *    under <datadir>/legacy-spill.XXXXXX (legacy_spill.h); quarantined
 *    records go straight to the report;
 * 3. archives every source file (legacy_source.h), then writes the trust
 *    entries, the parameters and the archive's records in one
 *    transaction;
 * 4. merges the runs so that the candidates of one device arrive
 *    together, resolves and merges each device with the store's, and
 *    writes batch devices per transaction (one changelog entry each, so
 *    each batch replicates whole);
 * 5. closes the reports and removes the spill.
 *
 * The run's time stamp (created, updated, migrated, recorded, added,
 * archived) is not the wall clock but the newest LastUpdated of the
 * input: records are a function of the input alone, so a second run
 * writes nothing (the store's put skips identical bytes, the merge skips
 * equal records) and a run killed at any moment, run again, ends with the
 * digest of an uninterrupted run.
 *
 * A dry run takes the same path with read transactions and skips every
 * put, the archive copies and the commits; its report says what a real
 * run would do.  One run at a time per data directory (a lock file);
 * leftovers of a killed run's spill are removed by the next run.
 */
#ifndef PT_FILES_LEGACY_MIGRATE_H
#define PT_FILES_LEGACY_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/seal.h"
#include "store/store.h"

#define PT_LEGACY_BATCH_DEFAULT 1000u
#define PT_LEGACY_BATCH_MAX 100000u
#define PT_LEGACY_DIRS_MAX 64u

typedef enum pt_legacy_phase {
	PT_LEGACY_PHASE_READ = 0,    /* bytes of CAPF.phone read */
	PT_LEGACY_PHASE_ARCHIVE = 1, /* files archived */
	PT_LEGACY_PHASE_WRITE = 2,   /* candidates merged and applied */
	PT_LEGACY_PHASE_DONE = 3,
} pt_legacy_phase_t;

typedef struct pt_legacy_progress {
	pt_legacy_phase_t phase;
	uint64_t done, total;
} pt_legacy_progress_t;

typedef void (*pt_legacy_progress_fn)(void *arg,
				      const pt_legacy_progress_t *p);

typedef struct pt_legacy_opts {
	const char *const *dirs;   /* legacy directories, publisher first */
	size_t ndirs;
	bool dry_run;
	const char *report_prefix; /* NULL: no report files */
	size_t batch;              /* devices per transaction; 0: default */
	size_t run_bytes;          /* spill run buffer; 0: default */
	const pt_data_key_t *key;  /* the cluster data key (borrowed) */
	pt_legacy_progress_fn progress; /* may be NULL */
	void *progress_arg;
} pt_legacy_opts_t;

typedef struct pt_legacy_counts {
	uint64_t read;          /* sections and stray key lines read */
	uint64_t candidates;    /* valid records */
	uint64_t devices;       /* distinct devices among them */
	uint64_t imported, updated, unchanged, quarantined, flagged;
	uint64_t needs_reissue; /* winners whose LSC no CAPF cert issued */
	uint64_t with_history;  /* winners with losers' LSCs as history */
	uint64_t with_extras;   /* winners with extra keys */
} pt_legacy_counts_t;

typedef struct pt_legacy_result {
	pt_legacy_counts_t counts;
	size_t capf_certs;      /* distinct CAPF certificates */
	size_t trust_changed;   /* trust entries added or updated */
	size_t params_changed;  /* cluster parameters set */
	size_t files;           /* source files archived (or to be) */
	size_t unknown_files;
	uint64_t transactions;  /* committed with changes */
	uint64_t bytes;         /* of CAPF.phone read */
	size_t spill_runs;
	int64_t stamp;
	char why[512];          /* refusal or failure, for humans */
} pt_legacy_result_t;

/* Runs a migration into store (opened read-write).  PT_OK when done,
 * quarantined records included.  PT_ERR_INVALID / PT_ERR_IN_USE: refused
 * before anything was written (res->why says why).  Other errors: a
 * failure during the run (res->why); batches committed before it stay
 * and a rerun completes the migration. */
int pt_legacy_migrate(pt_store_t *store, const pt_legacy_opts_t *opts,
		      pt_legacy_result_t *res);

#endif
