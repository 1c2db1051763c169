/* The phone's PUBLIC_KEY element and the offline-CA requests read back
 * from the store or an export directory are untrusted bytes: the key
 * decoder and the request decoder must survive anything, and a key they
 * accept must come out of the LSC builder exactly as it went in. */
#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_lsc.h"
#include "lib/capf_msg.h"
#include "lib/certs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One issuer for the whole run: generating a key per input would drown
 * the decoders' coverage in key generation. */
static EVP_PKEY *issuer_key;
static X509 *issuer_cert;

static void issuer_once(void)
{
	if (issuer_key)
		return;
	if (pt_certs_new_key(PT_KEY_EC256, &issuer_key) != 0 ||
	    pt_certs_build_capf(issuer_key, NULL, &issuer_cert) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509 *lsc = NULL;

	issuer_once();
	/* The server's fast reader agrees with OpenSSL's decoder. */
	EVP_PKEY *fast = NULL, *slow = NULL;
	int rf = pt_capf_lsc_decode_public(data, size, &fast);
	int rs = pt_capf_public_key_decode(data, size, &slow);
	if (rf != rs || (rf == 0 && EVP_PKEY_eq(fast, slow) != 1))
		abort();
	EVP_PKEY_free(fast);
	EVP_PKEY_free(slow);
	if (pt_capf_lsc_decode_key(data, size, &key) == 0) {
		pt_capf_lsc_req_t r = {.name = "SEP001122334455", .key = key,
				       .now = 1700000000, .days = 365};
		if (pt_capf_lsc_build(issuer_key, issuer_cert, &r, &lsc) != 0)
			abort();
		/* Checked as a phone or an import reads it: decoded from
		 * its DER (the builder never decodes the key it sets). */
		uint8_t *der = NULL;
		size_t der_len = 0;
		X509 *back = NULL;
		if (pt_certs_encode_der(lsc, &der, &der_len) != 0 ||
		    pt_certs_decode_der(der, der_len, &back) != 0 ||
		    pt_capf_lsc_check_signed(back, r.name, key, NULL) != 0)
			abort();
		X509_free(back);
		free(der);
		/* The certificate holds the key as the decoder read it
		 * (canonical DER: an input OpenSSL reads leniently may be
		 * spelled differently, the key may not). */
		uint8_t *want = NULL;
		size_t want_len = 0;
		unsigned char *got = NULL;
		int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(lsc), &got);
		if (n <= 0 || pt_capf_lsc_key_spki(key, &want, &want_len) != 0 ||
		    (size_t)n != want_len || memcmp(got, want, want_len) != 0)
			abort();
		OPENSSL_free(got);
		free(want);
		X509_free(lsc);
		EVP_PKEY_free(key);
		key = NULL;
	}
	if (pt_capf_lsc_csr_decode(data, size, &req, &key) == 0) {
		if (!key)
			abort();
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
	return 0;
}
