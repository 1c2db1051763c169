/* Encrypted configurations are read by phones (and our simulator) from
 * the network: the header checks, the verifier and the decryption must
 * survive any bytes, and any configuration the builder accepts must come
 * back unchanged. */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/sgn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed 512-bit test keys (TFTP signer, phone) so that the seed corpus,
 * built with them, verifies and decrypts. */
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
static const char phone_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAyITl4rZn4uHOVukm\n"
	"7UbcBA3VBxDiLWPb0oCa2E7sAUCJKuSHQiMYxPzvY1ldZbWZDjo4HB0pF+hiwrXT\n"
	"yYzx6wIDAQABAkAJWBgWXoWszvT8m9TSjdDG55YbxC+mCdc+kfulRNg+npwanHZp\n"
	"ll+ALSOqUjMBmUV7ciGEHWfnCvRNRVArETBhAiEA8xSyyfcT7c0ToyYZQbGyh0Zn\n"
	"pEhUxkvNsA7HX+UN2ukCIQDTLR1eO2bsuX4EBxx0kvY8zmSvzdZ3jFNrGQ5aYMc5\n"
	"swIhAMVfwySWyMnIQO+yWcOr48hPdIxCZwN0PZl9Bopo1G0xAiEAl+9toc67TrZm\n"
	"pB85qeXSpA0bBCHknD6qBfQRD5VxwWECIQCS9W7x+063n5X3Oq/eZtxyk7UKJrGu\n"
	"336GROvVc/fTcw==\n"
	"-----END PRIVATE KEY-----\n";

static EVP_PKEY *tftp_key, *phone_key;
static X509 *tftp_cert, *phone_cert;

static X509 *make_cert(EVP_PKEY *k, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	if (!x || !n ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
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
	if (tftp_key)
		return;
	if (pt_certs_decode_key_pem(tftp_pem, sizeof tftp_pem - 1,
				    &tftp_key) != PT_OK ||
	    pt_certs_decode_key_pem(phone_pem, sizeof phone_pem - 1,
				    &phone_key) != PT_OK)
		abort();
	tftp_cert = make_cert(tftp_key, "A", 1);
	phone_cert = make_cert(phone_key, "SEP001122334455", 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_encconfig_file_t f;
	pt_sgn_diag_t d;
	uint8_t *plain = NULL;
	size_t plain_len = 0;

	setup();
	if (pt_encconfig_parse(data, size, &f, &d) == PT_OK) {
		if (f.ciphertext != data + f.sgn.raw.header_len ||
		    f.ciphertext_len % 16 || f.ciphertext_len == 0 ||
		    f.pad_count < 1 || f.pad_count > 16)
			abort();
		(void)pt_encconfig_verify(&f, tftp_cert, &d);
		/* Decryption runs whether or not the signature holds, so the
		 * fuzzer reaches the unwrap, pad and digest checks. */
		if (pt_encconfig_decrypt(&f, phone_key, &plain, &plain_len,
					 &d) == PT_OK) {
			if (plain_len + f.pad_count != f.ciphertext_len)
				abort();
			free(plain);
		} else if (plain) {
			abort();
		}
	}

	/* Any configuration the builder takes comes back unchanged. */
	if (size <= 4096 && pt_encconfig_check_config(data, size) == PT_OK) {
		pt_encconfig_opts_t o = {PT_SGN_SHA1,
					 "SEP001122334455.cnf.xml.enc.sgn",
					 0x65000000, NULL, NULL};
		uint8_t *out = NULL;
		size_t out_len = 0;
		if (pt_encconfig_build(data, size, phone_cert, tftp_key,
				       tftp_cert, &o, &out, &out_len) != PT_OK ||
		    pt_encconfig_open(out, out_len, tftp_cert, phone_key,
				      &plain, &plain_len, &d) != PT_OK ||
		    plain_len != size || memcmp(plain, data, size) != 0)
			abort();
		free(plain);
		free(out);
	}
	ERR_clear_error();
	return 0;
}
