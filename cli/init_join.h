/* The joining step of `phonetrust init --role subscriber --join URL`. */
#ifndef PT_CLI_INIT_JOIN_H
#define PT_CLI_INIT_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "store/curve_keys.h"
#include "store/node_meta.h"

typedef struct pt_init_join {
	const char *dir;          /* the new node's data directory */
	const char *url;          /* the publisher's sync endpoint */
	const char *password;
	const char *node;
	const char *address;
	uint32_t tftp_port, tvs_port;
	const uint8_t *tftp_der;
	size_t tftp_len;
	const uint8_t *tvs_der;
	size_t tvs_len;
	const pt_curve_pair_t *keys; /* the node's own CurveZMQ pair */
} pt_init_join_t;

/* Runs the handshake, then saves the cluster data key and records the
 * publisher's CurveZMQ key and the cluster name in the node's metadata.
 * On failure why holds one sentence and nothing was saved (the caller
 * removes what init created). */
int pt_cli_init_join(const pt_init_join_t *j, char *why, size_t why_len,
		     char *cluster, size_t cluster_len);

#endif
