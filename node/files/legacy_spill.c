#include "files/legacy_spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/errors.h"

#define KEY_MAX 255u
#define READ_BUF (256u * 1024u)
/* Per record in the run buffer: key length, NUL, order, payload length. */
#define OVERHEAD (1u + 1u + 8u + 4u)

struct reader {
	FILE *f;
	char *vbuf;
	bool have;
	char key[KEY_MAX + 1];
	uint64_t order;
	uint8_t *payload;
	size_t len, cap;
};

struct pt_legacy_spill {
	char *dir;
	size_t run_bytes;
	/* writing */
	uint8_t *arena;
	size_t used;
	size_t *index;
	size_t nindex, index_cap;
	/* runs */
	size_t nruns;
	uint64_t count;
	bool finished;
	/* merging */
	struct reader *readers;
	pt_legacy_spill_item_t *items;
	size_t items_cap;
	uint8_t *group;
	size_t group_len, group_cap;
};

static char *run_path(const pt_legacy_spill_t *s, size_t i)
{
	char *p = NULL;
	if (asprintf(&p, "%s/run-%06zu", s->dir, i) < 0)
		return NULL;
	return p;
}

int pt_legacy_spill_new(const char *dir, size_t run_bytes,
			pt_legacy_spill_t **out)
{
	pt_legacy_spill_t *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s)
		return PT_ERR_NOMEM;
	if (!run_bytes)
		run_bytes = PT_LEGACY_SPILL_RUN_DEFAULT;
	/* One record of the largest size must always fit an empty buffer. */
	if (run_bytes < 2 * (PT_LEGACY_SPILL_RECORD_MAX + KEY_MAX + OVERHEAD))
		run_bytes = 2 * (PT_LEGACY_SPILL_RECORD_MAX + KEY_MAX + OVERHEAD);
	s->run_bytes = run_bytes;
	s->dir = strdup(dir);
	s->arena = malloc(run_bytes);
	if (!s->dir || !s->arena) {
		pt_legacy_spill_destroy(&s);
		return PT_ERR_NOMEM;
	}
	*out = s;
	return PT_OK;
}

static void close_readers(pt_legacy_spill_t *s)
{
	if (!s->readers)
		return;
	for (size_t i = 0; i < s->nruns; i++) {
		if (s->readers[i].f)
			fclose(s->readers[i].f);
		free(s->readers[i].vbuf);
		free(s->readers[i].payload);
	}
	free(s->readers);
	s->readers = NULL;
}

void pt_legacy_spill_destroy(pt_legacy_spill_t **sp)
{
	if (!sp || !*sp)
		return;
	pt_legacy_spill_t *s = *sp;
	close_readers(s);
	for (size_t i = 0; s->dir && i < s->nruns; i++) {
		char *p = run_path(s, i);
		if (p)
			unlink(p);
		free(p);
	}
	free(s->dir);
	free(s->arena);
	free(s->index);
	free(s->items);
	free(s->group);
	free(s);
	*sp = NULL;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Records in the arena: key length, key, NUL, order, payload length,
 * payload; the same bytes as in a run file. */
static int record_cmp(const void *a, const void *b, void *arg)
{
	const uint8_t *base = arg;
	const uint8_t *ra = base + *(const size_t *)a;
	const uint8_t *rb = base + *(const size_t *)b;
	int c = strcmp((const char *)ra + 1, (const char *)rb + 1);
	if (c)
		return c;
	uint64_t oa = get_u64(ra + 2 + ra[0]), ob = get_u64(rb + 2 + rb[0]);
	return oa < ob ? -1 : oa > ob;
}

static size_t record_size(const uint8_t *r)
{
	return OVERHEAD + r[0] + get_u32(r + 2 + r[0] + 8);
}

static int write_run(pt_legacy_spill_t *s)
{
	int r = PT_OK;
	if (!s->nindex)
		return PT_OK;
	qsort_r(s->index, s->nindex, sizeof *s->index, record_cmp, s->arena);
	char *path = run_path(s, s->nruns);
	if (!path)
		return PT_ERR_NOMEM;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (!f) {
		r = PT_ESYS(errno);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	/* Counted before writing, so destroy removes a half-written run. */
	s->nruns++;
	for (size_t i = 0; i < s->nindex; i++) {
		const uint8_t *rec = s->arena + s->index[i];
		if (fwrite(rec, 1, record_size(rec), f) != record_size(rec)) {
			r = PT_ESYS(errno ? errno : EIO);
			break;
		}
	}
	if (fclose(f) != 0 && r == PT_OK)
		r = PT_ESYS(errno);
	s->used = 0;
	s->nindex = 0;
out:
	free(path);
	return r;
}

int pt_legacy_spill_put(pt_legacy_spill_t *s, const char *key,
			uint64_t order, const void *payload, size_t len)
{
	size_t klen = strlen(key);
	if (s->finished)
		return PT_ERR_INVALID;
	if (klen == 0 || klen > KEY_MAX)
		return PT_ERR_INVALID;
	if (len > PT_LEGACY_SPILL_RECORD_MAX)
		return PT_ERR_TOO_LARGE;
	size_t need = OVERHEAD + klen + len;
	if (s->used + need > s->run_bytes) {
		int r = write_run(s);
		if (r != PT_OK)
			return r;
	}
	if (s->nindex == s->index_cap) {
		size_t cap = s->index_cap ? s->index_cap * 2 : 4096;
		size_t *grown = realloc(s->index, cap * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		s->index = grown;
		s->index_cap = cap;
	}
	uint8_t *p = s->arena + s->used;
	p[0] = (uint8_t)klen;
	memcpy(p + 1, key, klen + 1);
	put_u64(p + 2 + klen, order);
	put_u32(p + 2 + klen + 8, (uint32_t)len);
	if (len)
		memcpy(p + OVERHEAD + klen, payload, len);
	s->index[s->nindex++] = s->used;
	s->used += need;
	s->count++;
	return PT_OK;
}

/* Loads the reader's next record; have = false at the end of its run. */
static int reader_next(struct reader *rd)
{
	uint8_t head[1 + KEY_MAX + 1 + 12];
	int c = fgetc(rd->f);
	rd->have = false;
	if (c == EOF)
		return ferror(rd->f) ? PT_ERR_CORRUPT : PT_OK;
	head[0] = (uint8_t)c;
	if (head[0] == 0 ||
	    fread(head + 1, 1, head[0] + 1u + 12u, rd->f) != head[0] + 13u ||
	    head[1 + head[0]] != 0)
		return PT_ERR_CORRUPT;
	memcpy(rd->key, head + 1, head[0] + 1u);
	rd->order = get_u64(head + 2 + head[0]);
	size_t len = get_u32(head + 2 + head[0] + 8);
	if (len > PT_LEGACY_SPILL_RECORD_MAX)
		return PT_ERR_CORRUPT;
	if (len > rd->cap) {
		uint8_t *grown = realloc(rd->payload, len);
		if (!grown)
			return PT_ERR_NOMEM;
		rd->payload = grown;
		rd->cap = len;
	}
	if (len && fread(rd->payload, 1, len, rd->f) != len)
		return PT_ERR_CORRUPT;
	rd->len = len;
	rd->have = true;
	return PT_OK;
}

int pt_legacy_spill_finish(pt_legacy_spill_t *s)
{
	if (s->finished)
		return PT_ERR_INVALID;
	int r = write_run(s);
	if (r != PT_OK)
		return r;
	s->finished = true;
	free(s->arena);
	s->arena = NULL;
	free(s->index);
	s->index = NULL;
	if (!s->nruns)
		return PT_OK;
	s->readers = calloc(s->nruns, sizeof *s->readers);
	if (!s->readers)
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < s->nruns; i++) {
		struct reader *rd = &s->readers[i];
		char *path = run_path(s, i);
		if (!path)
			return PT_ERR_NOMEM;
		rd->f = fopen(path, "rbe");
		free(path);
		if (!rd->f)
			return PT_ESYS(errno);
		/* Many runs at once: a large buffer each keeps reads
		 * sequential without holding the run. */
		if ((rd->vbuf = malloc(READ_BUF)))
			setvbuf(rd->f, rd->vbuf, _IOFBF, READ_BUF);
		if ((r = reader_next(rd)) != PT_OK)
			return r;
	}
	return PT_OK;
}

static int reader_cmp(const struct reader *a, const struct reader *b)
{
	int c = strcmp(a->key, b->key);
	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int group_add(pt_legacy_spill_t *s, const struct reader *rd,
		     size_t n)
{
	size_t klen = strlen(rd->key);
	size_t need = s->group_len + klen + 1 + rd->len;
	if (n == s->items_cap) {
		size_t cap = s->items_cap ? s->items_cap * 2 : 8;
		pt_legacy_spill_item_t *grown =
			realloc(s->items, cap * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		s->items = grown;
		s->items_cap = cap;
	}
	if (need > s->group_cap) {
		size_t cap = s->group_cap ? s->group_cap : 65536;
		while (cap < need)
			cap *= 2;
		uint8_t *grown = realloc(s->group, cap);
		if (!grown)
			return PT_ERR_NOMEM;
		s->group = grown;
		s->group_cap = cap;
	}
	/* Offsets now, pointers once the group is complete (the buffer may
	 * still move). */
	s->items[n].key = (const char *)(uintptr_t)s->group_len;
	memcpy(s->group + s->group_len, rd->key, klen + 1);
	s->group_len += klen + 1;
	s->items[n].payload = (const uint8_t *)(uintptr_t)s->group_len;
	if (rd->len)
		memcpy(s->group + s->group_len, rd->payload, rd->len);
	s->group_len += rd->len;
	s->items[n].order = rd->order;
	s->items[n].len = rd->len;
	return PT_OK;
}

int pt_legacy_spill_next(pt_legacy_spill_t *s,
			 const pt_legacy_spill_item_t **items, size_t *n)
{
	*items = NULL;
	*n = 0;
	if (!s->finished)
		return PT_ERR_INVALID;
	s->group_len = 0;
	size_t count = 0;
	for (;;) {
		/* The runs are few (input size / run buffer): a scan for the
		 * smallest head is cheaper than keeping a heap. */
		struct reader *min = NULL;
		for (size_t i = 0; i < s->nruns; i++) {
			struct reader *rd = &s->readers[i];
			if (rd->have && (!min || reader_cmp(rd, min) < 0))
				min = rd;
		}
		if (!min)
			break;
		if (count) {
			const char *first =
				(const char *)s->group +
				(uintptr_t)s->items[0].key;
			if (strcmp(first, min->key) != 0)
				break;
		}
		int r = group_add(s, min, count);
		if (r != PT_OK)
			return r;
		count++;
		if ((r = reader_next(min)) != PT_OK)
			return r;
	}
	if (!count)
		return PT_ERR_NOT_FOUND;
	for (size_t i = 0; i < count; i++) {
		s->items[i].key = (const char *)s->group +
				  (uintptr_t)s->items[i].key;
		s->items[i].payload = s->group +
				      (uintptr_t)s->items[i].payload;
	}
	*items = s->items;
	*n = count;
	return PT_OK;
}

uint64_t pt_legacy_spill_count(const pt_legacy_spill_t *s)
{
	return s->count;
}

size_t pt_legacy_spill_runs(const pt_legacy_spill_t *s)
{
	return s->nruns;
}
