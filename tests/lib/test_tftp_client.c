/* The TFTP client state machine: option negotiation, servers that ignore
 * options or refuse them, lost, duplicated and reordered blocks, windows,
 * block-number rollover, errors, timeouts and the size cap; and whole
 * transfers against the server's state machine (tftp_xfer) over a
 * simulated network that loses, duplicates and reorders datagrams. */
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/tftp_client.h"
#include "lib/tftp_xfer.h"
#include "pt_test.h"

static uint8_t content[600000];
static uint8_t pkt[PT_TFTP_PACKET_MAX];

static void fill(void)
{
	for (size_t i = 0; i < sizeof content; i++)
		content[i] = (uint8_t)(i * 13 + (i >> 9));
}

/* DATA block (16-bit number) carrying content[off, off + n). */
static void data(pt_tftp_client_t *c, uint16_t block, size_t off, size_t n,
		 int64_t now)
{
	size_t len = pt_tftp_data_build(pkt, sizeof pkt, block, content + off,
					n);
	ck_assert_uint_gt(len, 0);
	pt_tftp_client_on_packet(c, pkt, len, now);
}

static void raw(pt_tftp_client_t *c, const void *p, size_t n, int64_t now)
{
	pt_tftp_client_on_packet(c, p, n, now);
}

/* The pending packet must be ACK block; false when none is pending. */
static bool next_ack(pt_tftp_client_t *c, uint16_t *block)
{
	size_t n = pt_tftp_client_next(c, pkt, sizeof pkt);
	if (n == 0)
		return false;
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(pkt[1], PT_TFTP_ACK);
	*block = (uint16_t)((pkt[2] << 8) | pkt[3]);
	return true;
}

static void expect_ack(pt_tftp_client_t *c, uint16_t want)
{
	uint16_t b = 0;
	ck_assert_msg(next_ack(c, &b), "no ACK pending");
	ck_assert_uint_eq(b, want);
}

static void expect_nothing(pt_tftp_client_t *c)
{
	ck_assert_uint_eq(pt_tftp_client_next(c, pkt, sizeof pkt), 0);
}

static void expect_rrq(pt_tftp_client_t *c, const void *want, size_t len)
{
	ck_assert_int_eq(c->pending, PT_TFTP_CLIENT_SEND_RRQ);
	size_t n = pt_tftp_client_next(c, pkt, sizeof pkt);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(pkt, want, len);
}

static void expect_error(pt_tftp_client_t *c, uint16_t code)
{
	ck_assert_int_eq(c->pending, PT_TFTP_CLIENT_SEND_ERROR);
	size_t n = pt_tftp_client_next(c, pkt, sizeof pkt);
	ck_assert_uint_ge(n, 5);
	ck_assert_uint_eq(pkt[1], PT_TFTP_ERROR);
	ck_assert_uint_eq((pkt[2] << 8) | pkt[3], code);
	ck_assert_uint_eq(pkt[n - 1], 0);
}

static void expect_file(pt_tftp_client_t *c, size_t len)
{
	uint8_t *got = NULL;
	size_t got_len = 99;
	ck_assert_int_eq(c->state, PT_TFTP_CLIENT_DONE);
	ck_assert_int_eq(pt_tftp_client_get_data(c, &got, &got_len), PT_OK);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got_len, len);
	if (len)
		ck_assert_mem_eq(got, content, len);
	free(got);
	ck_assert_int_eq(pt_tftp_client_get_data(c, &got, &got_len),
			 PT_ERR_INVALID);
}

static const uint8_t plain_rrq[] = "\0\1SEP001122334455.cnf.xml.sgn\0octet";

START_TEST(no_options_lockstep)
{
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "SEP001122334455.cnf.xml.sgn",
					     NULL, 0),
			 PT_OK);
	ck_assert_int_eq(c.deadline_ms, 1000);
	expect_rrq(&c, plain_rrq, sizeof plain_rrq);
	expect_nothing(&c);
	data(&c, 1, 0, 512, 10);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_RECEIVING);
	expect_ack(&c, 1);
	ck_assert_int_eq(c.deadline_ms, 1010);
	data(&c, 2, 512, 512, 20);
	expect_ack(&c, 2);
	data(&c, 3, 1024, 100, 30);
	expect_ack(&c, 3);
	ck_assert(!c.oack);
	ck_assert_uint_eq(c.retransmits + c.duplicates + c.ignored, 0);
	expect_file(&c, 1124);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(exact_multiple_ends_with_an_empty_block)
{
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 512, 1);
	expect_ack(&c, 1);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_RECEIVING);
	data(&c, 2, 512, 0, 2);
	expect_ack(&c, 2);
	expect_file(&c, 512);
	pt_tftp_client_clear(&c);

	/* An empty file: one empty block; the buffer handed over is still
	 * not NULL. */
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 0, 1);
	expect_ack(&c, 1);
	expect_file(&c, 0);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(oack_negotiated)
{
	static const uint8_t want[] = "\0\1CTLFile.tlv\0octet\0blksize\0"
				      "1428\0tsize\0000\0timeout\0002\0"
				      "windowsize\0004";
	static const uint8_t oack[] = "\0\6blksize\0001024\0TSIZE\0003000\0"
				      "timeout\0002\0windowsize\0002";
	pt_tftp_client_opts_t o = {.blksize = 1428, .tsize = true,
				   .timeout = 2, .windowsize = 4};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "CTLFile.tlv", &o, 0), PT_OK);
	ck_assert_uint_eq(c.retry_ms, 2000);
	expect_rrq(&c, want, sizeof want);
	raw(&c, oack, sizeof oack, 5);
	ck_assert(c.oack);
	ck_assert_uint_eq(c.blksize, 1024); /* lowered by the server */
	ck_assert_uint_eq(c.windowsize, 2);
	ck_assert(c.has_tsize);
	ck_assert_uint_eq(c.tsize, 3000);
	ck_assert_uint_ge(c.cap, 3000); /* allocated once */
	expect_ack(&c, 0);
	data(&c, 1, 0, 1024, 6);
	expect_nothing(&c); /* window of two */
	data(&c, 2, 1024, 1024, 7);
	expect_ack(&c, 2);
	data(&c, 3, 2048, 952, 8);
	expect_ack(&c, 3);
	expect_file(&c, 3000);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(server_ignoring_options)
{
	pt_tftp_client_opts_t o = {.blksize = 1428, .windowsize = 8,
				   .tsize = true};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "ITLFile.tlv", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	/* DATA 1 straight away: 512-byte blocks, one per window. */
	data(&c, 1, 0, 512, 3);
	ck_assert(!c.oack);
	ck_assert_uint_eq(c.blksize, 512);
	ck_assert_uint_eq(c.windowsize, 1);
	expect_ack(&c, 1);
	data(&c, 2, 512, 7, 4);
	expect_ack(&c, 2);
	expect_file(&c, 519);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(server_refusing_options)
{
	static const uint8_t err8[] = "\0\5\0\10no options here";
	static const uint8_t bare[] = "\0\1f\0octet";
	pt_tftp_client_opts_t o = {.blksize = 1428};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, err8, sizeof err8, 10);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_REQUESTING);
	expect_rrq(&c, bare, sizeof bare);
	/* Refused again: now it is an error. */
	raw(&c, err8, sizeof err8, 20);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.server_error, 8);
	expect_nothing(&c);
	pt_tftp_client_clear(&c);
}
END_TEST

/* An OACK the client must refuse, with ERROR 8 (or 3 for the size). */
static void refuse_oack(const pt_tftp_client_opts_t *o, const void *oack,
			size_t len, uint16_t code, int err)
{
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, oack, len, 1);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, err);
	ck_assert_int_eq(c.server_error, -1);
	ck_assert(c.why[0] != '\0');
	expect_error(&c, code);
	expect_nothing(&c);
	/* Nothing later revives it. */
	data(&c, 1, 0, 10, 2);
	expect_nothing(&c);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	pt_tftp_client_clear(&c);
}

START_TEST(bad_oacks_refused)
{
	pt_tftp_client_opts_t o = {.blksize = 1024, .timeout = 3,
				   .tsize = true, .max_size = 5000};
	pt_tftp_client_opts_t bare = {0};
	static const uint8_t bigger[] = "\0\6blksize\0002048";
	static const uint8_t tiny[] = "\0\6blksize\0007";
	static const uint8_t unasked[] = "\0\6windowsize\0004";
	static const uint8_t other_timeout[] = "\0\6timeout\0005";
	static const uint8_t twice[] = "\0\6blksize\000512\0blksize\000512";
	static const uint8_t not_number[] = "\0\6blksize\0001k";
	static const uint8_t unterminated[] = {0, 6, 'b', 'l', 'k'};
	static const uint8_t too_big[] = "\0\6tsize\0005001";
	static const uint8_t any[] = "\0\6blksize\000512";
	refuse_oack(&o, bigger, sizeof bigger, 8, PT_ERR_MALFORMED);
	refuse_oack(&o, tiny, sizeof tiny, 8, PT_ERR_MALFORMED);
	refuse_oack(&o, unasked, sizeof unasked, 8, PT_ERR_MALFORMED);
	refuse_oack(&o, other_timeout, sizeof other_timeout, 8,
		    PT_ERR_MALFORMED);
	refuse_oack(&o, twice, sizeof twice, 8, PT_ERR_MALFORMED);
	refuse_oack(&o, not_number, sizeof not_number, 8, PT_ERR_MALFORMED);
	refuse_oack(&o, unterminated, sizeof unterminated, 8,
		    PT_ERR_MALFORMED);
	refuse_oack(&o, too_big, sizeof too_big, 3, PT_ERR_TOO_LARGE);
	/* An OACK to a request that asked for nothing. */
	refuse_oack(&bare, any, sizeof any, 8, PT_ERR_MALFORMED);
}
END_TEST

START_TEST(server_errors)
{
	static const uint8_t e1[] = "\0\5\0\1no such \x01" "file";
	static const uint8_t e2[] = {0, 5, 0, 2}; /* no message, no NUL */
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "x", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, e1, sizeof e1, 1);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, PT_ERR_NOT_FOUND);
	ck_assert_int_eq(c.server_error, 1);
	ck_assert_ptr_nonnull(strstr(c.why, "File not found"));
	ck_assert_ptr_nonnull(strstr(c.why, "no such ?file"));
	expect_nothing(&c); /* no ERROR answers an ERROR */
	pt_tftp_client_clear(&c);

	/* In the middle of a transfer. */
	ck_assert_int_eq(pt_tftp_client_init(&c, "x", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 512, 1);
	expect_ack(&c, 1);
	raw(&c, e2, sizeof e2, 2);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, PT_ERR_DENIED);
	ck_assert_int_eq(c.server_error, 2);
	uint8_t *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_tftp_client_get_data(&c, &out, &len),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(out);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(request_retransmitted_then_given_up)
{
	pt_tftp_client_opts_t o = {.max_retries = 2, .retry_ms = 300};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	expect_rrq(&c, "\0\1f\0octet", 10);
	ck_assert_int_eq(c.deadline_ms, 300);
	ck_assert(pt_tftp_client_on_timeout(&c, 300));
	expect_rrq(&c, "\0\1f\0octet", 10);
	ck_assert_int_eq(c.deadline_ms, 600);
	ck_assert(pt_tftp_client_on_timeout(&c, 600));
	expect_rrq(&c, "\0\1f\0octet", 10);
	ck_assert(!pt_tftp_client_on_timeout(&c, 900));
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, PT_ESYS(ETIMEDOUT));
	ck_assert_uint_eq(c.retransmits, 2);
	ck_assert_ptr_nonnull(strstr(c.why, "no answer"));
	expect_nothing(&c);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(lost_block_and_lost_ack)
{
	pt_tftp_client_opts_t o = {.max_retries = 3};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 512, 100);
	expect_ack(&c, 1);
	/* Block 2 is lost: the client sends ACK 1 again when its timer
	 * runs out. */
	ck_assert(pt_tftp_client_on_timeout(&c, 1100));
	expect_ack(&c, 1);
	ck_assert_uint_eq(c.retransmits, 1);
	ck_assert_uint_eq(c.retries, 1);
	data(&c, 2, 512, 512, 1200);
	expect_ack(&c, 2);
	ck_assert_uint_eq(c.retries, 0); /* progress resets the count */
	/* ACK 2 is lost: the server sends block 2 again; it is answered
	 * once, not appended. */
	data(&c, 2, 512, 512, 2200);
	expect_ack(&c, 2);
	data(&c, 2, 512, 512, 2300);
	expect_nothing(&c);
	ck_assert_uint_eq(c.duplicates, 2);
	data(&c, 3, 1024, 10, 2400);
	expect_ack(&c, 3);
	expect_file(&c, 1034);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(receiving_gives_up_with_an_error)
{
	pt_tftp_client_opts_t o = {.max_retries = 1};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 512, 0);
	expect_ack(&c, 1);
	ck_assert(pt_tftp_client_on_timeout(&c, 1000));
	expect_ack(&c, 1);
	ck_assert(pt_tftp_client_on_timeout(&c, 2000));
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, PT_ESYS(ETIMEDOUT));
	expect_error(&c, 0);
	ck_assert(!pt_tftp_client_on_timeout(&c, 3000));
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(final_ack_lost)
{
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 20, 0);
	expect_ack(&c, 1);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_DONE);
	/* The server did not get it and sends the last block again. */
	data(&c, 1, 0, 20, 1000);
	expect_ack(&c, 1);
	data(&c, 7, 0, 20, 1000);
	expect_nothing(&c);
	ck_assert(!pt_tftp_client_on_timeout(&c, 5000));
	expect_file(&c, 20);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(duplicate_oack)
{
	static const uint8_t oack[] = "\0\6blksize\000100";
	pt_tftp_client_opts_t o = {.blksize = 100};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, oack, sizeof oack, 1);
	expect_ack(&c, 0);
	raw(&c, oack, sizeof oack, 900); /* ACK 0 was lost */
	expect_ack(&c, 0);
	ck_assert_uint_eq(c.duplicates, 1);
	data(&c, 1, 0, 100, 950);
	expect_ack(&c, 1);
	raw(&c, oack, sizeof oack, 960); /* too late to matter */
	expect_nothing(&c);
	data(&c, 2, 100, 5, 970);
	expect_ack(&c, 2);
	expect_file(&c, 105);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(window_with_a_gap)
{
	static const uint8_t oack[] = "\0\6blksize\000100\0windowsize\0004";
	pt_tftp_client_opts_t o = {.blksize = 100, .windowsize = 4};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, oack, sizeof oack, 0);
	expect_ack(&c, 0);
	for (uint16_t b = 1; b <= 4; b++) {
		data(&c, b, (size_t)(b - 1) * 100, 100, b);
		if (b < 4)
			expect_nothing(&c);
	}
	expect_ack(&c, 4);
	/* Block 5 is lost; 6 and 7 arrive: ACK 4 once, so the server
	 * starts again at 5 (RFC 7440). */
	data(&c, 6, 500, 100, 10);
	expect_ack(&c, 4);
	data(&c, 7, 600, 100, 11);
	expect_nothing(&c);
	ck_assert_uint_eq(c.out_of_order, 2);
	/* Block 3 again (a late duplicate) gets no answer either. */
	data(&c, 3, 200, 100, 12);
	expect_nothing(&c);
	for (uint16_t b = 5; b <= 8; b++)
		data(&c, b, (size_t)(b - 1) * 100, 100, 20 + b);
	expect_ack(&c, 8);
	/* After progress, disorder is answered again. */
	data(&c, 8, 700, 100, 40);
	expect_ack(&c, 8);
	data(&c, 9, 800, 42, 41);
	expect_ack(&c, 9);
	expect_file(&c, 842);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(block_numbers_roll_over)
{
	/* 8-byte blocks: 65540 of them cross block 65535 and go on at 0. */
	static const uint8_t oack[] = "\0\6blksize\0008";
	const size_t len = 65540u * 8u + 3u;
	pt_tftp_client_opts_t o = {.blksize = 8};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "big", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, oack, sizeof oack, 0);
	expect_ack(&c, 0);
	for (uint64_t b = 1; b <= 65541; b++) {
		size_t off = (size_t)(b - 1) * 8;
		size_t n = len - off < 8 ? len - off : 8;
		data(&c, (uint16_t)b, off, n, 1);
		expect_ack(&c, (uint16_t)b);
		if (b == 65536) {
			/* Block 65535 again now lies behind: a duplicate,
			 * not block 65536+65535. */
			data(&c, 65535, 0, 8, 1);
			expect_ack(&c, 0);
			ck_assert_uint_eq(c.duplicates, 1);
		}
	}
	ck_assert_uint_eq(c.received, 65541);
	expect_file(&c, len);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(size_cap_and_oversized_blocks)
{
	pt_tftp_client_opts_t o = {.max_size = 1000};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 512, 0);
	expect_ack(&c, 1);
	data(&c, 2, 512, 512, 0);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, PT_ERR_TOO_LARGE);
	expect_error(&c, 3);
	pt_tftp_client_clear(&c);

	/* A block longer than the block size in force. */
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	data(&c, 1, 0, 513, 0);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_int_eq(c.err, PT_ERR_MALFORMED);
	expect_error(&c, 4);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(announced_size_must_match)
{
	static const uint8_t oack[] = "\0\6tsize\000600";
	pt_tftp_client_opts_t o = {.tsize = true};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &o, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, oack, sizeof oack, 0);
	expect_ack(&c, 0);
	data(&c, 1, 0, 512, 0);
	expect_ack(&c, 1);
	data(&c, 2, 512, 10, 0);
	/* The transfer ended (its last ACK goes out) but the file is not
	 * what was announced. */
	expect_ack(&c, 2);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	ck_assert_ptr_nonnull(strstr(c.why, "announced"));
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(stray_and_malformed_packets_ignored)
{
	static const uint8_t one[] = {0};
	static const uint8_t ack[] = {0, 4, 0, 1};
	static const uint8_t rrq[] = "\0\1f\0octet";
	static const uint8_t odd[] = {0, 9, 1, 2};
	static const uint8_t short_data[] = {0, 3, 0};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", NULL, 0), PT_OK);
	pt_tftp_client_next(&c, pkt, sizeof pkt);
	raw(&c, one, sizeof one, 0);
	raw(&c, ack, sizeof ack, 0);
	raw(&c, rrq, sizeof rrq, 0);
	raw(&c, odd, sizeof odd, 0);
	raw(&c, short_data, sizeof short_data, 0);
	data(&c, 2, 0, 10, 0); /* not block 1: not the start */
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_REQUESTING);
	ck_assert_uint_eq(c.ignored, 6);
	expect_nothing(&c);
	data(&c, 1, 0, 10, 0);
	expect_ack(&c, 1);
	expect_file(&c, 10);
	pt_tftp_client_clear(&c);
}
END_TEST

START_TEST(bad_arguments)
{
	char longname[PT_TFTP_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	pt_tftp_client_opts_t small = {.blksize = 7};
	pt_tftp_client_opts_t wide = {.windowsize = 65536};
	pt_tftp_client_opts_t slow = {.timeout = 256};
	pt_tftp_client_t c;
	ck_assert_int_eq(pt_tftp_client_init(&c, "", NULL, 0), PT_ERR_INVALID);
	ck_assert_int_eq(pt_tftp_client_init(&c, NULL, NULL, 0),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_tftp_client_init(&c, longname, NULL, 0),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &small, 0),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &wide, 0),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_tftp_client_init(&c, "f", &slow, 0),
			 PT_ERR_INVALID);
	ck_assert_int_eq(c.state, PT_TFTP_CLIENT_FAILED);
	expect_nothing(&c);
	pt_tftp_client_clear(&c);
	/* The longest name still fits the RRQ buffer with every option. */
	longname[PT_TFTP_NAME_MAX] = '\0';
	pt_tftp_client_opts_t all = {.blksize = 65464, .windowsize = 65535,
				     .timeout = 255, .tsize = true};
	ck_assert_int_eq(pt_tftp_client_init(&c, longname, &all, 0), PT_OK);
	uint8_t buf[PT_TFTP_CLIENT_RRQ_MAX];
	ck_assert_uint_gt(pt_tftp_client_next(&c, buf, sizeof buf), 0);
	pt_tftp_client_clear(&c);
}
END_TEST

/* ---- whole transfers against the server's state machine ---- */

/* A datagram in flight: delivered at `at` (virtual milliseconds). */
typedef struct flight {
	uint8_t bytes[1500];
	size_t len;
	int64_t at;
	bool to_server;
} flight_t;

typedef struct net {
	flight_t q[4096];
	size_t n;
	uint64_t rng;
	unsigned loss, dup, delay; /* percent */
} net_t;

static unsigned roll(net_t *net)
{
	net->rng = net->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((net->rng >> 33) % 100);
}

/* Sends a datagram through the network: maybe lost, maybe twice, each
 * copy delayed by 1 ms, or by 1-40 ms (which reorders). */
static void send_dgram(net_t *net, const uint8_t *p, size_t len, int64_t now,
		       bool to_server)
{
	int copies = roll(net) < net->loss ? 0 : roll(net) < net->dup ? 2 : 1;
	for (int i = 0; i < copies && net->n < 4096; i++) {
		flight_t *f = &net->q[net->n++];
		ck_assert_uint_le(len, sizeof f->bytes);
		memcpy(f->bytes, p, len);
		f->len = len;
		f->to_server = to_server;
		f->at = now + 1 + (roll(net) < net->delay ? roll(net) % 40 : 0);
	}
}

/* Removes and returns the earliest datagram due by `until`, if any. */
static bool due(net_t *net, int64_t until, flight_t *out)
{
	size_t best = net->n;
	for (size_t i = 0; i < net->n; i++)
		if (net->q[i].at <= until &&
		    (best == net->n || net->q[i].at < net->q[best].at))
			best = i;
	if (best == net->n)
		return false;
	*out = net->q[best];
	net->q[best] = net->q[--net->n];
	return true;
}

/* Runs one transfer of len bytes; returns whether the client got it. */
static bool transfer(size_t len, uint32_t blksize, uint32_t window,
		     unsigned loss, unsigned dup, unsigned delay, uint64_t seed,
		     pt_tftp_client_t *c)
{
	static net_t net;
	static flight_t f;
	static uint8_t buf[PT_TFTP_PACKET_MAX];
	memset(&net, 0, sizeof net);
	net.rng = seed;
	net.loss = loss;
	net.dup = dup;
	net.delay = delay;

	pt_tftp_client_opts_t o = {.blksize = blksize, .windowsize = window,
				   .tsize = true, .retry_ms = 200,
				   .max_retries = 30};
	int64_t now = 0;
	ck_assert_int_eq(pt_tftp_client_init(c, "file", &o, now), PT_OK);
	pt_tftp_xfer_t x;
	pt_tftp_params_t p;
	bool server_started = false;
	for (int steps = 0; steps < 2000000; steps++) {
		size_t n;
		while ((n = pt_tftp_client_next(c, buf, sizeof buf)) > 0)
			send_dgram(&net, buf, n, now, true);
		if (server_started)
			while ((n = pt_tftp_xfer_next(&x, &p, buf,
						      sizeof buf)) > 0)
				send_dgram(&net, buf, n, now, false);
		bool client_live = c->state == PT_TFTP_CLIENT_REQUESTING ||
				   c->state == PT_TFTP_CLIENT_RECEIVING;
		bool server_live = server_started &&
				   x.state == PT_TFTP_XFER_SENDING;
		if (!client_live && (!server_live || net.n == 0))
			break;
		int64_t next = client_live ? c->deadline_ms : INT64_MAX;
		if (server_live && x.deadline_ms < next)
			next = x.deadline_ms;
		if (due(&net, next, &f)) {
			now = f.at > now ? f.at : now;
			if (!f.to_server) {
				pt_tftp_client_on_packet(c, f.bytes, f.len, now);
			} else if (f.bytes[1] == PT_TFTP_RRQ) {
				/* A repeated request would start a second
				 * transfer on another port, which the client
				 * refuses; one is modelled. */
				if (server_started)
					continue;
				pt_tftp_request_t req;
				pt_tftp_limits_t lim = {.blksize_max = 65464,
							.windowsize_max = 64,
							.timeout_default = 1};
				ck_assert_int_eq(pt_tftp_request_parse(
							 f.bytes, f.len, &req,
							 NULL),
						 PT_OK);
				pt_tftp_negotiate(&req, &lim, len, &p);
				p.timeout = 1;
				pt_tftp_xfer_start(&x, content, len, &p, 30,
						   now);
				x.timeout_ms = 150;
				x.deadline_ms = now + 150;
				server_started = true;
			} else if (server_started) {
				pt_tftp_xfer_on_packet(&x, f.bytes, f.len, now);
			}
			continue;
		}
		if (next == INT64_MAX)
			break;
		now = next > now ? next : now;
		if (client_live && now >= c->deadline_ms)
			pt_tftp_client_on_timeout(c, now);
		if (server_live && now >= x.deadline_ms)
			pt_tftp_xfer_on_timeout(&x, now);
	}
	return c->state == PT_TFTP_CLIENT_DONE;
}

START_TEST(transfers_over_a_bad_network)
{
	static const struct {
		size_t len;
		uint32_t blksize, window;
		unsigned loss, dup, delay;
	} cases[] = {
		{5000, 512, 1, 0, 0, 0},     {5000, 512, 1, 10, 10, 10},
		{40000, 1428, 1, 20, 5, 30}, {40000, 1428, 8, 10, 10, 30},
		{100000, 1000, 16, 5, 5, 50}, {1400, 1400, 4, 30, 30, 30},
		{0, 512, 1, 20, 20, 20},     {600000, 1024, 32, 2, 2, 10},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t trouble = 0;
		for (uint64_t seed = 1; seed <= 6; seed++) {
			pt_tftp_client_t c;
			bool ok = transfer(cases[i].len, cases[i].blksize,
					   cases[i].window, cases[i].loss,
					   cases[i].dup, cases[i].delay,
					   seed * 7919 + i, &c);
			ck_assert_msg(ok, "case %zu seed %llu: %s", i,
				      (unsigned long long)seed, c.why);
			if (cases[i].loss == 0)
				ck_assert_uint_eq(c.retransmits, 0);
			trouble += c.retransmits + c.duplicates +
				   c.out_of_order;
			expect_file(&c, cases[i].len);
			pt_tftp_client_clear(&c);
		}
		/* The network did misbehave where it was told to. */
		if (cases[i].loss || cases[i].dup)
			ck_assert_uint_gt(trouble, 0);
	}
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("tftp_client");
	TCase *tc = tcase_create("client");
	tcase_add_unchecked_fixture(tc, fill, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, no_options_lockstep);
	tcase_add_test(tc, exact_multiple_ends_with_an_empty_block);
	tcase_add_test(tc, oack_negotiated);
	tcase_add_test(tc, server_ignoring_options);
	tcase_add_test(tc, server_refusing_options);
	tcase_add_test(tc, bad_oacks_refused);
	tcase_add_test(tc, server_errors);
	tcase_add_test(tc, request_retransmitted_then_given_up);
	tcase_add_test(tc, lost_block_and_lost_ack);
	tcase_add_test(tc, receiving_gives_up_with_an_error);
	tcase_add_test(tc, final_ack_lost);
	tcase_add_test(tc, duplicate_oack);
	tcase_add_test(tc, window_with_a_gap);
	tcase_add_test(tc, block_numbers_roll_over);
	tcase_add_test(tc, size_cap_and_oversized_blocks);
	tcase_add_test(tc, announced_size_must_match);
	tcase_add_test(tc, stray_and_malformed_packets_ignored);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, transfers_over_a_bad_network);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(client_suite());
}
