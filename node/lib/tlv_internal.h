/* Shared by tlv.c, tlv_sign.c and tlv_build.c only; callers use tlv.h. */
#ifndef PT_LIB_TLV_INTERNAL_H
#define PT_LIB_TLV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tlv.h"

/* Fills d (may be NULL) with where and why, and returns err.  rec: 0 the
 * header, n > 0 record n, -1 the file as a whole; tag -1 for none;
 * offset SIZE_MAX for none.  With rec -1 and no offset the text is the
 * message alone (the builder's refusals). */
int pt_tlv_fail(pt_tlv_diag_t *d, int err, size_t offset, int rec, int tag,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Record item 7 of a certificate: DER RSAPublicKey for RSA, the
 * uncompressed point for EC; PT_ERR_INVALID for any other key. */
int pt_tlv_cert_public_key(const X509 *cert, uint8_t **out, size_t *len);

/* Record item 8 of a certificate: its signatureValue bits (borrowed). */
void pt_tlv_cert_signature(const X509 *cert, const uint8_t **sig,
			   size_t *len);

/* True when bytes equal the certificate's serial as the spec writes it,
 * or with one 00 byte before a first byte with its top bit set (the DER
 * form, which servers may write: spec §11). */
bool pt_tlv_serial_matches(const X509 *cert, const uint8_t *bytes,
			   size_t len);

/* RSASSA-PKCS1-v1_5 over a then b with digest; sig is exactly siglen
 * bytes (the key's modulus size). */
int pt_tlv_sign_parts(EVP_PKEY *key, pt_tlv_digest_t digest,
		      const uint8_t *a, size_t alen, const uint8_t *b,
		      size_t blen, uint8_t *sig, size_t siglen);

/* The EVP digest of a supported digest code, or NULL. */
const EVP_MD *pt_tlv_digest_md(unsigned code);

/* Modulus size code (item 11) of an RSA key, or -1 when its size has
 * none. */
int pt_tlv_modulus_code(EVP_PKEY *key);

/* Lower-case description of a tag for messages ("issuer name"). */
const char *pt_tlv_tag_text(int rec, unsigned tag);

#endif
