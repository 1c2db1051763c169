#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/der.h"
#include "lib/errors.h"
#include "pt_test.h"

/* Reads one element from in; on success it must be the whole input. */
static int get_one(const uint8_t *in, size_t len, pt_der_t *d)
{
	pt_rbuf_t rb;
	pt_rbuf_init(&rb, in, len);
	int r = pt_der_get(&rb, d);
	if (r == PT_OK) {
		ck_assert_int_eq(pt_rbuf_expect_end(&rb), PT_OK);
		ck_assert_ptr_eq(d->whole, in);
		ck_assert_uint_eq(d->whole_len, len);
	} else {
		ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
	}
	return r;
}

/* An OCTET STRING of n bytes with the given length octets, contents
 * 0..255 repeating. */
static uint8_t *octets(const uint8_t *lenb, size_t lenb_n, size_t n,
		       size_t *total)
{
	uint8_t *b = malloc(1 + lenb_n + n);
	ck_assert_ptr_nonnull(b);
	b[0] = PT_DER_OCTET_STRING;
	memcpy(b + 1, lenb, lenb_n);
	for (size_t i = 0; i < n; i++)
		b[1 + lenb_n + i] = (uint8_t)i;
	*total = 1 + lenb_n + n;
	return b;
}

static void length_form_ok(const uint8_t *lenb, size_t lenb_n, size_t n)
{
	size_t total;
	uint8_t *b = octets(lenb, lenb_n, n, &total);
	pt_der_t d;
	ck_assert_int_eq(get_one(b, total, &d), PT_OK);
	ck_assert_uint_eq(d.tag, PT_DER_OCTET_STRING);
	ck_assert_uint_eq(pt_rbuf_remaining(&d.body), n);
	ck_assert_ptr_eq(d.body.data, b + 1 + lenb_n);
	free(b);
}

static void length_form_refused(const uint8_t *lenb, size_t lenb_n,
				size_t n)
{
	size_t total;
	uint8_t *b = octets(lenb, lenb_n, n, &total);
	pt_der_t d;
	ck_assert_int_eq(get_one(b, total, &d), PT_ERR_MALFORMED);
	free(b);
}

START_TEST(every_length_form)
{
	length_form_ok((const uint8_t[]){0x00}, 1, 0);
	length_form_ok((const uint8_t[]){0x01}, 1, 1);
	length_form_ok((const uint8_t[]){0x7f}, 1, 127);
	length_form_ok((const uint8_t[]){0x81, 0x80}, 2, 128);
	length_form_ok((const uint8_t[]){0x81, 0xff}, 2, 255);
	length_form_ok((const uint8_t[]){0x82, 0x01, 0x00}, 3, 256);
	length_form_ok((const uint8_t[]){0x82, 0xff, 0xff}, 3, 65535);
	length_form_ok((const uint8_t[]){0x83, 0x01, 0x00, 0x00}, 4, 65536);
	length_form_ok((const uint8_t[]){0x84, 0x01, 0x00, 0x00, 0x00}, 5,
		       (size_t)1 << 24);
}
END_TEST

START_TEST(length_refusals)
{
	/* Long form for a length below 128. */
	length_form_refused((const uint8_t[]){0x81, 0x00}, 2, 0);
	length_form_refused((const uint8_t[]){0x81, 0x7f}, 2, 127);
	/* A leading zero length byte (not minimal). */
	length_form_refused((const uint8_t[]){0x82, 0x00, 0x80}, 3, 128);
	length_form_refused((const uint8_t[]){0x82, 0x00, 0xff}, 3, 255);
	length_form_refused((const uint8_t[]){0x83, 0x00, 0x01, 0x00}, 4,
			    256);
	/* Indefinite length, with an end-of-contents marker after it. */
	length_form_refused((const uint8_t[]){0x80}, 1, 0);
	const uint8_t indef[] = {0x30, 0x80, 0x05, 0x00, 0x00, 0x00};
	pt_der_t d;
	ck_assert_int_eq(get_one(indef, sizeof indef, &d), PT_ERR_MALFORMED);
	/* Five length bytes; the reserved 0xff. */
	length_form_refused((const uint8_t[]){0x85, 0x01, 0x00, 0x00, 0x00,
					      0x00},
			    6, 0);
	length_form_refused((const uint8_t[]){0xff}, 1, 0);
}
END_TEST

START_TEST(lengths_past_the_end)
{
	const uint8_t past[] = {0x04, 0x05, 'a', 'b', 'c'};
	const uint8_t past_long[] = {0x04, 0x81, 0x80, 'a'};
	const uint8_t short_len[] = {0x04, 0x82, 0x01};
	const uint8_t no_len[] = {0x04};
	/* A length no buffer holds must be compared, not added. */
	const uint8_t huge[] = {0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00};
	pt_der_t d;
	ck_assert_int_eq(get_one(past, sizeof past, &d), PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(past_long, sizeof past_long, &d),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(short_len, sizeof short_len, &d),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(no_len, sizeof no_len, &d), PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(huge, sizeof huge, &d), PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(past, 0, &d), PT_ERR_MALFORMED);

	/* A child element may not run past its parent even when the outer
	 * buffer has more bytes. */
	const uint8_t nested[] = {0x30, 0x03, 0x04, 0x02, 'x', 'y', 'z'};
	pt_rbuf_t rb, in;
	pt_der_t seq;
	pt_rbuf_init(&rb, nested, sizeof nested);
	ck_assert_int_eq(pt_der_get(&rb, &seq), PT_OK);
	ck_assert_uint_eq(seq.whole_len, 5);
	in = seq.body;
	ck_assert_int_eq(pt_der_get(&in, &d), PT_ERR_MALFORMED);
	ck_assert_uint_eq(pt_rbuf_offset(&in), 0);
}
END_TEST

START_TEST(high_tag_number_form_refused)
{
	const uint8_t universal[] = {0x1f, 0x20, 0x00};
	const uint8_t constructed[] = {0x3f, 0x20, 0x00};
	const uint8_t context[] = {0xbf, 0x81, 0x00, 0x00};
	const uint8_t app[] = {0x5f, 0x01, 0x00};
	pt_der_t d;
	ck_assert_int_eq(get_one(universal, sizeof universal, &d),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(constructed, sizeof constructed, &d),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(context, sizeof context, &d),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(get_one(app, sizeof app, &d), PT_ERR_MALFORMED);
	/* Tag 30 is still the low form. */
	const uint8_t t30[] = {0x1e, 0x00};
	ck_assert_int_eq(get_one(t30, sizeof t30, &d), PT_OK);
	ck_assert_uint_eq(d.tag, 0x1e);
}
END_TEST

START_TEST(walks_a_sequence)
{
	/* SEQUENCE { [0] { INTEGER 2 }, NULL, OCTET STRING "ab" } */
	const uint8_t in[] = {0x30, 0x0b, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x05,
			      0x00, 0x04, 0x02, 'a',  'b',  0xee};
	pt_rbuf_t rb;
	pt_der_t seq, ctx, d;
	pt_rbuf_init(&rb, in, sizeof in);
	ck_assert_int_eq(pt_der_expect(&rb, PT_DER_SEQUENCE, &seq), PT_OK);
	ck_assert_uint_eq(seq.whole_len, 13);
	ck_assert_uint_eq(pt_rbuf_remaining(&rb), 1);

	ck_assert(pt_der_peek_is(&seq.body, 0xa0));
	ck_assert(!pt_der_peek_is(&seq.body, PT_DER_INTEGER));
	/* A wrong tag is refused and consumes nothing. */
	ck_assert_int_eq(pt_der_expect(&seq.body, PT_DER_NULL, &d),
			 PT_ERR_MALFORMED);
	ck_assert_uint_eq(pt_rbuf_offset(&seq.body), 0);
	ck_assert_int_eq(pt_der_expect(&seq.body, 0xa0, &ctx), PT_OK);
	ck_assert_ptr_eq(ctx.whole, in + 2);
	ck_assert_uint_eq(ctx.whole_len, 5);

	const uint8_t *v;
	size_t n;
	ck_assert_int_eq(pt_der_get_uint(&ctx.body, &v, &n), PT_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0], 2);
	ck_assert_int_eq(pt_rbuf_expect_end(&ctx.body), PT_OK);

	const uint8_t null[] = {0x05, 0x00};
	const uint8_t null_then_null[] = {0x05, 0x00, 0x05, 0x00};
	ck_assert(!pt_der_get_exact(&seq.body, null_then_null,
				    sizeof null_then_null));
	ck_assert(pt_der_get_exact(&seq.body, null, sizeof null));
	ck_assert(!pt_der_get_exact(&seq.body, null, sizeof null));
	ck_assert_uint_eq(pt_rbuf_offset(&seq.body), 7);
	ck_assert_int_eq(pt_der_get(&seq.body, &d), PT_OK);
	ck_assert_uint_eq(d.tag, PT_DER_OCTET_STRING);
	ck_assert_uint_eq(pt_rbuf_remaining(&d.body), 2);
	ck_assert_int_eq(pt_rbuf_expect_end(&seq.body), PT_OK);
	/* Wanting more bytes than remain reads nothing past the end. */
	ck_assert(!pt_der_get_exact(&seq.body, null, sizeof null));
	ck_assert(!pt_der_peek_is(&seq.body, PT_DER_OCTET_STRING));
	ck_assert_int_eq(pt_der_get(&seq.body, &d), PT_ERR_MALFORMED);
}
END_TEST

/* uint of in: PT_OK with the expected magnitude, or the refusal. */
static void uint_case(const uint8_t *in, size_t len, int want,
		      const uint8_t *mag, size_t mag_n)
{
	pt_rbuf_t rb;
	const uint8_t *v = NULL;
	size_t n = 0;
	BIGNUM *bn = NULL;
	pt_rbuf_init(&rb, in, len);
	ck_assert_int_eq(pt_der_get_uint(&rb, &v, &n), want);
	if (want != PT_OK) {
		ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
		ck_assert_int_eq(pt_der_get_bn(&rb, &bn), want);
		ck_assert_ptr_null(bn);
		ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
		return;
	}
	ck_assert_uint_eq(n, mag_n);
	ck_assert(memcmp(v, mag, n) == 0);
	ck_assert_int_eq(pt_rbuf_expect_end(&rb), PT_OK);

	pt_rbuf_init(&rb, in, len);
	ck_assert_int_eq(pt_der_get_bn(&rb, &bn), PT_OK);
	ck_assert_int_eq(pt_rbuf_expect_end(&rb), PT_OK);
	BIGNUM *ref = BN_bin2bn(mag, (int)mag_n, NULL);
	ck_assert_ptr_nonnull(ref);
	ck_assert_int_eq(BN_cmp(bn, ref), 0);
	BN_free(ref);
	BN_free(bn);
}

START_TEST(non_negative_integers)
{
	uint_case((const uint8_t[]){0x02, 0x01, 0x00}, 3, PT_OK,
		  (const uint8_t[]){0x00}, 1);
	uint_case((const uint8_t[]){0x02, 0x01, 0x7f}, 3, PT_OK,
		  (const uint8_t[]){0x7f}, 1);
	uint_case((const uint8_t[]){0x02, 0x02, 0x00, 0x80}, 4, PT_OK,
		  (const uint8_t[]){0x80}, 1);
	uint_case((const uint8_t[]){0x02, 0x03, 0x01, 0x00, 0x01}, 5, PT_OK,
		  (const uint8_t[]){0x01, 0x00, 0x01}, 3);
	uint_case((const uint8_t[]){0x02, 0x03, 0x00, 0xff, 0x00}, 5, PT_OK,
		  (const uint8_t[]){0xff, 0x00}, 2);
	/* Empty, negative, padded, the wrong tag, past the end. */
	uint_case((const uint8_t[]){0x02, 0x00}, 2, PT_ERR_MALFORMED, NULL, 0);
	uint_case((const uint8_t[]){0x02, 0x01, 0x80}, 3, PT_ERR_MALFORMED,
		  NULL, 0);
	uint_case((const uint8_t[]){0x02, 0x02, 0xff, 0x80}, 4,
		  PT_ERR_MALFORMED, NULL, 0);
	uint_case((const uint8_t[]){0x02, 0x02, 0x00, 0x7f}, 4,
		  PT_ERR_MALFORMED, NULL, 0);
	uint_case((const uint8_t[]){0x02, 0x02, 0x00, 0x00}, 4,
		  PT_ERR_MALFORMED, NULL, 0);
	uint_case((const uint8_t[]){0x0a, 0x01, 0x01}, 3, PT_ERR_MALFORMED,
		  NULL, 0);
	uint_case((const uint8_t[]){0x02, 0x02, 0x01}, 3, PT_ERR_MALFORMED,
		  NULL, 0);
}
END_TEST

START_TEST(oids_and_bit_strings)
{
	/* 2.5.4.3 (commonName) */
	const uint8_t cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
	const uint8_t empty_oid[] = {0x06, 0x00};
	const uint8_t *v;
	size_t n;
	pt_rbuf_t rb;
	pt_rbuf_init(&rb, cn, sizeof cn);
	ck_assert_int_eq(pt_der_get_oid(&rb, &v, &n), PT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(v, cn + 2);
	ck_assert_int_eq(pt_rbuf_expect_end(&rb), PT_OK);
	pt_rbuf_init(&rb, empty_oid, sizeof empty_oid);
	ck_assert_int_eq(pt_der_get_oid(&rb, &v, &n), PT_ERR_MALFORMED);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
	pt_rbuf_init(&rb, cn + 2, 3);
	ck_assert_int_eq(pt_der_get_oid(&rb, &v, &n), PT_ERR_MALFORMED);

	const uint8_t bits[] = {0x03, 0x03, 0x00, 0xab, 0xcd};
	const uint8_t no_bits[] = {0x03, 0x01, 0x00};
	const uint8_t partial[] = {0x03, 0x02, 0x07, 0x80};
	const uint8_t no_unused[] = {0x03, 0x00};
	pt_rbuf_init(&rb, bits, sizeof bits);
	ck_assert_int_eq(pt_der_get_bits(&rb, &v, &n), PT_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_eq(v, bits + 3);
	pt_rbuf_init(&rb, no_bits, sizeof no_bits);
	ck_assert_int_eq(pt_der_get_bits(&rb, &v, &n), PT_OK);
	ck_assert_uint_eq(n, 0);
	pt_rbuf_init(&rb, partial, sizeof partial);
	ck_assert_int_eq(pt_der_get_bits(&rb, &v, &n), PT_ERR_MALFORMED);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
	pt_rbuf_init(&rb, no_unused, sizeof no_unused);
	ck_assert_int_eq(pt_der_get_bits(&rb, &v, &n), PT_ERR_MALFORMED);
}
END_TEST

/* tag + text as one element, read as a time. */
static int time_of(uint8_t tag, const char *text, int64_t *out)
{
	uint8_t b[64];
	size_t n = strlen(text);
	pt_rbuf_t rb;
	ck_assert_uint_lt(n, sizeof b - 2);
	b[0] = tag;
	b[1] = (uint8_t)n;
	memcpy(b + 2, text, n);
	pt_rbuf_init(&rb, b, n + 2);
	*out = -1;
	int r = pt_der_get_time(&rb, out);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), r == PT_OK ? n + 2 : 0);
	return r;
}

static void time_ok(uint8_t tag, const char *text, int64_t want)
{
	int64_t t;
	ck_assert_msg(time_of(tag, text, &t) == PT_OK, "%s refused", text);
	ck_assert_msg(t == want, "%s: %lld, want %lld", text, (long long)t,
		      (long long)want);
}

static void time_refused(uint8_t tag, const char *text)
{
	int64_t t;
	ck_assert_msg(time_of(tag, text, &t) == PT_ERR_MALFORMED,
		      "%s accepted", text);
}

START_TEST(times_known_answers)
{
	const uint8_t U = PT_DER_UTC_TIME, G = PT_DER_GENERALIZED_TIME;
	time_ok(U, "700101000000Z", 0);
	time_ok(G, "19700101000000Z", 0);
	/* UTCTime's window: 50-99 is 19YY, 00-49 is 20YY. */
	time_ok(U, "500101000000Z", -631152000);
	time_ok(U, "491231235959Z", 2524607999);
	time_ok(G, "19491231235959Z", -631152001);
	time_ok(G, "20491231235959Z", 2524607999);
	time_ok(U, "000229120000Z", 951825600);
	time_ok(G, "20240229000000Z", 1709164800);
	time_ok(G, "19000101000000Z", -2208988800);
	time_ok(G, "99991231235959Z", 253402300799);
}
END_TEST

START_TEST(times_refused)
{
	const uint8_t U = PT_DER_UTC_TIME, G = PT_DER_GENERALIZED_TIME;
	/* Bad digits, signs, blanks. */
	time_refused(U, "7a0101000000Z");
	time_refused(U, "70010100000 Z");
	time_refused(U, "70-101000000Z");
	time_refused(G, "2024010100000aZ");
	/* No Z, a local offset, fractions, no seconds, too long. */
	time_refused(U, "7001010000000");
	time_refused(U, "700101000000+0100");
	time_refused(G, "20240101000000.5Z");
	time_refused(U, "7001010000Z");
	time_refused(G, "202401010000Z");
	time_refused(U, "19700101000000Z");
	time_refused(G, "700101000000Z");
	time_refused(U, "");
	/* Calendar: Feb 30, Feb 29 outside leap years (2100 is not one),
	 * month 0 and 13, day 0 and 32, Apr 31, hour 24, minute 60, a leap
	 * second. */
	time_refused(U, "240230000000Z");
	time_refused(G, "20240230000000Z");
	time_refused(U, "230229000000Z");
	time_refused(G, "21000229000000Z");
	time_refused(G, "19000229000000Z");
	time_refused(U, "700001000000Z");
	time_refused(U, "701301000000Z");
	time_refused(U, "700100000000Z");
	time_refused(U, "700132000000Z");
	time_refused(U, "700431000000Z");
	time_refused(U, "700101240000Z");
	time_refused(U, "700101006000Z");
	time_refused(U, "700101000060Z");
	/* Before 1900 in GeneralizedTime. */
	time_refused(G, "18991231235959Z");
	time_refused(G, "00000101000000Z");
	/* Other string types. */
	time_refused(PT_DER_OCTET_STRING, "700101000000Z");
	time_refused(0x13, "700101000000Z");
}
END_TEST

/* Every second-granular instant from 1950 to 9999, sampled with a step
 * prime to the day, reads back as libc's calendar writes it. */
START_TEST(times_agree_with_gmtime)
{
	const int64_t from = -631152000, to = 253402300799;
	int checked = 0;
	for (int64_t t = from; t <= to; t += 7777777 + 13) {
		time_t tt = (time_t)t;
		struct tm tm;
		char text[32];
		int64_t got;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		ck_assert_int_eq(time_of(PT_DER_GENERALIZED_TIME, text, &got),
				 PT_OK);
		ck_assert_msg(got == t, "%s: %lld, want %lld", text,
			      (long long)got, (long long)t);
		if (tm.tm_year + 1900 < 2050) {
			ck_assert_int_eq(time_of(PT_DER_UTC_TIME, text + 2,
						 &got),
					 PT_OK);
			ck_assert_int_eq(got, t);
		}
		checked++;
	}
	ck_assert_int_gt(checked, 30000);
}
END_TEST

static Suite *der_suite(void)
{
	Suite *s = suite_create("der");
	TCase *tc = tcase_create("framing");
	tcase_add_test(tc, every_length_form);
	tcase_add_test(tc, length_refusals);
	tcase_add_test(tc, lengths_past_the_end);
	tcase_add_test(tc, high_tag_number_form_refused);
	tcase_add_test(tc, walks_a_sequence);
	suite_add_tcase(s, tc);
	tc = tcase_create("values");
	tcase_add_test(tc, non_negative_integers);
	tcase_add_test(tc, oids_and_bit_strings);
	suite_add_tcase(s, tc);
	tc = tcase_create("times");
	tcase_add_test(tc, times_known_answers);
	tcase_add_test(tc, times_refused);
	tcase_add_test(tc, times_agree_with_gmtime);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(der_suite());
}
