/* Token files made to order for the CTL suites. */
#include "pt_testtoken.h"

#include <check.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Takes a memory BIO's bytes into a malloc'd buffer and frees the BIO. */
static void take(BIO *b, uint8_t **out, size_t *len)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	ck_assert(n > 0);
	*out = malloc((size_t)n);
	ck_assert_ptr_nonnull(*out);
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
}

void pt_testtoken_pem(EVP_PKEY *key, X509 *cert, const char *password,
		      uint8_t **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(b);
	ck_assert(PEM_write_bio_X509(b, cert));
	if (password)
		ck_assert(PEM_write_bio_PKCS8PrivateKey(
			b, key, EVP_aes_256_cbc(), password,
			(int)strlen(password), NULL, NULL));
	else
		ck_assert(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL,
						   NULL));
	take(b, out, len);
}

void pt_testtoken_pem_traditional(EVP_PKEY *key, X509 *cert,
				  const char *password, uint8_t **out,
				  size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(b);
	ck_assert(PEM_write_bio_X509(b, cert));
	ck_assert(PEM_write_bio_PrivateKey_traditional(
		b, key, EVP_aes_128_cbc(), (unsigned char *)password,
		(int)strlen(password), NULL, NULL));
	take(b, out, len);
}

void pt_testtoken_cert_pem(X509 *cert, uint8_t **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(b);
	ck_assert(PEM_write_bio_X509(b, cert));
	take(b, out, len);
}

void pt_testtoken_key_pem(EVP_PKEY *key, uint8_t **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(b);
	ck_assert(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
	take(b, out, len);
}

void pt_testtoken_p12(EVP_PKEY *key, X509 *cert, X509 *extra,
		      const char *password, uint8_t **out, size_t *len)
{
	STACK_OF(X509) *ca = NULL;
	if (extra) {
		ca = sk_X509_new_null();
		ck_assert_ptr_nonnull(ca);
		ck_assert(sk_X509_push(ca, extra) > 0);
	}
	PKCS12 *p12 = PKCS12_create(password, "sast", key, cert, ca, 0, 0, 0,
				    0, 0);
	ck_assert_ptr_nonnull(p12);
	sk_X509_free(ca);
	unsigned char *der = NULL;
	int n = i2d_PKCS12(p12, &der);
	ck_assert_int_gt(n, 0);
	*out = malloc((size_t)n);
	ck_assert_ptr_nonnull(*out);
	memcpy(*out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	PKCS12_free(p12);
}

void pt_testtoken_write(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}
