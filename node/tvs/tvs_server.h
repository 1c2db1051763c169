/* The TVS server (spec/tvs-protocol.md): TLS on the TVS port with the
 * node's TVS key and certificate, no client certificate, one
 * VERIFY_REQUEST and one VERIFY_RESPONSE per connection, answers from
 * the replicated store (lib/tvs_trust.h decides).
 *
 * A pool of worker threads, each with its own event loop
 * (pt_loop_new_plain) and its own listening socket on the port, bound with
 * SO_REUSEPORT so the kernel spreads connections over the workers.  Every
 * socket is non-blocking; OpenSSL's want-read/want-write become the loop's
 * interest mask.  A connection lives at most timeout_ms from accept to
 * close (handshake, request and answer together), so a client that
 * stalls anywhere is dropped and never holds a slot for long.  When
 * max_connections are open, a new connection is closed at once, before
 * any handshake (the reference server completes the handshake first; we
 * spare the signature, which is what such a flood costs).
 *
 * Each request is looked up in the store in a read transaction of its own
 * (the store is opened MDB_NOTLS, so read transactions may run on any
 * thread at once), so a replicated change is answered from the next
 * request on.
 *
 * Any failure closes the connection without an answer (spec §6, A5):
 * a failed handshake, a malformed request (bad header, unknown tag,
 * wrong command, bad device name, no certificate or not DER), a client
 * that closes early, a store error.  Refusals are logged through a
 * per-worker throttle (one line per kind per PT_TVS_LOG_INTERVAL_MS with
 * a count); answers are logged at debug, expired certificates at info
 * (throttled too).
 */
#ifndef PT_TVS_TVS_SERVER_H
#define PT_TVS_TVS_SERVER_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "net/log.h"
#include "store/store.h"

#define PT_TVS_DEFAULT_PORT 2445u
#define PT_TVS_WORKERS_MAX 256u
#define PT_TVS_DEFAULT_MAX_CONNECTIONS 10000u
#define PT_TVS_MAX_CONNECTIONS_MAX 1000000u
#define PT_TVS_DEFAULT_TIMEOUT_MS 10000u
#define PT_TVS_TIMEOUT_MS_MAX 300000u
#define PT_TVS_LOG_INTERVAL_MS 10000

typedef struct pt_tvs_server pt_tvs_server_t;

typedef struct pt_tvs_server_opts {
	const char *bind_address; /* IPv4 or IPv6 literal; NULL: 0.0.0.0 */
	uint16_t port;            /* 0: any free port (see _port()) */
	unsigned workers;         /* 0: one per online CPU, at most
				   * PT_TVS_WORKERS_MAX */
	unsigned max_connections; /* open at once, all workers; 0: default */
	unsigned timeout_ms;      /* accept to close; 0: default; at most
				   * PT_TVS_TIMEOUT_MS_MAX */
	pt_store_t *store;        /* borrowed; outlives the server */
	EVP_PKEY *key;            /* the TVS key and certificate (the */
	X509 *cert;               /* server takes references of its own) */
	pt_log_t *log;            /* borrowed; may be NULL */
} pt_tvs_server_opts_t;

/* Counters since the start; each is read atomically, the set is not a
 * snapshot of one instant. */
typedef struct pt_tvs_stats {
	uint64_t accepted;         /* connections accepted */
	uint64_t busy;             /* closed at once: max_connections open */
	uint64_t handshake_failed; /* TLS handshakes that failed */
	uint64_t timed_out;        /* dropped at timeout_ms */
	uint64_t malformed;        /* requests closed without an answer */
	uint64_t valid;            /* VALID answers */
	uint64_t unknown;          /* INVALID: certificate not known */
	uint64_t expired;          /* INVALID: known but expired */
	uint64_t errors;           /* store or socket failures */
	uint64_t active;           /* connections open now */
} pt_tvs_stats_t;

/* Validates opts, builds the TLS context (PT_ERR_CRYPTO when the key does
 * not match the certificate), raises RLIMIT_NOFILE to its hard limit and
 * binds the workers' sockets, so that a port in use (EADDRINUSE, also when
 * another process holds it with SO_REUSEPORT) or not permitted (EACCES)
 * fails here.  Nothing runs yet.  Errors: PT_ERR_INVALID (bad option),
 * PT_ERR_CRYPTO, PT_ESYS(errno), PT_ERR_NOMEM. */
int pt_tvs_server_new(const pt_tvs_server_opts_t *opts,
		      pt_tvs_server_t **out);

/* Starts the worker threads (they block every signal).  Call once. */
int pt_tvs_server_start(pt_tvs_server_t *srv);

/* The TCP port (the chosen one when opts.port was 0), and the number of
 * workers. */
uint16_t pt_tvs_server_port(const pt_tvs_server_t *srv);
unsigned pt_tvs_server_workers(const pt_tvs_server_t *srv);

/* Reads the counters; callable from any thread while the server runs. */
void pt_tvs_server_stats(const pt_tvs_server_t *srv, pt_tvs_stats_t *out);

/* Stops and joins the workers; every open connection ends without an
 * answer.  The counters stay readable (final figures).  Idempotent; call
 * from the thread that owns srv. */
void pt_tvs_server_stop(pt_tvs_server_t *srv);

/* Stops the server if it runs, closes every socket, frees; accepts NULL
 * and nulls the pointer. */
void pt_tvs_server_destroy(pt_tvs_server_t **srv);

#endif
