/* Encrypted phone configuration (SEP<MAC>.cnf.xml.enc.sgn), as in
 * spec/encrypted-config.md.
 *
 * The server side encrypts the full configuration with a fresh AES-128
 * key in CBC mode (pad bytes 0x0D, counted in the header), wraps the key
 * with the RSA public key of the phone's own certificate (PKCS#1 v1.5
 * encryption) and signs the result with a version 2.0 signed header
 * (sgn.h).  The phone side checks the header, verifies the signature,
 * unwraps the key with the phone's private key and decrypts.
 *
 * No I/O: bytes and keys in, bytes out.  OpenSSL objects passed in are
 * borrowed; buffers handed out come from malloc and are the caller's
 * (plaintext configurations hold secrets: wipe them before freeing).
 *
 * Not built here: the manually keyed encryption of older SIP phones
 * (spec §9).  Its file layout is unknown, so there is no builder or
 * reader for it; callers treat such phones as having encryption off.
 */
#ifndef PT_LIB_ENCCONFIG_H
#define PT_LIB_ENCCONFIG_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/sgn.h"

#define PT_ENCCONFIG_KEY_LEN 16 /* AES-128 */
#define PT_ENCCONFIG_IV_LEN 16
/* Full phone configurations are tens of KiB; larger input is refused. */
#define PT_ENCCONFIG_CONFIG_MAX (4u * 1024u * 1024u)
/* Phone RSA keys from 512 to 4096 bits can be wrapped for. */
#define PT_ENCCONFIG_WRAPPED_MIN 64u
#define PT_ENCCONFIG_WRAPPED_MAX 512u
/* <certHash>: MD5 as 32 lower-case hex digits. */
#define PT_ENCCONFIG_CERT_HASH_LEN 32

typedef struct pt_encconfig_opts {
	/* Items 8 and 26: PT_SGN_SHA1 (also when 0) or PT_SGN_SHA512. */
	pt_sgn_digest_t digest;
	/* Item 14: the served name, "SEP<MAC>.cnf.xml.enc.sgn". */
	const char *file_name;
	uint32_t timestamp; /* item 15; 0 = the current time */
	/* TEST ONLY (known-answer vectors): a fixed AES key and IV of 16
	 * bytes each.  NULL (always, outside tests) draws fresh random ones
	 * on every build, as phones expect. */
	const uint8_t *test_key;
	const uint8_t *test_iv;
} pt_encconfig_opts_t;

/* A checked .enc.sgn file: views into the caller's bytes. */
typedef struct pt_encconfig_file {
	pt_sgn_file_t sgn;     /* the signed header; its payload is: */
	const uint8_t *ciphertext;
	size_t ciphertext_len; /* a non-zero multiple of 16 */
	const uint8_t *iv;     /* item 19, 16 bytes */
	unsigned pad_count;    /* item 20, 1 to 16 */
	const uint8_t *wrapped_key; /* item 25 */
	size_t wrapped_len;
	unsigned key_bits; /* item 23 as written */
	unsigned key_alg;  /* item 24 as written */
	pt_sgn_digest_t content_digest; /* item 26 */
	const uint8_t *digest;          /* item 27 */
	size_t digest_len;              /* 20 or 64 */
} pt_encconfig_file_t;

/* Refuses (PT_ERR_INVALID) configuration bytes that are not what the spec
 * allows inside an encrypted file: empty, over PT_ENCCONFIG_CONFIG_MAX
 * (PT_ERR_TOO_LARGE), holding a NUL byte, or whose root element is not
 * <device> (an optional BOM, XML declaration, comments and processing
 * instructions may come first; a DOCTYPE may not). */
int pt_encconfig_check_config(const uint8_t *config, size_t len);

/* Builds SEP<MAC>.cnf.xml.enc.sgn from the full configuration (used as
 * is, checked with pt_encconfig_check_config), for the phone whose
 * certificate (LSC or MIC) is phone_cert, signed by the TFTP key and
 * certificate as pt_sgn_build() does.  A phone certificate without an RSA
 * key is PT_ERR_INVALID: no key wrapping for EC keys is known.  A new AES
 * key and IV are drawn on every call unless opts sets the test-only
 * ones.  *out (malloc'd, *out_len bytes) is the caller's. */
int pt_encconfig_build(const uint8_t *config, size_t len, X509 *phone_cert,
		       EVP_PKEY *tftp_key, X509 *tftp_cert,
		       const pt_encconfig_opts_t *opts, uint8_t **out,
		       size_t *out_len);

/* Decodes and checks an .enc.sgn file (data borrowed, must outlive *out):
 * the signed-header rules at version 2.0, then items 16 to 27 all present
 * with their lengths, pad count 1 to 16, content digest 1 or 3 with a
 * digest of 20 or 64 bytes to match, wrapped key of 64 to 512 bytes, and
 * a ciphertext that is a non-zero multiple of 16.  Errors as
 * pt_sgn_decode() and pt_sgn_check(), with *diag naming the offset. */
int pt_encconfig_parse(const uint8_t *data, size_t len,
		       pt_encconfig_file_t *out, pt_sgn_diag_t *diag);

/* Signer identity and signature against the TFTP certificate, as
 * pt_sgn_verify(). */
int pt_encconfig_verify(const pt_encconfig_file_t *f, X509 *tftp_cert,
			pt_sgn_diag_t *diag);

/* Phone side: unwraps the AES key with phone_key (the phone's RSA private
 * key), decrypts, requires the pad count's last bytes to be 0x0D and the
 * content digest to match.  Does not verify the signature (call
 * pt_encconfig_verify first).  PT_ERR_AUTH for a wrong key or any
 * mismatch, PT_ERR_INVALID for a non-RSA key.  *plain (malloc'd) is the
 * caller's. */
int pt_encconfig_decrypt(const pt_encconfig_file_t *f, EVP_PKEY *phone_key,
			 uint8_t **plain, size_t *plain_len,
			 pt_sgn_diag_t *diag);

/* Parse, verify against tftp_cert, decrypt with phone_key: what a phone
 * does with the file. */
int pt_encconfig_open(const uint8_t *data, size_t len, X509 *tftp_cert,
		      EVP_PKEY *phone_key, uint8_t **plain, size_t *plain_len,
		      pt_sgn_diag_t *diag);

/* <certHash> of a phone certificate: MD5 of its whole DER as 32
 * lower-case hex digits and a NUL. */
int pt_encconfig_cert_hash(X509 *cert,
			   char out[PT_ENCCONFIG_CERT_HASH_LEN + 1]);

#endif
