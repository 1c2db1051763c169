/* Shared by the legacy suites: a CAPF certificate and LSCs it signs, made
 * with real OpenSSL, and small text helpers.  Static functions: each
 * suite is its own program. */
#ifndef PT_TESTS_LEGACY_FIXTURES_H
#define PT_TESTS_LEGACY_FIXTURES_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"

static inline X509_NAME *fx_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	ck_assert_ptr_nonnull(n);
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1,
					     0));
	ck_assert(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					     (const unsigned char *)"Example "
								    "Corp",
					     -1, -1, 0));
	return n;
}

/* A certificate for subject_key named cn, issued by issuer (NULL: self)
 * and signed with sign_key using md. */
static inline X509 *fx_cert(const char *cn, EVP_PKEY *subject_key,
		     X509 *issuer, EVP_PKEY *sign_key, const EVP_MD *md,
		     int ca, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = fx_name(cn);
	ck_assert_ptr_nonnull(x);
	ck_assert(X509_set_version(x, 2));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	ck_assert(X509_set_subject_name(x, n));
	ck_assert(X509_set_issuer_name(
		x, issuer ? X509_get_subject_name(issuer) : n));
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365));
	ck_assert(X509_set_pubkey(x, subject_key));
	if (ca) {
		X509V3_CTX ctx;
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
		X509_EXTENSION *e = X509V3_EXT_conf_nid(
			NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		ck_assert_ptr_nonnull(e);
		ck_assert(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	ck_assert(X509_sign(x, sign_key, md) > 0);
	X509_NAME_free(n);
	return x;
}

static inline EVP_PKEY *fx_key(void)
{
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &k), PT_OK);
	return k;
}

static inline EVP_PKEY *fx_rsa(unsigned bits)
{
	EVP_PKEY *k = EVP_RSA_gen(bits);
	ck_assert_ptr_nonnull(k);
	return k;
}

static inline uint8_t *fx_der(X509 *x, size_t *len)
{
	uint8_t *der = NULL;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, len), PT_OK);
	return der;
}

/* Base64 of bytes on one line (malloc'd). */
static inline char *fx_b64(const uint8_t *b, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	ck_assert_ptr_nonnull(s);
	EVP_EncodeBlock((unsigned char *)s, b, (int)n);
	return s;
}

static inline void fx_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* printf into a new string. */
static inline char *fx_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *fx_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	return s;
}

#endif
