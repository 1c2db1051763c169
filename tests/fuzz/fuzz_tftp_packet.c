/* Every datagram that reaches the TFTP port goes through the request
 * parser and the name check; every datagram on a transfer's port goes to
 * the transfer state machine.  None of them may crash, hang or read out
 * of bounds, and a transfer must never send data beyond its file. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/tftp_packet.h"
#include "lib/tftp_xfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t file[3000];
	static uint8_t out[PT_TFTP_PACKET_MAX];
	pt_tftp_request_t req;
	const char *why = NULL;

	if (pt_tftp_request_parse(data, size, &req, &why) == PT_OK) {
		(void)pt_tftp_name_check(req.name, req.name_len, &why);
		pt_tftp_limits_t lim = {.blksize_max = 1468,
					.windowsize_max = 8,
					.timeout_default = 1};
		pt_tftp_params_t p;
		pt_tftp_negotiate(&req, &lim, sizeof file, &p);
		if (p.blksize < PT_TFTP_BLKSIZE_MIN ||
		    p.blksize > lim.blksize_max || p.windowsize > 8 ||
		    pt_tftp_oack_build(out, PT_TFTP_SMALL_PACKET_MAX, &p) == 0)
			__builtin_trap();
	}

	/* The same bytes as a run of client packets (4-byte chunks) against
	 * a transfer in progress. */
	pt_tftp_params_t p = {.blksize = 16, .windowsize = 3, .timeout = 1};
	pt_tftp_xfer_t x;
	pt_tftp_xfer_start(&x, file, 100, &p, 3, 0);
	int64_t now = 0;
	for (size_t off = 0; off + 4 <= size; off += 4) {
		size_t n;
		while ((n = pt_tftp_xfer_next(&x, &p, out, sizeof out)) > 0)
			if (n > 4 + p.blksize)
				__builtin_trap();
		if (data[off] == 0xff)
			pt_tftp_xfer_on_timeout(&x, now += 1000);
		else
			pt_tftp_xfer_on_packet(&x, data + off, 4, now);
		if (x.acked > x.last_block || x.sent > x.last_block)
			__builtin_trap();
	}
	return 0;
}
