/* CAPF certificate authentication (spec §6.3-§6.5) with real keys: the
 * RSA block of §6.4 and §12 byte for byte, ECDSA, SUDI data, the strict
 * reading of A7, and the one-level trust check. */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "capf_vectors.h"
#include "lib/capf_auth.h"
#include "lib/capf_msg.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testcert.h"

static EVP_PKEY *rsa512, *rsa1024, *rsa2048, *ec256, *ec384, *ca_key,
	*other_key, *mfg_key, *ed_key;
static X509 *ca, *impostor, *mfg_ca, *ed_ca;
static uint8_t *buf;

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	ck_assert_ptr_nonnull(k);
	return k;
}

static EVP_PKEY *ec_key(const char *group)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* A certificate for key, CN=cn, issued by issuer_cert/issuer_key. */
static X509 *issue(EVP_PKEY *key, const char *cn, X509 *issuer_cert,
		   EVP_PKEY *issuer_key, const EVP_MD *md)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	ck_assert(x && name);
	ck_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1,
					     0));
	ck_assert(X509_set_version(x, X509_VERSION_3));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 42));
	ck_assert(X509_set_subject_name(x, name));
	ck_assert(X509_set_issuer_name(x,
				       X509_get_subject_name(issuer_cert)));
	/* Expired long ago: dates are not checked (§6.3). */
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(x), -86400L * 400));
	ck_assert(X509_gmtime_adj(X509_getm_notAfter(x), -86400L * 30));
	ck_assert(X509_set_pubkey(x, key));
	ck_assert(X509_sign(x, issuer_key, md) > 0);
	X509_NAME_free(name);
	return x;
}

static void der_of(X509 *x, uint8_t **der, size_t *len)
{
	ck_assert_int_eq(pt_certs_encode_der(x, der, len), PT_OK);
}

static void setup(void)
{
	rsa512 = rsa_key(512);
	rsa1024 = rsa_key(1024);
	rsa2048 = rsa_key(2048);
	ec256 = ec_key("P-256");
	ec384 = ec_key("P-384");
	ca_key = rsa_key(2048);
	other_key = rsa_key(2048);
	mfg_key = ec_key("P-384");
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(ed_key);
	ca = pt_testcert(ca_key, "CAPF-0badcafe", 1);
	/* Same subject as the CAPF certificate, another key. */
	impostor = pt_testcert(other_key, "CAPF-0badcafe", 2);
	mfg_ca = pt_testcert(mfg_key, "Manufacturing CA", 3);
	ed_ca = pt_testcert(ed_key, "CAPF-0badcafe", 4);
	buf = malloc(PT_CAPF_MSG_MAX);
	ck_assert_ptr_nonnull(buf);
}

static void teardown(void)
{
	EVP_PKEY *keys[] = {rsa512, rsa1024, rsa2048, ec256,    ec384,
			    ca_key, other_key, mfg_key, ed_key};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		EVP_PKEY_free(keys[i]);
	X509_free(ca);
	X509_free(impostor);
	X509_free(mfg_ca);
	X509_free(ed_ca);
	free(buf);
}

/* s^e mod n as k bytes: what the signer put in the block. */
static size_t recover(EVP_PKEY *key, const uint8_t *sig, size_t sig_len,
		      uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t n = (size_t)EVP_PKEY_get_size(key);
	ck_assert(ctx && EVP_PKEY_encrypt_init(ctx) == 1 &&
		  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
		  EVP_PKEY_encrypt(ctx, out, &n, sig, sig_len) == 1);
	EVP_PKEY_CTX_free(ctx);
	return n;
}

/* The private-key operation on a block made by the test. */
static void raw_sign(EVP_PKEY *key, const uint8_t *block, uint8_t *sig)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t k = (size_t)EVP_PKEY_get_size(key), n = k;
	ck_assert(ctx && EVP_PKEY_sign_init(ctx) == 1 &&
		  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
		  EVP_PKEY_sign(ctx, sig, &n, block, k) == 1 && n == k);
	EVP_PKEY_CTX_free(ctx);
}

START_TEST(signed_data_digests)
{
	const uint8_t cert[] = {0x30, 0x82, 0x01, 0x00, 0xaa};
	uint8_t want[64], got[64];
	unsigned int wl;
	size_t gl;

	uint8_t auth[15 + 1 + sizeof cert];
	memcpy(auth, CAPF_VEC_DEVICE, 15);
	auth[15] = 0;
	memcpy(auth + 16, cert, sizeof cert);
	/* §12: auth_data begins 53 45 50 ... 35 35 00 30 82. */
	const uint8_t head[] = {0x53, 0x45, 0x50, 0x30, 0x30, 0x31, 0x31, 0x32,
				0x32, 0x33, 0x33, 0x34, 0x34, 0x35, 0x35, 0x00,
				0x30, 0x82};
	ck_assert_mem_eq(auth, head, sizeof head);
	ck_assert(EVP_Digest(auth, sizeof auth, want, &wl, EVP_sha1(), NULL));
	ck_assert_int_eq(pt_capf_auth_digest(PT_CAPF_HASH_SHA1, CAPF_VEC_DEVICE,
					     15, cert, sizeof cert, got, &gl),
			 PT_OK);
	ck_assert_uint_eq(gl, 20);
	ck_assert_mem_eq(got, want, 20);
	ck_assert(EVP_Digest(auth, sizeof auth, want, &wl, EVP_sha512(),
			     NULL));
	ck_assert_int_eq(pt_capf_auth_digest(PT_CAPF_HASH_SHA512,
					     CAPF_VEC_DEVICE, 15, cert,
					     sizeof cert, got, &gl),
			 PT_OK);
	ck_assert_uint_eq(gl, 64);
	ck_assert_mem_eq(got, want, 64);
	ck_assert_int_eq(pt_capf_auth_digest(PT_CAPF_HASH_SHA256,
					     CAPF_VEC_DEVICE, 15, cert,
					     sizeof cert, got, &gl),
			 PT_ERR_INVALID);

	/* §12: SUDI signed data for session 1 begins 01 00 00 00 30 82. */
	uint8_t sudi[4 + sizeof cert] = {0x01, 0x00, 0x00, 0x00};
	memcpy(sudi + 4, cert, sizeof cert);
	ck_assert(EVP_Digest(sudi, sizeof sudi, want, &wl, EVP_sha1(), NULL));
	ck_assert_int_eq(pt_capf_sudi_digest(PT_CAPF_HASH_SHA1, 1, cert,
					     sizeof cert, got, &gl),
			 PT_OK);
	ck_assert_mem_eq(got, want, 20);
	/* Not the big-endian id. */
	ck_assert_int_eq(pt_capf_sudi_digest(PT_CAPF_HASH_SHA1, 0x01000000u,
					     cert, sizeof cert, got, &gl),
			 PT_OK);
	ck_assert_mem_ne(got, want, 20);
}
END_TEST

/* §12: for a 2048-bit key the block is 00 01, 233 (SHA-1) or 189
 * (SHA-512) FF bytes, 00 and the bare digest. */
START_TEST(rsa_block_known_answer)
{
	uint8_t d[64], block[256];
	uint8_t *sig = NULL;
	size_t dl, sl;
	const uint8_t cert[] = {0x30, 0x00};
	const struct {
		uint8_t hash;
		size_t ff;
		size_t dlen;
	} cases[] = {{PT_CAPF_HASH_SHA1, 233, 20}, {PT_CAPF_HASH_SHA512, 189, 64}};

	for (size_t c = 0; c < 2; c++) {
		ck_assert_int_eq(pt_capf_auth_digest(cases[c].hash, "SEP1", 4,
						     cert, 2, d, &dl),
				 PT_OK);
		ck_assert_int_eq(pt_capf_sign_digest(rsa2048, cases[c].hash, d,
						     dl, 0, &sig, &sl),
				 PT_OK);
		ck_assert_uint_eq(sl, 256);
		ck_assert_uint_eq(recover(rsa2048, sig, sl, block), 256);
		ck_assert_uint_eq(block[0], 0x00);
		ck_assert_uint_eq(block[1], 0x01);
		for (size_t i = 0; i < cases[c].ff; i++)
			ck_assert_uint_eq(block[2 + i], 0xff);
		ck_assert_uint_eq(block[2 + cases[c].ff], 0x00);
		ck_assert_uint_eq(3 + cases[c].ff + cases[c].dlen, 256);
		ck_assert_mem_eq(block + 3 + cases[c].ff, d, cases[c].dlen);
		ck_assert_int_eq(pt_capf_verify_digest(rsa2048, cases[c].hash,
						       d, dl, sig, sl),
				 PT_OK);

		/* What OpenSSL's PKCS#1 padding with no digest set gives:
		 * the same deterministic signature. */
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa2048, NULL);
		uint8_t ref[256];
		size_t rl = sizeof ref;
		ck_assert(ctx && EVP_PKEY_sign_init(ctx) == 1 &&
			  EVP_PKEY_CTX_set_rsa_padding(ctx,
						       RSA_PKCS1_PADDING) == 1 &&
			  EVP_PKEY_sign(ctx, ref, &rl, d, dl) == 1);
		EVP_PKEY_CTX_free(ctx);
		ck_assert_uint_eq(rl, 256);
		ck_assert_mem_eq(ref, sig, 256);
		free(sig);
		sig = NULL;
	}
}
END_TEST

START_TEST(sign_and_verify_every_key)
{
	EVP_PKEY *keys[] = {rsa1024, rsa2048, ec256, ec384};
	const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	for (size_t i = 0; i < 4; i++) {
		for (uint8_t h = PT_CAPF_HASH_SHA1; h <= PT_CAPF_HASH_SHA512;
		     h += 2) {
			uint8_t d[64];
			size_t dl, sl;
			uint8_t *sig = NULL;
			ck_assert_int_eq(pt_capf_auth_digest(h, "SEPAB", 5,
							     cert, sizeof cert,
							     d, &dl),
					 PT_OK);
			ck_assert_int_eq(pt_capf_sign_digest(keys[i], h, d, dl,
							     0, &sig, &sl),
					 PT_OK);
			ck_assert_int_eq(pt_capf_verify_digest(keys[i], h, d,
							       dl, sig, sl),
					 PT_OK);
			/* Tampered digest, signature, length; other key;
			 * other hash. */
			d[0] ^= 1;
			ck_assert_int_eq(pt_capf_verify_digest(keys[i], h, d,
							       dl, sig, sl),
					 PT_ERR_AUTH);
			d[0] ^= 1;
			sig[sl / 2] ^= 0x40;
			ck_assert_int_eq(pt_capf_verify_digest(keys[i], h, d,
							       dl, sig, sl),
					 PT_ERR_AUTH);
			sig[sl / 2] ^= 0x40;
			ck_assert_int_eq(pt_capf_verify_digest(keys[i], h, d,
							       dl, sig,
							       sl - 1),
					 PT_ERR_AUTH);
			ck_assert_int_eq(pt_capf_verify_digest(
						 keys[(i + 1) % 4], h, d, dl,
						 sig, sl),
					 PT_ERR_AUTH);
			ck_assert_int_eq(pt_capf_verify_digest(keys[i], h,
							       d, dl - 1, sig,
							       sl),
					 PT_ERR_AUTH);
			free(sig);
		}
	}
	/* A 512-bit key signs a SHA-1 digest but cannot hold SHA-512. */
	uint8_t d[64] = {0};
	uint8_t *sig = NULL;
	size_t sl;
	ck_assert_int_eq(pt_capf_sign_digest(rsa512, PT_CAPF_HASH_SHA1, d, 20,
					     0, &sig, &sl),
			 PT_OK);
	ck_assert_int_eq(pt_capf_verify_digest(rsa512, PT_CAPF_HASH_SHA1, d,
					       20, sig, sl),
			 PT_OK);
	free(sig);
	ck_assert_int_eq(pt_capf_sign_digest(rsa512, PT_CAPF_HASH_SHA512, d,
					     64, 0, &sig, &sl),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(sig);
	ck_assert_int_eq(pt_capf_sign_digest(ed_key, PT_CAPF_HASH_SHA1, d, 20,
					     0, &sig, &sl),
			 PT_ERR_UNSUPPORTED);
	ck_assert_int_eq(pt_capf_sign_digest(rsa2048, PT_CAPF_HASH_SHA1, d,
					     64, 0, &sig, &sl),
			 PT_ERR_INVALID);
}
END_TEST

/* A7: the strict block, with DigestInfo as the one variant. */
START_TEST(rsa_strict_reading)
{
	uint8_t d[20], sig[256], block[256];
	uint8_t *s = NULL;
	size_t sl;
	const uint8_t cert[] = {0x30, 0x00};
	ck_assert_int_eq(pt_capf_auth_digest(PT_CAPF_HASH_SHA1, "X", 1, cert,
					     2, d, &sl),
			 PT_OK);

	/* The DigestInfo form: ours, and a standard signature made the
	 * usual way over auth_data. */
	ck_assert_int_eq(pt_capf_sign_digest(rsa2048, PT_CAPF_HASH_SHA1, d, 20,
					     PT_CAPF_SIGN_DIGEST_INFO, &s, &sl),
			 PT_OK);
	ck_assert_int_eq(pt_capf_verify_digest(rsa2048, PT_CAPF_HASH_SHA1, d,
					       20, s, sl),
			 PT_OK);
	const uint8_t auth[] = {'X', 0, 0x30, 0x00};
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	uint8_t std[256];
	size_t stdl = sizeof std;
	ck_assert(mctx && EVP_DigestSignInit(mctx, NULL, EVP_sha1(), NULL,
					     rsa2048) == 1 &&
		  EVP_DigestSign(mctx, std, &stdl, auth, sizeof auth) == 1);
	EVP_MD_CTX_free(mctx);
	ck_assert_uint_eq(stdl, sl);
	ck_assert_mem_eq(std, s, sl);
	free(s);

	/* Blocks the reference would take (the digest trails) but are not
	 * one of the two forms. */
	uint8_t *forms[3];
	for (size_t i = 0; i < 3; i++) {
		forms[i] = malloc(256);
		memset(forms[i], 0xff, 256);
		forms[i][0] = 0x00;
		forms[i][1] = 0x01;
		forms[i][235] = 0x00;
		memcpy(forms[i] + 236, d, 20);
	}
	forms[0][1] = 0x02;  /* block type 2 */
	forms[1][100] = 0xfe; /* a padding byte that is not FF */
	forms[2][230] = 0x00; /* separator early: junk before the digest */
	for (size_t i = 0; i < 3; i++) {
		raw_sign(rsa2048, forms[i], sig);
		ck_assert_msg(pt_capf_verify_digest(rsa2048, PT_CAPF_HASH_SHA1,
						    d, 20, sig, 256) ==
				      PT_ERR_AUTH,
			      "form %zu", i);
		ck_assert_uint_eq(recover(rsa2048, sig, 256, block), 256);
		ck_assert_mem_eq(block + 236, d, 20);
	}
	for (size_t i = 0; i < 3; i++)
		free(forms[i]);

	/* The exact block, made here, does verify: the refusals above are
	 * about the padding, not the method. */
	uint8_t ok[256];
	memset(ok, 0xff, sizeof ok);
	ok[0] = 0;
	ok[1] = 1;
	ok[235] = 0;
	memcpy(ok + 236, d, 20);
	raw_sign(rsa2048, ok, sig);
	ck_assert_int_eq(pt_capf_verify_digest(rsa2048, PT_CAPF_HASH_SHA1, d,
					       20, sig, 256),
			 PT_OK);
	/* A signature with a leading zero dropped, or padded to k + 1. */
	uint8_t longer[257] = {0};
	memcpy(longer + 1, sig, 256);
	ck_assert_int_eq(pt_capf_verify_digest(rsa2048, PT_CAPF_HASH_SHA1, d,
					       20, longer, 257),
			 PT_ERR_AUTH);
	/* A signature not below n. */
	memset(sig, 0xff, sizeof sig);
	ck_assert_int_eq(pt_capf_verify_digest(rsa2048, PT_CAPF_HASH_SHA1, d,
					       20, sig, 256),
			 PT_ERR_AUTH);
}
END_TEST

START_TEST(trust_check)
{
	X509 *phone = issue(rsa2048, "SEP001122334455", ca, ca_key,
			    EVP_sha256());
	size_t idx = 99;

	X509 *only_ca[] = {ca};
	ck_assert_int_eq(pt_capf_trust_find(phone, only_ca, 1, &idx), PT_OK);
	ck_assert_uint_eq(idx, 0);
	/* Same subject, other key: refused alone, passed over when the
	 * real issuer follows; a non-RSA/EC key with that subject too. */
	X509 *imp[] = {impostor};
	ck_assert_int_eq(pt_capf_trust_find(phone, imp, 1, &idx), PT_ERR_AUTH);
	X509 *both[] = {ed_ca, mfg_ca, impostor, ca};
	ck_assert_int_eq(pt_capf_trust_find(phone, both, 4, &idx), PT_OK);
	ck_assert_uint_eq(idx, 3);
	X509 *ed[] = {ed_ca};
	ck_assert_int_eq(pt_capf_trust_find(phone, ed, 1, &idx), PT_ERR_AUTH);
	ck_assert_int_eq(pt_capf_trust_find(phone, NULL, 0, &idx),
			 PT_ERR_AUTH);
	/* A self-signed phone certificate is its own issuer only if it is
	 * in the set. */
	X509 *self = pt_testcert(rsa1024, "SEP001122334455", 5);
	ck_assert_int_eq(pt_capf_trust_find(self, only_ca, 1, &idx),
			 PT_ERR_AUTH);
	X509 *selfset[] = {ca, self};
	ck_assert_int_eq(pt_capf_trust_find(self, selfset, 2, &idx), PT_OK);
	ck_assert_uint_eq(idx, 1);

	/* An EC issuer and a SHA-1 signature (old MICs). */
	X509 *mic = issue(ec256, "SEP001122334455", mfg_ca, mfg_key,
			  EVP_sha1());
	X509 *mfg[] = {ca, mfg_ca};
	ck_assert_int_eq(pt_capf_trust_find(mic, mfg, 2, &idx), PT_OK);
	ck_assert_uint_eq(idx, 1);
	/* An Ed25519 issuer: neither scheme of §6.3. */
	X509 *edleaf = issue(rsa1024, "SEP001122334455", ed_ca, ed_key, NULL);
	X509 *edset[] = {ed_ca};
	ck_assert_int_eq(pt_capf_trust_find(edleaf, edset, 1, &idx),
			 PT_ERR_AUTH);
	/* RSA-PSS is not PKCS#1 v1.5 either. */
	X509 *pss = X509_dup(phone);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	ck_assert(pss && mctx &&
		  EVP_DigestSignInit(mctx, &pctx, EVP_sha256(), NULL,
				     ca_key) == 1 &&
		  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) ==
			  1 &&
		  X509_sign_ctx(pss, mctx) > 0);
	EVP_MD_CTX_free(mctx);
	ck_assert_int_eq(X509_verify(pss, ca_key), 1);
	ck_assert_int_eq(pt_capf_trust_find(pss, only_ca, 1, &idx),
			 PT_ERR_AUTH);

	X509_free(pss);
	X509_free(edleaf);
	X509_free(mic);
	X509_free(self);
	X509_free(phone);
}
END_TEST

/* Builds an AUTH_RESPONSE for cert/key as the phone would and parses it
 * as the server does; m views into buf. */
static void phone_response(EVP_PKEY *key, X509 *cert, unsigned flags,
			   EVP_PKEY *sudi_key, X509 *sudi_cert,
			   uint32_t sudi_session, pt_capf_msg_t *m)
{
	uint8_t *der = NULL, *sder = NULL;
	size_t der_len = 0, sder_len = 0, len = 0;
	pt_capf_sigs_t sigs, ssigs = {0};

	der_of(cert, &der, &der_len);
	ck_assert_int_eq(pt_capf_auth_sign(key, CAPF_VEC_DEVICE, der, der_len,
					   flags, &sigs),
			 PT_OK);
	pt_capf_credentials_t c = {
		.device_name = CAPF_VEC_DEVICE,
		.cert = der, .cert_len = der_len,
		.sig_sha1 = sigs.sha1, .sig_sha1_len = sigs.sha1_len,
		.sig_sha512 = sigs.sha512, .sig_sha512_len = sigs.sha512_len,
	};
	if (sudi_cert) {
		der_of(sudi_cert, &sder, &sder_len);
		ck_assert_int_eq(pt_capf_sudi_sign(sudi_key, sudi_session,
						   sder, sder_len, flags,
						   &ssigs),
				 PT_OK);
		c.sudi_cert = sder;
		c.sudi_cert_len = sder_len;
		c.sudi_sig_sha1 = ssigs.sha1;
		c.sudi_sig_sha1_len = ssigs.sha1_len;
		c.sudi_sig_sha512 = ssigs.sha512;
		c.sudi_sig_sha512_len = ssigs.sha512_len;
	}
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, m,
					   NULL),
			 PT_OK);
	pt_capf_sigs_clear(&sigs);
	pt_capf_sigs_clear(&ssigs);
	free(der);
	free(sder);
}

static int check(const pt_capf_msg_t *m, X509 *const *trust, size_t n,
		 pt_capf_auth_result_t *res, const char **why)
{
	*why = NULL;
	int r = pt_capf_auth_check(m, 1, trust, n, res, why);
	if (r == PT_OK) {
		ck_assert_ptr_null(*why);
		ck_assert_ptr_nonnull(res->cert);
	} else {
		ck_assert_ptr_nonnull(*why);
		ck_assert_ptr_null(res->cert);
	}
	return r;
}

START_TEST(auth_check_every_key)
{
	EVP_PKEY *keys[] = {rsa1024, rsa2048, ec256, ec384};
	X509 *trust[] = {mfg_ca, ca};
	pt_capf_auth_result_t res;
	const char *why;
	pt_capf_msg_t m;

	for (size_t i = 0; i < 4; i++) {
		for (unsigned flags = 0; flags <= PT_CAPF_SIGN_DIGEST_INFO;
		     flags += PT_CAPF_SIGN_DIGEST_INFO) {
			X509 *lsc = issue(keys[i], CAPF_VEC_DEVICE, ca, ca_key,
					  EVP_sha256());
			phone_response(keys[i], lsc, flags, NULL, NULL, 0, &m);
			ck_assert_int_eq(check(&m, trust, 2, &res, &why),
					 PT_OK);
			ck_assert_uint_eq(res.trust_index, 1);
			ck_assert(!res.sudi_present);
			ck_assert_int_eq(X509_cmp(res.cert, lsc), 0);
			pt_capf_auth_result_clear(&res);
			ck_assert_ptr_null(res.cert);
			/* Untrusted issuer. */
			ck_assert_int_eq(check(&m, trust, 1, &res, &why),
					 PT_ERR_AUTH);
			X509_free(lsc);
		}
	}
	/* A MIC from the manufacturer CA. */
	X509 *mic = issue(rsa2048, "CP-7841-SEP001122334455", mfg_ca, mfg_key,
			  EVP_sha1());
	phone_response(rsa2048, mic, 0, NULL, NULL, 0, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_OK);
	ck_assert_uint_eq(res.trust_index, 0);
	pt_capf_auth_result_clear(&res);
	X509_free(mic);
}
END_TEST

START_TEST(auth_check_refusals)
{
	X509 *trust[] = {impostor, ca};
	pt_capf_auth_result_t res;
	const char *why;
	pt_capf_msg_t m;
	X509 *lsc = issue(rsa2048, CAPF_VEC_DEVICE, ca, ca_key, EVP_sha256());

	phone_response(rsa2048, lsc, 0, NULL, NULL, 0, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_OK);
	pt_capf_auth_result_clear(&res);
	/* Same subject, other key only. */
	ck_assert_int_eq(check(&m, trust, 1, &res, &why), PT_ERR_AUTH);
	ck_assert_str_eq(why, "no trust certificate issued the certificate");

	/* Signed by another key than the certificate's. */
	phone_response(other_key, lsc, 0, NULL, NULL, 0, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_ERR_AUTH);
	ck_assert_str_eq(why, "SIGNED_DATA does not verify");

	/* Signed for another device name: the message says A, the phone
	 * signed for SEP001122334455. */
	phone_response(rsa2048, lsc, 0, NULL, NULL, 0, &m);
	pt_capf_msg_t renamed = m;
	renamed.device_name = "SEP001122334466";
	ck_assert_int_eq(check(&renamed, trust, 2, &res, &why), PT_ERR_AUTH);

	/* Each of the three required elements missing; the hash id. */
	const unsigned need[] = {PT_CAPF_TAG_CERTIFICATE,
				 PT_CAPF_TAG_SIGNED_DATA,
				 PT_CAPF_TAG_SHA2_SIGNED_DATA,
				 PT_CAPF_TAG_DEVICE_NAME};
	for (size_t i = 0; i < 4; i++) {
		pt_capf_msg_t less = m;
		less.tags &= ~(1u << need[i]);
		ck_assert_int_eq(check(&less, trust, 2, &res, &why),
				 PT_ERR_AUTH);
	}
	pt_capf_msg_t h2 = m;
	h2.sha2_hash_id = PT_CAPF_HASH_SHA256;
	ck_assert_int_eq(check(&h2, trust, 2, &res, &why), PT_ERR_AUTH);
	/* The two signatures swapped. */
	pt_capf_msg_t sw = m;
	sw.signed_data = m.sha2_signed_data;
	sw.sha2_signed_data = m.signed_data;
	ck_assert_int_eq(check(&sw, trust, 2, &res, &why), PT_ERR_AUTH);
	/* A tampered SHA-512 signature alone. */
	uint8_t *t = malloc(m.sha2_signed_data_len);
	memcpy(t, m.sha2_signed_data, m.sha2_signed_data_len);
	t[7] ^= 1;
	pt_capf_msg_t ts = m;
	ts.sha2_signed_data = t;
	ck_assert_int_eq(check(&ts, trust, 2, &res, &why), PT_ERR_AUTH);
	ck_assert_str_eq(why, "SHA2_SIGNED_DATA does not verify");
	free(t);
	/* Not a certificate, or one with a byte after it. */
	pt_capf_msg_t nc = m;
	nc.cert_len -= 1;
	ck_assert_int_eq(check(&nc, trust, 2, &res, &why), PT_ERR_AUTH);
	X509_free(lsc);

	/* A 512-bit LSC cannot make the SHA-512 signature at all. */
	X509 *small = issue(rsa512, CAPF_VEC_DEVICE, ca, ca_key, EVP_sha256());
	uint8_t *der = NULL;
	size_t der_len;
	pt_capf_sigs_t sigs;
	der_of(small, &der, &der_len);
	ck_assert_int_eq(pt_capf_auth_sign(rsa512, CAPF_VEC_DEVICE, der,
					   der_len, 0, &sigs),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(sigs.sha1);
	free(der);
	X509_free(small);

	/* An Ed25519 phone certificate (made by a trusted RSA CA). */
	X509 *edc = issue(ed_key, CAPF_VEC_DEVICE, ca, ca_key, EVP_sha256());
	der_of(edc, &der, &der_len);
	static uint8_t junk[64] = {1};
	pt_capf_credentials_t c = {
		.device_name = CAPF_VEC_DEVICE, .cert = der,
		.cert_len = der_len, .sig_sha1 = junk, .sig_sha1_len = 64,
		.sig_sha512 = junk, .sig_sha512_len = 64};
	size_t len;
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, &m,
					   NULL),
			 PT_OK);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_ERR_AUTH);
	ck_assert_str_eq(why, "certificate key is neither RSA nor EC");
	free(der);
	X509_free(edc);
}
END_TEST

START_TEST(sudi)
{
	EVP_PKEY *sudi_key = rsa_key(2048);
	X509 *sudi_ca = pt_testcert(other_key, "ACT2 SUDI CA", 9);
	X509 *sudi_cert = issue(sudi_key, "PID:CP-8841 SN:FCH0000", sudi_ca,
				other_key, EVP_sha256());
	X509 *lsc = issue(ec256, CAPF_VEC_DEVICE, ca, ca_key, EVP_sha256());
	X509 *trust[] = {ca, sudi_ca};
	pt_capf_auth_result_t res;
	const char *why;
	pt_capf_msg_t m;

	phone_response(ec256, lsc, 0, sudi_key, sudi_cert, 1, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_OK);
	ck_assert(res.sudi_present);
	ck_assert(!res.sudi_skipped);
	ck_assert_uint_eq(res.sudi_trust_index, 1);
	ck_assert_uint_eq(res.trust_index, 0);
	pt_capf_auth_result_clear(&res);

	/* The DigestInfo form also passes for SUDI. */
	phone_response(ec256, lsc, PT_CAPF_SIGN_DIGEST_INFO, sudi_key,
		       sudi_cert, 1, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_OK);
	pt_capf_auth_result_clear(&res);

	/* Session id signed big-endian, or another session. */
	phone_response(ec256, lsc, 0, sudi_key, sudi_cert, 0x01000000u, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_ERR_AUTH);
	ck_assert_str_eq(why, "SUDI signatures do not verify");
	phone_response(ec256, lsc, 0, sudi_key, sudi_cert, 2, &m);
	ck_assert_int_eq(check(&m, trust, 2, &res, &why), PT_ERR_AUTH);

	/* SUDI issuer not trusted. */
	phone_response(ec256, lsc, 0, sudi_key, sudi_cert, 1, &m);
	ck_assert_int_eq(check(&m, trust, 1, &res, &why), PT_ERR_AUTH);
	ck_assert_str_eq(why,
			 "no trust certificate issued the SUDI certificate");
	/* Third block's hash id not 3; one signature missing or swapped. */
	pt_capf_msg_t h = m;
	h.sudi.sha2_hash_id = PT_CAPF_HASH_SHA1;
	ck_assert_int_eq(check(&h, trust, 2, &res, &why), PT_ERR_AUTH);
	pt_capf_msg_t e = m;
	e.sudi.sig_sha1_len = 0;
	ck_assert_int_eq(check(&e, trust, 2, &res, &why), PT_ERR_AUTH);
	pt_capf_msg_t sw = m;
	sw.sudi.sig_sha1 = m.sudi.sig_sha512;
	sw.sudi.sig_sha512 = m.sudi.sig_sha1;
	ck_assert_int_eq(check(&sw, trust, 2, &res, &why), PT_ERR_AUTH);
	/* The markers are never judged (A6). */
	pt_capf_msg_t mk = m;
	mk.sudi.cert_marker = 0x7f;
	mk.sudi.sha1_marker = 0x02;
	ck_assert_int_eq(check(&mk, trust, 2, &res, &why), PT_OK);
	pt_capf_auth_result_clear(&res);
	/* A SUDI that is not a certificate. */
	pt_capf_msg_t nc = m;
	nc.sudi.cert_len = 10;
	ck_assert_int_eq(check(&nc, trust, 2, &res, &why), PT_ERR_AUTH);

	/* An EC SUDI is skipped whatever its signatures say (§6.5), even
	 * from an untrusted issuer. */
	X509 *ec_sudi = issue(ec384, "PID:CP-8851", sudi_ca, other_key,
			      EVP_sha256());
	phone_response(ec256, lsc, 0, ec384, ec_sudi, 1, &m);
	pt_capf_msg_t bad = m;
	bad.sudi.sig_sha1_len = 1;
	ck_assert_int_eq(check(&bad, trust, 1, &res, &why), PT_OK);
	ck_assert(res.sudi_present);
	ck_assert(res.sudi_skipped);
	pt_capf_auth_result_clear(&res);

	X509_free(ec_sudi);
	X509_free(lsc);
	X509_free(sudi_cert);
	X509_free(sudi_ca);
	EVP_PKEY_free(sudi_key);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_auth");
	TCase *tc = tcase_create("signatures");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, signed_data_digests);
	tcase_add_test(tc, rsa_block_known_answer);
	tcase_add_test(tc, sign_and_verify_every_key);
	tcase_add_test(tc, rsa_strict_reading);
	tcase_add_test(tc, trust_check);
	tcase_add_test(tc, auth_check_every_key);
	tcase_add_test(tc, auth_check_refusals);
	tcase_add_test(tc, sudi);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
