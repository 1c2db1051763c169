/* CurveZMQ key pairs of a node.
 *
 * Every node has its own pair (<datadir>/keys/curve.key), made at init; its
 * public key travels in the node record so the publisher's ZAP handler can
 * recognise joined nodes.  The publisher's server pair
 * (<datadir>/keys/curve-server.key) is derived from the cluster security
 * password with scrypt and a fixed label, so a node that is joining, and
 * knows only the password and the publisher's address, can compute the
 * publisher's public key and be sure it talks to the real publisher.  The
 * price: someone who can reach the sync port may run an offline guessing
 * attack against the password through the public key, as against any
 * password verifier; scrypt makes each guess expensive, and the cluster
 * password must be a strong one.
 */
#ifndef PT_STORE_CURVE_KEYS_H
#define PT_STORE_CURVE_KEYS_H

#include <stdint.h>

#define PT_CURVE_KEY_LEN 32
#define PT_CURVE_NODE_FILE "curve.key"
#define PT_CURVE_SERVER_FILE "curve-server.key"

typedef struct pt_curve_pair {
	uint8_t public_key[PT_CURVE_KEY_LEN];
	uint8_t secret_key[PT_CURVE_KEY_LEN];
} pt_curve_pair_t;

/* A fresh random pair. */
int pt_curve_pair_generate(pt_curve_pair_t *out);

/* The publisher's server pair for a cluster password. */
int pt_curve_pair_from_password(const char *password, pt_curve_pair_t *out);

/* Saves (mode 0600, refusing to overwrite) or loads <datadir>/keys/<file>.
 * load: PT_ERR_NOT_FOUND when absent, PT_ERR_CORRUPT when malformed or when
 * the public key does not belong to the secret key. */
int pt_curve_pair_save(const char *datadir, const char *file,
		       const pt_curve_pair_t *pair);
int pt_curve_pair_load(const char *datadir, const char *file,
		       pt_curve_pair_t *out);

/* Wipes the secret half. */
void pt_curve_pair_clear(pt_curve_pair_t *pair);

#endif
