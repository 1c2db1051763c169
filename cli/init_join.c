#include "init_join.h"

#include <stdio.h>
#include <string.h>

#include "join_client.h"
#include "lib/errors.h"
#include "lib/seal.h"
#include "store/datakey.h"
#include "store/store.h"

static int record_publisher(const pt_init_join_t *j,
			    const pt_curve_pair_t *server, const char *cluster)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	int r = pt_store_open(j->dir, 0, 0, &store);
	if (r == PT_OK)
		r = pt_txn_begin(store, true, "cli init join", &txn);
	if (r == PT_OK)
		r = pt_txn_meta_put(txn, PT_META_PUBLISHER_CURVE_KEY,
				    server->public_key, PT_CURVE_KEY_LEN);
	if (r == PT_OK)
		r = pt_txn_meta_put(txn, PT_META_CLUSTER_NAME, cluster,
				    strlen(cluster));
	if (r == PT_OK)
		r = pt_txn_meta_put(txn, PT_META_JOINED_VIA, j->url,
				    strlen(j->url));
	if (r == PT_OK)
		r = pt_txn_commit(&txn, NULL);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return r;
}

int pt_cli_init_join(const pt_init_join_t *j, char *why, size_t why_len,
		     char *cluster, size_t cluster_len)
{
	pt_join_request_t req = {
		.endpoint = j->url,
		.password = j->password,
		.node = j->node,
		.address = j->address,
		.tftp_port = j->tftp_port,
		.tvs_port = j->tvs_port,
		.tftp_der = j->tftp_der,
		.tftp_len = j->tftp_len,
		.tvs_der = j->tvs_der,
		.tvs_len = j->tvs_len,
		.node_keys = j->keys,
	};
	pt_join_outcome_t out;
	pt_curve_pair_t server;
	int r = pt_join_run(&req, &out);
	if (r != PT_OK) {
		snprintf(why, why_len, "%s", out.why);
		return r;
	}
	/* The handshake already proved this key; recompute it to keep it. */
	r = pt_curve_pair_from_password(j->password, &server);
	if (r == PT_OK)
		r = record_publisher(j, &server, out.cluster_name);
	if (r == PT_OK)
		r = pt_datakey_save(j->dir, &out.key);
	if (r != PT_OK)
		snprintf(why, why_len,
			 "joined, but cannot save the cluster data key or the "
			 "publisher's key in %s: %s",
			 j->dir, pt_strerror(r));
	else
		snprintf(cluster, cluster_len, "%s", out.cluster_name);
	pt_curve_pair_clear(&server);
	pt_seal_wipe(&out, sizeof out);
	return r;
}
