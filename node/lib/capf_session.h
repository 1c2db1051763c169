/* CAPF conversations (spec/capf-protocol.md §6.2, §7, §8) as pure state
 * machines: the SERVER side (node/capf feeds it) and the PHONE side (the
 * simulator, tests).  No sockets, no store, no clock: a machine consumes
 * whole messages (header + body, see pt_capf_header_decode) and produces
 * messages to send plus requests its caller answers, so lookups, store
 * writes and RSA signing stay outside and may run on other threads.
 *
 * The caller's loop, either side:
 *   1. take the pending output (pt_capf_*_take_output) and write it in one
 *      write (§2), if there is one;
 *   2. look at the request (pt_capf_*_request): READ -> read one whole
 *      message and feed it; DONE -> close; anything else -> do what it
 *      asks and answer it with the function it names (feeding is refused
 *      while a request is open: stop reading until it is answered).
 * A machine is not thread-safe; one caller drives it at a time.
 *
 * Server decisions (conservative readings of the spec, see §11):
 * - Any protocol error - malformed message (capf_msg.h), session id that
 *   differs from ours, command that does not belong where it came, a
 *   second REQUEST_IN_PROGRESS or one with a body, VERSION other than 3,
 *   no DEVICE_NAME - ends with END_SESSION 7.  An internal fault the
 *   caller reports with pt_capf_server_refuse() also ends with END_SESSION
 *   7 rather than a silent close (A9); a caller may still just close.
 * - DEVICE_NAME must be 1-64 of A-Z a-z 0-9 . _ - (file-name safe, §10),
 *   else END_SESSION 7 before any lookup.
 * - Install asks KEY_SIZE + KEY_TYPE 0 (RSA 512-4096) or KEY_TYPE 1 +
 *   CURVE; device settings without a valid one end with END_SESSION 7 and
 *   a failure (never the A9 hang).  The phone's PUBLIC_KEY must decode and
 *   be the type and size asked for (the reference certifies anything).
 * - A1: a REASON in AUTH_RESPONSE is ignored; AUTH_TYPE from the phone is
 *   a tag the server does not accept (§4.3), so it ends the session.
 * - A3: commands 5-8, 16 and 18-23 are unexpected wherever they arrive
 *   (END_SESSION 7); elements 5, 12 and 19 are refused by both parsers.
 * - A9: unknown operation or authentication settings cannot reach the
 *   machine (they are enums here).
 * - A11 (TLS versions and suites) belongs to the I/O layer, not here.
 * - A10: END_SESSION reasons are those of §8: 0 after fetch (either way)
 *   and nothing scheduled, 1 after install and delete (either way), 7 on
 *   failure, 9 for an unknown device.
 * - Offline CA (not in the spec): an issue request may be answered
 *   "deferred" (END_SESSION 0, record unchanged), and a device may carry a
 *   certificate issued earlier for a key the phone already holds, which is
 *   sent with STORE_CERTIFICATE_REQUEST right after authentication,
 *   without key generation.
 *
 * Phone decisions:
 * - The session id is taken from AUTH_REQUEST and every later message
 *   must carry it; AUTH_REQUEST must hold VERSION 3; AUTH_TYPE is ignored
 *   (A2: servers send 0).  A REASON in AUTH_RESPONSE is always 1 (A1).
 * - KEY_GENERATE_REQUEST with KEY_SIZE but no KEY_TYPE is read as RSA.
 *   Parameters the phone cannot honour are answered with a
 *   KEY_GENERATE_RESPONSE holding REASON 7 and no key, not a silent close.
 * - One REQUEST_IN_PROGRESS is sent before key generation, as compatible
 *   clients do (configurable).
 * - A certificate to store must be for the key the phone holds (the one
 *   it generated in this session, else the configured pending key); any
 *   other is answered STORE_CERTIFICATE_RESPONSE REASON 7.
 * - Any protocol error closes the conversation without a reply.
 */
#ifndef PT_LIB_CAPF_SESSION_H
#define PT_LIB_CAPF_SESSION_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/capf_msg.h"

/* Longest DEVICE_NAME accepted (the X.520 CN bound the LSC needs). */
#define PT_CAPF_DEVICE_NAME_MAX 64u
/* Largest certificate STORE_CERTIFICATE_REQUEST can carry (the body less
 * CERTIFICATE_TYPE, the element header and the 5-byte wrapper). */
#define PT_CAPF_STORE_DER_MAX (PT_CAPF_BODY_MAX - 4u - \
			       PT_CAPF_ELEM_HEADER_LEN - PT_CAPF_CERT_WRAP_LEN)

typedef enum pt_capf_op {
	PT_CAPF_OP_NONE = 0,
	PT_CAPF_OP_INSTALL = 1, /* install / upgrade */
	PT_CAPF_OP_FETCH = 2,   /* troubleshoot */
	PT_CAPF_OP_DELETE = 3,
} pt_capf_op_t;

/* How the server authenticates a device (§6.1). */
typedef enum pt_capf_auth_mode {
	PT_CAPF_AUTH_NULL = 0,        /* no password: nothing checked */
	PT_CAPF_AUTH_PASSWORD = 1,    /* authentication string */
	PT_CAPF_AUTH_CERTIFICATE = 2, /* existing LSC or MIC (capf_auth.h) */
} pt_capf_auth_mode_t;

/* Why a session failed. */
typedef enum pt_capf_fail {
	PT_CAPF_FAIL_NONE = 0,
	PT_CAPF_FAIL_PROTOCOL = 1, /* malformed or unexpected message */
	PT_CAPF_FAIL_AUTH = 2,     /* credentials missing or refused */
	PT_CAPF_FAIL_PHONE = 3,    /* the phone reported a failure or sent a
				    * key other than the one asked for */
	PT_CAPF_FAIL_SETTINGS = 4, /* the device's settings cannot run
				    * (install without valid key parameters) */
	PT_CAPF_FAIL_REFUSED = 5,  /* the caller refused (pt_capf_server_refuse) */
	PT_CAPF_FAIL_UNKNOWN = 6,  /* the device is not known */
} pt_capf_fail_t;

/* "protocol", "auth", ... for logs. */
const char *pt_capf_fail_name(pt_capf_fail_t fail);

/* ------------------------------------------------------------------ */
/* Server                                                             */

typedef struct pt_capf_server pt_capf_server_t;

typedef enum pt_capf_server_req {
	/* Read one whole message and pass it to pt_capf_server_feed(). */
	PT_CAPF_SREQ_READ = 0,
	/* Look up pt_capf_server_device_name(); answer with
	 * pt_capf_server_set_device() or pt_capf_server_unknown_device(). */
	PT_CAPF_SREQ_LOOKUP,
	/* Compare pt_capf_server_password() with the device's string (in
	 * constant time); answer pt_capf_server_auth_result(). */
	PT_CAPF_SREQ_CHECK_PASSWORD,
	/* Check pt_capf_server_auth_msg() with pt_capf_auth_check() against
	 * the trust set; answer pt_capf_server_auth_result(). */
	PT_CAPF_SREQ_CHECK_CERT,
	/* Issue a certificate for pt_capf_server_public_key() and RECORD it
	 * (operation done, the new LSC) before answering
	 * pt_capf_server_issued() - §8.2 step 5 - or answer
	 * pt_capf_server_issue_deferred() (offline CA). */
	PT_CAPF_SREQ_ISSUE,
	/* Record pt_capf_server_cert() as the device's certificate (not
	 * verified, §8.3); answer pt_capf_server_recorded(). */
	PT_CAPF_SREQ_RECORD_FETCHED,
	/* Clear the device's certificate; answer pt_capf_server_recorded(). */
	PT_CAPF_SREQ_RECORD_DELETE,
	/* The session failed (pt_capf_server_outcome() says why and how):
	 * record it - before the phone hears the END_SESSION, so a phone
	 * that reconnects at once meets the failure count - then answer
	 * pt_capf_server_ack(). */
	PT_CAPF_SREQ_FAILED,
	/* Write the pending output (END_SESSION) and close. */
	PT_CAPF_SREQ_DONE,
} pt_capf_server_req_t;

/* What the caller knows of a device, answering LOOKUP. */
typedef struct pt_capf_device {
	pt_capf_auth_mode_t auth;
	pt_capf_op_t op;
	pt_capf_keyspec_t key;     /* install: what to ask the phone for */
	/* Install: a certificate issued earlier (offline CA) to deliver
	 * without key generation, DER (at most PT_CAPF_STORE_DER_MAX
	 * bytes), copied; NULL for the usual flow. */
	const uint8_t *ready_cert;
	size_t ready_cert_len;
} pt_capf_device_t;

/* How a session ended (valid in DONE, and in FAILED for the failure). */
typedef struct pt_capf_outcome {
	pt_capf_op_t op;       /* the device's operation (NONE before it is
				* known) */
	bool completed;        /* the operation's effect is recorded:
				* certificate issued (or a ready one stored),
				* fetched, deleted; true for NONE */
	pt_capf_fail_t fail;   /* PT_CAPF_FAIL_NONE when nothing failed */
	const char *why;       /* static text when fail is set */
	uint8_t end_reason;    /* the END_SESSION reason sent (DONE) */
} pt_capf_outcome_t;

/* A server machine for one connection with the id the caller chose
 * (§2: a process-wide counter).  *out is the caller's
 * (pt_capf_server_destroy).  PT_ERR_NOMEM. */
int pt_capf_server_new(uint32_t session_id, pt_capf_server_t **out);

/* Frees the machine, wiping the credentials it kept; accepts NULL and a
 * NULL *s, nulls the pointer. */
void pt_capf_server_destroy(pt_capf_server_t **s);

/* Queues AUTH_REQUEST (§8.1 step 1).  Once, first; PT_ERR_INVALID
 * otherwise. */
int pt_capf_server_start(pt_capf_server_t *s);

pt_capf_server_req_t pt_capf_server_request(const pt_capf_server_t *s);

/* Hands over the pending output, one or more whole messages to write in
 * one write: *msg (malloc'd, the caller frees it) and *len.  False, with
 * *msg NULL, when there is none. */
bool pt_capf_server_take_output(pt_capf_server_t *s, uint8_t **msg,
				size_t *len);

/* Feeds one whole received message (len bytes, normally the 8-byte
 * header and the body it declares; fewer or more is a protocol error).
 * The machine copies what it keeps.  PT_ERR_INVALID when the request is
 * not READ; PT_ERR_NOMEM; PT_OK otherwise, a bad message included (it
 * moves the machine to FAILED). */
int pt_capf_server_feed(pt_capf_server_t *s, const uint8_t *msg, size_t len);

/* Answers: each PT_ERR_INVALID (nothing changed) when the machine is not
 * in the request it answers. */
/* LOOKUP.  PT_ERR_INVALID also for out-of-range enums. */
int pt_capf_server_set_device(pt_capf_server_t *s, const pt_capf_device_t *d);
int pt_capf_server_unknown_device(pt_capf_server_t *s);
/* CHECK_PASSWORD and CHECK_CERT. */
int pt_capf_server_auth_result(pt_capf_server_t *s, bool ok);
/* ISSUE: der is the new certificate (copied); PT_ERR_TOO_LARGE above
 * PT_CAPF_STORE_DER_MAX bytes (nothing changed: refuse or close). */
int pt_capf_server_issued(pt_capf_server_t *s, const uint8_t *der,
			  size_t len);
int pt_capf_server_issue_deferred(pt_capf_server_t *s);
/* RECORD_FETCHED and RECORD_DELETE. */
int pt_capf_server_recorded(pt_capf_server_t *s);
/* FAILED. */
int pt_capf_server_ack(pt_capf_server_t *s);
/* The caller cannot go on (operation expired, store or signing failure,
 * idle timeout while READ, ...): allowed after start in any state but
 * FAILED and DONE.  why (static, may be NULL) is kept for the outcome;
 * the machine queues END_SESSION 7 and is DONE. */
int pt_capf_server_refuse(pt_capf_server_t *s, const char *why);

/* Request data, borrowed from the machine. */
uint32_t pt_capf_server_session_id(const pt_capf_server_t *s);
/* The DEVICE_NAME, from LOOKUP on ("" before); valid until destroy. */
const char *pt_capf_server_device_name(const pt_capf_server_t *s);
/* The AUTH_RESPONSE as parsed, in CHECK_PASSWORD and CHECK_CERT (NULL
 * otherwise); views valid until the answer. */
const pt_capf_msg_t *pt_capf_server_auth_msg(const pt_capf_server_t *s);
/* The PASSWORD text in CHECK_PASSWORD (NUL-terminated; NULL otherwise). */
const char *pt_capf_server_password(const pt_capf_server_t *s);
/* The phone's key in ISSUE and after (NULL before): decoded, and the DER
 * as it came.  Valid until destroy. */
EVP_PKEY *pt_capf_server_public_key(const pt_capf_server_t *s);
void pt_capf_server_public_key_der(const pt_capf_server_t *s,
				   const uint8_t **der, size_t *len);
/* The certificate fetched (RECORD_FETCHED and after) or issued (after
 * ISSUE), DER; *der NULL when there is none.  Valid until destroy. */
void pt_capf_server_cert(const pt_capf_server_t *s, const uint8_t **der,
			 size_t *len);
const pt_capf_outcome_t *pt_capf_server_outcome(const pt_capf_server_t *s);

/* ------------------------------------------------------------------ */
/* Phone                                                              */

typedef struct pt_capf_phone pt_capf_phone_t;

/* What the phone answers with; everything borrowed and must outlive the
 * machine. */
typedef struct pt_capf_phone_config {
	const char *device_name; /* required, no NUL inside, 1-64 bytes */
	const char *password;    /* NULL: the empty PASSWORD 00 */
	/* Certificate credentials: the LSC or MIC (DER) and its private
	 * key, both or neither. */
	const uint8_t *auth_cert;
	size_t auth_cert_len;
	EVP_PKEY *auth_key;
	/* Optional SUDI certificate (DER) and key, with auth_cert only. */
	const uint8_t *sudi_cert;
	size_t sudi_cert_len;
	EVP_PKEY *sudi_key;
	unsigned sign_flags;     /* PT_CAPF_SIGN_* (capf_auth.h) */
	/* The certificate FETCH returns (DER); NULL answers REASON 7. */
	const uint8_t *current_cert;
	size_t current_cert_len;
	/* A key generated in an earlier session whose certificate may now
	 * arrive without key generation (offline CA); may be NULL. */
	EVP_PKEY *pending_key;
	bool no_in_progress;     /* do not send REQUEST_IN_PROGRESS */
} pt_capf_phone_config_t;

typedef enum pt_capf_phone_req {
	/* Read one whole message and pass it to pt_capf_phone_feed(). */
	PT_CAPF_PREQ_READ = 0,
	/* Generate a key pair for pt_capf_phone_keyspec() (may take
	 * seconds: off the loop if need be); answer pt_capf_phone_set_key()
	 * or pt_capf_phone_key_failed(). */
	PT_CAPF_PREQ_GENERATE_KEY,
	/* Keep pt_capf_phone_cert() as the LSC, with the key
	 * pt_capf_phone_cert_key(); answer pt_capf_phone_stored(). */
	PT_CAPF_PREQ_STORE_CERT,
	/* Erase the LSC; answer pt_capf_phone_deleted() (false: none). */
	PT_CAPF_PREQ_DELETE_CERT,
	/* The conversation is over: write any output, close, read the
	 * outcome. */
	PT_CAPF_PREQ_DONE,
} pt_capf_phone_req_t;

typedef struct pt_capf_phone_outcome {
	bool ended;          /* END_SESSION arrived */
	uint8_t end_reason;  /* its REASON (when ended) */
	bool has_end_reason; /* false for an END_SESSION without REASON */
	pt_capf_op_t op;     /* what the server asked for (NONE if nothing) */
	bool done;           /* the phone did it: key sent and certificate
				* stored, certificate sent, LSC deleted */
	const char *why;     /* static, when the conversation broke (the
				* phone closes without a reply) */
} pt_capf_phone_outcome_t;

/* A phone machine; the config is checked (PT_ERR_INVALID) and borrowed.
 * The server speaks first: the machine starts in READ. */
int pt_capf_phone_new(const pt_capf_phone_config_t *cfg,
		      pt_capf_phone_t **out);
void pt_capf_phone_destroy(pt_capf_phone_t **p);

pt_capf_phone_req_t pt_capf_phone_request(const pt_capf_phone_t *p);
bool pt_capf_phone_take_output(pt_capf_phone_t *p, uint8_t **msg,
			       size_t *len);
/* As pt_capf_server_feed; a bad message moves the machine to DONE. */
int pt_capf_phone_feed(pt_capf_phone_t *p, const uint8_t *msg, size_t len);

/* GENERATE_KEY: the key (a reference is taken; the caller keeps its own)
 * must match the keyspec (PT_ERR_INVALID otherwise, nothing changed). */
int pt_capf_phone_set_key(pt_capf_phone_t *p, EVP_PKEY *key);
/* pt_capf_phone_set_key with key's DER SubjectPublicKeyInfo made once by
 * the caller (pt_capf_public_key_encode; copied, not re-derived): sent
 * as PUBLIC_KEY and compared with the LSC's before any decoding. */
int pt_capf_phone_set_key_spki(pt_capf_phone_t *p, EVP_PKEY *key,
			       const uint8_t *spki, size_t spki_len);
int pt_capf_phone_key_failed(pt_capf_phone_t *p);
/* STORE_CERT and DELETE_CERT. */
int pt_capf_phone_stored(pt_capf_phone_t *p, bool ok);
int pt_capf_phone_deleted(pt_capf_phone_t *p, bool ok);

uint32_t pt_capf_phone_session_id(const pt_capf_phone_t *p);
/* In GENERATE_KEY: what the server asked for. */
const pt_capf_keyspec_t *pt_capf_phone_keyspec(const pt_capf_phone_t *p);
/* In STORE_CERT and after: the certificate (DER, valid until destroy)
 * and the private key it is for (borrowed). */
void pt_capf_phone_cert(const pt_capf_phone_t *p, const uint8_t **der,
			size_t *len);
EVP_PKEY *pt_capf_phone_cert_key(const pt_capf_phone_t *p);
const pt_capf_phone_outcome_t *pt_capf_phone_outcome(const pt_capf_phone_t *p);

/* Generates a key pair for k (RSA of k->rsa_bits, or EC on k->curve).
 * *out is the caller's.  PT_ERR_INVALID for a spec that is not
 * pt_capf_keyspec_valid; PT_ERR_CRYPTO. */
int pt_capf_keyspec_generate(const pt_capf_keyspec_t *k, EVP_PKEY **out);

#endif
