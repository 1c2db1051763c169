/* pt_rbuf: the one bounded reader for untrusted bytes.
 *
 * A reader is a view over caller-owned memory; it never allocates and never
 * reads past its end.  Every get_* either consumes exactly what it returns
 * or fails and consumes nothing, so a caller may retry a partial message
 * once more bytes arrive.  Lengths read from the input are compared with
 * the bytes remaining (never by pointer arithmetic that could overflow).
 *
 * Errors: PT_ERR_INCOMPLETE when the input ends too early (a stream caller
 * waits for more), PT_ERR_TOO_LARGE when a declared length exceeds the
 * caller's cap, PT_ERR_MALFORMED for bytes that cannot be right,
 * PT_ERR_TRAILING from pt_rbuf_expect_end().
 */
#ifndef PT_LIB_RBUF_H
#define PT_LIB_RBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct pt_rbuf {
	const uint8_t *data; /* borrowed; must outlive the reader */
	size_t len;
	size_t pos;
} pt_rbuf_t;

void pt_rbuf_init(pt_rbuf_t *rb, const void *data, size_t len);

static inline size_t pt_rbuf_remaining(const pt_rbuf_t *rb)
{
	return rb->len - rb->pos;
}

static inline size_t pt_rbuf_offset(const pt_rbuf_t *rb)
{
	return rb->pos;
}

/* Fixed-width big-endian integers (network order). */
int pt_rbuf_get_u8(pt_rbuf_t *rb, uint8_t *out);
int pt_rbuf_get_u16(pt_rbuf_t *rb, uint16_t *out);
int pt_rbuf_get_u32(pt_rbuf_t *rb, uint32_t *out);
int pt_rbuf_get_u64(pt_rbuf_t *rb, uint64_t *out);
int pt_rbuf_peek_u8(const pt_rbuf_t *rb, uint8_t *out);
int pt_rbuf_peek_u16(const pt_rbuf_t *rb, uint16_t *out);

/* Copies n bytes into out. */
int pt_rbuf_get_bytes(pt_rbuf_t *rb, void *out, size_t n);
/* Points *out at the next n bytes inside the input (no copy) and consumes
 * them.  *out stays valid as long as the input memory does. */
int pt_rbuf_get_view(pt_rbuf_t *rb, size_t n, const uint8_t **out);
int pt_rbuf_skip(pt_rbuf_t *rb, size_t n);

/* Carves the next n bytes into a child reader and consumes them from rb:
 * the way to parse a length-prefixed sub-record without over-reading. */
int pt_rbuf_get_child(pt_rbuf_t *rb, size_t n, pt_rbuf_t *child);

/* Reads a big-endian length of width 1, 2 or 4 bytes, refuses one larger
 * than max (PT_ERR_TOO_LARGE), then hands out that many bytes as a view.
 * Nothing is consumed unless the whole item is present. */
int pt_rbuf_get_lv(pt_rbuf_t *rb, unsigned width, size_t max,
		   const uint8_t **out, size_t *out_len);

/* Reads the next line (up to and excluding LF; a CR before LF is dropped).
 * A last line with no terminator is returned whole.  Lines longer than max
 * are refused with PT_ERR_TOO_LARGE; a NUL byte with PT_ERR_MALFORMED.
 * Returns PT_ERR_NOT_FOUND at the end of input. */
int pt_rbuf_get_line(pt_rbuf_t *rb, size_t max, const uint8_t **line,
		     size_t *line_len);

/* Reads a NUL-terminated string (TFTP fields): *str points at its first
 * byte inside the input, *str_len excludes the NUL, which is consumed.
 * PT_ERR_INCOMPLETE when no NUL follows, PT_ERR_TOO_LARGE when the text
 * is longer than max bytes. */
int pt_rbuf_get_cstr(pt_rbuf_t *rb, size_t max, const char **str,
		     size_t *str_len);

/* PT_ERR_TRAILING unless every byte has been consumed. */
int pt_rbuf_expect_end(const pt_rbuf_t *rb);

#endif
