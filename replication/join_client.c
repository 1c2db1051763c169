#include "join_client.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "store/store.h"
#include "lib/errors.h"
#include "lib/join_proof.h"

/* Bounds on what a publisher may ask of our KDF: enough for any cost we
 * would choose, small enough that a bogus challenge cannot exhaust us. */
#define KDF_N_MAX (1u << 20)
#define KDF_R_MAX 32u
#define KDF_P_MAX 16u

__attribute__((format(printf, 3, 4))) static int
fail(pt_join_outcome_t *out, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof out->why, fmt, ap);
	va_end(ap);
	pt_seal_wipe(&out->key, sizeof out->key);
	return r;
}

/* Waits for one answer; PT_ESYS(ETIMEDOUT) when none came. */
static int receive(void *sock, unsigned timeout_ms, Pt__Envelope **env)
{
	zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return PT_ESYS(ETIMEDOUT);
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, 0) < 0) {
		zmq_msg_close(&msg);
		return PT_ESYS(zmq_errno());
	}
	int r = pt_repl_decode(zmq_msg_data(&msg), zmq_msg_size(&msg),
			       PT_REPL_MAX_REQUEST, env);
	zmq_msg_close(&msg);
	return r;
}

static int exchange(void *sock, const pt_join_request_t *req,
		    pt_join_outcome_t *out)
{
	uint8_t client_nonce[PT_JOIN_NONCE_LEN];
	uint8_t proof[PT_JOIN_PROOF_LEN];
	unsigned timeout = req->timeout_ms ? req->timeout_ms : 10000;
	Pt__Envelope *env = NULL;
	int r;

	if (RAND_bytes(client_nonce, sizeof client_nonce) != 1)
		return fail(out, PT_ERR_CRYPTO, "%s", "no randomness");
	Pt__JoinHello hello = PT__JOIN_HELLO__INIT;
	hello.node = (char *)req->node;
	hello.client_nonce.data = client_nonce;
	hello.client_nonce.len = sizeof client_nonce;
	hello.schema = PT_SCHEMA_VERSION;
	Pt__Envelope msg = PT__ENVELOPE__INIT;
	msg.version = PT_REPL_VERSION;
	msg.body_case = PT__ENVELOPE__BODY_JOIN_HELLO;
	msg.join_hello = &hello;
	if ((r = pt_repl_send(sock, &msg, 0)) != PT_OK)
		return fail(out, r, "cannot send to %s", req->endpoint);

	r = receive(sock, timeout, &env);
	if (r == PT_ESYS(ETIMEDOUT))
		return fail(out, PT_ERR_AUTH,
			    "no answer from %s: the cluster security password "
			    "is wrong (the encrypted connection could not be "
			    "set up), or no publisher listens there",
			    req->endpoint);
	if (r != PT_OK)
		return fail(out, r, "the publisher at %s sent something "
				    "unreadable",
			    req->endpoint);
	if (env->body_case == PT__ENVELOPE__BODY_JOIN_RESULT ||
	    env->body_case == PT__ENVELOPE__BODY_ERROR) {
		snprintf(out->why, sizeof out->why, "refused by the publisher: %s",
			 env->body_case == PT__ENVELOPE__BODY_ERROR
				 ? env->error->reason
				 : env->join_result->reason);
		pt__envelope__free_unpacked(env, NULL);
		return PT_ERR_DENIED;
	}
	if (env->body_case != PT__ENVELOPE__BODY_JOIN_CHALLENGE) {
		pt__envelope__free_unpacked(env, NULL);
		return fail(out, PT_ERR_MALFORMED, "%s",
			    "the publisher answered out of turn");
	}
	Pt__JoinChallenge *ch = env->join_challenge;
	if (ch->server_nonce.len != PT_JOIN_NONCE_LEN ||
	    ch->kdf_salt.len < 16 || ch->kdf_salt.len > 64 || ch->kdf_n < 2 ||
	    ch->kdf_n > KDF_N_MAX || (ch->kdf_n & (ch->kdf_n - 1)) != 0 ||
	    ch->kdf_r == 0 || ch->kdf_r > KDF_R_MAX || ch->kdf_p == 0 ||
	    ch->kdf_p > KDF_P_MAX) {
		pt__envelope__free_unpacked(env, NULL);
		return fail(out, PT_ERR_MALFORMED, "%s",
			    "the publisher's challenge is out of bounds");
	}
	r = pt_seal_derive_key(req->password, ch->kdf_salt.data,
			       ch->kdf_salt.len, ch->kdf_n, ch->kdf_r,
			       ch->kdf_p, &out->key);
	pt_join_binding_t b = {client_nonce, ch->server_nonce.data,
			       req->node_keys->public_key};
	if (r == PT_OK)
		r = pt_join_server_proof(&out->key, &b, proof);
	if (r != PT_OK) {
		pt__envelope__free_unpacked(env, NULL);
		return fail(out, r, "%s", "cannot derive the cluster data key");
	}
	if (!pt_join_proof_equal(ch->server_proof.data, ch->server_proof.len,
				 proof)) {
		pt__envelope__free_unpacked(env, NULL);
		return fail(out, PT_ERR_AUTH, "%s",
			    "the publisher could not prove it knows the "
			    "cluster security password");
	}
	snprintf(out->cluster_name, sizeof out->cluster_name, "%s",
		 ch->cluster_name);
	uint8_t server_nonce[PT_JOIN_NONCE_LEN];
	memcpy(server_nonce, ch->server_nonce.data, sizeof server_nonce);
	pt__envelope__free_unpacked(env, NULL);
	env = NULL;

	b.server_nonce = server_nonce;
	r = pt_join_client_proof(&out->key, &b, req->node, req->tftp_der,
				 req->tftp_len, req->tvs_der, req->tvs_len,
				 proof);
	if (r != PT_OK)
		return fail(out, r, "%s", "cannot compute the join proof");
	Pt__JoinProof jp = PT__JOIN_PROOF__INIT;
	jp.node = (char *)req->node;
	jp.address = (char *)req->address;
	jp.tftp_port = req->tftp_port;
	jp.tvs_port = req->tvs_port;
	jp.tftp_cert_der.data = (uint8_t *)req->tftp_der;
	jp.tftp_cert_der.len = req->tftp_len;
	jp.tvs_cert_der.data = (uint8_t *)req->tvs_der;
	jp.tvs_cert_der.len = req->tvs_len;
	jp.client_proof.data = proof;
	jp.client_proof.len = sizeof proof;
	msg.body_case = PT__ENVELOPE__BODY_JOIN_PROOF;
	msg.join_proof = &jp;
	if ((r = pt_repl_send(sock, &msg, 0)) != PT_OK)
		return fail(out, r, "cannot send to %s", req->endpoint);

	r = receive(sock, timeout, &env);
	if (r != PT_OK)
		return fail(out, r == PT_ESYS(ETIMEDOUT) ? PT_ERR_AUTH : r,
			    "no final answer from %s", req->endpoint);
	if (env->body_case != PT__ENVELOPE__BODY_JOIN_RESULT) {
		pt__envelope__free_unpacked(env, NULL);
		return fail(out, PT_ERR_MALFORMED, "%s",
			    "the publisher answered out of turn");
	}
	r = PT_OK;
	if (!env->join_result->accepted) {
		snprintf(out->why, sizeof out->why, "refused by the publisher: %s",
			 env->join_result->reason);
		pt_seal_wipe(&out->key, sizeof out->key);
		r = PT_ERR_DENIED;
	}
	out->last_sequence = env->join_result->last_sequence;
	pt__envelope__free_unpacked(env, NULL);
	return r;
}

int pt_join_run(const pt_join_request_t *req, pt_join_outcome_t *out)
{
	pt_curve_pair_t server;
	void *ctx = NULL, *sock = NULL;
	int r;
	memset(out, 0, sizeof *out);
	r = pt_curve_pair_from_password(req->password, &server);
	if (r != PT_OK)
		return fail(out, r, "%s", "cannot derive the publisher's key");
	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
	int zero = 0;
	int64_t max = (int64_t)PT_REPL_MAX_REQUEST;
	if (!sock ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server.public_key, 32) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, req->node_keys->public_key,
			   32) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, req->node_keys->secret_key,
			   32) ||
	    zmq_connect(sock, req->endpoint) != 0) {
		r = fail(out, PT_ESYS(zmq_errno()), "cannot connect to %s",
			 req->endpoint);
		goto out;
	}
	r = exchange(sock, req, out);
out:
	pt_curve_pair_clear(&server);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return r;
}
