/* Trust lists: what the items mean (validation), who signed (spec §6),
 * signatures (§5), and the certificate-derived items: names, serials,
 * public keys (§4.3, §4.1).  OpenSSL 3 EVP throughout. */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certname.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "lib/tlv_internal.h"

/* ---- certificate-derived items ---- */

bool pt_tlv_serial_matches(const X509 *cert, const uint8_t *bytes,
			   size_t len)
{
	uint8_t *mine = NULL;
	size_t n = 0;
	if (!bytes || pt_certname_serial(cert, &mine, &n) != PT_OK)
		return false;
	bool ok = (len == n && memcmp(bytes, mine, n) == 0) ||
		  (len == n + 1 && bytes[0] == 0 && (mine[0] & 0x80) &&
		   memcmp(bytes + 1, mine, n) == 0);
	free(mine);
	return ok;
}

/* *out is OpenSSL memory (OPENSSL_free). */
static int ec_point_uncompressed(EVP_PKEY *pub, uint8_t **out, size_t *len)
{
	/* A copy: the certificate's key is shared and must not change. */
	EVP_PKEY *k = EVP_PKEY_dup(pub);
	unsigned char *p = NULL;
	int r = PT_ERR_CRYPTO;
	if (!k)
		goto out;
	if (!EVP_PKEY_set_utf8_string_param(
		    k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED))
		goto out;
	size_t n = EVP_PKEY_get1_encoded_public_key(k, &p);
	if (n == 0 || !p || p[0] != 0x04)
		goto out;
	*out = p;
	*len = n;
	p = NULL;
	r = PT_OK;
out:
	OPENSSL_free(p);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

int pt_tlv_cert_public_key(const X509 *cert, uint8_t **out, size_t *len)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	unsigned char *enc = NULL; /* OpenSSL's memory */
	uint8_t *buf = NULL;
	size_t n = 0;
	int r = PT_ERR_INVALID;

	*out = NULL;
	*len = 0;
	if (!pub)
		goto out;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		r = ec_point_uncompressed(pub, &enc, &n);
	} else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		/* For RSA, i2d_PublicKey writes PKCS#1 RSAPublicKey. */
		int k = i2d_PublicKey(pub, &enc);
		r = k > 0 ? PT_OK : PT_ERR_CRYPTO;
		n = k > 0 ? (size_t)k : 0;
	}
	if (r != PT_OK)
		goto out;
	/* Handed out with malloc like every other buffer here. */
	r = PT_ERR_NOMEM;
	if (!(buf = malloc(n)))
		goto out;
	memcpy(buf, enc, n);
	*out = buf;
	*len = n;
	r = PT_OK;
out:
	OPENSSL_free(enc);
	ERR_clear_error();
	return r;
}

void pt_tlv_cert_signature(const X509 *cert, const uint8_t **sig,
			   size_t *len)
{
	const ASN1_BIT_STRING *bits = NULL;
	X509_get0_signature(&bits, NULL, cert);
	*sig = bits ? ASN1_STRING_get0_data(bits) : NULL;
	*len = bits ? (size_t)ASN1_STRING_length(bits) : 0;
}

/* ---- signatures ---- */

/* SHA-256 (code 2) is defined but compatible tools neither produce nor
 * accept it (spec §5): unsupported here too. */
const EVP_MD *pt_tlv_digest_md(unsigned code)
{
	switch (code) {
	case PT_TLV_DIGEST_SHA1:
		return EVP_sha1();
	case PT_TLV_DIGEST_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

int pt_tlv_modulus_code(EVP_PKEY *key)
{
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return -1;
	switch (EVP_PKEY_get_bits(key)) {
	case 512:
		return 0;
	case 1024:
		return 1;
	case 2048:
		return 2;
	case 4096:
		return 3;
	default:
		return -1;
	}
}

int pt_tlv_sign_parts(EVP_PKEY *key, pt_tlv_digest_t digest,
		      const uint8_t *a, size_t alen, const uint8_t *b,
		      size_t blen, uint8_t *sig, size_t siglen)
{
	const EVP_MD *md = pt_tlv_digest_md(digest);
	if (!md)
		return PT_ERR_INVALID;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t n = siglen;
	int r = PT_ERR_NOMEM;
	if (!ctx)
		goto out;
	r = PT_ERR_CRYPTO;
	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestSignUpdate(ctx, a, alen) != 1 ||
	    EVP_DigestSignUpdate(ctx, b, blen) != 1 ||
	    EVP_DigestSignFinal(ctx, sig, &n) != 1 || n != siglen)
		goto out;
	r = PT_OK;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* ---- validation ---- */

static size_t item_offset(const pt_tlv_item_t *items, size_t n, unsigned tag)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].tag == tag)
			return items[i].offset;
	return SIZE_MAX;
}

static size_t header_offset(const pt_tlv_header_t *h, unsigned tag)
{
	return item_offset(h->items, h->n_items, tag);
}

static size_t record_offset(const pt_tlv_record_t *rec, unsigned tag)
{
	return item_offset(rec->items, rec->n_items, tag);
}

/* Items 4 and 6 are required beyond what the reference reader needs
 * (5, 8, 12) because the strict signer match of §6 compares them; 10
 * and 11 say how to read 12.  14, 15 and 28 may be absent on input:
 * whether server-made files always carry them is not known (§11). */
static const unsigned header_required[] = {
	PT_TLV_H_SIGNER_INFO,	 PT_TLV_H_SIGNER_NAME, PT_TLV_H_ISSUER_NAME,
	PT_TLV_H_SERIAL,	 PT_TLV_H_SIGNATURE_INFO, PT_TLV_H_DIGEST,
	PT_TLV_H_ALGORITHM_INFO, PT_TLV_H_ALGORITHM,  PT_TLV_H_MODULUS,
	PT_TLV_H_SIGNATURE,
};

static int validate_header(const pt_tlv_header_t *h, pt_tlv_diag_t *d)
{
	for (size_t i = 0;
	     i < sizeof header_required / sizeof header_required[0]; i++) {
		unsigned tag = header_required[i];
		if (!(h->present & PT_TLV_BIT(tag)))
			return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, 0,
					   (int)tag, "missing");
	}
	/* Item 1 is not checked: reference readers print it and never
	 * check it (§7). */
	if (h->digest < PT_TLV_DIGEST_SHA1 || h->digest > PT_TLV_DIGEST_SHA512)
		return pt_tlv_fail(d, PT_ERR_INVALID,
				   header_offset(h, PT_TLV_H_DIGEST), 0,
				   PT_TLV_H_DIGEST,
				   "code %u is not defined (1 SHA-1, 2 "
				   "SHA-256, 3 SHA-512)",
				   h->digest);
	if (h->algorithm != 0)
		return pt_tlv_fail(d, PT_ERR_INVALID,
				   header_offset(h, PT_TLV_H_ALGORITHM), 0,
				   PT_TLV_H_ALGORITHM,
				   "algorithm %u is not RSA (0), the only one "
				   "known",
				   h->algorithm);
	size_t want = (size_t)64 << h->modulus;
	if (h->signature.len != want)
		return pt_tlv_fail(d, PT_ERR_INVALID, h->signature_offset, 0,
				   PT_TLV_H_SIGNATURE,
				   "length %zu does not match modulus code %u "
				   "(%zu bytes)",
				   h->signature.len, h->modulus, want);
	if ((h->present & PT_TLV_BIT(PT_TLV_H_LIST_VERSION)) &&
	    (h->list_version[0] != 1 || h->list_version[1] > 1))
		return pt_tlv_fail(d, PT_ERR_INVALID,
				   header_offset(h, PT_TLV_H_LIST_VERSION), 0,
				   PT_TLV_H_LIST_VERSION,
				   "version %u.%u is neither 1.0 nor 1.1",
				   h->list_version[0], h->list_version[1]);
	return PT_OK;
}

/* 7 and 8 are required: both known producers write them (§4.4). */
static const unsigned record_required[] = {
	PT_TLV_R_SUBJECT, PT_TLV_R_ROLE,       PT_TLV_R_ISSUER,
	PT_TLV_R_SERIAL,  PT_TLV_R_PUBLIC_KEY, PT_TLV_R_SIGNATURE,
};

static bool bytes_eq(const pt_tlv_bytes_t *b, const uint8_t *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* Item 9 must be one X.509 certificate with an RSA or EC key, and items
 * 6, 7 and 8 must describe that certificate.  Names are opaque text
 * (§4.3: two spellings exist) and are not compared with it. */
static int check_certificate(const pt_tlv_record_t *rec, int n,
			     pt_tlv_diag_t *d)
{
	X509 *x = NULL;
	uint8_t *key = NULL;
	size_t key_len = 0;
	size_t off = record_offset(rec, PT_TLV_R_CERTIFICATE);
	int r = pt_certs_decode_der(rec->cert.data, rec->cert.len, &x);
	if (r != PT_OK) {
		r = pt_tlv_fail(d, PT_ERR_MALFORMED, off, n,
				PT_TLV_R_CERTIFICATE,
				"not one DER X.509 certificate (%s)",
				pt_strerror(r));
		goto out;
	}
	r = pt_tlv_cert_public_key(x, &key, &key_len);
	if (r == PT_ERR_INVALID) {
		r = pt_tlv_fail(d, r, off, n, PT_TLV_R_CERTIFICATE,
				"the certificate's key is neither RSA nor EC");
		goto out;
	}
	if (r != PT_OK)
		goto out;
	if (!pt_tlv_serial_matches(x, rec->serial.data, rec->serial.len)) {
		r = pt_tlv_fail(d, PT_ERR_INVALID,
				record_offset(rec, PT_TLV_R_SERIAL), n,
				PT_TLV_R_SERIAL,
				"differs from the certificate's serial");
		goto out;
	}
	if (!bytes_eq(&rec->public_key, key, key_len)) {
		r = pt_tlv_fail(d, PT_ERR_INVALID,
				record_offset(rec, PT_TLV_R_PUBLIC_KEY), n,
				PT_TLV_R_PUBLIC_KEY,
				"differs from the certificate's key");
		goto out;
	}
	const uint8_t *sig;
	size_t sig_len;
	pt_tlv_cert_signature(x, &sig, &sig_len);
	if (!bytes_eq(&rec->signature, sig, sig_len)) {
		r = pt_tlv_fail(d, PT_ERR_INVALID,
				record_offset(rec, PT_TLV_R_SIGNATURE), n,
				PT_TLV_R_SIGNATURE,
				"differs from the certificate's signature");
		goto out;
	}
	r = PT_OK;
out:
	free(key);
	X509_free(x);
	return r;
}

static int validate_record(const pt_tlv_record_t *rec, int n,
			   pt_tlv_diag_t *d)
{
	for (size_t i = 0;
	     i < sizeof record_required / sizeof record_required[0]; i++) {
		unsigned tag = record_required[i];
		if (!(rec->present & PT_TLV_BIT(tag)))
			return pt_tlv_fail(d, PT_ERR_INVALID, rec->offset, n,
					   (int)tag, "missing");
	}
	bool has_cert = rec->present & PT_TLV_BIT(PT_TLV_R_CERTIFICATE);
	bool has_hash = rec->present & PT_TLV_BIT(PT_TLV_R_CERT_HASH);
	bool has_alg = rec->present & PT_TLV_BIT(PT_TLV_R_HASH_ALGORITHM);
	if (has_cert == has_hash)
		return pt_tlv_fail(d, PT_ERR_INVALID, rec->offset, n, -1,
				   "a record carries either a certificate "
				   "(item 9) or a certificate hash (item 11), "
				   "%s",
				   has_cert ? "not both" : "and this has none");
	if (has_hash != has_alg)
		return pt_tlv_fail(d, PT_ERR_INVALID, rec->offset, n,
				   has_hash ? PT_TLV_R_HASH_ALGORITHM
					    : PT_TLV_R_CERT_HASH,
				   "missing: items 11 and 12 go together");
	return has_cert ? check_certificate(rec, n, d) : PT_OK;
}

int pt_tlv_validate(const pt_tlv_file_t *f, pt_tlv_diag_t *d)
{
	int r = validate_header(&f->header, d);
	unsigned sast = 0;
	for (size_t i = 0; i < f->n_records && r == PT_OK; i++) {
		const pt_tlv_record_t *rec = &f->records[i];
		r = validate_record(rec, (int)i + 1, d);
		if (r == PT_OK && rec->role == PT_TLV_ROLE_SAST && ++sast > 2)
			r = pt_tlv_fail(d, PT_ERR_INVALID, rec->offset,
					(int)i + 1, PT_TLV_R_ROLE,
					"a third SAST record: a list holds at "
					"most two (spec §1)");
	}
	return r;
}

static bool text_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Stricter than the reference reader, which takes the last record with
 * the serial: names must agree too, and two matches are refused. */
int pt_tlv_find_signer(const pt_tlv_file_t *f, size_t *index,
		       pt_tlv_diag_t *d)
{
	const pt_tlv_header_t *h = &f->header;
	size_t found = SIZE_MAX;
	*index = SIZE_MAX;
	for (size_t i = 0; i < f->n_records; i++) {
		const pt_tlv_record_t *rec = &f->records[i];
		int n = (int)i + 1;
		if (rec->role != PT_TLV_ROLE_SAST ||
		    !(rec->present & PT_TLV_BIT(PT_TLV_R_CERTIFICATE)) ||
		    !(h->present & PT_TLV_BIT(PT_TLV_H_SERIAL)) ||
		    !bytes_eq(&rec->serial, h->serial.data, h->serial.len))
			continue;
		if (!text_eq(rec->subject, h->signer_name))
			return pt_tlv_fail(d, PT_ERR_INVALID, rec->offset, n,
					   PT_TLV_R_SUBJECT,
					   "the record has the signer's serial "
					   "but its subject differs from the "
					   "signer name (header item 4)");
		if (!text_eq(rec->issuer, h->issuer_name))
			return pt_tlv_fail(d, PT_ERR_INVALID, rec->offset, n,
					   PT_TLV_R_ISSUER,
					   "the record has the signer's serial "
					   "but its issuer differs from header "
					   "item 6");
		if (found != SIZE_MAX)
			return pt_tlv_fail(d, PT_ERR_INVALID, rec->offset, n,
					   -1,
					   "records %zu and %d both match the "
					   "signer",
					   found + 1, n);
		found = i;
	}
	if (found == SIZE_MAX)
		return pt_tlv_fail(d, PT_ERR_NOT_FOUND,
				   header_offset(h, PT_TLV_H_SERIAL), 0,
				   PT_TLV_H_SERIAL,
				   "no SAST record with a certificate carries "
				   "the signer's serial");
	*index = found;
	return PT_OK;
}

static int check_signature(const pt_tlv_file_t *f, const X509 *cert,
			   const char *whose, pt_tlv_diag_t *d)
{
	const pt_tlv_header_t *h = &f->header;
	size_t off = h->signature_offset;
	const EVP_MD *md = pt_tlv_digest_md(h->digest);
	if (!md)
		return pt_tlv_fail(d, PT_ERR_INVALID,
				   header_offset(h, PT_TLV_H_DIGEST), 0,
				   PT_TLV_H_DIGEST,
				   "digest code %u is not supported (only 1 "
				   "SHA-1 and 3 SHA-512)",
				   h->digest);
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		ERR_clear_error();
		return pt_tlv_fail(d, PT_ERR_INVALID, off, 0,
				   PT_TLV_H_SIGNATURE,
				   "the key of %s is not RSA", whose);
	}
	if ((size_t)EVP_PKEY_get_size(pub) != h->signature.len)
		return pt_tlv_fail(d, PT_ERR_INVALID, off, 0,
				   PT_TLV_H_SIGNATURE,
				   "%zu bytes, but the key of %s makes "
				   "%d-byte signatures",
				   h->signature.len, whose,
				   EVP_PKEY_get_size(pub));
	/* Everything but the 3 + S bytes of item 12 is signed (§5). */
	size_t cut = off + 3 + h->signature.len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	if (!ctx)
		return PT_ERR_NOMEM;
	int r = PT_ERR_CRYPTO;
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pub) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestVerifyUpdate(ctx, f->raw, off) != 1 ||
	    EVP_DigestVerifyUpdate(ctx, f->raw + cut, f->raw_len - cut) != 1)
		goto out;
	if (EVP_DigestVerifyFinal(ctx, h->signature.data,
				  h->signature.len) == 1)
		r = PT_OK;
	else
		r = pt_tlv_fail(d, PT_ERR_AUTH, off, 0, PT_TLV_H_SIGNATURE,
				"the signature does not match the file with "
				"the key of %s",
				whose);
out:
	if (r == PT_ERR_CRYPTO)
		pt_tlv_fail(d, r, off, 0, PT_TLV_H_SIGNATURE,
			    "OpenSSL cannot check the signature");
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return r;
}

int pt_tlv_verify(const pt_tlv_file_t *f, const X509 *cert, size_t *signer,
		  pt_tlv_diag_t *d)
{
	X509 *own = NULL;
	size_t index = SIZE_MAX;
	char whose[48];
	if (signer)
		*signer = SIZE_MAX;
	int r = pt_tlv_validate(f, d);
	if (r != PT_OK)
		return r;
	if (cert) {
		if (!pt_tlv_serial_matches(cert, f->header.serial.data,
					   f->header.serial.len))
			return pt_tlv_fail(
				d, PT_ERR_INVALID,
				header_offset(&f->header, PT_TLV_H_SERIAL), 0,
				PT_TLV_H_SERIAL,
				"the given certificate has another serial");
		snprintf(whose, sizeof whose, "the given certificate");
	} else {
		r = pt_tlv_find_signer(f, &index, d);
		if (r != PT_OK)
			return r;
		const pt_tlv_bytes_t *der = &f->records[index].cert;
		r = pt_certs_decode_der(der->data, der->len, &own);
		if (r != PT_OK)
			return r; /* validated above: cannot happen */
		cert = own;
		snprintf(whose, sizeof whose, "record %zu", index + 1);
	}
	r = check_signature(f, cert, whose, d);
	if (r == PT_OK && signer)
		*signer = index;
	X509_free(own);
	return r;
}
