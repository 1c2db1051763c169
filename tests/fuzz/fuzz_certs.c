/* Certificates arrive from phones (CAPF), peers (join, trust lists) and
 * legacy files: the DER reader and the PEM decoders must survive any
 * bytes. */
#include <openssl/err.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/certs.h"
#include "store/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Pt__Certificate *cert = NULL;
	X509 *x = NULL;
	EVP_PKEY *key = NULL;

	/* Raw input is DER (so the seed corpus can be plain .der files);
	 * the same bytes also go through both PEM decoders. */
	if (pt_certs_parse(data, size, &cert) == 0)
		pt_record_free(&cert->base);
	if (pt_certs_decode_pem((const char *)data, size, &x) == 0)
		X509_free(x);
	if (pt_certs_decode_key_pem((const char *)data, size, &key) == 0)
		EVP_PKEY_free(key);
	ERR_clear_error();
	return 0;
}
