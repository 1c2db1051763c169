#include "lib/tftp_xfer.h"

#include <string.h>

#include "lib/errors.h"

uint64_t pt_tftp_block_count(size_t len, uint32_t blksize)
{
	return (uint64_t)(len / blksize) + 1;
}

static void schedule_window(pt_tftp_xfer_t *x, int64_t now_ms)
{
	uint64_t to = x->acked + x->windowsize;
	x->send_from = x->acked + 1;
	x->send_to = to < x->last_block ? to : x->last_block;
	x->deadline_ms = now_ms + x->timeout_ms;
}

void pt_tftp_xfer_start(pt_tftp_xfer_t *x, const uint8_t *data, size_t len,
			const pt_tftp_params_t *params, uint32_t max_retries,
			int64_t now_ms)
{
	memset(x, 0, sizeof *x);
	x->data = data;
	x->len = len;
	x->blksize = params->blksize;
	x->windowsize = params->windowsize ? params->windowsize : 1;
	x->timeout_ms = (params->timeout ? params->timeout : 1) * 1000u;
	x->max_retries = max_retries;
	x->last_block = pt_tftp_block_count(len, x->blksize);
	x->state = PT_TFTP_XFER_SENDING;
	if (params->oack) {
		x->oack = true;
		x->send_oack = true;
		x->send_from = 1;
		x->send_to = 0;
		x->deadline_ms = now_ms + x->timeout_ms;
	} else {
		schedule_window(x, now_ms);
	}
}

size_t pt_tftp_xfer_next(pt_tftp_xfer_t *x, const pt_tftp_params_t *params,
			 uint8_t *buf, size_t cap)
{
	if (x->state != PT_TFTP_XFER_SENDING)
		return 0;
	if (x->send_oack) {
		x->send_oack = false;
		return pt_tftp_oack_build(buf, cap, params);
	}
	if (x->send_from > x->send_to)
		return 0;
	uint64_t b = x->send_from;
	size_t off = (size_t)(b - 1) * x->blksize;
	size_t n = x->len - off < x->blksize ? x->len - off : x->blksize;
	size_t out = pt_tftp_data_build(buf, cap, (uint16_t)b, x->data + off,
					n);
	if (out == 0)
		return 0;
	x->send_from++;
	if (b > x->sent)
		x->sent = b;
	else
		x->retransmits++;
	return out;
}

bool pt_tftp_xfer_on_packet(pt_tftp_xfer_t *x, const uint8_t *pkt,
			    size_t len, int64_t now_ms)
{
	pt_tftp_reply_t r;
	if (x->state != PT_TFTP_XFER_SENDING)
		return false;
	if (pt_tftp_reply_parse(pkt, len, &r) != PT_OK)
		return false;
	if (r.opcode == PT_TFTP_ERROR) {
		x->state = PT_TFTP_XFER_FAILED;
		return false;
	}
	if (x->oack) {
		if (r.block != 0)
			return false;
		x->oack = false;
		x->retries = 0;
		schedule_window(x, now_ms);
		return true;
	}
	/* The ACK names a block sent at most 65535 blocks ago: count back
	 * from the highest block sent. */
	uint16_t back = (uint16_t)((uint16_t)x->sent - r.block);
	if (back > x->sent)
		return false;
	uint64_t a = x->sent - back;
	if (a <= x->acked)
		return false; /* old or duplicate: never resend on it */
	x->acked = a;
	x->retries = 0;
	if (x->acked == x->last_block) {
		x->state = PT_TFTP_XFER_DONE;
		x->send_from = 1;
		x->send_to = 0;
		return false;
	}
	schedule_window(x, now_ms);
	return true;
}

bool pt_tftp_xfer_on_timeout(pt_tftp_xfer_t *x, int64_t now_ms)
{
	if (x->state != PT_TFTP_XFER_SENDING)
		return false;
	if (++x->retries > x->max_retries) {
		x->state = PT_TFTP_XFER_FAILED;
		return false;
	}
	if (x->oack) {
		x->send_oack = true;
		x->retransmits++;
		x->deadline_ms = now_ms + x->timeout_ms;
	} else {
		schedule_window(x, now_ms);
	}
	return true;
}

size_t pt_tftp_netascii_encode(const uint8_t *in, size_t len, uint8_t *out,
			       size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		size_t need = (c == '\n' || c == '\r') ? 2 : 1;
		if (cap - o < need)
			return SIZE_MAX;
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else if (c == '\r') {
			out[o++] = '\r';
			out[o++] = '\0';
		} else {
			out[o++] = c;
		}
	}
	return o;
}
