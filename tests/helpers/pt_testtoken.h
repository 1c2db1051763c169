/* SAST token files made with OpenSSL for the CTL suites: PEM (plain,
 * encrypted PKCS#8, encrypted traditional RSA) and PKCS#12.  Failures
 * abort the test.  Buffers handed out are the caller's (free()). */
#ifndef PT_TESTS_HELPERS_PT_TESTTOKEN_H
#define PT_TESTS_HELPERS_PT_TESTTOKEN_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* Certificate then key.  password NULL: unencrypted PKCS#8; otherwise
 * encrypted PKCS#8 (AES-256-CBC, PBKDF2). */
void pt_testtoken_pem(EVP_PKEY *key, X509 *cert, const char *password,
		      uint8_t **out, size_t *len);

/* Certificate then a traditional "RSA PRIVATE KEY" encrypted with
 * AES-128-CBC under a Proc-Type header. */
void pt_testtoken_pem_traditional(EVP_PKEY *key, X509 *cert,
				  const char *password, uint8_t **out,
				  size_t *len);

/* PEM of one certificate, or of one key (unencrypted PKCS#8). */
void pt_testtoken_cert_pem(X509 *cert, uint8_t **out, size_t *len);
void pt_testtoken_key_pem(EVP_PKEY *key, uint8_t **out, size_t *len);

/* PKCS#12 (OpenSSL 3 defaults: AES-256, PBKDF2, SHA-256 MAC) of key,
 * cert and, when extra is not NULL, one more certificate as a CA.
 * password may be "" (an empty password). */
void pt_testtoken_p12(EVP_PKEY *key, X509 *cert, X509 *extra,
		      const char *password, uint8_t **out, size_t *len);

/* Writes bytes to path (mode 0600). */
void pt_testtoken_write(const char *path, const uint8_t *p, size_t n);

#endif
