/* The store side of a TVS answer: one short read transaction per
 * request, so answers follow replicated changes at once. */
#include <stdlib.h>

#include "lib/errors.h"
#include "store/records.h"
#include "tvs/tvs_internal.h"

int tvs_lookup(pt_store_t *store, const pt_tvs_request_t *req, int64_t now,
	       pt_tvs_verdict_t *v, pt_tvs_outcome_t *outcome)
{
	pt_txn_t *txn = NULL;
	Pt__TrustEntry *entry = NULL;
	Pt__Cluster *cluster = NULL;
	ProtobufCMessage **nodes = NULL;
	size_t n_nodes = 0;

	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		goto out;
	r = pt_trust_get(txn, req->sha256, &entry);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		goto out;
	r = pt_record_list(txn, PT_TABLE_NODES, &pt__node__descriptor, &nodes,
			   &n_nodes);
	if (r != PT_OK)
		goto out;
	r = pt_cluster_get(txn, &cluster);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		goto out;
	pt_tvs_trust_in_t in = {
		.entry = entry,
		.nodes = (const Pt__Node *const *)nodes,
		.n_nodes = n_nodes,
		.cluster = cluster,
	};
	*outcome = pt_tvs_trust_decide(&in, req->sha256, req->not_after, now,
				       v);
	r = PT_OK;
out:
	pt_txn_abort(&txn);
	pt_record_list_free(nodes, n_nodes);
	pt_record_free(entry ? &entry->base : NULL);
	pt_record_free(cluster ? &cluster->base : NULL);
	return r;
}
