/* The CTL on the publisher: its inputs read from the store, init and
 * update applied in one transaction, and its state for `ctl show`.
 *
 * The store remembers the tokens as trust entries with purpose SAST
 * (a non-secure CTL lists no certificates, so the file alone cannot say
 * which tokens it trusts).  The token keys stay in the administrator's
 * files: nothing here can re-sign the CTL on its own, so when nodes join
 * or the CAPF certificate changes the stored CTL goes stale until an
 * administrator runs `ctl update --signer TOKEN`.
 */
#ifndef PT_FILES_CTL_STORE_H
#define PT_FILES_CTL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/ctl.h"
#include "lib/tlv.h"
#include "lib/token.h"
#include "records.pb-c.h"
#include "store/store.h"

/* What the store holds about the CTL, read in one transaction.  Every
 * field is owned by the state. */
typedef struct pt_ctl_state {
	Pt__Cluster *cluster;
	Pt__Node **nodes;         /* in key (name) order */
	size_t n_nodes;
	Pt__TrustEntry **tokens;  /* trust entries with purpose SAST */
	size_t n_tokens;
	pt_tlv_file_t *file;      /* the stored CTL parsed; NULL when none */
	int parse_err;            /* PT_OK, or why the stored bytes do not
				   * parse (file is then NULL) */
	size_t signer;            /* index in tokens of the token whose
				   * certificate verifies the CTL, or
				   * SIZE_MAX */
	int verify_err;           /* PT_OK when the CTL verifies against
				   * tokens[signer] */
	pt_tlv_diag_t verify_diag;
	/* What pt_ctl_entries would list now (tokens in stored order, the
	 * nodes, CAPF; nonsecure from the cluster's mode). */
	pt_ctl_inputs_t inputs;
	pt_ctl_cert_t *input_tokens;
	pt_ctl_node_t *input_nodes;
	pt_ctl_gap_t *gaps;       /* staleness of the stored CTL */
	size_t n_gaps;
} pt_ctl_state_t;

/* Reads the state in txn (read or write).  PT_ERR_NOT_FOUND when there
 * is no cluster record (not initialised), PT_ERR_CORRUPT for records
 * that do not decode; a stored CTL that does not parse or verify is no
 * error here (parse_err, verify_err say so).  *out is the caller's. */
int pt_ctl_state_load(pt_txn_t *txn, pt_ctl_state_t **out);

/* Accepts NULL; nulls *s. */
void pt_ctl_state_destroy(pt_ctl_state_t **s);

/* PT_OK when this node's metadata says it is the publisher.  Otherwise
 * PT_ERR_DENIED with a one-line reason in why (why_len bytes, may be
 * NULL). */
int pt_ctl_store_check_publisher(pt_txn_t *txn, char *why, size_t why_len);

/* A change of the CTL.  Tokens are borrowed.  For init: tokens holds
 * the CTL's two tokens, the first signs.  For update: signer signs, add
 * are new tokens, remove names certificates by SHA-256 of their DER. */
typedef struct pt_ctl_request {
	bool init;
	const pt_token_t *const *tokens; /* init */
	size_t n_tokens;
	const pt_token_t *signer;        /* update */
	const pt_token_t *const *add;
	size_t n_add;
	const pt_ctl_id_t *remove;
	size_t n_remove;
	/* PT_CTL_MODE_KEEP (update: the cluster's current mode; init:
	 * mixed) or a Pt__ClusterSecurityMode value. */
	int mode;
	uint32_t timestamp;              /* item 15; 0 = now */
} pt_ctl_request_t;

#define PT_CTL_MODE_KEEP (-1)

typedef struct pt_ctl_result {
	uint64_t seq;                 /* changelog sequence of the write */
	size_t ctl_len;
	size_t n_records;
	Pt__ClusterSecurityMode mode;
	pt_ctl_token_set_t tokens;    /* the new CTL's tokens, signer first */
} pt_ctl_result_t;

/* Checks everything, builds and signs the new CTL, and writes in one
 * transaction: Cluster.ctl, the cluster's security mode and updated
 * time, the tokens as SAST trust entries (new entries with source "ctl";
 * an existing entry gains the purpose) and the SAST purpose taken from
 * tokens dropped (an entry left without purposes is deleted).  Refusals
 * write nothing and return PT_ERR_DENIED (not the publisher, the token
 * rules of pt_ctl_rules_init/update, init over an existing CTL, update
 * without one, a stored CTL that does not verify against the token that
 * signed it), PT_ERR_NOT_FOUND (no cluster record) or PT_ERR_INVALID
 * (the CTL cannot be built from these inputs), each with a one-line
 * reason in why.  Other negative values are store or crypto failures. */
int pt_ctl_store_apply(pt_store_t *store, const pt_ctl_request_t *req,
		       pt_ctl_result_t *res, char *why, size_t why_len);

#endif
