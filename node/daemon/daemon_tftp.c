#include "daemon/daemon_tftp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_service.h"
#include "files/file_cache.h"
#include "lib/errors.h"
#include "tftp/tftp_server.h"

struct pt_daemon_tftp {
	const pt_config_t *cfg;
	pt_log_t *log;
	pt_loop_t *loop;
	pt_file_cache_t *cache; /* borrowed from daemon_files */
	pt_tftp_server_t *srv;
	uint64_t timer;
	pt_tftp_stats_t last; /* as last logged */
	char where[96];       /* "127.0.0.1:6969" or "[::]:69" */
};

static void log_stats(struct pt_daemon_tftp *t, const char *when)
{
	pt_tftp_stats_t s;
	pt_tftp_server_stats(t->srv, &s);
	if (memcmp(&s, &t->last, sizeof s) == 0)
		return;
	t->last = s;
	char cache[192] = "";
	if (t->cache) {
		pt_file_cache_stats_t cs;
		pt_file_cache_stats(t->cache, &cs);
		snprintf(cache, sizeof cache,
			 "; file cache %" PRIu64 " hits, %" PRIu64
			 " revalidated, %" PRIu64 " built, %" PRIu64
			 " evicted, %" PRIu64 " files in %" PRIu64 " KiB",
			 cs.hits, cs.revalidated, cs.misses, cs.evictions,
			 cs.entries, cs.bytes / 1024);
	}
	pt_log_info(t->log,
		    "tftp %s: %" PRIu64 " requests, %" PRIu64 " transfers "
		    "completed, %" PRIu64 " failed, %" PRIu64 " active, %" PRIu64
		    " retransmissions; refused: %" PRIu64 " not found, %" PRIu64
		    " denied, %" PRIu64 " illegal, %" PRIu64 " rate-limited, "
		    "%" PRIu64 " over the per-client cap, %" PRIu64 " busy, "
		    "%" PRIu64 " errors%s",
		    when, s.requests, s.completed, s.failed, s.active,
		    s.retransmissions, s.not_found, s.denied, s.illegal,
		    s.rate_limited, s.client_capped, s.busy, s.errors, cache);
}

static void on_stats(pt_loop_t *loop, uint64_t id, void *data)
{
	(void)loop;
	(void)id;
	log_stats(data, "statistics");
}

/* Says what went wrong when binding, with what to do about it. */
static void bind_error(struct pt_daemon_tftp *t, int r)
{
	const pt_config_t *cfg = t->cfg;
	if (r == PT_ESYS(EADDRINUSE))
		pt_log_error(t->log, "tftp: UDP %s is in use by another "
				     "process (another phonetrustd or a tftpd?): "
				     "stop it or set another [tftp] port; exiting",
			     t->where);
	else if (r == PT_ESYS(EACCES) && cfg->tftp_port < 1024)
		pt_log_error(t->log, "tftp: binding UDP %s needs "
				     "CAP_NET_BIND_SERVICE (the systemd unit "
				     "grants it) or an unprivileged port such "
				     "as 6969; exiting",
			     t->where);
	else
		pt_log_error(t->log, "tftp: cannot listen on UDP %s: %s; "
				     "exiting",
			     t->where, pt_strerror(r));
}

/* The provider: the cache's answers, with "File not found" reasons and
 * build failures handed to the server's log line. */
static int cache_lookup(void *ctx, const char *name,
			const struct sockaddr *client, socklen_t client_len,
			pt_blob_t **out, char *why, size_t why_len)
{
	(void)client;
	(void)client_len;
	return pt_file_cache_get(ctx, name, out, why, why_len);
}

int pt_daemon_tftp_start(const pt_config_t *cfg, pt_log_t *log,
			 pt_loop_t *loop, pt_file_cache_t *cache,
			 pt_daemon_tftp_t **out)
{
	struct pt_daemon_tftp *t = NULL;
	pt_tftp_provider_t providers[PT_TFTP_PROVIDERS_MAX];
	size_t n = 0;
	int r;

	*out = NULL;
	if (!cfg->tftp || !cfg->tftp_enabled)
		return PT_OK;
	t = calloc(1, sizeof *t);
	if (!t)
		return PT_ERR_NOMEM;
	t->cfg = cfg;
	t->log = log;
	t->loop = loop;
	pt_daemon_service_where(t->where, sizeof t->where,
				cfg->tftp_bind_address, cfg->tftp_port);

	if (!cache) {
		pt_log_error(log, "tftp: no file cache to serve from; exiting");
		r = PT_ERR_INVALID;
		goto out;
	}
	t->cache = cache;
	providers[n++] = (pt_tftp_provider_t){.name = "phone files",
					      .lookup = cache_lookup,
					      .ctx = cache};
	if (!cfg->tftp_static_dir)
		pt_log_info(log, "tftp: no [tftp] static_dir: serving the "
				 "trust lists and configurations, and the "
				 "generated XMLDefault.cnf.xml and "
				 "RingList.xml");

	pt_tftp_server_opts_t o = {
		.bind_address = cfg->tftp_bind_address,
		.port = cfg->tftp_port,
		.workers = cfg->tftp_workers,
		.blksize_max = cfg->tftp_blksize_max,
		.windowsize_max = cfg->tftp_windowsize_max,
		.timeout = cfg->tftp_timeout,
		.retries = cfg->tftp_retries,
		.max_transfers = cfg->tftp_max_transfers,
		.per_client_max = cfg->tftp_per_client_max,
		.per_client_rate = cfg->tftp_per_client_rate,
		.providers = providers,
		.n_providers = n,
		.log = log,
	};
	r = pt_tftp_server_new(&o, &t->srv);
	if (r != PT_OK) {
		bind_error(t, r);
		goto out;
	}
	unsigned granted = pt_tftp_server_rcvbuf(t->srv);
	/* Linux reports twice what it counts against the buffer; below a
	 * megabyte a storm of requests overflows it. */
	if (granted < (1u << 20))
		pt_log_warn(log, "tftp: the receive buffer of the TFTP port is "
				 "%u KiB (net.core.rmem_max caps it): a boot "
				 "storm may overflow it and drop requests; "
				 "raise net.core.rmem_max to %u or more",
			    granted / 1024, PT_TFTP_DEFAULT_RCVBUF);
	r = pt_daemon_service_arm(log, "tftp", pt_tftp_server_start(t->srv),
				  loop, PT_DAEMON_TFTP_STATS_MS, on_stats, t,
				  &t->timer);
	if (r != PT_OK)
		goto out;
	char limits[160];
	snprintf(limits, sizeof limits, "%u per client, %u requests/s per "
		 "client",
		 cfg->tftp_per_client_max, cfg->tftp_per_client_rate);
	pt_log_info(log,
		    "tftp: listening on UDP %s with %u workers (receive buffer "
		    "%u KiB each): blksize up to %u, window up to %u, timeout "
		    "%u s, %u retries, at most %u transfers, %s",
		    t->where, pt_tftp_server_workers(t->srv), granted / 1024,
		    cfg->tftp_blksize_max, cfg->tftp_windowsize_max,
		    cfg->tftp_timeout, cfg->tftp_retries,
		    cfg->tftp_max_transfers,
		    cfg->tftp_per_client_max || cfg->tftp_per_client_rate
			    ? limits
			    : "no per-client limits");
	*out = t;
	t = NULL;
	r = PT_OK;
out:
	pt_daemon_tftp_stop(&t);
	return r;
}

void pt_daemon_tftp_describe(const pt_daemon_tftp_t *t, char *buf, size_t len)
{
	if (t->cfg->tftp_static_dir)
		snprintf(buf, len, "tftp (udp %s, %u workers, phone files and "
				   "static files from %s)",
			 t->where, pt_tftp_server_workers(t->srv),
			 t->cfg->tftp_static_dir);
	else
		snprintf(buf, len, "tftp (udp %s, %u workers, phone files)",
			 t->where, pt_tftp_server_workers(t->srv));
}

void pt_daemon_tftp_stop(pt_daemon_tftp_t **tp)
{
	if (!tp || !*tp)
		return;
	struct pt_daemon_tftp *t = *tp;
	if (t->timer)
		pt_loop_timer_del(t->loop, t->timer);
	if (t->srv) {
		log_stats(t, "at stop");
		pt_tftp_server_destroy(&t->srv);
	}
	free(t);
	*tp = NULL;
}
