/* Token files come from administrators' disks and tokens: the form
 * detection, the PEM walk, the PKCS#12 reader and every check after them
 * must survive any bytes, with or without a password, and a token they
 * hand out must be one whose key and certificate belong together. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seed corpus is encrypted with this password. */
#define FUZZ_PASSWORD "fuzz"

/* What pt_token_parse promises about a token it returns. */
static void check_token(const pt_token_t *t)
{
	uint8_t *der = NULL;
	size_t len = 0;
	uint8_t md[32];
	if (!t || !t->key || !t->cert ||
	    EVP_PKEY_get_base_id(t->key) != EVP_PKEY_RSA ||
	    (t->bits != 1024 && t->bits != 2048 && t->bits != 4096) ||
	    X509_check_private_key(t->cert, t->key) != 1 ||
	    pt_certs_encode_der(t->cert, &der, &len) != PT_OK ||
	    len != t->der_len || memcmp(der, t->der, len) != 0 ||
	    pt_certs_sha256(der, len, md) != PT_OK ||
	    memcmp(md, t->sha256, 32) != 0)
		abort();
	free(der);
}

static void one(const uint8_t *data, size_t size, const char *password)
{
	pt_token_t *t = NULL;
	pt_token_diag_t d;
	int r = pt_token_parse(data, size, password, &t, &d);
	if (r == PT_OK)
		check_token(t);
	else if (t || r >= 0 || !d.text[0] || (d.need_password && password))
		abort();
	pt_token_destroy(&t);
	if (t)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)pt_token_detect(data, size);
	one(data, size, FUZZ_PASSWORD);
	one(data, size, NULL);
	X509 *x = NULL;
	pt_token_diag_t d;
	if (pt_token_parse_cert(data, size, &x, &d) == PT_OK && !x)
		abort();
	X509_free(x);
	ERR_clear_error();
	return 0;
}
