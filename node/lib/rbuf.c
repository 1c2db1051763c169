#include "lib/rbuf.h"

#include <string.h>

#include "lib/errors.h"

void pt_rbuf_init(pt_rbuf_t *rb, const void *data, size_t len)
{
	rb->data = data;
	rb->len = data ? len : 0;
	rb->pos = 0;
}

static int need(const pt_rbuf_t *rb, size_t n)
{
	return pt_rbuf_remaining(rb) < n ? PT_ERR_INCOMPLETE : PT_OK;
}

int pt_rbuf_peek_u8(const pt_rbuf_t *rb, uint8_t *out)
{
	int r = need(rb, 1);
	if (r == PT_OK)
		*out = rb->data[rb->pos];
	return r;
}

int pt_rbuf_peek_u16(const pt_rbuf_t *rb, uint16_t *out)
{
	int r = need(rb, 2);
	if (r == PT_OK) {
		const uint8_t *p = rb->data + rb->pos;
		*out = (uint16_t)((p[0] << 8) | p[1]);
	}
	return r;
}

int pt_rbuf_get_u8(pt_rbuf_t *rb, uint8_t *out)
{
	int r = pt_rbuf_peek_u8(rb, out);
	if (r == PT_OK)
		rb->pos += 1;
	return r;
}

int pt_rbuf_get_u16(pt_rbuf_t *rb, uint16_t *out)
{
	int r = pt_rbuf_peek_u16(rb, out);
	if (r == PT_OK)
		rb->pos += 2;
	return r;
}

int pt_rbuf_get_u32(pt_rbuf_t *rb, uint32_t *out)
{
	int r = need(rb, 4);
	if (r != PT_OK)
		return r;
	const uint8_t *p = rb->data + rb->pos;
	*out = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
	rb->pos += 4;
	return PT_OK;
}

int pt_rbuf_get_u64(pt_rbuf_t *rb, uint64_t *out)
{
	int r = need(rb, 8);
	if (r != PT_OK)
		return r;
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = (v << 8) | rb->data[rb->pos + i];
	*out = v;
	rb->pos += 8;
	return PT_OK;
}

int pt_rbuf_get_view(pt_rbuf_t *rb, size_t n, const uint8_t **out)
{
	int r = need(rb, n);
	if (r != PT_OK)
		return r;
	*out = rb->data + rb->pos;
	rb->pos += n;
	return PT_OK;
}

int pt_rbuf_get_bytes(pt_rbuf_t *rb, void *out, size_t n)
{
	const uint8_t *p;
	int r = pt_rbuf_get_view(rb, n, &p);
	if (r == PT_OK && n > 0)
		memcpy(out, p, n);
	return r;
}

int pt_rbuf_skip(pt_rbuf_t *rb, size_t n)
{
	const uint8_t *p;
	return pt_rbuf_get_view(rb, n, &p);
}

int pt_rbuf_get_child(pt_rbuf_t *rb, size_t n, pt_rbuf_t *child)
{
	const uint8_t *p;
	int r = pt_rbuf_get_view(rb, n, &p);
	if (r == PT_OK)
		pt_rbuf_init(child, p, n);
	return r;
}

int pt_rbuf_get_lv(pt_rbuf_t *rb, unsigned width, size_t max,
		   const uint8_t **out, size_t *out_len)
{
	pt_rbuf_t probe = *rb;
	size_t n;
	int r;

	switch (width) {
	case 1: {
		uint8_t v;
		r = pt_rbuf_get_u8(&probe, &v);
		n = v;
		break;
	}
	case 2: {
		uint16_t v;
		r = pt_rbuf_get_u16(&probe, &v);
		n = v;
		break;
	}
	case 4: {
		uint32_t v;
		r = pt_rbuf_get_u32(&probe, &v);
		n = v;
		break;
	}
	default:
		return PT_ERR_INVALID;
	}
	if (r != PT_OK)
		return r;
	if (n > max)
		return PT_ERR_TOO_LARGE;
	r = pt_rbuf_get_view(&probe, n, out);
	if (r != PT_OK)
		return r;
	*out_len = n;
	*rb = probe;
	return PT_OK;
}

int pt_rbuf_get_line(pt_rbuf_t *rb, size_t max, const uint8_t **line,
		     size_t *line_len)
{
	size_t avail = pt_rbuf_remaining(rb);
	if (avail == 0)
		return PT_ERR_NOT_FOUND;
	const uint8_t *start = rb->data + rb->pos;
	const uint8_t *nl = memchr(start, '\n', avail);
	size_t consumed = nl ? (size_t)(nl - start) + 1 : avail;
	size_t n = nl ? (size_t)(nl - start) : avail;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	if (n > max)
		return PT_ERR_TOO_LARGE;
	if (memchr(start, '\0', n))
		return PT_ERR_MALFORMED;
	*line = start;
	*line_len = n;
	rb->pos += consumed;
	return PT_OK;
}

int pt_rbuf_get_cstr(pt_rbuf_t *rb, size_t max, const char **str,
		     size_t *str_len)
{
	size_t avail = pt_rbuf_remaining(rb);
	const uint8_t *start = rb->data + rb->pos;
	const uint8_t *nul = memchr(start, '\0', avail);
	if (!nul)
		return avail > max ? PT_ERR_TOO_LARGE : PT_ERR_INCOMPLETE;
	size_t n = (size_t)(nul - start);
	if (n > max)
		return PT_ERR_TOO_LARGE;
	*str = (const char *)start;
	*str_len = n;
	rb->pos += n + 1;
	return PT_OK;
}

int pt_rbuf_expect_end(const pt_rbuf_t *rb)
{
	return pt_rbuf_remaining(rb) == 0 ? PT_OK : PT_ERR_TRAILING;
}
