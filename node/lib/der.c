#include "lib/der.h"

#include <string.h>

#include "lib/errors.h"

/* Reads from a copy and commits it only on success, so a refused element
 * leaves the caller's reader where it was (the pt_rbuf rule). */
int pt_der_get(pt_rbuf_t *rb, pt_der_t *out)
{
	pt_rbuf_t r = *rb;
	uint8_t tag, l0, b;
	size_t len = 0;
	const uint8_t *body;

	if (pt_rbuf_get_u8(&r, &tag) != PT_OK ||
	    pt_rbuf_get_u8(&r, &l0) != PT_OK || (tag & 0x1f) == 0x1f)
		return PT_ERR_MALFORMED;
	if (l0 < 0x80) {
		len = l0;
	} else {
		unsigned n = l0 & 0x7f;
		/* 0x80 is the indefinite form; more than four length bytes
		 * would only ever describe more than any buffer we hold. */
		if (n == 0 || n > 4)
			return PT_ERR_MALFORMED;
		for (unsigned i = 0; i < n; i++) {
			if (pt_rbuf_get_u8(&r, &b) != PT_OK ||
			    (i == 0 && b == 0))
				return PT_ERR_MALFORMED;
			len = len << 8 | b;
		}
		if (len < 0x80)
			return PT_ERR_MALFORMED;
	}
	if (pt_rbuf_get_view(&r, len, &body) != PT_OK)
		return PT_ERR_MALFORMED;
	out->tag = tag;
	out->whole = rb->data + rb->pos;
	out->whole_len = r.pos - rb->pos;
	pt_rbuf_init(&out->body, body, len);
	*rb = r;
	return PT_OK;
}

int pt_der_expect(pt_rbuf_t *rb, uint8_t tag, pt_der_t *out)
{
	pt_rbuf_t r = *rb;
	pt_der_t d;

	if (pt_der_get(&r, &d) != PT_OK || d.tag != tag)
		return PT_ERR_MALFORMED;
	*out = d;
	*rb = r;
	return PT_OK;
}

bool pt_der_peek_is(const pt_rbuf_t *rb, uint8_t tag)
{
	uint8_t t;
	return pt_rbuf_peek_u8(rb, &t) == PT_OK && t == tag;
}

bool pt_der_get_exact(pt_rbuf_t *rb, const uint8_t *want, size_t n)
{
	if (pt_rbuf_remaining(rb) < n ||
	    memcmp(rb->data + rb->pos, want, n) != 0)
		return false;
	return pt_rbuf_skip(rb, n) == PT_OK;
}

int pt_der_get_uint(pt_rbuf_t *rb, const uint8_t **v, size_t *n)
{
	pt_rbuf_t r = *rb;
	pt_der_t d;
	const uint8_t *c;
	size_t len;

	if (pt_der_expect(&r, PT_DER_INTEGER, &d) != PT_OK ||
	    (len = pt_rbuf_remaining(&d.body)) == 0 ||
	    pt_rbuf_get_view(&d.body, len, &c) != PT_OK || (c[0] & 0x80) ||
	    (len > 1 && c[0] == 0 && !(c[1] & 0x80)))
		return PT_ERR_MALFORMED;
	if (len > 1 && c[0] == 0) {
		c++;
		len--;
	}
	*v = c;
	*n = len;
	*rb = r;
	return PT_OK;
}

int pt_der_get_bn(pt_rbuf_t *rb, BIGNUM **out)
{
	pt_rbuf_t r = *rb;
	const uint8_t *v;
	size_t n;

	*out = NULL;
	if (pt_der_get_uint(&r, &v, &n) != PT_OK)
		return PT_ERR_MALFORMED;
	/* n is bounded by the reader, but BN_bin2bn takes an int. */
	if (n > (size_t)(1u << 30))
		return PT_ERR_MALFORMED;
	if (!(*out = BN_bin2bn(v, (int)n, NULL)))
		return PT_ERR_NOMEM;
	*rb = r;
	return PT_OK;
}

int pt_der_get_oid(pt_rbuf_t *rb, const uint8_t **v, size_t *n)
{
	pt_rbuf_t r = *rb;
	pt_der_t d;

	if (pt_der_expect(&r, PT_DER_OID, &d) != PT_OK ||
	    pt_rbuf_remaining(&d.body) == 0)
		return PT_ERR_MALFORMED;
	*n = pt_rbuf_remaining(&d.body);
	*v = d.body.data;
	*rb = r;
	return PT_OK;
}

int pt_der_get_bits(pt_rbuf_t *rb, const uint8_t **v, size_t *n)
{
	pt_rbuf_t r = *rb;
	pt_der_t d;
	uint8_t unused;

	if (pt_der_expect(&r, PT_DER_BIT_STRING, &d) != PT_OK ||
	    pt_rbuf_get_u8(&d.body, &unused) != PT_OK || unused != 0)
		return PT_ERR_MALFORMED;
	*n = pt_rbuf_remaining(&d.body);
	*v = d.body.data + d.body.pos;
	*rb = r;
	return PT_OK;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (years 1900-9999 here, so the arithmetic stays small and positive
 * inside the era). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned two(const uint8_t *t)
{
	return (unsigned)(t[0] - '0') * 10 + (unsigned)(t[1] - '0');
}

int pt_der_get_time(pt_rbuf_t *rb, int64_t *out)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	pt_rbuf_t r = *rb;
	pt_der_t d;
	const uint8_t *t;
	size_t n;
	unsigned y;

	if (pt_der_get(&r, &d) != PT_OK ||
	    (d.tag != PT_DER_UTC_TIME && d.tag != PT_DER_GENERALIZED_TIME))
		return PT_ERR_MALFORMED;
	n = pt_rbuf_remaining(&d.body);
	t = d.body.data;
	if (n != (d.tag == PT_DER_UTC_TIME ? 13u : 15u) || t[n - 1] != 'Z')
		return PT_ERR_MALFORMED;
	for (size_t i = 0; i + 1 < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return PT_ERR_MALFORMED;
	if (d.tag == PT_DER_UTC_TIME) {
		y = two(t);
		y += y >= 50 ? 1900 : 2000;
		t += 2;
	} else {
		y = two(t) * 100 + two(t + 2);
		t += 4;
	}
	unsigned mo = two(t), day = two(t + 2), h = two(t + 4),
		 mi = two(t + 6), s = two(t + 8);
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1900 || mo < 1 || mo > 12 || day < 1 ||
	    day > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
	    s > 59)
		return PT_ERR_MALFORMED;
	*out = days_from_civil(y, mo, day) * 86400 + (int64_t)h * 3600 +
	       (int64_t)mi * 60 + s;
	*rb = r;
	return PT_OK;
}
