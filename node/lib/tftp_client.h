/* The receiving side of one TFTP read (RFC 1350) as a pure state machine:
 * what a phone does to fetch a file.
 *
 * The client asks for options (RFC 2347: blksize RFC 2348, tsize and
 * timeout RFC 2349, windowsize RFC 7440) and takes the server's answer:
 * an OACK, checked against what was asked and acknowledged with ACK 0, or
 * DATA block 1 from a server that ignores options (the defaults then
 * apply: 512-byte blocks, one block per window).  An ERROR 8 (option
 * negotiation refused) to a request with options makes it ask once more
 * without them.
 *
 * DATA is taken in order only.  Block numbers are counted in 64 bits and
 * compared modulo 2^16, so files of more than 65535 blocks roll over to
 * block 0 as common servers do.  A block from behind (a duplicate) or
 * from ahead (one was lost) is dropped and answered once, until the next
 * block in order arrives, with an ACK of the last block received in order:
 * with a window that makes the server send again from there (RFC 7440),
 * and in lockstep it re-acknowledges a block whose ACK was lost.  ACKs go
 * out after each full window and after the last (short) block.  On a
 * timeout the client sends its last packet again (the request, or the
 * ACK of the last block in order) and gives up after max_retries resends
 * without progress.
 *
 * The I/O layer owns addresses and the server's transfer ID: it sends the
 * request to the server's port, follows the port the first answer comes
 * from, and sends everything else there (pending == PT_TFTP_CLIENT_SEND_RRQ
 * tells it which).  Only octet mode is used.
 *
 * No sockets, clocks, logging or globals.  The received bytes are kept in
 * a malloc'd buffer owned by the client (configuration files may hold
 * passwords: every copy is wiped before it is freed).
 */
#ifndef PT_LIB_TFTP_CLIENT_H
#define PT_LIB_TFTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tftp_packet.h"

/* Files phones fetch are a few KiB to a few MiB (firmware is fetched
 * elsewhere); larger ones are refused unless the caller raises the cap. */
#define PT_TFTP_CLIENT_SIZE_DEFAULT (16u * 1024u * 1024u)
#define PT_TFTP_CLIENT_RETRY_MS_DEFAULT 1000u
#define PT_TFTP_CLIENT_RETRIES_DEFAULT 5u
/* The longest RRQ built here: opcode, name, mode and four options. */
#define PT_TFTP_CLIENT_RRQ_MAX (2u + PT_TFTP_NAME_MAX + 1u + 6u + 80u)

typedef struct pt_tftp_client_opts {
	uint32_t blksize;     /* asked for (8-65464); 0: not asked (512) */
	uint32_t windowsize;  /* asked for (1-65535); 0: not asked (1) */
	uint32_t timeout;     /* seconds asked for (1-255); 0: not asked */
	bool tsize;           /* ask for the file's size */
	uint32_t retry_ms;    /* resend after this long without progress;
			       * 0: timeout seconds when asked, else 1000 */
	uint32_t max_retries; /* resends of one packet; 0: the default (5) */
	size_t max_size;      /* larger files are refused; 0: the default */
} pt_tftp_client_opts_t;

typedef enum pt_tftp_client_state {
	PT_TFTP_CLIENT_REQUESTING = 0, /* RRQ sent, no answer yet */
	PT_TFTP_CLIENT_RECEIVING = 1,
	PT_TFTP_CLIENT_DONE = 2,       /* the last block arrived */
	PT_TFTP_CLIENT_FAILED = 3,     /* see err, server_error and why */
} pt_tftp_client_state_t;

typedef enum pt_tftp_client_send {
	PT_TFTP_CLIENT_SEND_NONE = 0,
	PT_TFTP_CLIENT_SEND_RRQ = 1,   /* to the server's request port */
	PT_TFTP_CLIENT_SEND_ACK = 2,   /* to the transfer's port */
	PT_TFTP_CLIENT_SEND_ERROR = 3, /* to the transfer's port */
} pt_tftp_client_send_t;

typedef struct pt_tftp_client {
	char name[PT_TFTP_NAME_MAX + 1];
	pt_tftp_client_opts_t opts; /* with defaults filled in */
	bool ask_options;           /* the next RRQ carries options */
	pt_tftp_client_state_t state;
	uint32_t blksize;           /* in force */
	uint32_t windowsize;
	uint32_t retry_ms;
	bool oack;                  /* the server answered with an OACK */
	bool has_tsize;
	uint64_t tsize;             /* as the OACK announced it */
	uint64_t received;          /* blocks received in order */
	uint32_t in_window;         /* of them, since the last ACK */
	bool answered_disorder;     /* a duplicate or gap got its ACK */
	uint8_t *data;              /* received bytes (owned) */
	size_t len, cap;
	bool taken;                 /* handed over by get_data */
	pt_tftp_client_send_t pending;
	uint16_t ack_block;
	pt_tftp_error_t error_code; /* of a pending ERROR */
	const char *error_text;     /* static */
	int64_t deadline_ms;        /* when on_timeout is due */
	uint32_t retries;           /* resends since the last progress */
	int err;                    /* why FAILED: a pt_err_t */
	int server_error;           /* the server's ERROR code, or -1 */
	char why[192];              /* one line: why FAILED */
	/* Statistics. */
	uint64_t retransmits;  /* packets sent again after a timeout */
	uint64_t duplicates;   /* DATA blocks (or OACKs) received again */
	uint64_t out_of_order; /* DATA blocks ahead of the next expected */
	uint64_t ignored;      /* malformed or unexpected packets */
} pt_tftp_client_t;

/* Starts fetching name (1-255 bytes, NUL-terminated).  The RRQ is then
 * pending and on_timeout is due at c->deadline_ms.  PT_ERR_INVALID for a
 * bad name or an option value out of its range (c is then cleared and
 * may be passed to pt_tftp_client_clear). */
int pt_tftp_client_init(pt_tftp_client_t *c, const char *name,
			const pt_tftp_client_opts_t *opts, int64_t now_ms);

/* Wipes and frees the received bytes; c may be initialised again. */
void pt_tftp_client_clear(pt_tftp_client_t *c);

/* Builds the pending packet into buf (PT_TFTP_CLIENT_RRQ_MAX or
 * PT_TFTP_SMALL_PACKET_MAX bytes suffice) and clears it.  Returns its
 * length, or 0 when nothing is pending (or cap is too small). */
size_t pt_tftp_client_next(pt_tftp_client_t *c, uint8_t *buf, size_t cap);

/* A datagram from the server (its request port before the first answer,
 * its transfer port after).  Returns true when a packet is pending. */
bool pt_tftp_client_on_packet(pt_tftp_client_t *c, const uint8_t *pkt,
			      size_t len, int64_t now_ms);

/* Call when now_ms reaches c->deadline_ms: schedules the last packet
 * again or fails after max_retries resends.  Returns true when a packet
 * is pending. */
bool pt_tftp_client_on_timeout(pt_tftp_client_t *c, int64_t now_ms);

/* Hands the received file over once DONE: *out (malloc'd, never NULL,
 * even for an empty file) and *len are the caller's; c keeps nothing.
 * PT_ERR_INVALID in any other state or when already handed over. */
int pt_tftp_client_get_data(pt_tftp_client_t *c, uint8_t **out, size_t *len);

#endif
