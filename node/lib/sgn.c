#include "lib/sgn.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/certname.h"
#include "lib/errors.h"
#include "lib/rbuf.h"

/* What each tag is, where it may stand and how long its value may be
 * before the reader calls it oversized (0: only the u16 bound). */
typedef struct tag_info {
	const char *name;
	uint8_t parent; /* 0 = top level of the header */
	bool group;
	uint16_t max;
} tag_info_t;

static const tag_info_t tags[PT_SGN_TAG_COUNT] = {
	[PT_SGN_TAG_VERSION] = {"format version", 0, false, 0},
	[PT_SGN_TAG_HEADER_LEN] = {"header length", 0, false, 0},
	[PT_SGN_TAG_SIGNER_INFO] = {"signer-info group", 0, true, 0},
	[PT_SGN_TAG_SIGNER] = {"signer name", 3, false, PT_SGN_NAME_MAX},
	[PT_SGN_TAG_SERIAL] = {"serial number", 3, false, PT_SGN_SERIAL_MAX},
	[PT_SGN_TAG_ISSUER] = {"issuer name", 3, false, PT_SGN_NAME_MAX},
	[PT_SGN_TAG_SIG_INFO] = {"signature-info group", 0, true, 0},
	[PT_SGN_TAG_DIGEST] = {"digest algorithm", 7, false, 0},
	[PT_SGN_TAG_SIG_ALG_INFO] = {"signature-algorithm group", 7, true, 0},
	[PT_SGN_TAG_SIG_ALG] = {"signature algorithm", 9, false, 0},
	[PT_SGN_TAG_MODULUS] = {"modulus size code", 9, false, 0},
	[PT_SGN_TAG_SIGNATURE] = {"signature", 0, false, 512},
	[PT_SGN_TAG_PADDING] = {"padding", 0, false, 0},
	[PT_SGN_TAG_FILE_NAME] = {"file name", 0, false, PT_SGN_FILE_NAME_MAX},
	[PT_SGN_TAG_TIMESTAMP] = {"timestamp", 0, false, 0},
	[PT_SGN_TAG_ENCRYPTION] = {"encryption group", 0, true, 0},
	[PT_SGN_TAG_IV_INFO] = {"IV group", 16, true, 0},
	[PT_SGN_TAG_IV_UNNAMED] = {"IV-group unnamed item", 17, false, 0},
	[PT_SGN_TAG_IV] = {"IV", 17, false, 0},
	[PT_SGN_TAG_PAD_COUNT] = {"pad count", 17, false, 0},
	[PT_SGN_TAG_KEY_INFO] = {"key group", 16, true, 0},
	[PT_SGN_TAG_KEY_UNNAMED] = {"key-group unnamed item", 21, false, 0},
	[PT_SGN_TAG_KEY_BITS] = {"key size", 21, false, 0},
	[PT_SGN_TAG_KEY_ALG] = {"key algorithm", 21, false, 0},
	[PT_SGN_TAG_WRAPPED_KEY] = {"wrapped key", 21, false, 512},
	[PT_SGN_TAG_CONTENT_DIGEST_ALG] = {"content digest algorithm", 0, false,
					   0},
	[PT_SGN_TAG_CONTENT_DIGEST] = {"content digest", 0, false, 0},
};

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

static const char *where(uint8_t parent)
{
	return parent ? tags[parent].name : "the header";
}

const char *pt_sgn_digest_name(pt_sgn_digest_t digest)
{
	switch (digest) {
	case PT_SGN_SHA1: return "SHA-1";
	case PT_SGN_SHA256: return "SHA-256";
	case PT_SGN_SHA512: return "SHA-512";
	}
	return "unknown";
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


/* ---- building ---- */

/* The served name: a relative TFTP path of printable bytes.  UTF-8 above
 * 0x7F is let through; control bytes, backslashes and empty, "." or ".."
 * segments are not. */
static bool file_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	size_t seg = 0;

	if (n == 0 || n + 1 > PT_SGN_FILE_NAME_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/' || c == '\0') {
			size_t len = i - seg;
			if (len == 0 || (len == 1 && name[seg] == '.') ||
			    (len == 2 && name[seg] == '.' && name[seg + 1] == '.'))
				return false;
			seg = i + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
	}
	return true;
}

typedef struct wbuf {
	uint8_t *p;
	size_t pos;
} wbuf_t;

static void put_u8(wbuf_t *w, uint8_t v)
{
	w->p[w->pos++] = v;
}

static void put_u16(wbuf_t *w, size_t v)
{
	put_u8(w, (uint8_t)(v >> 8));
	put_u8(w, (uint8_t)v);
}

static void put_head(wbuf_t *w, uint8_t tag, size_t len)
{
	put_u8(w, tag);
	put_u16(w, len);
}

static void put_item(wbuf_t *w, uint8_t tag, const void *val, size_t len)
{
	put_head(w, tag, len);
	if (len)
		memcpy(w->p + w->pos, val, len);
	w->pos += len;
}

static int modulus_code(size_t sig_len, uint8_t *code)
{
	for (uint8_t c = 0; c <= 3; c++) {
		if (sig_len == (size_t)64 << c) {
			*code = c;
			return PT_OK;
		}
	}
	return PT_ERR_INVALID;
}

/* RSASSA-PKCS1-v1_5 over a then b: the file with the signature item cut
 * out is two runs of bytes. */
static int sign_two(EVP_PKEY *key, const EVP_MD *md, const uint8_t *a,
		    size_t alen, const uint8_t *b, size_t blen, uint8_t *sig,
		    size_t sig_len)
{
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	size_t n = sig_len;
	int r = PT_ERR_CRYPTO;

	if (!mc || EVP_DigestSignInit(mc, &pc, md, NULL, key) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestSignUpdate(mc, a, alen) != 1 ||
	    EVP_DigestSignUpdate(mc, b, blen) != 1 ||
	    EVP_DigestSignFinal(mc, sig, &n) != 1 || n != sig_len)
		goto out;
	r = PT_OK;
out:
	EVP_MD_CTX_free(mc);
	return r;
}

int pt_sgn_build_ext(unsigned version, const uint8_t *extra,
		     size_t extra_len, const uint8_t *payload,
		     size_t payload_len, EVP_PKEY *key, X509 *cert,
		     const pt_sgn_opts_t *opts, uint8_t **out, size_t *out_len)
{
	pt_sgn_digest_t digest;
	char *subject = NULL, *issuer = NULL;
	uint8_t *serial = NULL;
	size_t serial_len, sig_len, name_len, subj_len, iss_len;
	size_t group3, header, pad, sig_off, total;
	uint8_t code, *buf = NULL;
	uint32_t ts;
	wbuf_t w;
	int r;

	*out = NULL;
	*out_len = 0;
	if (!opts || !key || !cert || version < 1 || version > 255 ||
	    (!payload && payload_len) || (!extra && extra_len))
		return PT_ERR_INVALID;
	if (extra_len > UINT16_MAX || payload_len > PT_SGN_FILE_MAX)
		return PT_ERR_TOO_LARGE;
	digest = opts->digest ? opts->digest : PT_SGN_SHA1;
	if (!digest_md(digest) || !file_name_ok(opts->file_name))
		return PT_ERR_INVALID;
	/* The header describes RSA signers only (items 10 and 11). */
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return PT_ERR_INVALID;
	sig_len = (size_t)EVP_PKEY_get_size(key);
	if (modulus_code(sig_len, &code) != PT_OK)
		return PT_ERR_INVALID;
	/* A SHA-512 DigestInfo (83 bytes) plus PKCS#1 padding does not fit a
	 * 512-bit modulus. */
	if (digest == PT_SGN_SHA512 && sig_len < 128)
		return PT_ERR_INVALID;
	if (!X509_get0_pubkey(cert) ||
	    EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)
		return PT_ERR_INVALID;

	if ((r = pt_certname_text(X509_get_subject_name(cert), &subject)) ||
	    (r = pt_certname_text(X509_get_issuer_name(cert), &issuer)) ||
	    (r = pt_certname_serial(cert, &serial, &serial_len)))
		goto out;
	subj_len = strlen(subject) + 1;
	iss_len = strlen(issuer) + 1;
	name_len = strlen(opts->file_name) + 1;
	if (subj_len > PT_SGN_NAME_MAX || iss_len > PT_SGN_NAME_MAX) {
		r = PT_ERR_TOO_LARGE;
		goto out;
	}
	group3 = 3 + subj_len + 3 + iss_len + 3 + serial_len;
	header = 5 + 5 + 3 + group3 + 3 + 15 + 3 + sig_len + 3 + name_len + 7 +
		 extra_len;
	pad = (4 - header % 4) % 4;
	header += pad;
	if (header > UINT16_MAX) {
		r = PT_ERR_TOO_LARGE;
		goto out;
	}
	if (payload_len > PT_SGN_FILE_MAX - header) {
		r = PT_ERR_TOO_LARGE;
		goto out;
	}
	total = header + payload_len;
	if (!(buf = malloc(total))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	ts = opts->timestamp ? opts->timestamp : (uint32_t)time(NULL);

	w = (wbuf_t){buf, 0};
	put_item(&w, PT_SGN_TAG_VERSION, (uint8_t[]){(uint8_t)version, 0}, 2);
	put_head(&w, PT_SGN_TAG_HEADER_LEN, 2);
	put_u16(&w, header);
	put_head(&w, PT_SGN_TAG_SIGNER_INFO, group3);
	put_item(&w, PT_SGN_TAG_SIGNER, subject, subj_len);
	put_item(&w, PT_SGN_TAG_ISSUER, issuer, iss_len);
	put_item(&w, PT_SGN_TAG_SERIAL, serial, serial_len);
	put_head(&w, PT_SGN_TAG_SIG_INFO, 15);
	put_item(&w, PT_SGN_TAG_DIGEST, (uint8_t[]){(uint8_t)digest}, 1);
	put_head(&w, PT_SGN_TAG_SIG_ALG_INFO, 8);
	put_item(&w, PT_SGN_TAG_SIG_ALG, (uint8_t[]){0}, 1);
	put_item(&w, PT_SGN_TAG_MODULUS, &code, 1);
	sig_off = w.pos;
	put_head(&w, PT_SGN_TAG_SIGNATURE, sig_len);
	w.pos += sig_len; /* filled once the rest is in place */
	put_item(&w, PT_SGN_TAG_FILE_NAME, opts->file_name, name_len);
	put_head(&w, PT_SGN_TAG_TIMESTAMP, 4);
	put_u16(&w, ts >> 16);
	put_u16(&w, ts & 0xffff);
	if (extra_len) {
		memcpy(w.p + w.pos, extra, extra_len);
		w.pos += extra_len;
	}
	while (pad--)
		put_u8(&w, PT_SGN_TAG_PADDING);
	if (payload_len)
		memcpy(buf + header, payload, payload_len);

	r = sign_two(key, digest_md(digest), buf, sig_off,
		     buf + sig_off + 3 + sig_len, total - sig_off - 3 - sig_len,
		     buf + sig_off + 3, sig_len);
	if (r != PT_OK)
		goto out;
	*out = buf;
	*out_len = total;
	buf = NULL;
out:
	free(buf);
	free(subject);
	free(issuer);
	free(serial);
	return r;
}

int pt_sgn_build(const uint8_t *payload, size_t payload_len, EVP_PKEY *key,
		 X509 *cert, const pt_sgn_opts_t *opts, uint8_t **out,
		 size_t *out_len)
{
	return pt_sgn_build_ext(1, NULL, 0, payload, payload_len, key, cert,
				opts, out, out_len);
}

/* ---- decoding ---- */

/* Items 1 and 2 at their fixed places; returns H. */
static int read_fixed(pt_rbuf_t *rb, size_t *header_len, pt_sgn_diag_t *diag)
{
	uint8_t tag;
	uint16_t len, h;
	size_t size = pt_rbuf_remaining(rb);

	if (size > PT_SGN_FILE_MAX)
		return fail(diag, PT_ERR_TOO_LARGE, 0,
			    "file is %zu bytes, more than the %u allowed", size,
			    PT_SGN_FILE_MAX);
	if (size < PT_SGN_MIN_HEADER)
		return fail(diag, PT_ERR_INCOMPLETE, size,
			    "file ends at %zu bytes, a signed header needs at "
			    "least %u",
			    size, PT_SGN_MIN_HEADER);
	(void)pt_rbuf_get_u8(rb, &tag);
	(void)pt_rbuf_get_u16(rb, &len);
	if (tag != PT_SGN_TAG_VERSION || len != 2)
		return fail(diag, PT_ERR_MALFORMED, 0,
			    "expected item 1 (format version) of length 2, "
			    "found tag %u length %u",
			    tag, len);
	(void)pt_rbuf_skip(rb, 2);
	(void)pt_rbuf_get_u8(rb, &tag);
	(void)pt_rbuf_get_u16(rb, &len);
	if (tag != PT_SGN_TAG_HEADER_LEN || len != 2)
		return fail(diag, PT_ERR_MALFORMED, 5,
			    "expected item 2 (header length) of length 2, "
			    "found tag %u length %u",
			    tag, len);
	(void)pt_rbuf_get_u16(rb, &h);
	if (h < PT_SGN_MIN_HEADER)
		return fail(diag, PT_ERR_MALFORMED, 5,
			    "header length %u is below the %u bytes of items 1 "
			    "and 2",
			    h, PT_SGN_MIN_HEADER);
	if (h > size)
		return fail(diag, PT_ERR_INCOMPLETE, size,
			    "file ends at %zu bytes, inside its %u-byte header",
			    size, h);
	*header_len = h;
	return PT_OK;
}

/* Walks the items of one container (the header after item 2, or a group
 * value) that starts at file offset base.  Tags may only appear in their
 * own parent, so the recursion is at most three groups deep. */
static int walk(pt_sgn_raw_t *raw, pt_rbuf_t *rb, size_t base, uint8_t parent,
		pt_sgn_diag_t *diag)
{
	while (pt_rbuf_remaining(rb) > 0) {
		size_t off = base + pt_rbuf_offset(rb);
		uint8_t tag;
		uint16_t len;
		const uint8_t *val;
		pt_rbuf_t child;
		int r;

		(void)pt_rbuf_peek_u8(rb, &tag);
		/* Builders pad only after the last item, but the reader
		 * checklist takes a 0x0D byte as padding wherever an item
		 * could start at the top level; inside a group it is not a
		 * child, so the group would not be filled by its children. */
		if (tag == PT_SGN_TAG_PADDING) {
			if (parent)
				return fail(diag, PT_ERR_MALFORMED, off,
					    "padding byte inside %s",
					    tags[parent].name);
			(void)pt_rbuf_skip(rb, 1);
			raw->pad_count++;
			continue;
		}
		if (pt_rbuf_remaining(rb) < 3)
			return fail(diag, PT_ERR_TRAILING, off,
				    "%zu trailing bytes at the end of %s, too "
				    "few for an item",
				    pt_rbuf_remaining(rb), where(parent));
		if (tag == 28)
			return fail(diag, PT_ERR_MALFORMED, off,
				    "item 28 (trust-list version) does not "
				    "belong in a signed file");
		if (tag == 0 || tag >= PT_SGN_TAG_COUNT)
			return fail(diag, PT_ERR_MALFORMED, off,
				    "unknown tag %u", tag);
		const tag_info_t *ti = &tags[tag];
		if (ti->parent != parent)
			return fail(diag, PT_ERR_MALFORMED, off,
				    "item %u (%s) found in %s; it belongs in %s",
				    tag, ti->name, where(parent),
				    where(ti->parent));
		if (raw->item[tag].present)
			return fail(diag, PT_ERR_MALFORMED, off,
				    "item %u (%s) repeated; first at offset %zu",
				    tag, ti->name, raw->item[tag].off);
		(void)pt_rbuf_skip(rb, 1);
		(void)pt_rbuf_get_u16(rb, &len);
		if (ti->max && len > ti->max)
			return fail(diag, PT_ERR_TOO_LARGE, off,
				    "item %u (%s) is %u bytes, more than %u",
				    tag, ti->name, len, ti->max);
		if (pt_rbuf_get_view(rb, len, &val) != PT_OK)
			return fail(diag, PT_ERR_MALFORMED, off,
				    "item %u (%s) of %u bytes runs past the end "
				    "of %s at offset %zu",
				    tag, ti->name, len, where(parent),
				    base + rb->len);
		raw->item[tag] = (pt_sgn_item_t){true, off, val, len};
		if (ti->group) {
			pt_rbuf_init(&child, val, len);
			if ((r = walk(raw, &child, off + 3, tag, diag)) != PT_OK)
				return r;
		}
	}
	return PT_OK;
}

int pt_sgn_decode(const uint8_t *data, size_t len, pt_sgn_raw_t *out,
		  pt_sgn_diag_t *diag)
{
	pt_sgn_raw_t raw = {0};
	pt_rbuf_t rb, head;
	int r;

	memset(out, 0, sizeof *out);
	pt_rbuf_init(&rb, data, len);
	if ((r = read_fixed(&rb, &raw.header_len, diag)) != PT_OK)
		return r;
	raw.data = data;
	raw.len = len;
	raw.item[PT_SGN_TAG_VERSION] = (pt_sgn_item_t){true, 0, data + 3, 2};
	raw.item[PT_SGN_TAG_HEADER_LEN] = (pt_sgn_item_t){true, 5, data + 8, 2};
	/* pt_rbuf_get_child cannot fail: H <= len was checked. */
	if ((r = pt_rbuf_get_child(&rb, raw.header_len - PT_SGN_MIN_HEADER,
				   &head)) != PT_OK)
		return r;
	if ((r = walk(&raw, &head, PT_SGN_MIN_HEADER, 0, diag)) != PT_OK)
		return r;
	raw.payload = data + raw.header_len;
	raw.payload_len = len - raw.header_len;
	*out = raw;
	return PT_OK;
}

/* ---- checking ---- */

static int need_item(const pt_sgn_raw_t *raw, uint8_t tag,
		     pt_sgn_diag_t *diag)
{
	uint8_t parent = tags[tag].parent;
	size_t off = parent ? raw->item[parent].off : raw->header_len;

	if (raw->item[tag].present)
		return PT_OK;
	return fail(diag, PT_ERR_MALFORMED, off, "item %u (%s) missing from %s",
		    tag, tags[tag].name, where(parent));
}

static int need_len(const pt_sgn_raw_t *raw, uint8_t tag, size_t want,
		    pt_sgn_diag_t *diag)
{
	const pt_sgn_item_t *it = &raw->item[tag];
	if (it->len == want)
		return PT_OK;
	return fail(diag, PT_ERR_MALFORMED, it->off,
		    "item %u (%s) is %zu bytes, expected %zu", tag,
		    tags[tag].name, it->len, want);
}

/* A string item: at least the NUL, which must be its last byte and the
 * only NUL in it. */
static int need_string(const pt_sgn_raw_t *raw, uint8_t tag,
		       pt_sgn_diag_t *diag)
{
	const pt_sgn_item_t *it = &raw->item[tag];
	const uint8_t *nul = it->len ? memchr(it->val, 0, it->len) : NULL;

	if (nul && (size_t)(nul - it->val) == it->len - 1)
		return PT_OK;
	return fail(diag, PT_ERR_MALFORMED, it->off,
		    nul ? "item %u (%s) has a NUL byte before its end"
			: "item %u (%s) is not NUL-terminated",
		    tag, tags[tag].name);
}

/* Reads a fixed-length big-endian value (1, 2 or 4 bytes, length checked
 * by the caller) through the bounded reader. */
static uint32_t item_uint(const pt_sgn_item_t *it)
{
	pt_rbuf_t rb;
	uint32_t v = 0;
	uint16_t v16;
	uint8_t v8;

	pt_rbuf_init(&rb, it->val, it->len);
	if (it->len == 1 && pt_rbuf_get_u8(&rb, &v8) == PT_OK)
		v = v8;
	else if (it->len == 2 && pt_rbuf_get_u16(&rb, &v16) == PT_OK)
		v = v16;
	else if (it->len == 4)
		(void)pt_rbuf_get_u32(&rb, &v);
	return v;
}

int pt_sgn_check(const pt_sgn_raw_t *raw, unsigned version,
		 pt_sgn_file_t *out, pt_sgn_diag_t *diag)
{
	static const uint8_t required[] = {
		PT_SGN_TAG_SIGNER_INFO, PT_SGN_TAG_SIGNER, PT_SGN_TAG_ISSUER,
		PT_SGN_TAG_SERIAL,      PT_SGN_TAG_SIG_INFO, PT_SGN_TAG_DIGEST,
		PT_SGN_TAG_SIG_ALG_INFO, PT_SGN_TAG_SIG_ALG, PT_SGN_TAG_MODULUS,
		PT_SGN_TAG_SIGNATURE,   PT_SGN_TAG_FILE_NAME,
		PT_SGN_TAG_TIMESTAMP,
	};
	pt_sgn_file_t f = {0};
	const uint8_t *ver = raw->item[PT_SGN_TAG_VERSION].val;
	uint32_t v;
	int r;

	memset(out, 0, sizeof *out);
	if (!ver || ver[0] != version || ver[1] != 0)
		return fail(diag, PT_ERR_INVALID, 0,
			    "format version %u.%u, expected %u.0",
			    ver ? ver[0] : 0, ver ? ver[1] : 0, version);
	for (size_t i = 0; i < sizeof required; i++)
		if ((r = need_item(raw, required[i], diag)) != PT_OK)
			return r;
	if (version == 1) {
		for (uint8_t t = PT_SGN_TAG_ENCRYPTION; t < PT_SGN_TAG_COUNT;
		     t++)
			if (raw->item[t].present)
				return fail(diag, PT_ERR_MALFORMED,
					    raw->item[t].off,
					    "item %u (%s) only belongs in "
					    "encrypted configurations",
					    t, tags[t].name);
	}
	if ((r = need_string(raw, PT_SGN_TAG_SIGNER, diag)) ||
	    (r = need_string(raw, PT_SGN_TAG_ISSUER, diag)) ||
	    (r = need_string(raw, PT_SGN_TAG_FILE_NAME, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_DIGEST, 1, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_SIG_ALG, 1, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_MODULUS, 1, diag)) ||
	    (r = need_len(raw, PT_SGN_TAG_TIMESTAMP, 4, diag)))
		return r;
	if (raw->item[PT_SGN_TAG_SERIAL].len == 0)
		return fail(diag, PT_ERR_MALFORMED,
			    raw->item[PT_SGN_TAG_SERIAL].off,
			    "item 5 (serial number) is empty");

	v = item_uint(&raw->item[PT_SGN_TAG_DIGEST]);
	if (v == PT_SGN_SHA256)
		return fail(diag, PT_ERR_INVALID,
			    raw->item[PT_SGN_TAG_DIGEST].off,
			    "digest 2 (SHA-256) is not supported");
	if (v != PT_SGN_SHA1 && v != PT_SGN_SHA512)
		return fail(diag, PT_ERR_INVALID,
			    raw->item[PT_SGN_TAG_DIGEST].off,
			    "unknown digest algorithm %u", v);
	f.digest = (pt_sgn_digest_t)v;
	if ((v = item_uint(&raw->item[PT_SGN_TAG_SIG_ALG])) != 0)
		return fail(diag, PT_ERR_INVALID,
			    raw->item[PT_SGN_TAG_SIG_ALG].off,
			    "signature algorithm %u, only 0 (RSA) is defined",
			    v);
	if ((v = item_uint(&raw->item[PT_SGN_TAG_MODULUS])) > 3)
		return fail(diag, PT_ERR_INVALID,
			    raw->item[PT_SGN_TAG_MODULUS].off,
			    "modulus size code %u, expected 0 to 3", v);
	if ((r = need_len(raw, PT_SGN_TAG_SIGNATURE, (size_t)64 << v, diag)))
		return r;

	f.raw = *raw;
	f.version = version;
	f.signer = (const char *)raw->item[PT_SGN_TAG_SIGNER].val;
	f.issuer = (const char *)raw->item[PT_SGN_TAG_ISSUER].val;
	f.serial = raw->item[PT_SGN_TAG_SERIAL].val;
	f.serial_len = raw->item[PT_SGN_TAG_SERIAL].len;
	f.sig = raw->item[PT_SGN_TAG_SIGNATURE].val;
	f.sig_len = raw->item[PT_SGN_TAG_SIGNATURE].len;
	f.sig_off = raw->item[PT_SGN_TAG_SIGNATURE].off;
	f.file_name = (const char *)raw->item[PT_SGN_TAG_FILE_NAME].val;
	f.timestamp = item_uint(&raw->item[PT_SGN_TAG_TIMESTAMP]);
	f.payload = raw->payload;
	f.payload_len = raw->payload_len;
	*out = f;
	return PT_OK;
}

int pt_sgn_parse(const uint8_t *data, size_t len, pt_sgn_file_t *out,
		 pt_sgn_diag_t *diag)
{
	pt_sgn_raw_t raw;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = pt_sgn_decode(data, len, &raw, diag)) != PT_OK)
		return r;
	return pt_sgn_check(&raw, 1, out, diag);
}

int pt_sgn_strip(const uint8_t *data, size_t len, const uint8_t **payload,
		 size_t *payload_len, pt_sgn_diag_t *diag)
{
	pt_rbuf_t rb;
	size_t h;
	int r;

	*payload = NULL;
	*payload_len = 0;
	pt_rbuf_init(&rb, data, len);
	if ((r = read_fixed(&rb, &h, diag)) != PT_OK)
		return r;
	*payload = data + h;
	*payload_len = len - h;
	return PT_OK;
}

int pt_sgn_unsigned_name(const char *signed_name, char **out)
{
	static const char *const suffixes[] = {".sgn", ".sha512"};
	size_t n = signed_name ? strlen(signed_name) : 0;

	*out = NULL;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		size_t k = strlen(suffixes[i]);
		if (n <= k || strcmp(signed_name + n - k, suffixes[i]) != 0 ||
		    signed_name[n - k - 1] == '/')
			continue;
		if (!(*out = strndup(signed_name, n - k)))
			return PT_ERR_NOMEM;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

/* ---- verifying ---- */

int pt_sgn_verify_key(const pt_sgn_file_t *f, EVP_PKEY *key,
		      pt_sgn_diag_t *diag)
{
	const uint8_t *data = f->raw.data;
	size_t after = f->sig_off + 3 + f->sig_len;
	EVP_MD_CTX *mc = NULL;
	EVP_PKEY_CTX *pc = NULL;
	int r, ok;

	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return fail(diag, PT_ERR_INVALID, f->sig_off,
			    "the verifying key is not an RSA key");
	if ((size_t)EVP_PKEY_get_size(key) != f->sig_len)
		return fail(diag, PT_ERR_AUTH, f->sig_off,
			    "signature is %zu bytes, the key's modulus %d",
			    f->sig_len, EVP_PKEY_get_size(key));
	if (!(mc = EVP_MD_CTX_new()) ||
	    EVP_DigestVerifyInit(mc, &pc, digest_md(f->digest), NULL, key) !=
		    1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_DigestVerifyUpdate(mc, data, f->sig_off) != 1 ||
	    EVP_DigestVerifyUpdate(mc, data + after, f->raw.len - after) != 1) {
		r = fail(diag, PT_ERR_CRYPTO, f->sig_off,
			 "signature check could not run");
		goto out;
	}
	ok = EVP_DigestVerifyFinal(mc, f->sig, f->sig_len);
	r = ok == 1 ? PT_OK
		    : fail(diag, PT_ERR_AUTH, f->sig_off,
			   "%s signature does not verify",
			   pt_sgn_digest_name(f->digest));
out:
	EVP_MD_CTX_free(mc);
	return r;
}

int pt_sgn_match_cert(const pt_sgn_file_t *f, X509 *cert,
		      pt_sgn_diag_t *diag)
{
	char *subject = NULL, *issuer = NULL;
	uint8_t *serial = NULL;
	size_t serial_len;
	int r;

	if (!cert)
		return PT_ERR_INVALID;
	if ((r = pt_certname_text(X509_get_subject_name(cert), &subject)) ||
	    (r = pt_certname_text(X509_get_issuer_name(cert), &issuer)))
		goto out;
	if (strcmp(subject, f->signer) != 0) {
		r = fail(diag, PT_ERR_AUTH, f->raw.item[PT_SGN_TAG_SIGNER].off,
			 "signer name is not the certificate's subject");
		goto out;
	}
	if (strcmp(issuer, f->issuer) != 0) {
		r = fail(diag, PT_ERR_AUTH, f->raw.item[PT_SGN_TAG_ISSUER].off,
			 "issuer name is not the certificate's issuer");
		goto out;
	}
	if (pt_certname_serial(cert, &serial, &serial_len) != PT_OK ||
	    serial_len != f->serial_len ||
	    memcmp(serial, f->serial, serial_len) != 0) {
		r = fail(diag, PT_ERR_AUTH, f->raw.item[PT_SGN_TAG_SERIAL].off,
			 "serial number is not the certificate's");
		goto out;
	}
	r = PT_OK;
out:
	free(subject);
	free(issuer);
	free(serial);
	return r;
}

int pt_sgn_verify(const pt_sgn_file_t *f, X509 *cert, pt_sgn_diag_t *diag)
{
	int r;

	if (!cert)
		return PT_ERR_INVALID;
	if ((r = pt_sgn_match_cert(f, cert, diag)) != PT_OK)
		return r;
	return pt_sgn_verify_key(f, X509_get0_pubkey(cert), diag);
}
