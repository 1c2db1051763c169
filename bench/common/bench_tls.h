/* The TLS client loop the service benchmarks (bench_tvs, bench_capf)
 * share: non-blocking clients on 127.0.0.1, each a TCP connect, a full
 * TLS handshake and then the benchmark's own conversation, kept at a
 * given concurrency from one or more threads (each with its own epoll),
 * timed one by one, with the server's and the clients' CPU time over the
 * level.
 *
 * A benchmark describes its conversation with a bench_client_t: its
 * session type starts with a bench_session_t; begin() prepares a session
 * before it connects, step() advances it after the handshake, end() frees
 * what begin() made.  The context is shared by every thread: read only.
 */
#ifndef PT_BENCH_COMMON_BENCH_TLS_H
#define PT_BENCH_COMMON_BENCH_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum bench_step {
	BENCH_STEP_MORE,   /* progress made: step again */
	BENCH_STEP_WAIT,   /* waiting for the socket (see bench_tls_wait) */
	BENCH_STEP_OK,     /* the session succeeded: close and time it */
	BENCH_STEP_FAILED, /* it failed (bench_tls_note said why): close */
} bench_step_t;

struct bench_share;

typedef struct bench_session {
	SSL *ssl;
	unsigned index;  /* the level's first + the session's number */
	char label[40];  /* names the session in a failure ("" none) */
	/* private */
	struct bench_share *share;
	int fd;
	unsigned events;
	uint64_t start;
	bool connected, handshaken;
	struct bench_session *prev, *next;
} bench_session_t;

typedef struct bench_client {
	size_t session_size; /* of the benchmark's session type */
	/* Before connecting; false fails the session (noted by begin). */
	bool (*begin)(void *ctx, bench_session_t *s);
	/* After the handshake: one step of the conversation. */
	bench_step_t (*step)(void *ctx, bench_session_t *s);
	/* Frees what begin made, whatever the outcome (may be NULL). */
	void (*end)(void *ctx, bench_session_t *s);
	void *ctx;
} bench_client_t;

/* For a step whose SSL call returned n <= 0: BENCH_STEP_WAIT with the
 * socket watched for what TLS wants, or BENCH_STEP_FAILED noted as
 * what. */
bench_step_t bench_tls_wait(bench_session_t *s, int n, const char *what);

/* Keeps the level's first failure: "<label>: <what>: <OpenSSL's error or
 * errno>". */
void bench_tls_note(bench_session_t *s, const char *what);

/* A client context that accepts only the certificate in pem (the
 * server's own, compared as DER and checked for its validity dates),
 * offers X25519 alone and keeps no session, so that every session is a
 * full handshake; ends the run when pem cannot be read. */
SSL_CTX *bench_tls_client_ctx(const char *pem);

typedef struct bench_level {
	SSL_CTX *ctx;
	uint16_t port;       /* on 127.0.0.1 */
	pid_t server;        /* whose CPU time is measured */
	unsigned concurrency, total, threads;
	unsigned first;      /* index of the level's first session */
	uint64_t timeout_ns; /* a session still open after this fails */
	const bench_client_t *client;
} bench_level_t;

typedef struct bench_result {
	unsigned concurrency, total, failed;
	double rate;                 /* successful sessions per second */
	double p50, p99, max;        /* ms */
	double server_ms, client_ms; /* CPU per successful session */
	char error[256];             /* the first failure ("" none) */
	char protocol[64];           /* "TLSv1.3, x25519" */
} bench_result_t;

/* Runs total sessions at the level's concurrency and fills *out. */
void bench_tls_run(const bench_level_t *lv, bench_result_t *out);

#endif
