/* The identity trust list (ITL) of one serving node (spec/tlv-files.md §1,
 * §6), built from plain inputs.
 *
 * Records, in this order:
 *   1. this node's TFTP certificate, role SAST: the signer;
 *   2. the same certificate, role TFTP;
 *   3. the cluster's CAPF certificate, role CAPF (when given);
 *   4. every node's TVS certificate, role TVS, in the order given, with
 *      the node's address as DNS name item; a node without a TVS
 *      certificate, or one repeating an earlier node's, adds nothing;
 *   5. the ITL recovery certificate, role SAST (when given): a second
 *      token that did not sign, whose key stays on the publisher.
 * The file is signed with the TFTP key (RSA; no EC signer encoding is
 * known, §7), digest SHA-1 or SHA-512, list version 1.0, file name item
 * "ITLFile.tlv".  RSA PKCS#1 v1.5 signatures are deterministic, so the
 * bytes depend only on the inputs and the timestamp.
 *
 * Pure code: no files, no globals, no logging.  Everything passed in is
 * borrowed; buffers handed out are malloc'd and the caller's.
 */
#ifndef PT_LIB_ITL_H
#define PT_LIB_ITL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tlv.h"

/* "ITLSEP" + 12 hex digits + ".tlv" and its NUL. */
#define PT_ITL_SEP_NAME_LEN 23u

/* One node's TVS certificate. */
typedef struct pt_itl_tvs {
	const char *node;        /* node name (messages only); may be NULL */
	const char *address;     /* DNS name item; NULL or "" for none */
	const uint8_t *cert_der; /* NULL or empty: the node adds no record */
	size_t cert_len;
} pt_itl_tvs_t;

/* What an ITL is made of, all borrowed. */
typedef struct pt_itl_inputs {
	X509 *tftp_cert;              /* this node's TFTP certificate */
	const uint8_t *capf_der;      /* NULL or empty: no CAPF record */
	size_t capf_len;
	const uint8_t *recovery_der;  /* NULL or empty: no recovery record */
	size_t recovery_len;
	const pt_itl_tvs_t *tvs;      /* every node, in a stable order */
	size_t n_tvs;
	pt_tlv_digest_t digest;       /* SHA-1 or SHA-512; 0 means SHA-1 */
} pt_itl_inputs_t;

/* Maps the cluster parameter tftp_file_signature_algorithm ("sha1",
 * "sha512", any case) to a digest code; PT_ERR_INVALID otherwise. */
int pt_itl_digest_parse(const char *value, pt_tlv_digest_t *out);

/* SHA-256 over everything the ITL's bytes depend on except the timestamp
 * and the signing key (which its certificate pins): digest code, TFTP,
 * CAPF and recovery certificates, and each node's address and TVS
 * certificate in order.  Equal inputs give equal digests; the framing
 * keeps distinct inputs apart. */
int pt_itl_inputs_digest(const pt_itl_inputs_t *in, uint8_t out[32]);

/* Builds and signs ITLFile.tlv (records above) with key, the private key
 * of in->tftp_cert, stamped with timestamp (Unix seconds).  *out and
 * *out_len are the caller's; *n_records (may be NULL) gets the number of
 * records.  PT_ERR_INVALID when in lacks the TFTP certificate, the key is
 * not RSA or not the certificate's, or a certificate does not decode;
 * otherwise the errors of pt_tlv_build, with diag (may be NULL) saying
 * why in one sentence. */
int pt_itl_build(const pt_itl_inputs_t *in, EVP_PKEY *key,
		 uint32_t timestamp, uint8_t **out, size_t *out_len,
		 size_t *n_records, pt_tlv_diag_t *diag);

/* "ITLSEP<MAC>.tlv" for a phone's MAC (12 hex digits, either case; the
 * name carries them upper-case) into buf (at least PT_ITL_SEP_NAME_LEN
 * bytes).  PT_ERR_INVALID for another MAC, PT_ERR_TOO_LARGE for a short
 * buffer. */
int pt_itl_sep_name(const char *mac, char *buf, size_t len);

/* ITLSEP<MAC>.tlv replaces ITLFile.tlv for one phone (§1), but no source
 * says what it holds beyond that.  The conservative reading is taken: the
 * same records as the node's ITL, and the generic file name item
 * "ITLFile.tlv" as §1 requires, so for equal inputs and timestamp the
 * bytes equal pt_itl_build's.  The MAC is checked as pt_itl_sep_name does
 * (PT_ERR_INVALID); otherwise as pt_itl_build. */
int pt_itl_build_sep(const pt_itl_inputs_t *in, EVP_PKEY *key,
		     const char *mac, uint32_t timestamp, uint8_t **out,
		     size_t *out_len, pt_tlv_diag_t *diag);

#endif
