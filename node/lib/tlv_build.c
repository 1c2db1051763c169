/* Trust-list builder: the exact bytes of spec/tlv-files.md §3-§5.
 *
 * Header order 1, 2, 28, 3{4, 6, 5}, 7{8, 9{10, 11}}, 12, 14, 15, padding;
 * record order 1, 3, 5, 6, 4, 7, 8, 9 as compatible tools write it (and
 * as the spec's example shows), with a DNS name (item 2) right after item
 * 1, where server-made files carry it, only when the caller gives one.
 * Items whose encoding the spec does not reveal (10 IP address, 11 and 12
 * certificate hash) are never written.
 */
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certname.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "lib/tlv_internal.h"

#define U16_MAX 0xffffu

/* Length values patched in once the size is known. */
static const uint8_t placeholder[2];

/* A growing output buffer with a sticky error: writers check once. */
typedef struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
} wbuf_t;

static void put(wbuf_t *w, const void *data, size_t n)
{
	if (w->err || n == 0)
		return;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap - w->len < n)
			cap *= 2;
		uint8_t *grown = realloc(w->p, cap);
		if (!grown) {
			w->err = PT_ERR_NOMEM;
			return;
		}
		w->p = grown;
		w->cap = cap;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put_u8(wbuf_t *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_u16(wbuf_t *w, size_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(w, b, 2);
}

static void patch_u16(wbuf_t *w, size_t at, size_t v)
{
	if (w->err)
		return;
	w->p[at] = (uint8_t)(v >> 8);
	w->p[at + 1] = (uint8_t)v;
}

static void put_item(wbuf_t *w, uint8_t tag, const void *val, size_t n)
{
	if (n > U16_MAX && !w->err)
		w->err = PT_ERR_TOO_LARGE;
	put_u8(w, tag);
	put_u16(w, n);
	put(w, val, n);
}

/* Strings carry their NUL, counted by the length (§2). */
static void put_text(wbuf_t *w, uint8_t tag, const char *s)
{
	put_item(w, tag, s, strlen(s) + 1);
}

static void put_group(wbuf_t *w, uint8_t tag, wbuf_t *children)
{
	if (children->err && !w->err)
		w->err = children->err;
	put_item(w, tag, children->p, children->len);
}

static void wbuf_clear(wbuf_t *w)
{
	free(w->p);
	memset(w, 0, sizeof *w);
}

/* What a record says about its certificate. */
typedef struct prepared {
	X509 *x;
	char *subject, *issuer;
	uint8_t *serial, *key;
	size_t serial_len, key_len;
} prepared_t;

static void prepared_clear(prepared_t *p)
{
	X509_free(p->x);
	free(p->subject);
	free(p->issuer);
	free(p->serial);
	free(p->key);
	memset(p, 0, sizeof *p);
}

static int prepare(const pt_tlv_entry_t *e, size_t i, prepared_t *p,
		   pt_tlv_diag_t *d)
{
	if (!e->cert_der || e->cert_len == 0)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "entry %zu has no certificate", i + 1);
	if (!pt_tlv_role_name(e->role))
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "entry %zu: role %u is not a known role "
				   "code",
				   i + 1, e->role);
	int r = pt_certs_decode_der(e->cert_der, e->cert_len, &p->x);
	if (r != PT_OK)
		return pt_tlv_fail(d, r, SIZE_MAX, -1, -1,
				   "entry %zu: the certificate does not "
				   "decode (%s)",
				   i + 1, pt_strerror(r));
	r = pt_tlv_cert_public_key(p->x, &p->key, &p->key_len);
	if (r == PT_ERR_INVALID)
		return pt_tlv_fail(d, r, SIZE_MAX, -1, -1,
				   "entry %zu: the certificate's key is "
				   "neither RSA nor EC",
				   i + 1);
	if (r == PT_OK)
		r = pt_certname_text(X509_get_subject_name(p->x),
				     &p->subject);
	if (r == PT_OK)
		r = pt_certname_text(X509_get_issuer_name(p->x), &p->issuer);
	if (r == PT_OK)
		r = pt_certname_serial(p->x, &p->serial, &p->serial_len);
	return r;
}

static bool same_cert(const pt_tlv_entry_t *a, const uint8_t *der,
		      size_t len)
{
	return a->cert_len == len && memcmp(a->cert_der, der, len) == 0;
}

/* The list rules of §1 and §6 that a builder must keep. */
static int check_entries(const pt_tlv_entry_t *entries, size_t n,
			 const uint8_t *signer_der, size_t signer_len,
			 pt_tlv_diag_t *d)
{
	size_t sast = 0, first_sast = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		const pt_tlv_entry_t *e = &entries[i];
		if (e->role == PT_TLV_ROLE_SAST) {
			if (first_sast == SIZE_MAX)
				first_sast = i;
			if (++sast > 2)
				return pt_tlv_fail(
					d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
					"entry %zu is a third SAST: a list "
					"holds at most two",
					i + 1);
		}
		for (size_t j = 0; j < i; j++)
			if (entries[j].role == e->role && e->cert_der &&
			    same_cert(&entries[j], e->cert_der, e->cert_len))
				return pt_tlv_fail(
					d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
					"entries %zu and %zu list the same "
					"certificate with the same role",
					j + 1, i + 1);
	}
	if (n == 0)
		return PT_OK;
	if (first_sast == SIZE_MAX)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "no SAST entry: the signer must be listed "
				   "with role 0");
	if (!same_cert(&entries[first_sast], signer_der, signer_len))
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "the signer must be the first SAST entry "
				   "(entry %zu holds another certificate)",
				   first_sast + 1);
	return PT_OK;
}

static int put_record(wbuf_t *out, const pt_tlv_entry_t *e,
		      const prepared_t *p, size_t i, pt_tlv_diag_t *d)
{
	wbuf_t w = {0};
	const uint8_t *sig;
	size_t sig_len;
	uint8_t role[2] = {(uint8_t)(e->role >> 8), (uint8_t)e->role};

	pt_tlv_cert_signature(p->x, &sig, &sig_len);
	put_item(&w, PT_TLV_R_LENGTH, placeholder, 2);
	if (e->dns_name)
		put_text(&w, PT_TLV_R_DNS_NAME, e->dns_name);
	put_text(&w, PT_TLV_R_SUBJECT, p->subject);
	put_text(&w, PT_TLV_R_ISSUER, p->issuer);
	put_item(&w, PT_TLV_R_SERIAL, p->serial, p->serial_len);
	put_item(&w, PT_TLV_R_ROLE, role, 2);
	put_item(&w, PT_TLV_R_PUBLIC_KEY, p->key, p->key_len);
	put_item(&w, PT_TLV_R_SIGNATURE, sig, sig_len);
	put_item(&w, PT_TLV_R_CERTIFICATE, e->cert_der, e->cert_len);
	if (!w.err && w.len > U16_MAX)
		w.err = PT_ERR_TOO_LARGE;
	patch_u16(&w, 3, w.len);
	put(out, w.p, w.len);
	int r = w.err ? w.err : out->err;
	wbuf_clear(&w);
	if (r == PT_ERR_TOO_LARGE)
		return pt_tlv_fail(d, r, SIZE_MAX, -1, -1,
				   "entry %zu does not fit a record's 16-bit "
				   "length",
				   i + 1);
	return r;
}

/* Items 1 to 11: everything before the signature. */
static void put_head(wbuf_t *w, const pt_tlv_build_opts_t *opts,
		     const prepared_t *signer, unsigned digest, int code)
{
	wbuf_t g3 = {0}, g7 = {0}, g9 = {0};
	uint8_t version[2] = {1, 2};
	uint8_t list_version[2] = {1, opts->list_minor};
	uint8_t dg = (uint8_t)digest, alg = 0, mod = (uint8_t)code;

	put_item(w, PT_TLV_H_VERSION, version, 2);
	put_item(w, PT_TLV_H_HEADER_LENGTH, placeholder, 2);
	put_item(w, PT_TLV_H_LIST_VERSION, list_version, 2);
	put_text(&g3, PT_TLV_H_SIGNER_NAME, signer->subject);
	put_text(&g3, PT_TLV_H_ISSUER_NAME, signer->issuer);
	put_item(&g3, PT_TLV_H_SERIAL, signer->serial, signer->serial_len);
	put_group(w, PT_TLV_H_SIGNER_INFO, &g3);
	put_item(&g9, PT_TLV_H_ALGORITHM, &alg, 1);
	put_item(&g9, PT_TLV_H_MODULUS, &mod, 1);
	put_item(&g7, PT_TLV_H_DIGEST, &dg, 1);
	put_group(&g7, PT_TLV_H_ALGORITHM_INFO, &g9);
	put_group(w, PT_TLV_H_SIGNATURE_INFO, &g7);
	wbuf_clear(&g3);
	wbuf_clear(&g7);
	wbuf_clear(&g9);
}

/* Items 14, 15 and the padding that makes the header, signature item
 * included, a multiple of 4 bytes (§3). */
static int put_tail(wbuf_t *w, const pt_tlv_build_opts_t *opts,
		    size_t head_len, size_t sig_len, pt_tlv_diag_t *d)
{
	uint8_t ts[4] = {(uint8_t)(opts->timestamp >> 24),
			 (uint8_t)(opts->timestamp >> 16),
			 (uint8_t)(opts->timestamp >> 8),
			 (uint8_t)opts->timestamp};
	put_text(w, PT_TLV_H_FILE_NAME, opts->file_name);
	put_item(w, PT_TLV_H_TIMESTAMP, ts, 4);
	size_t l = head_len + 3 + sig_len + w->len;
	size_t pad = (4 - l % 4) % 4;
	for (size_t i = 0; i < pad; i++)
		put_u8(w, PT_TLV_H_PADDING);
	if (!w->err && l + pad > U16_MAX)
		w->err = PT_ERR_TOO_LARGE;
	if (w->err == PT_ERR_TOO_LARGE)
		return pt_tlv_fail(d, w->err, SIZE_MAX, -1, -1,
				   "the header outgrows its 16-bit length "
				   "(names or file name too long)");
	return w->err;
}

static int check_opts(const pt_tlv_build_opts_t *opts, unsigned *digest,
		      pt_tlv_diag_t *d)
{
	*digest = opts->digest ? (unsigned)opts->digest : PT_TLV_DIGEST_SHA1;
	if (!pt_tlv_digest_md(*digest))
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "digest code %u: only SHA-1 (1) and "
				   "SHA-512 (3) are produced",
				   *digest);
	if (opts->list_minor > 1)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "list version 1.%u: only 1.0 and 1.1 exist",
				   opts->list_minor);
	if (!opts->file_name || !*opts->file_name)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "no file name");
	return PT_OK;
}

/* No encoding of an EC signer is known (§7), so the signer is RSA.
 * SHA-512's DigestInfo (83 bytes) plus PKCS#1 padding does not fit a
 * 512-bit modulus. */
static int check_signer(EVP_PKEY *key, unsigned digest, int *code,
			pt_tlv_diag_t *d)
{
	*code = pt_tlv_modulus_code(key);
	if (*code < 0)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "the signer must be an RSA key of 512, "
				   "1024, 2048 or 4096 bits");
	if ((size_t)EVP_PKEY_get_size(key) != (size_t)64 << *code)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "the signer key's size is inconsistent");
	if (digest == PT_TLV_DIGEST_SHA512 && *code == 0)
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "SHA-512 signatures need an RSA key of at "
				   "least 1024 bits");
	return PT_OK;
}

static int check_signer_pair(EVP_PKEY *key, X509 *cert, pt_tlv_diag_t *d)
{
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		return pt_tlv_fail(d, PT_ERR_INVALID, SIZE_MAX, -1, -1,
				   "the signer key does not belong to the "
				   "signer certificate");
	}
	return PT_OK;
}

int pt_tlv_build(const pt_tlv_entry_t *entries, size_t n,
		 const pt_tlv_build_opts_t *opts, EVP_PKEY *key, X509 *cert,
		 uint8_t **out, size_t *out_len, pt_tlv_diag_t *diag)
{
	prepared_t signer = {0};
	prepared_t *prep = NULL;
	uint8_t *signer_der = NULL, *file = NULL;
	size_t signer_len = 0;
	wbuf_t head = {0}, tail = {0};
	unsigned digest = 0;
	int code = 0;
	int r = PT_ERR_INVALID;

	*out = NULL;
	*out_len = 0;
	if (diag)
		memset(diag, 0, sizeof *diag);
	if (!opts || !key || !cert || (n > 0 && !entries))
		return PT_ERR_INVALID;
	if (n > PT_TLV_RECORDS_MAX)
		return pt_tlv_fail(diag, PT_ERR_TOO_LARGE, SIZE_MAX, -1, -1,
				   "more than %u entries", PT_TLV_RECORDS_MAX);
	r = check_opts(opts, &digest, diag);
	if (r == PT_OK)
		r = check_signer(key, digest, &code, diag);
	if (r == PT_OK)
		r = check_signer_pair(key, cert, diag);
	if (r == PT_OK)
		r = pt_certs_encode_der(cert, &signer_der, &signer_len);
	if (r == PT_OK)
		r = check_entries(entries, n, signer_der, signer_len, diag);
	if (r != PT_OK)
		goto out;

	r = PT_ERR_NOMEM;
	if (n > 0 && !(prep = calloc(n, sizeof *prep)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((r = prepare(&entries[i], i, &prep[i], diag)) != PT_OK)
			goto out;
	r = pt_certname_text(X509_get_subject_name(cert), &signer.subject);
	if (r == PT_OK)
		r = pt_certname_text(X509_get_issuer_name(cert),
				     &signer.issuer);
	if (r == PT_OK)
		r = pt_certname_serial(cert, &signer.serial,
					&signer.serial_len);
	if (r != PT_OK)
		goto out;

	size_t sig_len = (size_t)64 << code;
	put_head(&head, opts, &signer, digest, code);
	if ((r = head.err) != PT_OK) {
		if (r == PT_ERR_TOO_LARGE)
			pt_tlv_fail(diag, r, SIZE_MAX, -1, -1,
				    "the signer's names outgrow a 16-bit "
				    "length");
		goto out;
	}
	if ((r = put_tail(&tail, opts, head.len, sig_len, diag)) != PT_OK)
		goto out;
	patch_u16(&head, 8, head.len + 3 + sig_len + tail.len);
	for (size_t i = 0; i < n; i++)
		if ((r = put_record(&tail, &entries[i], &prep[i], i, diag)) !=
		    PT_OK)
			goto out;

	/* The signature item goes between item 11 and item 14; it covers
	 * everything else (§5). */
	size_t total = head.len + 3 + sig_len + tail.len;
	if (total > PT_TLV_FILE_MAX) {
		r = pt_tlv_fail(diag, PT_ERR_TOO_LARGE, SIZE_MAX, -1, -1,
				"%zu bytes exceed the %u-byte limit of a trust "
				"list",
				total, PT_TLV_FILE_MAX);
		goto out;
	}
	r = PT_ERR_NOMEM;
	if (!(file = malloc(total)))
		goto out;
	memcpy(file, head.p, head.len);
	file[head.len] = PT_TLV_H_SIGNATURE;
	file[head.len + 1] = (uint8_t)(sig_len >> 8);
	file[head.len + 2] = (uint8_t)sig_len;
	memcpy(file + head.len + 3 + sig_len, tail.p, tail.len);
	r = pt_tlv_sign_parts(key, (pt_tlv_digest_t)digest, head.p, head.len,
			      tail.p, tail.len, file + head.len + 3, sig_len);
	if (r != PT_OK) {
		ERR_clear_error();
		pt_tlv_fail(diag, r, SIZE_MAX, -1, -1,
			    "signing with the signer key failed");
		goto out;
	}
	*out = file;
	*out_len = total;
	file = NULL;
out:
	free(file);
	wbuf_clear(&head);
	wbuf_clear(&tail);
	for (size_t i = 0; prep && i < n; i++)
		prepared_clear(&prep[i]);
	free(prep);
	prepared_clear(&signer);
	free(signer_der);
	return r;
}
