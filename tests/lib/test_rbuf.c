#include <string.h>

#include "lib/errors.h"
#include "lib/rbuf.h"
#include "pt_test.h"

START_TEST(integers_are_big_endian)
{
	const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
			      0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	pt_rbuf_t rb;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	pt_rbuf_init(&rb, in, sizeof in);
	ck_assert_int_eq(pt_rbuf_get_u8(&rb, &u8), PT_OK);
	ck_assert_uint_eq(u8, 0x01);
	ck_assert_int_eq(pt_rbuf_get_u16(&rb, &u16), PT_OK);
	ck_assert_uint_eq(u16, 0x0203);
	ck_assert_int_eq(pt_rbuf_get_u32(&rb, &u32), PT_OK);
	ck_assert_uint_eq(u32, 0x04050607);
	ck_assert_int_eq(pt_rbuf_get_u64(&rb, &u64), PT_OK);
	ck_assert_uint_eq(u64, 0x08090a0b0c0d0e0fULL);
	ck_assert_int_eq(pt_rbuf_expect_end(&rb), PT_OK);
}
END_TEST

START_TEST(short_reads_consume_nothing)
{
	const uint8_t in[] = {0xaa, 0xbb, 0xcc};
	pt_rbuf_t rb;
	uint32_t u32;
	pt_rbuf_init(&rb, in, sizeof in);
	ck_assert_int_eq(pt_rbuf_get_u32(&rb, &u32), PT_ERR_INCOMPLETE);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
	ck_assert_int_eq(pt_rbuf_skip(&rb, 4), PT_ERR_INCOMPLETE);
	ck_assert_uint_eq(pt_rbuf_remaining(&rb), 3);
	ck_assert_int_eq(pt_rbuf_expect_end(&rb), PT_ERR_TRAILING);
}
END_TEST

START_TEST(length_prefixed_items)
{
	const uint8_t in[] = {0x00, 0x03, 'a', 'b', 'c', 0x00, 0x05, 'x'};
	pt_rbuf_t rb;
	const uint8_t *v;
	size_t n;
	pt_rbuf_init(&rb, in, sizeof in);
	ck_assert_int_eq(pt_rbuf_get_lv(&rb, 2, 16, &v, &n), PT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(v, "abc", 3) == 0);
	/* Declared 5, only 1 present: incomplete, and nothing consumed. */
	ck_assert_int_eq(pt_rbuf_get_lv(&rb, 2, 16, &v, &n),
			 PT_ERR_INCOMPLETE);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), 5);
	/* Declared 5 exceeds a cap of 4 before anything is looked at. */
	ck_assert_int_eq(pt_rbuf_get_lv(&rb, 2, 4, &v, &n), PT_ERR_TOO_LARGE);
	ck_assert_int_eq(pt_rbuf_get_lv(&rb, 3, 4, &v, &n), PT_ERR_INVALID);
}
END_TEST

START_TEST(huge_length_does_not_overflow)
{
	const uint8_t in[] = {0xff, 0xff, 0xff, 0xff, 0x00};
	pt_rbuf_t rb;
	const uint8_t *v;
	size_t n;
	pt_rbuf_init(&rb, in, sizeof in);
	ck_assert_int_eq(pt_rbuf_get_lv(&rb, 4, (size_t)-1, &v, &n),
			 PT_ERR_INCOMPLETE);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), 0);
}
END_TEST

START_TEST(child_reader_is_bounded)
{
	const uint8_t in[] = {1, 2, 3, 4, 5};
	pt_rbuf_t rb, child;
	uint16_t u16;
	pt_rbuf_init(&rb, in, sizeof in);
	ck_assert_int_eq(pt_rbuf_get_child(&rb, 3, &child), PT_OK);
	ck_assert_int_eq(pt_rbuf_get_u16(&child, &u16), PT_OK);
	ck_assert_int_eq(pt_rbuf_get_u16(&child, &u16), PT_ERR_INCOMPLETE);
	ck_assert_uint_eq(pt_rbuf_remaining(&rb), 2);
}
END_TEST

START_TEST(lines_accept_crlf_lf_and_no_terminator)
{
	const char text[] = "one\r\ntwo\nthree";
	pt_rbuf_t rb;
	const uint8_t *line;
	size_t n;
	pt_rbuf_init(&rb, text, sizeof text - 1);
	ck_assert_int_eq(pt_rbuf_get_line(&rb, 64, &line, &n), PT_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(line, "one", 3) == 0);
	ck_assert_int_eq(pt_rbuf_get_line(&rb, 64, &line, &n), PT_OK);
	ck_assert(n == 3 && memcmp(line, "two", 3) == 0);
	ck_assert_int_eq(pt_rbuf_get_line(&rb, 64, &line, &n), PT_OK);
	ck_assert(n == 5 && memcmp(line, "three", 5) == 0);
	ck_assert_int_eq(pt_rbuf_get_line(&rb, 64, &line, &n),
			 PT_ERR_NOT_FOUND);
}
END_TEST

START_TEST(lines_refuse_nul_and_overlong)
{
	const char text[] = "ab\0c\nlonglonglong\n";
	pt_rbuf_t rb;
	const uint8_t *line;
	size_t n;
	pt_rbuf_init(&rb, text, sizeof text - 1);
	ck_assert_int_eq(pt_rbuf_get_line(&rb, 64, &line, &n),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_rbuf_skip(&rb, 5), PT_OK);
	ck_assert_int_eq(pt_rbuf_get_line(&rb, 4, &line, &n), PT_ERR_TOO_LARGE);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), 5);
}
END_TEST

START_TEST(nul_terminated_strings)
{
	const char pkt[] = "SEP001122334455.cnf.xml\0octet\0\0tail";
	pt_rbuf_t rb;
	const char *str;
	size_t n;
	pt_rbuf_init(&rb, pkt, sizeof pkt - 1);
	ck_assert_int_eq(pt_rbuf_get_cstr(&rb, 255, &str, &n), PT_OK);
	ck_assert(n == 23 && memcmp(str, "SEP001122334455.cnf.xml", n) == 0);
	ck_assert_int_eq(pt_rbuf_get_cstr(&rb, 4, &str, &n), PT_ERR_TOO_LARGE);
	ck_assert_int_eq(pt_rbuf_get_cstr(&rb, 5, &str, &n), PT_OK);
	ck_assert(n == 5 && memcmp(str, "octet", 5) == 0);
	ck_assert_int_eq(pt_rbuf_get_cstr(&rb, 5, &str, &n), PT_OK);
	ck_assert_uint_eq(n, 0);
	/* No NUL before the end: nothing consumed. */
	size_t at = pt_rbuf_offset(&rb);
	ck_assert_int_eq(pt_rbuf_get_cstr(&rb, 64, &str, &n),
			 PT_ERR_INCOMPLETE);
	ck_assert_int_eq(pt_rbuf_get_cstr(&rb, 2, &str, &n), PT_ERR_TOO_LARGE);
	ck_assert_uint_eq(pt_rbuf_offset(&rb), at);
}
END_TEST

static Suite *rbuf_suite(void)
{
	Suite *s = suite_create("rbuf");
	TCase *tc = tcase_create("get");
	tcase_add_test(tc, integers_are_big_endian);
	tcase_add_test(tc, short_reads_consume_nothing);
	tcase_add_test(tc, length_prefixed_items);
	tcase_add_test(tc, huge_length_does_not_overflow);
	tcase_add_test(tc, child_reader_is_bounded);
	suite_add_tcase(s, tc);
	tc = tcase_create("lines");
	tcase_add_test(tc, lines_accept_crlf_lf_and_no_terminator);
	tcase_add_test(tc, lines_refuse_nul_and_overlong);
	tcase_add_test(tc, nul_terminated_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(rbuf_suite());
}
