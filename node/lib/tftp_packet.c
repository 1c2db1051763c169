#include "lib/tftp_packet.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/rbuf.h"

static int refuse(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

bool pt_tftp_option_parse(const char *s, size_t len, uint64_t max,
			  uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool parse_mode(const char *s, size_t len, pt_tftp_mode_t *out)
{
	static const struct {
		const char *name;
		pt_tftp_mode_t mode;
	} modes[] = {{"octet", PT_TFTP_MODE_OCTET},
		     {"netascii", PT_TFTP_MODE_NETASCII},
		     {"mail", PT_TFTP_MODE_MAIL}};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strlen(modes[i].name) == len &&
		    strncasecmp(modes[i].name, s, len) == 0) {
			*out = modes[i].mode;
			return true;
		}
	return false;
}

/* Stores one option.  Values too large for the field are clamped to a
 * value the negotiation then lowers anyway, rather than refused: a client
 * asking for more than any server grants still gets a transfer. */
static int take_option(pt_tftp_request_t *r, const char *name,
		       size_t name_len, const char *val, size_t val_len,
		       const char **why)
{
	static const char *const names[] = {"blksize", "tsize", "timeout",
					    "windowsize"};
	size_t which = sizeof names / sizeof names[0];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == name_len &&
		    strncasecmp(names[i], name, name_len) == 0)
			which = i;
	if (which == sizeof names / sizeof names[0])
		return PT_OK; /* RFC 2347: unknown options are ignored */
	bool *seen[] = {&r->has_blksize, &r->has_tsize, &r->has_timeout,
			&r->has_windowsize};
	if (*seen[which])
		return refuse(why, "an option is given twice",
			      PT_ERR_MALFORMED);
	uint64_t v;
	if (!pt_tftp_option_parse(val, val_len, UINT64_MAX, &v))
		return refuse(why, "an option value is not a decimal number",
			      PT_ERR_MALFORMED);
	*seen[which] = true;
	switch (which) {
	case 0: r->blksize = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; break;
	case 1: r->tsize = v; break;
	case 2: r->timeout = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; break;
	default:
		r->windowsize = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		break;
	}
	return PT_OK;
}

int pt_tftp_request_parse(const uint8_t *pkt, size_t len,
			  pt_tftp_request_t *out, const char **why)
{
	pt_rbuf_t rb;
	uint16_t op;
	const char *s, *v;
	size_t n, vn;
	int r;

	memset(out, 0, sizeof *out);
	if (len > PT_TFTP_REQUEST_MAX)
		return refuse(why, "the request is larger than 512 bytes",
			      PT_ERR_TOO_LARGE);
	pt_rbuf_init(&rb, pkt, len);
	if (pt_rbuf_get_u16(&rb, &op) != PT_OK)
		return refuse(why, "the packet is shorter than an opcode",
			      PT_ERR_INCOMPLETE);
	if (op != PT_TFTP_RRQ && op != PT_TFTP_WRQ)
		return refuse(why, "the packet is not a read or write request",
			      PT_ERR_INVALID);
	out->opcode = op;
	r = pt_rbuf_get_cstr(&rb, PT_TFTP_NAME_MAX, &s, &n);
	if (r == PT_ERR_TOO_LARGE)
		return refuse(why, "the file name is longer than 255 bytes", r);
	if (r != PT_OK)
		return refuse(why, "the file name is not NUL-terminated", r);
	out->name = s;
	out->name_len = n;
	if (pt_rbuf_get_cstr(&rb, 16, &s, &n) != PT_OK)
		return refuse(why, "the transfer mode is missing or too long",
			      PT_ERR_MALFORMED);
	if (!parse_mode(s, n, &out->mode))
		return refuse(why, "the transfer mode is not octet, netascii "
				   "or mail", PT_ERR_MALFORMED);
	while (pt_rbuf_remaining(&rb) > 0) {
		if (pt_rbuf_get_cstr(&rb, PT_TFTP_REQUEST_MAX, &s, &n) != PT_OK ||
		    pt_rbuf_get_cstr(&rb, PT_TFTP_REQUEST_MAX, &v, &vn) != PT_OK)
			return refuse(why, "an option or its value is not "
					   "NUL-terminated", PT_ERR_MALFORMED);
		if (n == 0)
			return refuse(why, "an option name is empty",
				      PT_ERR_MALFORMED);
		if ((r = take_option(out, s, n, v, vn, why)) != PT_OK)
			return r;
	}
	return PT_OK;
}

int pt_tftp_name_check(const char *name, size_t len, const char **why)
{
	if (len == 0)
		return refuse(why, "empty file name", PT_ERR_DENIED);
	if (len > PT_TFTP_NAME_MAX)
		return refuse(why, "file name too long", PT_ERR_DENIED);
	if (name[0] == '/' || name[0] == '\\' ||
	    (len >= 2 && name[1] == ':'))
		return refuse(why, "absolute path", PT_ERR_DENIED);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c > 0x7e)
			return refuse(why, "control or non-ASCII character in "
					   "the file name", PT_ERR_DENIED);
	}
	/* Path parts are separated by either slash; ".." as a whole part
	 * climbs out of the served directory. */
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '/' && name[i] != '\\')
			continue;
		if (i - start == 2 && name[start] == '.' &&
		    name[start + 1] == '.')
			return refuse(why, "'..' in the file name",
				      PT_ERR_DENIED);
		start = i + 1;
	}
	return PT_OK;
}

int pt_tftp_negotiate(const pt_tftp_request_t *req,
		      const pt_tftp_limits_t *limits, uint64_t size,
		      pt_tftp_params_t *out)
{
	uint32_t bmax = limits->blksize_max;
	if (bmax < PT_TFTP_BLKSIZE_MIN || bmax > PT_TFTP_BLKSIZE_MAX)
		bmax = PT_TFTP_BLKSIZE_MAX;
	uint32_t wmax = limits->windowsize_max;
	if (wmax < PT_TFTP_WINDOW_MIN || wmax > PT_TFTP_WINDOW_MAX)
		wmax = PT_TFTP_WINDOW_MIN;

	memset(out, 0, sizeof *out);
	out->blksize = PT_TFTP_BLKSIZE_DEFAULT;
	out->windowsize = 1;
	out->timeout = limits->timeout_default ? limits->timeout_default : 1;
	if (req->has_blksize && req->blksize >= PT_TFTP_BLKSIZE_MIN) {
		out->blksize = req->blksize < bmax ? req->blksize : bmax;
		out->ack_blksize = true;
	}
	if (req->has_windowsize && req->windowsize >= PT_TFTP_WINDOW_MIN) {
		out->windowsize = req->windowsize < wmax ? req->windowsize
							 : wmax;
		out->ack_windowsize = true;
	}
	/* RFC 2349: the server must accept the client's timeout or leave
	 * the option out; it may not answer another value. */
	if (req->has_timeout && req->timeout >= PT_TFTP_TIMEOUT_MIN &&
	    req->timeout <= PT_TFTP_TIMEOUT_MAX) {
		out->timeout = req->timeout;
		out->ack_timeout = true;
	}
	if (req->has_tsize) {
		out->tsize = size;
		out->ack_tsize = true;
	}
	out->oack = out->ack_blksize || out->ack_windowsize ||
		    out->ack_timeout || out->ack_tsize;
	return PT_OK;
}

size_t pt_tftp_data_build(uint8_t *buf, size_t cap, uint16_t block,
			  const uint8_t *payload, size_t len)
{
	if (cap < 4 || len > cap - 4)
		return 0;
	buf[0] = 0;
	buf[1] = PT_TFTP_DATA;
	buf[2] = (uint8_t)(block >> 8);
	buf[3] = (uint8_t)block;
	if (len)
		memcpy(buf + 4, payload, len);
	return 4 + len;
}

/* Appends "name\0value\0"; false when it does not fit. */
static bool put_option(uint8_t *buf, size_t cap, size_t *at,
		       const char *name, uint64_t value)
{
	char text[64];
	int n = snprintf(text, sizeof text, "%s%c%llu", name, '\0',
			 (unsigned long long)value);
	if (n < 0 || (size_t)n + 1 > cap - *at)
		return false;
	memcpy(buf + *at, text, (size_t)n + 1);
	*at += (size_t)n + 1;
	return true;
}

size_t pt_tftp_oack_build(uint8_t *buf, size_t cap,
			  const pt_tftp_params_t *p)
{
	size_t at = 2;
	if (cap < 2)
		return 0;
	buf[0] = 0;
	buf[1] = PT_TFTP_OACK;
	if ((p->ack_blksize && !put_option(buf, cap, &at, "blksize",
					   p->blksize)) ||
	    (p->ack_tsize && !put_option(buf, cap, &at, "tsize", p->tsize)) ||
	    (p->ack_timeout && !put_option(buf, cap, &at, "timeout",
					   p->timeout)) ||
	    (p->ack_windowsize && !put_option(buf, cap, &at, "windowsize",
					      p->windowsize)))
		return 0;
	return at;
}

size_t pt_tftp_error_build(uint8_t *buf, size_t cap, pt_tftp_error_t code,
			   const char *message)
{
	if (cap < 5)
		return 0;
	size_t n = message ? strlen(message) : 0;
	if (n > cap - 5)
		n = cap - 5;
	buf[0] = 0;
	buf[1] = PT_TFTP_ERROR;
	buf[2] = (uint8_t)((unsigned)code >> 8);
	buf[3] = (uint8_t)code;
	if (n)
		memcpy(buf + 4, message, n);
	buf[4 + n] = '\0';
	return 5 + n;
}

int pt_tftp_reply_parse(const uint8_t *pkt, size_t len, pt_tftp_reply_t *out)
{
	pt_rbuf_t rb;
	uint16_t op, v;
	memset(out, 0, sizeof *out);
	pt_rbuf_init(&rb, pkt, len);
	if (pt_rbuf_get_u16(&rb, &op) != PT_OK ||
	    pt_rbuf_get_u16(&rb, &v) != PT_OK)
		return PT_ERR_MALFORMED;
	out->opcode = op;
	if (op == PT_TFTP_ACK) {
		out->block = v;
		return pt_rbuf_expect_end(&rb) == PT_OK ? PT_OK
							: PT_ERR_MALFORMED;
	}
	if (op == PT_TFTP_ERROR) {
		/* The message is for humans and is not needed; it is not
		 * required to be well formed either. */
		out->error_code = v;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

const char *pt_tftp_error_text(pt_tftp_error_t code)
{
	static const char *const texts[] = {
		"Undefined error",     "File not found",
		"Access violation",    "Disk full or allocation exceeded",
		"Illegal TFTP operation", "Unknown transfer ID",
		"File already exists", "No such user",
		"Option negotiation refused",
	};
	if ((unsigned)code < sizeof texts / sizeof texts[0])
		return texts[code];
	return "Unknown error";
}
