/* The TCP side that phonetrustd's TLS services (TVS, CAPF) share: worker
 * threads, each with its own event loop (pt_loop_new_plain) and its own
 * listening socket on the port, bound with SO_REUSEPORT and a deep
 * backlog so the kernel spreads connections over the workers and a burst
 * of thousands does not overflow the accept queue.
 *
 * The accept path only accepts: a few connections per wake-up (so a busy
 * listener does not starve the sessions open on the same worker), each
 * made TCP_NODELAY and handed to the service's accepted() callback, which
 * takes the socket over and starts its TLS state; no handshake happens
 * there.  When max_connections are open, a new connection is closed at
 * once (counted as busy).  Out of descriptors, accepting pauses for
 * PT_TLS_ACCEPT_PAUSE_MS.
 *
 * Work handed to other threads comes back through pt_tls_worker_post():
 * the job's done() then runs on the worker's loop, in order, one wake-up
 * per batch.
 *
 * Refusals are logged through per-worker throttles, one per kind the
 * service names (up to PT_TLS_NOTE_KINDS), one line per kind per
 * log_interval_ms with a count.
 */
#ifndef PT_NET_TLS_SERVER_H
#define PT_NET_TLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/log.h"
#include "net/loop.h"

#define PT_TLS_WORKERS_MAX 256u
#define PT_TLS_LISTEN_BACKLOG 4096
#define PT_TLS_ACCEPT_BURST 64
#define PT_TLS_ACCEPT_PAUSE_MS 100u
#define PT_TLS_NOTE_KINDS 16
/* Longest "address:port" of a peer, brackets included. */
#define PT_TLS_PEER_MAX 56

typedef struct pt_tls_server pt_tls_server_t;
typedef struct pt_tls_worker pt_tls_worker_t;

/* Work done elsewhere and finished on a worker's loop: done(job) runs
 * there.  The memory is the submitter's (embedded in a connection). */
typedef struct pt_tls_job pt_tls_job_t;
struct pt_tls_job {
	pt_tls_job_t *next; /* queue link */
	void (*done)(pt_tls_job_t *job);
	pt_tls_worker_t *w;
};

typedef struct pt_tls_server_opts {
	const char *name;         /* the service, for logs: "tvs", "capf" */
	const char *bind_address; /* IPv4 or IPv6 literal; NULL: 0.0.0.0 */
	uint16_t port;            /* 0: any free port */
	unsigned workers;         /* 0: one per online CPU */
	unsigned max_connections; /* open at once (> 0) */
	unsigned log_interval_ms; /* refusal throttles */
	/* Takes over fd (accepted, non-blocking, TCP_NODELAY) on w's loop:
	 * one slot of max_connections is the connection's until the service
	 * calls pt_tls_server_release().  On failure the service closes fd
	 * and releases the slot itself. */
	void (*accepted)(void *ctx, pt_tls_worker_t *w, int fd,
			 const char *peer);
	/* May be NULL: told of a connection closed at once at
	 * max_connections (after it was counted and logged). */
	void (*refused)(void *ctx, pt_tls_worker_t *w, const char *peer);
	void *ctx;
	pt_log_t *log; /* borrowed; may be NULL */
} pt_tls_server_opts_t;

/* The servers' TLS context for key and cert (borrowed; the context takes
 * references): no client certificate (phones prove themselves inside
 * their protocols), no renegotiation, no server-side session cache,
 * buffers released while idle, X25519 first among the key-exchange
 * groups.  tickets: keep stateless session tickets (TVS, whose phones
 * reconnect for every question); false for one session per phone
 * (CAPF).  PT_ERR_CRYPTO when the key does not match the certificate. */
int pt_tls_ctx_new(EVP_PKEY *key, X509 *cert, bool tickets, SSL_CTX **out);

/* Validates opts, raises RLIMIT_NOFILE to its hard limit (warning when
 * it stays below max_connections), makes sure nobody holds the port,
 * then binds every worker's socket (so a port in use fails here).
 * Nothing runs yet.  PT_ERR_INVALID, PT_ESYS(errno), PT_ERR_NOMEM. */
int pt_tls_server_new(const pt_tls_server_opts_t *opts,
		      pt_tls_server_t **out);

/* Starts the worker threads; they block every signal (signals belong to
 * the daemon's main loop). */
int pt_tls_server_start(pt_tls_server_t *s);

/* Wakes and joins the workers; their loops stop between callbacks, the
 * connections stay for the service to free (no thread touches them any
 * more).  Idempotent. */
void pt_tls_server_stop(pt_tls_server_t *s);

/* Stops, closes every socket of the engine, frees; accepts NULL and
 * nulls the pointer.  The service frees its connections first. */
void pt_tls_server_destroy(pt_tls_server_t **s);

uint16_t pt_tls_server_port(const pt_tls_server_t *s);
unsigned pt_tls_server_workers(const pt_tls_server_t *s);
pt_tls_worker_t *pt_tls_server_worker(pt_tls_server_t *s, unsigned i);

/* Counters since the start (each read atomically): connections accepted,
 * closed at once at max_connections, accept failures, open now. */
typedef struct pt_tls_counts {
	uint64_t accepted, busy, errors, active;
} pt_tls_counts_t;
void pt_tls_server_counts(const pt_tls_server_t *s, pt_tls_counts_t *out);

/* Gives back the slot of a connection the service closed (any thread). */
void pt_tls_server_release(pt_tls_server_t *s);

/* A worker's loop, its index, the engine. */
pt_loop_t *pt_tls_worker_loop(pt_tls_worker_t *w);
unsigned pt_tls_worker_index(const pt_tls_worker_t *w);
pt_tls_server_t *pt_tls_worker_server(pt_tls_worker_t *w);

/* The worker's list of open connections (net/tls_conn.h keeps it). */
struct pt_tls_conn;
void pt_tls_worker_link(pt_tls_worker_t *w, struct pt_tls_conn *c);
void pt_tls_worker_unlink(pt_tls_worker_t *w, struct pt_tls_conn *c);

/* Hands a finished job to its worker (job->w) from any thread; done()
 * runs there. */
void pt_tls_worker_post(pt_tls_job_t *job);

/* Logs one refusal of kind (< PT_TLS_NOTE_KINDS) through w's throttle
 * for it. */
void pt_tls_worker_note(pt_tls_worker_t *w, unsigned kind,
			pt_log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
