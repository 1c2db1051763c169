/* Keys and self-signed certificates of a node's services (pure OpenSSL 3).
 *
 * Builders for the TFTP, TVS, CAPF and ITL recovery certificates, a reader
 * that turns untrusted DER into a Pt__Certificate record, and PEM/DER
 * conversions.  No files, no globals: node/store/identity.c does the I/O.
 * OpenSSL objects handed out are owned by the caller (X509_free,
 * EVP_PKEY_free); byte buffers handed out come from malloc (free()).
 */
#ifndef PT_LIB_CERTS_H
#define PT_LIB_CERTS_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "records.pb-c.h"

#define PT_CERT_DAYS_DEFAULT 1825u
#define PT_CERT_DAYS_MAX 36500u
/* Larger DER is refused before OpenSSL sees it: a service or phone
 * certificate is a few KiB. */
#define PT_CERT_DER_MAX 65536u
#define PT_CERT_PEM_MAX (PT_CERT_DER_MAX * 2)
/* X.520 upper bound of a subject common name (and of O and OU): node names
 * longer than PT_CERT_CN_MAX minus "-tftp" (service certificates) or
 * "ITLRECOVERY_" (publisher) do not fit. */
#define PT_CERT_CN_MAX 64
#define PT_CERT_SERVICE_SUFFIX_MAX 5 /* "-tftp" */
#define PT_CERT_ITL_PREFIX_LEN 12    /* "ITLRECOVERY_" */

typedef enum pt_key_kind {
	PT_KEY_RSA2048 = 0, /* the default */
	PT_KEY_EC256 = 1,   /* NIST P-256 */
	PT_KEY_EC384 = 2,   /* NIST P-384 */
} pt_key_kind_t;

/* Options shared by the builders; a zeroed struct means the defaults. */
typedef struct pt_cert_opts {
	const char *org;      /* subject O, or NULL/"" for none */
	const char *org_unit; /* subject OU, or NULL/"" for none */
	unsigned days;        /* validity from now; 0 = PT_CERT_DAYS_DEFAULT */
} pt_cert_opts_t;

/* "rsa2048", "ec256", "ec384": the spellings the CLI accepts. */
const char *pt_certs_key_kind_name(pt_key_kind_t kind);
int pt_certs_key_kind_parse(const char *s, pt_key_kind_t *out);

/* Generates a fresh private key.  *out is the caller's. */
int pt_certs_new_key(pt_key_kind_t kind, EVP_PKEY **out);

/* Service certificate of node for service "tftp" or "tvs": subject
 * CN=<node>-<service> (+O/OU), CA:FALSE, digitalSignature+keyEncipherment,
 * serverAuth+clientAuth, SHA-256, self-signed with key (borrowed). */
int pt_certs_build_service(EVP_PKEY *key, const char *node,
			   const char *service, const pt_cert_opts_t *opts,
			   X509 **out);

/* The CAPF certificate: CN=CAPF-<8 random hex>, critical CA:TRUE
 * pathlen:0, critical keyUsage digitalSignature+keyCertSign. */
int pt_certs_build_capf(EVP_PKEY *key, const pt_cert_opts_t *opts,
			X509 **out);

/* The ITL recovery certificate: CN=ITLRECOVERY_<node>, CA:FALSE, critical
 * keyUsage digitalSignature. */
int pt_certs_build_itl_recovery(EVP_PKEY *key, const char *node,
				const pt_cert_opts_t *opts, X509 **out);

/* DER of cert into a new malloc'd buffer. */
int pt_certs_encode_der(X509 *cert, uint8_t **der, size_t *len);

/* Decodes untrusted DER: refuses more than PT_CERT_DER_MAX bytes
 * (PT_ERR_TOO_LARGE), bytes that are not one certificate
 * (PT_ERR_MALFORMED) and bytes after it (PT_ERR_TRAILING). */
int pt_certs_decode_der(const uint8_t *der, size_t len, X509 **out);

/* PEM text (NUL-terminated, malloc'd) of a certificate or a private key
 * (unencrypted PKCS#8: protect the file it goes to). */
int pt_certs_encode_pem(X509 *cert, char **pem, size_t *len);
int pt_certs_encode_key_pem(EVP_PKEY *key, char **pem, size_t *len);

/* Decodes exactly one PEM certificate or private key from text of len
 * bytes (capped at PT_CERT_PEM_MAX). */
int pt_certs_decode_pem(const char *pem, size_t len, X509 **out);
int pt_certs_decode_key_pem(const char *pem, size_t len, EVP_PKEY **out);

/* Fills a newly allocated Pt__Certificate from untrusted DER (decoded as
 * pt_certs_decode_der does): der copy, serial (lower-case hex of the
 * minimal big-endian bytes), sha256, validity as UTC seconds, issuer and
 * subject in RFC 2253 form.  Free with pt_record_free(). */
int pt_certs_parse(const uint8_t *der, size_t len, Pt__Certificate **out);
/* The same record from a certificate already in memory and its DER
 * (trusted: the caller made x from der or der from x), with no decoding:
 * what a signer uses for the certificate it just issued. */
int pt_certs_record(const X509 *x, const uint8_t *der, size_t len,
		    Pt__Certificate **out);

/* SHA-256 of bytes (a certificate's fingerprint when given its DER). */
int pt_certs_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* Copies a memory BIO's contents into a new NUL-terminated malloc'd string
 * (*len, may be NULL, excludes the NUL): how PEM text leaves OpenSSL. */
int pt_certs_bio_text(BIO *b, char **text, size_t *len);

/* Gives x a serial of 16 random bytes read as an unsigned big-endian
 * integer: positive by construction (a zero draw is repeated) and
 * unpredictable, so two certificates with one subject never share it. */
int pt_certs_set_random_serial(X509 *x);

/* One-line RFC 2253 form of cert's subject (malloc'd). */
int pt_certs_subject(X509 *cert, char **out);
/* The same form of any name ("" for an empty one; malloc'd). */
int pt_certs_name_text(const X509_NAME *name, char **out);

#endif
