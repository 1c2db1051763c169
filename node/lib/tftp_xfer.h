/* The sending side of one TFTP read transfer, as a pure state machine.
 *
 * The I/O layer feeds it events (start, a client reply, a timer firing)
 * with the current monotonic time and asks it what to send: the OACK, or
 * a window of DATA blocks.  Block numbers are kept as 64-bit counts and
 * sent modulo 2^16, so files of more than 65535 blocks roll over to block
 * 0 as common clients (tftp-hpa, atftp, curl) expect.
 *
 * Retransmission happens on timeout only.  A duplicate or old ACK never
 * triggers a resend: answering each duplicate ACK with a new DATA packet
 * is the sorcerer's apprentice bug (RFC 1123 4.2.3.1), which doubles the
 * traffic after every delayed packet.  With a window above one block
 * (RFC 7440), an ACK for a block inside the window starts the next window
 * right after that block.
 *
 * No sockets, clocks or allocation: the content is borrowed and must stay
 * alive and unchanged until the transfer ends.
 */
#ifndef PT_LIB_TFTP_XFER_H
#define PT_LIB_TFTP_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tftp_packet.h"

typedef enum pt_tftp_xfer_state {
	PT_TFTP_XFER_SENDING = 0, /* waiting for an ACK */
	PT_TFTP_XFER_DONE = 1,    /* the last block was acknowledged */
	PT_TFTP_XFER_FAILED = 2,  /* retries exhausted or the client quit */
} pt_tftp_xfer_state_t;

typedef struct pt_tftp_xfer {
	const uint8_t *data; /* the bytes to send (netascii already applied) */
	size_t len;
	uint32_t blksize;
	uint32_t windowsize;
	uint32_t timeout_ms;
	uint32_t max_retries;
	bool oack;           /* the OACK is outstanding (ACK 0 expected) */
	uint64_t last_block; /* number of the final (short) block */
	uint64_t acked;      /* highest block acknowledged */
	uint64_t sent;       /* highest block sent */
	uint64_t send_from;  /* first block of the window to (re)send */
	uint64_t send_to;    /* last block of it; send_from > send_to: none */
	bool send_oack;      /* the OACK is to be (re)sent */
	uint32_t retries;
	int64_t deadline_ms; /* when the current wait times out */
	pt_tftp_xfer_state_t state;
	uint64_t retransmits; /* packets sent again, for statistics */
} pt_tftp_xfer_t;

/* Starts a transfer of len bytes (borrowed) with negotiated params.  The
 * first packets to send are then pending (pt_tftp_xfer_next). */
void pt_tftp_xfer_start(pt_tftp_xfer_t *x, const uint8_t *data, size_t len,
			const pt_tftp_params_t *params, uint32_t max_retries,
			int64_t now_ms);

/* Builds the next pending packet into buf (cap at least 4 + blksize, or
 * PT_TFTP_SMALL_PACKET_MAX for an OACK).  Returns its length, or 0 when
 * nothing is pending. */
size_t pt_tftp_xfer_next(pt_tftp_xfer_t *x, const pt_tftp_params_t *params,
			 uint8_t *buf, size_t cap);

/* A datagram from the client's address and port.  An ERROR ends the
 * transfer (FAILED); a malformed packet or an opcode other than ACK and
 * ERROR is ignored (it may be a stray), as are old and duplicate ACKs.
 * Returns true when something new is pending to send. */
bool pt_tftp_xfer_on_packet(pt_tftp_xfer_t *x, const uint8_t *pkt,
			    size_t len, int64_t now_ms);

/* Call when now_ms reaches x->deadline_ms: schedules the window (or the
 * OACK) again, or fails the transfer after max_retries resends.  Returns
 * true when something is pending to send. */
bool pt_tftp_xfer_on_timeout(pt_tftp_xfer_t *x, int64_t now_ms);

/* Number of blocks a file of len bytes takes at blksize: the last block
 * is always short, possibly empty. */
uint64_t pt_tftp_block_count(size_t len, uint32_t blksize);

/* Netascii (RFC 764 as TFTP uses it): LF becomes CR LF, a lone CR becomes
 * CR NUL.  Writes into out (cap bytes; 2 * len always suffices) and
 * returns the length, or SIZE_MAX when cap is too small. */
size_t pt_tftp_netascii_encode(const uint8_t *in, size_t len, uint8_t *out,
			       size_t cap);

#endif
