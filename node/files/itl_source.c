#include "files/itl_source.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/errors.h"
#include "lib/itl.h"
#include "lib/params.h"
#include "store/identity.h"
#include "store/records.h"

#define INPUTS_LEN 32u

/* What the store holds for the ITL, read in one transaction. */
struct gathered {
	Pt__Cluster *cluster;
	Pt__Node **nodes;
	size_t n_nodes, cap_nodes;
	uint8_t stored_inputs[INPUTS_LEN];
	bool have_inputs;
	uint8_t *itl; /* copy of the stored ITL, or NULL */
	size_t itl_len;
};

static void gathered_clear(struct gathered *g)
{
	pt_record_free(g->cluster ? &g->cluster->base : NULL);
	for (size_t i = 0; i < g->n_nodes; i++)
		pt_record_free(&g->nodes[i]->base);
	free(g->nodes);
	free(g->itl);
	memset(g, 0, sizeof *g);
}

static int visit_node(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct gathered *g = ctx;
	(void)key;
	(void)key_len;
	if (g->n_nodes == g->cap_nodes) {
		size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 8;
		Pt__Node **p = realloc(g->nodes, cap * sizeof *p);
		if (!p)
			return PT_ERR_NOMEM;
		g->nodes = p;
		g->cap_nodes = cap;
	}
	ProtobufCMessage *m = NULL;
	int r = pt_record_decode(val, val_len, &pt__node__descriptor, &m);
	if (r != PT_OK)
		return r;
	g->nodes[g->n_nodes++] = (Pt__Node *)m;
	return PT_OK;
}

static int copy_meta(pt_txn_t *txn, const char *name, uint8_t **out,
		     size_t *len)
{
	const uint8_t *val = NULL;
	size_t n = 0;
	*out = NULL;
	*len = 0;
	int r = pt_txn_meta_get(txn, name, &val, &n);
	if (r != PT_OK)
		return r;
	if (n == 0)
		return PT_ERR_NOT_FOUND;
	if (!(*out = malloc(n)))
		return PT_ERR_NOMEM;
	memcpy(*out, val, n);
	*len = n;
	return PT_OK;
}

static int gather(pt_store_t *store, struct gathered *g, pt_tlv_diag_t *d)
{
	pt_txn_t *txn = NULL;
	const uint8_t *val = NULL;
	size_t n = 0;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return pt_tlv_refuse(d, r, "cannot read the store: %s",
				     pt_strerror(r));
	r = pt_cluster_get(txn, &g->cluster);
	if (r == PT_ERR_NOT_FOUND) {
		pt_tlv_refuse(d, r,
			      "the store holds no cluster record yet (a "
			      "subscriber gets it with its first catch-up)");
		goto out;
	}
	if (r != PT_OK) {
		pt_tlv_refuse(d, r, "cannot read the cluster record: %s",
			      pt_strerror(r));
		goto out;
	}
	r = pt_txn_foreach(txn, PT_TABLE_NODES, visit_node, g);
	if (r != PT_OK) {
		pt_tlv_refuse(d, r, "cannot read the nodes table: %s",
			      pt_strerror(r));
		goto out;
	}
	if (pt_txn_meta_get(txn, PT_META_ITL_INPUTS, &val, &n) == PT_OK &&
	    n == INPUTS_LEN) {
		memcpy(g->stored_inputs, val, INPUTS_LEN);
		g->have_inputs = true;
	}
	r = copy_meta(txn, PT_META_ITL, &g->itl, &g->itl_len);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_OK;
out:
	pt_txn_abort(&txn);
	return r;
}

/* The ITL inputs, pointing into g and id (tvs is malloc'd). */
static int make_inputs(const struct gathered *g, const pt_identity_t *id,
		       pt_itl_inputs_t *in, pt_itl_tvs_t **tvs_out,
		       pt_tlv_diag_t *d)
{
	const Pt__Cluster *c = g->cluster;
	const char *alg = pt_param_value(c, PT_PARAM_TFTP_SIGNATURE_ALG);
	memset(in, 0, sizeof *in);
	if (pt_itl_digest_parse(alg, &in->digest) != PT_OK)
		return pt_tlv_refuse(d, PT_ERR_INVALID,
				     "%s '%s' names no digest for the ITL",
				     PT_PARAM_TFTP_SIGNATURE_ALG,
				     alg ? alg : "");
	in->tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP);
	in->capf_der = c->capf_cert_der.data;
	in->capf_len = c->capf_cert_der.len;
	in->recovery_der = c->itl_recovery_cert_der.data;
	in->recovery_len = c->itl_recovery_cert_der.len;
	if (g->n_nodes == 0)
		return PT_OK;
	pt_itl_tvs_t *tvs = calloc(g->n_nodes, sizeof *tvs);
	if (!tvs)
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < g->n_nodes; i++) {
		const Pt__Node *node = g->nodes[i];
		tvs[i] = (pt_itl_tvs_t){node->name, node->address,
					node->tvs_cert_der.data,
					node->tvs_cert_der.len};
	}
	in->tvs = tvs;
	in->n_tvs = g->n_nodes;
	*tvs_out = tvs;
	return PT_OK;
}

/* Fills info from ITL bytes; PT_ERR_CORRUPT when they do not parse. */
static int describe(const uint8_t *itl, size_t len, bool changed,
		    pt_itl_source_info_t *info)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	if (pt_tlv_parse(itl, len, &f, &d) != PT_OK)
		return PT_ERR_CORRUPT;
	if (info) {
		memset(info, 0, sizeof *info);
		info->changed = changed;
		info->n_records = f->n_records;
		info->len = len;
		info->timestamp = f->header.timestamp;
		snprintf(info->signer, sizeof info->signer, "%s",
			 f->header.signer_name ? f->header.signer_name : "");
	}
	pt_tlv_file_destroy(&f);
	return PT_OK;
}

/* Stores itl and its inputs digest unless another writer stored the same
 * inputs meanwhile; *stored says whether this call wrote. */
static int store_itl(pt_store_t *store, const uint8_t *itl, size_t len,
		     const uint8_t inputs[INPUTS_LEN], bool *stored,
		     pt_tlv_diag_t *d)
{
	pt_txn_t *txn = NULL;
	const uint8_t *val = NULL;
	size_t n = 0;
	*stored = false;
	int r = pt_txn_begin(store, true, "itl refresh", &txn);
	if (r == PT_ESYS(EACCES))
		return pt_tlv_refuse(
			d, PT_ERR_DENIED,
			"the store is open read-only: the ITL cannot be "
			"stored");
	if (r != PT_OK)
		return pt_tlv_refuse(d, r, "cannot write the store: %s",
				     pt_strerror(r));
	if (pt_txn_meta_get(txn, PT_META_ITL_INPUTS, &val, &n) == PT_OK &&
	    n == INPUTS_LEN && memcmp(val, inputs, INPUTS_LEN) == 0 &&
	    pt_txn_meta_get(txn, PT_META_ITL, &val, &n) == PT_OK && n > 0) {
		pt_txn_abort(&txn);
		return PT_OK;
	}
	r = pt_txn_meta_put(txn, PT_META_ITL, itl, len);
	if (r == PT_OK)
		r = pt_txn_meta_put(txn, PT_META_ITL_INPUTS, inputs,
				    INPUTS_LEN);
	if (r == PT_OK)
		r = pt_txn_commit(&txn, NULL);
	pt_txn_abort(&txn);
	if (r != PT_OK)
		return pt_tlv_refuse(d, r, "cannot store the ITL: %s",
				     pt_strerror(r));
	*stored = true;
	return PT_OK;
}

int pt_itl_source_refresh(pt_store_t *store, const char *datadir,
			  pt_itl_source_info_t *info, pt_tlv_diag_t *diag)
{
	struct gathered g = {0};
	pt_identity_t *id = NULL;
	pt_itl_inputs_t in = {0};
	pt_itl_tvs_t *tvs = NULL;
	uint8_t inputs[INPUTS_LEN];
	uint8_t *itl = NULL;
	size_t len = 0;
	bool stored = false;
	int r;

	if (info)
		memset(info, 0, sizeof *info);
	if (diag)
		memset(diag, 0, sizeof *diag);
	r = pt_identity_load(datadir, &id);
	if (r != PT_OK) {
		pt_tlv_refuse(diag, r,
			      "cannot load the node's TFTP key and certificate "
			      "from %s: %s",
			      datadir, pt_strerror(r));
		goto out;
	}
	r = gather(store, &g, diag);
	if (r == PT_OK)
		r = make_inputs(&g, id, &in, &tvs, diag);
	if (r == PT_OK && (r = pt_itl_inputs_digest(&in, inputs)) != PT_OK)
		pt_tlv_refuse(diag, r, "cannot digest the ITL inputs: %s",
			      pt_strerror(r));
	if (r != PT_OK)
		goto out;
	if (g.itl && g.have_inputs &&
	    memcmp(g.stored_inputs, inputs, INPUTS_LEN) == 0 &&
	    describe(g.itl, g.itl_len, false, info) == PT_OK)
		goto out;

	/* Unix seconds fit the 32-bit timestamp item until 2106. */
	uint32_t now = (uint32_t)time(NULL);
	size_t n_records = 0;
	r = pt_itl_build(&in, pt_identity_key(id, PT_IDENTITY_TFTP), now, &itl,
			 &len, &n_records, diag);
	if (r == PT_OK)
		r = store_itl(store, itl, len, inputs, &stored, diag);
	if (r != PT_OK)
		goto out;
	if (stored) {
		r = describe(itl, len, true, info);
	} else {
		/* Another process stored an ITL of the same inputs first:
		 * describe that one, which is what phones get. */
		free(itl);
		itl = NULL;
		r = pt_itl_source_get(store, &itl, &len);
		if (r == PT_OK)
			r = describe(itl, len, false, info);
	}
	if (r != PT_OK)
		pt_tlv_refuse(diag, r, "the stored ITL does not read back: %s",
			      pt_strerror(r));
out:
	ERR_clear_error();
	free(tvs);
	free(itl);
	gathered_clear(&g);
	pt_identity_destroy(&id);
	return r;
}

int pt_itl_source_get(pt_store_t *store, uint8_t **bytes, size_t *len)
{
	pt_txn_t *txn = NULL;
	*bytes = NULL;
	*len = 0;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return r;
	r = copy_meta(txn, PT_META_ITL, bytes, len);
	pt_txn_abort(&txn);
	return r;
}
