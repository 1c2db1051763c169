/* The cluster's certificate trust list (CTLFile.tlv): what it lists, the
 * rules for changing its tokens, and whether it has fallen behind the
 * cluster (spec/tlv-files.md §1, §6).
 *
 * A CTL in mixed mode lists the SAST tokens (role SAST, the signer
 * first), a CCM+TFTP entry for every node (its TFTP certificate, DNS name
 * item = the node's address) and the CAPF entry.  A non-secure CTL lists
 * nothing at all, yet is still signed by a token.  Tokens are compared by
 * the SHA-256 of their certificate's DER.
 *
 * Pure code: no store, no files.  Everything passed in is borrowed.
 */
#ifndef PT_LIB_CTL_H
#define PT_LIB_CTL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tlv.h"
#include "records.pb-c.h"

/* A list holds at most two SAST certificates and must keep two. */
#define PT_CTL_TOKENS 2u

/* A certificate by its DER (borrowed). */
typedef struct pt_ctl_cert {
	const uint8_t *der;
	size_t len;
} pt_ctl_cert_t;

/* One node as the CTL lists it. */
typedef struct pt_ctl_node {
	const char *name;     /* for messages */
	const char *address;  /* DNS name item; NULL or "" for none */
	const uint8_t *tftp_der; /* NULL or len 0: the node is skipped */
	size_t tftp_len;
} pt_ctl_node_t;

typedef struct pt_ctl_inputs {
	const pt_ctl_cert_t *tokens; /* signer first */
	size_t n_tokens;
	const pt_ctl_node_t *nodes;
	size_t n_nodes;
	const uint8_t *capf_der; /* NULL or len 0: no CAPF entry */
	size_t capf_len;
	bool nonsecure;          /* true: no entries at all */
} pt_ctl_inputs_t;

/* The entries of the CTL for in, in file order: tokens, nodes, CAPF; none
 * when in->nonsecure.  *out (malloc'd array, NULL when *n is 0) is the
 * caller's; its pointers are borrowed from in.  When node_of is not NULL,
 * *node_of (malloc'd, *n items) gives each entry's index in in->nodes, or
 * SIZE_MAX for tokens and CAPF. */
int pt_ctl_entries(const pt_ctl_inputs_t *in, pt_tlv_entry_t **out,
		   size_t *n, size_t **node_of);

/* The digest the cluster's tftp_file_signature_algorithm parameter names
 * (cluster may be NULL: the default, SHA-1). */
pt_tlv_digest_t pt_ctl_digest(const Pt__Cluster *cluster);

/* Builds and signs CTLFile.tlv for in with the token key and cert
 * (borrowed), which must be in->tokens[0]: the first token signs, also
 * in non-secure mode where it is not listed.  timestamp is item 15.
 * *out (malloc'd) is the caller's.  PT_ERR_INVALID (diag says why) when
 * the signer is not tokens[0] or in has not exactly PT_CTL_TOKENS
 * tokens, and pt_tlv_build's errors. */
int pt_ctl_build(const pt_ctl_inputs_t *in, EVP_PKEY *key, X509 *cert,
		 pt_tlv_digest_t digest, uint32_t timestamp, uint8_t **out,
		 size_t *out_len, pt_tlv_diag_t *diag);

/* ---- token rules ---- */

typedef struct pt_ctl_id {
	uint8_t sha256[32]; /* of the certificate's DER */
} pt_ctl_id_t;

/* A token set, signer first. */
typedef struct pt_ctl_token_set {
	size_t n;
	pt_ctl_id_t ids[PT_CTL_TOKENS];
} pt_ctl_token_set_t;

/* The request of `ctl init`: exactly two different tokens; the first
 * signs.  On success *out is that set.  PT_ERR_DENIED with a one-line
 * reason in why (why_len bytes, may be NULL) otherwise. */
int pt_ctl_rules_init(const pt_ctl_id_t *tokens, size_t n,
		      pt_ctl_token_set_t *out, char *why, size_t why_len);

typedef struct pt_ctl_change {
	const pt_ctl_id_t *current; /* the tokens of the current CTL */
	size_t n_current;
	/* Certificates of the CCM+TFTP, TFTP and CAPF entries: named for
	 * removal, they get their own refusal. */
	const pt_ctl_id_t *fixed;
	size_t n_fixed;
	pt_ctl_id_t signer;
	const pt_ctl_id_t *add;
	size_t n_add;
	const pt_ctl_id_t *remove;
	size_t n_remove;
} pt_ctl_change_t;

/* The request of `ctl update`.  Refuses (PT_ERR_DENIED, reason in why):
 * a signer that is not a current token; removing the signer; removing a
 * CCM+TFTP, TFTP or CAPF entry's certificate or anything else that is not
 * a current token; adding a token already present; naming a token twice;
 * a result of fewer than two tokens ("two tokens must always remain") or
 * more than two (a list holds at most two SAST certificates: add and
 * remove in one update).  On success *out is the new set: the signer,
 * then the other current tokens kept, then the added ones.  No change at
 * all is allowed (a re-signing). */
int pt_ctl_rules_update(const pt_ctl_change_t *c, pt_ctl_token_set_t *out,
			char *why, size_t why_len);

/* ---- staleness ---- */

typedef enum pt_ctl_gap_kind {
	PT_CTL_GAP_MISSING = 1, /* an entry the cluster needs is not listed */
	PT_CTL_GAP_EXTRA = 2,   /* a listed entry the cluster no longer has */
	PT_CTL_GAP_ADDRESS = 3, /* a node's entry with another DNS name */
} pt_ctl_gap_kind_t;

typedef struct pt_ctl_gap {
	pt_ctl_gap_kind_t kind;
	uint16_t role;
	size_t node;   /* index in in->nodes, or SIZE_MAX */
	size_t record; /* index in f->records (EXTRA, ADDRESS), or SIZE_MAX */
	uint8_t sha256[32]; /* of the certificate concerned */
} pt_ctl_gap_t;

/* Compares a parsed CTL with what pt_ctl_entries(in) would list now
 * (records by role and certificate; node entries also by DNS name).  A
 * record without a certificate counts as extra.  *gaps (malloc'd, NULL
 * when *n_gaps is 0) is the caller's; no gap means up to date. */
int pt_ctl_stale(const pt_tlv_file_t *f, const pt_ctl_inputs_t *in,
		 pt_ctl_gap_t **gaps, size_t *n_gaps);

#endif
