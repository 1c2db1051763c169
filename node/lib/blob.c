#include "lib/blob.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"

struct pt_blob {
	atomic_ulong refs;
	size_t len;
	uint8_t *data;     /* inline[] or an adopted buffer */
	uint8_t inline_[]; /* the copy made by pt_blob_new */
};

int pt_blob_new(const void *data, size_t len, pt_blob_t **out)
{
	*out = NULL;
	if (len > SIZE_MAX - sizeof(pt_blob_t) - 1)
		return PT_ERR_NOMEM;
	pt_blob_t *b = malloc(sizeof *b + len + 1);
	if (!b)
		return PT_ERR_NOMEM;
	atomic_init(&b->refs, 1);
	b->len = len;
	b->data = b->inline_;
	if (len)
		memcpy(b->inline_, data, len);
	b->inline_[len] = 0;
	*out = b;
	return PT_OK;
}

int pt_blob_take(void *data, size_t len, pt_blob_t **out)
{
	*out = NULL;
	pt_blob_t *b = malloc(sizeof *b + 1);
	if (!b)
		return PT_ERR_NOMEM;
	atomic_init(&b->refs, 1);
	b->len = len;
	b->inline_[0] = 0;
	/* An empty blob points at its own byte: data is never NULL. */
	b->data = data ? data : b->inline_;
	*out = b;
	return PT_OK;
}

pt_blob_t *pt_blob_ref(pt_blob_t *blob)
{
	/* Relaxed is enough to take a reference: the caller already holds
	 * one, so the blob cannot go away meanwhile. */
	if (blob)
		atomic_fetch_add_explicit(&blob->refs, 1, memory_order_relaxed);
	return blob;
}

void pt_blob_unref(pt_blob_t **blobp)
{
	if (!blobp || !*blobp)
		return;
	pt_blob_t *b = *blobp;
	*blobp = NULL;
	/* Release orders this holder's reads before the free; the acquire
	 * fence makes the last holder see every other holder's release. */
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_release) != 1)
		return;
	atomic_thread_fence(memory_order_acquire);
	if (b->data != b->inline_)
		free(b->data);
	free(b);
}

const uint8_t *pt_blob_data(const pt_blob_t *blob)
{
	return blob->data;
}

size_t pt_blob_len(const pt_blob_t *blob)
{
	return blob->len;
}

unsigned long pt_blob_refs(const pt_blob_t *blob)
{
	return atomic_load_explicit(&blob->refs, memory_order_relaxed);
}
