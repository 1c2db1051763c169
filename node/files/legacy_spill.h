/* Sorted spill runs for the legacy migration: an external sort that keeps
 * memory bounded whatever the input size.
 *
 * Records (key, order, payload) are collected in a buffer of run_bytes;
 * a full buffer is sorted by (key, order) and written as one run file in
 * dir.  After pt_legacy_spill_finish() the runs are merged and handed out
 * one group at a time: every record of one key, in ascending order.  Keys
 * arrive in ascending byte order.  Memory: the run buffer while writing,
 * one read buffer per run and one group while merging.
 *
 * The run files are private to the spill (mode 0600) and removed by
 * pt_legacy_spill_destroy(); dir itself belongs to the caller.
 */
#ifndef PT_FILES_LEGACY_SPILL_H
#define PT_FILES_LEGACY_SPILL_H

#include <stddef.h>
#include <stdint.h>

/* Run buffer when 0 is given, and the largest record accepted. */
#define PT_LEGACY_SPILL_RUN_DEFAULT (32u * 1024u * 1024u)
#define PT_LEGACY_SPILL_RECORD_MAX (512u * 1024u)

typedef struct pt_legacy_spill pt_legacy_spill_t;

/* One record of a group; pointers valid until the next group is asked
 * for or the spill is destroyed. */
typedef struct pt_legacy_spill_item {
	const char *key; /* NUL-terminated */
	uint64_t order;
	const uint8_t *payload;
	size_t len;
} pt_legacy_spill_item_t;

/* A spill writing its runs into dir (borrowed, must exist).  run_bytes 0
 * picks the default; smaller than twice the largest record is raised. */
int pt_legacy_spill_new(const char *dir, size_t run_bytes,
			pt_legacy_spill_t **out);
/* Removes the run files and frees; NULL accepted, *s nulled. */
void pt_legacy_spill_destroy(pt_legacy_spill_t **s);

/* Adds a record (key NUL-terminated, at most 255 bytes; payload copied).
 * PT_ERR_TOO_LARGE beyond PT_LEGACY_SPILL_RECORD_MAX, PT_ERR_INVALID
 * after finish, system errors of writing a run. */
int pt_legacy_spill_put(pt_legacy_spill_t *s, const char *key,
			uint64_t order, const void *payload, size_t len);

/* Writes the last run and prepares the merge. */
int pt_legacy_spill_finish(pt_legacy_spill_t *s);

/* The next group: *items (borrowed) holds *n >= 1 records of one key in
 * ascending order.  PT_ERR_NOT_FOUND once every group was handed out;
 * PT_ERR_CORRUPT when a run file does not read back. */
int pt_legacy_spill_next(pt_legacy_spill_t *s,
			 const pt_legacy_spill_item_t **items, size_t *n);

/* Records put so far, and run files written. */
uint64_t pt_legacy_spill_count(const pt_legacy_spill_t *s);
size_t pt_legacy_spill_runs(const pt_legacy_spill_t *s);

#endif
