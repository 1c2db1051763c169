/* A TLS connection's share of the engine (net/tls_conn.h). */
#include "net/tls_conn.h"

#include <openssl/err.h>
#include <stdio.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "lib/errors.h"

static void on_io(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	pt_tls_conn_t *c = data;
	(void)loop;
	(void)fd;
	(void)events;
	c->on_io(c);
}

static void on_timer(pt_loop_t *loop, uint64_t id, void *data)
{
	pt_tls_conn_t *c = data;
	(void)loop;
	(void)id;
	c->timer = 0; /* a one-shot timer is gone once it fired */
	c->on_deadline(c);
}

int pt_tls_conn_open(pt_tls_conn_t *c, pt_tls_worker_t *w, int fd,
		     const char *peer, SSL_CTX *ctx, uint64_t deadline_ms)
{
	int r = PT_ERR_CRYPTO;
	c->w = w;
	c->loop = pt_tls_worker_loop(w);
	c->fd = fd;
	c->timer = 0;
	c->mask = 0;
	c->prev = c->next = NULL;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1)
		goto out;
	SSL_set_accept_state(c->ssl);
	r = pt_loop_fd_add(c->loop, fd, PT_LOOP_READ, on_io, c);
	if (r != PT_OK)
		goto out;
	c->mask = PT_LOOP_READ;
	r = pt_loop_timer_add(c->loop, deadline_ms, 0, on_timer, c, &c->timer);
	if (r != PT_OK) {
		pt_loop_fd_del(c->loop, fd);
		c->timer = 0;
		goto out;
	}
	pt_tls_worker_link(w, c);
out:
	if (r != PT_OK) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	return r;
}

void pt_tls_conn_set_mask(pt_tls_conn_t *c, unsigned mask)
{
	if (c->mask == mask)
		return;
	if (pt_loop_fd_mod(c->loop, c->fd, mask) == PT_OK)
		c->mask = mask;
}

void pt_tls_conn_arm(pt_tls_conn_t *c, uint64_t after_ms)
{
	if (c->timer)
		pt_loop_timer_del(c->loop, c->timer);
	c->timer = 0;
	if (pt_loop_timer_add(c->loop, after_ms, 0, on_timer, c, &c->timer) !=
	    PT_OK)
		c->timer = 0;
}

void pt_tls_conn_close(pt_tls_conn_t *c, bool notify)
{
	if (c->timer)
		pt_loop_timer_del(c->loop, c->timer);
	c->timer = 0;
	pt_loop_fd_del(c->loop, c->fd);
	if (c->ssl) {
		/* One attempt at close_notify after a complete exchange; a
		 * peer that already left costs nothing more. */
		if (notify)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	ERR_clear_error();
	close(c->fd);
	c->fd = -1;
	pt_tls_worker_unlink(c->w, c);
	pt_tls_server_release(pt_tls_worker_server(c->w));
}

/* n from SSL_read or SSL_write: bytes moved, 0 to wait, or the failure. */
static int io_result(pt_tls_conn_t *c, int n, int *ssl_err)
{
	if (n > 0)
		return n;
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ) {
		pt_tls_conn_set_mask(c, PT_LOOP_READ);
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		pt_tls_conn_set_mask(c, PT_LOOP_WRITE);
		return 0;
	}
	*ssl_err = e;
	return PT_ERR_CRYPTO;
}

int pt_tls_conn_read(pt_tls_conn_t *c, void *buf, size_t len, int *ssl_err)
{
	ERR_clear_error();
	errno = 0;
	int n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	return io_result(c, n, ssl_err);
}

int pt_tls_conn_write(pt_tls_conn_t *c, const void *buf, size_t len,
		      int *ssl_err)
{
	ERR_clear_error();
	errno = 0;
	int n = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	return io_result(c, n, ssl_err);
}

void pt_tls_reason(int ssl_err, int sys_errno, const char *closer, char *buf,
		   size_t len)
{
	unsigned long e = ERR_peek_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else if (ssl_err == SSL_ERROR_SYSCALL && sys_errno)
		snprintf(buf, len, "%s", strerror(sys_errno));
	else if (ssl_err == SSL_ERROR_ZERO_RETURN ||
		 ssl_err == SSL_ERROR_SYSCALL)
		snprintf(buf, len, "%s closed the connection", closer);
	else
		snprintf(buf, len, "TLS error %d", ssl_err);
}
