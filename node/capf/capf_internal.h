/* Internals shared by the CAPF service's files (capf_service.c: the
 * service on the TLS engine, its job pools (net/tls_pool.h), lifecycle;
 * capf_conn.c: one connection's bytes and deadlines; capf_steps.c: what
 * each request of the session machine costs the store or the CAPF key).
 * Nothing outside node/capf includes this. */
#ifndef PT_CAPF_CAPF_INTERNAL_H
#define PT_CAPF_CAPF_INTERNAL_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "capf/capf_service.h"
#include "files/capf_store.h"
#include "lib/capf_msg.h"
#include "lib/capf_session.h"
#include "lib/throttle.h"
#include "net/log.h"
#include "net/loop.h"
#include "net/tls_conn.h"
#include "net/tls_pool.h"
#include "net/tls_server.h"

#define CAPF_PEER_MAX PT_TLS_PEER_MAX
#define CAPF_WHY_MAX 320

struct capf_worker;

/* ---- workers and connections ---- */

/* Kinds of refusal, each with a log throttle of its own per worker (the
 * engine throttles busy and accept failures itself). */
enum capf_refusal {
	CAPF_R_MALFORMED,
	CAPF_R_HANDSHAKE,
	CAPF_R_TIMEOUT,
	CAPF_R_DROPPED,
	CAPF_R_UNKNOWN,
	CAPF_R_AUTH,
	CAPF_R_REFUSED,
	CAPF_R_PHONE,
	CAPF_R_ERROR,
	CAPF_R_COUNT_
};

enum capf_conn_state {
	CAPF_C_HELLO,     /* accepted, waiting for the ClientHello */
	CAPF_C_HANDSHAKE, /* handshake steps on the crypto pool */
	CAPF_C_SESSION,   /* the CAPF conversation */
	CAPF_C_CLOSING,   /* END_SESSION being written, then close */
};

/* What a pool step found, read back on the loop. */
struct capf_step_result {
	int r;
	int ssl_ret;        /* handshake: SSL_do_handshake's result */
	int ssl_err;        /* and SSL_get_error's */
	bool flag;          /* check: credentials accepted; auth_failed:
			     * now throttled */
	uint8_t *der;       /* issued certificate (malloc'd) */
	size_t der_len;
	Pt__Certificate *rec; /* its store record, made with it */
	char why[CAPF_WHY_MAX];
};

struct capf_conn {
	pt_tls_conn_t base; /* first: the engine's part (socket, SSL, peer,
			     * deadline, interest) */
	struct capf_worker *w;
	enum capf_conn_state state;
	int64_t session_end_ms;  /* monotonic; 0 before the handshake */
	bool busy;               /* a pool holds the connection */
	bool flight_sent;        /* a handshake step came back waiting */
	bool doomed;             /* a deadline passed while busy */
	pt_tls_work_t job;
	struct capf_step_result res;
	int step;                /* enum capf_step of the job */
	char fail_why[CAPF_WHY_MAX]; /* reason a failure step records */
	uint8_t *lsc;            /* the LSC signed, until recorded and sent */
	size_t lsc_len;
	Pt__Certificate *lsc_rec; /* its store record, until recorded */

	pt_capf_server_t *sm;
	uint32_t session_id;
	bool looked_up;          /* the store knows the holder */
	bool auth_recorded;      /* the failure is in the store already */
	bool ready_recorded;     /* offline-CA certificate recorded */
	bool finished;           /* outcome counted and logged */
	pt_capf_plan_t plan;

	uint8_t head[PT_CAPF_HEADER_LEN];
	uint8_t *msg;            /* header and body once the header is in */
	size_t have, want;
	uint8_t *out;            /* bytes to write in one SSL_write */
	size_t out_len;
};

/* A worker of the engine (net/tls_server.h) as CAPF sees it (the engine
 * keeps the list of connections open on it). */
struct capf_worker {
	pt_capf_service_t *svc;
	pt_tls_worker_t *tw;
	unsigned index;
	pt_loop_t *loop;
};

struct pt_capf_service {
	unsigned n_workers;
	unsigned handshake_ms;
	_Atomic unsigned idle_ms;
	unsigned session_ms;
	pt_store_t *store;
	const pt_data_key_t *data_key;
	EVP_PKEY *key;
	X509 *cert;
	pt_log_t *log;
	SSL_CTX *ctx;
	pt_tls_server_t *engine;
	struct capf_worker *workers;
	pt_tls_pool_t *crypto;
	pt_tls_pool_t *storep;
	bool running;

	_Atomic uint32_t next_session; /* §2: one counter, from 1 */
	_Atomic uint64_t handshake_failed, timed_out, dropped, malformed,
		unknown, auth_failed, refused, nothing, installed, deferred,
		fetched, deleted, phone_failed, errors;
};

/* Logs one refusal through the worker's throttle for its kind. */
void capf_note(struct capf_worker *w, enum capf_refusal kind,
	       pt_log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline void capf_count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* Takes over fd (accepted, non-blocking) for worker w: registers it,
 * arms the handshake deadline; the handshake starts when the ClientHello
 * is readable.  On failure the fd is closed and the slot counted in
 * active is given back. */
void capf_conn_start(struct capf_worker *w, int fd, const char *peer);

/* Closes c without an answer and frees it; only when no pool holds it
 * (shutting down after the pools stopped). */
void capf_conn_abort(struct capf_conn *c);

/* ---- steps (capf_steps.c) ---- */

enum capf_step {
	CAPF_STEP_HANDSHAKE,      /* crypto: one SSL_do_handshake */
	CAPF_STEP_PLAN,           /* store: pt_capf_store_plan */
	CAPF_STEP_CHECK_STRING,   /* store: pt_capf_store_check_string */
	CAPF_STEP_CHECK_CERT,     /* crypto: trust set, pt_capf_auth_check */
	CAPF_STEP_AUTH_FAILED,    /* store: pt_capf_store_auth_failed */
	CAPF_STEP_SIGN,           /* crypto: pt_capf_lsc_build */
	CAPF_STEP_RECORD_ISSUED,  /* store: pt_capf_store_record_issued */
	CAPF_STEP_RECORD_REQUEST, /* store: pt_capf_store_record_request */
	CAPF_STEP_RECORD_FETCHED, /* store */
	CAPF_STEP_RECORD_DELETED, /* store */
	CAPF_STEP_RECORD_FAILURE, /* store: pt_capf_store_record_failure */
};

/* True for the steps that run on the crypto pool, false for the store
 * pool's. */
bool capf_step_is_crypto(enum capf_step step);

/* The pool side of a job embedded in a connection: runs c->step with
 * what the connection holds (the machine's request data, c->plan,
 * c->fail_why) and leaves the result in c->res. */
void capf_step_run(pt_tls_work_t *job);

/* The store pool's side of CAPF_STEP_RECORD_ISSUED for LSCs this server
 * signed (the record made on the crypto pool): every connection's
 * certificate recorded by one pt_capf_store_record_issued_many, each
 * result in its c->res. */
void capf_step_record_batch(pt_tls_work_t **jobs, size_t n);

/* One SSL_do_handshake on c with its result in c->res (the handshake
 * step; also run on the loop once a TLS 1.3 server flight is out, when
 * nothing private-key remains). */
void capf_step_handshake(struct capf_conn *c);

/* Frees what a result holds and zeroes it. */
void capf_step_result_clear(struct capf_step_result *res);

/* Why OpenSSL gave up, for the log: the first error of the calling
 * thread's queue, or the socket's (sys_errno). */
void capf_ssl_reason(int ssl_err, int sys_errno, char *buf, size_t len);

#endif
