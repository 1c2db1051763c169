#include "lib/capf_auth.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"

static int fail(int err, const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

static const EVP_MD *hash_md(uint8_t hash_id)
{
	switch (hash_id) {
	case PT_CAPF_HASH_SHA1:
		return EVP_sha1();
	case PT_CAPF_HASH_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Digests the concatenation of up to three parts. */
static int digest_parts(uint8_t hash_id, const void *a, size_t alen,
			const void *b, size_t blen, const void *c, size_t clen,
			uint8_t *out, size_t *out_len)
{
	const EVP_MD *md = hash_md(hash_id);
	EVP_MD_CTX *ctx = NULL;
	unsigned int n = 0;
	int r = PT_ERR_CRYPTO;

	if (!md)
		return PT_ERR_INVALID;
	if (!(ctx = EVP_MD_CTX_new()))
		return PT_ERR_NOMEM;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    (alen && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    (clen && EVP_DigestUpdate(ctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		goto out;
	*out_len = n;
	r = PT_OK;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

int pt_capf_auth_digest(uint8_t hash_id, const char *name, size_t name_len,
			const uint8_t *cert, size_t cert_len, uint8_t *out,
			size_t *out_len)
{
	static const uint8_t zero = 0;
	return digest_parts(hash_id, name, name_len, &zero, 1, cert, cert_len,
			    out, out_len);
}

int pt_capf_sudi_digest(uint8_t hash_id, uint32_t session_id,
			const uint8_t *cert, size_t cert_len, uint8_t *out,
			size_t *out_len)
{
	/* Little-endian on purpose: phones sign the id the way the vendor's
	 * server held it in memory (§6.5). */
	const uint8_t id[4] = {(uint8_t)session_id, (uint8_t)(session_id >> 8),
			       (uint8_t)(session_id >> 16),
			       (uint8_t)(session_id >> 24)};
	return digest_parts(hash_id, id, sizeof id, cert, cert_len, NULL, 0,
			    out, out_len);
}

/* DER DigestInfo prefixes (RFC 8017 §9.2 note 1) for the two digests. */
static const uint8_t digest_info_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06,
					   0x05, 0x2b, 0x0e, 0x03, 0x02,
					   0x1a, 0x05, 0x00, 0x04, 0x14};
static const uint8_t digest_info_sha512[] = {
	0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

/* Writes 00 01 FF.. 00 || prefix || digest into em (k bytes); false
 * when k leaves room for fewer than eight FF bytes. */
static bool type1_block(uint8_t *em, size_t k, const uint8_t *prefix,
			size_t prefix_len, const uint8_t *digest,
			size_t digest_len)
{
	size_t t = prefix_len + digest_len;
	if (k < t + 11)
		return false;
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, k - t - 3);
	em[k - t - 1] = 0x00;
	if (prefix_len)
		memcpy(em + k - t, prefix, prefix_len);
	memcpy(em + k - digest_len, digest, digest_len);
	return true;
}

static bool digest_fits(uint8_t hash_id, size_t digest_len)
{
	const EVP_MD *md = hash_md(hash_id);
	return md && (size_t)EVP_MD_get_size(md) == digest_len;
}

static void digest_info(uint8_t hash_id, const uint8_t **prefix,
			size_t *len)
{
	if (hash_id == PT_CAPF_HASH_SHA1) {
		*prefix = digest_info_sha1;
		*len = sizeof digest_info_sha1;
	} else {
		*prefix = digest_info_sha512;
		*len = sizeof digest_info_sha512;
	}
}

/* The RSA private-key operation on a block we pad ourselves, so the
 * phone's form (bare digest) and the standard one come from one path. */
static int rsa_sign(EVP_PKEY *key, uint8_t hash_id, const uint8_t *digest,
		    size_t digest_len, unsigned flags, uint8_t **sig,
		    size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *em = NULL, *out = NULL;
	const uint8_t *prefix = NULL;
	size_t prefix_len = 0, k = (size_t)EVP_PKEY_get_size(key), n = k;
	int r = PT_ERR_NOMEM;

	if (flags & PT_CAPF_SIGN_DIGEST_INFO)
		digest_info(hash_id, &prefix, &prefix_len);
	if (!(em = malloc(k)) || !(out = malloc(k)))
		goto out;
	r = PT_ERR_INVALID;
	if (!type1_block(em, k, prefix, prefix_len, digest, digest_len))
		goto out;
	r = PT_ERR_CRYPTO;
	if (!(ctx = EVP_PKEY_CTX_new(key, NULL)) ||
	    EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) != 1 ||
	    EVP_PKEY_sign(ctx, out, &n, em, k) != 1 || n != k)
		goto out;
	*sig = out;
	*sig_len = n;
	out = NULL;
	r = PT_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	free(em);
	free(out);
	return r;
}

static int ec_sign(EVP_PKEY *key, const uint8_t *digest, size_t digest_len,
		   uint8_t **sig, size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *out = NULL;
	size_t n = 0;
	int r = PT_ERR_CRYPTO;

	if (!(ctx = EVP_PKEY_CTX_new(key, NULL)) ||
	    EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, NULL, &n, digest, digest_len) != 1)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(out = malloc(n)))
		goto out;
	r = PT_ERR_CRYPTO;
	if (EVP_PKEY_sign(ctx, out, &n, digest, digest_len) != 1)
		goto out;
	*sig = out;
	*sig_len = n;
	out = NULL;
	r = PT_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	free(out);
	return r;
}

int pt_capf_sign_digest(EVP_PKEY *key, uint8_t hash_id,
			const uint8_t *digest, size_t digest_len,
			unsigned flags, uint8_t **sig, size_t *sig_len)
{
	*sig = NULL;
	*sig_len = 0;
	if (!key || !digest_fits(hash_id, digest_len))
		return PT_ERR_INVALID;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return rsa_sign(key, hash_id, digest, digest_len, flags, sig,
				sig_len);
	case EVP_PKEY_EC:
		return ec_sign(key, digest, digest_len, sig, sig_len);
	default:
		return PT_ERR_UNSUPPORTED;
	}
}

/* The public-key operation s^e mod n as k bytes, compared with the two
 * blocks we accept.  RSA_NO_PADDING makes OpenSSL refuse a signature that
 * is not exactly k bytes or not below n. */
static int rsa_verify(EVP_PKEY *key, uint8_t hash_id, const uint8_t *digest,
		      size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *m = NULL, *em = NULL;
	const uint8_t *prefix;
	size_t prefix_len, k = (size_t)EVP_PKEY_get_size(key), n = k;
	int r = PT_ERR_AUTH;

	if (sig_len != k)
		return PT_ERR_AUTH;
	if (!(m = malloc(k)) || !(em = malloc(k))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	if (!(ctx = EVP_PKEY_CTX_new(key, NULL)) ||
	    EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) != 1 ||
	    EVP_PKEY_encrypt(ctx, m, &n, sig, sig_len) != 1 || n != k)
		goto out;
	if (type1_block(em, k, NULL, 0, digest, digest_len) &&
	    memcmp(em, m, k) == 0) {
		r = PT_OK;
		goto out;
	}
	digest_info(hash_id, &prefix, &prefix_len);
	if (type1_block(em, k, prefix, prefix_len, digest, digest_len) &&
	    memcmp(em, m, k) == 0)
		r = PT_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	free(m);
	free(em);
	return r;
}

static int ec_verify(EVP_PKEY *key, const uint8_t *digest,
		     size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	int ok = ctx && EVP_PKEY_verify_init(ctx) == 1 &&
		 EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? PT_OK : PT_ERR_AUTH;
}

int pt_capf_verify_digest(EVP_PKEY *key, uint8_t hash_id,
			  const uint8_t *digest, size_t digest_len,
			  const uint8_t *sig, size_t sig_len)
{
	int r = PT_ERR_AUTH;

	if (!key || !sig || sig_len == 0 ||
	    !digest_fits(hash_id, digest_len))
		return PT_ERR_AUTH;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		r = rsa_verify(key, hash_id, digest, digest_len, sig, sig_len);
		break;
	case EVP_PKEY_EC:
		r = ec_verify(key, digest, digest_len, sig, sig_len);
		break;
	default:
		break;
	}
	/* A signature that does not verify is a verdict, not a library
	 * failure: leave no stale entries in the error queue. */
	ERR_clear_error();
	return r;
}

void pt_capf_sigs_clear(pt_capf_sigs_t *s)
{
	if (!s)
		return;
	free(s->sha1);
	free(s->sha512);
	memset(s, 0, sizeof *s);
}

/* Signs the SHA-1 and SHA-512 digests that digest() makes of one
 * message. */
static int sign_pair(EVP_PKEY *key, const uint8_t *d1, size_t d1_len,
		     const uint8_t *d2, size_t d2_len, unsigned flags,
		     pt_capf_sigs_t *out)
{
	pt_capf_sigs_t s = {0};
	int r = pt_capf_sign_digest(key, PT_CAPF_HASH_SHA1, d1, d1_len, flags,
				    &s.sha1, &s.sha1_len);
	if (r == PT_OK)
		r = pt_capf_sign_digest(key, PT_CAPF_HASH_SHA512, d2, d2_len,
					flags, &s.sha512, &s.sha512_len);
	if (r != PT_OK) {
		pt_capf_sigs_clear(&s);
		return r;
	}
	*out = s;
	return PT_OK;
}

int pt_capf_auth_sign(EVP_PKEY *key, const char *device_name,
		      const uint8_t *cert, size_t cert_len, unsigned flags,
		      pt_capf_sigs_t *out)
{
	uint8_t d1[PT_CAPF_DIGEST_MAX], d2[PT_CAPF_DIGEST_MAX];
	size_t d1_len, d2_len;
	size_t name_len = device_name ? strlen(device_name) : 0;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = pt_capf_auth_digest(PT_CAPF_HASH_SHA1, device_name, name_len,
				     cert, cert_len, d1, &d1_len)) != PT_OK ||
	    (r = pt_capf_auth_digest(PT_CAPF_HASH_SHA512, device_name,
				     name_len, cert, cert_len, d2,
				     &d2_len)) != PT_OK)
		return r;
	return sign_pair(key, d1, d1_len, d2, d2_len, flags, out);
}

int pt_capf_sudi_sign(EVP_PKEY *key, uint32_t session_id,
		      const uint8_t *cert, size_t cert_len, unsigned flags,
		      pt_capf_sigs_t *out)
{
	uint8_t d1[PT_CAPF_DIGEST_MAX], d2[PT_CAPF_DIGEST_MAX];
	size_t d1_len, d2_len;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = pt_capf_sudi_digest(PT_CAPF_HASH_SHA1, session_id, cert,
				     cert_len, d1, &d1_len)) != PT_OK ||
	    (r = pt_capf_sudi_digest(PT_CAPF_HASH_SHA512, session_id, cert,
				     cert_len, d2, &d2_len)) != PT_OK)
		return r;
	return sign_pair(key, d1, d1_len, d2, d2_len, flags, out);
}

static bool rsa_or_ec(const EVP_PKEY *key)
{
	int id = key ? EVP_PKEY_get_base_id(key) : EVP_PKEY_NONE;
	return id == EVP_PKEY_RSA || id == EVP_PKEY_EC;
}

/* RSA PKCS#1 v1.5 or ECDSA, the two signature schemes §6.3 names. */
static bool scheme_ok(const X509 *cert)
{
	int md_nid = NID_undef, pkey_nid = NID_undef;
	int sig_nid = X509_get_signature_nid(cert);
	if (!OBJ_find_sigid_algs(sig_nid, &md_nid, &pkey_nid))
		return false;
	return pkey_nid == NID_rsaEncryption ||
	       pkey_nid == NID_X9_62_id_ecPublicKey;
}

int pt_capf_trust_find(X509 *cert, X509 *const *trust, size_t n,
		       size_t *index)
{
	int r = PT_ERR_AUTH;

	if (!cert || !scheme_ok(cert))
		return PT_ERR_AUTH;
	for (size_t i = 0; i < n; i++) {
		EVP_PKEY *key = trust[i] ? X509_get0_pubkey(trust[i]) : NULL;
		if (!rsa_or_ec(key))
			continue;
		if (X509_NAME_cmp(X509_get_subject_name(trust[i]),
				  X509_get_issuer_name(cert)) != 0)
			continue;
		if (X509_verify(cert, key) == 1) {
			if (index)
				*index = i;
			r = PT_OK;
			break;
		}
	}
	ERR_clear_error();
	return r;
}

void pt_capf_auth_result_clear(pt_capf_auth_result_t *res)
{
	if (!res)
		return;
	X509_free(res->cert);
	memset(res, 0, sizeof *res);
}

/* Verifies a SHA-1 / SHA-512 pair over the digests of one message. */
static int verify_pair(EVP_PKEY *key, const uint8_t *d1, size_t d1_len,
		       const uint8_t *s1, size_t s1_len, const uint8_t *d2,
		       size_t d2_len, const uint8_t *s2, size_t s2_len)
{
	if (pt_capf_verify_digest(key, PT_CAPF_HASH_SHA1, d1, d1_len, s1,
				  s1_len) != PT_OK ||
	    pt_capf_verify_digest(key, PT_CAPF_HASH_SHA512, d2, d2_len, s2,
				  s2_len) != PT_OK)
		return PT_ERR_AUTH;
	return PT_OK;
}

static int check_sudi(const pt_capf_sudi_t *s, uint32_t session_id,
		      X509 *const *trust, size_t n,
		      pt_capf_auth_result_t *res, const char **why)
{
	uint8_t d1[PT_CAPF_DIGEST_MAX], d2[PT_CAPF_DIGEST_MAX];
	size_t d1_len, d2_len;
	X509 *sudi = NULL;
	int r;

	res->sudi_present = true;
	if (pt_certs_decode_der(s->cert, s->cert_len, &sudi) != PT_OK) {
		r = fail(PT_ERR_AUTH, why,
			 "SUDI certificate is not one DER X.509 certificate");
		goto out;
	}
	EVP_PKEY *key = X509_get0_pubkey(sudi);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		ERR_clear_error();
		/* §6.5: phones with EC SUDI keys are let through unchecked. */
		res->sudi_skipped = true;
		r = PT_OK;
		goto out;
	}
	if (pt_capf_trust_find(sudi, trust, n, &res->sudi_trust_index) !=
	    PT_OK) {
		r = fail(PT_ERR_AUTH, why,
			 "no trust certificate issued the SUDI certificate");
		goto out;
	}
	if (s->sha2_hash_id != PT_CAPF_HASH_SHA512) {
		r = fail(PT_ERR_AUTH, why, "SUDI hash id is not 3 (SHA-512)");
		goto out;
	}
	if ((r = pt_capf_sudi_digest(PT_CAPF_HASH_SHA1, session_id, s->cert,
				     s->cert_len, d1, &d1_len)) != PT_OK ||
	    (r = pt_capf_sudi_digest(PT_CAPF_HASH_SHA512, session_id, s->cert,
				     s->cert_len, d2, &d2_len)) != PT_OK)
		goto out;
	r = verify_pair(key, d1, d1_len, s->sig_sha1, s->sig_sha1_len, d2,
			d2_len, s->sig_sha512, s->sig_sha512_len);
	if (r != PT_OK)
		fail(r, why, "SUDI signatures do not verify");
out:
	X509_free(sudi);
	return r;
}

int pt_capf_auth_check(const pt_capf_msg_t *m, uint32_t session_id,
		       X509 *const *trust, size_t n,
		       pt_capf_auth_result_t *res, const char **why)
{
	uint8_t d1[PT_CAPF_DIGEST_MAX], d2[PT_CAPF_DIGEST_MAX];
	size_t d1_len, d2_len;
	pt_capf_auth_result_t out = {0};
	int r;

	memset(res, 0, sizeof *res);
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_CERTIFICATE) ||
	    !pt_capf_msg_has(m, PT_CAPF_TAG_SIGNED_DATA) ||
	    !pt_capf_msg_has(m, PT_CAPF_TAG_SHA2_SIGNED_DATA)) {
		r = fail(PT_ERR_AUTH, why,
			 "CERTIFICATE, SIGNED_DATA and SHA2_SIGNED_DATA are "
			 "all required");
		goto out;
	}
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_DEVICE_NAME)) {
		r = fail(PT_ERR_AUTH, why, "no DEVICE_NAME to sign");
		goto out;
	}
	if (m->sha2_hash_id != PT_CAPF_HASH_SHA512) {
		r = fail(PT_ERR_AUTH, why,
			 "SHA2_SIGNED_DATA hash id is not 3 (SHA-512)");
		goto out;
	}
	if (pt_certs_decode_der(m->cert, m->cert_len, &out.cert) != PT_OK) {
		r = fail(PT_ERR_AUTH, why,
			 "CERTIFICATE is not one DER X.509 certificate");
		goto out;
	}
	EVP_PKEY *key = X509_get0_pubkey(out.cert);
	if (!rsa_or_ec(key)) {
		ERR_clear_error();
		r = fail(PT_ERR_AUTH, why,
			 "certificate key is neither RSA nor EC");
		goto out;
	}
	if ((r = pt_capf_auth_digest(PT_CAPF_HASH_SHA1, m->device_name,
				     m->device_name_len, m->cert, m->cert_len,
				     d1, &d1_len)) != PT_OK ||
	    (r = pt_capf_auth_digest(PT_CAPF_HASH_SHA512, m->device_name,
				     m->device_name_len, m->cert, m->cert_len,
				     d2, &d2_len)) != PT_OK) {
		fail(r, why, "cannot digest the signed data");
		goto out;
	}
	if (pt_capf_verify_digest(key, PT_CAPF_HASH_SHA1, d1, d1_len,
				  m->signed_data,
				  m->signed_data_len) != PT_OK) {
		r = fail(PT_ERR_AUTH, why, "SIGNED_DATA does not verify");
		goto out;
	}
	if (pt_capf_verify_digest(key, PT_CAPF_HASH_SHA512, d2, d2_len,
				  m->sha2_signed_data,
				  m->sha2_signed_data_len) != PT_OK) {
		r = fail(PT_ERR_AUTH, why, "SHA2_SIGNED_DATA does not verify");
		goto out;
	}
	if (pt_capf_trust_find(out.cert, trust, n, &out.trust_index) !=
	    PT_OK) {
		r = fail(PT_ERR_AUTH, why,
			 "no trust certificate issued the certificate");
		goto out;
	}
	if (pt_capf_msg_has(m, PT_CAPF_TAG_SUDI_DATA)) {
		r = check_sudi(&m->sudi, session_id, trust, n, &out, why);
		if (r != PT_OK)
			goto out;
	}
	*res = out;
	memset(&out, 0, sizeof out);
	if (why)
		*why = NULL;
	r = PT_OK;
out:
	pt_capf_auth_result_clear(&out);
	return r;
}
