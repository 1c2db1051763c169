/* pt_der: one bounded reader for DER (X.690) over pt_rbuf, for the code
 * that walks certificates and keys by hand because OpenSSL 3's decoders
 * cost 120-170 us per certificate through its providers.
 *
 * Framing rules, the same for every element:
 *   - tags are single bytes: the high-tag-number form (low five bits all
 *     set) is refused;
 *   - lengths are definite and minimal: the short form for 0-127, else
 *     the long form with 1 to 4 length bytes, no leading zero byte and a
 *     value of at least 128; the indefinite form (0x80) is refused;
 *   - a length is compared with the bytes remaining in the reader, never
 *     by pointer arithmetic, and must not run past them.
 * Every refusal is PT_ERR_MALFORMED: DER is always read from a complete
 * buffer here, so an element running past its end is wrong, not
 * incomplete.  A failed get consumes nothing.
 *
 * Views handed out point into the reader's memory and live as long as
 * it does.  Pure: no allocation except pt_der_get_bn's result.
 */
#ifndef PT_LIB_DER_H
#define PT_LIB_DER_H

#include <openssl/bn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/rbuf.h"

/* Universal tags of the types we read. */
#define PT_DER_BOOLEAN 0x01u
#define PT_DER_INTEGER 0x02u
#define PT_DER_BIT_STRING 0x03u
#define PT_DER_OCTET_STRING 0x04u
#define PT_DER_NULL 0x05u
#define PT_DER_OID 0x06u
#define PT_DER_UTC_TIME 0x17u
#define PT_DER_GENERALIZED_TIME 0x18u
#define PT_DER_SEQUENCE 0x30u
#define PT_DER_SET 0x31u

/* One element. */
typedef struct pt_der {
	uint8_t tag;
	const uint8_t *whole; /* tag, length and contents */
	size_t whole_len;
	pt_rbuf_t body;       /* a reader over the contents alone */
} pt_der_t;

/* Reads the next element, whatever its tag, into *out. */
int pt_der_get(pt_rbuf_t *rb, pt_der_t *out);
/* pt_der_get, refusing any tag but tag (nothing consumed then). */
int pt_der_expect(pt_rbuf_t *rb, uint8_t tag, pt_der_t *out);
/* Whether the next byte is tag; reads nothing. */
bool pt_der_peek_is(const pt_rbuf_t *rb, uint8_t tag);

/* Consumes the next n bytes only when they equal want (a whole encoded
 * element such as an OID with its tag and length); returns whether it
 * did. */
bool pt_der_get_exact(pt_rbuf_t *rb, const uint8_t *want, size_t n);

/* A non-negative INTEGER in its minimal form: at least one byte, no
 * superfluous leading 0x00, and no negative value (top bit set).  *v and
 * *n: its magnitude, big-endian, without the 0x00 sign byte (zero is the
 * one byte 0x00). */
int pt_der_get_uint(pt_rbuf_t *rb, const uint8_t **v, size_t *n);
/* The same as a BIGNUM; *out is the caller's (BN_free).  PT_ERR_NOMEM. */
int pt_der_get_bn(pt_rbuf_t *rb, BIGNUM **out);

/* An OBJECT IDENTIFIER with at least one content byte: *v and *n are its
 * contents (the encoded arcs, not checked further). */
int pt_der_get_oid(pt_rbuf_t *rb, const uint8_t **v, size_t *n);

/* A BIT STRING of whole bytes (unused-bits byte 0): *v and *n are the
 * bytes after that byte (possibly none). */
int pt_der_get_bits(pt_rbuf_t *rb, const uint8_t **v, size_t *n);

/* UTCTime "YYMMDDHHMMSSZ" (YY 50-99 is 19YY, 00-49 is 20YY, as RFC 5280
 * reads it) or GeneralizedTime "YYYYMMDDHHMMSSZ" (years 1900-9999), the
 * only forms RFC 5280 allows: digits only, month 1-12, a day that exists
 * in that month (leap years counted), hour 0-23, minute and second 0-59.
 * *out: UTC seconds since 1970 (negative before). */
int pt_der_get_time(pt_rbuf_t *rb, int64_t *out);

#endif
