/* The node's ITLFile.tlv, assembled from the store and the node's identity
 * and kept in node-local metadata.
 *
 * Inputs: the cluster record (CAPF and ITL recovery certificates, the
 * tftp_file_signature_algorithm parameter), the nodes table (each node's
 * TVS certificate and address, in node-name order) and this node's TFTP
 * key and certificate under <datadir>/keys and certs (pt_identity_load).
 * Their SHA-256 (pt_itl_inputs_digest) is stored beside the ITL; a
 * refresh rebuilds only when it changed, so the bytes and the timestamp
 * stay the same while nothing changes, and a change to the nodes table,
 * the CAPF or recovery certificate, the parameter or the node's own
 * certificate gives a new, newly stamped ITL.
 *
 * The metadata entries are the node's own (pt_txn_meta_put): they never
 * reach the changelog, so a subscriber may write them, and a snapshot
 * install leaves them alone.  Several processes (the daemon and the CLI)
 * may refresh the same store; the last writer's ITL stands and always
 * matches the inputs digest stored with it.
 */
#ifndef PT_FILES_ITL_SOURCE_H
#define PT_FILES_ITL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tlv.h"
#include "store/store.h"

/* Node-local metadata names (see store/node_meta.h). */
#define PT_META_ITL "itl"               /* ITLFile.tlv bytes */
#define PT_META_ITL_INPUTS "itl_inputs" /* SHA-256 of its inputs */

/* What a refresh found. */
typedef struct pt_itl_source_info {
	bool changed;        /* this call built and stored a new ITL */
	size_t n_records;    /* records of the stored ITL */
	size_t len;          /* its size in bytes */
	uint32_t timestamp;  /* its signing time */
	char signer[256];    /* its signer name (the TFTP certificate's
			      * subject as the header spells it; cut when
			      * longer) */
} pt_itl_source_info_t;

/* Brings the stored ITL up to date with the store and the identity under
 * datadir, in one short write transaction after the reading and signing.
 * info (may be NULL) describes the stored ITL afterwards.  Errors:
 * PT_ERR_NOT_FOUND when the store holds no cluster record yet (a
 * subscriber before its first catch-up) or the identity is missing,
 * PT_ERR_INVALID when the ITL cannot be built (an EC TFTP key, a node's
 * unusable certificate), PT_ERR_DENIED on a read-only store, store and
 * identity errors otherwise; diag (may be NULL) says why in one sentence.
 * On error the stored ITL, if any, is left as it was. */
int pt_itl_source_refresh(pt_store_t *store, const char *datadir,
			  pt_itl_source_info_t *info, pt_tlv_diag_t *diag);

/* A copy of the stored ITL; *bytes (malloc'd) is the caller's.
 * PT_ERR_NOT_FOUND when none was built yet. */
int pt_itl_source_get(pt_store_t *store, uint8_t **bytes, size_t *len);

#endif
