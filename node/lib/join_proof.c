#include "lib/join_proof.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "lib/errors.h"

/* Every field goes in with a 4-byte length so that no two different
 * inputs can produce the same MAC input. */
static int mac_field(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
	uint8_t n[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};
	return EVP_MAC_update(ctx, n, 4) &&
	       (len == 0 || EVP_MAC_update(ctx, data, len));
}

static int mac_begin(const pt_data_key_t *key, EVP_MAC **mac,
		     EVP_MAC_CTX **ctx)
{
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	*mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	*ctx = *mac ? EVP_MAC_CTX_new(*mac) : NULL;
	if (!*ctx || !EVP_MAC_init(*ctx, key->bytes, sizeof key->bytes, params))
		return PT_ERR_CRYPTO;
	return PT_OK;
}

static int mac_end(EVP_MAC *mac, EVP_MAC_CTX *ctx, int ok,
		   uint8_t out[PT_JOIN_PROOF_LEN])
{
	size_t len = 0;
	if (ok)
		ok = EVP_MAC_final(ctx, out, &len, PT_JOIN_PROOF_LEN) &&
		     len == PT_JOIN_PROOF_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? PT_OK : PT_ERR_CRYPTO;
}

static int mac_binding(EVP_MAC_CTX *ctx, const char *label,
		       const pt_join_binding_t *b)
{
	return mac_field(ctx, label, strlen(label)) &&
	       mac_field(ctx, b->client_nonce, PT_JOIN_NONCE_LEN) &&
	       mac_field(ctx, b->server_nonce, PT_JOIN_NONCE_LEN) &&
	       mac_field(ctx, b->client_curve_key, 32);
}

int pt_join_server_proof(const pt_data_key_t *key, const pt_join_binding_t *b,
			 uint8_t out[PT_JOIN_PROOF_LEN])
{
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	int r = mac_begin(key, &mac, &ctx);
	int ok = r == PT_OK && mac_binding(ctx, "phonetrust join server v1", b);
	return mac_end(mac, ctx, ok, out);
}

int pt_join_client_proof(const pt_data_key_t *key, const pt_join_binding_t *b,
			 const char *node, const uint8_t *tftp_der,
			 size_t tftp_len, const uint8_t *tvs_der,
			 size_t tvs_len, uint8_t out[PT_JOIN_PROOF_LEN])
{
	uint8_t h_tftp[32], h_tvs[32];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	if (!EVP_Digest(tftp_der, tftp_len, h_tftp, NULL, EVP_sha256(), NULL) ||
	    !EVP_Digest(tvs_der, tvs_len, h_tvs, NULL, EVP_sha256(), NULL))
		return PT_ERR_CRYPTO;
	int r = mac_begin(key, &mac, &ctx);
	int ok = r == PT_OK &&
		 mac_binding(ctx, "phonetrust join client v1", b) &&
		 mac_field(ctx, node, strlen(node)) &&
		 mac_field(ctx, h_tftp, sizeof h_tftp) &&
		 mac_field(ctx, h_tvs, sizeof h_tvs);
	return mac_end(mac, ctx, ok, out);
}

int pt_join_proof_equal(const uint8_t *got, size_t got_len,
			const uint8_t expected[PT_JOIN_PROOF_LEN])
{
	return got_len == PT_JOIN_PROOF_LEN &&
	       CRYPTO_memcmp(got, expected, PT_JOIN_PROOF_LEN) == 0;
}
