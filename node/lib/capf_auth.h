/* CAPF certificate authentication (spec/capf-protocol.md §6.3-§6.5): the
 * phone proves it holds the key of its current LSC or MIC (and optionally
 * of its SUDI certificate) by signing, and the server checks the
 * signatures and that a trust certificate issued the certificate.
 *
 * Pure OpenSSL 3, no globals.  Both sides are here: the phone's signing
 * (the simulator) and the server's checks.
 *
 * Signed messages:
 *   auth_data = DEVICE_NAME (no terminator) || 00 || certificate DER
 *   sudi_data = session id as uint32 LITTLE-endian || SUDI certificate DER
 * each digested with SHA-1 (SIGNED_DATA, the SUDI's second block) and
 * SHA-512 (SHA2_SIGNED_DATA, the SUDI's third block).
 *
 * RSA: a raw PKCS#1 type-1 private-key operation over the bare digest H,
 * EM = 00 01 FF.. 00 || H in exactly k = modulus bytes.  The reference
 * compares only the trailing digest bytes (A7); we take the strict reading:
 * the whole block must be exactly 00 01 FF.. 00 || H with at least eight
 * FF bytes, or - the one variant accepted - 00 01 FF.. 00 || DigestInfo(H)
 * (the standard PKCS#1 v1.5 signature, with the NULL parameters), and the
 * signature must be exactly k bytes.  So a key must be at least 11 bytes
 * longer than what it signs: 512-bit RSA keys can make the SHA-1 signature
 * but not the SHA-512 one, and since both are required (§6.3) a phone with
 * a 512-bit LSC cannot authenticate by certificate.
 * EC: ordinary ECDSA over the digest, DER SEQUENCE { r, s }.
 *
 * Trust (§6.3, one level): the phone's certificate is accepted when the
 * first trust certificate whose subject equals its issuer and whose key
 * verifies its signature is found.  Dates, key usage, revocation and the
 * subject against DEVICE_NAME are not checked (per spec).  The certificate
 * must be signed with RSA PKCS#1 v1.5 or ECDSA and hold an RSA or EC key;
 * trust certificates whose key is neither RSA nor EC are passed over (A9:
 * the reference accepted them without verifying anything).
 *
 * SUDI (§6.5): checked only when present; a SUDI certificate whose key is
 * not RSA is skipped (accepted unchecked) as the reference does; an RSA
 * one must pass the same trust check, its third block's hash id must be
 * 3 and both signatures must verify.  Big-endian session ids fail.
 */
#ifndef PT_LIB_CAPF_AUTH_H
#define PT_LIB_CAPF_AUTH_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/capf_msg.h"

/* Longest digest (SHA-512). */
#define PT_CAPF_DIGEST_MAX 64u

/* Signing flags. */
enum {
	/* RSA only: sign DigestInfo(H), the standard PKCS#1 v1.5 form, in
	 * place of the bare digest phones use (tests of the A7 variant). */
	PT_CAPF_SIGN_DIGEST_INFO = 1u << 0,
};

/* The digest of auth_data (name: name_len bytes, no terminator) with
 * hash_id PT_CAPF_HASH_SHA1 or PT_CAPF_HASH_SHA512 (PT_ERR_INVALID
 * otherwise) into out (PT_CAPF_DIGEST_MAX bytes); *out_len its size. */
int pt_capf_auth_digest(uint8_t hash_id, const char *name, size_t name_len,
			const uint8_t *cert, size_t cert_len, uint8_t *out,
			size_t *out_len);

/* The digest of the SUDI signed data for session_id; as above. */
int pt_capf_sudi_digest(uint8_t hash_id, uint32_t session_id,
			const uint8_t *cert, size_t cert_len, uint8_t *out,
			size_t *out_len);

/* Signs a digest of hash_id with key (borrowed; RSA or EC, else
 * PT_ERR_UNSUPPORTED) as §6.4 says; *sig (malloc'd) is the caller's.
 * PT_ERR_INVALID when an RSA key is too short for the digest;
 * PT_ERR_CRYPTO when OpenSSL fails. */
int pt_capf_sign_digest(EVP_PKEY *key, uint8_t hash_id,
			const uint8_t *digest, size_t digest_len,
			unsigned flags, uint8_t **sig, size_t *sig_len);

/* Checks sig over a digest of hash_id with key (borrowed), strictly as
 * described above.  PT_OK, or PT_ERR_AUTH when it does not verify (any
 * reason: wrong length, padding, digest, key type). */
int pt_capf_verify_digest(EVP_PKEY *key, uint8_t hash_id,
			  const uint8_t *digest, size_t digest_len,
			  const uint8_t *sig, size_t sig_len);

/* A pair of signatures (SHA-1 and SHA-512), malloc'd. */
typedef struct pt_capf_sigs {
	uint8_t *sha1;
	size_t sha1_len;
	uint8_t *sha512;
	size_t sha512_len;
} pt_capf_sigs_t;

/* Frees both signatures and zeroes s (NULL allowed). */
void pt_capf_sigs_clear(pt_capf_sigs_t *s);

/* Phone side: SIGNED_DATA and SHA2_SIGNED_DATA signatures over auth_data
 * for device_name and cert (the DER the phone will send) with key, the
 * private key of cert (all borrowed).  On failure *out is zeroed.
 * Errors of pt_capf_sign_digest. */
int pt_capf_auth_sign(EVP_PKEY *key, const char *device_name,
		      const uint8_t *cert, size_t cert_len, unsigned flags,
		      pt_capf_sigs_t *out);

/* Phone side: the two SUDI_DATA signatures for session_id. */
int pt_capf_sudi_sign(EVP_PKEY *key, uint32_t session_id,
		      const uint8_t *cert, size_t cert_len, unsigned flags,
		      pt_capf_sigs_t *out);

/* The one-level trust check: PT_OK and *index (may be NULL) of the first
 * of trust[0..n) that issued cert (both borrowed), or PT_ERR_AUTH. */
int pt_capf_trust_find(X509 *cert, X509 *const *trust, size_t n,
		       size_t *index);

/* What pt_capf_auth_check found. */
typedef struct pt_capf_auth_result {
	X509 *cert;         /* the phone's certificate: the caller's */
	size_t trust_index; /* the trust certificate that issued it */
	bool sudi_present;
	bool sudi_skipped;  /* present, not RSA: accepted unchecked */
	size_t sudi_trust_index;
} pt_capf_auth_result_t;

/* Frees res->cert and zeroes res (NULL allowed). */
void pt_capf_auth_result_clear(pt_capf_auth_result_t *res);

/* Server side: checks the certificate credentials of an AUTH_RESPONSE m
 * (parsed from the phone) for session_id (the server's) against
 * trust[0..n) (borrowed): CERTIFICATE, SIGNED_DATA, SHA2_SIGNED_DATA with
 * hash id 3 and DEVICE_NAME present; the certificate one DER X.509 with
 * an RSA or EC key; both signatures; the trust check; SUDI_DATA when
 * present.  PT_OK fills *res (clear it after use); PT_ERR_AUTH with a
 * static *why (may be NULL) for any refusal; PT_ERR_NOMEM or PT_ERR_CRYPTO
 * when the check itself could not run.  On failure *res is zeroed. */
int pt_capf_auth_check(const pt_capf_msg_t *m, uint32_t session_id,
		       X509 *const *trust, size_t n,
		       pt_capf_auth_result_t *res, const char **why);

#endif
