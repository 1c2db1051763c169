#include "lib/encconfig.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/rbuf.h"

#define PAD_BYTE 0x0d
#define AES_BLOCK 16

static int fail(pt_sgn_diag_t *diag, int err, size_t off, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

static int fail(pt_sgn_diag_t *diag, int err, size_t off, const char *fmt,
		...)
{
	if (diag) {
		va_list ap;
		diag->offset = off;
		va_start(ap, fmt);
		vsnprintf(diag->what, sizeof diag->what, fmt, ap);
		va_end(ap);
	}
	return err;
}

static const EVP_MD *digest_md(pt_sgn_digest_t digest)
{
	switch (digest) {
	case PT_SGN_SHA1: return EVP_sha1();
	case PT_SGN_SHA512: return EVP_sha512();
	case PT_SGN_SHA256: break;
	}
	return NULL;
}

static size_t digest_len(pt_sgn_digest_t digest)
{
	return digest == PT_SGN_SHA512 ? 64 : 20;
}

/* ---- what may be encrypted ---- */

static bool starts(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	return n >= k && memcmp(p, s, k) == 0;
}

/* Skips past the first occurrence of end; false when there is none. */
static bool skip_past(const uint8_t *p, size_t n, size_t *pos, const char *end)
{
	const uint8_t *hit = memmem(p + *pos, n - *pos, end, strlen(end));
	if (!hit)
		return false;
	*pos = (size_t)(hit - p) + strlen(end);
	return true;
}

/* Only the prolog is scanned to find the root element's name: enough for
 * the spec's rule without parsing the document (the builder takes the
 * bytes as they are and never re-serialises them). */
int pt_encconfig_check_config(const uint8_t *config, size_t len)
{
	size_t pos = 0;

	if (!config || len == 0)
		return PT_ERR_INVALID;
	if (len > PT_ENCCONFIG_CONFIG_MAX)
		return PT_ERR_TOO_LARGE;
	if (memchr(config, 0, len))
		return PT_ERR_INVALID;
	if (starts(config, len, "\xef\xbb\xbf"))
		pos = 3;
	for (;;) {
		while (pos < len && strchr(" \t\r\n", config[pos]))
			pos++;
		if (starts(config + pos, len - pos, "<?")) {
			if (!skip_past(config, len, &pos, "?>"))
				return PT_ERR_INVALID;
		} else if (starts(config + pos, len - pos, "<!--")) {
			if (!skip_past(config, len, &pos, "-->"))
				return PT_ERR_INVALID;
		} else {
			break;
		}
	}
	if (!starts(config + pos, len - pos, "<device"))
		return PT_ERR_INVALID;
	pos += strlen("<device");
	if (pos >= len || !strchr(" \t\r\n>/", config[pos]))
		return PT_ERR_INVALID;
	return PT_OK;
}

/* ---- building ---- */

typedef struct wbuf {
	uint8_t *p;
	size_t pos;
} wbuf_t;

static void put_head(wbuf_t *w, uint8_t tag, size_t len)
{
	w->p[w->pos++] = tag;
	w->p[w->pos++] = (uint8_t)(len >> 8);
	w->p[w->pos++] = (uint8_t)len;
}

static void put_item(wbuf_t *w, uint8_t tag, const void *val, size_t len)
{
	put_head(w, tag, len);
	memcpy(w->p + w->pos, val, len);
	w->pos += len;
}

/* AES-128-CBC without padding of its own: the input is already a whole
 * number of blocks (0x0D padding). */
static int aes_cbc(bool enc, const uint8_t key[16], const uint8_t iv[16],
		   const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, r = PT_ERR_CRYPTO;

	if (len > INT_MAX)
		goto out;
	if (!c ||
	    EVP_CipherInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, 0) != 1 ||
	    EVP_CipherUpdate(c, out, &n1, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(c, out + n1, &n2) != 1 ||
	    (size_t)n1 + (size_t)n2 != len)
		goto out;
	r = PT_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

static int wrap_key(EVP_PKEY *pub, const uint8_t key[16], uint8_t *out,
		    size_t out_len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(pub, NULL);
	size_t n = out_len;
	int r = PT_ERR_CRYPTO;

	if (!pc || EVP_PKEY_encrypt_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_encrypt(pc, out, &n, key, PT_ENCCONFIG_KEY_LEN) != 1 ||
	    n != out_len)
		goto out;
	r = PT_OK;
out:
	EVP_PKEY_CTX_free(pc);
	return r;
}

int pt_encconfig_build(const uint8_t *config, size_t len, X509 *phone_cert,
		       EVP_PKEY *tftp_key, X509 *tftp_cert,
		       const pt_encconfig_opts_t *opts, uint8_t **out,
		       size_t *out_len)
{
	uint8_t key[PT_ENCCONFIG_KEY_LEN], iv[PT_ENCCONFIG_IV_LEN];
	uint8_t wrapped[PT_ENCCONFIG_WRAPPED_MAX], digest[64];
	uint8_t *padded = NULL, *ct = NULL, *extra = NULL;
	unsigned int dlen = 0;
	size_t pad, ct_len, n, extra_len;
	pt_sgn_digest_t dg;
	pt_sgn_opts_t sopts;
	EVP_PKEY *pub;
	wbuf_t w;
	int r;

	*out = NULL;
	*out_len = 0;
	if (!opts || !phone_cert)
		return PT_ERR_INVALID;
	if ((r = pt_encconfig_check_config(config, len)) != PT_OK)
		return r;
	dg = opts->digest ? opts->digest : PT_SGN_SHA1;
	if (!digest_md(dg))
		return PT_ERR_INVALID;
	pub = X509_get0_pubkey(phone_cert);
	if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
		return PT_ERR_INVALID;
	n = (size_t)EVP_PKEY_get_size(pub);
	if (n < PT_ENCCONFIG_WRAPPED_MIN || n > PT_ENCCONFIG_WRAPPED_MAX)
		return PT_ERR_INVALID;

	if (opts->test_key)
		memcpy(key, opts->test_key, sizeof key);
	else if (RAND_bytes(key, sizeof key) != 1)
		return PT_ERR_CRYPTO;
	if (opts->test_iv)
		memcpy(iv, opts->test_iv, sizeof iv);
	else if (RAND_bytes(iv, sizeof iv) != 1) {
		r = PT_ERR_CRYPTO;
		goto out;
	}

	/* p = 1 to 16: a whole block of 0x0D when the length is already a
	 * multiple of 16 (not PKCS#7). */
	pad = AES_BLOCK - len % AES_BLOCK;
	ct_len = len + pad;
	if (!(padded = malloc(ct_len)) || !(ct = malloc(ct_len))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	memcpy(padded, config, len);
	memset(padded + len, PAD_BYTE, pad);
	if ((r = aes_cbc(true, key, iv, padded, ct_len, ct)) != PT_OK ||
	    (r = wrap_key(pub, key, wrapped, n)) != PT_OK)
		goto out;
	if (EVP_Digest(config, len, digest, &dlen, digest_md(dg), NULL) != 1 ||
	    dlen != digest_len(dg)) {
		r = PT_ERR_CRYPTO;
		goto out;
	}

	extra_len = 3 + (3 + 28) + (3 + 4 + 5 + 4 + 3 + n) + 4 + 3 + dlen;
	if (!(extra = malloc(extra_len))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	w = (wbuf_t){extra, 0};
	put_head(&w, PT_SGN_TAG_ENCRYPTION, 28 + 3 + 3 + 4 + 5 + 4 + 3 + n);
	put_head(&w, PT_SGN_TAG_IV_INFO, 28);
	put_item(&w, PT_SGN_TAG_IV_UNNAMED, (uint8_t[]){0}, 1);
	put_item(&w, PT_SGN_TAG_IV, iv, sizeof iv);
	put_item(&w, PT_SGN_TAG_PAD_COUNT, (uint8_t[]){0, (uint8_t)pad}, 2);
	put_head(&w, PT_SGN_TAG_KEY_INFO, 4 + 5 + 4 + 3 + n);
	put_item(&w, PT_SGN_TAG_KEY_UNNAMED, (uint8_t[]){0}, 1);
	/* Item 23 carries the wrapped key's size in bits (the phone's
	 * modulus), as compatible builders write and phones accept. */
	put_item(&w, PT_SGN_TAG_KEY_BITS,
		 (uint8_t[]){(uint8_t)((n * 8) >> 8), (uint8_t)(n * 8)}, 2);
	put_item(&w, PT_SGN_TAG_KEY_ALG, (uint8_t[]){1}, 1);
	put_item(&w, PT_SGN_TAG_WRAPPED_KEY, wrapped, n);
	put_item(&w, PT_SGN_TAG_CONTENT_DIGEST_ALG, (uint8_t[]){(uint8_t)dg},
		 1);
	put_item(&w, PT_SGN_TAG_CONTENT_DIGEST, digest, dlen);

	sopts = (pt_sgn_opts_t){dg, opts->file_name, opts->timestamp};
	r = pt_sgn_build_ext(2, extra, extra_len, ct, ct_len, tftp_key,
			     tftp_cert, &sopts, out, out_len);
out:
	OPENSSL_cleanse(key, sizeof key);
	if (padded) {
		OPENSSL_cleanse(padded, ct_len);
		free(padded);
	}
	free(ct);
	free(extra);
	return r;
}

/* ---- reading ---- */

static const char *const enc_names[PT_SGN_TAG_COUNT] = {
	[PT_SGN_TAG_ENCRYPTION] = "encryption group",
	[PT_SGN_TAG_IV_INFO] = "IV group",
	[PT_SGN_TAG_IV_UNNAMED] = "IV-group unnamed item",
	[PT_SGN_TAG_IV] = "IV",
	[PT_SGN_TAG_PAD_COUNT] = "pad count",
	[PT_SGN_TAG_KEY_INFO] = "key group",
	[PT_SGN_TAG_KEY_UNNAMED] = "key-group unnamed item",
	[PT_SGN_TAG_KEY_BITS] = "key size",
	[PT_SGN_TAG_KEY_ALG] = "key algorithm",
	[PT_SGN_TAG_WRAPPED_KEY] = "wrapped key",
	[PT_SGN_TAG_CONTENT_DIGEST_ALG] = "content digest algorithm",
	[PT_SGN_TAG_CONTENT_DIGEST] = "content digest",
};

/* The group each item sits in (0: the header itself), to point a missing
 * item's diagnosis at its group. */
static const uint8_t enc_parent[PT_SGN_TAG_COUNT] = {
	[PT_SGN_TAG_IV_INFO] = PT_SGN_TAG_ENCRYPTION,
	[PT_SGN_TAG_KEY_INFO] = PT_SGN_TAG_ENCRYPTION,
	[PT_SGN_TAG_IV_UNNAMED] = PT_SGN_TAG_IV_INFO,
	[PT_SGN_TAG_IV] = PT_SGN_TAG_IV_INFO,
	[PT_SGN_TAG_PAD_COUNT] = PT_SGN_TAG_IV_INFO,
	[PT_SGN_TAG_KEY_UNNAMED] = PT_SGN_TAG_KEY_INFO,
	[PT_SGN_TAG_KEY_BITS] = PT_SGN_TAG_KEY_INFO,
	[PT_SGN_TAG_KEY_ALG] = PT_SGN_TAG_KEY_INFO,
	[PT_SGN_TAG_WRAPPED_KEY] = PT_SGN_TAG_KEY_INFO,
};

static int need_len(const pt_sgn_raw_t *raw, uint8_t tag, size_t want,
		    pt_sgn_diag_t *diag)
{
	const pt_sgn_item_t *it = &raw->item[tag];
	if (it->len == want)
		return PT_OK;
	return fail(diag, PT_ERR_MALFORMED, it->off,
		    "item %u (%s) is %zu bytes, expected %zu", tag,
		    enc_names[tag], it->len, want);
}

static unsigned item_uint(const pt_sgn_item_t *it)
{
	pt_rbuf_t rb;
	uint16_t v16 = 0;
	uint8_t v8 = 0;

	pt_rbuf_init(&rb, it->val, it->len);
	if (it->len == 1)
		(void)pt_rbuf_get_u8(&rb, &v8);
	else
		(void)pt_rbuf_get_u16(&rb, &v16);
	return it->len == 1 ? v8 : v16;
}

/* Items 18, 22 and 24 have no documented meaning and item 23 might hold
 * another size in server-made files (spec §11): their lengths are
 * checked, their values accepted as written.  Builders write 0, 0, 1 and
 * the modulus size in bits.  Likewise item 26 need not repeat item 8: the
 * spec asks builders for the same choice but readers only for a known
 * digest whose length item 27 matches. */
static int check_enc(const pt_sgn_raw_t *raw, pt_encconfig_file_t *f,
		     pt_sgn_diag_t *diag)
{
	const pt_sgn_item_t *it = raw->item;
	int r;

	for (uint8_t t = PT_SGN_TAG_ENCRYPTION; t < PT_SGN_TAG_COUNT; t++) {
		if (it[t].present)
			continue;
		uint8_t parent = enc_parent[t];
		return fail(diag, PT_ERR_MALFORMED,
			    parent ? it[parent].off : raw->header_len,
			    "item %u (%s) missing", t, enc_names[t]);
	}
	if ((r = need_len(raw, PT_SGN_TAG_IV_UNNAMED, 1, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_IV, PT_ENCCONFIG_IV_LEN, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_PAD_COUNT, 2, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_KEY_UNNAMED, 1, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_KEY_BITS, 2, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_KEY_ALG, 1, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_CONTENT_DIGEST_ALG, 1, diag)))
		return r;

	f->pad_count = item_uint(&it[PT_SGN_TAG_PAD_COUNT]);
	if (f->pad_count < 1 || f->pad_count > AES_BLOCK)
		return fail(diag, PT_ERR_INVALID, it[PT_SGN_TAG_PAD_COUNT].off,
			    "pad count %u, expected 1 to 16", f->pad_count);
	f->wrapped_len = it[PT_SGN_TAG_WRAPPED_KEY].len;
	if (f->wrapped_len < PT_ENCCONFIG_WRAPPED_MIN)
		return fail(diag, PT_ERR_MALFORMED,
			    it[PT_SGN_TAG_WRAPPED_KEY].off,
			    "wrapped key is %zu bytes, less than a 512-bit "
			    "modulus",
			    f->wrapped_len);
	unsigned alg = item_uint(&it[PT_SGN_TAG_CONTENT_DIGEST_ALG]);
	if (alg == PT_SGN_SHA256)
		return fail(diag, PT_ERR_INVALID,
			    it[PT_SGN_TAG_CONTENT_DIGEST_ALG].off,
			    "content digest 2 (SHA-256) is not supported");
	if (alg != PT_SGN_SHA1 && alg != PT_SGN_SHA512)
		return fail(diag, PT_ERR_INVALID,
			    it[PT_SGN_TAG_CONTENT_DIGEST_ALG].off,
			    "unknown content digest algorithm %u", alg);
	f->content_digest = (pt_sgn_digest_t)alg;
	if ((r = need_len(raw, PT_SGN_TAG_CONTENT_DIGEST, digest_len((pt_sgn_digest_t)alg),
			  diag)))
		return r;
	if (raw->payload_len == 0 || raw->payload_len % AES_BLOCK)
		return fail(diag, PT_ERR_MALFORMED, raw->header_len,
			    "ciphertext is %zu bytes, not a non-zero multiple "
			    "of 16",
			    raw->payload_len);

	f->iv = it[PT_SGN_TAG_IV].val;
	f->wrapped_key = it[PT_SGN_TAG_WRAPPED_KEY].val;
	f->key_bits = item_uint(&it[PT_SGN_TAG_KEY_BITS]);
	f->key_alg = item_uint(&it[PT_SGN_TAG_KEY_ALG]);
	f->digest = it[PT_SGN_TAG_CONTENT_DIGEST].val;
	f->digest_len = it[PT_SGN_TAG_CONTENT_DIGEST].len;
	f->ciphertext = raw->payload;
	f->ciphertext_len = raw->payload_len;
	return PT_OK;
}

int pt_encconfig_parse(const uint8_t *data, size_t len,
		       pt_encconfig_file_t *out, pt_sgn_diag_t *diag)
{
	pt_encconfig_file_t f = {0};
	pt_sgn_raw_t raw;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = pt_sgn_decode(data, len, &raw, diag)) != PT_OK ||
	    (r = pt_sgn_check(&raw, 2, &f.sgn, diag)) != PT_OK ||
	    (r = check_enc(&raw, &f, diag)) != PT_OK)
		return r;
	*out = f;
	return PT_OK;
}

int pt_encconfig_verify(const pt_encconfig_file_t *f, X509 *tftp_cert,
			pt_sgn_diag_t *diag)
{
	return pt_sgn_verify(&f->sgn, tftp_cert, diag);
}

/* Every failure after the key is unwrapped reads the same to the caller
 * (PT_ERR_AUTH), whichever check caught it. */
int pt_encconfig_decrypt(const pt_encconfig_file_t *f, EVP_PKEY *phone_key,
			 uint8_t **plain, size_t *plain_len,
			 pt_sgn_diag_t *diag)
{
	uint8_t key[PT_ENCCONFIG_WRAPPED_MAX], digest[64];
	size_t key_len = sizeof key, off_key, len = 0;
	unsigned int dlen = 0;
	EVP_PKEY_CTX *pc = NULL;
	uint8_t *buf = NULL;
	int r;

	*plain = NULL;
	*plain_len = 0;
	if (f->ciphertext_len == 0 || f->ciphertext_len % AES_BLOCK ||
	    f->pad_count < 1 || f->pad_count > AES_BLOCK || !f->wrapped_key ||
	    !digest_md(f->content_digest))
		return PT_ERR_INVALID; /* not from pt_encconfig_parse() */
	off_key = f->sgn.raw.item[PT_SGN_TAG_WRAPPED_KEY].off;
	if (!phone_key || EVP_PKEY_get_base_id(phone_key) != EVP_PKEY_RSA)
		return fail(diag, PT_ERR_INVALID, off_key,
			    "the phone key is not an RSA key");
	if ((size_t)EVP_PKEY_get_size(phone_key) != f->wrapped_len)
		return fail(diag, PT_ERR_AUTH, off_key,
			    "wrapped key is %zu bytes, the phone key's modulus "
			    "%d",
			    f->wrapped_len, EVP_PKEY_get_size(phone_key));
	if (!(pc = EVP_PKEY_CTX_new(phone_key, NULL)) ||
	    EVP_PKEY_decrypt_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0) {
		r = fail(diag, PT_ERR_CRYPTO, off_key, "cannot set up RSA");
		goto out;
	}
	if (EVP_PKEY_decrypt(pc, key, &key_len, f->wrapped_key,
			     f->wrapped_len) != 1 ||
	    key_len != PT_ENCCONFIG_KEY_LEN) {
		r = fail(diag, PT_ERR_AUTH, off_key,
			 "the wrapped key does not open with this phone key");
		goto out;
	}
	if (!(buf = malloc(f->ciphertext_len))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	if ((r = aes_cbc(false, key, f->iv, f->ciphertext, f->ciphertext_len,
			 buf)) != PT_OK) {
		r = fail(diag, r, f->sgn.raw.header_len, "AES decryption failed");
		goto out;
	}
	len = f->ciphertext_len - f->pad_count;
	for (size_t i = len; i < f->ciphertext_len; i++) {
		if (buf[i] != PAD_BYTE) {
			r = fail(diag, PT_ERR_AUTH, f->sgn.raw.header_len,
				 "decrypted pad bytes are not 0x0D");
			goto out;
		}
	}
	if (EVP_Digest(buf, len, digest, &dlen, digest_md(f->content_digest),
		       NULL) != 1 ||
	    dlen != f->digest_len) {
		r = fail(diag, PT_ERR_CRYPTO, f->sgn.raw.header_len,
			 "cannot digest the plaintext");
		goto out;
	}
	if (CRYPTO_memcmp(digest, f->digest, dlen) != 0) {
		r = fail(diag, PT_ERR_AUTH,
			 f->sgn.raw.item[PT_SGN_TAG_CONTENT_DIGEST].off,
			 "content digest does not match the decrypted "
			 "configuration");
		goto out;
	}
	*plain = buf;
	*plain_len = len;
	buf = NULL;
	r = PT_OK;
out:
	OPENSSL_cleanse(key, sizeof key);
	if (buf) {
		OPENSSL_cleanse(buf, f->ciphertext_len);
		free(buf);
	}
	EVP_PKEY_CTX_free(pc);
	return r;
}

int pt_encconfig_open(const uint8_t *data, size_t len, X509 *tftp_cert,
		      EVP_PKEY *phone_key, uint8_t **plain, size_t *plain_len,
		      pt_sgn_diag_t *diag)
{
	pt_encconfig_file_t f;
	int r;

	*plain = NULL;
	*plain_len = 0;
	if ((r = pt_encconfig_parse(data, len, &f, diag)) != PT_OK ||
	    (r = pt_encconfig_verify(&f, tftp_cert, diag)) != PT_OK)
		return r;
	return pt_encconfig_decrypt(&f, phone_key, plain, plain_len, diag);
}

int pt_encconfig_cert_hash(X509 *cert, char out[PT_ENCCONFIG_CERT_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *der = NULL;
	uint8_t md[16];
	unsigned int mdlen = 0;
	int n, r = PT_ERR_CRYPTO;

	out[0] = '\0';
	if (!cert)
		return PT_ERR_INVALID;
	if ((n = i2d_X509(cert, &der)) <= 0)
		return PT_ERR_CRYPTO;
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_md5(), NULL) != 1 ||
	    mdlen != sizeof md)
		goto out;
	for (size_t i = 0; i < sizeof md; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[PT_ENCCONFIG_CERT_HASH_LEN] = '\0';
	r = PT_OK;
out:
	OPENSSL_free(der);
	return r;
}
