/* TVS messages (spec/tvs-protocol.md): a 10-byte header and tag-length-
 * value elements, integers big-endian.
 *
 * Pure code.  Parsers read untrusted bytes through pt_rbuf and hand out
 * views into the caller's buffer (valid while it is); builders write into
 * a caller buffer and never allocate.  Both sides are here: the server's
 * request parser and response builder, and the client's request builder
 * and response parser (tests, the benchmark, the phone simulator).
 */
#ifndef PT_LIB_TVS_MSG_H
#define PT_LIB_TVS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_TVS_PROTOCOL_ID 0x57
#define PT_TVS_VERSION 1
#define PT_TVS_HEADER_LEN 10u
#define PT_TVS_BODY_MAX 65535u
#define PT_TVS_MSG_MAX (PT_TVS_HEADER_LEN + PT_TVS_BODY_MAX)
#define PT_TVS_ELEM_HEADER_LEN 3u
/* "CP-7841-SEP001122334455" */
#define PT_TVS_DEVICE_NAME_LEN 23u
/* What compatible clients put before the device name (spec A1). */
#define PT_TVS_DEVICE_PREFIX 0x01
#define PT_TVS_DEFAULT_DEVICE "CP-0000-SEP000000000000"
/* Largest response: header, STATUS, ROLES with every defined code, TTL. */
#define PT_TVS_RESPONSE_MAX 64u
/* Distinct role codes a response can carry (spec §5). */
#define PT_TVS_ROLES_MAX 7u

enum {
	PT_TVS_CMD_NONE = 0,
	PT_TVS_CMD_VERIFY_REQUEST = 1,
	PT_TVS_CMD_VERIFY_RESPONSE = 2,
	PT_TVS_CMD_QUERY_REQUEST = 3,
	PT_TVS_CMD_QUERY_RESPONSE = 4,
};

enum {
	PT_TVS_TAG_DEVICE_NAME = 1,
	PT_TVS_TAG_CERTIFICATE = 2,
	PT_TVS_TAG_STATUS = 7,
	PT_TVS_TAG_ROLES = 8,
	PT_TVS_TAG_TTL = 9,
};

enum {
	PT_TVS_STATUS_VALID = 0,
	PT_TVS_STATUS_INVALID = 1,
};

/* Role codes of the ROLES element. */
enum {
	PT_TVS_ROLE_SAST = 0,
	PT_TVS_ROLE_CCM = 1,
	PT_TVS_ROLE_CCM_TFTP = 2,
	PT_TVS_ROLE_TFTP = 3,
	PT_TVS_ROLE_CAPF = 4,
	PT_TVS_ROLE_APP_SERVER = 7,
	PT_TVS_ROLE_TVS = 21,
};

typedef struct pt_tvs_header {
	uint8_t protocol_id;
	uint8_t version;
	uint8_t command;
	uint8_t reserved;
	uint32_t session_id;
	uint16_t body_len;
} pt_tvs_header_t;

/* A verify request after every check of spec §6 steps 1-5. */
typedef struct pt_tvs_request {
	uint32_t session_id;
	uint8_t device_prefix; /* the byte before the name (never checked) */
	char device_name[PT_TVS_DEVICE_NAME_LEN + 1];
	const uint8_t *cert; /* DER, a view into the message */
	size_t cert_len;
	uint8_t sha256[32];  /* of exactly cert[0..cert_len) */
	int64_t not_before;  /* the certificate's validity, UTC seconds */
	int64_t not_after;
} pt_tvs_request_t;

/* A verify response as the client reads it. */
typedef struct pt_tvs_response {
	uint32_t session_id;
	uint8_t status;       /* any value but 0 means invalid */
	bool has_roles;
	const uint8_t *roles; /* one code per byte, a view into the message */
	size_t n_roles;
	bool has_ttl;
	uint32_t ttl;
} pt_tvs_response_t;

/* What the server answers: VALID carries roles (ascending codes) and,
 * when has_ttl, a TTL; INVALID carries the status alone. */
typedef struct pt_tvs_verdict {
	uint8_t status;
	uint8_t roles[PT_TVS_ROLES_MAX];
	size_t n_roles;
	bool has_ttl;
	uint32_t ttl;
} pt_tvs_verdict_t;

/* One element for pt_tvs_msg_build: value borrowed. */
typedef struct pt_tvs_elem {
	uint8_t tag;
	const uint8_t *value;
	size_t len;
} pt_tvs_elem_t;

/* Decodes the header at the start of buf.  PT_ERR_INCOMPLETE with fewer
 * than 10 bytes, PT_ERR_MALFORMED for a protocol id other than 0x57 or a
 * version other than 1.  The command is not checked here. */
int pt_tvs_header_decode(const uint8_t *buf, size_t len, pt_tvs_header_t *out);

/* Parses one whole VERIFY_REQUEST of len bytes (header and body) as the
 * server must (spec §6, in its order): header; body exactly as long as
 * declared (PT_ERR_INCOMPLETE shorter, PT_ERR_TRAILING longer); elements
 * within the body, tags 1 and 2 only, a repeated tag replacing the earlier
 * one; command 1 (PT_ERR_UNSUPPORTED otherwise); DEVICE_NAME present and,
 * after its prefix byte, CP-dddd-SEP and 12 upper-case hex digits;
 * CERTIFICATE present and exactly one DER X.509 certificate.  Any other
 * failure is PT_ERR_MALFORMED.  *why (may be NULL) gets a static reason
 * for the log.  On success *out views into msg. */
int pt_tvs_request_parse(const uint8_t *msg, size_t len,
			 pt_tvs_request_t *out, const char **why);

/* Parses a whole VERIFY_RESPONSE as a compatible client does: header,
 * body length, tags 7, 8 and 9 only (a repeated tag replaces), session id
 * equal to expect_session (PT_ERR_AUTH otherwise), command 2
 * (PT_ERR_UNSUPPORTED otherwise), STATUS present and one byte, TTL four
 * bytes.  Errors and *why as pt_tvs_request_parse. */
int pt_tvs_response_parse(const uint8_t *msg, size_t len,
			  uint32_t expect_session, pt_tvs_response_t *out,
			  const char **why);

/* True when name (len bytes, no terminator needed) is CP-dddd-SEP plus
 * 12 upper-case hex digits. */
bool pt_tvs_device_name_ok(const char *name, size_t len);

/* Bytes pt_tvs_msg_build needs for these elements, or 0 when an element
 * or the body exceeds 65535 bytes. */
size_t pt_tvs_msg_size(const pt_tvs_elem_t *elems, size_t n);

/* Writes header (reserved 0) and elements in the given order into buf
 * (capacity cap) and sets *len.  Any command and tag may be written:
 * tests use it for malformed messages.  PT_ERR_TOO_LARGE when an element
 * or the body exceeds 65535 bytes or buf is too small. */
int pt_tvs_msg_build(uint8_t command, uint32_t session_id,
		     const pt_tvs_elem_t *elems, size_t n, uint8_t *buf,
		     size_t cap, size_t *len);

/* A VERIFY_REQUEST as compatible clients send it: DEVICE_NAME (prefix 01,
 * device_name, which must pass pt_tvs_device_name_ok, else
 * PT_ERR_INVALID) then CERTIFICATE (DER, not checked).  Errors of
 * pt_tvs_msg_build otherwise. */
int pt_tvs_request_build(uint32_t session_id, const char *device_name,
			 const uint8_t *cert, size_t cert_len, uint8_t *buf,
			 size_t cap, size_t *len);

/* A VERIFY_RESPONSE for v: STATUS, then for VALID ROLES and TTL (if
 * has_ttl).  PT_ERR_INVALID for a status other than 0 and 1 or more than
 * PT_TVS_ROLES_MAX roles; PT_TVS_RESPONSE_MAX bytes always suffice. */
int pt_tvs_response_build(uint32_t session_id, const pt_tvs_verdict_t *v,
			  uint8_t *buf, size_t cap, size_t *len);

/* "SAST", "CCM", "CCM+TFTP", "TFTP", "CAPF", "APP-SERVER", "TVS" (the
 * stored names of spec §5), or NULL for an undefined code. */
const char *pt_tvs_role_name(uint8_t code);

#endif
