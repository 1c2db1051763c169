/* Certificates made to order for codec tests: self-signed, SHA-256 (none
 * for Ed25519), valid from now for a year.  Failures abort the test. */
#ifndef PT_TESTS_HELPERS_PT_TESTCERT_H
#define PT_TESTS_HELPERS_PT_TESTCERT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* Subject (= issuer) from attributes like "CN=x", "O=y" in encoding order
 * (NULL-terminated), and the given serial bytes.  The caller frees it. */
X509 *pt_testcert_names(EVP_PKEY *key, const char *const *attrs,
			const uint8_t *serial, size_t serial_len);

/* CN=cn and a 32-bit serial. */
X509 *pt_testcert(EVP_PKEY *key, const char *cn, uint32_t serial);

/* CN=cn for key, issued by issuer (its subject as issuer name) and signed
 * with issuer_key (SHA-256), with a 32-bit serial: the shape of an LSC. */
X509 *pt_testcert_issued(EVP_PKEY *key, const char *cn, X509 *issuer,
			 EVP_PKEY *issuer_key, uint32_t serial);

#endif
