#include "lib/capf_lsc.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_msg.h"
#include "lib/certs.h"
#include "lib/der.h"
#include "lib/errors.h"
#include "lib/rbuf.h"

static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > PT_CAPF_LSC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

int pt_capf_lsc_key_info(const EVP_PKEY *key, int *is_ec, unsigned *bits)
{
	char group[64];
	size_t glen = 0;
	*is_ec = 0;
	*bits = 0;
	if (!key)
		return PT_ERR_INVALID;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA: {
		int b = EVP_PKEY_get_bits(key);
		if (b < PT_CAPF_LSC_RSA_MIN_BITS || b > PT_CAPF_LSC_RSA_MAX_BITS)
			return PT_ERR_UNSUPPORTED;
		*bits = (unsigned)b;
		return PT_OK;
	}
	case EVP_PKEY_EC:
		/* Named curves only: explicit parameters would let a phone
		 * smuggle a weak group into a certificate we sign. */
		if (!EVP_PKEY_get_utf8_string_param(key,
						    OSSL_PKEY_PARAM_GROUP_NAME,
						    group, sizeof group, &glen)) {
			ERR_clear_error();
			return PT_ERR_UNSUPPORTED;
		}
		*is_ec = 1;
		if (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0)
			*bits = 256;
		else if (strcmp(group, "secp384r1") == 0 ||
			 strcmp(group, "P-384") == 0)
			*bits = 384;
		else if (strcmp(group, "secp521r1") == 0 ||
			 strcmp(group, "P-521") == 0)
			*bits = 521;
		else
			return PT_ERR_UNSUPPORTED;
		return PT_OK;
	default:
		return PT_ERR_UNSUPPORTED;
	}
}

/* ---- the phone's key without OpenSSL's decoder ----
 * OpenSSL 3 builds a provider decoder context for every d2i_PUBKEY: on
 * the server that was a sixth of the CPU of an EC enrolment.  The forms
 * phones send (SubjectPublicKeyInfo for RSA or a named curve, or a bare
 * RSAPublicKey) are read here and imported from their parameters;
 * anything else goes to the decoder as before. */

/* The fast path only claims what it reads: a refusal by the DER reader
 * sends the input to the decoder, which decides. */
static int der_seq(pt_rbuf_t *rb, pt_rbuf_t *content)
{
	pt_der_t d;
	if (pt_der_expect(rb, PT_DER_SEQUENCE, &d) != PT_OK)
		return PT_ERR_UNSUPPORTED;
	*content = d.body;
	return PT_OK;
}

static int der_uint(pt_rbuf_t *rb, BIGNUM **out)
{
	int r = pt_der_get_bn(rb, out);
	return r == PT_ERR_MALFORMED ? PT_ERR_UNSUPPORTED : r;
}

static int import(const char *type, OSSL_PARAM *params, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int r = PT_ERR_MALFORMED;
	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
		r = PT_OK;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* RSAPublicKey ::= SEQUENCE { modulus, publicExponent } filling rb. */
static int rsa_import(pt_rbuf_t *rb, EVP_PKEY **out)
{
	pt_rbuf_t seq;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	int r = der_seq(rb, &seq);
	if (r == PT_OK && (r = pt_rbuf_expect_end(rb)) != PT_OK)
		r = PT_ERR_UNSUPPORTED;
	if (r == PT_OK && (r = der_uint(&seq, &n)) == PT_OK &&
	    (r = der_uint(&seq, &e)) == PT_OK &&
	    pt_rbuf_expect_end(&seq) != PT_OK)
		r = PT_ERR_UNSUPPORTED;
	if (r != PT_OK)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(bld = OSSL_PARAM_BLD_new()) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)))
		goto out;
	r = import("RSA", params, out);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

static const uint8_t OID_RSA[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
				  0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
static const uint8_t OID_EC[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
				 0xce, 0x3d, 0x02, 0x01};
static const struct {
	uint8_t oid[10];
	size_t len;
	const char *name;
} CURVES[] = {
	{{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 10,
	 "P-256"},
	{{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, "P-384"},
	{{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, "P-521"},
};

static int ec_import(pt_rbuf_t *alg, const uint8_t *point, size_t n,
		     EVP_PKEY **out)
{
	const char *curve = NULL;
	for (size_t i = 0; !curve && i < sizeof CURVES / sizeof CURVES[0]; i++)
		if (pt_der_get_exact(alg, CURVES[i].oid, CURVES[i].len))
			curve = CURVES[i].name;
	/* The point keeps the form the phone chose (the LSC holds exactly
	 * its key); hybrid forms go to the decoder. */
	if (!curve || pt_rbuf_expect_end(alg) != PT_OK || n < 2 ||
	    (point[0] != 0x02 && point[0] != 0x03 && point[0] != 0x04))
		return PT_ERR_UNSUPPORTED;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 (char *)curve, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						  (void *)point, n),
		OSSL_PARAM_construct_utf8_string(
			OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			point[0] == 0x04 ? "uncompressed" : "compressed", 0),
		OSSL_PARAM_construct_end(),
	};
	return import("EC", params, out);
}

/* PT_ERR_UNSUPPORTED: not a form read here (the decoder decides). */
static int fast_decode(const uint8_t *der, size_t len, EVP_PKEY **out)
{
	pt_rbuf_t rb, spki, alg;
	const uint8_t *v;
	size_t n;

	pt_rbuf_init(&rb, der, len);
	if (der_seq(&rb, &spki) != PT_OK || pt_rbuf_expect_end(&rb) != PT_OK)
		return PT_ERR_UNSUPPORTED;
	/* A bare RSAPublicKey starts with the modulus. */
	if (pt_der_peek_is(&spki, PT_DER_INTEGER)) {
		pt_rbuf_init(&rb, der, len);
		return rsa_import(&rb, out);
	}
	if (der_seq(&spki, &alg) != PT_OK ||
	    pt_der_get_bits(&spki, &v, &n) != PT_OK ||
	    pt_rbuf_expect_end(&spki) != PT_OK)
		return PT_ERR_UNSUPPORTED;
	if (pt_der_get_exact(&alg, OID_RSA, sizeof OID_RSA)) {
		if (pt_rbuf_expect_end(&alg) != PT_OK)
			return PT_ERR_UNSUPPORTED;
		pt_rbuf_t key;
		pt_rbuf_init(&key, v, n);
		return rsa_import(&key, out);
	}
	if (!pt_der_get_exact(&alg, OID_EC, sizeof OID_EC))
		return PT_ERR_UNSUPPORTED;
	return ec_import(&alg, v, n, out);
}

int pt_capf_lsc_decode_public(const uint8_t *der, size_t len, EVP_PKEY **out)
{
	*out = NULL;
	if (der && len > 0 && len <= PT_CAPF_LSC_KEY_DER_MAX) {
		int r = fast_decode(der, len, out);
		ERR_clear_error();
		if (r != PT_ERR_UNSUPPORTED)
			return r;
	}
	return pt_capf_public_key_decode(der, len, out);
}

int pt_capf_lsc_decode_key(const uint8_t *der, size_t len, EVP_PKEY **out)
{
	const unsigned char *p = der;
	EVP_PKEY *k = NULL;
	int is_ec;
	unsigned bits;
	int r;

	*out = NULL;
	if (!der || len == 0)
		return PT_ERR_MALFORMED;
	if (len > PT_CAPF_LSC_KEY_DER_MAX)
		return PT_ERR_TOO_LARGE;
	r = fast_decode(der, len, &k);
	ERR_clear_error();
	if (r == PT_OK)
		goto check;
	if (r != PT_ERR_UNSUPPORTED)
		return r == PT_ERR_NOMEM ? r : PT_ERR_MALFORMED;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (!k) {
		/* The reference server also loads a bare RSAPublicKey. */
		p = der;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	}
	if (!k) {
		ERR_clear_error();
		return PT_ERR_MALFORMED;
	}
	if ((size_t)(p - der) != len) {
		r = PT_ERR_TRAILING;
		goto out;
	}
check:
	r = pt_capf_lsc_key_info(k, &is_ec, &bits);
	if (r != PT_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	EVP_PKEY_free(k);
	return r;
}

/* RSAPublicKey (RFC 8017 A.1.1) of key's modulus and exponent, in
 * OPENSSL_malloc'd memory as X509_PUBKEY_set0_param takes it. */
static int rsa_public_der(const EVP_PKEY *key, unsigned char **out, int *olen)
{
	BIGNUM *n = NULL, *e = NULL;
	ASN1_INTEGER *an = NULL, *ae = NULL;
	unsigned char *buf = NULL;
	int r = PT_ERR_CRYPTO;

	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) ||
	    !(an = BN_to_ASN1_INTEGER(n, NULL)) ||
	    !(ae = BN_to_ASN1_INTEGER(e, NULL)))
		goto out;
	int ln = i2d_ASN1_INTEGER(an, NULL), le = i2d_ASN1_INTEGER(ae, NULL);
	if (ln <= 0 || le <= 0)
		goto out;
	int total = ASN1_object_size(1, ln + le, V_ASN1_SEQUENCE);
	if (total <= 0)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(buf = OPENSSL_malloc((size_t)total)))
		goto out;
	r = PT_ERR_CRYPTO;
	unsigned char *w = buf;
	ASN1_put_object(&w, 1, ln + le, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	if (i2d_ASN1_INTEGER(an, &w) != ln || i2d_ASN1_INTEGER(ae, &w) != le ||
	    w != buf + total)
		goto out;
	*out = buf;
	*olen = total;
	buf = NULL;
	r = PT_OK;
out:
	OPENSSL_free(buf);
	ASN1_INTEGER_free(an);
	ASN1_INTEGER_free(ae);
	BN_free(n);
	BN_free(e);
	return r;
}

/* Fills pub (algorithm and key bits) from key's parameters.  OpenSSL 3's
 * X509_set_pubkey and i2d_PUBKEY encode the key and decode it again
 * through a provider decoder, which cost more than the rest of an LSC
 * but its signature; the parameters are already at hand. */
static int pubkey_fill(X509_PUBKEY *pub, const EVP_PKEY *key)
{
	unsigned char *enc = NULL;
	int enc_len = 0, is_ec, r;
	unsigned bits;

	if ((r = pt_capf_lsc_key_info(key, &is_ec, &bits)) != PT_OK)
		return r;
	if (!is_ec) {
		if ((r = rsa_public_der(key, &enc, &enc_len)) != PT_OK)
			return r;
		if (!X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_rsaEncryption),
					    V_ASN1_NULL, NULL, enc, enc_len)) {
			OPENSSL_free(enc);
			return PT_ERR_CRYPTO;
		}
		return PT_OK;
	}
	int curve = bits == 256   ? NID_X9_62_prime256v1
		    : bits == 384 ? NID_secp384r1
				  : NID_secp521r1;
	/* An uncompressed P-521 point: 1 + 2 x 66 bytes. */
	unsigned char point[160];
	size_t point_len = 0;
	if (!EVP_PKEY_get_octet_string_param(key,
					     OSSL_PKEY_PARAM_PUB_KEY,
					     point, sizeof point, &point_len) ||
	    point_len == 0 || point_len > INT_MAX)
		return PT_ERR_CRYPTO;
	if (!(enc = OPENSSL_memdup(point, point_len)))
		return PT_ERR_NOMEM;
	if (!X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
				    V_ASN1_OBJECT, OBJ_nid2obj(curve), enc,
				    (int)point_len)) {
		OPENSSL_free(enc);
		return PT_ERR_CRYPTO;
	}
	return PT_OK;
}

int pt_capf_lsc_key_spki(const EVP_PKEY *key, uint8_t **der, size_t *len)
{
	X509_PUBKEY *pub = X509_PUBKEY_new();
	uint8_t *buf = NULL;
	int r = PT_ERR_NOMEM;

	*der = NULL;
	*len = 0;
	if (!pub)
		goto out;
	if ((r = pubkey_fill(pub, key)) != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	int n = i2d_X509_PUBKEY(pub, NULL);
	if (n <= 0)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(buf = malloc((size_t)n)))
		goto out;
	r = PT_ERR_CRYPTO;
	uint8_t *w = buf;
	if (i2d_X509_PUBKEY(pub, &w) != n)
		goto out;
	*der = buf;
	*len = (size_t)n;
	buf = NULL;
	r = PT_OK;
out:
	if (r != PT_OK)
		ERR_clear_error();
	free(buf);
	X509_PUBKEY_free(pub);
	return r;
}

int pt_capf_lsc_key_sha256(const EVP_PKEY *key, uint8_t out[32])
{
	uint8_t *der = NULL;
	size_t len = 0;
	unsigned int n = 0;
	int r = pt_capf_lsc_key_spki(key, &der, &len);
	if (r != PT_OK)
		return r;
	if (!EVP_Digest(der, len, out, &n, EVP_sha256(), NULL) || n != 32)
		r = PT_ERR_CRYPTO;
	free(der);
	return r;
}

/* CN=name, then the issuer's O, OU, L, ST and C in their order there. */
static int build_subject(const char *name, X509 *issuer, X509_NAME **out)
{
	X509_NAME *subj = X509_NAME_new();
	const X509_NAME *from = X509_get_subject_name(issuer);
	int r = PT_ERR_NOMEM;

	*out = NULL;
	if (!subj)
		goto out;
	r = PT_ERR_CRYPTO;
	if (!X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)name, -1, -1,
					0))
		goto out;
	for (int i = 0; i < X509_NAME_entry_count(from); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(from, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		if (nid != NID_organizationName &&
		    nid != NID_organizationalUnitName &&
		    nid != NID_localityName &&
		    nid != NID_stateOrProvinceName && nid != NID_countryName)
			continue;
		/* A copy keeps the issuer's string type (a PrintableString C
		 * stays one). */
		if (!X509_NAME_add_entry(subj, e, -1, 0))
			goto out;
	}
	*out = subj;
	subj = NULL;
	r = PT_OK;
out:
	X509_NAME_free(subj);
	return r;
}

/* The four extensions of spec §9, in its order. */
static int build_extensions(const char *name, STACK_OF(X509_EXTENSION) **out)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	GENERAL_NAMES *san = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *uri_name = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	static const int eku_nids[] = {NID_server_auth, NID_client_auth,
				       NID_ipsecEndSystem};
	int r = PT_ERR_NOMEM;

	*out = NULL;
	if (!bc || !ku || !eku || !san || !uri_name || !uri)
		goto out;
	r = PT_ERR_CRYPTO;
	bc->ca = 0;
	/* Bit 0 digitalSignature, bit 2 keyEncipherment (RFC 5280). */
	if (!ASN1_BIT_STRING_set_bit(ku, 0, 1) ||
	    !ASN1_BIT_STRING_set_bit(ku, 2, 1))
		goto out;
	for (size_t i = 0; i < sizeof eku_nids / sizeof eku_nids[0]; i++) {
		ASN1_OBJECT *o = OBJ_nid2obj(eku_nids[i]);
		if (!o || !sk_ASN1_OBJECT_push(eku, o))
			goto out;
	}
	if (!ASN1_STRING_set(uri, name, -1))
		goto out;
	GENERAL_NAME_set0_value(uri_name, GEN_URI, uri);
	uri = NULL;
	if (!sk_GENERAL_NAME_push(san, uri_name))
		goto out;
	uri_name = NULL;
	if (X509V3_add1_i2d(&exts, NID_basic_constraints, bc, 1,
			    X509V3_ADD_APPEND) != 1 ||
	    X509V3_add1_i2d(&exts, NID_key_usage, ku, 1, X509V3_ADD_APPEND) !=
		    1 ||
	    X509V3_add1_i2d(&exts, NID_ext_key_usage, eku, 0,
			    X509V3_ADD_APPEND) != 1 ||
	    X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0,
			    X509V3_ADD_APPEND) != 1)
		goto out;
	*out = exts;
	exts = NULL;
	r = PT_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	/* The EKU objects are OpenSSL's static ones: nothing to free. */
	sk_ASN1_OBJECT_free(eku);
	GENERAL_NAMES_free(san);
	GENERAL_NAME_free(uri_name);
	ASN1_IA5STRING_free(uri);
	return r;
}

static bool signer_ok(EVP_PKEY *key, X509 *cert)
{
	int id = key ? EVP_PKEY_get_base_id(key) : 0;
	if (!cert || (id != EVP_PKEY_RSA && id != EVP_PKEY_EC))
		return false;
	bool match = X509_check_private_key(cert, key) == 1;
	if (!match)
		ERR_clear_error();
	return match;
}

static bool req_ok(const pt_capf_lsc_req_t *req, bool need_days)
{
	int is_ec;
	unsigned bits;
	if (!req || !name_ok(req->name) ||
	    pt_capf_lsc_key_info(req->key, &is_ec, &bits) != PT_OK)
		return false;
	return !need_days || (req->days >= PT_CAPF_LSC_DAYS_MIN &&
			      req->days <= PT_CAPF_LSC_DAYS_MAX);
}

int pt_capf_lsc_build(EVP_PKEY *issuer_key, X509 *issuer_cert,
		      const pt_capf_lsc_req_t *req, X509 **out)
{
	X509 *x = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	int r;

	*out = NULL;
	if (!req_ok(req, true) || !signer_ok(issuer_key, issuer_cert))
		return PT_ERR_INVALID;
	r = PT_ERR_NOMEM;
	if (!(x = X509_new()))
		goto out;
	/* The serial is spec §9's: 16 random bytes, positive. */
	if ((r = build_subject(req->name, issuer_cert, &subj)) != PT_OK ||
	    (r = build_extensions(req->name, &exts)) != PT_OK ||
	    (r = pt_certs_set_random_serial(x)) != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	time_t now = (time_t)req->now;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)) ||
	    !X509_set_subject_name(x, subj) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), now, (int)req->days, 0))
		goto out;
	if ((r = pubkey_fill(X509_get_X509_PUBKEY(x), req->key)) != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (!X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1))
			goto out;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto out;
	*out = x;
	x = NULL;
	r = PT_OK;
out:
	if (r == PT_ERR_CRYPTO)
		ERR_clear_error();
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_free(x);
	return r;
}

int pt_capf_lsc_build_csr(EVP_PKEY *capf_key, X509 *capf_cert,
			  const pt_capf_lsc_req_t *req, X509_REQ **out)
{
	X509_REQ *rq = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_OBJECT *oid = NULL;
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	int r;

	*out = NULL;
	if (!req_ok(req, false) || !signer_ok(capf_key, capf_cert))
		return PT_ERR_INVALID;
	r = PT_ERR_NOMEM;
	if (!(rq = X509_REQ_new()))
		goto out;
	if ((r = build_subject(req->name, capf_cert, &subj)) != PT_OK ||
	    (r = build_extensions(req->name, &exts)) != PT_OK ||
	    (r = pt_capf_lsc_key_spki(req->key, &spki, &spki_len)) != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	if (!(oid = OBJ_txt2obj(PT_CAPF_LSC_OID_PHONE_KEY, 1)) ||
	    !X509_REQ_set_version(rq, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(rq, subj) ||
	    !X509_REQ_set_pubkey(rq, capf_key) ||
	    !X509_REQ_add_extensions(rq, exts) ||
	    !X509_REQ_add1_attr_by_OBJ(rq, oid, V_ASN1_OCTET_STRING, spki,
				       (int)spki_len) ||
	    X509_REQ_sign(rq, capf_key, EVP_sha256()) <= 0)
		goto out;
	*out = rq;
	rq = NULL;
	r = PT_OK;
out:
	if (r == PT_ERR_CRYPTO)
		ERR_clear_error();
	free(spki);
	ASN1_OBJECT_free(oid);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(subj);
	X509_REQ_free(rq);
	return r;
}

int pt_capf_lsc_csr_der(X509_REQ *req, uint8_t **der, size_t *len)
{
	*der = NULL;
	*len = 0;
	int n = i2d_X509_REQ(req, NULL);
	if (n <= 0)
		return PT_ERR_CRYPTO;
	uint8_t *buf = malloc((size_t)n);
	if (!buf)
		return PT_ERR_NOMEM;
	uint8_t *w = buf;
	if (i2d_X509_REQ(req, &w) != n) {
		free(buf);
		return PT_ERR_CRYPTO;
	}
	*der = buf;
	*len = (size_t)n;
	return PT_OK;
}

int pt_capf_lsc_csr_pem(X509_REQ *req, char **pem, size_t *len)
{
	*pem = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return PT_ERR_NOMEM;
	int r = PEM_write_bio_X509_REQ(b, req) ? pt_certs_bio_text(b, pem, len)
					       : PT_ERR_CRYPTO;
	BIO_free(b);
	return r;
}

int pt_capf_lsc_key_pem(const EVP_PKEY *key, char **pem, size_t *len)
{
	*pem = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return PT_ERR_NOMEM;
	int r = PEM_write_bio_PUBKEY(b, key) ? pt_certs_bio_text(b, pem, len)
					     : PT_ERR_CRYPTO;
	BIO_free(b);
	return r;
}

int pt_capf_lsc_csr_decode(const uint8_t *der, size_t len, X509_REQ **out,
			   EVP_PKEY **out_key)
{
	const unsigned char *p = der;
	X509_REQ *rq = NULL;
	ASN1_OBJECT *oid = NULL;
	EVP_PKEY *key = NULL;
	int r = PT_ERR_MALFORMED;

	*out = NULL;
	if (out_key)
		*out_key = NULL;
	if (!der || len == 0)
		return PT_ERR_MALFORMED;
	if (len > PT_CAPF_LSC_CSR_DER_MAX)
		return PT_ERR_TOO_LARGE;
	if (!(rq = d2i_X509_REQ(NULL, &p, (long)len)))
		goto out;
	if ((size_t)(p - der) != len) {
		r = PT_ERR_TRAILING;
		goto out;
	}
	EVP_PKEY *signer = X509_REQ_get0_pubkey(rq);
	if (!signer || X509_REQ_verify(rq, signer) != 1) {
		r = PT_ERR_AUTH;
		goto out;
	}
	r = PT_ERR_NOMEM;
	if (!(oid = OBJ_txt2obj(PT_CAPF_LSC_OID_PHONE_KEY, 1)))
		goto out;
	int idx = X509_REQ_get_attr_by_OBJ(rq, oid, -1);
	if (idx < 0) {
		r = PT_ERR_NOT_FOUND;
		goto out;
	}
	ASN1_TYPE *t = X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(rq, idx), 0);
	if (!t || t->type != V_ASN1_OCTET_STRING) {
		r = PT_ERR_MALFORMED;
		goto out;
	}
	r = pt_capf_lsc_decode_key(ASN1_STRING_get0_data(t->value.octet_string),
				   (size_t)ASN1_STRING_length(
					   t->value.octet_string),
				   &key);
	if (r != PT_OK)
		goto out;
	if (out_key) {
		*out_key = key;
		key = NULL;
	}
	*out = rq;
	rq = NULL;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	ASN1_OBJECT_free(oid);
	X509_REQ_free(rq);
	return r;
}

int pt_capf_lsc_check_signed(X509 *cert, const char *name,
			     const EVP_PKEY *key, const char **why)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	unsigned char *cn = NULL;
	int idx = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1)
		       : -1;
	const char *reason = NULL;

	if (idx < 0) {
		reason = "the certificate's subject has no common name";
	} else {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(
			X509_NAME_get_entry(subj, idx));
		int n = ASN1_STRING_to_UTF8(&cn, s);
		if (n < 0 || (size_t)n != strlen(name) ||
		    memcmp(cn, name, (size_t)n) != 0)
			reason = "the certificate's common name is not the "
				 "request's name";
	}
	const EVP_PKEY *pub = reason ? NULL : X509_get0_pubkey(cert);
	if (!reason && (!pub || EVP_PKEY_eq(pub, key) != 1))
		reason = "the certificate does not hold the phone's key named "
			 "by the request (was it signed without "
			 "-force_pubkey?)";
	OPENSSL_free(cn);
	ERR_clear_error();
	if (why)
		*why = reason;
	return reason ? PT_ERR_INVALID : PT_OK;
}
