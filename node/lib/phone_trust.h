/* What a phone does with the trust files it fetches (issue 4 item 6): its
 * installed CTL and ITL, the rules for replacing them, which file names it
 * asks for, and checking the .sgn and .enc.sgn files it receives.
 *
 * Trust lists (tlv-files.md §1, §6): with none installed, a list is
 * trusted on first use (it must validate and verify against its own signer
 * record) or, when the caller names the tokens it expects, must be signed
 * by one of them.  With one installed, a new list is accepted only when a
 * SAST certificate of the installed list signed it; the signer is matched
 * by the header's subject, issuer and serial, the signature is checked
 * with that installed certificate, and the new list's own signer record
 * must be that same certificate, byte for byte.  The CTL and the ITL each
 * follow this rule on their own.  A list's item 14 must name its kind
 * (CTLFile.tlv or ITLFile.tlv: per-phone files carry the generic name).
 *
 * Signed files (signed-files.md §1, §4): the verifying certificate is a
 * TFTP or CCM+TFTP record of the CTL, then of the ITL, with an RSA key,
 * whose issuer and serial are the header's.  How real phones choose among
 * several TFTP certificates is unknown (signed-files.md §9); the first such
 * match wins, and its subject must be the header's signer name as well.
 *
 * Every refusal fills an optional pt_phone_diag_t with one line.  Pure
 * code: no files, no sockets, no globals.  The timestamp of a new list is
 * not compared with the installed one's (no source says phones do).
 */
#ifndef PT_LIB_PHONE_TRUST_H
#define PT_LIB_PHONE_TRUST_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tlv.h"

typedef struct pt_phone_trust pt_phone_trust_t;

/* Why a file was refused: one line, ready to print. */
typedef struct pt_phone_diag {
	char text[480];
} pt_phone_diag_t;

/* A phone with no CTL and no ITL (factory state). */
int pt_phone_trust_new(pt_phone_trust_t **out);
/* Accepts NULL; nulls *pt. */
void pt_phone_trust_destroy(pt_phone_trust_t **pt);

/* Installs CTLFile.tlv (len bytes, not retained).  tokens (n_tokens SAST
 * certificates, borrowed; may be NULL when 0) are used only while the
 * phone holds no CTL with a SAST certificate: first installation, or
 * after a non-secure CTL (no records), which only a token given from
 * outside can check.  With tokens, the signer must be one of them (and,
 * in a list with records, be listed as itself).  Errors: those of
 * pt_tlv_parse/validate/verify, PT_ERR_DENIED when the trust rule refuses
 * the signer, PT_ERR_AUTH when the signature is wrong.  A refused list
 * leaves the installed one in place. */
int pt_phone_trust_put_ctl(pt_phone_trust_t *pt, const uint8_t *data,
			   size_t len, X509 *const *tokens, size_t n_tokens,
			   pt_phone_diag_t *diag);

/* The same for ITLFile.tlv (or ITLSEP<MAC>.tlv), against the installed
 * ITL's SAST certificates: its TFTP signer and its recovery certificate.
 * expected works as tokens above. */
int pt_phone_trust_put_itl(pt_phone_trust_t *pt, const uint8_t *data,
			   size_t len, X509 *const *expected,
			   size_t n_expected, pt_phone_diag_t *diag);

/* The installed lists, or NULL.  Owned by pt; valid until the next
 * successful put of the same kind or pt_phone_trust_destroy(). */
const pt_tlv_file_t *pt_phone_trust_peek_ctl(const pt_phone_trust_t *pt);
const pt_tlv_file_t *pt_phone_trust_peek_itl(const pt_phone_trust_t *pt);

/* The installed ITL's TFTP entry: the first record with the TFTP role
 * that carries a certificate with an RSA key (an EC one only authenticates
 * HTTPS).  NULL without an ITL or such a record.  Lifetime as above. */
const pt_tlv_record_t *
pt_phone_trust_peek_itl_tftp(const pt_phone_trust_t *pt);

/* Whether the phone asks for signed files: its CTL or ITL has a TFTP or
 * CCM+TFTP record carrying a certificate (tlv-files.md §1). */
bool pt_phone_trust_wants_signed(const pt_phone_trust_t *pt);

/* The name the phone requests for base (e.g. "SEP001122334455.cnf.xml"):
 * base + ".sgn" when it wants signed files, else base.  *out (malloc'd)
 * is the caller's.  PT_ERR_INVALID for an empty base. */
int pt_phone_trust_request_name(const pt_phone_trust_t *pt, const char *base,
				char **out);

/* Checks a .sgn file (data borrowed) against the CTL/ITL TFTP certificate
 * chosen as described above.  expect_name, when not NULL, must equal item
 * 14 (whether phones check it is unknown: the caller decides).  On success
 * *payload points at the payload inside data.  Errors: those of
 * pt_sgn_parse/verify, PT_ERR_NOT_FOUND when no certificate of the lists
 * can have signed it, PT_ERR_DENIED for another file name. */
int pt_phone_trust_verify_sgn(const pt_phone_trust_t *pt,
			      const uint8_t *data, size_t len,
			      const char *expect_name, const uint8_t **payload,
			      size_t *payload_len, pt_phone_diag_t *diag);

/* Opens SEP<MAC>.cnf.xml.enc.sgn: parse, verify against the same TFTP
 * certificate selection, decrypt with phone_key (the phone's RSA private
 * key, borrowed).  *plain (malloc'd, holds secrets: wipe before freeing)
 * is the caller's.  Errors as pt_phone_trust_verify_sgn, plus PT_ERR_AUTH
 * for the wrong phone key and PT_ERR_INVALID for a missing or non-RSA
 * one. */
int pt_phone_trust_open_encconfig(const pt_phone_trust_t *pt,
				  const uint8_t *data, size_t len,
				  const char *expect_name, EVP_PKEY *phone_key,
				  uint8_t **plain, size_t *plain_len,
				  pt_phone_diag_t *diag);

/* Manually keyed encryption (SIP<MAC>.cnf.enc.sgn, LD<MAC>.x): always
 * PT_ERR_UNSUPPORTED with the reason in diag, since the file layout is
 * unknown (encrypted-config.md §9).  *plain is set to NULL. */
int pt_phone_trust_open_manual(const pt_phone_trust_t *pt,
			       const uint8_t *data, size_t len,
			       const uint8_t *key, size_t key_len,
			       uint8_t **plain, size_t *plain_len,
			       pt_phone_diag_t *diag);

#endif
