#include "lib/itl.h"

#include <ctype.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/certs.h"
#include "lib/errors.h"

/* Records besides the TVS ones: SAST + TFTP (the node's own certificate),
 * CAPF, recovery SAST. */
#define FIXED_RECORDS 4u

/* Bumped whenever the records made from the same inputs change, so that a
 * stored ITL built by an older binary is rebuilt. */
static const char digest_label[] = "phonetrust ITL inputs v1";

int pt_itl_digest_parse(const char *value, pt_tlv_digest_t *out)
{
	if (!value)
		return PT_ERR_INVALID;
	if (strcasecmp(value, "sha1") == 0) {
		*out = PT_TLV_DIGEST_SHA1;
		return PT_OK;
	}
	if (strcasecmp(value, "sha512") == 0) {
		*out = PT_TLV_DIGEST_SHA512;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

static bool present(const uint8_t *der, size_t len)
{
	return der && len > 0;
}

/* ---- inputs digest ---- */

static int put_u32(EVP_MD_CTX *md, size_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v};
	return EVP_DigestUpdate(md, b, sizeof b);
}

/* Length-prefixed, so that no two different sequences of fields hash the
 * same bytes. */
static int put_field(EVP_MD_CTX *md, const void *p, size_t len)
{
	if (!put_u32(md, len))
		return 0;
	return len == 0 || EVP_DigestUpdate(md, p, len);
}

int pt_itl_inputs_digest(const pt_itl_inputs_t *in, uint8_t out[32])
{
	uint8_t *tftp = NULL;
	size_t tftp_len = 0;
	EVP_MD_CTX *md = NULL;
	unsigned n = 0;
	int r;

	if (!in || !in->tftp_cert || (in->n_tvs > 0 && !in->tvs))
		return PT_ERR_INVALID;
	r = pt_certs_encode_der(in->tftp_cert, &tftp, &tftp_len);
	if (r != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	unsigned code = in->digest ? (unsigned)in->digest : PT_TLV_DIGEST_SHA1;
	int ok = put_field(md, digest_label, sizeof digest_label - 1);
	ok = ok && put_u32(md, code);
	ok = ok && put_field(md, tftp, tftp_len);
	ok = ok && put_field(md, in->capf_der,
			     present(in->capf_der, in->capf_len) ? in->capf_len
								  : 0);
	ok = ok && put_field(md, in->recovery_der,
			     present(in->recovery_der, in->recovery_len)
				     ? in->recovery_len
				     : 0);
	ok = ok && put_u32(md, in->n_tvs);
	for (size_t i = 0; ok && i < in->n_tvs; i++) {
		const pt_itl_tvs_t *t = &in->tvs[i];
		const char *addr = t->address ? t->address : "";
		ok = put_field(md, addr, strlen(addr));
		ok = ok && put_field(md, t->cert_der,
				     present(t->cert_der, t->cert_len)
					     ? t->cert_len
					     : 0);
	}
	if (ok && EVP_DigestFinal_ex(md, out, &n) && n == 32)
		r = PT_OK;
out:
	if (r == PT_ERR_CRYPTO)
		ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(tftp);
	return r;
}

/* ---- building ---- */

/* Checks one certificate before the codec sees it, so that a refusal
 * names the input rather than an entry number. */
static int check_cert(const uint8_t *der, size_t len, const char *what,
		      const char *node, pt_tlv_diag_t *d)
{
	X509 *x = NULL;
	int r = pt_certs_decode_der(der, len, &x);
	if (r == PT_OK) {
		EVP_PKEY *k = X509_get0_pubkey(x);
		int id = k ? EVP_PKEY_get_base_id(k) : 0;
		if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC)
			r = PT_ERR_INVALID;
	}
	X509_free(x);
	ERR_clear_error();
	if (r == PT_OK)
		return PT_OK;
	if (node)
		return pt_tlv_refuse(
			d, PT_ERR_INVALID,
			"the %s certificate of node %s is unusable (%s)", what,
			node,
			r == PT_ERR_INVALID ? "its key is neither RSA "
					      "nor EC"
					    : pt_strerror(r));
	return pt_tlv_refuse(
		d, PT_ERR_INVALID, "the %s certificate is unusable (%s)", what,
		r == PT_ERR_INVALID ? "its key is neither RSA nor EC"
				    : pt_strerror(r));
}

static bool tvs_seen(const pt_itl_tvs_t *tvs, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (present(tvs[j].cert_der, tvs[j].cert_len) &&
		    tvs[j].cert_len == tvs[i].cert_len &&
		    memcmp(tvs[j].cert_der, tvs[i].cert_der,
			   tvs[i].cert_len) == 0)
			return true;
	return false;
}

/* The entries of the list (pointers into in and tftp), in record order. */
static int make_entries(const pt_itl_inputs_t *in, const uint8_t *tftp,
			size_t tftp_len, pt_tlv_entry_t **out, size_t *n,
			pt_tlv_diag_t *d)
{
	*out = NULL;
	*n = 0;
	if (in->n_tvs > PT_TLV_RECORDS_MAX)
		return pt_tlv_refuse(
			d, PT_ERR_TOO_LARGE,
			"%zu nodes: an ITL lists at most %u records", in->n_tvs,
			PT_TLV_RECORDS_MAX);
	pt_tlv_entry_t *e = calloc(in->n_tvs + FIXED_RECORDS, sizeof *e);
	if (!e)
		return PT_ERR_NOMEM;
	size_t k = 0;
	int r = PT_OK;
	e[k++] = (pt_tlv_entry_t){PT_TLV_ROLE_SAST, tftp, tftp_len, NULL};
	e[k++] = (pt_tlv_entry_t){PT_TLV_ROLE_TFTP, tftp, tftp_len, NULL};
	if (present(in->capf_der, in->capf_len)) {
		r = check_cert(in->capf_der, in->capf_len, "CAPF", NULL, d);
		e[k++] = (pt_tlv_entry_t){PT_TLV_ROLE_CAPF, in->capf_der,
					  in->capf_len, NULL};
	}
	for (size_t i = 0; r == PT_OK && i < in->n_tvs; i++) {
		const pt_itl_tvs_t *t = &in->tvs[i];
		if (!present(t->cert_der, t->cert_len) || tvs_seen(in->tvs, i))
			continue;
		r = check_cert(t->cert_der, t->cert_len, "TVS",
			       t->node ? t->node : "?", d);
		const char *dns = t->address && *t->address ? t->address
							    : NULL;
		e[k++] = (pt_tlv_entry_t){PT_TLV_ROLE_TVS, t->cert_der,
					  t->cert_len, dns};
	}
	if (r == PT_OK && present(in->recovery_der, in->recovery_len)) {
		r = check_cert(in->recovery_der, in->recovery_len,
			       "ITL recovery", NULL, d);
		e[k++] = (pt_tlv_entry_t){PT_TLV_ROLE_SAST, in->recovery_der,
					  in->recovery_len, NULL};
	}
	if (r != PT_OK) {
		free(e);
		return r;
	}
	*out = e;
	*n = k;
	return PT_OK;
}

int pt_itl_build(const pt_itl_inputs_t *in, EVP_PKEY *key,
		 uint32_t timestamp, uint8_t **out, size_t *out_len,
		 size_t *n_records, pt_tlv_diag_t *d)
{
	uint8_t *tftp = NULL, *file = NULL;
	size_t tftp_len = 0, n = 0, file_len = 0;
	pt_tlv_entry_t *entries = NULL;
	int r;

	*out = NULL;
	*out_len = 0;
	if (n_records)
		*n_records = 0;
	if (d)
		memset(d, 0, sizeof *d);
	if (!in || !in->tftp_cert || !key || (in->n_tvs > 0 && !in->tvs))
		return pt_tlv_refuse(
			d, PT_ERR_INVALID,
			"no TFTP certificate and key to sign the ITL");
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return pt_tlv_refuse(
			d, PT_ERR_INVALID,
			"the TFTP key is not RSA: an ITL can only be "
			"signed with an RSA key");
	r = pt_certs_encode_der(in->tftp_cert, &tftp, &tftp_len);
	if (r == PT_OK)
		r = make_entries(in, tftp, tftp_len, &entries, &n, d);
	if (r != PT_OK)
		goto out;
	pt_tlv_build_opts_t opts = {
		.file_name = PT_TLV_ITL_NAME,
		.timestamp = timestamp,
		.digest = in->digest ? in->digest : PT_TLV_DIGEST_SHA1,
		.list_minor = 0,
	};
	r = pt_tlv_build(entries, n, &opts, key, in->tftp_cert, &file,
			 &file_len, d);
	if (r != PT_OK)
		goto out;
	*out = file;
	*out_len = file_len;
	if (n_records)
		*n_records = n;
out:
	free(entries);
	free(tftp);
	return r;
}

int pt_itl_sep_name(const char *mac, char *buf, size_t len)
{
	if (!mac || strlen(mac) != 12)
		return PT_ERR_INVALID;
	for (size_t i = 0; i < 12; i++)
		if (!isxdigit((unsigned char)mac[i]))
			return PT_ERR_INVALID;
	if (len < PT_ITL_SEP_NAME_LEN)
		return PT_ERR_TOO_LARGE;
	memcpy(buf, "ITLSEP", 6);
	for (size_t i = 0; i < 12; i++)
		buf[6 + i] = (char)toupper((unsigned char)mac[i]);
	memcpy(buf + 18, ".tlv", 5);
	return PT_OK;
}

int pt_itl_build_sep(const pt_itl_inputs_t *in, EVP_PKEY *key,
		     const char *mac, uint32_t timestamp, uint8_t **out,
		     size_t *out_len, pt_tlv_diag_t *diag)
{
	char name[PT_ITL_SEP_NAME_LEN];
	*out = NULL;
	*out_len = 0;
	if (pt_itl_sep_name(mac, name, sizeof name) != PT_OK)
		return pt_tlv_refuse(
			diag, PT_ERR_INVALID,
			"'%.40s' is not a MAC address of 12 hex digits",
			mac ? mac : "");
	/* Same records and generic name item: see the header. */
	return pt_itl_build(in, key, timestamp, out, out_len, NULL, diag);
}
