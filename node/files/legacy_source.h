/* The legacy CAPF 1.0 directories a migration reads, and the archive of
 * their files.
 *
 * A directory holds CAPF.phone (required), CAPF.cfg, CAPF certificates
 * in "*.0" (PEM) and CAPF.cer (DER); anything else is listed as unknown
 * and left alone.  Opening a directory reads and parses the small files
 * (configuration, certificates) at once; CAPF.phone is streamed by the
 * caller.
 *
 * The archive keeps a copy of every known file under
 * <datadir>/legacy-archive/<sha256 hex> (mode 0600 in a 0700 directory:
 * CAPF.phone holds auth strings in clear, as the original does), written
 * to a temporary name, synced, renamed, and read back to check its
 * digest, so the original can always be produced again.
 */
#ifndef PT_FILES_LEGACY_SOURCE_H
#define PT_FILES_LEGACY_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/legacy_certs.h"
#include "lib/legacy_cfg.h"

#define PT_LEGACY_ARCHIVE_DIR "legacy-archive"
#define PT_LEGACY_PHONE_FILE "CAPF.phone"
#define PT_LEGACY_CFG_FILE "CAPF.cfg"
#define PT_LEGACY_CER_FILE "CAPF.cer"
/* Names kept per directory (known and unknown files). */
#define PT_LEGACY_DIR_FILES_MAX 4096u

typedef enum pt_legacy_file_kind {
	PT_LEGACY_FILE_PHONE,
	PT_LEGACY_FILE_CFG,
	PT_LEGACY_FILE_PEM, /* *.0 */
	PT_LEGACY_FILE_DER, /* CAPF.cer */
} pt_legacy_file_kind_t;

typedef struct pt_legacy_file {
	pt_legacy_file_kind_t kind;
	char *name;          /* inside the directory */
	char *path;          /* directory/name */
	uint64_t size;
	uint8_t sha256[32];  /* set once hashed */
	bool hashed;
	pt_legacy_certs_t *certs; /* PEM and DER files: what they hold */
	int certs_err;       /* PT_OK, or why the file could not be read */
} pt_legacy_file_t;

typedef struct pt_legacy_dir {
	char *path;                /* as given */
	uint32_t index;            /* position on the command line */
	pt_legacy_file_t *files;   /* known files, CAPF.phone first, then by
	                            * name */
	size_t nfiles;
	char **unknown;            /* other entries, by name */
	size_t nunknown;
	pt_legacy_cfg_t *cfg;      /* NULL without CAPF.cfg */
	int32_t tz_offset_minutes; /* from CAPF.cfg; 0 (UTC) without */
} pt_legacy_dir_t;

/* Opens a legacy directory: lists it, parses CAPF.cfg and the
 * certificate files and hashes them.  Refusals (PT_ERR_INVALID, reason
 * in why): not a readable directory, no CAPF.phone, a CAPF.cfg whose
 * TimeZoneOffset is unusable (fatal: every time would shift).  Other
 * errors: system ones, PT_ERR_NOMEM. */
int pt_legacy_dir_open(const char *path, uint32_t index,
		       pt_legacy_dir_t **out, char *why, size_t why_len);
void pt_legacy_dir_destroy(pt_legacy_dir_t **d);

/* The directory's CAPF.phone entry (always present once opened). */
pt_legacy_file_t *pt_legacy_dir_phone(pt_legacy_dir_t *d);

/* Copies file into <datadir>/legacy-archive/<sha256 hex> unless a copy
 * with that digest is there already, and checks the copy.  When
 * file->hashed, the bytes read now must have that digest (else
 * PT_ERR_CORRUPT: the file changed during the run); otherwise the digest
 * and size are set from them.  *archive_rel (may be NULL) gets the path
 * relative to datadir (malloc'd).  dry_run: only reads and hashes. */
int pt_legacy_archive_file(const char *datadir, pt_legacy_file_t *file,
			   bool dry_run, char **archive_rel);

/* Lower-case hex of 32 bytes into out (65 bytes). */
void pt_legacy_hex32(const uint8_t in[32], char out[65]);

#endif
