/* Every datagram a phone receives during a fetch goes through the TFTP
 * client state machine.  The input is a run of datagrams, each prefixed
 * by one length byte (0xff: the retransmission timer fires instead); the
 * first byte picks the options asked for.  Nothing may crash, hang or read
 * out of bounds, and the client must never hold more than its cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/errors.h"
#include "lib/tftp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PT_TFTP_SMALL_PACKET_MAX];
	if (size < 1)
		return 0;
	uint8_t pick = data[0];
	pt_tftp_client_opts_t o = {
		.blksize = pick & 1 ? 16 : 0,
		.windowsize = pick & 2 ? 4 : 0,
		.timeout = pick & 4 ? 3 : 0,
		.tsize = (pick & 8) != 0,
		.max_retries = 3,
		.max_size = 4096,
	};
	pt_tftp_client_t c;
	int64_t now = 0;
	if (pt_tftp_client_init(&c, "SEP001122334455.cnf.xml.sgn", &o, now) !=
	    PT_OK)
		__builtin_trap();
	size_t off = 1;
	while (off < size) {
		size_t n = data[off++];
		while (pt_tftp_client_next(&c, out, sizeof out) > 0)
			;
		if (n == 0xff) {
			now = c.deadline_ms;
			pt_tftp_client_on_timeout(&c, now);
			continue;
		}
		if (n > size - off)
			n = size - off;
		pt_tftp_client_on_packet(&c, data + off, n, ++now);
		off += n;
		if (c.len > o.max_size || c.len > c.cap ||
		    c.blksize > (o.blksize > 512u ? o.blksize : 512u))
			__builtin_trap();
	}
	uint8_t *file = NULL;
	size_t len = 0;
	if (pt_tftp_client_get_data(&c, &file, &len) == PT_OK) {
		if (!file || len > o.max_size)
			__builtin_trap();
		free(file);
	}
	pt_tftp_client_clear(&c);
	return 0;
}
