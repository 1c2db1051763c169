/* Proofs of the join handshake: each side shows it holds the cluster data
 * key (derived from the cluster security password) without sending the
 * password or the key.  Both proofs bind the two nonces and the joining
 * node's CurveZMQ public key, so a proof cannot be replayed on another
 * connection or for another key; the client's also binds its name and the
 * SHA-256 of its TFTP and TVS certificates.
 */
#ifndef PT_LIB_JOIN_PROOF_H
#define PT_LIB_JOIN_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/seal.h"

#define PT_JOIN_NONCE_LEN 32
#define PT_JOIN_PROOF_LEN 32

typedef struct pt_join_binding {
	const uint8_t *client_nonce; /* PT_JOIN_NONCE_LEN bytes */
	const uint8_t *server_nonce; /* PT_JOIN_NONCE_LEN bytes */
	const uint8_t *client_curve_key; /* 32 bytes */
} pt_join_binding_t;

int pt_join_server_proof(const pt_data_key_t *key, const pt_join_binding_t *b,
			 uint8_t out[PT_JOIN_PROOF_LEN]);

int pt_join_client_proof(const pt_data_key_t *key, const pt_join_binding_t *b,
			 const char *node, const uint8_t *tftp_der,
			 size_t tftp_len, const uint8_t *tvs_der,
			 size_t tvs_len, uint8_t out[PT_JOIN_PROOF_LEN]);

/* Constant-time comparison of a received proof (any length) with ours. */
int pt_join_proof_equal(const uint8_t *got, size_t got_len,
			const uint8_t expected[PT_JOIN_PROOF_LEN]);

#endif
