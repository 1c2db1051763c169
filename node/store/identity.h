/* A node's identity: the private keys and self-signed certificates of its
 * services, kept beside the store.
 *
 *   <datadir>/keys/tftp.key, tvs.key         (PEM, 0600; keys dir 0700)
 *   <datadir>/keys/capf.key, itlrecovery.key (publisher only)
 *   <datadir>/certs/tftp.pem, tvs.pem, capf.pem, itlrecovery.pem (0644)
 *
 * Private keys never enter the store and never leave the node; only the
 * certificates travel (node record, trust entries).
 */
#ifndef PT_STORE_IDENTITY_H
#define PT_STORE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/certs.h"

typedef enum pt_identity_slot {
	PT_IDENTITY_TFTP = 0,
	PT_IDENTITY_TVS = 1,
	PT_IDENTITY_CAPF = 2,         /* publisher only */
	PT_IDENTITY_ITL_RECOVERY = 3, /* publisher only */
	PT_IDENTITY_COUNT_ = 4,
} pt_identity_slot_t;

typedef struct pt_identity pt_identity_t;

/* File stem of a slot: "tftp", "tvs", "capf", "itlrecovery" (static). */
const char *pt_identity_slot_name(pt_identity_slot_t slot);

/* Generates keys and certificates in memory (nothing is written): TFTP and
 * TVS for every node, CAPF and ITL recovery too when publisher is true.
 * kind applies to the TVS and CAPF keys; the TFTP and ITL recovery keys
 * are always RSA-2048, the only signers phones accept for trust lists and
 * signed files.  node must be a valid node name; opts may be NULL.  Free *out with
 * pt_identity_destroy(). */
int pt_identity_new(const char *node, bool publisher, pt_key_kind_t kind,
		    const pt_cert_opts_t *opts, pt_identity_t **out);
void pt_identity_destroy(pt_identity_t **id);

/* Writes id under datadir, creating keys/ (0700) and certs/ as needed.
 * Refuses with PT_ERR_EXISTS, writing nothing, when any file it would write
 * exists already: an identity is never overwritten.  On failure removes
 * what it wrote. */
int pt_identity_save(const char *datadir, const pt_identity_t *id);

/* Loads the identity under datadir: TFTP and TVS must exist
 * (PT_ERR_NOT_FOUND otherwise); CAPF and ITL recovery are loaded when
 * present.  A key without its certificate, or a certificate that does not
 * belong to its key, is PT_ERR_CORRUPT. */
int pt_identity_load(const char *datadir, pt_identity_t **out);

/* PT_OK when no identity file exists under datadir; PT_ERR_EXISTS with the
 * first path found copied into found (may be NULL) otherwise. */
int pt_identity_check_absent(const char *datadir, char *found,
			     size_t found_len);

/* Deletes every identity file under datadir and the keys/ and certs/
 * directories if that leaves them empty.  Meant to undo a failed init:
 * the keys are gone for good. */
int pt_identity_remove(const char *datadir);

/* Borrowed from id (valid until pt_identity_destroy); NULL for a slot the
 * identity does not hold. */
EVP_PKEY *pt_identity_key(const pt_identity_t *id, pt_identity_slot_t slot);
X509 *pt_identity_cert(const pt_identity_t *id, pt_identity_slot_t slot);

#endif
