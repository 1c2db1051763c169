#include <string.h>

#include "lib/errors.h"
#include "lib/tftp_packet.h"
#include "pt_test.h"

/* A request datagram from NUL-separated fields ("a\0b\0..."). */
static size_t request(uint8_t *buf, uint16_t op, const char *fields,
		      size_t fields_len)
{
	buf[0] = (uint8_t)(op >> 8);
	buf[1] = (uint8_t)op;
	memcpy(buf + 2, fields, fields_len);
	return 2 + fields_len;
}

#define REQ(buf, op, lit) request(buf, op, lit, sizeof lit - 1)

START_TEST(read_request_with_options)
{
	uint8_t pkt[600];
	pt_tftp_request_t r;
	const char *why = NULL;
	size_t n = REQ(pkt, PT_TFTP_RRQ,
		       "CTLFile.tlv\0OCTET\0blksize\0" "1428\0TSize\0" "0\0"
		       "timeout\0" "3\0windowsize\0" "8\0multicast\0\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why), PT_OK);
	ck_assert_uint_eq(r.opcode, PT_TFTP_RRQ);
	ck_assert_uint_eq(r.name_len, 11);
	ck_assert_str_eq(r.name, "CTLFile.tlv");
	ck_assert_int_eq(r.mode, PT_TFTP_MODE_OCTET);
	ck_assert(r.has_blksize && r.blksize == 1428);
	ck_assert(r.has_tsize && r.tsize == 0);
	ck_assert(r.has_timeout && r.timeout == 3);
	ck_assert(r.has_windowsize && r.windowsize == 8);

	n = REQ(pkt, PT_TFTP_WRQ, "x\0netascii\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why), PT_OK);
	ck_assert_uint_eq(r.opcode, PT_TFTP_WRQ);
	ck_assert_int_eq(r.mode, PT_TFTP_MODE_NETASCII);
	ck_assert(!r.has_blksize && !r.has_tsize);
}
END_TEST

START_TEST(malformed_requests)
{
	uint8_t pkt[700] = {0};
	pt_tftp_request_t r;
	const char *why = NULL;
	size_t n;

	ck_assert_int_eq(pt_tftp_request_parse(pkt, 1, &r, &why),
			 PT_ERR_INCOMPLETE);
	n = REQ(pkt, PT_TFTP_ACK, "\0\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_INVALID);
	n = REQ(pkt, PT_TFTP_RRQ, "name-without-nul");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_INCOMPLETE);
	n = REQ(pkt, PT_TFTP_RRQ, "f\0binary\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_MALFORMED);
	n = REQ(pkt, PT_TFTP_RRQ, "f\0octet\0blksize\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_MALFORMED);
	n = REQ(pkt, PT_TFTP_RRQ, "f\0octet\0blksize\0" "12a\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_MALFORMED);
	n = REQ(pkt, PT_TFTP_RRQ, "f\0octet\0blksize\0" "\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_MALFORMED);
	n = REQ(pkt, PT_TFTP_RRQ, "f\0octet\0tsize\0" "0\0tsize\0" "0\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_MALFORMED);
	ck_assert_str_eq(why, "an option is given twice");
	n = REQ(pkt, PT_TFTP_RRQ,
		"f\0octet\0tsize\0" "99999999999999999999999\0");
	ck_assert_int_eq(pt_tftp_request_parse(pkt, n, &r, &why),
			 PT_ERR_MALFORMED);

	/* A 256-byte name, and a datagram over 512 bytes. */
	memset(pkt, 0, sizeof pkt);
	pkt[1] = PT_TFTP_RRQ;
	memset(pkt + 2, 'a', 256);
	memcpy(pkt + 259, "octet", 6);
	ck_assert_int_eq(pt_tftp_request_parse(pkt, 265, &r, &why),
			 PT_ERR_TOO_LARGE);
	ck_assert_int_eq(pt_tftp_request_parse(pkt, 513, &r, &why),
			 PT_ERR_TOO_LARGE);
}
END_TEST

START_TEST(file_names)
{
	static const char *const good[] = {
		"CTLFile.tlv", "SEP001122334455.cnf.xml.sgn",
		"Desktops/320x196x4/List.xml", "ring..tone.raw", "a/.../b",
		"./ITLFile.tlv",
	};
	static const char *const bad[] = {
		"", "/etc/passwd", "\\windows", "C:boot.ini", "../x", "a/../b",
		"a/..", "..", "a\\..\\b", "tab\there", "del\x7f", "hi\xc3\xa9",
	};
	const char *why;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(pt_tftp_name_check(good[i], strlen(good[i]),
						 &why) == PT_OK,
			      "%s refused", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(pt_tftp_name_check(bad[i], strlen(bad[i]),
						 &why) == PT_ERR_DENIED,
			      "%s accepted", bad[i]);
	char longname[300];
	memset(longname, 'a', sizeof longname);
	ck_assert_int_eq(pt_tftp_name_check(longname, 256, &why),
			 PT_ERR_DENIED);
	ck_assert_int_eq(pt_tftp_name_check(longname, 255, &why), PT_OK);
}
END_TEST

START_TEST(negotiation)
{
	pt_tftp_limits_t lim = {.blksize_max = 1468, .windowsize_max = 16,
				.timeout_default = 2};
	pt_tftp_request_t req = {.opcode = PT_TFTP_RRQ};
	pt_tftp_params_t p;

	pt_tftp_negotiate(&req, &lim, 1000, &p);
	ck_assert(!p.oack);
	ck_assert_uint_eq(p.blksize, 512);
	ck_assert_uint_eq(p.windowsize, 1);
	ck_assert_uint_eq(p.timeout, 2);

	req.has_blksize = true;
	req.blksize = 65464;
	req.has_windowsize = true;
	req.windowsize = 64;
	req.has_tsize = true;
	req.has_timeout = true;
	req.timeout = 5;
	pt_tftp_negotiate(&req, &lim, 123456, &p);
	ck_assert(p.oack && p.ack_blksize && p.ack_windowsize &&
		  p.ack_tsize && p.ack_timeout);
	ck_assert_uint_eq(p.blksize, 1468);
	ck_assert_uint_eq(p.windowsize, 16);
	ck_assert_uint_eq(p.tsize, 123456);
	ck_assert_uint_eq(p.timeout, 5);

	uint8_t buf[PT_TFTP_SMALL_PACKET_MAX];
	size_t n = pt_tftp_oack_build(buf, sizeof buf, &p);
	const char expect[] = "\0\6blksize\0" "1468\0tsize\0" "123456\0"
			      "timeout\0" "5\0windowsize\0" "16";
	ck_assert_uint_eq(n, sizeof expect);
	ck_assert_mem_eq(buf, expect, sizeof expect);

	/* Out-of-range values are left out rather than answered. */
	req.blksize = 4;
	req.windowsize = 0;
	req.timeout = 256;
	req.has_tsize = false;
	pt_tftp_negotiate(&req, &lim, 1, &p);
	ck_assert(!p.oack);
	ck_assert_uint_eq(p.blksize, 512);
	ck_assert_uint_eq(p.windowsize, 1);
	ck_assert_uint_eq(p.timeout, 2);
}
END_TEST

START_TEST(data_error_and_replies)
{
	uint8_t buf[PT_TFTP_PACKET_MAX];
	ck_assert_uint_eq(pt_tftp_data_build(buf, sizeof buf, 0x1234,
					     (const uint8_t *)"abc", 3), 7);
	ck_assert_mem_eq(buf, "\0\3\x12\x34" "abc", 7);
	ck_assert_uint_eq(pt_tftp_data_build(buf, 6, 1,
					     (const uint8_t *)"abc", 3), 0);

	size_t n = pt_tftp_error_build(buf, sizeof buf, PT_TFTP_E_NOT_FOUND,
				       "File not found");
	ck_assert_uint_eq(n, 19);
	ck_assert_mem_eq(buf, "\0\5\0\1File not found\0", 19);
	n = pt_tftp_error_build(buf, 8, PT_TFTP_E_ACCESS, "truncated text");
	ck_assert_uint_eq(n, 8);
	ck_assert_uint_eq(buf[7], 0);

	pt_tftp_reply_t r;
	ck_assert_int_eq(pt_tftp_reply_parse((const uint8_t *)"\0\4\xff\xfe",
					     4, &r), PT_OK);
	ck_assert_uint_eq(r.opcode, PT_TFTP_ACK);
	ck_assert_uint_eq(r.block, 0xfffe);
	ck_assert_int_eq(pt_tftp_reply_parse((const uint8_t *)"\0\4\0\1x",
					     5, &r), PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_tftp_reply_parse((const uint8_t *)"\0\4\0", 3,
					     &r), PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_tftp_reply_parse((const uint8_t *)"\0\5\0\2no\0",
					     7, &r), PT_OK);
	ck_assert_uint_eq(r.error_code, 2);
	ck_assert_int_eq(pt_tftp_reply_parse((const uint8_t *)"\0\3\0\1",
					     4, &r), PT_ERR_INVALID);
	ck_assert_str_eq(pt_tftp_error_text(PT_TFTP_E_OPTION),
			 "Option negotiation refused");
}
END_TEST

static Suite *tftp_packet_suite(void)
{
	Suite *s = suite_create("tftp_packet");
	TCase *tc = tcase_create("packets");
	tcase_add_test(tc, read_request_with_options);
	tcase_add_test(tc, malformed_requests);
	tcase_add_test(tc, file_names);
	tcase_add_test(tc, negotiation);
	tcase_add_test(tc, data_error_and_replies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(tftp_packet_suite());
}
