/* CAPF messages (spec/capf-protocol.md §2-§5): an 8-byte header (0x55,
 * command, session id, body length) and tag-length-value elements, all
 * integers big-endian.
 *
 * Pure code.  The parser reads untrusted bytes through pt_rbuf into a
 * pt_capf_msg_t whose pointers are views into the caller's buffer (valid
 * while it is; a PASSWORD view is a secret: wipe the buffer when done).
 * Builders write into a caller buffer in the fixed send orders of §4.2 and
 * never allocate, so the §12 vectors come out byte for byte.
 *
 * Readings of the open points (spec §11), conservative where they matter:
 * - A4: the CERTIFICATE wrapper's leading 01, its 00 and its type byte are
 *   not checked (known senders put 01 even for a MIC) but its 16-bit length
 *   must equal the DER length + 2, as it is a length; builders always write
 *   01 LLLL 00 01.
 * - A5: REASON_INFO (never sent) is kept whole as a view; nobody builds it.
 * - A6: the first two SUDI markers are kept but never judged; builders
 *   write 00 and 01.
 * - §4.1 strings (PASSWORD, DEVICE_NAME): the last byte must be the 00
 *   terminator and the text before it must hold no NUL; the reference
 *   drops the last byte blindly, we refuse what it would have mangled.
 * - REASON: at least one byte, the first one read (as the reference
 *   receivers do); every other one-byte element exactly one byte, KEY_SIZE
 *   exactly two; SUDI_DATA and SHA2_SIGNED_DATA exactly their blocks.
 * - An element that overruns the body, a tag the receiving side does not
 *   accept (§4.3) or a body shorter or longer than declared is refused;
 *   a repeated tag replaces the earlier element (§2).
 */
#ifndef PT_LIB_CAPF_MSG_H
#define PT_LIB_CAPF_MSG_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_CAPF_PROTOCOL_ID 0x55
#define PT_CAPF_VERSION 3
#define PT_CAPF_HEADER_LEN 8u
#define PT_CAPF_BODY_MAX 65535u
#define PT_CAPF_MSG_MAX (PT_CAPF_HEADER_LEN + PT_CAPF_BODY_MAX)
#define PT_CAPF_ELEM_HEADER_LEN 3u
/* 01 | LL LL | 00 | 01 before the DER of a CERTIFICATE element. */
#define PT_CAPF_CERT_WRAP_LEN 5u
/* Largest DER a CERTIFICATE element can carry. */
#define PT_CAPF_CERT_DER_MAX (PT_CAPF_BODY_MAX - PT_CAPF_ELEM_HEADER_LEN - \
			      PT_CAPF_CERT_WRAP_LEN)

enum {
	PT_CAPF_CMD_AUTH_REQUEST = 1,
	PT_CAPF_CMD_AUTH_RESPONSE = 2,
	PT_CAPF_CMD_KEY_GENERATE_REQUEST = 3,
	PT_CAPF_CMD_KEY_GENERATE_RESPONSE = 4,
	PT_CAPF_CMD_ENCRYPT_RESPONSE = 5, /* 5-8, 16, 18-23: numbers only (A3) */
	PT_CAPF_CMD_ENCRYPT_REQUEST = 6,
	PT_CAPF_CMD_DECRYPT_REQUEST = 7,
	PT_CAPF_CMD_DECRYPT_RESPONSE = 8,
	PT_CAPF_CMD_STORE_CERTIFICATE_REQUEST = 9,
	PT_CAPF_CMD_STORE_CERTIFICATE_RESPONSE = 10,
	PT_CAPF_CMD_FETCH_CERTIFICATE_REQUEST = 11,
	PT_CAPF_CMD_FETCH_CERTIFICATE_RESPONSE = 12,
	PT_CAPF_CMD_DELETE_CERTIFICATE_REQUEST = 13,
	PT_CAPF_CMD_DELETE_CERTIFICATE_RESPONSE = 14,
	PT_CAPF_CMD_END_SESSION = 15,
	PT_CAPF_CMD_RETRY_LATER = 16,
	PT_CAPF_CMD_REQUEST_IN_PROGRESS = 17,
	PT_CAPF_CMD_STATUS_REQUEST = 18,
	PT_CAPF_CMD_STATUS_RESPONSE = 19,
	PT_CAPF_CMD_ABORT_REQUEST = 20,
	PT_CAPF_CMD_ABORT_RESPONSE = 21,
	PT_CAPF_CMD_SIGN_CERTIFICATE_REQUEST = 22,
	PT_CAPF_CMD_SIGN_CERTIFICATE_RESPONSE = 23,
};

enum {
	PT_CAPF_TAG_REASON = 1,
	PT_CAPF_TAG_REASON_INFO = 2,
	PT_CAPF_TAG_CERTIFICATE_TYPE = 3,
	PT_CAPF_TAG_CERTIFICATE = 4,
	PT_CAPF_TAG_CERTIFICATE_ID = 5, /* 5, 12, 19: numbers only (A3) */
	PT_CAPF_TAG_SIGNED_DATA = 6,
	PT_CAPF_TAG_VERSION = 7,
	PT_CAPF_TAG_AUTH_TYPE = 8,
	PT_CAPF_TAG_PUBLIC_KEY = 9,
	PT_CAPF_TAG_KEY_SIZE = 10,
	PT_CAPF_TAG_PASSWORD = 11,
	PT_CAPF_TAG_RETRY_DELAY = 12,
	PT_CAPF_TAG_DEVICE_NAME = 13,
	PT_CAPF_TAG_SUDI_DATA = 16,
	PT_CAPF_TAG_KEY_TYPE = 17,
	PT_CAPF_TAG_CURVE = 18,
	PT_CAPF_TAG_DIGEST_TYPE = 19,
	PT_CAPF_TAG_SHA2_SIGNED_DATA = 20,
	PT_CAPF_TAG_MAX = 20,
};

/* REASON values (§5.1). */
enum {
	PT_CAPF_REASON_NO_ACTION = 0,
	PT_CAPF_REASON_UPDATE_CERTIFICATE = 1, /* "OK" */
	PT_CAPF_REASON_INVALID_ELEMENT = 7,    /* generic failure */
	PT_CAPF_REASON_UNKNOWN_DEVICE = 9,
};

/* AUTH_TYPE values (§5.2); servers send NONE only (A2). */
enum {
	PT_CAPF_AUTH_TYPE_NONE = 0,
	PT_CAPF_AUTH_TYPE_PASSWORD = 1,
	PT_CAPF_AUTH_TYPE_NO_PASSWORD = 2,
	PT_CAPF_AUTH_TYPE_LSC = 3,
	PT_CAPF_AUTH_TYPE_MIC = 4,
};

enum {
	PT_CAPF_CERT_TYPE_LSC = 1,
	PT_CAPF_CERT_TYPE_MIC = 2,
};

enum {
	PT_CAPF_KEY_TYPE_RSA = 0,
	PT_CAPF_KEY_TYPE_EC = 1,
};

enum {
	PT_CAPF_CURVE_P256 = 0, /* secp256r1 */
	PT_CAPF_CURVE_P384 = 1, /* secp384r1 */
	PT_CAPF_CURVE_P521 = 2, /* secp521r1 */
};

/* Hash ids inside SUDI_DATA and SHA2_SIGNED_DATA (§5.6). */
enum {
	PT_CAPF_HASH_SHA1 = 1,
	PT_CAPF_HASH_SHA256 = 2,
	PT_CAPF_HASH_SHA512 = 3,
};

/* Who sent a message: the parser enforces the tags the other side accepts
 * (§4.3), the builder the sender's order (§4.2). */
typedef enum pt_capf_from {
	PT_CAPF_FROM_PHONE = 0,  /* phone -> server: tags 1 2 3 4 6 7 9 11 13 16 20 */
	PT_CAPF_FROM_SERVER = 1, /* server -> phone: tags 1 2 3 4 7 8 10 17 18 */
} pt_capf_from_t;

typedef struct pt_capf_header {
	uint8_t protocol_id;
	uint8_t command;
	uint32_t session_id;
	uint16_t body_len;
} pt_capf_header_t;

/* SUDI_DATA (§4.6): three length-prefixed blocks. */
typedef struct pt_capf_sudi {
	uint8_t cert_marker; /* sent 00, never judged (A6) */
	const uint8_t *cert; /* DER, no wrapper */
	size_t cert_len;
	uint8_t sha1_marker; /* sent 01, never judged (A6) */
	const uint8_t *sig_sha1;
	size_t sig_sha1_len;
	uint8_t sha2_hash_id; /* must be 3 where it is checked (capf_auth) */
	const uint8_t *sig_sha512;
	size_t sig_sha512_len;
} pt_capf_sudi_t;

/* One message.  A field holds a value only when its tag's bit is set in
 * tags (pt_capf_msg_has); pointers are views (parser) or borrowed
 * (builder).  Strings are counted and, after a parse, NUL-terminated by
 * the element's own terminator.  Parsing leaves the values as they came:
 * meaning (VERSION 3, a known command, hash id 3) is judged by the
 * session and capf_auth. */
typedef struct pt_capf_msg {
	uint8_t command;
	uint32_t session_id;
	uint32_t tags; /* bit (1u << tag) per element present */

	uint8_t reason;
	const uint8_t *reason_info; /* parse only; never built (A5) */
	size_t reason_info_len;
	uint8_t cert_type;
	const uint8_t *cert; /* DER inside the 5-byte wrapper */
	size_t cert_len;
	const uint8_t *signed_data; /* SHA-1 based signature, raw */
	size_t signed_data_len;
	uint8_t version;
	uint8_t auth_type;
	const uint8_t *public_key; /* DER SPKI (or PKCS#1 RSAPublicKey) */
	size_t public_key_len;
	uint16_t key_size;
	const char *password; /* text without terminator; a secret */
	size_t password_len;
	const char *device_name; /* text without terminator */
	size_t device_name_len;
	pt_capf_sudi_t sudi;
	uint8_t key_type;
	uint8_t curve;
	uint8_t sha2_hash_id; /* SHA2_SIGNED_DATA's hash id (3 = SHA-512) */
	const uint8_t *sha2_signed_data;
	size_t sha2_signed_data_len;
} pt_capf_msg_t;

/* One raw element for pt_capf_msg_build_raw: value borrowed. */
typedef struct pt_capf_elem {
	uint8_t tag;
	const uint8_t *value;
	size_t len;
} pt_capf_elem_t;

static inline bool pt_capf_msg_has(const pt_capf_msg_t *m, unsigned tag)
{
	return tag <= PT_CAPF_TAG_MAX && (m->tags & (1u << tag)) != 0;
}

static inline void pt_capf_msg_set(pt_capf_msg_t *m, unsigned tag)
{
	m->tags |= 1u << tag;
}

/* Decodes the header at the start of buf: PT_ERR_INCOMPLETE with fewer
 * than 8 bytes, PT_ERR_MALFORMED for a protocol id other than 0x55.  The
 * command is not judged.  A stream reader uses it to learn the body
 * length before reading the body. */
int pt_capf_header_decode(const uint8_t *buf, size_t len,
			  pt_capf_header_t *out);

/* Parses one whole message of len bytes (header and body) as sent by
 * `from`: header; body exactly as long as declared (PT_ERR_INCOMPLETE
 * shorter, PT_ERR_TRAILING longer); elements inside the body, each within
 * it; only the tags the receiver accepts (§4.3); each value encoded as
 * §4.1 says (see the readings above).  Anything else is PT_ERR_MALFORMED.
 * The command is not judged (the session does that).  *why (may be NULL)
 * gets a static reason for the log.  On success *out views into msg; on
 * failure *out is zeroed. */
int pt_capf_msg_parse(const uint8_t *msg, size_t len, pt_capf_from_t from,
		      pt_capf_msg_t *out, const char **why);

/* Bytes pt_capf_msg_build needs for m, or 0 when m cannot be built (a tag
 * the sender does not send, a value out of range, a string holding NUL, a
 * body over 65535 bytes). */
size_t pt_capf_msg_size(const pt_capf_msg_t *m, pt_capf_from_t from);

/* Writes m as `from` sends it: header, then the present elements in the
 * order of §4.2 (server 1 3 4 7 8 10 17 18; phone 1 3 4 6 7 11 13 16 9
 * 20), strings with their 00 terminator, CERTIFICATE wrapped as 01 LLLL
 * 00 01.  Values are written as given (any version, reason, hash id).
 * PT_ERR_INVALID when m holds a tag `from` never sends (REASON_INFO
 * included), a string with a NUL inside or an empty CERTIFICATE;
 * PT_ERR_TOO_LARGE when an element or the body exceeds 65535 bytes or the
 * message exceeds cap. */
int pt_capf_msg_build(const pt_capf_msg_t *m, pt_capf_from_t from,
		      uint8_t *buf, size_t cap, size_t *len);

/* Writes header and elements exactly as given, any command and tag, in
 * the given order (tests write malformed messages with it).
 * PT_ERR_TOO_LARGE when an element or the body exceeds 65535 bytes or
 * cap. */
int pt_capf_msg_build_raw(uint8_t command, uint32_t session_id,
			  const pt_capf_elem_t *elems, size_t n, uint8_t *buf,
			  size_t cap, size_t *len);

/* "AUTH_REQUEST", ..., or NULL for a number with no name. */
const char *pt_capf_cmd_name(uint8_t command);

/* What KEY_GENERATE_REQUEST asks for (§8.2). */
typedef struct pt_capf_keyspec {
	uint8_t key_type;  /* PT_CAPF_KEY_TYPE_RSA or _EC */
	uint16_t rsa_bits; /* RSA: 512, 1024, 2048, 3072 or 4096 */
	uint8_t curve;     /* EC: PT_CAPF_CURVE_* */
} pt_capf_keyspec_t;

/* True for an RSA spec with one of the five sizes or an EC spec with one
 * of the three curves. */
bool pt_capf_keyspec_valid(const pt_capf_keyspec_t *k);

/* PT_OK when key (borrowed) is what k asks for: RSA of exactly rsa_bits,
 * or EC on the named curve; PT_ERR_INVALID otherwise. */
int pt_capf_keyspec_match(const pt_capf_keyspec_t *k, const EVP_PKEY *key);

/* The curve's name as the store spells it ("secp256r1", "secp384r1",
 * "secp521r1"), or NULL; and its OpenSSL group name ("P-256", ...). */
const char *pt_capf_curve_name(uint8_t curve);
const char *pt_capf_curve_group(uint8_t curve);

/* The curve number for an EC size in bits (256, 384, 521), or
 * PT_ERR_INVALID. */
int pt_capf_curve_from_bits(uint32_t bits, uint8_t *curve);

/* Decodes a PUBLIC_KEY value: one DER SubjectPublicKeyInfo, or a bare
 * PKCS#1 RSAPublicKey (which the reference server also loads), with no
 * trailing bytes; the key must be RSA or EC (PT_ERR_UNSUPPORTED
 * otherwise), anything else is PT_ERR_MALFORMED.  *out is the caller's. */
int pt_capf_public_key_decode(const uint8_t *der, size_t len,
			      EVP_PKEY **out);

/* DER SubjectPublicKeyInfo of key (borrowed) into a new malloc'd buffer:
 * what a phone sends as PUBLIC_KEY. */
int pt_capf_public_key_encode(const EVP_PKEY *key, uint8_t **der,
			      size_t *len);

/* The messages each side sends, each in the element order of §4.2 and
 * §8; buf must have cap bytes (PT_ERR_TOO_LARGE otherwise).  Other
 * errors: PT_ERR_INVALID for arguments these messages cannot carry. */

/* Server -> phone. */
/* AUTH_REQUEST: VERSION 3, AUTH_TYPE 0. */
int pt_capf_auth_request_build(uint32_t session_id, uint8_t *buf, size_t cap,
			       size_t *len);
/* KEY_GENERATE_REQUEST: KEY_SIZE + KEY_TYPE 0 (RSA) or KEY_TYPE 1 + CURVE
 * (EC); k must be pt_capf_keyspec_valid. */
int pt_capf_key_gen_request_build(uint32_t session_id,
				  const pt_capf_keyspec_t *k, uint8_t *buf,
				  size_t cap, size_t *len);
/* STORE_CERTIFICATE_REQUEST: CERTIFICATE_TYPE 1, CERTIFICATE (wrapped). */
int pt_capf_store_request_build(uint32_t session_id, const uint8_t *der,
				size_t der_len, uint8_t *buf, size_t cap,
				size_t *len);
/* FETCH_ or DELETE_CERTIFICATE_REQUEST (command 11 or 13, empty body),
 * REQUEST_IN_PROGRESS (17, the phone's) and any other empty message. */
int pt_capf_empty_build(uint8_t command, uint32_t session_id, uint8_t *buf,
			size_t cap, size_t *len);
/* END_SESSION with REASON. */
int pt_capf_end_session_build(uint32_t session_id, uint8_t reason,
			      uint8_t *buf, size_t cap, size_t *len);

/* Phone -> server. */
/* A response that carries REASON alone: STORE_, DELETE_CERTIFICATE_
 * RESPONSE, FETCH_CERTIFICATE_RESPONSE with nothing to fetch, a failed
 * KEY_GENERATE_RESPONSE. */
int pt_capf_reason_build(uint8_t command, uint32_t session_id,
			 uint8_t reason, uint8_t *buf, size_t cap,
			 size_t *len);
/* KEY_GENERATE_RESPONSE with PUBLIC_KEY (DER as given). */
int pt_capf_key_gen_response_build(uint32_t session_id,
				   const uint8_t *public_key, size_t key_len,
				   uint8_t *buf, size_t cap, size_t *len);
/* FETCH_CERTIFICATE_RESPONSE: REASON 1, CERTIFICATE (wrapped). */
int pt_capf_fetch_response_build(uint32_t session_id, const uint8_t *der,
				 size_t der_len, uint8_t *buf, size_t cap,
				 size_t *len);

/* AUTH_RESPONSE credentials (§8.1): password NULL sends the empty PASSWORD
 * 00 (no-password mode and certificate mode); cert non-NULL adds
 * CERTIFICATE, SIGNED_DATA and SHA2_SIGNED_DATA (hash id 3), which must
 * then all be given; sudi_cert non-NULL adds SUDI_DATA (markers 00 01,
 * hash id 3) whose two signatures must be given. */
typedef struct pt_capf_credentials {
	const char *device_name; /* required, no NUL inside */
	const char *password;    /* NULL or the authentication string */
	const uint8_t *cert;     /* LSC or MIC, DER */
	size_t cert_len;
	const uint8_t *sig_sha1;
	size_t sig_sha1_len;
	const uint8_t *sig_sha512;
	size_t sig_sha512_len;
	const uint8_t *sudi_cert; /* DER */
	size_t sudi_cert_len;
	const uint8_t *sudi_sig_sha1;
	size_t sudi_sig_sha1_len;
	const uint8_t *sudi_sig_sha512;
	size_t sudi_sig_sha512_len;
} pt_capf_credentials_t;

/* Fills *m (views borrowed from c) with the AUTH_RESPONSE for c:
 * PT_ERR_INVALID for an empty device name or half-given credentials. */
int pt_capf_auth_response_init(uint32_t session_id,
			       const pt_capf_credentials_t *c,
			       pt_capf_msg_t *m);

/* AUTH_RESPONSE: REASON 1, [CERTIFICATE], [SIGNED_DATA], VERSION 3,
 * PASSWORD, DEVICE_NAME, [SUDI_DATA], [SHA2_SIGNED_DATA]. */
int pt_capf_auth_response_build(uint32_t session_id,
				const pt_capf_credentials_t *c, uint8_t *buf,
				size_t cap, size_t *len);

#endif
