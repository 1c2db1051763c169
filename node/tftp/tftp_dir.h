/* The directory provider: plain files under one directory (firmware,
 * ring tones, backgrounds), served by name.
 *
 * A requested name is a path below the root; '\' separates parts like
 * '/' does (some phones ask for "Desktops\320x212x12\List.xml").  It never
 * leaves the root: names are checked by pt_tftp_name_check() first, and
 * the file is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * from the root, so a symbolic link pointing outside is refused while one
 * staying inside is followed.  Where openat2 is missing (Linux before 5.6,
 * or a seccomp filter), the fallback walks the path one part at a time with
 * O_NOFOLLOW and refuses every symbolic link.  Only regular files are
 * served; files above the size cap are refused.
 *
 * A small cache keeps recently served files, keyed by name, size,
 * modification time, device and inode: each request still opens and
 * stats the file (so a removed or replaced file is noticed at once), but a
 * file unchanged since it was last read is not read again.  The cache is
 * bounded by a file count and a byte total, least recently used first out;
 * a blob still being sent stays alive after eviction (reference-counted).
 *
 * Thread-safe: lookups from several threads run concurrently (the cache
 * has its own lock, held only around cache bookkeeping, never while
 * reading a file).
 */
#ifndef PT_TFTP_TFTP_DIR_H
#define PT_TFTP_TFTP_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tftp/tftp_provider.h"

#define PT_TFTP_DIR_DEFAULT_MAX_FILE (256ull << 20)
#define PT_TFTP_DIR_DEFAULT_CACHE_FILES 64u
#define PT_TFTP_DIR_DEFAULT_CACHE_BYTES (128ull << 20)
/* Upper bound on cache_files: the cache is searched linearly. */
#define PT_TFTP_DIR_CACHE_FILES_MAX 1024u

typedef struct pt_tftp_dir pt_tftp_dir_t;

typedef struct pt_tftp_dir_opts {
	const char *root;       /* the directory served (must exist) */
	uint64_t max_file_size; /* larger files refused; 0: the default */
	size_t cache_files;     /* 0: the default; at most _CACHE_FILES_MAX */
	uint64_t cache_bytes;   /* 0: the default */
	/* Test hook: use the fallback resolver even where openat2 works. */
	bool force_fallback;
} pt_tftp_dir_opts_t;

typedef struct pt_tftp_dir_stats {
	uint64_t hits;   /* answered from the cache */
	uint64_t misses; /* read from disk */
	size_t files;    /* in the cache now */
	uint64_t bytes;  /* their total size */
} pt_tftp_dir_stats_t;

/* Opens the root directory (kept open: renaming or replacing the path
 * later does not move what is served).  PT_ESYS(errno) when it cannot be
 * opened (ENOTDIR when it is no directory), PT_ERR_INVALID for bad
 * options, PT_ERR_NOMEM. */
int pt_tftp_dir_new(const pt_tftp_dir_opts_t *opts, pt_tftp_dir_t **out);

/* Frees the cache (blobs still held by transfers live on) and closes the
 * root; accepts NULL and nulls the pointer.  No lookup may be running. */
void pt_tftp_dir_destroy(pt_tftp_dir_t **dir);

/* The provider lookup (pt_tftp_lookup_fn) with ctx a pt_tftp_dir_t:
 * PT_ERR_NOT_FOUND for a missing file or a directory, PT_ERR_DENIED for
 * a name leaving the root, a symbolic link the resolver refuses, a file
 * that is not regular or not readable, or one above the size cap. */
int pt_tftp_dir_lookup(void *ctx, const char *name,
		       const struct sockaddr *client, socklen_t client_len,
		       pt_blob_t **out, char *why, size_t why_len);

/* Fills *out with a provider for dir (named "static files"). */
void pt_tftp_dir_provider(pt_tftp_dir_t *dir, pt_tftp_provider_t *out);

/* Reads the cache counters. */
void pt_tftp_dir_stats(pt_tftp_dir_t *dir, pt_tftp_dir_stats_t *out);

#endif
