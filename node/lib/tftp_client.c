#include "lib/tftp_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/rbuf.h"
#include "lib/seal.h"

/* The first allocation when the size is not announced. */
#define GROW_MIN 4096u
/* Characters of a server's error message kept for the reason. */
#define SERVER_TEXT_MAX 100u

static void set_why(pt_tftp_client_t *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_why(pt_tftp_client_t *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
}

/* Ends the transfer with err; with code >= 0 an ERROR tells the server
 * to stop sending. */
static void fail(pt_tftp_client_t *c, int err, int code, const char *text)
{
	c->state = PT_TFTP_CLIENT_FAILED;
	c->err = err;
	c->pending = PT_TFTP_CLIENT_SEND_NONE;
	if (code >= 0) {
		c->pending = PT_TFTP_CLIENT_SEND_ERROR;
		c->error_code = (pt_tftp_error_t)code;
		c->error_text = text;
	}
}

static void progress(pt_tftp_client_t *c, int64_t now_ms)
{
	c->retries = 0;
	c->deadline_ms = now_ms + c->retry_ms;
}

static void send_ack(pt_tftp_client_t *c, uint64_t block)
{
	c->pending = PT_TFTP_CLIENT_SEND_ACK;
	c->ack_block = (uint16_t)block;
	c->in_window = 0;
}

int pt_tftp_client_init(pt_tftp_client_t *c, const char *name,
			const pt_tftp_client_opts_t *opts, int64_t now_ms)
{
	static const pt_tftp_client_opts_t none = {0};
	memset(c, 0, sizeof *c);
	c->server_error = -1;
	c->state = PT_TFTP_CLIENT_FAILED;
	c->err = PT_ERR_INVALID;
	if (!opts)
		opts = &none;
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > PT_TFTP_NAME_MAX ||
	    (opts->blksize && (opts->blksize < PT_TFTP_BLKSIZE_MIN ||
			       opts->blksize > PT_TFTP_BLKSIZE_MAX)) ||
	    opts->windowsize > PT_TFTP_WINDOW_MAX ||
	    opts->timeout > PT_TFTP_TIMEOUT_MAX) {
		set_why(c, "invalid file name or TFTP option");
		return PT_ERR_INVALID;
	}
	memcpy(c->name, name, n + 1);
	c->opts = *opts;
	if (!c->opts.max_retries)
		c->opts.max_retries = PT_TFTP_CLIENT_RETRIES_DEFAULT;
	if (!c->opts.max_size)
		c->opts.max_size = PT_TFTP_CLIENT_SIZE_DEFAULT;
	if (!c->opts.retry_ms)
		c->opts.retry_ms = opts->timeout ? opts->timeout * 1000u
						 : PT_TFTP_CLIENT_RETRY_MS_DEFAULT;
	c->ask_options = opts->blksize || opts->windowsize || opts->timeout ||
			 opts->tsize;
	c->state = PT_TFTP_CLIENT_REQUESTING;
	c->err = PT_OK;
	c->blksize = PT_TFTP_BLKSIZE_DEFAULT;
	c->windowsize = 1;
	c->retry_ms = c->opts.retry_ms;
	c->pending = PT_TFTP_CLIENT_SEND_RRQ;
	progress(c, now_ms);
	return PT_OK;
}

static void drop_data(pt_tftp_client_t *c)
{
	if (c->data) {
		pt_seal_wipe(c->data, c->cap);
		free(c->data);
	}
	c->data = NULL;
	c->len = c->cap = 0;
}

void pt_tftp_client_clear(pt_tftp_client_t *c)
{
	drop_data(c);
	memset(c, 0, sizeof *c);
	c->server_error = -1;
}

/* Appends "name\0value\0"; false when it does not fit. */
static bool put_option(uint8_t *buf, size_t cap, size_t *at, const char *name,
		       unsigned long value)
{
	char text[48];
	int n = snprintf(text, sizeof text, "%s%c%lu", name, '\0', value);
	if (n < 0 || (size_t)n + 1 > cap - *at)
		return false;
	memcpy(buf + *at, text, (size_t)n + 1);
	*at += (size_t)n + 1;
	return true;
}

static size_t build_rrq(const pt_tftp_client_t *c, uint8_t *buf, size_t cap)
{
	static const char mode[] = "octet";
	size_t n = strlen(c->name), at = 0;
	if (cap < 2 + n + 1 + sizeof mode)
		return 0;
	buf[at++] = 0;
	buf[at++] = PT_TFTP_RRQ;
	memcpy(buf + at, c->name, n + 1);
	at += n + 1;
	memcpy(buf + at, mode, sizeof mode);
	at += sizeof mode;
	if (!c->ask_options)
		return at;
	const pt_tftp_client_opts_t *o = &c->opts;
	if ((o->blksize && !put_option(buf, cap, &at, "blksize", o->blksize)) ||
	    (o->tsize && !put_option(buf, cap, &at, "tsize", 0)) ||
	    (o->timeout && !put_option(buf, cap, &at, "timeout", o->timeout)) ||
	    (o->windowsize &&
	     !put_option(buf, cap, &at, "windowsize", o->windowsize)))
		return 0;
	return at;
}

size_t pt_tftp_client_next(pt_tftp_client_t *c, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	switch (c->pending) {
	case PT_TFTP_CLIENT_SEND_RRQ:
		n = build_rrq(c, buf, cap);
		break;
	case PT_TFTP_CLIENT_SEND_ACK:
		if (cap >= 4) {
			buf[0] = 0;
			buf[1] = PT_TFTP_ACK;
			buf[2] = (uint8_t)(c->ack_block >> 8);
			buf[3] = (uint8_t)c->ack_block;
			n = 4;
		}
		break;
	case PT_TFTP_CLIENT_SEND_ERROR:
		n = pt_tftp_error_build(buf, cap, c->error_code, c->error_text);
		break;
	default:
		return 0;
	}
	if (n)
		c->pending = PT_TFTP_CLIENT_SEND_NONE;
	return n;
}

static bool name_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

/* Checks every option of an OACK against what was asked: a server may
 * lower blksize and windowsize, must echo timeout, and may name no option
 * the request did not carry (RFC 2347-2349, 7440).  Values are applied
 * only when the whole OACK is acceptable. */
static int take_oack(pt_tftp_client_t *c, pt_rbuf_t *rb, const char **bad)
{
	const pt_tftp_client_opts_t *o = &c->opts;
	uint32_t blksize = PT_TFTP_BLKSIZE_DEFAULT, windowsize = 1;
	bool seen[4] = {false, false, false, false};
	uint64_t tsize = 0, v;

	while (pt_rbuf_remaining(rb) > 0) {
		const char *name, *val;
		size_t nlen, vlen;
		if (pt_rbuf_get_cstr(rb, PT_TFTP_SMALL_PACKET_MAX, &name,
				     &nlen) != PT_OK ||
		    pt_rbuf_get_cstr(rb, PT_TFTP_SMALL_PACKET_MAX, &val,
				     &vlen) != PT_OK) {
			*bad = "an OACK option is not NUL-terminated";
			return PT_ERR_MALFORMED;
		}
		int which = name_is(name, nlen, "blksize")      ? 0
			    : name_is(name, nlen, "tsize")      ? 1
			    : name_is(name, nlen, "timeout")    ? 2
			    : name_is(name, nlen, "windowsize") ? 3
								: -1;
		bool asked = which == 0   ? o->blksize != 0
			     : which == 1 ? o->tsize
			     : which == 2 ? o->timeout != 0
			     : which == 3 ? o->windowsize != 0
					  : false;
		if (!asked || seen[which]) {
			*bad = "the OACK names an option that was not asked "
			       "for, or names one twice";
			return PT_ERR_MALFORMED;
		}
		seen[which] = true;
		if (!pt_tftp_option_parse(val, vlen, UINT64_MAX, &v)) {
			*bad = "an OACK value is not a decimal number";
			return PT_ERR_MALFORMED;
		}
		if ((which == 0 && (v < PT_TFTP_BLKSIZE_MIN || v > o->blksize)) ||
		    (which == 2 && v != o->timeout) ||
		    (which == 3 && (v < PT_TFTP_WINDOW_MIN || v > o->windowsize))) {
			*bad = "the OACK grants an option value that was not "
			       "asked for";
			return PT_ERR_MALFORMED;
		}
		if (which == 0)
			blksize = (uint32_t)v;
		else if (which == 1)
			tsize = v;
		else if (which == 3)
			windowsize = (uint32_t)v;
	}
	if (seen[1] && tsize > c->opts.max_size) {
		*bad = "the announced size is above the cap";
		return PT_ERR_TOO_LARGE;
	}
	c->blksize = blksize;
	c->windowsize = windowsize;
	c->has_tsize = seen[1];
	c->tsize = tsize;
	return PT_OK;
}

static bool grow(pt_tftp_client_t *c, size_t need)
{
	if (need <= c->cap)
		return true;
	size_t cap = c->cap ? c->cap : GROW_MIN;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > c->opts.max_size)
		cap = c->opts.max_size > need ? c->opts.max_size : need;
	/* Not realloc: the old block may hold a password and is wiped. */
	uint8_t *p = malloc(cap);
	if (!p)
		return false;
	if (c->len)
		memcpy(p, c->data, c->len);
	size_t len = c->len;
	drop_data(c);
	c->data = p;
	c->len = len;
	c->cap = cap;
	return true;
}

static void on_oack(pt_tftp_client_t *c, pt_rbuf_t *rb, int64_t now_ms)
{
	const char *bad = NULL;
	if (c->state == PT_TFTP_CLIENT_RECEIVING) {
		/* The server did not get ACK 0 and sent its OACK again. */
		if (c->oack && c->received == 0) {
			c->duplicates++;
			send_ack(c, 0);
		} else {
			c->ignored++;
		}
		return;
	}
	if (!c->ask_options) {
		set_why(c, "the server sent an OACK to a request without "
			   "options");
		fail(c, PT_ERR_MALFORMED, PT_TFTP_E_OPTION,
		     "no options were requested");
		return;
	}
	int r = take_oack(c, rb, &bad);
	if (r != PT_OK) {
		set_why(c, "%s", bad);
		if (r == PT_ERR_TOO_LARGE)
			fail(c, r, PT_TFTP_E_DISK_FULL, "file too large");
		else
			fail(c, r, PT_TFTP_E_OPTION, "option refused");
		return;
	}
	if (c->has_tsize && c->tsize > 0 && !grow(c, (size_t)c->tsize)) {
		set_why(c, "out of memory for %llu bytes",
			(unsigned long long)c->tsize);
		fail(c, PT_ERR_NOMEM, PT_TFTP_E_DISK_FULL, "out of memory");
		return;
	}
	c->oack = true;
	c->state = PT_TFTP_CLIENT_RECEIVING;
	c->retry_ms = c->opts.retry_ms;
	send_ack(c, 0);
	progress(c, now_ms);
}

static void finish(pt_tftp_client_t *c)
{
	c->state = PT_TFTP_CLIENT_DONE;
	if (c->has_tsize && c->tsize != c->len) {
		/* The final ACK still goes out: the transfer itself ended. */
		c->state = PT_TFTP_CLIENT_FAILED;
		c->err = PT_ERR_MALFORMED;
		set_why(c, "received %zu bytes where the server announced "
			   "%llu", c->len, (unsigned long long)c->tsize);
	}
}

static void on_data(pt_tftp_client_t *c, pt_rbuf_t *rb, int64_t now_ms)
{
	uint16_t block;
	if (pt_rbuf_get_u16(rb, &block) != PT_OK) {
		c->ignored++;
		return;
	}
	size_t n = pt_rbuf_remaining(rb);
	const uint8_t *payload = rb->data + rb->pos;

	if (c->state == PT_TFTP_CLIENT_DONE) {
		/* The final ACK was lost: the server sends the last block
		 * again, and only an ACK ends its wait. */
		if (block == (uint16_t)c->received) {
			c->duplicates++;
			send_ack(c, c->received);
		} else {
			c->ignored++;
		}
		return;
	}
	if (c->state == PT_TFTP_CLIENT_REQUESTING) {
		if (block != 1) {
			c->ignored++;
			return;
		}
		/* Options, if asked for, were ignored: defaults apply. */
		c->state = PT_TFTP_CLIENT_RECEIVING;
	}

	uint16_t expected = (uint16_t)(c->received + 1);
	uint16_t ahead = (uint16_t)(block - expected);
	if (ahead != 0) {
		if (ahead < 0x8000u)
			c->out_of_order++;
		else
			c->duplicates++;
		if (!c->answered_disorder) {
			c->answered_disorder = true;
			send_ack(c, c->received);
			progress(c, now_ms);
		}
		return;
	}
	if (n > c->blksize) {
		set_why(c, "block %llu holds %zu bytes, more than the block "
			   "size %u", (unsigned long long)(c->received + 1), n,
			c->blksize);
		fail(c, PT_ERR_MALFORMED, PT_TFTP_E_ILLEGAL_OP,
		     "block larger than the block size");
		return;
	}
	if (n > c->opts.max_size - c->len) {
		set_why(c, "the file is larger than the cap of %zu bytes",
			c->opts.max_size);
		fail(c, PT_ERR_TOO_LARGE, PT_TFTP_E_DISK_FULL,
		     "file too large");
		return;
	}
	if (n && !grow(c, c->len + n)) {
		set_why(c, "out of memory");
		fail(c, PT_ERR_NOMEM, PT_TFTP_E_DISK_FULL, "out of memory");
		return;
	}
	if (n)
		memcpy(c->data + c->len, payload, n);
	c->len += n;
	c->received++;
	c->in_window++;
	c->answered_disorder = false;
	progress(c, now_ms);
	if (n < c->blksize) {
		send_ack(c, c->received);
		finish(c);
	} else if (c->in_window >= c->windowsize) {
		send_ack(c, c->received);
	}
}

static void on_error(pt_tftp_client_t *c, pt_rbuf_t *rb, int64_t now_ms)
{
	uint16_t code;
	char text[SERVER_TEXT_MAX + 1];
	size_t n = 0;
	if (pt_rbuf_get_u16(rb, &code) != PT_OK) {
		c->ignored++;
		return;
	}
	/* The message is untrusted text for a log line: printable ASCII
	 * only, up to the first NUL or the end of the datagram. */
	while (pt_rbuf_remaining(rb) > 0 && n < SERVER_TEXT_MAX) {
		uint8_t ch;
		pt_rbuf_get_u8(rb, &ch);
		if (ch == 0)
			break;
		text[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	text[n] = '\0';

	if (c->state == PT_TFTP_CLIENT_REQUESTING && c->ask_options &&
	    code == PT_TFTP_E_OPTION) {
		/* RFC 2347: a server may refuse the options; ask again
		 * without them. */
		c->ask_options = false;
		c->pending = PT_TFTP_CLIENT_SEND_RRQ;
		progress(c, now_ms);
		return;
	}
	c->server_error = code;
	set_why(c, "the server answered error %u (%s)%s%s", code,
		pt_tftp_error_text((pt_tftp_error_t)code), n ? ": " : "",
		text);
	fail(c, code == PT_TFTP_E_NOT_FOUND ? PT_ERR_NOT_FOUND : PT_ERR_DENIED,
	     -1, NULL);
}

bool pt_tftp_client_on_packet(pt_tftp_client_t *c, const uint8_t *pkt,
			      size_t len, int64_t now_ms)
{
	pt_rbuf_t rb;
	uint16_t op;
	if (c->state == PT_TFTP_CLIENT_FAILED)
		return false;
	pt_rbuf_init(&rb, pkt, len);
	if (pt_rbuf_get_u16(&rb, &op) != PT_OK) {
		c->ignored++;
		return c->pending != PT_TFTP_CLIENT_SEND_NONE;
	}
	switch (op) {
	case PT_TFTP_DATA:
		on_data(c, &rb, now_ms);
		break;
	case PT_TFTP_OACK:
		if (c->state == PT_TFTP_CLIENT_DONE)
			c->ignored++;
		else
			on_oack(c, &rb, now_ms);
		break;
	case PT_TFTP_ERROR:
		if (c->state == PT_TFTP_CLIENT_DONE)
			c->ignored++;
		else
			on_error(c, &rb, now_ms);
		break;
	default:
		c->ignored++;
		break;
	}
	return c->pending != PT_TFTP_CLIENT_SEND_NONE;
}

bool pt_tftp_client_on_timeout(pt_tftp_client_t *c, int64_t now_ms)
{
	if (c->state != PT_TFTP_CLIENT_REQUESTING &&
	    c->state != PT_TFTP_CLIENT_RECEIVING)
		return false;
	if (c->retries >= c->opts.max_retries) {
		if (c->state == PT_TFTP_CLIENT_REQUESTING)
			set_why(c, "no answer to the request after %u tries",
				c->retries + 1);
		else
			set_why(c, "no block after %llu within %u tries",
				(unsigned long long)c->received,
				c->retries + 1);
		/* An ERROR tells a server that is still there to stop. */
		fail(c, PT_ESYS(ETIMEDOUT),
		     c->state == PT_TFTP_CLIENT_RECEIVING ? PT_TFTP_E_UNDEFINED
							  : -1,
		     "timed out");
		return c->pending != PT_TFTP_CLIENT_SEND_NONE;
	}
	c->retries++;
	c->retransmits++;
	c->deadline_ms = now_ms + c->retry_ms;
	if (c->state == PT_TFTP_CLIENT_REQUESTING) {
		c->pending = PT_TFTP_CLIENT_SEND_RRQ;
	} else {
		send_ack(c, c->received);
		c->answered_disorder = false;
	}
	return true;
}

int pt_tftp_client_get_data(pt_tftp_client_t *c, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (c->state != PT_TFTP_CLIENT_DONE || c->taken)
		return PT_ERR_INVALID;
	if (!c->data && !grow(c, 1))
		return PT_ERR_NOMEM;
	*out = c->data;
	*len = c->len;
	c->taken = true;
	c->data = NULL;
	c->len = c->cap = 0;
	return PT_OK;
}
