/* CAPF workers: listening sockets, accept, threads, pools, lifecycle,
 * counters.  One connection lives in capf_conn.c, the work it hands to
 * the pools in capf_steps.c. */
#include "capf/capf_service.h"

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

#include "capf/capf_internal.h"
#include "lib/clock.h"
#include "lib/errors.h"

/* Connections taken per wake-up, so a busy listener does not starve the
 * sessions already open on the same worker. */
#define ACCEPT_BURST 64
/* Out of file descriptors: accepting pauses this long. */
#define ACCEPT_PAUSE_MS 100u
/* Store threads mostly wait (fsync, the LMDB writer lock): enough that a
 * lookup never queues behind writers. */
#define DEFAULT_STORE_THREADS 4u

void capf_note(struct capf_worker *w, enum capf_refusal kind,
	       pt_log_level_t level, const char *fmt, ...)
{
	unsigned n = 0;
	if (!pt_log_enabled(w->svc->log, level) ||
	    !pt_throttle_pass(&w->throttle[kind], pt_clock_mono_ms(), &n))
		return;
	char msg[PT_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n > 1)
		pt_log_write(w->svc->log, level,
			     "%s (%u such events on worker %u since its last "
			     "line of this kind)",
			     msg, n, w->index);
	else
		pt_log_write(w->svc->log, level, "%s", msg);
}

void capf_worker_post(struct capf_worker *w, struct capf_job *job)
{
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
			pt_log_error(w->svc->log, "capf: cannot wake worker "
						  "%u: %s",
				     w->index, strerror(errno));
	}
}

static void on_done(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	struct capf_worker *w = data;
	uint64_t v;
	(void)loop;
	(void)events;
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&w->done_mu);
	struct capf_job *job = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->done_mu);
	while (job) {
		struct capf_job *next = job->next;
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
	struct capf_worker *w = data;
	(void)id;
	if (pt_loop_fd_mod(loop, w->listen_fd, PT_LOOP_READ) == PT_OK)
		w->listen_paused = false;
}

/* With no descriptor left a level-triggered listener would wake the
 * loop for nothing: stop watching it for a moment. */
static void pause_listener(struct capf_worker *w)
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
	struct capf_worker *w = data;
	pt_capf_service_t *svc = w->svc;
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
			capf_count(&svc->errors);
			capf_note(w, CAPF_R_ERROR, PT_LOG_ERROR,
				  "capf: accept failed: %s; accepting again in "
				  "%u ms",
				  strerror(e), ACCEPT_PAUSE_MS);
			pause_listener(w);
			return;
		}
		char peer[CAPF_PEER_MAX];
		format_peer(&ss, peer, sizeof peer);
		uint64_t open = atomic_fetch_add_explicit(&svc->active, 1,
							  memory_order_relaxed);
		if (open >= svc->max_connections) {
			atomic_fetch_sub_explicit(&svc->active, 1,
						  memory_order_relaxed);
			/* §2: rejected connections use up an id too. */
			atomic_fetch_add_explicit(&svc->next_session, 1,
						  memory_order_relaxed);
			capf_count(&svc->busy);
			capf_note(w, CAPF_R_BUSY, PT_LOG_WARN,
				  "capf: %u connections open (max_connections): "
				  "%s closed at once",
				  svc->max_connections, peer);
			close(c);
			continue;
		}
		capf_count(&svc->accepted);
		int one = 1;
		/* Every message is one write of its own (spec §2). */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		capf_conn_start(w, c, peer);
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
static int probe_port(const pt_capf_service_t *svc)
{
	int fd = socket(svc->bind.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PT_ESYS(errno);
	int one = 1, r = PT_OK;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&svc->bind, svc->bind_len) != 0)
		r = PT_ESYS(errno);
	close(fd);
	return r;
}

static int listen_socket(pt_capf_service_t *svc, int *out)
{
	int one = 1, r = PT_OK;
	int fd = socket(svc->bind.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PT_ESYS(errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
	    bind(fd, (const struct sockaddr *)&svc->bind, svc->bind_len) !=
		    0 ||
	    listen(fd, PT_CAPF_LISTEN_BACKLOG) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (svc->port == 0) {
		struct sockaddr_storage got;
		socklen_t len = sizeof got;
		if (getsockname(fd, (struct sockaddr *)&got, &len) != 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		svc->port = sockaddr_port(&got);
		set_port(&svc->bind, svc->port);
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int worker_init(pt_capf_service_t *svc, struct capf_worker *w,
		       unsigned index)
{
	w->svc = svc;
	w->index = index;
	for (int k = 0; k < CAPF_R_COUNT_; k++)
		w->throttle[k].interval_ms = PT_CAPF_LOG_INTERVAL_MS;
	pthread_mutex_init(&w->done_mu, NULL);
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
		r = listen_socket(svc, &w->listen_fd);
	if (r == PT_OK)
		r = pt_loop_fd_add(w->loop, w->listen_fd, PT_LOOP_READ,
				   on_accept, w);
	return r;
}

static void close_registered(struct capf_worker *w, int *fd)
{
	if (*fd < 0)
		return;
	if (w->loop)
		pt_loop_fd_del(w->loop, *fd);
	close(*fd);
	*fd = -1;
}

/* Only once the worker's thread and the pools have stopped: nothing else
 * touches its connections then. */
static void worker_clear(struct capf_worker *w)
{
	while (w->conns)
		capf_conn_abort(w->conns);
	w->done_head = w->done_tail = NULL;
	close_registered(w, &w->listen_fd);
	close_registered(w, &w->wake_fd);
	close_registered(w, &w->done_fd);
	pt_loop_destroy(&w->loop);
	if (w->svc)
		pthread_mutex_destroy(&w->done_mu);
	w->svc = NULL;
}

/* Enough descriptors for max_connections if the hard limit allows; what
 * it does not allow shows up as accept errors. */
static void raise_fd_limit(pt_capf_service_t *svc)
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
	    rl.rlim_cur < (rlim_t)svc->max_connections + 64)
		pt_log_warn(svc->log,
			    "capf: the descriptor limit (%llu) is below "
			    "max_connections (%u): connections beyond it will "
			    "be refused at accept",
			    (unsigned long long)rl.rlim_cur,
			    svc->max_connections);
}

static int make_ctx(const pt_capf_service_opts_t *opts, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r = PT_ERR_CRYPTO;
	if (!ctx)
		goto out;
	/* No client certificate (spec §1): the phone proves itself inside
	 * the protocol.  One session per connection and no resumption: no
	 * session cache and no tickets to write. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Thousands of sessions mostly waiting for phones generating keys:
	 * buffers are held only while bytes are in them. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* X25519 is the cheapest key exchange; the NIST curves stay for
	 * phones that offer nothing else. */
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:X448:P-384:P-521") !=
	    1)
		goto out;
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

static unsigned per_cpu(unsigned asked, unsigned max)
{
	if (asked)
		return asked;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > (long)max ? max : (unsigned)cpus;
}

int pt_capf_service_new(const pt_capf_service_opts_t *opts,
			pt_capf_service_t **out)
{
	pt_capf_service_t *svc = NULL;
	int r;

	*out = NULL;
	if (!opts->store || !opts->key || !opts->cert || !opts->data_key ||
	    opts->workers > PT_CAPF_WORKERS_MAX ||
	    opts->crypto_threads > PT_CAPF_POOL_MAX ||
	    opts->store_threads > PT_CAPF_POOL_MAX ||
	    opts->max_connections > PT_CAPF_MAX_CONNECTIONS_MAX ||
	    opts->handshake_ms > PT_CAPF_TIMEOUT_MS_MAX ||
	    opts->idle_ms > PT_CAPF_TIMEOUT_MS_MAX ||
	    opts->session_ms > PT_CAPF_TIMEOUT_MS_MAX)
		return PT_ERR_INVALID;
	svc = calloc(1, sizeof *svc);
	if (!svc)
		return PT_ERR_NOMEM;
	r = parse_bind(opts->bind_address, opts->port, &svc->bind,
		       &svc->bind_len);
	if (r != PT_OK)
		goto out;
	svc->port = opts->port;
	svc->store = opts->store;
	svc->data_key = opts->data_key;
	svc->log = opts->log;
	svc->max_connections = opts->max_connections
				       ? opts->max_connections
				       : PT_CAPF_DEFAULT_MAX_CONNECTIONS;
	svc->handshake_ms = opts->handshake_ms ? opts->handshake_ms
					       : PT_CAPF_DEFAULT_HANDSHAKE_MS;
	atomic_init(&svc->idle_ms,
		    opts->idle_ms ? opts->idle_ms : PT_CAPF_DEFAULT_IDLE_MS);
	svc->session_ms = opts->session_ms ? opts->session_ms
					   : PT_CAPF_DEFAULT_SESSION_MS;
	atomic_init(&svc->next_session, 1);
	svc->n_workers = per_cpu(opts->workers, PT_CAPF_WORKERS_MAX);
	r = make_ctx(opts, &svc->ctx);
	if (r != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	if (EVP_PKEY_up_ref(opts->key) != 1)
		goto out;
	svc->key = opts->key;
	if (X509_up_ref(opts->cert) != 1)
		goto out;
	svc->cert = opts->cert;
	r = capf_pool_new(per_cpu(opts->crypto_threads, PT_CAPF_POOL_MAX),
			  "crypto", svc->log, &svc->crypto);
	if (r == PT_OK)
		r = capf_pool_new(opts->store_threads ? opts->store_threads
						      : DEFAULT_STORE_THREADS,
				  "store", svc->log, &svc->storep);
	if (r != PT_OK)
		goto out;
	raise_fd_limit(svc);
	if (svc->port != 0 && (r = probe_port(svc)) != PT_OK)
		goto out;
	svc->workers = calloc(svc->n_workers, sizeof *svc->workers);
	if (!svc->workers) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < svc->n_workers; i++)
		svc->workers[i].listen_fd = svc->workers[i].wake_fd =
			svc->workers[i].done_fd = -1;
	for (unsigned i = 0; i < svc->n_workers; i++) {
		r = worker_init(svc, &svc->workers[i], i);
		if (r != PT_OK)
			goto out;
	}
	*out = svc;
	svc = NULL;
	r = PT_OK;
out:
	pt_capf_service_destroy(&svc);
	return r;
}

static void *worker_main(void *arg)
{
	struct capf_worker *w = arg;
	int r = pt_loop_run(w->loop);
	if (r != PT_OK)
		pt_log_error(w->svc->log, "capf: worker %u stopped: its event "
					  "loop failed: %s",
			     w->index, pt_strerror(r));
	return NULL;
}

int pt_capf_service_start(pt_capf_service_t *svc)
{
	sigset_t all, old;
	int r = PT_OK;
	if (svc->running)
		return PT_ERR_INVALID;
	/* Signals belong to the daemon's main loop: every thread started
	 * here inherits a mask that blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	svc->running = true;
	r = capf_pool_start(svc->crypto);
	if (r == PT_OK)
		r = capf_pool_start(svc->storep);
	for (unsigned i = 0; r == PT_OK && i < svc->n_workers; i++) {
		struct capf_worker *w = &svc->workers[i];
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

uint16_t pt_capf_service_port(const pt_capf_service_t *svc)
{
	return svc->port;
}

unsigned pt_capf_service_workers(const pt_capf_service_t *svc)
{
	return svc->n_workers;
}

int pt_capf_service_set_idle_ms(pt_capf_service_t *svc, unsigned idle_ms)
{
	if (idle_ms == 0 || idle_ms > PT_CAPF_TIMEOUT_MS_MAX)
		return PT_ERR_INVALID;
	atomic_store_explicit(&svc->idle_ms, idle_ms, memory_order_relaxed);
	return PT_OK;
}

unsigned pt_capf_service_idle_ms(const pt_capf_service_t *svc)
{
	pt_capf_service_t *s = (pt_capf_service_t *)svc;
	return atomic_load_explicit(&s->idle_ms, memory_order_relaxed);
}

void pt_capf_service_stats(const pt_capf_service_t *svc, pt_capf_stats_t *out)
{
	pt_capf_service_t *s = (pt_capf_service_t *)svc;
	memory_order m = memory_order_relaxed;
	*out = (pt_capf_stats_t){
		.accepted = atomic_load_explicit(&s->accepted, m),
		.busy = atomic_load_explicit(&s->busy, m),
		.handshake_failed = atomic_load_explicit(&s->handshake_failed, m),
		.timed_out = atomic_load_explicit(&s->timed_out, m),
		.dropped = atomic_load_explicit(&s->dropped, m),
		.malformed = atomic_load_explicit(&s->malformed, m),
		.unknown = atomic_load_explicit(&s->unknown, m),
		.auth_failed = atomic_load_explicit(&s->auth_failed, m),
		.refused = atomic_load_explicit(&s->refused, m),
		.nothing = atomic_load_explicit(&s->nothing, m),
		.installed = atomic_load_explicit(&s->installed, m),
		.deferred = atomic_load_explicit(&s->deferred, m),
		.fetched = atomic_load_explicit(&s->fetched, m),
		.deleted = atomic_load_explicit(&s->deleted, m),
		.phone_failed = atomic_load_explicit(&s->phone_failed, m),
		.errors = atomic_load_explicit(&s->errors, m),
		.active = atomic_load_explicit(&s->active, m),
	};
}

void pt_capf_service_stop(pt_capf_service_t *svc)
{
	if (!svc->running)
		return;
	for (unsigned i = 0; svc->workers && i < svc->n_workers; i++) {
		struct capf_worker *w = &svc->workers[i];
		uint64_t one = 1;
		if (w->started && write(w->wake_fd, &one, sizeof one) < 0)
			pt_log_error(svc->log, "capf: cannot wake worker %u: "
					       "%s",
				     i, strerror(errno));
	}
	for (unsigned i = 0; svc->workers && i < svc->n_workers; i++) {
		struct capf_worker *w = &svc->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
	/* The pools may still hold connections: they stop before any
	 * connection is freed. */
	capf_pool_stop(svc->crypto);
	capf_pool_stop(svc->storep);
	for (unsigned i = 0; svc->workers && i < svc->n_workers; i++)
		while (svc->workers[i].conns)
			capf_conn_abort(svc->workers[i].conns);
	svc->running = false;
}

void pt_capf_service_destroy(pt_capf_service_t **svcp)
{
	if (!svcp || !*svcp)
		return;
	pt_capf_service_t *svc = *svcp;
	pt_capf_service_stop(svc);
	for (unsigned i = 0; svc->workers && i < svc->n_workers; i++)
		worker_clear(&svc->workers[i]);
	free(svc->workers);
	capf_pool_destroy(&svc->crypto);
	capf_pool_destroy(&svc->storep);
	SSL_CTX_free(svc->ctx);
	EVP_PKEY_free(svc->key);
	X509_free(svc->cert);
	free(svc);
	*svcp = NULL;
}
