/* SAST security tokens: an RSA private key and its certificate, read from
 * the administrator's token file (the key signs the CTL; it never enters
 * the store).
 *
 * Two forms, told apart by their bytes: PEM text holding the certificate
 * and the private key (PKCS#8, encrypted PKCS#8 or traditional RSA, the
 * latter possibly encrypted with a Proc-Type header), and PKCS#12 (DER)
 * with its password.  The key must be RSA of 1024, 2048 or 4096 bits:
 * trust lists are signed with RSA only and item 11 of the header has no
 * code for other sizes (tlv-files.md §3, §7).
 *
 * Pure code: bytes and a password in, OpenSSL objects out.  No files, no
 * prompts, no globals.  Every refusal fills a pt_token_diag_t with one
 * sentence suitable for the command line.
 */
#ifndef PT_LIB_TOKEN_H
#define PT_LIB_TOKEN_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token file is a key and a certificate or a short chain: a few KiB.
 * Larger input is refused before anything parses it. */
#define PT_TOKEN_FILE_MAX (256u * 1024u)
/* PEM blocks (certificates and keys) looked at in one file. */
#define PT_TOKEN_PEM_BLOCKS_MAX 16u
/* Password-based key derivation (encrypted PKCS#8, the PKCS#12 MAC) is
 * slow by design; a file asking for more rounds than this is refused
 * before any are run.  Tools write 2048 to a few hundred thousand. */
#define PT_TOKEN_KDF_ITER_MAX 1000000L

typedef enum pt_token_form {
	PT_TOKEN_FORM_UNKNOWN = 0,
	PT_TOKEN_FORM_PEM = 1,    /* text with -----BEGIN lines */
	PT_TOKEN_FORM_PKCS12 = 2, /* DER: an ASN.1 SEQUENCE */
} pt_token_form_t;

typedef struct pt_token_diag {
	/* True when the file is protected by a password that was not given
	 * (password NULL): the caller may ask for one and try again. */
	bool need_password;
	char text[256];
} pt_token_diag_t;

/* A loaded token.  Everything is owned by the token. */
typedef struct pt_token {
	pt_token_form_t form;
	EVP_PKEY *key;       /* RSA private key */
	X509 *cert;          /* the certificate that belongs to key */
	uint8_t *der;        /* cert as DER */
	size_t der_len;
	uint8_t sha256[32];  /* of der: the token's identity in the store */
	unsigned bits;       /* 1024, 2048 or 4096 */
} pt_token_t;

/* The form of data by its first bytes (leading blanks skipped for PEM). */
pt_token_form_t pt_token_detect(const uint8_t *data, size_t len);

/* Loads a token from len bytes of a token file (not retained).  password
 * (may be NULL: none given) decrypts an encrypted PEM key or a PKCS#12
 * file; a PKCS#12 file without a password, or with an empty one, opens
 * with NULL.  On success *out is the caller's (pt_token_destroy).
 * Errors, each with diag (may be NULL) filled:
 *   PT_ERR_TOO_LARGE  over PT_TOKEN_FILE_MAX, too many PEM blocks, or
 *                     more than PT_TOKEN_KDF_ITER_MAX derivation rounds;
 *   PT_ERR_MALFORMED  neither PEM nor PKCS#12, a block that does not
 *                     decode, trailing bytes after the PKCS#12 structure;
 *   PT_ERR_AUTH       a password is needed (diag->need_password) or the
 *                     one given is wrong;
 *   PT_ERR_INVALID    a PKCS#12 file without an integrity MAC (its
 *                     password would be checked by nothing), no private
 *                     key, several keys, no certificate, no
 *                     certificate that belongs to the key (or several
 *                     different ones that do), a key that is not RSA or
 *                     of another size;
 *   PT_ERR_CRYPTO     OpenSSL failed otherwise (e.g. a PKCS#12 cipher
 *                     it does not offer). */
int pt_token_parse(const uint8_t *data, size_t len, const char *password,
		   pt_token_t **out, pt_token_diag_t *diag);

/* Accepts NULL; nulls *t. */
void pt_token_destroy(pt_token_t **t);

/* Only the certificate of a token file, for naming a token without its
 * key (removing a lost token): DER of one certificate, or PEM holding
 * exactly one certificate (other blocks, keys included, are skipped and
 * never decrypted).  PKCS#12 is refused (PT_ERR_INVALID): its
 * certificates are usually encrypted, so pt_token_parse() with the
 * password is the way.  *out (X509_free) is the caller's.  Errors as
 * pt_token_parse(). */
int pt_token_parse_cert(const uint8_t *data, size_t len, X509 **out,
			pt_token_diag_t *diag);

#endif
