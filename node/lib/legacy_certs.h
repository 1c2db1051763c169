/* Legacy CAPF 1.0 certificates (../shared/spec/legacy-capf.md): the CAPF
 * certificates of a legacy directory (every PEM certificate of each "*.0"
 * file, the DER CAPF.cer), and the check whether a phone's LSC was issued
 * by one of them.  Pure: the caller reads the files and passes bytes.
 *
 * Speed: OpenSSL 3's d2i_X509 decodes the public key through the provider
 * decoders, about 120 us per small certificate here, which alone would
 * take over a minute for 600,000 LSCs.  LSCs are therefore never handed to
 * d2i_X509: pt_legacy_certs_view() walks the DER with pt_rbuf (strictly:
 * definite minimal lengths, the tags of RFC 5280's Certificate, well-formed
 * times and names) and the issuer check verifies the signature over the
 * TBS bytes with the CA key, decoded once when the CA is added.  Measured
 * on this project's build machine (CPU time per LSC, 1024-bit RSA CA,
 * SHA-256): walk 0.5-1 us, issuer check about 9 us (the RSA operation
 * itself is about 6), pt_legacy_certs_record about 10 us, against 120-170
 * us for pt_certs_parse.  Checks may run on several threads at once.
 */
#ifndef PT_LIB_LEGACY_CERTS_H
#define PT_LIB_LEGACY_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.pb-c.h"

#define PT_LEGACY_CERTS_FILE_MAX (1024u * 1024u) /* bytes of a *.0 file */
#define PT_LEGACY_CERTS_PER_FILE_MAX 64u         /* certificates per file */
#define PT_LEGACY_ISSUERS_MAX 1024u              /* CAs in one set */

/* One certificate found in a file. */
typedef struct pt_legacy_cert {
	int err;           /* PT_OK, or why this block is unusable */
	const char *why;   /* static sentence when err != PT_OK */
	uint32_t line;     /* PEM: the BEGIN line (1-based); 0 for DER */
	uint8_t *der;      /* NULL when err != PT_OK */
	size_t der_len;
	uint8_t sha1[20];  /* of der */
	uint8_t sha256[32];
	char *subject;     /* one-line RFC 2253 form; NULL when err */
	bool is_ca;        /* basicConstraints CA:TRUE */
} pt_legacy_cert_t;

typedef struct pt_legacy_certs {
	pt_legacy_cert_t *certs; /* in file order */
	size_t n;
} pt_legacy_certs_t;

/* Every "-----BEGIN CERTIFICATE-----" block of a PEM file; text outside
 * blocks is ignored.  A block that does not decode is listed with err set
 * (the others still count).  On PT_OK *out is the caller's (n may be 0:
 * no block).  PT_ERR_TOO_LARGE beyond PT_LEGACY_CERTS_FILE_MAX or
 * PT_LEGACY_CERTS_PER_FILE_MAX blocks; PT_ERR_NOMEM. */
int pt_legacy_certs_parse_pem(const void *data, size_t len,
			      pt_legacy_certs_t **out);
/* CAPF.cer: exactly one DER certificate (no trailing bytes).  On PT_OK
 * *out holds one entry, which may carry an err. */
int pt_legacy_certs_parse_der(const void *data, size_t len,
			      pt_legacy_certs_t **out);
void pt_legacy_certs_destroy(pt_legacy_certs_t **certs);

/* Strict base64 (RFC 4648 alphabet, no blanks or line breaks, length a
 * multiple of 4, '=' padding only at the end, zero unused bits) of len
 * characters into out (cap bytes).  PT_ERR_MALFORMED, PT_ERR_TOO_LARGE
 * when the result exceeds cap. */
int pt_legacy_certs_decode_base64(const char *s, size_t len, uint8_t *out,
				  size_t cap, size_t *out_len);

/* The parts of a DER certificate, as views into the caller's bytes. */
typedef struct pt_legacy_x509_view {
	const uint8_t *tbs;      /* TBSCertificate, tag and length included */
	size_t tbs_len;
	const uint8_t *serial;   /* INTEGER contents */
	size_t serial_len;
	const uint8_t *issuer;   /* Name, tag and length included */
	size_t issuer_len;
	const uint8_t *subject;  /* Name, tag and length included */
	size_t subject_len;
	int64_t not_before;      /* UTC seconds */
	int64_t not_after;
	const uint8_t *spki;     /* SubjectPublicKeyInfo, whole */
	size_t spki_len;
	const uint8_t *sig_alg;  /* outer AlgorithmIdentifier, whole */
	size_t sig_alg_len;
	const uint8_t *sig;      /* signature BIT STRING contents after the
	                          * unused-bits byte */
	size_t sig_len;
} pt_legacy_x509_view_t;

/* Walks untrusted DER as an X.509 certificate without decoding its key
 * (see above).  PT_ERR_MALFORMED (*why says what), PT_ERR_TRAILING for
 * bytes after it, PT_ERR_TOO_LARGE beyond PT_CERT_DER_MAX.  why may be
 * NULL. */
int pt_legacy_certs_view(const uint8_t *der, size_t len,
			 pt_legacy_x509_view_t *out, const char **why);

/* Whether the issuer and subject names of a view decode as OpenSSL's
 * X509_NAME (string types and contents the DER walk leaves open), so that
 * pt_legacy_certs_record() will succeed.  PT_ERR_MALFORMED otherwise. */
int pt_legacy_certs_check_names(const pt_legacy_x509_view_t *v);

/* The Pt__Certificate record pt_certs_parse() would build from der (same
 * field values), without decoding the key: the fast path for LSCs.
 * Free with pt_record_free().  PT_ERR_MALFORMED, PT_ERR_NOMEM. */
int pt_legacy_certs_record(const uint8_t *der, size_t len,
			   Pt__Certificate **out);

/* A set of CAPF certificates that may have issued LSCs. */
typedef struct pt_legacy_issuers pt_legacy_issuers_t;

int pt_legacy_issuers_new(pt_legacy_issuers_t **out);
void pt_legacy_issuers_destroy(pt_legacy_issuers_t **set);

/* Adds a CA certificate (DER, copied; its key is decoded now, once).  A
 * certificate already in the set (same SHA-256) is not added twice.
 * *index (may be NULL) gets its position.  PT_ERR_MALFORMED when it does
 * not decode or has no usable key; PT_ERR_TOO_LARGE past
 * PT_LEGACY_ISSUERS_MAX. */
int pt_legacy_issuers_put(pt_legacy_issuers_t *set, const uint8_t *der,
			  size_t len, size_t *index);
size_t pt_legacy_issuers_count(const pt_legacy_issuers_t *set);
/* SHA-1 of the index-th CA's DER; NULL when out of range. */
const uint8_t *pt_legacy_issuers_sha1(const pt_legacy_issuers_t *set,
				      size_t index);

/* Whether the LSC (DER) was issued by a CA of the set: its issuer name
 * equals the CA's subject AND its signature verifies with the CA's key.
 * PT_OK with *index (may be NULL) the CA's position; PT_ERR_NOT_FOUND
 * when no CA qualifies; PT_ERR_MALFORMED when lsc is not a certificate.
 * Safe to call from several threads at once on one set. */
int pt_legacy_issuers_check(const pt_legacy_issuers_t *set,
			    const uint8_t *lsc, size_t len, size_t *index);

#endif
