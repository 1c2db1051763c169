/* Locally significant certificates (spec/capf-protocol.md §9) and the
 * requests CAPF hands to an offline CA.  Pure OpenSSL 3: no files, no
 * globals; the caller passes the time.
 *
 * The LSC: X.509 v3, 16 random serial bytes read as a positive integer,
 * signed with SHA-256 by the issuing key (sha256WithRSAEncryption or
 * ecdsa-with-SHA256), issuer = the issuing certificate's SUBJECT (the
 * reading of ambiguity A8 that also holds for an intermediate issuer),
 * subject CN=<name> followed by every O, OU, L, ST and C attribute of the
 * issuer's subject in their order there, validity now .. now + days, the
 * phone's public key, and exactly these extensions in this order:
 * basicConstraints critical CA:FALSE; keyUsage critical digitalSignature,
 * keyEncipherment; extendedKeyUsage serverAuth, clientAuth,
 * ipsecEndSystem; subjectAltName URI:<name>.
 *
 * Offline CA requests.  A PKCS#10 request must be signed by the private
 * key of the public key it carries, and the phone's private key never
 * leaves the phone, so CAPF cannot make a request for the phone's key
 * that `openssl ca` (or `openssl x509 -req`) would verify: both check the
 * request's signature against the key inside it and offer no way round
 * it, and the protocol's CSR-signing commands (22/23) have no known
 * layout (A3).  Our request is therefore an RA-style one:
 *   - subject: the LSC's subject (CN=<name>, then the CAPF subject's
 *     O/OU/L/ST/C);
 *   - subjectPublicKeyInfo: CAPF's own public key, so the request verifies
 *     with standard tools and proves it came from this cluster's CAPF;
 *   - attribute PT_CAPF_LSC_OID_PHONE_KEY (an OCTET STRING holding the
 *     DER SubjectPublicKeyInfo of the phone's key): the key to certify;
 *   - attribute extensionRequest: the LSC's extensions above;
 *   - signed with SHA-256 by the CAPF key.
 * The outside CA certifies the phone's key with
 *   openssl x509 -req -in NAME.csr -CA ca.pem -CAkey ca.key
 *     -force_pubkey NAME.pub.pem -copy_extensions copy -days N -out NAME.pem
 * where NAME.pub.pem (exported beside the request) holds the same key as
 * the attribute.  A certificate that comes back is accepted only for the
 * phone key the request named (pt_capf_lsc_check_signed): a CA that signs
 * the request's own key (CAPF's) by mistake is refused at import.
 *
 * OpenSSL objects handed out are the caller's (X509_free, X509_REQ_free,
 * EVP_PKEY_free); byte buffers come from malloc.
 */
#ifndef PT_LIB_CAPF_LSC_H
#define PT_LIB_CAPF_LSC_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* Validity bounds of an LSC (spec §7: 1 to 3560 days). */
#define PT_CAPF_LSC_DAYS_MIN 1u
#define PT_CAPF_LSC_DAYS_MAX 3560u
/* Longest name (device name or CTI instance ID): the X.520 CN bound. */
#define PT_CAPF_LSC_NAME_MAX 64u
/* Phone keys accepted: RSA of 512 to 4096 bits (what KEY_SIZE can ask
 * for), EC on P-256, P-384, P-521 (what CURVE can ask for). */
#define PT_CAPF_LSC_RSA_MIN_BITS 512
#define PT_CAPF_LSC_RSA_MAX_BITS 4096
/* Larger PUBLIC_KEY values are refused before OpenSSL sees them. */
#define PT_CAPF_LSC_KEY_DER_MAX 2048u
#define PT_CAPF_LSC_CSR_DER_MAX 16384u
/* 2.25.<UUID>: an OID minted from a random UUID (ITU-T X.667), so it
 * needs no registered arc; it names the phone-key attribute of our
 * offline-CA requests. */
#define PT_CAPF_LSC_OID_PHONE_KEY "2.25.88638633659119996419679520036182083245"

/* Decodes the phone's PUBLIC_KEY element: DER SubjectPublicKeyInfo, or a
 * bare PKCS#1 RSAPublicKey (spec §4.1, tag 9).  Refuses trailing bytes
 * (PT_ERR_TRAILING), undecodable input (PT_ERR_MALFORMED), more than
 * PT_CAPF_LSC_KEY_DER_MAX bytes (PT_ERR_TOO_LARGE) and keys outside the
 * accepted types and sizes (PT_ERR_UNSUPPORTED).  *out is the caller's. */
int pt_capf_lsc_decode_key(const uint8_t *der, size_t len, EVP_PKEY **out);

/* pt_capf_public_key_decode (lib/capf_msg.h) with its contract, for the
 * server's hot path: SubjectPublicKeyInfo for RSA or P-256/384/521 and
 * bare RSAPublicKey in DER are imported from their parameters without
 * OpenSSL's decoder (an EC point keeps its compressed or uncompressed
 * form); any other spelling goes to pt_capf_public_key_decode. */
int pt_capf_lsc_decode_public(const uint8_t *der, size_t len, EVP_PKEY **out);

/* Describes key for logs and checks: *is_ec, and *bits (RSA modulus bits,
 * or the curve's size: 256, 384, 521).  PT_ERR_UNSUPPORTED for other
 * key types. */
int pt_capf_lsc_key_info(const EVP_PKEY *key, int *is_ec, unsigned *bits);

/* DER SubjectPublicKeyInfo of key (malloc'd; built from the key's
 * parameters, an EC point in the form the phone sent it), and the
 * SHA-256 of it: the identity of a phone key whatever encoding the phone
 * sent. */
int pt_capf_lsc_key_spki(const EVP_PKEY *key, uint8_t **der, size_t *len);
int pt_capf_lsc_key_sha256(const EVP_PKEY *key, uint8_t out[32]);

typedef struct pt_capf_lsc_req {
	const char *name;      /* device name or instance ID: CN and SAN URI,
				* 1-64 of A-Z a-z 0-9 . _ - */
	const EVP_PKEY *key;   /* the phone's public key (borrowed) */
	int64_t now;           /* notBefore, UTC seconds */
	unsigned days;         /* PT_CAPF_LSC_DAYS_MIN..MAX */
} pt_capf_lsc_req_t;

/* Issues the LSC for req, signed by issuer_key (RSA or EC) whose
 * certificate is issuer_cert (both borrowed; the key must belong to the
 * certificate).  PT_ERR_INVALID for a bad name, days or a key that does
 * not match issuer_cert; PT_ERR_CRYPTO when OpenSSL fails.  *out is ready
 * to encode and to read field by field, but its public key is set from
 * req->key's parameters and never decoded: X509_get0_pubkey(*out) is
 * NULL (req->key is that key; a decoded copy of the DER has it). */
int pt_capf_lsc_build(EVP_PKEY *issuer_key, X509 *issuer_cert,
		      const pt_capf_lsc_req_t *req, X509 **out);

/* Builds the offline-CA request described above for req->name and
 * req->key (req->now and req->days are not used), signed by capf_key
 * whose certificate is capf_cert (borrowed). */
int pt_capf_lsc_build_csr(EVP_PKEY *capf_key, X509 *capf_cert,
			  const pt_capf_lsc_req_t *req, X509_REQ **out);

/* DER and PEM of a request (malloc'd; PEM NUL-terminated). */
int pt_capf_lsc_csr_der(X509_REQ *req, uint8_t **der, size_t *len);
int pt_capf_lsc_csr_pem(X509_REQ *req, char **pem, size_t *len);

/* Decodes one of our requests from DER (PT_ERR_MALFORMED,
 * PT_ERR_TRAILING, PT_ERR_TOO_LARGE above PT_CAPF_LSC_CSR_DER_MAX) and hands out the phone key it names: *out_key (may be
 * NULL) is the caller's.  PT_ERR_NOT_FOUND when the request has no phone
 * key attribute; PT_ERR_AUTH when its signature does not verify. */
int pt_capf_lsc_csr_decode(const uint8_t *der, size_t len, X509_REQ **out,
			   EVP_PKEY **out_key);

/* PEM text of a public key ("-----BEGIN PUBLIC KEY-----", malloc'd and
 * NUL-terminated): the file handed to `openssl x509 -force_pubkey`. */
int pt_capf_lsc_key_pem(const EVP_PKEY *key, char **pem, size_t *len);

/* Checks a certificate an offline CA returned for name and the phone key
 * of the request: the first CN of the subject must equal name and the
 * public key must equal key.  PT_ERR_INVALID with a static reason in *why
 * (may be NULL) otherwise. */
int pt_capf_lsc_check_signed(X509 *cert, const char *name,
			     const EVP_PKEY *key, const char **why);

#endif
