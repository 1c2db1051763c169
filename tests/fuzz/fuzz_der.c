/* The DER reader sees untrusted certificates and phone keys: for any bytes
 * it must stay inside its input, consume nothing when it refuses, and what
 * it accepts must be canonical: an element's header is the one DER
 * encoding of its tag and length, an integer's magnitude is minimal, and
 * a time reads back from its UTC seconds as the same text. */
#include <openssl/bn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/der.h"
#include "lib/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical header of tag and len into h; its length. */
static size_t header_of(uint8_t tag, size_t len, uint8_t h[6])
{
	size_t n = 0;
	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (uint8_t)len;
		return n;
	}
	unsigned bytes = 0;
	for (size_t v = len; v; v >>= 8)
		bytes++;
	h[n++] = (uint8_t)(0x80 | bytes);
	while (bytes-- > 0)
		h[n++] = (uint8_t)(len >> (8 * bytes));
	return n;
}

static void check_element(const pt_rbuf_t *from, size_t at, const pt_der_t *d)
{
	uint8_t h[6];
	size_t body = pt_rbuf_remaining(&d->body);
	size_t hn = header_of(d->tag, body, h);
	if (d->whole != from->data + at || (d->tag & 0x1f) == 0x1f ||
	    d->whole_len != hn + body || memcmp(d->whole, h, hn) != 0 ||
	    d->body.data != d->whole + hn || d->body.pos != 0 ||
	    d->whole + d->whole_len > from->data + from->len)
		abort();
}

static void check_time(const pt_der_t *d, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char text[32];
	size_t n = pt_rbuf_remaining(&d->body);
	if ((int64_t)tt != t || !gmtime_r(&tt, &tm))
		abort();
	snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	const char *want = d->tag == PT_DER_UTC_TIME ? text + 2 : text;
	if (strlen(want) != n || memcmp(want, d->body.data, n) != 0)
		abort();
	if (d->tag == PT_DER_UTC_TIME &&
	    (tm.tm_year + 1900 < 1950 || tm.tm_year + 1900 > 2049))
		abort();
}

static void check_values(const pt_rbuf_t *rb)
{
	pt_rbuf_t r = *rb;
	pt_der_t d;
	const uint8_t *v;
	size_t n;
	int64_t t;
	BIGNUM *bn = NULL;

	if (pt_der_get(&r, &d) != PT_OK)
		return;
	r = *rb;
	if (pt_der_get_uint(&r, &v, &n) == PT_OK) {
		if (d.tag != PT_DER_INTEGER || n == 0 || (n > 1 && v[0] == 0) ||
		    v + n != d.whole + d.whole_len)
			abort();
		r = *rb;
		if (pt_der_get_bn(&r, &bn) != PT_OK)
			abort();
		uint8_t *back = malloc(n);
		if (!back || BN_bn2binpad(bn, back, (int)n) != (int)n ||
		    memcmp(back, v, n) != 0)
			abort();
		free(back);
		BN_free(bn);
	} else if (pt_rbuf_offset(&r) != pt_rbuf_offset(rb)) {
		abort();
	}
	r = *rb;
	if (pt_der_get_oid(&r, &v, &n) == PT_OK &&
	    (d.tag != PT_DER_OID || n == 0 || v != d.body.data))
		abort();
	r = *rb;
	if (pt_der_get_bits(&r, &v, &n) == PT_OK &&
	    (d.tag != PT_DER_BIT_STRING || d.body.data[0] != 0 ||
	     v != d.body.data + 1))
		abort();
	r = *rb;
	if (pt_der_get_time(&r, &t) == PT_OK)
		check_time(&d, t);
	else if (pt_rbuf_offset(&r) != pt_rbuf_offset(rb))
		abort();
}

/* Every element of rb, descending into constructed ones. */
static void walk(pt_rbuf_t *rb, unsigned depth)
{
	while (pt_rbuf_remaining(rb) > 0) {
		size_t at = pt_rbuf_offset(rb);
		pt_der_t d;
		check_values(rb);
		if (pt_der_get(rb, &d) != PT_OK) {
			if (pt_rbuf_offset(rb) != at ||
			    pt_der_expect(rb, 0x30, &d) == PT_OK)
				abort();
			return;
		}
		check_element(rb, at, &d);
		if (pt_rbuf_offset(rb) != at + d.whole_len)
			abort();
		if ((d.tag & 0x20) && depth < 32) {
			pt_rbuf_t in = d.body;
			walk(&in, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_rbuf_t rb;
	pt_rbuf_init(&rb, data, size);
	walk(&rb, 0);

	/* The tag test never reads past the input either. */
	pt_rbuf_init(&rb, data, size);
	if (size > 0 && pt_der_peek_is(&rb, data[0]) != true)
		abort();
	if (size > 1 && pt_der_get_exact(&rb, data, size - 1) &&
	    pt_rbuf_remaining(&rb) != 1)
		abort();
	return 0;
}
