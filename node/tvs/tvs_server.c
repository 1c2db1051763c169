/* TVS workers: listening sockets, accept, threads, lifecycle, counters.
 * One connection's exchange lives in tvs_conn.c. */
#include "tvs/tvs_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "tvs/tvs_internal.h"

/* Connections taken per wake-up, so one busy listener does not starve
 * the connections already open on the same worker. */
#define ACCEPT_BURST 64
/* Out of file descriptors: accepting pauses this long. */
#define ACCEPT_PAUSE_MS 100u
#define LISTEN_BACKLOG 4096

void tvs_note(struct tvs_worker *w, enum tvs_refusal kind,
	      pt_log_level_t level, const char *fmt, ...)
{
	unsigned n = 0;
	if (!pt_log_enabled(w->srv->log, level) ||
	    !pt_throttle_pass(&w->throttle[kind], pt_clock_mono_ms(), &n))
		return;
	char msg[PT_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n > 1)
		pt_log_write(w->srv->log, level,
			     "%s (%u such events on worker %u since its last "
			     "line of this kind)",
			     msg, n, w->index);
	else
		pt_log_write(w->srv->log, level, "%s", msg);
}

static void format_peer(const struct sockaddr_storage *ss, char *buf,
			size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "(address family %u)", ss->ss_family);
	}
}

static void on_listen_resume(pt_loop_t *loop, uint64_t id, void *data)
{
	struct tvs_worker *w = data;
	(void)id;
	if (pt_loop_fd_mod(loop, w->listen_fd, PT_LOOP_READ) == PT_OK)
		w->listen_paused = false;
}

/* Stops watching the listener for a moment: with no descriptor left,
 * a level-triggered listener would wake the loop for nothing. */
static void pause_listener(struct tvs_worker *w)
{
	uint64_t id;
	if (w->listen_paused)
		return;
	if (pt_loop_fd_mod(w->loop, w->listen_fd, 0) != PT_OK)
		return;
	w->listen_paused = true;
	if (pt_loop_timer_add(w->loop, ACCEPT_PAUSE_MS, 0, on_listen_resume,
			      w, &id) != PT_OK)
		on_listen_resume(w->loop, 0, w);
}

static void on_accept(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	struct tvs_worker *w = data;
	pt_tvs_server_t *srv = w->srv;
	(void)loop;
	(void)events;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int c = accept4(fd, (struct sockaddr *)&ss, &sl,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			int e = errno;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return;
			if (e == EINTR || e == ECONNABORTED)
				continue;
			atomic_fetch_add_explicit(&srv->errors, 1,
						  memory_order_relaxed);
			tvs_note(w, TVS_R_ERROR, PT_LOG_ERROR,
				 "tvs: accept failed: %s; accepting again in "
				 "%u ms",
				 strerror(e), ACCEPT_PAUSE_MS);
			pause_listener(w);
			return;
		}
		char peer[TVS_PEER_MAX];
		format_peer(&ss, peer, sizeof peer);
		uint64_t open = atomic_fetch_add_explicit(&srv->active, 1,
							  memory_order_relaxed);
		if (open >= srv->max_connections) {
			atomic_fetch_sub_explicit(&srv->active, 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&srv->busy, 1,
						  memory_order_relaxed);
			tvs_note(w, TVS_R_BUSY, PT_LOG_WARN,
				 "tvs: %u connections open (max_connections): "
				 "%s closed at once",
				 srv->max_connections, peer);
			close(c);
			continue;
		}
		atomic_fetch_add_explicit(&srv->accepted, 1,
					  memory_order_relaxed);
		int one = 1;
		/* Handshake flights and the answer are single writes; no
		 * reason to hold them back. */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		tvs_conn_start(w, c, peer);
	}
}

static void on_wake(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	uint64_t v;
	(void)events;
	(void)data;
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	pt_loop_stop(loop);
}

static int parse_bind(const char *text, uint16_t port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (!text)
		text = "0.0.0.0";
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof *in;
		return PT_OK;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof *in6;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* SO_REUSEPORT would let a second server of the same user share the port
 * silently and take half the phones: make sure nobody holds it first. */
static int probe_port(const pt_tvs_server_t *srv)
{
	int fd = socket(srv->bind.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PT_ESYS(errno);
	int one = 1, r = PT_OK;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&srv->bind, srv->bind_len) != 0)
		r = PT_ESYS(errno);
	close(fd);
	return r;
}

static int listen_socket(pt_tvs_server_t *srv, int *out)
{
	int one = 1, r;
	int fd = socket(srv->bind.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PT_ESYS(errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
	    bind(fd, (const struct sockaddr *)&srv->bind, srv->bind_len) !=
		    0 ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		r = PT_ESYS(errno);
		close(fd);
		return r;
	}
	if (srv->port == 0) {
		struct sockaddr_storage got;
		socklen_t len = sizeof got;
		if (getsockname(fd, (struct sockaddr *)&got, &len) != 0) {
			r = PT_ESYS(errno);
			close(fd);
			return r;
		}
		srv->port = ntohs(got.ss_family == AF_INET
					  ? ((struct sockaddr_in *)&got)->sin_port
					  : ((struct sockaddr_in6 *)&got)
						    ->sin6_port);
		set_port(&srv->bind, srv->port);
	}
	*out = fd;
	return PT_OK;
}

static int worker_init(pt_tvs_server_t *srv, struct tvs_worker *w,
		       unsigned index)
{
	w->srv = srv;
	w->index = index;
	for (int k = 0; k < TVS_R_COUNT_; k++)
		w->throttle[k].interval_ms = PT_TVS_LOG_INTERVAL_MS;
	int r = pt_loop_new_plain(&w->loop);
	if (r != PT_OK)
		return r;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return PT_ESYS(errno);
	r = pt_loop_fd_add(w->loop, w->wake_fd, PT_LOOP_READ, on_wake, w);
	if (r != PT_OK)
		return r;
	r = listen_socket(srv, &w->listen_fd);
	if (r != PT_OK)
		return r;
	return pt_loop_fd_add(w->loop, w->listen_fd, PT_LOOP_READ, on_accept,
			      w);
}

static void worker_clear(struct tvs_worker *w)
{
	while (w->conns)
		tvs_conn_abort(w->conns);
	if (w->listen_fd >= 0) {
		if (w->loop)
			pt_loop_fd_del(w->loop, w->listen_fd);
		close(w->listen_fd);
	}
	if (w->wake_fd >= 0) {
		if (w->loop)
			pt_loop_fd_del(w->loop, w->wake_fd);
		close(w->wake_fd);
	}
	pt_loop_destroy(&w->loop);
	w->listen_fd = w->wake_fd = -1;
}

/* Enough descriptors for max_connections (each is one socket) if the
 * hard limit allows; what it does not allow shows up as accept errors. */
static void raise_fd_limit(pt_tvs_server_t *srv)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		goto check;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		getrlimit(RLIMIT_NOFILE, &rl);
check:
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)srv->max_connections + 64)
		pt_log_warn(srv->log,
			    "tvs: the descriptor limit (%llu) is below "
			    "max_connections (%u): connections beyond it "
			    "will be refused at accept",
			    (unsigned long long)rl.rlim_cur,
			    srv->max_connections);
}

static int make_ctx(const pt_tvs_server_opts_t *opts, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r = PT_ERR_CRYPTO;
	if (!ctx)
		goto out;
	/* No client certificate (spec §1); phones reconnect for every
	 * question, so no server-side session cache either (tickets, which
	 * cost the server no state, stay on). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Thousands of connections mostly waiting for a peer: buffers are
	 * held only while bytes are in them. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate(ctx, opts->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, opts->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	*out = ctx;
	ctx = NULL;
	r = PT_OK;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int pt_tvs_server_new(const pt_tvs_server_opts_t *opts,
		      pt_tvs_server_t **out)
{
	pt_tvs_server_t *srv = NULL;
	int r;

	*out = NULL;
	if (!opts->store || !opts->key || !opts->cert ||
	    opts->workers > PT_TVS_WORKERS_MAX ||
	    opts->max_connections > PT_TVS_MAX_CONNECTIONS_MAX ||
	    opts->timeout_ms > PT_TVS_TIMEOUT_MS_MAX)
		return PT_ERR_INVALID;
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return PT_ERR_NOMEM;
	r = parse_bind(opts->bind_address, opts->port, &srv->bind,
		       &srv->bind_len);
	if (r != PT_OK)
		goto out;
	srv->port = opts->port;
	srv->store = opts->store;
	srv->log = opts->log;
	srv->max_connections = opts->max_connections
				       ? opts->max_connections
				       : PT_TVS_DEFAULT_MAX_CONNECTIONS;
	srv->timeout_ms = opts->timeout_ms ? opts->timeout_ms
					   : PT_TVS_DEFAULT_TIMEOUT_MS;
	srv->n_workers = opts->workers;
	if (!srv->n_workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		srv->n_workers = cpus < 1 ? 1
				 : cpus > PT_TVS_WORKERS_MAX
					 ? PT_TVS_WORKERS_MAX
					 : (unsigned)cpus;
	}
	r = make_ctx(opts, &srv->ctx);
	if (r != PT_OK)
		goto out;
	raise_fd_limit(srv);
	if (srv->port != 0 && (r = probe_port(srv)) != PT_OK)
		goto out;
	srv->workers = calloc(srv->n_workers, sizeof *srv->workers);
	if (!srv->workers) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < srv->n_workers; i++)
		srv->workers[i].listen_fd = srv->workers[i].wake_fd = -1;
	for (unsigned i = 0; i < srv->n_workers; i++) {
		r = worker_init(srv, &srv->workers[i], i);
		if (r != PT_OK)
			goto out;
	}
	*out = srv;
	srv = NULL;
	r = PT_OK;
out:
	pt_tvs_server_destroy(&srv);
	return r;
}

static void *worker_main(void *arg)
{
	struct tvs_worker *w = arg;
	int r = pt_loop_run(w->loop);
	if (r != PT_OK)
		pt_log_error(w->srv->log, "tvs: worker %u stopped: its event "
					  "loop failed: %s",
			     w->index, pt_strerror(r));
	/* Connections end on the thread that ran them. */
	while (w->conns)
		tvs_conn_abort(w->conns);
	return NULL;
}

int pt_tvs_server_start(pt_tvs_server_t *srv)
{
	sigset_t all, old;
	int r = PT_OK;
	/* Signals belong to the daemon's main loop: the workers inherit a
	 * mask that blocks every one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct tvs_worker *w = &srv->workers[i];
		if (w->started)
			continue;
		int e = pthread_create(&w->thread, NULL, worker_main, w);
		if (e != 0) {
			r = PT_ESYS(e);
			break;
		}
		w->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

uint16_t pt_tvs_server_port(const pt_tvs_server_t *srv)
{
	return srv->port;
}

unsigned pt_tvs_server_workers(const pt_tvs_server_t *srv)
{
	return srv->n_workers;
}

void pt_tvs_server_stats(const pt_tvs_server_t *srv, pt_tvs_stats_t *out)
{
	pt_tvs_server_t *s = (pt_tvs_server_t *)srv;
	memory_order m = memory_order_relaxed;
	*out = (pt_tvs_stats_t){
		.accepted = atomic_load_explicit(&s->accepted, m),
		.busy = atomic_load_explicit(&s->busy, m),
		.handshake_failed = atomic_load_explicit(&s->handshake_failed, m),
		.timed_out = atomic_load_explicit(&s->timed_out, m),
		.malformed = atomic_load_explicit(&s->malformed, m),
		.valid = atomic_load_explicit(&s->valid, m),
		.unknown = atomic_load_explicit(&s->unknown, m),
		.expired = atomic_load_explicit(&s->expired, m),
		.errors = atomic_load_explicit(&s->errors, m),
		.active = atomic_load_explicit(&s->active, m),
	};
}

void pt_tvs_server_stop(pt_tvs_server_t *srv)
{
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
		struct tvs_worker *w = &srv->workers[i];
		uint64_t one = 1;
		if (w->started && write(w->wake_fd, &one, sizeof one) < 0)
			pt_log_error(srv->log, "tvs: cannot wake worker %u: %s",
				     i, strerror(errno));
	}
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
		struct tvs_worker *w = &srv->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void pt_tvs_server_destroy(pt_tvs_server_t **srvp)
{
	if (!srvp || !*srvp)
		return;
	pt_tvs_server_t *srv = *srvp;
	pt_tvs_server_stop(srv);
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
		worker_clear(&srv->workers[i]);
	free(srv->workers);
	SSL_CTX_free(srv->ctx);
	free(srv);
	*srvp = NULL;
}
