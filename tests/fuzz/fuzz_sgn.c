/* Signed files reach phones and our tools from TFTP servers and disks: the
 * header walk, the checks and the verifier must survive any bytes, and a
 * file built from any payload must read back to that payload. */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/sgn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed 512-bit test key (fast to sign with) so that the seed corpus,
 * signed with it, verifies and the fuzzer starts past the signature. */
static const char tftp_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIBUwIBADANBgkqhkiG9w0BAQEFAASCAT0wggE5AgEAAkEA4nAmE7H4E7+rwicV\n"
	"fEfnWS4TOwC6Oeh9TIoDiwfB/OHhF64VOyOrREYoZkAw0x1lCxutDV4LDA+P+7NY\n"
	"lAG8cwIDAQABAkB9rEqlwa9ynn1gSzrUeD/BMh5AL/4rZ4orMaoXvp1+kH+DN/Pt\n"
	"LwHS9byNd9JdN1WSlneC2VIz/6Iv5BkBVpMBAiEA9atrd0cD3FtohGwOaCpxeoTd\n"
	"JyhnAWLmfH3xYF+N/4ECIQDr9bSpq9Xi144QLIdpXluBnRxsHH2NHFsJ9wJ0Q5K1\n"
	"8wIgKLHEk3WIBjB+F7FukYK2WX04xQvERE6Fr4mNOlGZzAECIGX+BuFwTTuIQPfs\n"
	"x3tcNeGIr8hraDmekBt2kbD/pGLRAiANsBuWCHSf28ockFKWXFnrxpRxE4hJ5C4w\n"
	"QLouiFt+OQ==\n"
	"-----END PRIVATE KEY-----\n";

static EVP_PKEY *key;
static X509 *cert;

/* CN=A, serial 1: the names the seeds carry. */
static X509 *make_cert(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	if (!x || !n ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					(const unsigned char *)"A", -1, -1, 0) ||
	    !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_set_pubkey(x, k) || !X509_sign(x, k, EVP_sha256()))
		abort();
	X509_NAME_free(n);
	return x;
}

static void setup(void)
{
	if (key)
		return;
	if (pt_certs_decode_key_pem(tftp_pem, sizeof tftp_pem - 1, &key) !=
	    PT_OK)
		abort();
	cert = make_cert(key);
}

/* What a successful parse promises about the views it hands out. */
static void check_views(const uint8_t *data, size_t size,
			const pt_sgn_file_t *f)
{
	if (f->raw.header_len > size || f->payload != data + f->raw.header_len ||
	    f->payload_len != size - f->raw.header_len ||
	    f->sig_off + 3 + f->sig_len > f->raw.header_len ||
	    f->sig_len != (size_t)64 << f->raw.item[PT_SGN_TAG_MODULUS].val[0] ||
	    strlen(f->signer) + 1 != f->raw.item[PT_SGN_TAG_SIGNER].len ||
	    strlen(f->file_name) + 1 != f->raw.item[PT_SGN_TAG_FILE_NAME].len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_sgn_file_t f;
	pt_sgn_raw_t raw;
	pt_sgn_diag_t d;
	const uint8_t *p;
	size_t plen;

	setup();
	if (pt_sgn_parse(data, size, &f, &d) == PT_OK) {
		check_views(data, size, &f);
		(void)pt_sgn_verify(&f, cert, &d);
		(void)pt_sgn_verify_key(&f, key, &d);
	}
	/* The version 2.0 path of the common checks. */
	if (pt_sgn_decode(data, size, &raw, &d) == PT_OK &&
	    pt_sgn_check(&raw, 2, &f, &d) == PT_OK)
		check_views(data, size, &f);
	if (pt_sgn_strip(data, size, &p, &plen, &d) == PT_OK &&
	    (p < data || p + plen != data + size))
		abort();

	/* Any payload signs and reads back unchanged. */
	if (size <= 2048) {
		pt_sgn_opts_t o = {PT_SGN_SHA1, "SoftKeys.xml.sgn", 0x65000000};
		uint8_t *out = NULL;
		size_t out_len = 0;
		if (pt_sgn_build(data, size, key, cert, &o, &out, &out_len) !=
			    PT_OK ||
		    pt_sgn_parse(out, out_len, &f, &d) != PT_OK ||
		    pt_sgn_verify(&f, cert, &d) != PT_OK ||
		    f.payload_len != size ||
		    (size && memcmp(f.payload, data, size) != 0))
			abort();
		free(out);
	}
	ERR_clear_error();
	return 0;
}
