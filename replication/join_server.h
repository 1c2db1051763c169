/* The publisher's half of the join handshake.
 *
 *   node -> JoinHello {node, client nonce}
 *   pub  -> JoinChallenge {server nonce, KDF salt and cost, server proof}
 *   node -> JoinProof {name, address, ports, certificates, client proof}
 *   pub  -> JoinResult {accepted or why not}
 *
 * Both proofs are HMACs under the cluster data key (lib/join_proof.h), so
 * the password never travels.  An accepted node is written to the nodes
 * table (with its CurveZMQ key, which from then on lets it stream) and its
 * TFTP and TVS certificates to the trust table, in one transaction that
 * replicates like any other.
 */
#ifndef PT_REPLICATION_JOIN_SERVER_H
#define PT_REPLICATION_JOIN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/seal.h"
#include "net/log.h"
#include "replication.pb-c.h"
#include "store/store.h"

typedef struct pt_join_server pt_join_server_t;

/* key is copied; store and log are borrowed. */
int pt_join_server_new(pt_store_t *store, const pt_data_key_t *key,
		       pt_log_t *log, pt_join_server_t **out);
void pt_join_server_destroy(pt_join_server_t **js);

/* Handles a JoinHello or JoinProof from the connection with routing id
 * (id, id_len) and CurveZMQ key client_key, and fills *reply (whose body
 * points into storage owned by js until the next call).  Returns 0 when
 * reply should be sent, negative when the message is dropped. */
int pt_join_server_handle(pt_join_server_t *js, const void *id,
			  size_t id_len, const uint8_t client_key[32],
			  const char *peer, const Pt__Envelope *msg,
			  Pt__Envelope *reply);

#endif
