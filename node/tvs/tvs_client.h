/* A TVS client as phones and the compatible client behave (spec §1, §6,
 * §8): TLS to the server, the server certificate checked against given
 * trust anchors without a host name check, one VERIFY_REQUEST, one
 * VERIFY_RESPONSE, close.  Blocking, with a deadline for connect,
 * handshake and each read.  SIGPIPE is blocked in the calling thread for
 * the exchange (a server that closes first costs an error, not the
 * process).  For tests, the phone simulator and tools;
 * the benchmark drives its own non-blocking clients.
 */
#ifndef PT_TVS_TVS_CLIENT_H
#define PT_TVS_TVS_CLIENT_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_TVS_CLIENT_TIMEOUT_MS 10000u
#define PT_TVS_CLIENT_ROLES_MAX 64u

typedef struct pt_tvs_client_opts {
	const char *host;           /* name or address literal */
	uint16_t port;
	X509 *const *anchors;       /* trusted server certificates or CAs
				     * (borrowed); none: the server is not
				     * authenticated (tests only) */
	size_t n_anchors;
	unsigned timeout_ms;        /* 0: PT_TVS_CLIENT_TIMEOUT_MS */
	const char *device_name;    /* NULL: PT_TVS_DEFAULT_DEVICE */
	uint32_t session_id;        /* 0: 1, as the compatible client */
} pt_tvs_client_opts_t;

typedef struct pt_tvs_answer {
	bool valid;           /* STATUS 0; any other status is invalid */
	uint8_t status;
	uint8_t roles[PT_TVS_CLIENT_ROLES_MAX];
	size_t n_roles;
	bool has_ttl;
	uint32_t ttl;
} pt_tvs_answer_t;

/* Asks whether the certificate der (len bytes) is trusted.  On success
 * *out holds the answer.  Errors, with one line in why (may be NULL):
 * PT_ESYS(errno) for name resolution or connect, PT_ERR_CRYPTO for a
 * failed handshake or an untrusted server, PT_ERR_INCOMPLETE when the
 * server closed without an answer (what it does on any error, spec A5),
 * PT_ESYS(ETIMEDOUT) at the deadline, PT_ERR_MALFORMED / PT_ERR_AUTH /
 * PT_ERR_UNSUPPORTED for a response the client refuses,
 * PT_ERR_TOO_LARGE for more than PT_TVS_CLIENT_ROLES_MAX roles,
 * PT_ERR_INVALID for a bad device name. */
int pt_tvs_client_verify(const pt_tvs_client_opts_t *opts,
			 const uint8_t *der, size_t len, pt_tvs_answer_t *out,
			 char *why, size_t why_len);

/* The same exchange with a request the caller built (any bytes, for
 * tests of the server's refusals): sends msg in one write and reads one
 * response into resp (capacity cap, *resp_len its length).  The same
 * errors, without parsing the response. */
int pt_tvs_client_exchange(const pt_tvs_client_opts_t *opts,
			   const uint8_t *msg, size_t msg_len, uint8_t *resp,
			   size_t cap, size_t *resp_len, char *why,
			   size_t why_len);

#endif
