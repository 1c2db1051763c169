#include "daemon/daemon_repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/seal.h"
#include "publisher.h"
#include "store/curve_keys.h"
#include "store/datakey.h"
#include "store/node_meta.h"
#include "subscriber.h"

struct pt_daemon_repl {
	pt_repl_pub_t *pub;
	pt_repl_sub_t *sub;
	pt_curve_pair_t keys;
	pt_data_key_t data_key;
	uint8_t publisher_key[PT_CURVE_KEY_LEN];
};

static void endpoint(char *buf, size_t len, const char *host, unsigned port)
{
	bool v6 = strchr(host, ':') != NULL;
	snprintf(buf, len, "tcp://%s%s%s:%u", v6 ? "[" : "", host,
		 v6 ? "]" : "", port);
}

static int start_publisher(const pt_config_t *cfg, pt_store_t *store,
			   pt_log_t *log, struct pt_daemon_repl *d, char *what,
			   size_t what_len)
{
	char stream[300], sync[300];
	int r = pt_curve_pair_load(cfg->data_dir, PT_CURVE_SERVER_FILE, &d->keys);
	if (r != PT_OK) {
		snprintf(what, what_len,
			 "no CurveZMQ server key in %s/keys (%s): this store "
			 "was initialised before replication existed; "
			 "initialise the publisher again",
			 cfg->data_dir, pt_strerror(r));
		return r;
	}
	bool joins = pt_datakey_load(cfg->data_dir, &d->data_key) == PT_OK;
	endpoint(stream, sizeof stream, cfg->bind_address,
		 cfg->repl_stream_port);
	endpoint(sync, sizeof sync, cfg->bind_address, cfg->repl_sync_port);
	pt_repl_pub_opts_t o = {
		.store = store,
		.log = log,
		.stream_endpoint = stream,
		.sync_endpoint = sync,
		.curve_secret = d->keys.secret_key,
		.data_key = joins ? &d->data_key : NULL,
		.compact_keep_last = cfg->repl_keep_sequences,
		.compact_keep_seconds = (int64_t)cfg->repl_keep_days * 86400,
		.compact_max_entries = cfg->repl_max_sequences,
	};
	r = pt_repl_pub_new(&o, &d->pub);
	if (r != PT_OK) {
		snprintf(what, what_len, "cannot publish on %s and %s: %s",
			 stream, sync, pt_strerror(r));
		return r;
	}
	snprintf(what, what_len, "replication (publishing on %s, sync %s%s)",
		 stream, sync, joins ? "" : "; joins refused: no data key");
	return PT_OK;
}

static int start_subscriber(const pt_config_t *cfg, pt_store_t *store,
			    pt_log_t *log, struct pt_daemon_repl *d,
			    char *what, size_t what_len)
{
	char stream[300], sync[300];
	pt_txn_t *txn = NULL;
	const uint8_t *val;
	size_t len = 0;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_txn_meta_get(txn, PT_META_PUBLISHER_CURVE_KEY, &val, &len);
	if (r == PT_OK && len == PT_CURVE_KEY_LEN)
		memcpy(d->publisher_key, val, len);
	pt_txn_abort(&txn);
	if (r != PT_OK || len != PT_CURVE_KEY_LEN) {
		snprintf(what, what_len,
			 "this node has not joined a cluster (initialise it "
			 "with --join tcp://PUBLISHER:%u)",
			 cfg->repl_sync_port);
		return PT_ERR_NOT_FOUND;
	}
	r = pt_curve_pair_load(cfg->data_dir, PT_CURVE_NODE_FILE, &d->keys);
	if (r != PT_OK) {
		snprintf(what, what_len, "cannot load %s/keys/%s: %s",
			 cfg->data_dir, PT_CURVE_NODE_FILE, pt_strerror(r));
		return r;
	}
	endpoint(stream, sizeof stream, cfg->publisher_address,
		 cfg->repl_stream_port);
	endpoint(sync, sizeof sync, cfg->publisher_address, cfg->repl_sync_port);
	pt_repl_sub_opts_t o = {
		.store = store,
		.log = log,
		.node = cfg->name,
		.stream_endpoint = stream,
		.sync_endpoint = sync,
		.curve_server_public = d->publisher_key,
		.curve_public = d->keys.public_key,
		.curve_secret = d->keys.secret_key,
	};
	r = pt_repl_sub_new(&o, &d->sub);
	if (r != PT_OK) {
		snprintf(what, what_len, "cannot connect to %s and %s: %s",
			 stream, sync, pt_strerror(r));
		return r;
	}
	snprintf(what, what_len, "replication (from %s, sync %s)", stream,
		 sync);
	return PT_OK;
}

int pt_daemon_repl_start(const pt_config_t *cfg, pt_store_t *store,
			 pt_log_t *log, pt_daemon_repl_t **out, char *what,
			 size_t what_len)
{
	struct pt_daemon_repl *d = calloc(1, sizeof *d);
	*out = NULL;
	if (!d) {
		snprintf(what, what_len, "out of memory");
		return PT_ERR_NOMEM;
	}
	int r = cfg->role == PT__NODE_ROLE__ROLE_PUBLISHER
			? start_publisher(cfg, store, log, d, what, what_len)
			: start_subscriber(cfg, store, log, d, what, what_len);
	if (r != PT_OK) {
		pt_daemon_repl_stop(&d);
		return r;
	}
	*out = d;
	return PT_OK;
}

void pt_daemon_repl_stop(pt_daemon_repl_t **repl)
{
	if (!repl || !*repl)
		return;
	pt_repl_pub_destroy(&(*repl)->pub);
	pt_repl_sub_destroy(&(*repl)->sub);
	pt_curve_pair_clear(&(*repl)->keys);
	pt_seal_wipe(&(*repl)->data_key, sizeof (*repl)->data_key);
	free(*repl);
	*repl = NULL;
}
