#include "daemon/daemon_tvs.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_service.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "store/identity.h"
#include "tvs/tvs_server.h"

struct pt_daemon_tvs {
	const pt_config_t *cfg;
	pt_log_t *log;
	pt_loop_t *loop;
	pt_tvs_server_t *srv;
	uint64_t timer;
	pt_tvs_stats_t last; /* as last logged */
	uint16_t port;
	char where[96];      /* "127.0.0.1:2445" or "[::]:2445" */
};

static void log_stats(struct pt_daemon_tvs *t, const char *when)
{
	pt_tvs_stats_t s;
	pt_tvs_server_stats(t->srv, &s);
	if (memcmp(&s, &t->last, sizeof s) == 0)
		return;
	t->last = s;
	pt_log_info(t->log,
		    "tvs %s: %" PRIu64 " connections, %" PRIu64 " open; "
		    "answered %" PRIu64 " valid, %" PRIu64 " unknown, %" PRIu64
		    " expired; closed without an answer: %" PRIu64
		    " malformed, %" PRIu64 " failed handshakes, %" PRIu64
		    " timed out, %" PRIu64 " errors; %" PRIu64
		    " refused at max_connections",
		    when, s.accepted, s.active, s.valid, s.unknown, s.expired,
		    s.malformed, s.handshake_failed, s.timed_out, s.errors,
		    s.busy);
}

static void on_stats(pt_loop_t *loop, uint64_t id, void *data)
{
	(void)loop;
	(void)id;
	log_stats(data, "statistics");
}

static uint32_t advertised_port(const Pt__Node *node)
{
	return node->tvs_port;
}

int pt_daemon_tvs_start(const pt_config_t *cfg, pt_store_t *store,
			pt_log_t *log, pt_loop_t *loop, pt_daemon_tvs_t **out)
{
	struct pt_daemon_tvs *t = NULL;
	pt_identity_t *id = NULL;
	char *subject = NULL;
	int r;

	*out = NULL;
	if (!cfg->tvs || !cfg->tvs_enabled)
		return PT_OK;
	t = calloc(1, sizeof *t);
	if (!t)
		return PT_ERR_NOMEM;
	t->cfg = cfg;
	t->log = log;
	t->loop = loop;

	r = pt_identity_load(cfg->data_dir, &id);
	if (r != PT_OK) {
		pt_log_error(log, "tvs: cannot load the node's TVS key and "
				  "certificate from %s/keys and %s/certs: %s "
				  "(made by 'phonetrust init'); exiting",
			     cfg->data_dir, cfg->data_dir, pt_strerror(r));
		goto out;
	}
	pt_daemon_port_t port = {.set = cfg->tvs_port_set,
				 .configured = cfg->tvs_port,
				 .param = PT_PARAM_TVS_PORT,
				 .advertised = advertised_port};
	r = pt_daemon_service_port(store, log, "tvs", &port, &t->port, NULL);
	if (r != PT_OK) {
		pt_log_error(log, "tvs: cannot read the store: %s; exiting",
			     pt_strerror(r));
		goto out;
	}
	pt_daemon_service_where(t->where, sizeof t->where,
				cfg->tvs_bind_address, t->port);

	EVP_PKEY *key = pt_identity_key(id, PT_IDENTITY_TVS);
	X509 *cert = pt_identity_cert(id, PT_IDENTITY_TVS);
	pt_tvs_server_opts_t o = {
		.bind_address = cfg->tvs_bind_address,
		.port = t->port,
		.workers = cfg->tvs_workers,
		.max_connections = cfg->tvs_max_connections,
		.timeout_ms = cfg->tvs_timeout * 1000u,
		.store = store,
		.key = key,
		.cert = cert,
		.log = log,
	};
	r = pt_tvs_server_new(&o, &t->srv);
	if (r != PT_OK) {
		pt_daemon_service_bind_error(log, "tvs", t->where, t->port, r,
					     "TVS");
		goto out;
	}
	r = pt_daemon_service_arm(log, "tvs", pt_tvs_server_start(t->srv), loop,
				  PT_DAEMON_TVS_STATS_MS, on_stats, t,
				  &t->timer);
	if (r != PT_OK)
		goto out;
	if (pt_certs_subject(cert, &subject) != PT_OK)
		subject = NULL;
	pt_log_info(log,
		    "tvs: listening on TCP %s with %u workers, certificate %s "
		    "(%s %d bits), at most %u connections, %u s per "
		    "connection",
		    t->where, pt_tvs_server_workers(t->srv),
		    subject ? subject : "?", EVP_PKEY_get0_type_name(key),
		    EVP_PKEY_get_bits(key), cfg->tvs_max_connections,
		    cfg->tvs_timeout);
	*out = t;
	t = NULL;
	r = PT_OK;
out:
	free(subject);
	/* The TLS context holds references of its own. */
	pt_identity_destroy(&id);
	pt_daemon_tvs_stop(&t);
	return r;
}

void pt_daemon_tvs_describe(const pt_daemon_tvs_t *t, char *buf, size_t len)
{
	snprintf(buf, len, "tvs (tcp %s, %u workers)", t->where,
		 pt_tvs_server_workers(t->srv));
}

void pt_daemon_tvs_stop(pt_daemon_tvs_t **tp)
{
	if (!tp || !*tp)
		return;
	struct pt_daemon_tvs *t = *tp;
	if (t->timer)
		pt_loop_timer_del(t->loop, t->timer);
	if (t->srv) {
		/* Workers first, so the last figures are final. */
		pt_tvs_server_stop(t->srv);
		log_stats(t, "at stop");
		pt_tvs_server_destroy(&t->srv);
	}
	free(t);
	*tp = NULL;
}
