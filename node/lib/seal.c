#include "lib/seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"

static const char verifier_label[] = "phonetrust password verifier v1";

int pt_seal_derive_key(const char *password, const uint8_t *salt,
		       size_t salt_len, uint64_t n, uint32_t r, uint32_t p,
		       pt_data_key_t *out)
{
	if (!password || !salt || salt_len < 16 || n < 2)
		return PT_ERR_INVALID;
	/* maxmem must cover 128 * N * r bytes plus slack. */
	uint64_t maxmem = 128 * n * r + (1u << 20);
	if (!EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, r,
			    p, maxmem, out->bytes, sizeof out->bytes))
		return PT_ERR_CRYPTO;
	return PT_OK;
}

int pt_seal_verifier(const pt_data_key_t *key, uint8_t out[32])
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key->bytes, sizeof key->bytes,
		  (const uint8_t *)verifier_label, sizeof verifier_label - 1,
		  out, &len) ||
	    len != 32)
		return PT_ERR_CRYPTO;
	return PT_OK;
}

static int alloc_bytes(ProtobufCBinaryData *b, size_t len)
{
	b->data = malloc(len ? len : 1);
	b->len = len;
	return b->data ? PT_OK : PT_ERR_NOMEM;
}

/* Seals with the given nonce (NULL: a fresh random one). */
static int seal_nonce(const pt_data_key_t *key, const char *aad,
		      const void *plaintext, size_t len,
		      const uint8_t nonce[PT_SEAL_NONCE_LEN], Pt__Sealed **out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	Pt__Sealed *s = NULL;
	int r = PT_ERR_NOMEM, outl = 0, finl = 0;

	*out = NULL;
	if (len > PT_SEAL_MAX_PLAINTEXT)
		return PT_ERR_TOO_LARGE;
	if (!(s = malloc(sizeof *s)))
		goto out;
	pt__sealed__init(s);
	s->key_version = 1;
	if (alloc_bytes(&s->nonce, PT_SEAL_NONCE_LEN) ||
	    alloc_bytes(&s->ciphertext, len) ||
	    alloc_bytes(&s->tag, PT_SEAL_TAG_LEN))
		goto out;
	r = PT_ERR_CRYPTO;
	if (nonce)
		memcpy(s->nonce.data, nonce, PT_SEAL_NONCE_LEN);
	else if (RAND_bytes(s->nonce.data, PT_SEAL_NONCE_LEN) != 1)
		goto out;
	if (!(ctx = EVP_CIPHER_CTX_new()) ||
	    !EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->bytes,
				s->nonce.data) ||
	    !EVP_EncryptUpdate(ctx, NULL, &outl, (const uint8_t *)aad,
			       (int)strlen(aad)) ||
	    !EVP_EncryptUpdate(ctx, s->ciphertext.data, &outl, plaintext,
			       (int)len) ||
	    !EVP_EncryptFinal_ex(ctx, s->ciphertext.data + outl, &finl) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PT_SEAL_TAG_LEN,
				 s->tag.data))
		goto out;
	*out = s;
	s = NULL;
	r = PT_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (s)
		protobuf_c_message_free_unpacked(&s->base, NULL);
	return r;
}

int pt_seal(const pt_data_key_t *key, const char *aad, const void *plaintext,
	    size_t len, Pt__Sealed **out)
{
	return seal_nonce(key, aad, plaintext, len, NULL, out);
}

static const char nonce_label[] = "phonetrust derived seal nonce v1";

/* The nonce is a PRF of (aad, plaintext) under a key of its own, so it
 * repeats only for the very same value in the very same field: GCM's
 * nonce-reuse failure needs two different plaintexts under one nonce. */
int pt_seal_derived(const pt_data_key_t *key, const char *aad,
		    const void *plaintext, size_t len, Pt__Sealed **out)
{
	uint8_t nkey[32], mac[32];
	unsigned int nlen = 0, mlen = 0;
	size_t alen = strlen(aad) + 1;
	uint8_t *msg = NULL;
	int r = PT_ERR_CRYPTO;

	*out = NULL;
	if (len > PT_SEAL_MAX_PLAINTEXT)
		return PT_ERR_TOO_LARGE;
	if (!(msg = malloc(alen + len + 1)))
		return PT_ERR_NOMEM;
	memcpy(msg, aad, alen);
	if (len)
		memcpy(msg + alen, plaintext, len);
	if (!HMAC(EVP_sha256(), key->bytes, sizeof key->bytes,
		  (const uint8_t *)nonce_label, sizeof nonce_label - 1, nkey,
		  &nlen) ||
	    nlen != 32 ||
	    !HMAC(EVP_sha256(), nkey, sizeof nkey, msg, alen + len, mac,
		  &mlen) ||
	    mlen != 32)
		goto out;
	r = seal_nonce(key, aad, plaintext, len, mac, out);
out:
	pt_seal_wipe(msg, alen + len);
	free(msg);
	pt_seal_wipe(nkey, sizeof nkey);
	pt_seal_wipe(mac, sizeof mac);
	return r;
}

int pt_unseal(const pt_data_key_t *key, const char *aad,
	      const Pt__Sealed *sealed, uint8_t *plain, size_t cap,
	      size_t *len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int r = PT_ERR_AUTH, outl = 0, finl = 0;

	if (!sealed || sealed->key_version != 1 ||
	    sealed->nonce.len != PT_SEAL_NONCE_LEN ||
	    sealed->tag.len != PT_SEAL_TAG_LEN)
		return PT_ERR_CORRUPT;
	if (sealed->ciphertext.len > cap ||
	    sealed->ciphertext.len > PT_SEAL_MAX_PLAINTEXT)
		return PT_ERR_TOO_LARGE;
	if (!(ctx = EVP_CIPHER_CTX_new())) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->bytes,
				sealed->nonce.data) ||
	    !EVP_DecryptUpdate(ctx, NULL, &outl, (const uint8_t *)aad,
			       (int)strlen(aad)) ||
	    !EVP_DecryptUpdate(ctx, plain, &outl, sealed->ciphertext.data,
			       (int)sealed->ciphertext.len) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PT_SEAL_TAG_LEN,
				 sealed->tag.data) ||
	    EVP_DecryptFinal_ex(ctx, plain + outl, &finl) != 1) {
		pt_seal_wipe(plain, sealed->ciphertext.len);
		goto out;
	}
	*len = (size_t)(outl + finl);
	if (*len < cap)
		plain[*len] = '\0';
	r = PT_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

void pt_seal_wipe(void *buf, size_t len)
{
	OPENSSL_cleanse(buf, len);
}
