/* The CAPF service on the shared TLS engine (net/tls_server.h: workers,
 * listeners, accept): the TLS context, the job pools, lifecycle,
 * counters.  One connection lives in capf_conn.c, the work it hands to
 * the pools in capf_steps.c. */
#include "capf/capf_service.h"

#include <errno.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capf/capf_internal.h"
#include "lib/errors.h"

/* Store threads mostly wait (fsync, the LMDB writer lock): enough that a
 * lookup never queues behind writers. */
#define DEFAULT_STORE_THREADS 4u

void capf_note(struct capf_worker *w, enum capf_refusal kind,
	       pt_log_level_t level, const char *fmt, ...)
{
	char msg[PT_LOG_LINE_MAX];
	va_list ap;
	if (!pt_log_enabled(w->svc->log, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pt_tls_worker_note(w->tw, (unsigned)kind, level, "%s", msg);
}

static void on_accepted(void *ctx, pt_tls_worker_t *tw, int fd,
			const char *peer)
{
	pt_capf_service_t *svc = ctx;
	capf_conn_start(&svc->workers[pt_tls_worker_index(tw)], fd, peer);
}

static void on_refused(void *ctx, pt_tls_worker_t *tw, const char *peer)
{
	pt_capf_service_t *svc = ctx;
	(void)tw;
	(void)peer;
	/* §2: rejected connections use up an id too. */
	atomic_fetch_add_explicit(&svc->next_session, 1, memory_order_relaxed);
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
	svc->store = opts->store;
	svc->data_key = opts->data_key;
	svc->log = opts->log;
	svc->handshake_ms = opts->handshake_ms ? opts->handshake_ms
					       : PT_CAPF_DEFAULT_HANDSHAKE_MS;
	atomic_init(&svc->idle_ms,
		    opts->idle_ms ? opts->idle_ms : PT_CAPF_DEFAULT_IDLE_MS);
	svc->session_ms = opts->session_ms ? opts->session_ms
					   : PT_CAPF_DEFAULT_SESSION_MS;
	atomic_init(&svc->next_session, 1);
	r = pt_tls_ctx_new(opts->key, opts->cert, false, &svc->ctx);
	if (r != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	if (EVP_PKEY_up_ref(opts->key) != 1)
		goto out;
	svc->key = opts->key;
	if (X509_up_ref(opts->cert) != 1)
		goto out;
	svc->cert = opts->cert;
	r = pt_tls_pool_new(per_cpu(opts->crypto_threads, PT_CAPF_POOL_MAX),
			  "capf crypto", svc->log, &svc->crypto);
	if (r == PT_OK)
		r = pt_tls_pool_new(opts->store_threads ? opts->store_threads
						      : DEFAULT_STORE_THREADS,
				  "capf store", svc->log, &svc->storep);
	if (r != PT_OK)
		goto out;
	pt_tls_server_opts_t eo = {
		.name = "capf",
		.bind_address = opts->bind_address,
		.port = opts->port,
		.workers = opts->workers,
		.max_connections = opts->max_connections
					   ? opts->max_connections
					   : PT_CAPF_DEFAULT_MAX_CONNECTIONS,
		.log_interval_ms = PT_CAPF_LOG_INTERVAL_MS,
		.accepted = on_accepted,
		.refused = on_refused,
		.ctx = svc,
		.log = opts->log,
	};
	r = pt_tls_server_new(&eo, &svc->engine);
	if (r != PT_OK)
		goto out;
	svc->n_workers = pt_tls_server_workers(svc->engine);
	svc->workers = calloc(svc->n_workers, sizeof *svc->workers);
	if (!svc->workers) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < svc->n_workers; i++) {
		struct capf_worker *w = &svc->workers[i];
		w->svc = svc;
		w->index = i;
		w->tw = pt_tls_server_worker(svc->engine, i);
		w->loop = pt_tls_worker_loop(w->tw);
	}
	*out = svc;
	svc = NULL;
	r = PT_OK;
out:
	pt_capf_service_destroy(&svc);
	return r;
}

int pt_capf_service_start(pt_capf_service_t *svc)
{
	if (svc->running)
		return PT_ERR_INVALID;
	svc->running = true;
	/* The pools' threads block every signal, as the workers' do. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pt_tls_pool_start(svc->crypto);
	if (r == PT_OK)
		r = pt_tls_pool_start(svc->storep);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == PT_OK)
		r = pt_tls_server_start(svc->engine);
	return r;
}

uint16_t pt_capf_service_port(const pt_capf_service_t *svc)
{
	return pt_tls_server_port(svc->engine);
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
	pt_tls_counts_t n;
	pt_tls_server_counts(s->engine, &n);
	*out = (pt_capf_stats_t){
		.accepted = n.accepted,
		.busy = n.busy,
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
		.errors = atomic_load_explicit(&s->errors, m) + n.errors,
		.active = n.active,
	};
}

void pt_capf_service_stop(pt_capf_service_t *svc)
{
	if (!svc->running)
		return;
	pt_tls_server_stop(svc->engine);
	/* The pools may still hold connections: they stop before any
	 * connection is freed. */
	pt_tls_pool_stop(svc->crypto);
	pt_tls_pool_stop(svc->storep);
	for (unsigned i = 0; svc->workers && i < svc->n_workers; i++) {
		pt_tls_conn_t *c;
		while ((c = pt_tls_worker_conns(svc->workers[i].tw)))
			capf_conn_abort((struct capf_conn *)c);
	}
	svc->running = false;
}

void pt_capf_service_destroy(pt_capf_service_t **svcp)
{
	if (!svcp || !*svcp)
		return;
	pt_capf_service_t *svc = *svcp;
	pt_capf_service_stop(svc);
	pt_tls_server_destroy(&svc->engine);
	free(svc->workers);
	pt_tls_pool_destroy(&svc->crypto);
	pt_tls_pool_destroy(&svc->storep);
	SSL_CTX_free(svc->ctx);
	EVP_PKEY_free(svc->key);
	X509_free(svc->cert);
	free(svc);
	*svcp = NULL;
}
