/* TVS on the shared TLS engine (net/tls_server.h: workers, listeners,
 * accept): the TLS context, one exchange per connection (tvs_conn.c),
 * lifecycle and counters. */
#include "tvs/tvs_server.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/errors.h"
#include "tvs/tvs_internal.h"

void tvs_note(struct tvs_worker *w, enum tvs_refusal kind,
	      pt_log_level_t level, const char *fmt, ...)
{
	char msg[PT_LOG_LINE_MAX];
	va_list ap;
	if (!pt_log_enabled(w->srv->log, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pt_tls_worker_note(w->tw, (unsigned)kind, level, "%s", msg);
}

static void on_accepted(void *ctx, pt_tls_worker_t *tw, int fd,
			const char *peer)
{
	pt_tvs_server_t *srv = ctx;
	tvs_conn_start(&srv->workers[pt_tls_worker_index(tw)], fd, peer);
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
	srv->store = opts->store;
	srv->log = opts->log;
	srv->timeout_ms = opts->timeout_ms ? opts->timeout_ms
					   : PT_TVS_DEFAULT_TIMEOUT_MS;
	r = pt_tls_ctx_new(opts->key, opts->cert, true, &srv->ctx);
	if (r != PT_OK)
		goto out;
	pt_tls_server_opts_t eo = {
		.name = "tvs",
		.bind_address = opts->bind_address,
		.port = opts->port,
		.workers = opts->workers,
		.max_connections = opts->max_connections
					   ? opts->max_connections
					   : PT_TVS_DEFAULT_MAX_CONNECTIONS,
		.log_interval_ms = PT_TVS_LOG_INTERVAL_MS,
		.accepted = on_accepted,
		.ctx = srv,
		.log = opts->log,
	};
	r = pt_tls_server_new(&eo, &srv->engine);
	if (r != PT_OK)
		goto out;
	srv->n_workers = pt_tls_server_workers(srv->engine);
	srv->workers = calloc(srv->n_workers, sizeof *srv->workers);
	if (!srv->workers) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct tvs_worker *w = &srv->workers[i];
		w->srv = srv;
		w->index = i;
		w->tw = pt_tls_server_worker(srv->engine, i);
		w->loop = pt_tls_worker_loop(w->tw);
	}
	*out = srv;
	srv = NULL;
	r = PT_OK;
out:
	pt_tvs_server_destroy(&srv);
	return r;
}

int pt_tvs_server_start(pt_tvs_server_t *srv)
{
	return pt_tls_server_start(srv->engine);
}

uint16_t pt_tvs_server_port(const pt_tvs_server_t *srv)
{
	return pt_tls_server_port(srv->engine);
}

unsigned pt_tvs_server_workers(const pt_tvs_server_t *srv)
{
	return srv->n_workers;
}

void pt_tvs_server_stats(const pt_tvs_server_t *srv, pt_tvs_stats_t *out)
{
	pt_tvs_server_t *s = (pt_tvs_server_t *)srv;
	memory_order m = memory_order_relaxed;
	pt_tls_counts_t n;
	pt_tls_server_counts(s->engine, &n);
	*out = (pt_tvs_stats_t){
		.accepted = n.accepted,
		.busy = n.busy,
		.handshake_failed = atomic_load_explicit(&s->handshake_failed, m),
		.timed_out = atomic_load_explicit(&s->timed_out, m),
		.malformed = atomic_load_explicit(&s->malformed, m),
		.valid = atomic_load_explicit(&s->valid, m),
		.unknown = atomic_load_explicit(&s->unknown, m),
		.expired = atomic_load_explicit(&s->expired, m),
		.errors = atomic_load_explicit(&s->errors, m) + n.errors,
		.active = n.active,
	};
}

void pt_tvs_server_stop(pt_tvs_server_t *srv)
{
	if (!srv->engine)
		return;
	pt_tls_server_stop(srv->engine);
	/* The workers are joined: no thread touches their connections. */
	for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
		pt_tls_conn_t *c;
		while ((c = pt_tls_worker_conns(srv->workers[i].tw)))
			tvs_conn_abort((struct tvs_conn *)c);
	}
}

void pt_tvs_server_destroy(pt_tvs_server_t **srvp)
{
	if (!srvp || !*srvp)
		return;
	pt_tvs_server_t *srv = *srvp;
	pt_tvs_server_stop(srv);
	pt_tls_server_destroy(&srv->engine);
	free(srv->workers);
	SSL_CTX_free(srv->ctx);
	free(srv);
	*srvp = NULL;
}
