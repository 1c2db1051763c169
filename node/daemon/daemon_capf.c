#include "daemon/daemon_capf.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capf/capf_service.h"
#include "daemon/daemon_service.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "lib/seal.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"

struct pt_daemon_capf {
	const pt_config_t *cfg;
	pt_store_t *store;
	pt_log_t *log;
	pt_loop_t *loop;
	pt_capf_service_t *svc;
	pt_data_key_t key;
	uint64_t stats_timer, refresh_timer;
	pt_capf_stats_t last; /* as last logged */
	uint16_t port;
	unsigned idle_ms;
	uint8_t cert_sha[32]; /* the CAPF certificate served */
	bool warned_cert;
	char where[96];       /* "127.0.0.1:3804" or "[::]:3804" */
};

static void log_stats(struct pt_daemon_capf *d, const char *when)
{
	pt_capf_stats_t s;
	pt_capf_service_stats(d->svc, &s);
	if (memcmp(&s, &d->last, sizeof s) == 0)
		return;
	d->last = s;
	pt_log_info(d->log,
		    "capf %s: %" PRIu64 " connections, %" PRIu64 " open; "
		    "installed %" PRIu64 ", deferred to the offline CA %" PRIu64
		    ", fetched %" PRIu64 ", deleted %" PRIu64 ", nothing to do "
		    "%" PRIu64 "; refused: %" PRIu64 " unknown devices, %" PRIu64
		    " failed authentications, %" PRIu64 " expired or "
		    "throttled, %" PRIu64 " phone failures, %" PRIu64
		    " malformed; closed: %" PRIu64 " failed handshakes, %" PRIu64
		    " timed out, %" PRIu64 " dropped by the phone, %" PRIu64
		    " at max_connections; %" PRIu64 " errors",
		    when, s.accepted, s.active, s.installed, s.deferred,
		    s.fetched, s.deleted, s.nothing, s.unknown, s.auth_failed,
		    s.refused, s.phone_failed, s.malformed, s.handshake_failed,
		    s.timed_out, s.dropped, s.busy, s.errors);
}

static void on_stats(pt_loop_t *loop, uint64_t id, void *data)
{
	(void)loop;
	(void)id;
	log_stats(data, "statistics");
}

/* The idle deadline the cluster asks for (keep-alive, minutes). */
static unsigned keepalive_ms(const Pt__Cluster *cl)
{
	int64_t min = pt_param_int(cl, PT_PARAM_CAPF_KEEPALIVE_MIN);
	if (min < 1)
		min = 15;
	return (unsigned)(min * 60 * 1000);
}

/* Follows capf_keepalive_minutes and notices a regenerated CAPF
 * certificate. */
static void refresh(struct pt_daemon_capf *d)
{
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	if (pt_txn_begin(d->store, false, NULL, &txn) != PT_OK)
		return;
	if (pt_cluster_get(txn, &cl) != PT_OK)
		goto out;
	if (!d->cfg->capf_idle_timeout) {
		unsigned ms = keepalive_ms(cl);
		if (ms != d->idle_ms &&
		    pt_capf_service_set_idle_ms(d->svc, ms) == PT_OK) {
			pt_log_info(d->log, "capf: keep-alive is now %u "
					    "minutes: idle sessions end after "
					    "that from now on",
				    ms / 60000);
			d->idle_ms = ms;
		}
	}
	uint8_t sha[32];
	if (!d->warned_cert && cl->capf_cert_der.len &&
	    pt_certs_sha256(cl->capf_cert_der.data, cl->capf_cert_der.len,
			    sha) == PT_OK &&
	    memcmp(sha, d->cert_sha, sizeof sha) != 0) {
		pt_log_warn(d->log, "capf: the cluster's CAPF certificate "
				    "changed (capf cert regenerate?); this "
				    "daemon still serves and signs with the "
				    "one it loaded: restart phonetrustd");
		d->warned_cert = true;
	}
out:
	pt_record_free(cl ? &cl->base : NULL);
	pt_txn_abort(&txn);
}

static void on_refresh(pt_loop_t *loop, uint64_t id, void *data)
{
	(void)loop;
	(void)id;
	refresh(data);
}

static uint32_t advertised_port(const Pt__Node *node)
{
	return node->capf_port;
}

/* Port and idle deadline: the file's, else the cluster's. */
static int read_cluster(struct pt_daemon_capf *d)
{
	Pt__Cluster *cl = NULL;
	pt_daemon_port_t port = {.set = d->cfg->capf_port_set,
				 .configured = d->cfg->capf_port,
				 .param = PT_PARAM_CAPF_PHONE_PORT,
				 .advertised = advertised_port};
	int r = pt_daemon_service_port(d->store, d->log, "capf", &port,
				       &d->port, &cl);
	if (r != PT_OK)
		return r;
	d->idle_ms = d->cfg->capf_idle_timeout
			     ? d->cfg->capf_idle_timeout * 1000u
			     : keepalive_ms(cl);
	pt_record_free(cl ? &cl->base : NULL);
	return PT_OK;
}

static int load_keys(struct pt_daemon_capf *d, pt_identity_t **id)
{
	const char *dir = d->cfg->data_dir;
	int r = pt_identity_load(dir, id);
	if (r == PT_OK && !pt_identity_key(*id, PT_IDENTITY_CAPF))
		r = PT_ERR_NOT_FOUND;
	if (r != PT_OK) {
		pt_log_error(d->log, "capf: cannot load the CAPF key and "
				     "certificate from %s/keys/capf.key and "
				     "%s/certs/capf.pem: %s (made by "
				     "'phonetrust init' on a publisher); "
				     "exiting",
			     dir, dir, pt_strerror(r));
		return r;
	}
	r = pt_datakey_load(dir, &d->key);
	if (r != PT_OK) {
		pt_log_error(d->log, "capf: cannot load the cluster data key "
				     "from %s/keys/data.key (it opens the "
				     "devices' authentication strings): %s; "
				     "exiting",
			     dir, pt_strerror(r));
		return r;
	}
	uint8_t *der = NULL;
	size_t len = 0;
	r = pt_certs_encode_der(pt_identity_cert(*id, PT_IDENTITY_CAPF), &der,
				&len);
	if (r == PT_OK)
		r = pt_certs_sha256(der, len, d->cert_sha);
	free(der);
	return r;
}

int pt_daemon_capf_start(const pt_config_t *cfg, pt_store_t *store,
			 pt_log_t *log, pt_loop_t *loop,
			 pt_daemon_capf_t **out)
{
	struct pt_daemon_capf *d = NULL;
	pt_identity_t *id = NULL;
	char *subject = NULL;
	int r;

	*out = NULL;
	if (!cfg->capf || !cfg->capf_enabled)
		return PT_OK;
	d = calloc(1, sizeof *d);
	if (!d)
		return PT_ERR_NOMEM;
	d->cfg = cfg;
	d->store = store;
	d->log = log;
	d->loop = loop;

	r = load_keys(d, &id);
	if (r != PT_OK)
		goto out;
	r = read_cluster(d);
	if (r != PT_OK) {
		pt_log_error(log, "capf: cannot read the store: %s; exiting",
			     pt_strerror(r));
		goto out;
	}
	pt_daemon_service_where(d->where, sizeof d->where,
				cfg->capf_bind_address, d->port);

	EVP_PKEY *key = pt_identity_key(id, PT_IDENTITY_CAPF);
	X509 *cert = pt_identity_cert(id, PT_IDENTITY_CAPF);
	pt_capf_service_opts_t o = {
		.bind_address = cfg->capf_bind_address,
		.port = d->port,
		.workers = cfg->capf_workers,
		.crypto_threads = cfg->capf_signers,
		.max_connections = cfg->capf_max_connections,
		.handshake_ms = cfg->capf_handshake_timeout * 1000u,
		.idle_ms = d->idle_ms,
		.session_ms = cfg->capf_session_timeout * 1000u,
		.store = store,
		.data_key = &d->key,
		.key = key,
		.cert = cert,
		.log = log,
	};
	r = pt_capf_service_new(&o, &d->svc);
	if (r != PT_OK) {
		pt_daemon_service_bind_error(log, "capf", d->where, d->port, r,
					     "CAPF");
		goto out;
	}
	r = pt_daemon_service_arm(log, "capf", pt_capf_service_start(d->svc),
				  loop, PT_DAEMON_CAPF_STATS_MS, on_stats, d,
				  &d->stats_timer);
	if (r != PT_OK)
		goto out;
	r = pt_loop_timer_add(loop, PT_DAEMON_CAPF_REFRESH_MS,
			      PT_DAEMON_CAPF_REFRESH_MS, on_refresh, d,
			      &d->refresh_timer);
	if (r != PT_OK) {
		pt_log_error(log, "capf: cannot arm the refresh timer: %s; "
				  "exiting",
			     pt_strerror(r));
		goto out;
	}
	if (pt_certs_subject(cert, &subject) != PT_OK)
		subject = NULL;
	pt_log_info(log,
		    "capf: listening on TCP %s with %u workers, certificate %s "
		    "(%s %d bits), at most %u sessions, handshake within %u s, "
		    "idle sessions end after %u s (%s), sessions last at most "
		    "%u s",
		    d->where, pt_capf_service_workers(d->svc),
		    subject ? subject : "?", EVP_PKEY_get0_type_name(key),
		    EVP_PKEY_get_bits(key), cfg->capf_max_connections,
		    cfg->capf_handshake_timeout, d->idle_ms / 1000,
		    cfg->capf_idle_timeout ? "[capf] idle_timeout"
					   : "the cluster's keep-alive",
		    cfg->capf_session_timeout);
	*out = d;
	d = NULL;
	r = PT_OK;
out:
	free(subject);
	/* The service holds references of its own. */
	pt_identity_destroy(&id);
	pt_daemon_capf_stop(&d);
	return r;
}

void pt_daemon_capf_describe(const pt_daemon_capf_t *d, char *buf,
			     size_t len)
{
	snprintf(buf, len, "capf (tcp %s, %u workers)", d->where,
		 pt_capf_service_workers(d->svc));
}

void pt_daemon_capf_stop(pt_daemon_capf_t **dp)
{
	if (!dp || !*dp)
		return;
	struct pt_daemon_capf *d = *dp;
	if (d->stats_timer)
		pt_loop_timer_del(d->loop, d->stats_timer);
	if (d->refresh_timer)
		pt_loop_timer_del(d->loop, d->refresh_timer);
	if (d->svc) {
		/* Threads first, so the last figures are final. */
		pt_capf_service_stop(d->svc);
		log_stats(d, "at stop");
		pt_capf_service_destroy(&d->svc);
	}
	pt_seal_wipe(&d->key, sizeof d->key);
	free(d);
	*dp = NULL;
}
