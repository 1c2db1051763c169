/* TFTP packets (RFC 1350) and option negotiation (RFC 2347 options,
 * RFC 2348 blksize, RFC 2349 timeout and tsize, RFC 7440 windowsize).
 *
 * The server side only: requests are parsed from untrusted datagrams
 * through pt_rbuf; DATA, OACK and ERROR packets are built into caller
 * buffers; ACKs (and a client's ERROR) are parsed.  Requested file names
 * are checked here once so that every caller refuses the same names.
 *
 * Pure code: no sockets, no allocation, no logging.
 */
#ifndef PT_LIB_TFTP_PACKET_H
#define PT_LIB_TFTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PT_TFTP_RRQ = 1,
	PT_TFTP_WRQ = 2,
	PT_TFTP_DATA = 3,
	PT_TFTP_ACK = 4,
	PT_TFTP_ERROR = 5,
	PT_TFTP_OACK = 6,
};

/* Error codes of ERROR packets (RFC 1350, 8 from RFC 2347). */
typedef enum pt_tftp_error {
	PT_TFTP_E_UNDEFINED = 0,
	PT_TFTP_E_NOT_FOUND = 1,
	PT_TFTP_E_ACCESS = 2,
	PT_TFTP_E_DISK_FULL = 3,
	PT_TFTP_E_ILLEGAL_OP = 4,
	PT_TFTP_E_UNKNOWN_TID = 5,
	PT_TFTP_E_EXISTS = 6,
	PT_TFTP_E_NO_USER = 7,
	PT_TFTP_E_OPTION = 8,
} pt_tftp_error_t;

typedef enum pt_tftp_mode {
	PT_TFTP_MODE_OCTET = 0,
	PT_TFTP_MODE_NETASCII = 1,
	PT_TFTP_MODE_MAIL = 2, /* obsolete; parsed so it can be refused */
} pt_tftp_mode_t;

#define PT_TFTP_BLKSIZE_DEFAULT 512u
#define PT_TFTP_BLKSIZE_MIN 8u
#define PT_TFTP_BLKSIZE_MAX 65464u
#define PT_TFTP_TIMEOUT_MIN 1u
#define PT_TFTP_TIMEOUT_MAX 255u
#define PT_TFTP_WINDOW_MIN 1u
#define PT_TFTP_WINDOW_MAX 65535u
/* The longest name served: phone file names and TFTP sub-paths are far
 * shorter. */
#define PT_TFTP_NAME_MAX 255u
/* A request is one datagram; with the options above it fits in 512 bytes,
 * and RFC 2347 limits option-carrying requests to 512 bytes. */
#define PT_TFTP_REQUEST_MAX 512u
/* Room for the largest DATA packet. */
#define PT_TFTP_PACKET_MAX (4u + PT_TFTP_BLKSIZE_MAX)
/* Room for the longest ERROR or OACK packet built here. */
#define PT_TFTP_SMALL_PACKET_MAX 512u

/* A parsed request.  name points into the datagram (NUL-terminated
 * there).  The has_* flags say which options the client sent with a value
 * that parsed; values are as sent (not yet negotiated). */
typedef struct pt_tftp_request {
	uint16_t opcode; /* PT_TFTP_RRQ or PT_TFTP_WRQ */
	const char *name;
	size_t name_len;
	pt_tftp_mode_t mode;
	bool has_blksize, has_tsize, has_timeout, has_windowsize;
	uint32_t blksize;
	uint64_t tsize;
	uint32_t timeout;
	uint32_t windowsize;
} pt_tftp_request_t;

/* Parses a request datagram: opcode 1 or 2, name, mode (octet, netascii,
 * mail; any case), then option/value pairs.  Unknown options are ignored
 * (RFC 2347); a known option whose value is not a decimal number, or one
 * given twice, is PT_ERR_MALFORMED.  Oversized datagrams or names are
 * PT_ERR_TOO_LARGE, a missing NUL PT_ERR_INCOMPLETE; other opcodes
 * PT_ERR_INVALID.  *why (may be NULL) gets a static reason. */
int pt_tftp_request_parse(const uint8_t *pkt, size_t len,
			  pt_tftp_request_t *out, const char **why);

/* An option's value as both sides read it: decimal text of 1 to 20
 * digits (no sign, space or NUL) no greater than max.  False for anything
 * else, *out then untouched. */
bool pt_tftp_option_parse(const char *s, size_t len, uint64_t max,
			  uint64_t *out);

/* Refuses names a server must never map to a file: empty, longer than
 * PT_TFTP_NAME_MAX, absolute ('/' or '\\' first, or a drive letter),
 * holding a ".." path part (either separator), a control character or a
 * byte above 0x7e.  PT_ERR_DENIED and a static reason in *why. */
int pt_tftp_name_check(const char *name, size_t len, const char **why);

/* What the server grants. */
typedef struct pt_tftp_limits {
	uint32_t blksize_max;   /* cap on blksize, <= PT_TFTP_BLKSIZE_MAX */
	uint32_t windowsize_max; /* cap on windowsize */
	uint32_t timeout_default; /* seconds, when the client asks none */
} pt_tftp_limits_t;

/* The transfer's parameters after negotiation. */
typedef struct pt_tftp_params {
	uint32_t blksize;
	uint32_t windowsize;
	uint32_t timeout; /* seconds */
	bool oack;        /* an OACK answers the request */
	bool ack_blksize, ack_tsize, ack_timeout, ack_windowsize;
	uint64_t tsize;   /* the size sent in the OACK */
} pt_tftp_params_t;

/* Negotiates the options of a read request for a file of size bytes:
 * blksize and windowsize are lowered to the limits (RFC 2348, 7440 allow
 * a smaller answer), a blksize under 8, a windowsize of 0 or a timeout
 * outside 1-255 are left out of the answer (the default applies), tsize
 * is answered with size.  Always PT_OK. */
int pt_tftp_negotiate(const pt_tftp_request_t *req,
		      const pt_tftp_limits_t *limits, uint64_t size,
		      pt_tftp_params_t *out);

/* Builders return the packet length, or 0 when cap is too small. */
size_t pt_tftp_data_build(uint8_t *buf, size_t cap, uint16_t block,
			  const uint8_t *payload, size_t len);
size_t pt_tftp_oack_build(uint8_t *buf, size_t cap,
			  const pt_tftp_params_t *p);
/* message is cut to fit and must not hold a NUL. */
size_t pt_tftp_error_build(uint8_t *buf, size_t cap, pt_tftp_error_t code,
			   const char *message);

/* A packet a client sends during a transfer. */
typedef struct pt_tftp_reply {
	uint16_t opcode;     /* PT_TFTP_ACK or PT_TFTP_ERROR */
	uint16_t block;      /* ACK */
	uint16_t error_code; /* ERROR */
} pt_tftp_reply_t;

/* Parses an ACK (exactly 4 bytes; RFC 1350 allows nothing after it) or
 * an ERROR.  Anything else is PT_ERR_MALFORMED / PT_ERR_INVALID. */
int pt_tftp_reply_parse(const uint8_t *pkt, size_t len, pt_tftp_reply_t *out);

/* Text of an error code ("File not found", ...). */
const char *pt_tftp_error_text(pt_tftp_error_t code);

#endif
