/* The TLS services' workers: listening sockets, accept, threads, the
 * hand-back of finished jobs, throttled refusal lines (net/tls_server.h).
 * What a connection does is the service's. */
#include "net/tls_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/throttle.h"
#include "net/tls_conn.h"

/* The engine's own refusals, throttled apart from the service's. */
enum { NOTE_BUSY, NOTE_ERROR, NOTE_OWN_ };

struct pt_tls_worker {
	pt_tls_server_t *s;
	unsigned index;
	pthread_t thread;
	bool started;
	pt_loop_t *loop;
	int listen_fd;
	int wake_fd; /* eventfd: stop */
	int done_fd; /* eventfd: posted jobs */
	pthread_mutex_t done_mu;
	bool mu_ready;
	pt_tls_job_t *done_head, *done_tail;
	bool listen_paused;
	pt_throttle_t throttle[PT_TLS_NOTE_KINDS];
	pt_throttle_t own[NOTE_OWN_];
	pt_tls_conn_t *conns;
};

struct pt_tls_server {
	char name[16];
	struct sockaddr_storage bind;
	socklen_t bind_len;
	uint16_t port;
	unsigned n_workers;
	unsigned max_connections;
	void (*accepted)(void *ctx, pt_tls_worker_t *w, int fd,
			 const char *peer);
	void (*refused)(void *ctx, pt_tls_worker_t *w, const char *peer);
	void *ctx;
	pt_log_t *log;
	pt_tls_worker_t *workers;
	_Atomic uint64_t accepted_n, busy, errors, active;
};

static void note_with(pt_tls_worker_t *w, pt_throttle_t *t,
		      pt_log_level_t level, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void note_with(pt_tls_worker_t *w, pt_throttle_t *t,
		      pt_log_level_t level, const char *fmt, va_list ap)
{
	unsigned n = 0;
	pt_log_t *log = w->s->log;
	if (!pt_log_enabled(log, level) ||
	    !pt_throttle_pass(t, pt_clock_mono_ms(), &n))
		return;
	char msg[PT_LOG_LINE_MAX];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (n > 1)
		pt_log_write(log, level,
			     "%s (%u such events on worker %u since its last "
			     "line of this kind)",
			     msg, n, w->index);
	else
		pt_log_write(log, level, "%s", msg);
}

void pt_tls_worker_note(pt_tls_worker_t *w, unsigned kind,
			pt_log_level_t level, const char *fmt, ...)
{
	va_list ap;
	if (kind >= PT_TLS_NOTE_KINDS)
		kind = PT_TLS_NOTE_KINDS - 1;
	va_start(ap, fmt);
	note_with(w, &w->throttle[kind], level, fmt, ap);
	va_end(ap);
}

static void own_note(pt_tls_worker_t *w, unsigned kind, pt_log_level_t level,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void own_note(pt_tls_worker_t *w, unsigned kind, pt_log_level_t level,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	note_with(w, &w->own[kind], level, fmt, ap);
	va_end(ap);
}

void pt_tls_worker_post(pt_tls_job_t *job)
{
	pt_tls_worker_t *w = job->w;
	bool was_empty;
	job->next = NULL;
	pthread_mutex_lock(&w->done_mu);
	was_empty = w->done_head == NULL;
	if (w->done_tail)
		w->done_tail->next = job;
	else
		w->done_head = job;
	w->done_tail = job;
	pthread_mutex_unlock(&w->done_mu);
	/* One wake-up per batch: the loop drains the whole list. */
	if (was_empty) {
		uint64_t one = 1;
		if (write(w->done_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			pt_log_error(w->s->log, "%s: cannot wake worker %u: %s",
				     w->s->name, w->index, strerror(errno));
	}
}

static void on_done(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	pt_tls_worker_t *w = data;
	uint64_t v;
	(void)loop;
	(void)events;
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&w->done_mu);
	pt_tls_job_t *job = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->done_mu);
	while (job) {
		pt_tls_job_t *next = job->next;
		job->next = NULL;
		job->done(job);
		job = next;
	}
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
	pt_tls_worker_t *w = data;
	(void)id;
	if (pt_loop_fd_mod(loop, w->listen_fd, PT_LOOP_READ) == PT_OK)
		w->listen_paused = false;
}

/* With no descriptor left a level-triggered listener would wake the
 * loop for nothing: stop watching it for a moment. */
static void pause_listener(pt_tls_worker_t *w)
{
	uint64_t id;
	if (w->listen_paused)
		return;
	if (pt_loop_fd_mod(w->loop, w->listen_fd, 0) != PT_OK)
		return;
	w->listen_paused = true;
	if (pt_loop_timer_add(w->loop, PT_TLS_ACCEPT_PAUSE_MS, 0,
			      on_listen_resume, w, &id) != PT_OK)
		on_listen_resume(w->loop, 0, w);
}

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void on_accept(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	pt_tls_worker_t *w = data;
	pt_tls_server_t *s = w->s;
	(void)loop;
	(void)events;
	for (int i = 0; i < PT_TLS_ACCEPT_BURST; i++) {
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
			count(&s->errors);
			own_note(w, NOTE_ERROR, PT_LOG_ERROR,
				 "%s: accept failed: %s; accepting again in %u "
				 "ms",
				 s->name, strerror(e), PT_TLS_ACCEPT_PAUSE_MS);
			pause_listener(w);
			return;
		}
		char peer[PT_TLS_PEER_MAX];
		format_peer(&ss, peer, sizeof peer);
		uint64_t open = atomic_fetch_add_explicit(&s->active, 1,
							  memory_order_relaxed);
		if (open >= s->max_connections) {
			atomic_fetch_sub_explicit(&s->active, 1,
						  memory_order_relaxed);
			count(&s->busy);
			own_note(w, NOTE_BUSY, PT_LOG_WARN,
				 "%s: %u connections open (max_connections): "
				 "%s closed at once",
				 s->name, s->max_connections, peer);
			close(c);
			if (s->refused)
				s->refused(s->ctx, w, peer);
			continue;
		}
		count(&s->accepted_n);
		int one = 1;
		/* Handshake flights and messages are single writes: no
		 * reason to hold them back. */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		s->accepted(s->ctx, w, c, peer);
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

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
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
static int probe_port(const pt_tls_server_t *s)
{
	int fd = socket(s->bind.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PT_ESYS(errno);
	int one = 1, r = PT_OK;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&s->bind, s->bind_len) != 0)
		r = PT_ESYS(errno);
	close(fd);
	return r;
}

static int listen_socket(pt_tls_server_t *s, int *out)
{
	int one = 1, r = PT_OK;
	int fd = socket(s->bind.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PT_ESYS(errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
	    bind(fd, (const struct sockaddr *)&s->bind, s->bind_len) != 0 ||
	    listen(fd, PT_TLS_LISTEN_BACKLOG) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (s->port == 0) {
		struct sockaddr_storage got;
		socklen_t len = sizeof got;
		if (getsockname(fd, (struct sockaddr *)&got, &len) != 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		s->port = sockaddr_port(&got);
		set_port(&s->bind, s->port);
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int worker_init(pt_tls_server_t *s, pt_tls_worker_t *w,
		       unsigned index, unsigned interval_ms)
{
	w->s = s;
	w->index = index;
	for (int k = 0; k < PT_TLS_NOTE_KINDS; k++)
		w->throttle[k].interval_ms = interval_ms;
	for (int k = 0; k < NOTE_OWN_; k++)
		w->own[k].interval_ms = interval_ms;
	pthread_mutex_init(&w->done_mu, NULL);
	w->mu_ready = true;
	int r = pt_loop_new_plain(&w->loop);
	if (r != PT_OK)
		return r;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0 || w->done_fd < 0)
		return PT_ESYS(errno);
	r = pt_loop_fd_add(w->loop, w->wake_fd, PT_LOOP_READ, on_wake, w);
	if (r == PT_OK)
		r = pt_loop_fd_add(w->loop, w->done_fd, PT_LOOP_READ, on_done,
				   w);
	if (r == PT_OK)
		r = listen_socket(s, &w->listen_fd);
	if (r == PT_OK)
		r = pt_loop_fd_add(w->loop, w->listen_fd, PT_LOOP_READ,
				   on_accept, w);
	return r;
}

static void close_registered(pt_tls_worker_t *w, int *fd)
{
	if (*fd < 0)
		return;
	if (w->loop)
		pt_loop_fd_del(w->loop, *fd);
	close(*fd);
	*fd = -1;
}

static void worker_clear(pt_tls_worker_t *w)
{
	w->done_head = w->done_tail = NULL;
	close_registered(w, &w->listen_fd);
	close_registered(w, &w->wake_fd);
	close_registered(w, &w->done_fd);
	pt_loop_destroy(&w->loop);
	if (w->mu_ready)
		pthread_mutex_destroy(&w->done_mu);
	w->mu_ready = false;
}

/* Enough descriptors for max_connections if the hard limit allows; what
 * it does not allow shows up as accept errors. */
static void raise_fd_limit(pt_tls_server_t *s)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)s->max_connections + 64)
		pt_log_warn(s->log,
			    "%s: the descriptor limit (%llu) is below "
			    "max_connections (%u): connections beyond it will "
			    "be refused at accept",
			    s->name, (unsigned long long)rl.rlim_cur,
			    s->max_connections);
}

int pt_tls_ctx_new(EVP_PKEY *key, X509 *cert, bool tickets, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r = PT_ERR_CRYPTO;
	*out = NULL;
	if (!ctx)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!tickets) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	/* Thousands of connections mostly waiting for a peer: buffers are
	 * held only while bytes are in them. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* X25519 is the cheapest key exchange; the NIST curves stay for
	 * peers that offer nothing else. */
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:X448:P-384:P-521") !=
		    1 ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
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

int pt_tls_server_new(const pt_tls_server_opts_t *opts,
		      pt_tls_server_t **out)
{
	pt_tls_server_t *s = NULL;
	int r;

	*out = NULL;
	if (!opts->name || !opts->accepted || opts->max_connections == 0 ||
	    opts->workers > PT_TLS_WORKERS_MAX)
		return PT_ERR_INVALID;
	if (!(s = calloc(1, sizeof *s)))
		return PT_ERR_NOMEM;
	snprintf(s->name, sizeof s->name, "%s", opts->name);
	r = parse_bind(opts->bind_address, opts->port, &s->bind, &s->bind_len);
	if (r != PT_OK)
		goto out;
	s->port = opts->port;
	s->max_connections = opts->max_connections;
	s->accepted = opts->accepted;
	s->refused = opts->refused;
	s->ctx = opts->ctx;
	s->log = opts->log;
	s->n_workers = opts->workers;
	if (!s->n_workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		s->n_workers = cpus < 1				 ? 1
			       : cpus > (long)PT_TLS_WORKERS_MAX ? PT_TLS_WORKERS_MAX
								 : (unsigned)cpus;
	}
	raise_fd_limit(s);
	if (s->port != 0 && (r = probe_port(s)) != PT_OK)
		goto out;
	if (!(s->workers = calloc(s->n_workers, sizeof *s->workers))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		s->workers[i].listen_fd = s->workers[i].wake_fd =
			s->workers[i].done_fd = -1;
	for (unsigned i = 0; i < s->n_workers; i++) {
		r = worker_init(s, &s->workers[i], i, opts->log_interval_ms);
		if (r != PT_OK)
			goto out;
	}
	*out = s;
	s = NULL;
	r = PT_OK;
out:
	pt_tls_server_destroy(&s);
	return r;
}

static void *worker_main(void *arg)
{
	pt_tls_worker_t *w = arg;
	int r = pt_loop_run(w->loop);
	if (r != PT_OK)
		pt_log_error(w->s->log, "%s: worker %u stopped: its event loop "
					"failed: %s",
			     w->s->name, w->index, pt_strerror(r));
	return NULL;
}

int pt_tls_server_start(pt_tls_server_t *s)
{
	sigset_t all, old;
	int r = PT_OK;
	/* Signals belong to the daemon's main loop: every thread started
	 * here inherits a mask that blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < s->n_workers; i++) {
		pt_tls_worker_t *w = &s->workers[i];
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

void pt_tls_server_stop(pt_tls_server_t *s)
{
	for (unsigned i = 0; s->workers && i < s->n_workers; i++) {
		pt_tls_worker_t *w = &s->workers[i];
		uint64_t one = 1;
		if (w->started && write(w->wake_fd, &one, sizeof one) < 0)
			pt_log_error(s->log, "%s: cannot wake worker %u: %s",
				     s->name, i, strerror(errno));
	}
	for (unsigned i = 0; s->workers && i < s->n_workers; i++) {
		pt_tls_worker_t *w = &s->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void pt_tls_server_destroy(pt_tls_server_t **sp)
{
	if (!sp || !*sp)
		return;
	pt_tls_server_t *s = *sp;
	pt_tls_server_stop(s);
	for (unsigned i = 0; s->workers && i < s->n_workers; i++)
		worker_clear(&s->workers[i]);
	free(s->workers);
	free(s);
	*sp = NULL;
}

uint16_t pt_tls_server_port(const pt_tls_server_t *s)
{
	return s->port;
}

unsigned pt_tls_server_workers(const pt_tls_server_t *s)
{
	return s->n_workers;
}

pt_tls_worker_t *pt_tls_server_worker(pt_tls_server_t *s, unsigned i)
{
	return i < s->n_workers ? &s->workers[i] : NULL;
}

void pt_tls_server_counts(const pt_tls_server_t *s, pt_tls_counts_t *out)
{
	pt_tls_server_t *m = (pt_tls_server_t *)s;
	memory_order o = memory_order_relaxed;
	*out = (pt_tls_counts_t){
		.accepted = atomic_load_explicit(&m->accepted_n, o),
		.busy = atomic_load_explicit(&m->busy, o),
		.errors = atomic_load_explicit(&m->errors, o),
		.active = atomic_load_explicit(&m->active, o),
	};
}

void pt_tls_server_release(pt_tls_server_t *s)
{
	atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
}

pt_loop_t *pt_tls_worker_loop(pt_tls_worker_t *w)
{
	return w->loop;
}

unsigned pt_tls_worker_index(const pt_tls_worker_t *w)
{
	return w->index;
}

pt_tls_server_t *pt_tls_worker_server(pt_tls_worker_t *w)
{
	return w->s;
}

void pt_tls_worker_link(pt_tls_worker_t *w, pt_tls_conn_t *c)
{
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
}

void pt_tls_worker_unlink(pt_tls_worker_t *w, pt_tls_conn_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (w->conns == c)
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

pt_tls_conn_t *pt_tls_worker_conns(pt_tls_worker_t *w)
{
	return w->conns;
}
