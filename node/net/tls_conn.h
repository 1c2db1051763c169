/* One TLS connection on a worker of the engine (net/tls_server.h): its
 * socket, its server-side SSL, its one deadline, the loop's interest in
 * it, its place in the worker's list of open connections.  A service
 * embeds a pt_tls_conn_t in its own connection and finds its way back
 * with the callbacks' argument.  Everything here runs on the worker's
 * loop thread.
 */
#ifndef PT_NET_TLS_CONN_H
#define PT_NET_TLS_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/tls_server.h"

typedef struct pt_tls_conn pt_tls_conn_t;
struct pt_tls_conn {
	pt_tls_worker_t *w;
	pt_loop_t *loop;
	pt_tls_conn_t *prev, *next; /* the worker's open connections */
	int fd;
	SSL *ssl;
	uint64_t timer;
	unsigned mask; /* interest registered with the loop */
	/* The socket is ready for what mask asked. */
	void (*on_io)(pt_tls_conn_t *c);
	/* The deadline passed (the timer is gone). */
	void (*on_deadline)(pt_tls_conn_t *c);
	char peer[PT_TLS_PEER_MAX];
};

/* Takes over fd (accepted, non-blocking) for c on w: a server SSL from
 * ctx in accept state, the socket watched for reading (the client
 * speaks first), the deadline armed deadline_ms from now, c linked into
 * w's list.  c's on_io and on_deadline must be set.  On failure nothing
 * is registered and c's SSL is freed; fd stays the caller's. */
int pt_tls_conn_open(pt_tls_conn_t *c, pt_tls_worker_t *w, int fd,
		     const char *peer, SSL_CTX *ctx, uint64_t deadline_ms);

/* Sets the loop's interest (PT_LOOP_READ, PT_LOOP_WRITE or 0). */
void pt_tls_conn_set_mask(pt_tls_conn_t *c, unsigned mask);

/* Replaces the deadline with one after_ms from now. */
void pt_tls_conn_arm(pt_tls_conn_t *c, uint64_t after_ms);

/* Unregisters, sends close_notify once when notify, frees the SSL,
 * closes the socket, unlinks c and gives its slot back to the engine.
 * c's memory stays the caller's. */
void pt_tls_conn_close(pt_tls_conn_t *c, bool notify);

/* One SSL_read of up to len bytes into buf, or one SSL_write of len
 * bytes (one TLS record under 16 KiB).  Returns the bytes moved (> 0);
 * 0 when the loop must wait (the interest is set to what OpenSSL wants);
 * PT_ERR_CRYPTO when the connection failed or the peer closed it:
 * *ssl_err is SSL_get_error's value, errno the socket's. */
int pt_tls_conn_read(pt_tls_conn_t *c, void *buf, size_t len, int *ssl_err);
int pt_tls_conn_write(pt_tls_conn_t *c, const void *buf, size_t len,
		      int *ssl_err);

/* Why OpenSSL gave up, for a log line: the first error of the calling
 * thread's queue, else the socket's (sys_errno), else "<closer> closed
 * the connection" (closer: "the client", "the peer"). */
void pt_tls_reason(int ssl_err, int sys_errno, const char *closer, char *buf,
		   size_t len);

/* The first open connection of w (NULL when none): for freeing them all
 * once the workers stopped. */
pt_tls_conn_t *pt_tls_worker_conns(pt_tls_worker_t *w);

#endif
