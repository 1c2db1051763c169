#include "lib/legacy_certs.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/der.h"
#include "lib/errors.h"
#include "lib/legacy_phone.h"
#include "lib/rbuf.h"

/* ---- strict base64 ---- */

/* Value + 1 of each base64 character; 0 for every other byte. */
static const uint8_t b64_table[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,
	53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,
	 0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
	42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

static int b64_value(unsigned char c)
{
	return (int)b64_table[c] - 1;
}

int pt_legacy_certs_decode_base64(const char *s, size_t len, uint8_t *out,
				  size_t cap, size_t *out_len)
{
	size_t o = 0;

	*out_len = 0;
	if (len % 4 != 0)
		return PT_ERR_MALFORMED;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		bool last = i + 4 == len;
		for (size_t j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)s[i + j];
			if (c == '=' && last && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad || (v[j] = b64_value(c)) < 0)
				return PT_ERR_MALFORMED;
		}
		/* Canonical: the bits padding hides must be zero. */
		if ((pad == 2 && (v[1] & 0x0f)) || (pad == 1 && (v[2] & 0x03)))
			return PT_ERR_MALFORMED;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		size_t n = 3 - pad;
		if (o + n > cap)
			return PT_ERR_TOO_LARGE;
		out[o++] = (uint8_t)(w >> 16);
		if (n > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (n > 2)
			out[o++] = (uint8_t)w;
	}
	*out_len = o;
	return PT_OK;
}

/* ---- a strict DER walk of RFC 5280's Certificate ---- */

static int der_oid(pt_rbuf_t *rb)
{
	const uint8_t *v;
	size_t n;
	return pt_der_get_oid(rb, &v, &n);
}

/* AlgorithmIdentifier: SEQUENCE { OID, parameters OPTIONAL }. */
static int der_algid(pt_rbuf_t *rb, pt_der_t *out)
{
	pt_der_t p;
	if (pt_der_expect(rb, PT_DER_SEQUENCE, out) != PT_OK ||
	    der_oid(&out->body) != PT_OK)
		return PT_ERR_MALFORMED;
	if (pt_rbuf_remaining(&out->body) > 0 &&
	    pt_der_get(&out->body, &p) != PT_OK)
		return PT_ERR_MALFORMED;
	return pt_rbuf_remaining(&out->body) == 0 ? PT_OK : PT_ERR_MALFORMED;
}

/* Name: SEQUENCE OF SET SIZE(1..MAX) OF SEQUENCE { OID, value }. */
static int der_name(pt_rbuf_t *rb, pt_der_t *out)
{
	if (pt_der_expect(rb, PT_DER_SEQUENCE, out) != PT_OK)
		return PT_ERR_MALFORMED;
	pt_rbuf_t names = out->body;
	while (pt_rbuf_remaining(&names) > 0) {
		pt_der_t set;
		if (pt_der_expect(&names, PT_DER_SET, &set) != PT_OK ||
		    pt_rbuf_remaining(&set.body) == 0)
			return PT_ERR_MALFORMED;
		while (pt_rbuf_remaining(&set.body) > 0) {
			pt_der_t atv, val;
			if (pt_der_expect(&set.body, PT_DER_SEQUENCE, &atv) !=
				    PT_OK ||
			    der_oid(&atv.body) != PT_OK ||
			    pt_der_get(&atv.body, &val) != PT_OK ||
			    pt_rbuf_remaining(&atv.body) != 0)
				return PT_ERR_MALFORMED;
		}
	}
	return PT_OK;
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return PT_ERR_MALFORMED;
}

static int der_extensions(pt_rbuf_t *rb)
{
	pt_der_t outer, seq;
	if (pt_der_expect(rb, 0xa3, &outer) != PT_OK ||
	    pt_der_expect(&outer.body, PT_DER_SEQUENCE, &seq) != PT_OK ||
	    pt_rbuf_remaining(&outer.body) != 0 ||
	    pt_rbuf_remaining(&seq.body) == 0)
		return PT_ERR_MALFORMED;
	while (pt_rbuf_remaining(&seq.body) > 0) {
		pt_der_t ext, d;
		if (pt_der_expect(&seq.body, PT_DER_SEQUENCE, &ext) != PT_OK ||
		    der_oid(&ext.body) != PT_OK)
			return PT_ERR_MALFORMED;
		if (pt_der_peek_is(&ext.body, PT_DER_BOOLEAN) &&
		    (pt_der_get(&ext.body, &d) != PT_OK ||
		     pt_rbuf_remaining(&d.body) != 1))
			return PT_ERR_MALFORMED;
		if (pt_der_expect(&ext.body, PT_DER_OCTET_STRING, &d) !=
			    PT_OK ||
		    pt_rbuf_remaining(&ext.body) != 0)
			return PT_ERR_MALFORMED;
	}
	return PT_OK;
}

int pt_legacy_certs_view(const uint8_t *der, size_t len,
			 pt_legacy_x509_view_t *out, const char **why)
{
	pt_rbuf_t rb;
	pt_der_t cert, tbs, d, sigalg_in, sigalg;
	uint8_t version = 0;

	memset(out, 0, sizeof *out);
	if (why)
		*why = NULL;
	if (len > PT_CERT_DER_MAX)
		return PT_ERR_TOO_LARGE;
	pt_rbuf_init(&rb, der, len);
	if (pt_der_expect(&rb, PT_DER_SEQUENCE, &cert) != PT_OK)
		return fail(why, "not a DER SEQUENCE");
	if (pt_rbuf_remaining(&rb) != 0) {
		if (why)
			*why = "bytes follow the certificate";
		return PT_ERR_TRAILING;
	}
	if (pt_der_expect(&cert.body, PT_DER_SEQUENCE, &tbs) != PT_OK)
		return fail(why, "no TBSCertificate");
	out->tbs = tbs.whole;
	out->tbs_len = tbs.whole_len;

	if (pt_der_peek_is(&tbs.body, 0xa0)) {
		pt_der_t v;
		if (pt_der_get(&tbs.body, &d) != PT_OK ||
		    pt_der_expect(&d.body, PT_DER_INTEGER, &v) != PT_OK ||
		    pt_rbuf_remaining(&d.body) != 0 ||
		    pt_rbuf_remaining(&v.body) != 1 ||
		    pt_rbuf_get_u8(&v.body, &version) != PT_OK || version > 2)
			return fail(why, "bad version");
	}
	if (pt_der_expect(&tbs.body, PT_DER_INTEGER, &d) != PT_OK ||
	    pt_rbuf_remaining(&d.body) == 0 ||
	    pt_rbuf_remaining(&d.body) > 64)
		return fail(why, "bad serial number");
	out->serial = d.body.data;
	out->serial_len = pt_rbuf_remaining(&d.body);
	if (der_algid(&tbs.body, &sigalg_in) != PT_OK)
		return fail(why, "bad signature algorithm");
	if (der_name(&tbs.body, &d) != PT_OK)
		return fail(why, "bad issuer name");
	out->issuer = d.whole;
	out->issuer_len = d.whole_len;
	if (pt_der_expect(&tbs.body, PT_DER_SEQUENCE, &d) != PT_OK ||
	    pt_der_get_time(&d.body, &out->not_before) != PT_OK ||
	    pt_der_get_time(&d.body, &out->not_after) != PT_OK ||
	    pt_rbuf_remaining(&d.body) != 0)
		return fail(why, "bad validity");
	if (der_name(&tbs.body, &d) != PT_OK)
		return fail(why, "bad subject name");
	out->subject = d.whole;
	out->subject_len = d.whole_len;
	{
		pt_der_t spki, alg, bits;
		if (pt_der_expect(&tbs.body, PT_DER_SEQUENCE, &spki) != PT_OK ||
		    der_algid(&spki.body, &alg) != PT_OK ||
		    pt_der_expect(&spki.body, PT_DER_BIT_STRING, &bits) !=
			    PT_OK ||
		    pt_rbuf_remaining(&bits.body) < 2 ||
		    pt_rbuf_remaining(&spki.body) != 0)
			return fail(why, "bad public key info");
		out->spki = spki.whole;
		out->spki_len = spki.whole_len;
	}
	/* issuerUniqueID [1], subjectUniqueID [2] (v2+), extensions [3]
	 * (v3), each at most once and in order. */
	if (pt_der_peek_is(&tbs.body, 0x81) &&
	    (version < 1 || pt_der_get(&tbs.body, &d) != PT_OK))
		return fail(why, "bad issuer unique ID");
	if (pt_der_peek_is(&tbs.body, 0x82) &&
	    (version < 1 || pt_der_get(&tbs.body, &d) != PT_OK))
		return fail(why, "bad subject unique ID");
	if (pt_der_peek_is(&tbs.body, 0xa3) &&
	    (version < 2 || der_extensions(&tbs.body) != PT_OK))
		return fail(why, "bad extensions");
	if (pt_rbuf_remaining(&tbs.body) != 0)
		return fail(why, "unexpected fields in TBSCertificate");

	if (der_algid(&cert.body, &sigalg) != PT_OK)
		return fail(why, "bad outer signature algorithm");
	if (sigalg.whole_len != sigalg_in.whole_len ||
	    memcmp(sigalg.whole, sigalg_in.whole, sigalg.whole_len) != 0)
		return fail(why, "the two signature algorithms differ");
	out->sig_alg = sigalg.whole;
	out->sig_alg_len = sigalg.whole_len;
	if (pt_der_get_bits(&cert.body, &out->sig, &out->sig_len) != PT_OK ||
	    out->sig_len == 0 || pt_rbuf_remaining(&cert.body) != 0)
		return fail(why, "bad signature");
	return PT_OK;
}

/* ---- the record of an LSC without decoding its key ---- */

/* Lower-case hex of the serial's magnitude, as certs.c's serial_hex()
 * writes it (a '-' for a negative one, "00" for zero). */
static int serial_text(const uint8_t *b, size_t n, char **out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t *mag = malloc(n);
	char *s = malloc(2 * n + 3);
	bool neg = b[0] & 0x80;
	int r = PT_ERR_NOMEM;

	*out = NULL;
	if (!mag || !s)
		goto out;
	memcpy(mag, b, n);
	if (neg) {
		/* Two's complement: invert and add one. */
		unsigned carry = 1;
		for (size_t i = n; i-- > 0;) {
			unsigned v = (uint8_t)~mag[i] + carry;
			mag[i] = (uint8_t)v;
			carry = v >> 8;
		}
	}
	size_t i = 0;
	while (i < n && mag[i] == 0)
		i++;
	char *w = s;
	if (neg)
		*w++ = '-';
	if (i == n) {
		*w++ = '0';
		*w++ = '0';
	}
	for (; i < n; i++) {
		*w++ = hex[mag[i] >> 4];
		*w++ = hex[mag[i] & 15];
	}
	*w = '\0';
	*out = s;
	s = NULL;
	r = PT_OK;
out:
	free(mag);
	free(s);
	return r;
}

static int name_of(const uint8_t *der, size_t len, char **out)
{
	const unsigned char *p = der;
	X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)len);
	int r;

	*out = NULL;
	if (!n) {
		ERR_clear_error();
		return PT_ERR_MALFORMED;
	}
	r = pt_certs_name_text(n, out);
	X509_NAME_free(n);
	return r;
}

int pt_legacy_certs_check_names(const pt_legacy_x509_view_t *v)
{
	const uint8_t *ders[2] = {v->issuer, v->subject};
	size_t lens[2] = {v->issuer_len, v->subject_len};

	for (int i = 0; i < 2; i++) {
		const unsigned char *p = ders[i];
		X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)lens[i]);
		bool whole = n && p == ders[i] + lens[i];
		X509_NAME_free(n);
		if (!whole) {
			ERR_clear_error();
			return PT_ERR_MALFORMED;
		}
	}
	return PT_OK;
}

int pt_legacy_certs_record(const uint8_t *der, size_t len,
			   Pt__Certificate **out)
{
	pt_legacy_x509_view_t v;
	Pt__Certificate *c = NULL;
	char *s;
	int r;

	*out = NULL;
	if ((r = pt_legacy_certs_view(der, len, &v, NULL)) != PT_OK)
		return r;
	r = PT_ERR_NOMEM;
	if (!(c = malloc(sizeof *c)))
		goto out;
	pt__certificate__init(c);
	if (!(c->der.data = malloc(len)) || !(c->sha256.data = malloc(32)))
		goto out;
	memcpy(c->der.data, der, len);
	c->der.len = len;
	c->sha256.len = 32;
	if ((r = pt_certs_sha256(der, len, c->sha256.data)) != PT_OK)
		goto out;
	/* Strings stay protobuf_c_empty_string until they hold a malloc'd
	 * value, so the out: path frees c whatever happened. */
	if ((r = serial_text(v.serial, v.serial_len, &s)) != PT_OK)
		goto out;
	c->serial = s;
	if ((r = name_of(v.issuer, v.issuer_len, &s)) != PT_OK)
		goto out;
	c->issuer = s;
	if ((r = name_of(v.subject, v.subject_len, &s)) != PT_OK)
		goto out;
	c->subject = s;
	c->not_before = v.not_before;
	c->not_after = v.not_after;
	*out = c;
	c = NULL;
out:
	if (c)
		protobuf_c_message_free_unpacked(&c->base, NULL);
	return r;
}

/* ---- certificate files ---- */

static void cert_clear(pt_legacy_cert_t *c)
{
	free(c->der);
	free(c->subject);
	memset(c, 0, sizeof *c);
}

void pt_legacy_certs_destroy(pt_legacy_certs_t **certs)
{
	if (!certs || !*certs)
		return;
	for (size_t i = 0; i < (*certs)->n; i++)
		cert_clear(&(*certs)->certs[i]);
	free((*certs)->certs);
	free(*certs);
	*certs = NULL;
}

/* Fills c from DER (copied) or records why it is unusable; only
 * allocation failures are returned. */
static int cert_fill(pt_legacy_cert_t *c, const uint8_t *der, size_t len)
{
	X509 *x = NULL;
	int r;

	r = pt_certs_decode_der(der, len, &x);
	if (r != PT_OK) {
		c->err = r;
		c->why = r == PT_ERR_TOO_LARGE ? "the certificate is too large"
			 : r == PT_ERR_TRAILING ? "bytes follow the certificate"
						: "not an X.509 certificate";
		return PT_OK;
	}
	r = PT_ERR_NOMEM;
	if (!(c->der = malloc(len)))
		goto out;
	memcpy(c->der, der, len);
	c->der_len = len;
	if (!EVP_Digest(der, len, c->sha1, NULL, EVP_sha1(), NULL) ||
	    !EVP_Digest(der, len, c->sha256, NULL, EVP_sha256(), NULL)) {
		r = PT_ERR_CRYPTO;
		goto out;
	}
	if ((r = pt_certs_subject(x, &c->subject)) != PT_OK)
		goto out;
	c->is_ca = X509_check_ca(x) > 0;
	c->err = PT_OK;
out:
	X509_free(x);
	return r;
}

static int certs_add(pt_legacy_certs_t *set, pt_legacy_cert_t **out)
{
	pt_legacy_cert_t *n;
	if (set->n == PT_LEGACY_CERTS_PER_FILE_MAX)
		return PT_ERR_TOO_LARGE;
	n = realloc(set->certs, (set->n + 1) * sizeof *n);
	if (!n)
		return PT_ERR_NOMEM;
	set->certs = n;
	*out = &n[set->n++];
	memset(*out, 0, sizeof **out);
	return PT_OK;
}

int pt_legacy_certs_parse_der(const void *data, size_t len,
			      pt_legacy_certs_t **out)
{
	pt_legacy_certs_t *set;
	pt_legacy_cert_t *c;
	int r;

	*out = NULL;
	if (len > PT_LEGACY_CERTS_FILE_MAX)
		return PT_ERR_TOO_LARGE;
	if (!(set = calloc(1, sizeof *set)))
		return PT_ERR_NOMEM;
	if ((r = certs_add(set, &c)) == PT_OK &&
	    (r = cert_fill(c, data, len)) == PT_OK) {
		*out = set;
		return PT_OK;
	}
	pt_legacy_certs_destroy(&set);
	return r;
}

static bool line_is(const uint8_t *l, size_t n, const char *text)
{
	size_t tl = strlen(text);
	while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	return n == tl && memcmp(l, text, tl) == 0;
}

/* Decodes the base64 body of one PEM block into c. */
static int pem_block(pt_legacy_cert_t *c, const char *b64, size_t n)
{
	size_t cap = n / 4 * 3 + 3, len;
	uint8_t *der = malloc(cap);
	int r;

	if (!der)
		return PT_ERR_NOMEM;
	r = pt_legacy_certs_decode_base64(b64, n, der, cap, &len);
	if (r != PT_OK) {
		c->err = PT_ERR_MALFORMED;
		c->why = "the PEM block is not base64";
		r = PT_OK;
	} else {
		r = cert_fill(c, der, len);
	}
	free(der);
	return r;
}

int pt_legacy_certs_parse_pem(const void *data, size_t len,
			      pt_legacy_certs_t **out)
{
	static const char *const begins[] = {"-----BEGIN CERTIFICATE-----",
					     "-----BEGIN X509 CERTIFICATE-----"};
	static const char *const ends[] = {"-----END CERTIFICATE-----",
					   "-----END X509 CERTIFICATE-----"};
	pt_legacy_certs_t *set = NULL;
	pt_legacy_cert_t *c = NULL;
	pt_rbuf_t rb;
	char *b64 = NULL;
	size_t b64_len = 0;
	int kind = -1; /* index into begins while inside a block */
	bool bad_body = false;
	uint32_t lineno = 0;
	int r;

	*out = NULL;
	if (len > PT_LEGACY_CERTS_FILE_MAX)
		return PT_ERR_TOO_LARGE;
	r = PT_ERR_NOMEM;
	if (!(set = calloc(1, sizeof *set)) ||
	    !(b64 = malloc(PT_CERT_PEM_MAX)))
		goto out;
	pt_rbuf_init(&rb, data, len);
	for (;;) {
		const uint8_t *l;
		size_t n;
		r = pt_rbuf_get_line(&rb, PT_LEGACY_LINE_MAX, &l, &n);
		if (r == PT_ERR_NOT_FOUND)
			break;
		if (r != PT_OK)
			goto out;
		lineno++;
		if (kind < 0) {
			for (int k = 0; k < 2; k++) {
				if (!line_is(l, n, begins[k]))
					continue;
				if ((r = certs_add(set, &c)) != PT_OK)
					goto out;
				c->line = lineno;
				kind = k;
				b64_len = 0;
				bad_body = false;
			}
			continue;
		}
		if (line_is(l, n, ends[kind])) {
			kind = -1;
			if (bad_body) {
				c->err = PT_ERR_MALFORMED;
				c->why = "the PEM block holds headers, blanks "
					 "or is too long";
				continue;
			}
			if ((r = pem_block(c, b64, b64_len)) != PT_OK)
				goto out;
			continue;
		}
		while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		if (b64_len + n > PT_CERT_PEM_MAX || memchr(l, ':', n) ||
		    memchr(l, ' ', n) || memchr(l, '\t', n))
			bad_body = true;
		else {
			memcpy(b64 + b64_len, l, n);
			b64_len += n;
		}
	}
	if (kind >= 0) {
		c->err = PT_ERR_MALFORMED;
		c->why = "the PEM block has no END line";
	}
	*out = set;
	set = NULL;
	r = PT_OK;
out:
	free(b64);
	pt_legacy_certs_destroy(&set);
	return r;
}

/* ---- the set of CAPF certificates and the issuer check ---- */

/* Digests an LSC signature may use, fetched once per set so a check does
 * not fetch (and the set stays read-only while checks run). */
enum { MD_SHA1, MD_SHA224, MD_SHA256, MD_SHA384, MD_SHA512, MD_MD5, MD_N };
static const struct {
	int nid;
	const char *name;
} md_table[MD_N] = {
	{NID_sha1, "SHA1"},     {NID_sha224, "SHA224"}, {NID_sha256, "SHA256"},
	{NID_sha384, "SHA384"}, {NID_sha512, "SHA512"}, {NID_md5, "MD5"},
};

typedef struct ca {
	uint8_t *der;
	size_t der_len;
	uint8_t sha1[20];
	uint8_t sha256[32];
	uint8_t *subject_der; /* the CA's subject Name, as encoded */
	size_t subject_len;
	X509_NAME *subject;
	EVP_PKEY *key;        /* decoded once, here */
	/* Per digest, a verify context set up once (key, padding, digest):
	 * a check duplicates it instead of fetching and initialising the
	 * signature algorithm again, which costs as much as the RSA
	 * operation itself.  NULL when the key cannot use that digest. */
	EVP_PKEY_CTX *verify[MD_N];
} ca_t;

struct pt_legacy_issuers {
	ca_t *cas;
	size_t n;
	EVP_MD *md[MD_N]; /* NULL when a provider lacks one */
};

int pt_legacy_issuers_new(pt_legacy_issuers_t **out)
{
	pt_legacy_issuers_t *s;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return PT_ERR_NOMEM;
	for (int i = 0; i < MD_N; i++)
		s->md[i] = EVP_MD_fetch(NULL, md_table[i].name, NULL);
	ERR_clear_error(); /* MD5 is absent under FIPS: not an error */
	*out = s;
	return PT_OK;
}

static void ca_clear(ca_t *c)
{
	free(c->der);
	free(c->subject_der);
	X509_NAME_free(c->subject);
	EVP_PKEY_free(c->key);
	for (int i = 0; i < MD_N; i++)
		EVP_PKEY_CTX_free(c->verify[i]);
	memset(c, 0, sizeof *c);
}

void pt_legacy_issuers_destroy(pt_legacy_issuers_t **set)
{
	if (!set || !*set)
		return;
	for (size_t i = 0; i < (*set)->n; i++)
		ca_clear(&(*set)->cas[i]);
	free((*set)->cas);
	for (int i = 0; i < MD_N; i++)
		EVP_MD_free((*set)->md[i]);
	free(*set);
	*set = NULL;
}

size_t pt_legacy_issuers_count(const pt_legacy_issuers_t *set)
{
	return set->n;
}

const uint8_t *pt_legacy_issuers_sha1(const pt_legacy_issuers_t *set,
				      size_t index)
{
	return index < set->n ? set->cas[index].sha1 : NULL;
}

static EVP_PKEY_CTX *verify_template(EVP_PKEY *key, const EVP_MD *md)
{
	EVP_PKEY_CTX *c;

	if (!md || !(c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)))
		return NULL;
	if (EVP_PKEY_verify_init(c) != 1 ||
	    (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
	     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1) ||
	    EVP_PKEY_CTX_set_signature_md(c, md) != 1) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

int pt_legacy_issuers_put(pt_legacy_issuers_t *set, const uint8_t *der,
			  size_t len, size_t *index)
{
	X509 *x = NULL;
	ca_t c;
	uint8_t sha256[32];
	unsigned char *sd = NULL;
	int r, sl;

	memset(&c, 0, sizeof c);
	if ((r = pt_certs_sha256(der, len, sha256)) != PT_OK)
		return r;
	for (size_t i = 0; i < set->n; i++) {
		if (memcmp(set->cas[i].sha256, sha256, 32) == 0) {
			if (index)
				*index = i;
			return PT_OK;
		}
	}
	if (set->n == PT_LEGACY_ISSUERS_MAX)
		return PT_ERR_TOO_LARGE;
	if ((r = pt_certs_decode_der(der, len, &x)) != PT_OK)
		return r;
	r = PT_ERR_MALFORMED;
	if (!(c.key = X509_get_pubkey(x)))
		goto out;
	r = PT_ERR_NOMEM;
	if (!(c.subject = X509_NAME_dup(X509_get_subject_name(x))))
		goto out;
	if ((sl = i2d_X509_NAME(c.subject, &sd)) <= 0)
		goto out;
	c.subject_der = sd;
	c.subject_len = (size_t)sl;
	if (!(c.der = malloc(len)))
		goto out;
	memcpy(c.der, der, len);
	c.der_len = len;
	memcpy(c.sha256, sha256, 32);
	if (!EVP_Digest(der, len, c.sha1, NULL, EVP_sha1(), NULL)) {
		r = PT_ERR_CRYPTO;
		goto out;
	}
	for (int i = 0; i < MD_N; i++)
		c.verify[i] = verify_template(c.key, set->md[i]);
	ERR_clear_error();
	ca_t *n = realloc(set->cas, (set->n + 1) * sizeof *n);
	if (!n)
		goto out;
	set->cas = n;
	set->cas[set->n] = c;
	memset(&c, 0, sizeof c);
	if (index)
		*index = set->n;
	set->n++;
	r = PT_OK;
out:
	ca_clear(&c);
	X509_free(x);
	return r;
}

static int md_index(int nid)
{
	for (int i = 0; i < MD_N; i++)
		if (md_table[i].nid == nid)
			return i;
	return -1;
}

/* The slow, general path (RSA-PSS, EdDSA, rare digests): OpenSSL's own
 * certificate verification. */
static bool verify_full(const ca_t *ca, const uint8_t *lsc, size_t len)
{
	const unsigned char *p = lsc;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	bool ok = x && X509_verify(x, ca->key) == 1;
	X509_free(x);
	return ok;
}

/* Signature over the TBS bytes with the CA key, through the CA's
 * prepared context for the signature algorithm's digest; anything else
 * (RSA-PSS, EdDSA, other digests) through OpenSSL's own path. */
static bool verify_sig(const pt_legacy_issuers_t *set, const ca_t *ca,
		       const pt_legacy_x509_view_t *v, const uint8_t *lsc,
		       size_t len)
{
	const unsigned char *p = v->sig_alg;
	X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, (long)v->sig_alg_len);
	EVP_PKEY_CTX *ctx = NULL;
	int md_nid = NID_undef, pk_nid = NID_undef, mi;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	bool ok = false;

	if (!alg)
		goto out;
	if (!OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &md_nid,
				 &pk_nid) ||
	    md_nid == NID_undef || pk_nid == NID_rsassaPss ||
	    (mi = md_index(md_nid)) < 0 || !ca->verify[mi]) {
		ok = verify_full(ca, lsc, len);
		goto out;
	}
	if (EVP_PKEY_get_base_id(ca->key) != pk_nid)
		goto out;
	if (!EVP_Digest(v->tbs, v->tbs_len, dg, &dlen, set->md[mi], NULL))
		goto out;
	if (!(ctx = EVP_PKEY_CTX_dup(ca->verify[mi]))) {
		/* A provider that cannot copy its context: the long way. */
		ok = verify_full(ca, lsc, len);
		goto out;
	}
	ok = EVP_PKEY_verify(ctx, v->sig, v->sig_len, dg, dlen) == 1;
out:
	EVP_PKEY_CTX_free(ctx);
	X509_ALGOR_free(alg);
	ERR_clear_error();
	return ok;
}

int pt_legacy_issuers_check(const pt_legacy_issuers_t *set,
			    const uint8_t *lsc, size_t len, size_t *index)
{
	pt_legacy_x509_view_t v;
	X509_NAME *issuer = NULL;
	int r;

	if ((r = pt_legacy_certs_view(lsc, len, &v, NULL)) != PT_OK)
		return r == PT_ERR_TOO_LARGE ? r : PT_ERR_MALFORMED;
	/* Most LSCs name their CA with the very bytes of its subject: a
	 * memcmp finds it; the signature alone decides. */
	for (size_t i = 0; i < set->n; i++) {
		const ca_t *ca = &set->cas[i];
		if (ca->subject_len == v.issuer_len &&
		    memcmp(ca->subject_der, v.issuer, v.issuer_len) == 0 &&
		    verify_sig(set, ca, &v, lsc, len)) {
			if (index)
				*index = i;
			return PT_OK;
		}
	}
	/* Equal names may be encoded differently (string types, case):
	 * OpenSSL's canonical comparison settles those. */
	const unsigned char *p = v.issuer;
	if (!(issuer = d2i_X509_NAME(NULL, &p, (long)v.issuer_len)))
		return PT_ERR_MALFORMED;
	r = PT_ERR_NOT_FOUND;
	for (size_t i = 0; i < set->n; i++) {
		const ca_t *ca = &set->cas[i];
		if (ca->subject_len == v.issuer_len &&
		    memcmp(ca->subject_der, v.issuer, v.issuer_len) == 0)
			continue; /* tried above */
		if (X509_NAME_cmp(issuer, ca->subject) == 0 &&
		    verify_sig(set, ca, &v, lsc, len)) {
			if (index)
				*index = i;
			r = PT_OK;
			break;
		}
	}
	X509_NAME_free(issuer);
	return r;
}
