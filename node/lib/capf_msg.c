#include "lib/capf_msg.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/rbuf.h"

static int fail(int err, const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

int pt_capf_header_decode(const uint8_t *buf, size_t len,
			  pt_capf_header_t *out)
{
	pt_rbuf_t rb;
	pt_capf_header_t h;

	if (len < PT_CAPF_HEADER_LEN)
		return PT_ERR_INCOMPLETE;
	pt_rbuf_init(&rb, buf, len);
	/* Cannot fail: eight bytes are there. */
	pt_rbuf_get_u8(&rb, &h.protocol_id);
	pt_rbuf_get_u8(&rb, &h.command);
	pt_rbuf_get_u32(&rb, &h.session_id);
	pt_rbuf_get_u16(&rb, &h.body_len);
	if (h.protocol_id != PT_CAPF_PROTOCOL_ID)
		return PT_ERR_MALFORMED;
	*out = h;
	return PT_OK;
}

/* Tags each receiver accepts (§4.3), as bit masks. */
#define BIT(t) (1u << (t))
static const uint32_t accepted_from_phone =
	BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(6) | BIT(7) | BIT(9) |
	BIT(11) | BIT(13) | BIT(16) | BIT(20);
static const uint32_t accepted_from_server =
	BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(7) | BIT(8) | BIT(10) |
	BIT(17) | BIT(18);

/* Send orders (§4.2). */
static const uint8_t order_server[] = {1, 3, 4, 7, 8, 10, 17, 18};
static const uint8_t order_phone[] = {1, 3, 4, 6, 7, 11, 13, 16, 9, 20};

static int one_byte(const uint8_t *v, size_t len, uint8_t *out)
{
	if (len != 1)
		return PT_ERR_MALFORMED;
	*out = v[0];
	return PT_OK;
}

/* A §4.1 string: text, then exactly one 00 that ends it. */
static int text_value(const uint8_t *v, size_t len, const char **text,
		      size_t *text_len)
{
	if (len < 1 || v[len - 1] != 0 || memchr(v, 0, len - 1) != NULL)
		return PT_ERR_MALFORMED;
	*text = (const char *)v;
	*text_len = len - 1;
	return PT_OK;
}

static int cert_value(const uint8_t *v, size_t len, pt_capf_msg_t *m)
{
	pt_rbuf_t rb;
	uint16_t inner;

	pt_rbuf_init(&rb, v, len);
	if (pt_rbuf_skip(&rb, 1) != PT_OK ||
	    pt_rbuf_get_u16(&rb, &inner) != PT_OK ||
	    pt_rbuf_skip(&rb, 2) != PT_OK)
		return PT_ERR_MALFORMED;
	/* A4: the bytes around it are unexplained, but this one is the
	 * length of what follows it. */
	if ((size_t)inner != pt_rbuf_remaining(&rb) + 2 ||
	    pt_rbuf_remaining(&rb) == 0)
		return PT_ERR_MALFORMED;
	m->cert = v + PT_CAPF_CERT_WRAP_LEN;
	m->cert_len = len - PT_CAPF_CERT_WRAP_LEN;
	return PT_OK;
}

/* id | u16 length | bytes, the block shape of SUDI_DATA and
 * SHA2_SIGNED_DATA. */
static int get_block(pt_rbuf_t *rb, uint8_t *id, const uint8_t **v,
		     size_t *len)
{
	if (pt_rbuf_get_u8(rb, id) != PT_OK ||
	    pt_rbuf_get_lv(rb, 2, PT_CAPF_BODY_MAX, v, len) != PT_OK)
		return PT_ERR_MALFORMED;
	return PT_OK;
}

static int sudi_value(const uint8_t *v, size_t len, pt_capf_sudi_t *s)
{
	pt_rbuf_t rb;

	pt_rbuf_init(&rb, v, len);
	if (get_block(&rb, &s->cert_marker, &s->cert, &s->cert_len) !=
		    PT_OK ||
	    get_block(&rb, &s->sha1_marker, &s->sig_sha1, &s->sig_sha1_len) !=
		    PT_OK ||
	    get_block(&rb, &s->sha2_hash_id, &s->sig_sha512,
		      &s->sig_sha512_len) != PT_OK ||
	    pt_rbuf_expect_end(&rb) != PT_OK)
		return PT_ERR_MALFORMED;
	return PT_OK;
}

static int sha2_value(const uint8_t *v, size_t len, pt_capf_msg_t *m)
{
	pt_rbuf_t rb;

	pt_rbuf_init(&rb, v, len);
	if (get_block(&rb, &m->sha2_hash_id, &m->sha2_signed_data,
		      &m->sha2_signed_data_len) != PT_OK ||
	    pt_rbuf_expect_end(&rb) != PT_OK)
		return PT_ERR_MALFORMED;
	return PT_OK;
}

/* Decodes one element's value into m; the reason on refusal. */
static int elem_value(uint8_t tag, const uint8_t *v, size_t len,
		      pt_capf_msg_t *m, const char **why)
{
	int r = PT_OK;
	uint16_t u16;
	pt_rbuf_t rb;

	switch (tag) {
	case PT_CAPF_TAG_REASON:
		/* Receivers read the first byte only (§4.1). */
		if (len < 1)
			return fail(PT_ERR_MALFORMED, why, "empty REASON");
		m->reason = v[0];
		break;
	case PT_CAPF_TAG_REASON_INFO:
		m->reason_info = v;
		m->reason_info_len = len;
		break;
	case PT_CAPF_TAG_CERTIFICATE_TYPE:
		if (one_byte(v, len, &m->cert_type) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "CERTIFICATE_TYPE is not one byte");
		break;
	case PT_CAPF_TAG_CERTIFICATE:
		if (cert_value(v, len, m) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "CERTIFICATE wrapper is not 01 LLLL 00 01 "
				    "with LLLL = DER length + 2");
		break;
	case PT_CAPF_TAG_SIGNED_DATA:
		if (len == 0)
			return fail(PT_ERR_MALFORMED, why, "empty SIGNED_DATA");
		m->signed_data = v;
		m->signed_data_len = len;
		break;
	case PT_CAPF_TAG_VERSION:
		if (one_byte(v, len, &m->version) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "VERSION is not one byte");
		break;
	case PT_CAPF_TAG_AUTH_TYPE:
		if (one_byte(v, len, &m->auth_type) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "AUTH_TYPE is not one byte");
		break;
	case PT_CAPF_TAG_PUBLIC_KEY:
		if (len == 0)
			return fail(PT_ERR_MALFORMED, why, "empty PUBLIC_KEY");
		m->public_key = v;
		m->public_key_len = len;
		break;
	case PT_CAPF_TAG_KEY_SIZE:
		pt_rbuf_init(&rb, v, len);
		if (pt_rbuf_get_u16(&rb, &u16) != PT_OK ||
		    pt_rbuf_expect_end(&rb) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "KEY_SIZE is not two bytes");
		m->key_size = u16;
		break;
	case PT_CAPF_TAG_PASSWORD:
		if (text_value(v, len, &m->password, &m->password_len) !=
		    PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "PASSWORD is not text and one 00");
		break;
	case PT_CAPF_TAG_DEVICE_NAME:
		if (text_value(v, len, &m->device_name,
			       &m->device_name_len) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "DEVICE_NAME is not text and one 00");
		break;
	case PT_CAPF_TAG_SUDI_DATA:
		if (sudi_value(v, len, &m->sudi) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "SUDI_DATA is not three length-prefixed "
				    "blocks");
		break;
	case PT_CAPF_TAG_KEY_TYPE:
		if (one_byte(v, len, &m->key_type) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "KEY_TYPE is not one byte");
		break;
	case PT_CAPF_TAG_CURVE:
		if (one_byte(v, len, &m->curve) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "CURVE is not one byte");
		break;
	case PT_CAPF_TAG_SHA2_SIGNED_DATA:
		if (sha2_value(v, len, m) != PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "SHA2_SIGNED_DATA is not hash id, length "
				    "and signature");
		break;
	default:
		r = fail(PT_ERR_MALFORMED, why, "unknown element tag");
		break;
	}
	return r;
}

int pt_capf_msg_parse(const uint8_t *msg, size_t len, pt_capf_from_t from,
		      pt_capf_msg_t *out, const char **why)
{
	pt_capf_header_t h;
	pt_capf_msg_t m;
	pt_rbuf_t body;
	uint32_t accepted = from == PT_CAPF_FROM_PHONE ? accepted_from_phone
						       : accepted_from_server;
	int r;

	memset(out, 0, sizeof *out);
	memset(&m, 0, sizeof m);
	r = pt_capf_header_decode(msg, len, &h);
	if (r == PT_ERR_INCOMPLETE)
		return fail(r, why, "shorter than the 8-byte header");
	if (r != PT_OK)
		return fail(r, why, "protocol id is not 0x55");
	size_t want = PT_CAPF_HEADER_LEN + (size_t)h.body_len;
	if (len < want)
		return fail(PT_ERR_INCOMPLETE, why,
			    "body shorter than its declared length");
	if (len > want)
		return fail(PT_ERR_TRAILING, why,
			    "bytes after the declared body");
	m.command = h.command;
	m.session_id = h.session_id;

	pt_rbuf_init(&body, msg + PT_CAPF_HEADER_LEN, h.body_len);
	while (pt_rbuf_remaining(&body) > 0) {
		uint8_t tag;
		const uint8_t *value;
		size_t vlen;
		if (pt_rbuf_get_u8(&body, &tag) != PT_OK ||
		    pt_rbuf_get_lv(&body, 2, PT_CAPF_BODY_MAX, &value, &vlen) !=
			    PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "element runs past the end of the body");
		if (tag > PT_CAPF_TAG_MAX || !(accepted & BIT(tag)))
			return fail(PT_ERR_MALFORMED, why,
				    "element tag not accepted from this side");
		r = elem_value(tag, value, vlen, &m, why);
		if (r != PT_OK)
			return r;
		pt_capf_msg_set(&m, tag);
	}
	*out = m;
	if (why)
		*why = NULL;
	return PT_OK;
}

/* A writer that only counts when buf is NULL, so one walk both sizes and
 * writes a message. */
struct writer {
	uint8_t *buf;
	size_t pos;
};

static void put_u8(struct writer *w, uint8_t v)
{
	if (w->buf)
		w->buf[w->pos] = v;
	w->pos++;
}

static void put_u16(struct writer *w, uint16_t v)
{
	put_u8(w, (uint8_t)(v >> 8));
	put_u8(w, (uint8_t)v);
}

static void put_u32(struct writer *w, uint32_t v)
{
	put_u16(w, (uint16_t)(v >> 16));
	put_u16(w, (uint16_t)v);
}

static void put_bytes(struct writer *w, const void *p, size_t n)
{
	if (w->buf && n)
		memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

/* Length-checked id | u16 length | bytes. */
static int put_block(struct writer *w, uint8_t id, const uint8_t *v,
		     size_t len)
{
	if (len > UINT16_MAX)
		return PT_ERR_TOO_LARGE;
	put_u8(w, id);
	put_u16(w, (uint16_t)len);
	put_bytes(w, v, len);
	return PT_OK;
}

static int put_text(struct writer *w, const char *s, size_t len)
{
	if (len && (!s || memchr(s, 0, len) != NULL))
		return PT_ERR_INVALID;
	put_bytes(w, s, len);
	put_u8(w, 0);
	return PT_OK;
}

static int put_value(struct writer *w, const pt_capf_msg_t *m, uint8_t tag)
{
	const pt_capf_sudi_t *s = &m->sudi;
	int r = PT_OK;

	switch (tag) {
	case PT_CAPF_TAG_REASON:
		put_u8(w, m->reason);
		break;
	case PT_CAPF_TAG_CERTIFICATE_TYPE:
		put_u8(w, m->cert_type);
		break;
	case PT_CAPF_TAG_CERTIFICATE:
		if (m->cert_len == 0 || m->cert_len > PT_CAPF_CERT_DER_MAX)
			return m->cert_len ? PT_ERR_TOO_LARGE : PT_ERR_INVALID;
		put_u8(w, 0x01);
		put_u16(w, (uint16_t)(m->cert_len + 2));
		put_u8(w, 0x00);
		put_u8(w, PT_CAPF_CERT_TYPE_LSC);
		put_bytes(w, m->cert, m->cert_len);
		break;
	case PT_CAPF_TAG_SIGNED_DATA:
		put_bytes(w, m->signed_data, m->signed_data_len);
		break;
	case PT_CAPF_TAG_VERSION:
		put_u8(w, m->version);
		break;
	case PT_CAPF_TAG_AUTH_TYPE:
		put_u8(w, m->auth_type);
		break;
	case PT_CAPF_TAG_PUBLIC_KEY:
		put_bytes(w, m->public_key, m->public_key_len);
		break;
	case PT_CAPF_TAG_KEY_SIZE:
		put_u16(w, m->key_size);
		break;
	case PT_CAPF_TAG_PASSWORD:
		r = put_text(w, m->password, m->password_len);
		break;
	case PT_CAPF_TAG_DEVICE_NAME:
		r = put_text(w, m->device_name, m->device_name_len);
		break;
	case PT_CAPF_TAG_SUDI_DATA:
		r = put_block(w, s->cert_marker, s->cert, s->cert_len);
		if (r == PT_OK)
			r = put_block(w, s->sha1_marker, s->sig_sha1,
				      s->sig_sha1_len);
		if (r == PT_OK)
			r = put_block(w, s->sha2_hash_id, s->sig_sha512,
				      s->sig_sha512_len);
		break;
	case PT_CAPF_TAG_KEY_TYPE:
		put_u8(w, m->key_type);
		break;
	case PT_CAPF_TAG_CURVE:
		put_u8(w, m->curve);
		break;
	case PT_CAPF_TAG_SHA2_SIGNED_DATA:
		r = put_block(w, m->sha2_hash_id, m->sha2_signed_data,
			      m->sha2_signed_data_len);
		break;
	default:
		r = PT_ERR_INVALID;
		break;
	}
	return r;
}

/* Walks m in the sender's order into w (counting only when w->buf is
 * NULL).  Element lengths are patched after their values are written. */
static int emit(const pt_capf_msg_t *m, pt_capf_from_t from,
		struct writer *w)
{
	const uint8_t *order = from == PT_CAPF_FROM_PHONE ? order_phone
							  : order_server;
	size_t n = from == PT_CAPF_FROM_PHONE ? sizeof order_phone
					      : sizeof order_server;
	uint32_t sent = 0;

	for (size_t i = 0; i < n; i++)
		sent |= BIT(order[i]);
	if ((m->tags & ~sent) != 0)
		return PT_ERR_INVALID;

	put_u8(w, PT_CAPF_PROTOCOL_ID);
	put_u8(w, m->command);
	put_u32(w, m->session_id);
	size_t body_at = w->pos;
	put_u16(w, 0);
	for (size_t i = 0; i < n; i++) {
		if (!pt_capf_msg_has(m, order[i]))
			continue;
		put_u8(w, order[i]);
		size_t len_at = w->pos;
		put_u16(w, 0);
		int r = put_value(w, m, order[i]);
		if (r != PT_OK)
			return r;
		size_t vlen = w->pos - len_at - 2;
		if (vlen > UINT16_MAX)
			return PT_ERR_TOO_LARGE;
		if (w->buf) {
			w->buf[len_at] = (uint8_t)(vlen >> 8);
			w->buf[len_at + 1] = (uint8_t)vlen;
		}
		if (w->pos - body_at - 2 > PT_CAPF_BODY_MAX)
			return PT_ERR_TOO_LARGE;
	}
	size_t body = w->pos - body_at - 2;
	if (w->buf) {
		w->buf[body_at] = (uint8_t)(body >> 8);
		w->buf[body_at + 1] = (uint8_t)body;
	}
	return PT_OK;
}

size_t pt_capf_msg_size(const pt_capf_msg_t *m, pt_capf_from_t from)
{
	struct writer w = {NULL, 0};
	if (emit(m, from, &w) != PT_OK)
		return 0;
	return w.pos;
}

int pt_capf_msg_build(const pt_capf_msg_t *m, pt_capf_from_t from,
		      uint8_t *buf, size_t cap, size_t *len)
{
	struct writer w = {NULL, 0};
	int r = emit(m, from, &w);
	if (r != PT_OK)
		return r;
	if (w.pos > cap)
		return PT_ERR_TOO_LARGE;
	w.buf = buf;
	w.pos = 0;
	r = emit(m, from, &w);
	if (r != PT_OK)
		return r;
	*len = w.pos;
	return PT_OK;
}

int pt_capf_msg_build_raw(uint8_t command, uint32_t session_id,
			  const pt_capf_elem_t *elems, size_t n, uint8_t *buf,
			  size_t cap, size_t *len)
{
	size_t body = 0;
	for (size_t i = 0; i < n; i++) {
		if (elems[i].len > UINT16_MAX)
			return PT_ERR_TOO_LARGE;
		body += PT_CAPF_ELEM_HEADER_LEN + elems[i].len;
		if (body > PT_CAPF_BODY_MAX)
			return PT_ERR_TOO_LARGE;
	}
	if (PT_CAPF_HEADER_LEN + body > cap)
		return PT_ERR_TOO_LARGE;
	struct writer w = {buf, 0};
	put_u8(&w, PT_CAPF_PROTOCOL_ID);
	put_u8(&w, command);
	put_u32(&w, session_id);
	put_u16(&w, (uint16_t)body);
	for (size_t i = 0; i < n; i++) {
		put_u8(&w, elems[i].tag);
		put_u16(&w, (uint16_t)elems[i].len);
		put_bytes(&w, elems[i].value, elems[i].len);
	}
	*len = w.pos;
	return PT_OK;
}

const char *pt_capf_cmd_name(uint8_t command)
{
	static const char *const names[] = {
		NULL,
		"AUTH_REQUEST",
		"AUTH_RESPONSE",
		"KEY_GENERATE_REQUEST",
		"KEY_GENERATE_RESPONSE",
		"ENCRYPT_RESPONSE",
		"ENCRYPT_REQUEST",
		"DECRYPT_REQUEST",
		"DECRYPT_RESPONSE",
		"STORE_CERTIFICATE_REQUEST",
		"STORE_CERTIFICATE_RESPONSE",
		"FETCH_CERTIFICATE_REQUEST",
		"FETCH_CERTIFICATE_RESPONSE",
		"DELETE_CERTIFICATE_REQUEST",
		"DELETE_CERTIFICATE_RESPONSE",
		"END_SESSION",
		"RETRY_LATER",
		"REQUEST_IN_PROGRESS",
		"STATUS_REQUEST",
		"STATUS_RESPONSE",
		"ABORT_REQUEST",
		"ABORT_RESPONSE",
		"SIGN_CERTIFICATE_REQUEST",
		"SIGN_CERTIFICATE_RESPONSE",
	};
	if (command >= sizeof names / sizeof names[0])
		return NULL;
	return names[command];
}

bool pt_capf_keyspec_valid(const pt_capf_keyspec_t *k)
{
	if (k->key_type == PT_CAPF_KEY_TYPE_RSA)
		return k->rsa_bits == 512 || k->rsa_bits == 1024 ||
		       k->rsa_bits == 2048 || k->rsa_bits == 3072 ||
		       k->rsa_bits == 4096;
	if (k->key_type == PT_CAPF_KEY_TYPE_EC)
		return pt_capf_curve_name(k->curve) != NULL;
	return false;
}

static int curve_nid(uint8_t curve)
{
	switch (curve) {
	case PT_CAPF_CURVE_P256:
		return NID_X9_62_prime256v1;
	case PT_CAPF_CURVE_P384:
		return NID_secp384r1;
	case PT_CAPF_CURVE_P521:
		return NID_secp521r1;
	default:
		return NID_undef;
	}
}

const char *pt_capf_curve_name(uint8_t curve)
{
	switch (curve) {
	case PT_CAPF_CURVE_P256:
		return "secp256r1";
	case PT_CAPF_CURVE_P384:
		return "secp384r1";
	case PT_CAPF_CURVE_P521:
		return "secp521r1";
	default:
		return NULL;
	}
}

const char *pt_capf_curve_group(uint8_t curve)
{
	switch (curve) {
	case PT_CAPF_CURVE_P256:
		return "P-256";
	case PT_CAPF_CURVE_P384:
		return "P-384";
	case PT_CAPF_CURVE_P521:
		return "P-521";
	default:
		return NULL;
	}
}

int pt_capf_curve_from_bits(uint32_t bits, uint8_t *curve)
{
	switch (bits) {
	case 256:
		*curve = PT_CAPF_CURVE_P256;
		return PT_OK;
	case 384:
		*curve = PT_CAPF_CURVE_P384;
		return PT_OK;
	case 521:
		*curve = PT_CAPF_CURVE_P521;
		return PT_OK;
	default:
		return PT_ERR_INVALID;
	}
}

int pt_capf_keyspec_match(const pt_capf_keyspec_t *k, const EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;

	if (!key || !pt_capf_keyspec_valid(k))
		return PT_ERR_INVALID;
	if (k->key_type == PT_CAPF_KEY_TYPE_RSA)
		return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
				       EVP_PKEY_get_bits(key) == k->rsa_bits
			       ? PT_OK
			       : PT_ERR_INVALID;
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(key, group, sizeof group, &glen) != 1) {
		ERR_clear_error();
		return PT_ERR_INVALID;
	}
	int nid = OBJ_sn2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid == curve_nid(k->curve) ? PT_OK : PT_ERR_INVALID;
}

int pt_capf_public_key_decode(const uint8_t *der, size_t len,
			      EVP_PKEY **out)
{
	const unsigned char *p = der;
	EVP_PKEY *k = NULL;
	int r = PT_ERR_MALFORMED;

	*out = NULL;
	if (!der || len == 0)
		return PT_ERR_MALFORMED;
	if (len > PT_CAPF_BODY_MAX)
		return PT_ERR_TOO_LARGE;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (!k || (size_t)(p - der) != len) {
		EVP_PKEY_free(k);
		p = der;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		if (!k || (size_t)(p - der) != len)
			goto out;
	}
	int id = EVP_PKEY_get_base_id(k);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
		r = PT_ERR_UNSUPPORTED;
		goto out;
	}
	*out = k;
	k = NULL;
	r = PT_OK;
out:
	/* Undecodable input is our verdict, not a library failure. */
	ERR_clear_error();
	EVP_PKEY_free(k);
	return r;
}

int pt_capf_public_key_encode(const EVP_PKEY *key, uint8_t **der,
			      size_t *len)
{
	unsigned char *buf = NULL;
	uint8_t *copy = NULL;
	int r = PT_ERR_CRYPTO;

	*der = NULL;
	*len = 0;
	int n = i2d_PUBKEY(key, &buf);
	if (n <= 0)
		goto out;
	/* OpenSSL's allocator and ours may differ: hand out malloc'd
	 * memory as promised. */
	r = PT_ERR_NOMEM;
	if (!(copy = malloc((size_t)n)))
		goto out;
	memcpy(copy, buf, (size_t)n);
	*der = copy;
	*len = (size_t)n;
	r = PT_OK;
out:
	OPENSSL_free(buf);
	return r;
}

static void msg_init(pt_capf_msg_t *m, uint8_t command, uint32_t session_id)
{
	memset(m, 0, sizeof *m);
	m->command = command;
	m->session_id = session_id;
}

int pt_capf_auth_request_build(uint32_t session_id, uint8_t *buf, size_t cap,
			       size_t *len)
{
	pt_capf_msg_t m;
	msg_init(&m, PT_CAPF_CMD_AUTH_REQUEST, session_id);
	m.version = PT_CAPF_VERSION;
	m.auth_type = PT_CAPF_AUTH_TYPE_NONE;
	pt_capf_msg_set(&m, PT_CAPF_TAG_VERSION);
	pt_capf_msg_set(&m, PT_CAPF_TAG_AUTH_TYPE);
	return pt_capf_msg_build(&m, PT_CAPF_FROM_SERVER, buf, cap, len);
}

int pt_capf_key_gen_request_build(uint32_t session_id,
				  const pt_capf_keyspec_t *k, uint8_t *buf,
				  size_t cap, size_t *len)
{
	pt_capf_msg_t m;
	if (!pt_capf_keyspec_valid(k))
		return PT_ERR_INVALID;
	msg_init(&m, PT_CAPF_CMD_KEY_GENERATE_REQUEST, session_id);
	m.key_type = k->key_type;
	pt_capf_msg_set(&m, PT_CAPF_TAG_KEY_TYPE);
	if (k->key_type == PT_CAPF_KEY_TYPE_RSA) {
		m.key_size = k->rsa_bits;
		pt_capf_msg_set(&m, PT_CAPF_TAG_KEY_SIZE);
	} else {
		m.curve = k->curve;
		pt_capf_msg_set(&m, PT_CAPF_TAG_CURVE);
	}
	return pt_capf_msg_build(&m, PT_CAPF_FROM_SERVER, buf, cap, len);
}

int pt_capf_store_request_build(uint32_t session_id, const uint8_t *der,
				size_t der_len, uint8_t *buf, size_t cap,
				size_t *len)
{
	pt_capf_msg_t m;
	msg_init(&m, PT_CAPF_CMD_STORE_CERTIFICATE_REQUEST, session_id);
	m.cert_type = PT_CAPF_CERT_TYPE_LSC;
	m.cert = der;
	m.cert_len = der_len;
	pt_capf_msg_set(&m, PT_CAPF_TAG_CERTIFICATE_TYPE);
	pt_capf_msg_set(&m, PT_CAPF_TAG_CERTIFICATE);
	return pt_capf_msg_build(&m, PT_CAPF_FROM_SERVER, buf, cap, len);
}

int pt_capf_empty_build(uint8_t command, uint32_t session_id, uint8_t *buf,
			size_t cap, size_t *len)
{
	return pt_capf_msg_build_raw(command, session_id, NULL, 0, buf, cap,
				     len);
}

int pt_capf_end_session_build(uint32_t session_id, uint8_t reason,
			      uint8_t *buf, size_t cap, size_t *len)
{
	pt_capf_msg_t m;
	msg_init(&m, PT_CAPF_CMD_END_SESSION, session_id);
	m.reason = reason;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	return pt_capf_msg_build(&m, PT_CAPF_FROM_SERVER, buf, cap, len);
}

int pt_capf_reason_build(uint8_t command, uint32_t session_id,
			 uint8_t reason, uint8_t *buf, size_t cap,
			 size_t *len)
{
	pt_capf_msg_t m;
	msg_init(&m, command, session_id);
	m.reason = reason;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	return pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf, cap, len);
}

int pt_capf_key_gen_response_build(uint32_t session_id,
				   const uint8_t *public_key, size_t key_len,
				   uint8_t *buf, size_t cap, size_t *len)
{
	pt_capf_msg_t m;
	if (!public_key || key_len == 0)
		return PT_ERR_INVALID;
	msg_init(&m, PT_CAPF_CMD_KEY_GENERATE_RESPONSE, session_id);
	m.public_key = public_key;
	m.public_key_len = key_len;
	pt_capf_msg_set(&m, PT_CAPF_TAG_PUBLIC_KEY);
	return pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf, cap, len);
}

int pt_capf_fetch_response_build(uint32_t session_id, const uint8_t *der,
				 size_t der_len, uint8_t *buf, size_t cap,
				 size_t *len)
{
	pt_capf_msg_t m;
	msg_init(&m, PT_CAPF_CMD_FETCH_CERTIFICATE_RESPONSE, session_id);
	m.reason = PT_CAPF_REASON_UPDATE_CERTIFICATE;
	m.cert = der;
	m.cert_len = der_len;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	pt_capf_msg_set(&m, PT_CAPF_TAG_CERTIFICATE);
	return pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf, cap, len);
}

int pt_capf_auth_response_init(uint32_t session_id,
			       const pt_capf_credentials_t *c,
			       pt_capf_msg_t *out)
{
	pt_capf_msg_t m;

	if (!c->device_name || !c->device_name[0])
		return PT_ERR_INVALID;
	msg_init(&m, PT_CAPF_CMD_AUTH_RESPONSE, session_id);
	m.reason = PT_CAPF_REASON_UPDATE_CERTIFICATE;
	m.version = PT_CAPF_VERSION;
	m.password = c->password ? c->password : "";
	m.password_len = strlen(m.password);
	m.device_name = c->device_name;
	m.device_name_len = strlen(c->device_name);
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	pt_capf_msg_set(&m, PT_CAPF_TAG_VERSION);
	pt_capf_msg_set(&m, PT_CAPF_TAG_PASSWORD);
	pt_capf_msg_set(&m, PT_CAPF_TAG_DEVICE_NAME);
	if (c->cert) {
		if (!c->cert_len || !c->sig_sha1 || !c->sig_sha1_len ||
		    !c->sig_sha512 || !c->sig_sha512_len)
			return PT_ERR_INVALID;
		m.cert = c->cert;
		m.cert_len = c->cert_len;
		m.signed_data = c->sig_sha1;
		m.signed_data_len = c->sig_sha1_len;
		m.sha2_hash_id = PT_CAPF_HASH_SHA512;
		m.sha2_signed_data = c->sig_sha512;
		m.sha2_signed_data_len = c->sig_sha512_len;
		pt_capf_msg_set(&m, PT_CAPF_TAG_CERTIFICATE);
		pt_capf_msg_set(&m, PT_CAPF_TAG_SIGNED_DATA);
		pt_capf_msg_set(&m, PT_CAPF_TAG_SHA2_SIGNED_DATA);
	}
	if (c->sudi_cert) {
		if (!c->sudi_cert_len || !c->sudi_sig_sha1 ||
		    !c->sudi_sig_sha1_len || !c->sudi_sig_sha512 ||
		    !c->sudi_sig_sha512_len)
			return PT_ERR_INVALID;
		m.sudi.cert_marker = 0x00;
		m.sudi.cert = c->sudi_cert;
		m.sudi.cert_len = c->sudi_cert_len;
		m.sudi.sha1_marker = PT_CAPF_HASH_SHA1;
		m.sudi.sig_sha1 = c->sudi_sig_sha1;
		m.sudi.sig_sha1_len = c->sudi_sig_sha1_len;
		m.sudi.sha2_hash_id = PT_CAPF_HASH_SHA512;
		m.sudi.sig_sha512 = c->sudi_sig_sha512;
		m.sudi.sig_sha512_len = c->sudi_sig_sha512_len;
		pt_capf_msg_set(&m, PT_CAPF_TAG_SUDI_DATA);
	}
	*out = m;
	return PT_OK;
}

int pt_capf_auth_response_build(uint32_t session_id,
				const pt_capf_credentials_t *c, uint8_t *buf,
				size_t cap, size_t *len)
{
	pt_capf_msg_t m;
	int r = pt_capf_auth_response_init(session_id, c, &m);
	if (r != PT_OK)
		return r;
	return pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf, cap, len);
}
