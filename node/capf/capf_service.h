/* The CAPF service (spec/capf-protocol.md): TLS on the CAPF port with the
 * CAPF key and certificate, no client certificate, one session of the
 * server machine (lib/capf_session.h) per connection, answered from the
 * store through files/capf_store.h.
 *
 * Threads.  A few worker threads, each with its own event loop
 * (pt_loop_new_plain) and its own listening socket on the port, bound
 * with SO_REUSEPORT and a deep backlog so the kernel spreads phones over
 * the workers and a burst of thousands does not overflow the accept
 * queue.  The loops only move bytes: accept registers the socket and
 * arms the handshake deadline, nothing more; all private-key work and
 * store access runs on two small pools of threads of their own:
 *   - the crypto pool: every TLS handshake step (the CAPF key's
 *     handshake signature), certificate authentication checks, LSC
 *     signing;
 *   - the store pool: device lookups, authentication-string checks and
 *     every write (status, issued/fetched/deleted certificates, failures,
 *     offline-CA requests), one transaction per outcome.
 * A pool hands its result back to the connection's worker through an
 * eventfd, so one slow signature or a store writer waiting for the
 * LMDB lock never stalls the other phones.
 *
 * Deadlines.  A connection has handshake_ms from accept to a finished
 * handshake; then each wait for the phone (its next message, or room to
 * write ours) may last idle_ms, the cluster's CAPF keep-alive, changed at
 * run time with pt_capf_service_set_idle_ms(); and the whole session at
 * most session_ms.  A client that stalls anywhere is dropped at its
 * deadline and never holds up another.  When max_connections are open a
 * new connection is closed at once, before any handshake (spec §1 closes
 * it after the handshake; the signature is what such a flood costs).
 *
 * Outcomes.  A bad message, unexpected command or refused authentication
 * ends the session with END_SESSION 7 (unknown device: 9), as the machine
 * decides; protocol errors write nothing to the store, authentication
 * failures and phone-side failures after a successful lookup are written
 * as the holder's status (files/capf_store.h).  A peer that closes or
 * times out mid-session is dropped; nothing is written for it.  Refusals
 * are logged through a per-worker throttle (one line per kind per
 * PT_CAPF_LOG_INTERVAL_MS with a count); completed operations at info.
 * Secrets (authentication strings) are never logged.
 */
#ifndef PT_CAPF_CAPF_SERVICE_H
#define PT_CAPF_CAPF_SERVICE_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "lib/seal.h"
#include "net/log.h"
#include "store/store.h"

#define PT_CAPF_DEFAULT_PORT 3804u
#define PT_CAPF_WORKERS_MAX 256u
#define PT_CAPF_POOL_MAX 256u
#define PT_CAPF_DEFAULT_MAX_CONNECTIONS 10000u
#define PT_CAPF_MAX_CONNECTIONS_MAX 1000000u
#define PT_CAPF_DEFAULT_HANDSHAKE_MS 10000u
#define PT_CAPF_DEFAULT_IDLE_MS (15u * 60u * 1000u)
#define PT_CAPF_DEFAULT_SESSION_MS (60u * 60u * 1000u)
#define PT_CAPF_TIMEOUT_MS_MAX (24u * 60u * 60u * 1000u)
#define PT_CAPF_LOG_INTERVAL_MS 10000
#define PT_CAPF_LISTEN_BACKLOG 4096

typedef struct pt_capf_service pt_capf_service_t;

typedef struct pt_capf_service_opts {
	const char *bind_address; /* IPv4 or IPv6 literal; NULL: 0.0.0.0 */
	uint16_t port;            /* 0: any free port (see _port()) */
	unsigned workers;         /* event loops; 0: one per online CPU */
	unsigned crypto_threads;  /* 0: one per online CPU */
	unsigned store_threads;   /* 0: 4 */
	unsigned max_connections; /* open at once; 0: default */
	unsigned handshake_ms;    /* 0: default */
	unsigned idle_ms;         /* 0: default (15 minutes) */
	unsigned session_ms;      /* 0: default (1 hour) */
	pt_store_t *store;        /* borrowed; outlives the service */
	/* Opens the devices' sealed authentication strings (borrowed,
	 * outlives the service). */
	const pt_data_key_t *data_key;
	EVP_PKEY *key;            /* the CAPF key and certificate: TLS, LSC */
	X509 *cert;               /* signing, offline-CA requests (the
				   * service takes references of its own) */
	pt_log_t *log;            /* borrowed; may be NULL */
} pt_capf_service_opts_t;

/* Counters since the start; each read atomically, the set is not a
 * snapshot of one instant. */
typedef struct pt_capf_stats {
	uint64_t accepted;         /* connections accepted */
	uint64_t busy;             /* closed at once: max_connections open */
	uint64_t handshake_failed; /* TLS handshakes that failed */
	uint64_t timed_out;        /* dropped at a deadline */
	uint64_t dropped;          /* the peer closed mid-session */
	uint64_t malformed;        /* protocol errors: END_SESSION 7 */
	uint64_t unknown;          /* unknown device: END_SESSION 9 */
	uint64_t auth_failed;      /* wrong string or certificate */
	uint64_t refused;          /* expired, throttled, online CA */
	uint64_t nothing;          /* no operation scheduled */
	uint64_t installed;        /* LSCs issued (or delivered) */
	uint64_t deferred;         /* requests kept for the offline CA */
	uint64_t fetched;          /* certificates fetched */
	uint64_t deleted;          /* LSCs deleted */
	uint64_t phone_failed;     /* the phone reported a failure */
	uint64_t errors;           /* store, crypto or socket failures */
	uint64_t active;           /* connections open now */
} pt_capf_stats_t;

/* Validates opts, builds the TLS context (PT_ERR_CRYPTO when the key does
 * not match the certificate), raises RLIMIT_NOFILE to its hard limit,
 * binds the workers' sockets (so a port in use or not permitted fails
 * here) and creates the pools.  Nothing runs yet.  Errors:
 * PT_ERR_INVALID, PT_ERR_CRYPTO, PT_ESYS(errno), PT_ERR_NOMEM. */
int pt_capf_service_new(const pt_capf_service_opts_t *opts,
			pt_capf_service_t **out);

/* Starts the pools and the workers (all their threads block every
 * signal).  Call once. */
int pt_capf_service_start(pt_capf_service_t *svc);

/* The TCP port (the chosen one when opts.port was 0); the number of
 * workers. */
uint16_t pt_capf_service_port(const pt_capf_service_t *svc);
unsigned pt_capf_service_workers(const pt_capf_service_t *svc);

/* The idle deadline for waits that start from now on (the cluster's
 * keep-alive changed); 0 or above PT_CAPF_TIMEOUT_MS_MAX is refused
 * with PT_ERR_INVALID.  Any thread. */
int pt_capf_service_set_idle_ms(pt_capf_service_t *svc, unsigned idle_ms);
unsigned pt_capf_service_idle_ms(const pt_capf_service_t *svc);

/* Reads the counters; any thread, while the service runs or after. */
void pt_capf_service_stats(const pt_capf_service_t *svc,
			   pt_capf_stats_t *out);

/* Stops and joins the workers and the pools; every open connection ends
 * without an answer.  The counters stay readable.  Idempotent; call from
 * the thread that owns svc. */
void pt_capf_service_stop(pt_capf_service_t *svc);

/* Stops the service if it runs, closes every socket, frees; accepts NULL
 * and nulls the pointer. */
void pt_capf_service_destroy(pt_capf_service_t **svc);

#endif
