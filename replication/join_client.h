/* The joining node's half of the join handshake (see join_server.h).
 *
 * The node computes the publisher's CurveZMQ public key from the cluster
 * password (store/curve_keys.h), so the encrypted connection itself proves
 * it reached the real publisher; the challenge's proof confirms it.  On
 * success the outcome holds the cluster data key, derived from the password
 * and the cluster's salt.
 */
#ifndef PT_REPLICATION_JOIN_CLIENT_H
#define PT_REPLICATION_JOIN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/seal.h"
#include "store/curve_keys.h"

typedef struct pt_join_request {
	const char *endpoint;       /* the publisher's sync port */
	const char *password;       /* the cluster security password */
	const char *node;
	const char *address;
	uint32_t tftp_port;
	uint32_t tvs_port;
	const uint8_t *tftp_der;
	size_t tftp_len;
	const uint8_t *tvs_der;
	size_t tvs_len;
	const pt_curve_pair_t *node_keys; /* this node's own pair */
	unsigned timeout_ms;        /* per answer; 0: 10 s */
} pt_join_request_t;

typedef struct pt_join_outcome {
	pt_data_key_t key;
	char cluster_name[128];
	uint64_t last_sequence;
	char why[256];              /* set on failure */
} pt_join_outcome_t;

/* Runs the handshake.  PT_OK when the publisher accepted the node; else
 * an error with a sentence in out->why.  The key is wiped on failure. */
int pt_join_run(const pt_join_request_t *req, pt_join_outcome_t *out);

#endif
