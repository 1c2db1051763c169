/* pt_blob: an immutable, reference-counted byte buffer.
 *
 * One copy of a file is shared by every transfer that sends it: each
 * holder takes a reference and drops it when done, and the last one frees
 * the bytes.  The count is atomic, so references may be taken and dropped
 * on any thread; the bytes never change after creation, so they may be
 * read concurrently without a lock.
 */
#ifndef PT_LIB_BLOB_H
#define PT_LIB_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct pt_blob pt_blob_t;

/* Copies len bytes of data (NULL allowed when len is 0) into a new blob.
 * On success *out holds the only reference.  PT_ERR_NOMEM. */
int pt_blob_new(const void *data, size_t len, pt_blob_t **out);

/* Adopts data, a buffer from malloc() of at least len bytes (NULL allowed
 * when len is 0): on success the blob owns it and frees it with free();
 * on failure (PT_ERR_NOMEM) it stays the caller's. */
int pt_blob_take(void *data, size_t len, pt_blob_t **out);

/* Takes another reference and returns blob (NULL stays NULL). */
pt_blob_t *pt_blob_ref(pt_blob_t *blob);

/* Drops the reference *blob holds and nulls the pointer; the last
 * reference frees the blob.  Accepts NULL and a NULL *blob. */
void pt_blob_unref(pt_blob_t **blob);

/* The bytes (valid while the caller holds a reference; never NULL, even
 * for an empty blob) and their number. */
const uint8_t *pt_blob_data(const pt_blob_t *blob);
size_t pt_blob_len(const pt_blob_t *blob);

/* Number of references right now (for tests and statistics: another
 * thread may change it at once). */
unsigned long pt_blob_refs(const pt_blob_t *blob);

#endif
