#include "join_server.h"

#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/join_proof.h"
#include "lib/validate.h"
#include "store/records.h"

#define MAX_PENDING 16
#define PENDING_TTL_S 60
#define MAX_ID_LEN 256

struct pending {
	bool used;
	uint8_t id[MAX_ID_LEN];
	size_t id_len;
	uint8_t client_key[32];
	uint8_t client_nonce[PT_JOIN_NONCE_LEN];
	uint8_t server_nonce[PT_JOIN_NONCE_LEN];
	char node[64];
	time_t expires;
};

struct pt_join_server {
	pt_store_t *store;
	pt_data_key_t key;
	pt_log_t *log;
	struct pending pending[MAX_PENDING];
	/* Reply storage: valid until the next call. */
	Pt__JoinChallenge challenge;
	Pt__JoinResult result;
	uint8_t proof[PT_JOIN_PROOF_LEN];
	uint8_t salt[64];
	char reason[256];
	char cluster_name[128];
};

int pt_join_server_new(pt_store_t *store, const pt_data_key_t *key,
		       pt_log_t *log, pt_join_server_t **out)
{
	pt_join_server_t *js = calloc(1, sizeof *js);
	*out = js;
	if (!js)
		return PT_ERR_NOMEM;
	js->store = store;
	js->key = *key;
	js->log = log;
	return PT_OK;
}

void pt_join_server_destroy(pt_join_server_t **js)
{
	if (!js || !*js)
		return;
	pt_seal_wipe(*js, sizeof **js);
	free(*js);
	*js = NULL;
}

static struct pending *find_pending(pt_join_server_t *js, const void *id,
				    size_t id_len, const uint8_t key[32])
{
	time_t now = time(NULL);
	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &js->pending[i];
		if (p->used && p->expires < now)
			p->used = false;
		if (p->used && p->id_len == id_len &&
		    memcmp(p->id, id, id_len) == 0 &&
		    memcmp(p->client_key, key, 32) == 0)
			return p;
	}
	return NULL;
}

static struct pending *new_pending(pt_join_server_t *js)
{
	struct pending *oldest = &js->pending[0];
	for (int i = 0; i < MAX_PENDING; i++) {
		if (!js->pending[i].used)
			return &js->pending[i];
		if (js->pending[i].expires < oldest->expires)
			oldest = &js->pending[i];
	}
	return oldest;
}

static void refuse(pt_join_server_t *js, Pt__Envelope *reply,
		   const char *reason)
{
	pt__join_result__init(&js->result);
	js->result.accepted = false;
	snprintf(js->reason, sizeof js->reason, "%s", reason);
	js->result.reason = js->reason;
	reply->body_case = PT__ENVELOPE__BODY_JOIN_RESULT;
	reply->join_result = &js->result;
}

static int on_hello(pt_join_server_t *js, const void *id, size_t id_len,
		    const uint8_t client_key[32], const char *peer,
		    const Pt__JoinHello *hello, Pt__Envelope *reply)
{
	const char *why;
	if (pt_validate_node_name(hello->node, &why) != PT_OK) {
		refuse(js, reply, why);
		return PT_OK;
	}
	if (hello->client_nonce.len != PT_JOIN_NONCE_LEN || id_len > MAX_ID_LEN)
		return PT_ERR_MALFORMED;
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	int r = pt_txn_begin(js->store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_cluster_get(txn, &cl);
	pt_txn_abort(&txn);
	if (r != PT_OK || cl->kdf_salt.len > sizeof js->salt) {
		pt_record_free(cl ? &cl->base : NULL);
		refuse(js, reply, "the publisher has no cluster record");
		return PT_OK;
	}
	struct pending *p = new_pending(js);
	memset(p, 0, sizeof *p);
	p->used = true;
	memcpy(p->id, id, id_len);
	p->id_len = id_len;
	memcpy(p->client_key, client_key, 32);
	memcpy(p->client_nonce, hello->client_nonce.data, PT_JOIN_NONCE_LEN);
	snprintf(p->node, sizeof p->node, "%s", hello->node);
	p->expires = time(NULL) + PENDING_TTL_S;
	if (RAND_bytes(p->server_nonce, PT_JOIN_NONCE_LEN) != 1) {
		p->used = false;
		pt_record_free(&cl->base);
		return PT_ERR_CRYPTO;
	}
	pt_join_binding_t b = {p->client_nonce, p->server_nonce, client_key};
	r = pt_join_server_proof(&js->key, &b, js->proof);
	if (r != PT_OK) {
		p->used = false;
		pt_record_free(&cl->base);
		return r;
	}
	memcpy(js->salt, cl->kdf_salt.data, cl->kdf_salt.len);
	snprintf(js->cluster_name, sizeof js->cluster_name, "%s", cl->name);
	pt__join_challenge__init(&js->challenge);
	js->challenge.server_nonce.data = p->server_nonce;
	js->challenge.server_nonce.len = PT_JOIN_NONCE_LEN;
	js->challenge.kdf_salt.data = js->salt;
	js->challenge.kdf_salt.len = cl->kdf_salt.len;
	js->challenge.kdf_n = cl->kdf_n;
	js->challenge.kdf_r = cl->kdf_r;
	js->challenge.kdf_p = cl->kdf_p;
	js->challenge.server_proof.data = js->proof;
	js->challenge.server_proof.len = PT_JOIN_PROOF_LEN;
	js->challenge.cluster_name = js->cluster_name;
	pt_record_free(&cl->base);
	reply->body_case = PT__ENVELOPE__BODY_JOIN_CHALLENGE;
	reply->join_challenge = &js->challenge;
	pt_log_info(js->log, "replication: node %s at %s asks to join",
		    hello->node, peer);
	return PT_OK;
}

/* Adds the node and its certificates' trust entries in one transaction.
 * A node of that name with another key is refused: it must be removed
 * first, so a name cannot be taken over by whoever knows the password. */
static int add_node(pt_join_server_t *js, const Pt__JoinProof *jp,
		    const uint8_t client_key[32], const Pt__Certificate *tftp,
		    const Pt__Certificate *tvs, char *why, size_t why_len)
{
	pt_txn_t *txn = NULL;
	Pt__Node *old = NULL;
	int64_t now = (int64_t)time(NULL);
	char source[96];
	int r = pt_txn_begin(js->store, true, "replication join", &txn);
	if (r != PT_OK)
		goto out;
	r = pt_node_get(txn, jp->node, &old);
	if (r == PT_OK && (old->curve_public_key.len != 32 ||
			   memcmp(old->curve_public_key.data, client_key, 32))) {
		snprintf(why, why_len,
			 "a node named %s exists already with another key; "
			 "remove it first (phonetrust node remove %s)",
			 jp->node, jp->node);
		r = PT_ERR_EXISTS;
		goto out;
	}
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		goto out;
	char *services[] = {"tftp", "tvs"};
	Pt__Node n = PT__NODE__INIT;
	n.name = jp->node;
	n.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
	n.address = jp->address;
	n.tftp_port = jp->tftp_port;
	n.tvs_port = jp->tvs_port;
	n.n_services = 2;
	n.services = services;
	n.tftp_cert_der = jp->tftp_cert_der;
	n.tvs_cert_der = jp->tvs_cert_der;
	n.curve_public_key.data = (uint8_t *)client_key;
	n.curve_public_key.len = 32;
	n.joined = old ? old->joined : now;
	if ((r = pt_node_put(txn, &n)) != PT_OK)
		goto out;
	snprintf(source, sizeof source, "node %s", jp->node);
	const Pt__Certificate *certs[2] = {tftp, tvs};
	const ProtobufCBinaryData *ders[2] = {&jp->tftp_cert_der,
					      &jp->tvs_cert_der};
	Pt__TrustPurpose purposes[2] = {PT__TRUST_PURPOSE__TRUST_TFTP,
					PT__TRUST_PURPOSE__TRUST_TVS};
	for (int i = 0; i < 2 && r == PT_OK; i++) {
		Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
		e.der = *ders[i];
		e.sha256 = certs[i]->sha256;
		e.n_purposes = 1;
		e.purposes = &purposes[i];
		e.source = source;
		e.subject = certs[i]->subject;
		e.issuer = certs[i]->issuer;
		e.not_after = certs[i]->not_after;
		e.added = now;
		r = pt_trust_put(txn, &e);
	}
	if (r == PT_OK)
		r = pt_txn_commit(&txn, NULL);
out:
	pt_txn_abort(&txn);
	pt_record_free(old ? &old->base : NULL);
	return r;
}

static int on_proof(pt_join_server_t *js, const void *id, size_t id_len,
		    const uint8_t client_key[32], const char *peer,
		    const Pt__JoinProof *jp, Pt__Envelope *reply)
{
	struct pending *p = find_pending(js, id, id_len, client_key);
	if (!p || strcmp(p->node, jp->node) != 0) {
		refuse(js, reply, "no join in progress on this connection");
		return PT_OK;
	}
	p->used = false; /* one proof per challenge */
	uint8_t expected[PT_JOIN_PROOF_LEN];
	pt_join_binding_t b = {p->client_nonce, p->server_nonce, client_key};
	int r = pt_join_client_proof(&js->key, &b, jp->node,
				     jp->tftp_cert_der.data, jp->tftp_cert_der.len,
				     jp->tvs_cert_der.data, jp->tvs_cert_der.len,
				     expected);
	if (r != PT_OK)
		return r;
	if (!pt_join_proof_equal(jp->client_proof.data, jp->client_proof.len,
				 expected)) {
		pt_log_warn(js->log,
			    "replication: refused node %s at %s: it could not "
			    "prove it knows the cluster security password",
			    jp->node, peer);
		refuse(js, reply, "wrong cluster security password");
		return PT_OK;
	}
	Pt__Certificate *tftp = NULL, *tvs = NULL;
	char why[256] = "";
	if (pt_certs_parse(jp->tftp_cert_der.data, jp->tftp_cert_der.len,
			   &tftp) != PT_OK ||
	    pt_certs_parse(jp->tvs_cert_der.data, jp->tvs_cert_der.len, &tvs) !=
		    PT_OK) {
		snprintf(why, sizeof why, "its TFTP or TVS certificate does "
					  "not decode");
		r = PT_ERR_MALFORMED;
	} else if (!jp->address || !*jp->address || strlen(jp->address) > 255 ||
		   jp->tftp_port > 65535 ||
		   jp->tvs_port > 65535) {
		snprintf(why, sizeof why, "its address or ports are invalid");
		r = PT_ERR_INVALID;
	} else {
		r = add_node(js, jp, client_key, tftp, tvs, why, sizeof why);
		if (r != PT_OK && !why[0])
			snprintf(why, sizeof why, "the store refused: %s",
				 pt_strerror(r));
	}
	pt_record_free(tftp ? &tftp->base : NULL);
	pt_record_free(tvs ? &tvs->base : NULL);
	if (r != PT_OK) {
		pt_log_warn(js->log, "replication: refused node %s at %s: %s",
			    jp->node, peer, why);
		refuse(js, reply, why);
		return PT_OK;
	}
	uint64_t last = 0;
	pt_store_last_sequence(js->store, &last);
	pt_log_info(js->log, "replication: node %s at %s joined the cluster",
		    jp->node, peer);
	pt__join_result__init(&js->result);
	js->result.accepted = true;
	js->result.last_sequence = last;
	reply->body_case = PT__ENVELOPE__BODY_JOIN_RESULT;
	reply->join_result = &js->result;
	return PT_OK;
}

int pt_join_server_handle(pt_join_server_t *js, const void *id,
			  size_t id_len, const uint8_t client_key[32],
			  const char *peer, const Pt__Envelope *msg,
			  Pt__Envelope *reply)
{
	pt__envelope__init(reply);
	reply->version = PT_REPL_VERSION;
	if (msg->body_case == PT__ENVELOPE__BODY_JOIN_HELLO)
		return on_hello(js, id, id_len, client_key, peer,
				msg->join_hello, reply);
	if (msg->body_case == PT__ENVELOPE__BODY_JOIN_PROOF)
		return on_proof(js, id, id_len, client_key, peer,
				msg->join_proof, reply);
	return PT_ERR_INVALID;
}
