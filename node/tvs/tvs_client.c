#include "tvs/tvs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/tvs_msg.h"

struct client {
	const pt_tvs_client_opts_t *opts;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int64_t deadline; /* of the current step, monotonic ms */
	char *why;
	size_t why_len;
};

static int say(struct client *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int say(struct client *c, int err, const char *fmt, ...)
{
	if (c->why && c->why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->why, c->why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static unsigned timeout_of(const pt_tvs_client_opts_t *o)
{
	return o->timeout_ms ? o->timeout_ms : PT_TVS_CLIENT_TIMEOUT_MS;
}

static void step_start(struct client *c)
{
	c->deadline = pt_clock_mono_ms() + timeout_of(c->opts);
}

/* Waits until fd is ready for events or the step's deadline passes. */
static int wait_fd(struct client *c, short events)
{
	for (;;) {
		int64_t left = c->deadline - pt_clock_mono_ms();
		if (left <= 0)
			return PT_ESYS(ETIMEDOUT);
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return PT_OK;
		if (n < 0 && errno != EINTR)
			return PT_ESYS(errno);
	}
}

static int dial(struct client *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	snprintf(port, sizeof port, "%u", c->opts->port);
	int g = getaddrinfo(c->opts->host, port, &hints, &res);
	if (g != 0)
		return say(c, PT_ESYS(EHOSTUNREACH), "cannot resolve %s: %s",
			   c->opts->host, gai_strerror(g));
	int r = PT_ESYS(ECONNREFUSED);
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family,
				a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				0);
		if (fd < 0) {
			r = PT_ESYS(errno);
			continue;
		}
		c->fd = fd;
		step_start(c);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			r = PT_OK;
			break;
		}
		if (errno == EINPROGRESS && (r = wait_fd(c, POLLOUT)) == PT_OK) {
			int err = 0;
			socklen_t len = sizeof err;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			r = err ? PT_ESYS(err) : PT_OK;
		} else if (errno != EINPROGRESS) {
			r = PT_ESYS(errno);
		}
		if (r == PT_OK)
			break;
		close(fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (r != PT_OK)
		return say(c, r, "cannot connect to %s:%u: %s", c->opts->host,
			   c->opts->port, pt_strerror(r));
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return PT_OK;
}

/* A connection the server ended: close_notify, a plain EOF, a reset, or
 * (OpenSSL 3) an EOF reported as an error. */
static bool closed_by_peer(int e)
{
	unsigned long q = ERR_peek_error();
	if (e == SSL_ERROR_ZERO_RETURN)
		return true;
	if (e == SSL_ERROR_SYSCALL) /* EOF or a reset */
		return true;
	return e == SSL_ERROR_SSL && ERR_GET_LIB(q) == ERR_LIB_SSL &&
	       ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Turns OpenSSL's want-read/want-write into a wait; PT_OK to retry. */
static int ssl_wait(struct client *c, int n, const char *what)
{
	int e = SSL_get_error(c->ssl, n);
	int r;
	if (e == SSL_ERROR_WANT_READ)
		r = wait_fd(c, POLLIN);
	else if (e == SSL_ERROR_WANT_WRITE)
		r = wait_fd(c, POLLOUT);
	else if (closed_by_peer(e))
		return say(c, PT_ERR_INCOMPLETE,
			   "the server closed the connection %s", what);
	else {
		char detail[256] = "TLS error";
		unsigned long q = ERR_peek_error();
		if (q)
			ERR_error_string_n(q, detail, sizeof detail);
		return say(c, PT_ERR_CRYPTO, "TLS failed %s: %s", what,
			   detail);
	}
	if (r != PT_OK)
		return say(c, r, "no progress %s within %u ms", what,
			   timeout_of(c->opts));
	return PT_OK;
}

static int handshake(struct client *c)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return say(c, PT_ERR_CRYPTO, "cannot create a TLS context");
	if (c->opts->n_anchors) {
		X509_STORE *st = SSL_CTX_get_cert_store(c->ctx);
		for (size_t i = 0; i < c->opts->n_anchors; i++)
			if (X509_STORE_add_cert(st, c->opts->anchors[i]) != 1)
				return say(c, PT_ERR_CRYPTO,
					   "cannot use trust anchor %zu", i);
		/* The chain is checked; the host name is not (spec §1). */
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return say(c, PT_ERR_CRYPTO, "cannot create a TLS connection");
	step_start(c);
	for (;;) {
		ERR_clear_error();
		int n = SSL_connect(c->ssl);
		if (n == 1)
			return PT_OK;
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			return say(c, PT_ERR_CRYPTO,
				   "the server's certificate is not trusted: "
				   "%s",
				   X509_verify_cert_error_string(vr));
		int r = ssl_wait(c, n, "during the handshake");
		if (r != PT_OK)
			return r;
	}
}

static int send_all(struct client *c, const uint8_t *msg, size_t len)
{
	step_start(c);
	for (;;) {
		ERR_clear_error();
		int n = SSL_write(c->ssl, msg, (int)len);
		if (n > 0)
			return PT_OK;
		int r = ssl_wait(c, n, "while sending the request");
		if (r != PT_OK)
			return r;
	}
}

/* Reads exactly len bytes; got (may be NULL) counts what arrived. */
static int read_exact(struct client *c, uint8_t *buf, size_t len,
		      size_t *got)
{
	size_t have = 0;
	step_start(c);
	while (have < len) {
		ERR_clear_error();
		int n = SSL_read(c->ssl, buf + have, (int)(len - have));
		if (n > 0) {
			have += (size_t)n;
			step_start(c);
			continue;
		}
		int r = ssl_wait(c, n, have || (got && *got)
					       ? "in the middle of the answer"
					       : "without an answer");
		if (r != PT_OK) {
			if (got)
				*got += have;
			return r;
		}
	}
	if (got)
		*got += have;
	return PT_OK;
}

static void client_clear(struct client *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	ERR_clear_error();
}

/* A server that closes first turns our next write into EPIPE, and the
 * signal that comes with it would end the caller's process: it is blocked
 * for the exchange and, if raised by it, taken back before unblocking. */
struct pipe_guard {
	sigset_t old;
	bool was_pending;
};

static void pipe_guard_begin(struct pipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE);
}

static void pipe_guard_end(struct pipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int pt_tvs_client_exchange(const pt_tvs_client_opts_t *opts,
			   const uint8_t *msg, size_t msg_len, uint8_t *resp,
			   size_t cap, size_t *resp_len, char *why,
			   size_t why_len)
{
	struct client c = {.opts = opts, .fd = -1, .why = why,
			   .why_len = why_len};
	size_t got = 0;
	pt_tvs_header_t h;
	struct pipe_guard guard;
	*resp_len = 0;
	pipe_guard_begin(&guard);
	int r = dial(&c);
	if (r == PT_OK)
		r = handshake(&c);
	if (r == PT_OK)
		r = send_all(&c, msg, msg_len);
	if (r != PT_OK)
		goto out;
	if (cap < PT_TVS_HEADER_LEN) {
		r = say(&c, PT_ERR_TOO_LARGE, "no room for an answer");
		goto out;
	}
	r = read_exact(&c, resp, PT_TVS_HEADER_LEN, &got);
	if (r != PT_OK)
		goto out;
	r = pt_tvs_header_decode(resp, PT_TVS_HEADER_LEN, &h);
	if (r != PT_OK) {
		say(&c, r, "the answer is not a TVS message");
		goto out;
	}
	if (PT_TVS_HEADER_LEN + (size_t)h.body_len > cap) {
		r = say(&c, PT_ERR_TOO_LARGE, "an answer of %u bytes is too "
					      "large",
			h.body_len);
		goto out;
	}
	r = read_exact(&c, resp + PT_TVS_HEADER_LEN, h.body_len, &got);
	if (r != PT_OK)
		goto out;
	*resp_len = PT_TVS_HEADER_LEN + h.body_len;
	/* Our side of the close; the server closes anyway. */
	SSL_shutdown(c.ssl);
out:
	client_clear(&c);
	pipe_guard_end(&guard);
	return r;
}

int pt_tvs_client_verify(const pt_tvs_client_opts_t *opts,
			 const uint8_t *der, size_t len, pt_tvs_answer_t *out,
			 char *why, size_t why_len)
{
	uint32_t session = opts->session_id ? opts->session_id : 1;
	const char *device = opts->device_name ? opts->device_name
					       : PT_TVS_DEFAULT_DEVICE;
	uint8_t *req = malloc(PT_TVS_MSG_MAX);
	uint8_t *resp = malloc(PT_TVS_MSG_MAX);
	size_t req_len = 0, resp_len = 0;
	const char *reason = NULL;
	pt_tvs_response_t rs;
	int r = PT_ERR_NOMEM;

	memset(out, 0, sizeof *out);
	if (!req || !resp)
		goto out;
	r = pt_tvs_request_build(session, device, der, len, req,
				 PT_TVS_MSG_MAX, &req_len);
	if (r != PT_OK) {
		if (why && why_len)
			snprintf(why, why_len, "%s",
				 r == PT_ERR_INVALID
					 ? "the device name is not "
					   "CP-<4 digits>-SEP<12 hex digits>"
					 : "the certificate is too large for "
					   "a request");
		goto out;
	}
	r = pt_tvs_client_exchange(opts, req, req_len, resp, PT_TVS_MSG_MAX,
				   &resp_len, why, why_len);
	if (r != PT_OK)
		goto out;
	r = pt_tvs_response_parse(resp, resp_len, session, &rs, &reason);
	if (r != PT_OK) {
		if (why && why_len)
			snprintf(why, why_len, "answer refused: %s", reason);
		goto out;
	}
	if (rs.n_roles > PT_TVS_CLIENT_ROLES_MAX) {
		r = PT_ERR_TOO_LARGE;
		if (why && why_len)
			snprintf(why, why_len, "answer with %zu roles",
				 rs.n_roles);
		goto out;
	}
	out->status = rs.status;
	out->valid = rs.status == PT_TVS_STATUS_VALID;
	out->n_roles = rs.n_roles;
	if (rs.n_roles)
		memcpy(out->roles, rs.roles, rs.n_roles);
	out->has_ttl = rs.has_ttl;
	out->ttl = rs.ttl;
out:
	free(req);
	free(resp);
	return r;
}
