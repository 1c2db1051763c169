#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/tftp_xfer.h"
#include "pt_test.h"

static uint8_t content[70000];
static uint8_t pkt[PT_TFTP_PACKET_MAX];

static void fill(void)
{
	for (size_t i = 0; i < sizeof content; i++)
		content[i] = (uint8_t)(i * 7 + 3);
}

static pt_tftp_params_t params(uint32_t blksize, uint32_t window, bool oack)
{
	pt_tftp_params_t p = {.blksize = blksize, .windowsize = window,
			      .timeout = 1, .oack = oack,
			      .ack_blksize = oack};
	return p;
}

static void ack(pt_tftp_xfer_t *x, uint16_t block, int64_t now, bool expect)
{
	uint8_t a[4] = {0, PT_TFTP_ACK, (uint8_t)(block >> 8), (uint8_t)block};
	ck_assert_int_eq(pt_tftp_xfer_on_packet(x, a, sizeof a, now), expect);
}

/* Drains pending packets, checking each DATA block number and payload. */
static size_t drain(pt_tftp_xfer_t *x, const pt_tftp_params_t *p,
		    uint64_t *first_block)
{
	size_t count = 0, n;
	while ((n = pt_tftp_xfer_next(x, p, pkt, sizeof pkt)) > 0) {
		if (pkt[1] == PT_TFTP_DATA) {
			uint64_t b = x->send_from - 1;
			if (count == 0 && first_block)
				*first_block = b;
			ck_assert_uint_eq((uint16_t)((pkt[2] << 8) | pkt[3]),
					  (uint16_t)b);
			size_t off = (size_t)(b - 1) * p->blksize;
			ck_assert_mem_eq(pkt + 4, content + off, n - 4);
		}
		count++;
	}
	return count;
}

START_TEST(lockstep_transfer_ends_on_short_block)
{
	pt_tftp_params_t p = params(512, 1, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 1024, &p, 5, 0);
	ck_assert_uint_eq(x.last_block, 3); /* 512 + 512 + empty block */
	for (uint16_t b = 1; b <= 3; b++) {
		uint64_t first = 0;
		ck_assert_uint_eq(drain(&x, &p, &first), 1);
		ck_assert_uint_eq(first, b);
		ack(&x, b, b, b < 3);
	}
	ck_assert_int_eq(x.state, PT_TFTP_XFER_DONE);
	ck_assert_uint_eq(x.retransmits, 0);
}
END_TEST

START_TEST(duplicate_acks_never_resend)
{
	pt_tftp_params_t p = params(512, 1, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 5000, &p, 5, 0);
	ck_assert_uint_eq(drain(&x, &p, NULL), 1);
	ack(&x, 1, 1, true);
	ck_assert_uint_eq(drain(&x, &p, NULL), 1);
	/* The ACK of block 1 arrives again (a delayed copy): no new DATA. */
	ack(&x, 1, 2, false);
	ack(&x, 0, 2, false);
	ck_assert_uint_eq(drain(&x, &p, NULL), 0);
	/* An ACK from the future (not sent yet) is ignored too. */
	ack(&x, 9, 3, false);
	ack(&x, 2, 4, true);
	ck_assert_uint_eq(drain(&x, &p, NULL), 1);
	ck_assert_uint_eq(x.retransmits, 0);
}
END_TEST

START_TEST(timeouts_resend_then_fail)
{
	pt_tftp_params_t p = params(512, 1, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 600, &p, 2, 0);
	ck_assert_uint_eq(drain(&x, &p, NULL), 1);
	ck_assert_int_eq(x.deadline_ms, 1000);
	ck_assert(pt_tftp_xfer_on_timeout(&x, 1000));
	uint64_t first = 0;
	ck_assert_uint_eq(drain(&x, &p, &first), 1);
	ck_assert_uint_eq(first, 1);
	ck_assert_uint_eq(x.retransmits, 1);
	ck_assert_int_eq(x.deadline_ms, 2000);
	ck_assert(pt_tftp_xfer_on_timeout(&x, 2000));
	drain(&x, &p, NULL);
	ck_assert(!pt_tftp_xfer_on_timeout(&x, 3000));
	ck_assert_int_eq(x.state, PT_TFTP_XFER_FAILED);
	ck_assert_uint_eq(pt_tftp_xfer_next(&x, &p, pkt, sizeof pkt), 0);
}
END_TEST

START_TEST(ack_resets_the_retry_count)
{
	pt_tftp_params_t p = params(512, 1, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 2000, &p, 1, 0);
	drain(&x, &p, NULL);
	ck_assert(pt_tftp_xfer_on_timeout(&x, 1000));
	drain(&x, &p, NULL);
	ack(&x, 1, 1500, true);
	drain(&x, &p, NULL);
	ck_assert(pt_tftp_xfer_on_timeout(&x, 2500));
	ck_assert_int_eq(x.state, PT_TFTP_XFER_SENDING);
}
END_TEST

START_TEST(oack_waits_for_ack_zero)
{
	pt_tftp_params_t p = params(1400, 1, true);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 3000, &p, 3, 0);
	size_t n = pt_tftp_xfer_next(&x, &p, pkt, sizeof pkt);
	ck_assert_uint_gt(n, 2);
	ck_assert_uint_eq(pkt[1], PT_TFTP_OACK);
	ck_assert_uint_eq(pt_tftp_xfer_next(&x, &p, pkt, sizeof pkt), 0);
	ack(&x, 1, 1, false); /* not the OACK's ACK */
	/* Lost ACK 0: the OACK goes out again. */
	ck_assert(pt_tftp_xfer_on_timeout(&x, 1000));
	n = pt_tftp_xfer_next(&x, &p, pkt, sizeof pkt);
	ck_assert_uint_eq(pkt[1], PT_TFTP_OACK);
	ack(&x, 0, 1100, true);
	uint64_t first = 0;
	ck_assert_uint_eq(drain(&x, &p, &first), 1);
	ck_assert_uint_eq(first, 1);
	ck_assert_uint_eq(pkt[1], PT_TFTP_DATA);
}
END_TEST

START_TEST(client_error_ends_transfer)
{
	pt_tftp_params_t p = params(512, 1, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 100, &p, 3, 0);
	drain(&x, &p, NULL);
	/* Garbage is ignored, an ERROR is final. */
	ck_assert(!pt_tftp_xfer_on_packet(&x, (const uint8_t *)"\0\3\0\1", 4,
					  1));
	ck_assert_int_eq(x.state, PT_TFTP_XFER_SENDING);
	ck_assert(!pt_tftp_xfer_on_packet(&x, (const uint8_t *)"\0\5\0\0x\0",
					  6, 1));
	ck_assert_int_eq(x.state, PT_TFTP_XFER_FAILED);
}
END_TEST

START_TEST(windows_and_lost_packets)
{
	pt_tftp_params_t p = params(100, 4, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, content, 1050, &p, 5, 0); /* 11 blocks */
	ck_assert_uint_eq(x.last_block, 11);
	uint64_t first = 0;
	ck_assert_uint_eq(drain(&x, &p, &first), 4);
	ck_assert_uint_eq(first, 1);
	/* Block 3 was lost: the client acknowledges 2; the next window
	 * starts at 3. */
	ack(&x, 2, 10, true);
	ck_assert_uint_eq(drain(&x, &p, &first), 4);
	ck_assert_uint_eq(first, 3);
	ck_assert_uint_eq(x.retransmits, 2);
	ack(&x, 6, 20, true);
	ck_assert_uint_eq(drain(&x, &p, &first), 4);
	ck_assert_uint_eq(first, 7);
	ack(&x, 10, 30, true);
	ck_assert_uint_eq(drain(&x, &p, &first), 1); /* only block 11 left */
	ck_assert_uint_eq(first, 11);
	ack(&x, 11, 40, false);
	ck_assert_int_eq(x.state, PT_TFTP_XFER_DONE);
}
END_TEST

START_TEST(block_numbers_roll_over)
{
	/* 70000 bytes at blksize 1 would be slow to drain; use 8-byte blocks
	 * over a content that takes more than 65536 blocks. */
	static uint8_t big[8 * 70000];
	pt_tftp_params_t p = params(8, 1, false);
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, big, sizeof big, &p, 3, 0);
	ck_assert_uint_eq(x.last_block, 70001);
	for (uint64_t b = 1; b <= x.last_block; b++) {
		size_t n = pt_tftp_xfer_next(&x, &p, pkt, sizeof pkt);
		ck_assert_uint_gt(n, 3);
		ck_assert_uint_eq((uint16_t)((pkt[2] << 8) | pkt[3]),
				  (uint16_t)b);
		uint8_t a[4] = {0, PT_TFTP_ACK, (uint8_t)(b >> 8), (uint8_t)b};
		pt_tftp_xfer_on_packet(&x, a, 4, 0);
	}
	ck_assert_int_eq(x.state, PT_TFTP_XFER_DONE);
	ck_assert_uint_eq(x.retransmits, 0);
}
END_TEST

START_TEST(netascii)
{
	uint8_t out[32];
	const uint8_t in[] = "a\nb\rc\r\n";
	size_t n = pt_tftp_netascii_encode(in, sizeof in - 1, out, sizeof out);
	ck_assert_uint_eq(n, 11);
	ck_assert_mem_eq(out, "a\r\nb\r\0c\r\0\r\n", 11);
	ck_assert_uint_eq(pt_tftp_netascii_encode(in, sizeof in - 1, out, 10),
			  SIZE_MAX);
}
END_TEST

static Suite *tftp_xfer_suite(void)
{
	Suite *s = suite_create("tftp_xfer");
	TCase *tc = tcase_create("xfer");
	tcase_add_checked_fixture(tc, fill, NULL);
	tcase_add_test(tc, lockstep_transfer_ends_on_short_block);
	tcase_add_test(tc, duplicate_acks_never_resend);
	tcase_add_test(tc, timeouts_resend_then_fail);
	tcase_add_test(tc, ack_resets_the_retry_count);
	tcase_add_test(tc, oack_waits_for_ack_zero);
	tcase_add_test(tc, client_error_ends_transfer);
	tcase_add_test(tc, windows_and_lost_packets);
	tcase_add_test(tc, block_numbers_roll_over);
	tcase_add_test(tc, netascii);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(tftp_xfer_suite());
}
