#include "tftp/tftp_server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "tftp/tftp_internal.h"

/* File descriptors a server needs besides one per transfer: listening
 * sockets, wake-up fds, epoll fds, the rest of the process. */
#define FD_RESERVE 64u
/* How often worker 0 drops idle per-client entries. */
#define SWEEP_MS 1000u

/* Raises the soft open-file limit to the hard one: every transfer holds a
 * socket, and the usual soft limit of 1024 would cap a boot storm at a
 * few hundred phones.  Says so when even the hard limit is too low. */
static void raise_nofile(struct pt_tftp_server *srv)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = old;
	}
	rlim_t need = (rlim_t)srv->max_transfers + FD_RESERVE +
		      2u * srv->n_workers;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		pt_log_warn(srv->log,
			    "tftp: the open-file limit is %llu, too low for "
			    "max_transfers = %u (about %llu needed): requests "
			    "beyond the limit will be refused as busy; raise "
			    "it (LimitNOFILE= under systemd, ulimit -Hn) or "
			    "lower max_transfers",
			    (unsigned long long)rl.rlim_cur, srv->max_transfers,
			    (unsigned long long)need);
}

static void on_wake(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	uint64_t v;
	(void)events;
	(void)data;
	if (read(fd, &v, sizeof v) < 0) {
		/* Nothing to do: the loop stops either way. */
	}
	pt_loop_stop(loop);
}

static void on_sweep(pt_loop_t *loop, uint64_t id, void *data)
{
	tftp_worker_t *w = data;
	(void)loop;
	(void)id;
	pt_tftp_clients_expire(w->srv->clients, pt_clock_mono_ms());
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 256;
	while (p < n && p < ((size_t)1 << 20))
		p <<= 1;
	return p;
}

static int worker_init(struct pt_tftp_server *srv, tftp_worker_t *w,
		       unsigned index, unsigned *granted)
{
	int r;
	w->srv = srv;
	w->index = index;
	w->listen_fd = -1;
	w->wake_fd = -1;
	w->pkt = malloc(PT_TFTP_PACKET_MAX);
	size_t slots = pow2_at_least(srv->max_transfers / srv->n_workers + 1);
	w->by_peer = calloc(slots, sizeof *w->by_peer);
	if (!w->pkt || !w->by_peer)
		return PT_ERR_NOMEM;
	w->by_peer_mask = slots - 1;
	r = pt_loop_new_plain(&w->loop);
	if (r != PT_OK)
		return r;
	r = tftp_socket_listen(&srv->bind, srv->wildcard, srv->rcvbuf, granted,
			       &w->listen_fd);
	if (r != PT_OK)
		return r;
	/* The first worker may have bound port 0: the others join the
	 * port the kernel chose. */
	if (tftp_addr_port(&srv->bind) == 0) {
		tftp_addr_t got = {.len = sizeof got.ss};
		if (getsockname(w->listen_fd, (struct sockaddr *)&got.ss,
				&got.len) != 0)
			return PT_ESYS(errno);
		tftp_addr_set_port(&srv->bind, tftp_addr_port(&got));
	}
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return PT_ESYS(errno);
	r = pt_loop_fd_add(w->loop, w->listen_fd, PT_LOOP_READ,
			   tftp_request_on_readable, w);
	if (r == PT_OK)
		r = pt_loop_fd_add(w->loop, w->wake_fd, PT_LOOP_READ, on_wake,
				   w);
	if (r == PT_OK && index == 0 && srv->clients)
		r = pt_loop_timer_add(w->loop, SWEEP_MS, SWEEP_MS, on_sweep, w,
				      NULL);
	return r;
}

static void worker_clear(tftp_worker_t *w)
{
	if (w->loop)
		tftp_transfer_end_all(w);
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
	free(w->pkt);
	free(w->by_peer);
	memset(w, 0, sizeof *w);
	w->listen_fd = w->wake_fd = -1;
}

static int check_opts(const pt_tftp_server_opts_t *o)
{
	if (o->workers > PT_TFTP_WORKERS_MAX ||
	    o->blksize_max < PT_TFTP_BLKSIZE_MIN ||
	    o->blksize_max > PT_TFTP_BLKSIZE_MAX ||
	    o->windowsize_max < PT_TFTP_WINDOW_MIN ||
	    o->windowsize_max > PT_TFTP_WINDOW_MAX ||
	    o->timeout < PT_TFTP_TIMEOUT_MIN ||
	    o->timeout > PT_TFTP_TIMEOUT_MAX || o->max_transfers == 0 ||
	    o->n_providers > PT_TFTP_PROVIDERS_MAX ||
	    (o->n_providers && !o->providers))
		return PT_ERR_INVALID;
	for (size_t i = 0; i < o->n_providers; i++)
		if (!o->providers[i].lookup)
			return PT_ERR_INVALID;
	return PT_OK;
}

int pt_tftp_server_new(const pt_tftp_server_opts_t *opts,
		       pt_tftp_server_t **out)
{
	struct pt_tftp_server *srv = NULL;
	unsigned granted = 0;
	int r;

	*out = NULL;
	r = check_opts(opts);
	if (r != PT_OK)
		return r;
	srv = calloc(1, sizeof *srv);
	if (!srv)
		return PT_ERR_NOMEM;
	srv->bind_text = strdup(opts->bind_address ? opts->bind_address
						   : "0.0.0.0");
	if (!srv->bind_text) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	r = tftp_addr_parse(srv->bind_text, opts->port, &srv->bind);
	if (r != PT_OK)
		goto out;
	srv->wildcard = tftp_addr_is_wildcard(&srv->bind);
	srv->n_workers = opts->workers;
	if (srv->n_workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		srv->n_workers = n < 1 ? 1
			       : n > (long)PT_TFTP_WORKERS_MAX
				       ? PT_TFTP_WORKERS_MAX
				       : (unsigned)n;
	}
	srv->limits = (pt_tftp_limits_t){.blksize_max = opts->blksize_max,
					 .windowsize_max = opts->windowsize_max,
					 .timeout_default = opts->timeout};
	srv->retries = opts->retries;
	srv->max_transfers = opts->max_transfers;
	srv->per_client_max = opts->per_client_max;
	srv->per_client_rate = opts->per_client_rate;
	srv->rcvbuf = opts->rcvbuf ? opts->rcvbuf : PT_TFTP_DEFAULT_RCVBUF;
	if (opts->n_providers)
		memcpy(srv->providers, opts->providers,
		       opts->n_providers * sizeof *opts->providers);
	srv->n_providers = opts->n_providers;
	srv->log = opts->log;
	raise_nofile(srv);

	/* Enough room for every address with a transfer running and as
	 * many again that are only rate-limited. */
	size_t capacity = 2 * (size_t)srv->max_transfers;
	if (capacity < 4096)
		capacity = 4096;
	r = pt_tftp_clients_new(srv->per_client_max, srv->per_client_rate,
				capacity, &srv->clients);
	if (r != PT_OK)
		goto out;
	/* SO_REUSEPORT would let a second server of the same user share
	 * the port silently and take half the phones: make sure nobody
	 * holds it first. */
	if (tftp_addr_port(&srv->bind) != 0) {
		r = tftp_socket_probe(&srv->bind);
		if (r == PT_ERR_EXISTS)
			r = PT_ESYS(EADDRINUSE);
		if (r != PT_OK)
			goto out;
	}
	srv->workers = calloc(srv->n_workers, sizeof *srv->workers);
	if (!srv->workers) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < srv->n_workers; i++) {
		srv->workers[i].listen_fd = srv->workers[i].wake_fd = -1;
	}
	for (unsigned i = 0; i < srv->n_workers; i++) {
		unsigned got = 0;
		r = worker_init(srv, &srv->workers[i], i, &got);
		if (r != PT_OK)
			goto out;
		if (i == 0 || got < granted)
			granted = got;
	}
	srv->rcvbuf = granted;
	*out = srv;
	srv = NULL;
	r = PT_OK;
out:
	pt_tftp_server_destroy(&srv);
	return r;
}

static void *worker_main(void *arg)
{
	tftp_worker_t *w = arg;
	sigset_t all;
	/* Signals belong to the daemon's main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	int r = pt_loop_run(w->loop);
	if (r != PT_OK)
		pt_log_error(w->srv->log, "tftp: worker %u stopped: its event "
					  "loop failed: %s",
			     w->index, pt_strerror(r));
	return NULL;
}

int pt_tftp_server_start(pt_tftp_server_t *srv)
{
	if (srv->started)
		return PT_ERR_DENIED;
	srv->started = true;
	for (unsigned i = 0; i < srv->n_workers; i++) {
		tftp_worker_t *w = &srv->workers[i];
		int r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r != 0)
			return PT_ESYS(r);
		w->thread_started = true;
	}
	return PT_OK;
}

uint16_t pt_tftp_server_port(const pt_tftp_server_t *srv)
{
	return tftp_addr_port(&srv->bind);
}

unsigned pt_tftp_server_workers(const pt_tftp_server_t *srv)
{
	return srv->n_workers;
}

unsigned pt_tftp_server_rcvbuf(const pt_tftp_server_t *srv)
{
	return srv->rcvbuf;
}

/* Acquire pairs with the release of the last count a transfer gives
 * back: a reader that sees it gone sees everything it did before. */
static uint64_t load(const atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_acquire);
}

void pt_tftp_server_stats(const pt_tftp_server_t *srv, pt_tftp_stats_t *out)
{
	const struct tftp_counters *c = &srv->c;
	*out = (pt_tftp_stats_t){
		.requests = load(&c->requests),
		.completed = load(&c->completed),
		.failed = load(&c->failed),
		.retransmissions = load(&c->retransmissions),
		.not_found = load(&c->not_found),
		.denied = load(&c->denied),
		.illegal = load(&c->illegal),
		.rate_limited = load(&c->rate_limited),
		.client_capped = load(&c->client_capped),
		.busy = load(&c->busy),
		.errors = load(&c->errors),
		.active = load(&c->active),
	};
}

void pt_tftp_server_destroy(pt_tftp_server_t **srvp)
{
	if (!srvp || !*srvp)
		return;
	struct pt_tftp_server *srv = *srvp;
	if (srv->workers) {
		for (unsigned i = 0; i < srv->n_workers; i++) {
			tftp_worker_t *w = &srv->workers[i];
			uint64_t one = 1;
			if (w->thread_started && write(w->wake_fd, &one,
						       sizeof one) < 0) {
				/* An eventfd write fails only on overflow,
				 * which leaves it readable anyway. */
			}
		}
		for (unsigned i = 0; i < srv->n_workers; i++) {
			tftp_worker_t *w = &srv->workers[i];
			if (w->thread_started)
				pthread_join(w->thread, NULL);
			worker_clear(w);
		}
		free(srv->workers);
	}
	pt_tftp_clients_destroy(&srv->clients);
	free(srv->bind_text);
	free(srv);
	*srvp = NULL;
}
