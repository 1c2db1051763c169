#include "lib/tvs_msg.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/rbuf.h"

static int fail(int err, const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

int pt_tvs_header_decode(const uint8_t *buf, size_t len, pt_tvs_header_t *out)
{
	pt_rbuf_t rb;
	pt_rbuf_init(&rb, buf, len);
	if (len < PT_TVS_HEADER_LEN)
		return PT_ERR_INCOMPLETE;
	pt_tvs_header_t h;
	/* Cannot fail: ten bytes are there. */
	pt_rbuf_get_u8(&rb, &h.protocol_id);
	pt_rbuf_get_u8(&rb, &h.version);
	pt_rbuf_get_u8(&rb, &h.command);
	pt_rbuf_get_u8(&rb, &h.reserved);
	pt_rbuf_get_u32(&rb, &h.session_id);
	pt_rbuf_get_u16(&rb, &h.body_len);
	if (h.protocol_id != PT_TVS_PROTOCOL_ID || h.version != PT_TVS_VERSION)
		return PT_ERR_MALFORMED;
	*out = h;
	return PT_OK;
}

/* The elements of one body, by their index in the side's allowed tags; a
 * later one replaces an earlier one, as the reference receivers keep them
 * in a map. */
#define ELEMS_MAX 3

struct elems {
	const uint8_t *value[ELEMS_MAX];
	size_t len[ELEMS_MAX];
	bool seen[ELEMS_MAX];
};

/* Header and body framing shared by both parsers.  allowed[0..n_allowed)
 * are the tags this side accepts; e is indexed like allowed. */
static int parse_frame(const uint8_t *msg, size_t len, pt_tvs_header_t *h,
		       const uint8_t *allowed, size_t n_allowed,
		       struct elems *e, const char **why)
{
	int r = pt_tvs_header_decode(msg, len, h);
	if (r == PT_ERR_INCOMPLETE)
		return fail(r, why, "shorter than the 10-byte header");
	if (r != PT_OK)
		return fail(r, why, "not a TVS header (protocol id or version)");
	size_t want = PT_TVS_HEADER_LEN + (size_t)h->body_len;
	if (len < want)
		return fail(PT_ERR_INCOMPLETE, why,
			    "body shorter than its declared length");
	if (len > want)
		return fail(PT_ERR_TRAILING, why,
			    "bytes after the declared body");

	pt_rbuf_t body;
	pt_rbuf_init(&body, msg + PT_TVS_HEADER_LEN, h->body_len);
	memset(e, 0, sizeof *e);
	while (pt_rbuf_remaining(&body) > 0) {
		uint8_t tag;
		const uint8_t *value;
		size_t vlen;
		if (pt_rbuf_get_u8(&body, &tag) != PT_OK ||
		    pt_rbuf_get_lv(&body, 2, PT_TVS_BODY_MAX, &value, &vlen) !=
			    PT_OK)
			return fail(PT_ERR_MALFORMED, why,
				    "element runs past the end of the body");
		size_t i = 0;
		while (i < n_allowed && allowed[i] != tag)
			i++;
		if (i == n_allowed)
			return fail(PT_ERR_MALFORMED, why, "unknown element tag");
		e->value[i] = value;
		e->len[i] = vlen;
		e->seen[i] = true;
	}
	return PT_OK;
}

bool pt_tvs_device_name_ok(const char *name, size_t len)
{
	if (len != PT_TVS_DEVICE_NAME_LEN || memcmp(name, "CP-", 3) != 0 ||
	    memcmp(name + 7, "-SEP", 4) != 0)
		return false;
	for (size_t i = 3; i < 7; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	for (size_t i = 11; i < PT_TVS_DEVICE_NAME_LEN; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* ASN1_TIME to UTC seconds; false for a time OpenSSL cannot read. */
static bool asn1_seconds(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

int pt_tvs_request_parse(const uint8_t *msg, size_t len,
			 pt_tvs_request_t *out, const char **why)
{
	static const uint8_t allowed[] = {PT_TVS_TAG_DEVICE_NAME,
					  PT_TVS_TAG_CERTIFICATE};
	enum { NAME, CERT };
	struct elems e;
	X509 *cert = NULL;
	pt_tvs_header_t h;
	pt_tvs_request_t req;
	int r;

	memset(out, 0, sizeof *out);
	memset(&req, 0, sizeof req);
	r = parse_frame(msg, len, &h, allowed, sizeof allowed, &e, why);
	if (r != PT_OK)
		goto out;
	if (h.command != PT_TVS_CMD_VERIFY_REQUEST) {
		r = fail(PT_ERR_UNSUPPORTED, why, "command is not "
						  "VERIFY_REQUEST (1)");
		goto out;
	}
	req.session_id = h.session_id;

	const uint8_t *name = e.value[NAME];
	size_t name_len = e.len[NAME];
	if (!e.seen[NAME] || name_len < 1) {
		r = fail(PT_ERR_MALFORMED, why, "no DEVICE_NAME");
		goto out;
	}
	if (!pt_tvs_device_name_ok((const char *)name + 1, name_len - 1)) {
		r = fail(PT_ERR_MALFORMED, why,
			 "DEVICE_NAME is not CP-<4 digits>-SEP<12 hex digits>");
		goto out;
	}
	req.device_prefix = name[0];
	memcpy(req.device_name, name + 1, PT_TVS_DEVICE_NAME_LEN);
	req.device_name[PT_TVS_DEVICE_NAME_LEN] = '\0';

	if (!e.seen[CERT]) {
		r = fail(PT_ERR_MALFORMED, why, "no CERTIFICATE");
		goto out;
	}
	req.cert = e.value[CERT];
	req.cert_len = e.len[CERT];
	if (pt_certs_decode_der(req.cert, req.cert_len, &cert) != PT_OK) {
		r = fail(PT_ERR_MALFORMED, why,
			 "CERTIFICATE is not one DER X.509 certificate");
		goto out;
	}
	if (!asn1_seconds(X509_get0_notBefore(cert), &req.not_before) ||
	    !asn1_seconds(X509_get0_notAfter(cert), &req.not_after)) {
		r = fail(PT_ERR_MALFORMED, why,
			 "CERTIFICATE has an unreadable validity period");
		goto out;
	}
	r = pt_certs_sha256(req.cert, req.cert_len, req.sha256);
	if (r != PT_OK) {
		fail(r, why, "cannot hash the certificate");
		goto out;
	}
	*out = req;
	if (why)
		*why = NULL;
out:
	X509_free(cert);
	return r;
}

int pt_tvs_response_parse(const uint8_t *msg, size_t len,
			  uint32_t expect_session, pt_tvs_response_t *out,
			  const char **why)
{
	static const uint8_t allowed[] = {PT_TVS_TAG_STATUS, PT_TVS_TAG_ROLES,
					  PT_TVS_TAG_TTL};
	enum { STATUS, ROLES, TTL };
	struct elems e;
	pt_tvs_header_t h;
	pt_tvs_response_t resp;

	memset(out, 0, sizeof *out);
	memset(&resp, 0, sizeof resp);
	int r = parse_frame(msg, len, &h, allowed, sizeof allowed, &e, why);
	if (r != PT_OK)
		return r;
	if (h.session_id != expect_session)
		return fail(PT_ERR_AUTH, why,
			    "session id differs from the request's");
	if (h.command != PT_TVS_CMD_VERIFY_RESPONSE)
		return fail(PT_ERR_UNSUPPORTED, why,
			    "command is not VERIFY_RESPONSE (2)");
	resp.session_id = h.session_id;
	if (!e.seen[STATUS] || e.len[STATUS] != 1)
		return fail(PT_ERR_MALFORMED, why, "no one-byte STATUS");
	resp.status = e.value[STATUS][0];
	if (e.seen[ROLES]) {
		resp.has_roles = true;
		resp.roles = e.value[ROLES];
		resp.n_roles = e.len[ROLES];
	}
	if (e.seen[TTL]) {
		pt_rbuf_t rb;
		pt_rbuf_init(&rb, e.value[TTL], e.len[TTL]);
		if (pt_rbuf_get_u32(&rb, &resp.ttl) != PT_OK ||
		    pt_rbuf_expect_end(&rb) != PT_OK)
			return fail(PT_ERR_MALFORMED, why, "TTL is not 4 bytes");
		resp.has_ttl = true;
	}
	*out = resp;
	if (why)
		*why = NULL;
	return PT_OK;
}

size_t pt_tvs_msg_size(const pt_tvs_elem_t *elems, size_t n)
{
	size_t body = 0;
	for (size_t i = 0; i < n; i++) {
		if (elems[i].len > PT_TVS_BODY_MAX)
			return 0;
		body += PT_TVS_ELEM_HEADER_LEN + elems[i].len;
		if (body > PT_TVS_BODY_MAX)
			return 0;
	}
	return PT_TVS_HEADER_LEN + body;
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int pt_tvs_msg_build(uint8_t command, uint32_t session_id,
		     const pt_tvs_elem_t *elems, size_t n, uint8_t *buf,
		     size_t cap, size_t *len)
{
	size_t total = pt_tvs_msg_size(elems, n);
	if (total == 0 || total > cap)
		return PT_ERR_TOO_LARGE;
	buf[0] = PT_TVS_PROTOCOL_ID;
	buf[1] = PT_TVS_VERSION;
	buf[2] = command;
	buf[3] = 0;
	put_u32(buf + 4, session_id);
	put_u16(buf + 8, (uint16_t)(total - PT_TVS_HEADER_LEN));
	size_t at = PT_TVS_HEADER_LEN;
	for (size_t i = 0; i < n; i++) {
		buf[at] = elems[i].tag;
		put_u16(buf + at + 1, (uint16_t)elems[i].len);
		at += PT_TVS_ELEM_HEADER_LEN;
		if (elems[i].len)
			memcpy(buf + at, elems[i].value, elems[i].len);
		at += elems[i].len;
	}
	*len = total;
	return PT_OK;
}

int pt_tvs_request_build(uint32_t session_id, const char *device_name,
			 const uint8_t *cert, size_t cert_len, uint8_t *buf,
			 size_t cap, size_t *len)
{
	uint8_t name[1 + PT_TVS_DEVICE_NAME_LEN];
	if (!device_name ||
	    !pt_tvs_device_name_ok(device_name, strlen(device_name)))
		return PT_ERR_INVALID;
	name[0] = PT_TVS_DEVICE_PREFIX;
	memcpy(name + 1, device_name, PT_TVS_DEVICE_NAME_LEN);
	pt_tvs_elem_t e[2] = {
		{PT_TVS_TAG_DEVICE_NAME, name, sizeof name},
		{PT_TVS_TAG_CERTIFICATE, cert, cert_len},
	};
	return pt_tvs_msg_build(PT_TVS_CMD_VERIFY_REQUEST, session_id, e, 2,
				buf, cap, len);
}

int pt_tvs_response_build(uint32_t session_id, const pt_tvs_verdict_t *v,
			  uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t status = v->status;
	uint8_t ttl[4];
	pt_tvs_elem_t e[3];
	size_t n = 0;

	if (v->status > PT_TVS_STATUS_INVALID || v->n_roles > PT_TVS_ROLES_MAX)
		return PT_ERR_INVALID;
	e[n++] = (pt_tvs_elem_t){PT_TVS_TAG_STATUS, &status, 1};
	if (v->status == PT_TVS_STATUS_VALID) {
		e[n++] = (pt_tvs_elem_t){PT_TVS_TAG_ROLES, v->roles,
					 v->n_roles};
		if (v->has_ttl) {
			put_u32(ttl, v->ttl);
			e[n++] = (pt_tvs_elem_t){PT_TVS_TAG_TTL, ttl, 4};
		}
	}
	return pt_tvs_msg_build(PT_TVS_CMD_VERIFY_RESPONSE, session_id, e, n,
				buf, cap, len);
}

const char *pt_tvs_role_name(uint8_t code)
{
	switch (code) {
	case PT_TVS_ROLE_SAST:
		return "SAST";
	case PT_TVS_ROLE_CCM:
		return "CCM";
	case PT_TVS_ROLE_CCM_TFTP:
		return "CCM+TFTP";
	case PT_TVS_ROLE_TFTP:
		return "TFTP";
	case PT_TVS_ROLE_CAPF:
		return "CAPF";
	case PT_TVS_ROLE_APP_SERVER:
		return "APP-SERVER";
	case PT_TVS_ROLE_TVS:
		return "TVS";
	default:
		return NULL;
	}
}
