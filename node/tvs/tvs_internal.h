/* Internals shared by the TVS server's files (tvs_server.c: workers and
 * listeners; tvs_conn.c: one connection; tvs_lookup.c: the store side).
 * Nothing outside node/tvs includes this. */
#ifndef PT_TVS_TVS_INTERNAL_H
#define PT_TVS_TVS_INTERNAL_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/throttle.h"
#include "lib/tvs_msg.h"
#include "lib/tvs_trust.h"
#include "net/log.h"
#include "net/loop.h"
#include "net/tls_conn.h"
#include "net/tls_server.h"
#include "store/store.h"
#include "tvs/tvs_server.h"

#define TVS_PEER_MAX PT_TLS_PEER_MAX

/* Kinds of refusal, each with a throttle of its own per worker (the
 * engine throttles busy and accept failures itself). */
enum tvs_refusal {
	TVS_R_MALFORMED,
	TVS_R_HANDSHAKE,
	TVS_R_TIMEOUT,
	TVS_R_EXPIRED,
	TVS_R_ERROR,
	TVS_R_COUNT_
};

struct tvs_worker;

enum tvs_conn_state {
	TVS_HANDSHAKE,
	TVS_READING,
	TVS_WRITING,
};

struct tvs_conn {
	pt_tls_conn_t base; /* first: the engine's part (socket, SSL, peer) */
	struct tvs_worker *w;
	enum tvs_conn_state state;
	uint8_t head[PT_TVS_HEADER_LEN];
	uint8_t *msg;  /* header and body once the header is read */
	size_t have;   /* bytes read so far */
	size_t want;   /* bytes of the whole request (10 until known) */
	uint8_t out[PT_TVS_RESPONSE_MAX];
	size_t out_len;
};

/* A worker of the engine (net/tls_server.h) as TVS sees it (the engine
 * keeps the list of connections open on it). */
struct tvs_worker {
	pt_tvs_server_t *srv;
	pt_tls_worker_t *tw;
	unsigned index;
	pt_loop_t *loop;
};

struct pt_tvs_server {
	unsigned timeout_ms;
	pt_store_t *store;
	pt_log_t *log;
	SSL_CTX *ctx;
	pt_tls_server_t *engine;
	struct tvs_worker *workers;
	unsigned n_workers;

	_Atomic uint64_t handshake_failed, timed_out, malformed, valid, unknown,
		expired, errors;
};

/* Takes over fd (accepted, non-blocking) for worker w: creates the TLS
 * state, registers it with the loop and arms its timeout.  On failure the
 * fd is closed and the slot counted in active is given back. */
void tvs_conn_start(struct tvs_worker *w, int fd, const char *peer);

/* Closes c without an answer (no close_notify) and frees it; for
 * shutting the server down. */
void tvs_conn_abort(struct tvs_conn *c);

/* Logs one refusal through the worker's throttle for its kind. */
void tvs_note(struct tvs_worker *w, enum tvs_refusal kind,
	      pt_log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Looks req up in store at now and fills *v.  PT_OK with *outcome set, or
 * a store error (the connection is then closed without an answer). */
int tvs_lookup(pt_store_t *store, const pt_tvs_request_t *req, int64_t now,
	       pt_tvs_verdict_t *v, pt_tvs_outcome_t *outcome);

#endif
