#include "lib/legacy_text.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/rbuf.h"

/* Code points of Windows-1252's 0x80-0x9F.  The five bytes the code page
 * leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) map to the C1 control of the
 * same value, as Windows' own MultiByteToWideChar does: the conversion
 * stays lossless and reversible, and since every field that must be text
 * refuses control characters, a record holding one is quarantined with its
 * verbatim bytes instead of being altered (U+FFFD would lose the byte,
 * dropping it would change the text without a trace). */
static const uint16_t cp1252_c1[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static const uint8_t bom[3] = {0xef, 0xbb, 0xbf};

struct pt_legacy_text {
	pt_legacy_text_cb cb;
	void *arg;
	/* The line being assembled across chunks: content, then the CR and
	 * LF that ended it.  At most PT_LEGACY_LINE_MAX + 2 bytes are kept;
	 * beyond that the line is overlong and only counted. */
	uint8_t *line;
	size_t line_len;
	bool overlong;
	/* Up to three first bytes held until they prove to be a BOM or not. */
	uint8_t start[3];
	size_t start_len;
	bool start_done;
	uint32_t lineno;
	char *scratch; /* UTF-8 of key and value: 3 * LINE_MAX + 2 */
	int stopped;   /* the callback's non-zero value, once it stops us */
	bool finished;
};

size_t pt_legacy_text_decode_cp1252(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		uint32_t cp;
		if (c < 0x80) {
			out[o++] = (char)c;
			continue;
		}
		cp = c < 0xa0 ? cp1252_c1[c - 0x80] : c;
		if (cp < 0x800) {
			out[o++] = (char)(0xc0 | (cp >> 6));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xe0 | (cp >> 12));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[o] = '\0';
	return o;
}

int pt_legacy_text_new(pt_legacy_text_cb cb, void *arg, pt_legacy_text_t **out)
{
	pt_legacy_text_t *t;

	*out = NULL;
	if (!(t = calloc(1, sizeof *t)))
		return PT_ERR_NOMEM;
	t->cb = cb;
	t->arg = arg;
	t->line = malloc(PT_LEGACY_LINE_MAX + 2);
	t->scratch = malloc(3 * (size_t)PT_LEGACY_LINE_MAX + 2);
	if (!t->line || !t->scratch) {
		pt_legacy_text_destroy(&t);
		return PT_ERR_NOMEM;
	}
	*out = t;
	return PT_OK;
}

void pt_legacy_text_destroy(pt_legacy_text_t **t)
{
	if (!t || !*t)
		return;
	/* The buffers may still hold a secret's line (an AuthString). */
	if ((*t)->line)
		OPENSSL_cleanse((*t)->line, PT_LEGACY_LINE_MAX + 2);
	if ((*t)->scratch)
		OPENSSL_cleanse((*t)->scratch, 3 * (size_t)PT_LEGACY_LINE_MAX + 2);
	free((*t)->line);
	free((*t)->scratch);
	free(*t);
	*t = NULL;
}

uint32_t pt_legacy_text_lines(const pt_legacy_text_t *t)
{
	return t->lineno;
}

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int emit(pt_legacy_text_t *t, pt_legacy_event_t *ev)
{
	int r = t->cb(t->arg, ev);
	if (r != 0)
		t->stopped = r;
	return r;
}

static int emit_error(pt_legacy_text_t *t, pt_legacy_event_t *ev,
		      const char *reason, const char *why)
{
	ev->kind = PT_LEGACY_EV_ERROR;
	ev->reason = reason;
	ev->why = why;
	return emit(t, ev);
}

/* Classifies one line: p holds its len bytes without the ending (a view
 * pt_rbuf handed out, so every index below stays under len). */
static int classify(pt_legacy_text_t *t, pt_legacy_event_t *ev,
		    const uint8_t *p, size_t len)
{
	size_t b = 0, e = len;

	if (memchr(p, '\0', len))
		return emit_error(t, ev, PT_LEGACY_R_NUL,
				  "the line holds a NUL byte");
	while (b < e && is_blank(p[b]))
		b++;
	if (b == e || p[b] == ';' || p[b] == '#') {
		ev->kind = PT_LEGACY_EV_OTHER;
		return emit(t, ev);
	}
	if (p[b] == '[') {
		const uint8_t *close = memchr(p + b + 1, ']', e - b - 1);
		size_t after, name_len;
		if (!close)
			return emit_error(t, ev, PT_LEGACY_R_SYNTAX,
					  "a section line lacks its ']'");
		name_len = (size_t)(close - (p + b + 1));
		after = (size_t)(close - p) + 1;
		while (after < e && is_blank(p[after]))
			after++;
		if (after < e && p[after] != ';' && p[after] != '#')
			return emit_error(t, ev, PT_LEGACY_R_SYNTAX,
					  "text follows a section's ']'");
		pt_legacy_text_decode_cp1252(p + b + 1, name_len, t->scratch);
		ev->kind = PT_LEGACY_EV_SECTION;
		ev->name = t->scratch;
		return emit(t, ev);
	}

	const uint8_t *eq = memchr(p + b, '=', e - b);
	size_t ke, vb, ve;
	if (!eq)
		return emit_error(t, ev, PT_LEGACY_R_SYNTAX,
				  "the line is neither [NAME] nor Key=Value");
	ke = (size_t)(eq - p);
	vb = ke + 1;
	while (ke > b && is_blank(p[ke - 1]))
		ke--;
	if (ke == b)
		return emit_error(t, ev, PT_LEGACY_R_SYNTAX,
				  "a Key=Value line has no key");
	/* A comment after the value starts at a ';' that follows a blank;
	 * the blank right after '=' counts, so "Key= ;x" is empty. */
	ve = e;
	for (size_t i = vb + 1; i < e; i++) {
		if (p[i] == ';' && is_blank(p[i - 1])) {
			ve = i;
			break;
		}
	}
	while (vb < ve && is_blank(p[vb]))
		vb++;
	while (ve > vb && is_blank(p[ve - 1]))
		ve--;
	size_t klen = pt_legacy_text_decode_cp1252(p + b, ke - b, t->scratch);
	char *value = t->scratch + klen + 1;
	pt_legacy_text_decode_cp1252(p + vb, ve - vb, value);
	ev->kind = PT_LEGACY_EV_KEY;
	ev->key = t->scratch;
	ev->value = value;
	return emit(t, ev);
}

/* One whole line: raw holds it as in the file with its ending (if any);
 * content_len excludes the ending. */
static int deliver(pt_legacy_text_t *t, const uint8_t *raw, size_t raw_len,
		   size_t content_len, bool overlong)
{
	pt_legacy_event_t ev;

	memset(&ev, 0, sizeof ev);
	if (t->lineno < UINT32_MAX)
		t->lineno++;
	ev.line = t->lineno;
	ev.raw = raw;
	ev.raw_len = raw_len;
	if (overlong || content_len > PT_LEGACY_LINE_MAX) {
		if (ev.raw_len > PT_LEGACY_LINE_MAX)
			ev.raw_len = PT_LEGACY_LINE_MAX;
		ev.raw_truncated = true;
		return emit_error(t, &ev, PT_LEGACY_R_LINE_TOO_LONG,
				  "the line is longer than 64 KiB");
	}
	return classify(t, &ev, raw, content_len);
}

/* The content length of a line whose kept bytes end in LF (or not, at the
 * end of input): a CR right before the end is part of the ending. */
static size_t content_of(const uint8_t *raw, size_t len, bool lf)
{
	if (lf)
		len--;
	if (len > 0 && raw[len - 1] == '\r')
		len--;
	return len;
}

static void hold(pt_legacy_text_t *t, const uint8_t *p, size_t n)
{
	size_t room = PT_LEGACY_LINE_MAX + 2 - t->line_len;
	if (n > room) {
		n = room;
		t->overlong = true;
	}
	memcpy(t->line + t->line_len, p, n);
	t->line_len += n;
}

/* Splits a chunk into lines; every byte is taken through one pt_rbuf. */
static int push(pt_legacy_text_t *t, const uint8_t *data, size_t len)
{
	pt_rbuf_t rb;

	pt_rbuf_init(&rb, data, len);
	while (pt_rbuf_remaining(&rb) > 0) {
		size_t n = pt_rbuf_remaining(&rb);
		const uint8_t *lf = memchr(rb.data + rb.pos, '\n', n);
		size_t take = lf ? (size_t)(lf - (rb.data + rb.pos)) + 1 : n;
		const uint8_t *p;
		int r;

		if (pt_rbuf_get_view(&rb, take, &p) != PT_OK)
			return PT_ERR_MALFORMED; /* cannot happen: take <= n */
		if (!lf) {
			hold(t, p, take);
			return PT_OK;
		}
		if (t->line_len == 0 && !t->overlong) {
			/* The whole line is in this chunk: no copy. */
			r = deliver(t, p, take, content_of(p, take, true),
				    false);
		} else {
			/* The LF always fits: a line cut off keeps its
			 * first bytes and is reported overlong anyway. */
			if (t->line_len == PT_LEGACY_LINE_MAX + 2)
				t->line_len--;
			hold(t, p, take);
			size_t clen = content_of(t->line, t->line_len, true);
			r = deliver(t, t->line, t->line_len, clen,
				    t->overlong);
			t->line_len = 0;
			t->overlong = false;
		}
		if (r != 0)
			return r;
	}
	return PT_OK;
}

int pt_legacy_text_feed(pt_legacy_text_t *t, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (t->stopped)
		return t->stopped;
	if (t->finished)
		return PT_ERR_INVALID;
	while (!t->start_done && len > 0) {
		t->start[t->start_len++] = *p++;
		len--;
		if (memcmp(t->start, bom, t->start_len) != 0) {
			t->start_done = true;
			int r = push(t, t->start, t->start_len);
			if (r != 0)
				return r;
		} else if (t->start_len == sizeof bom) {
			t->start_done = true; /* a BOM: dropped */
		}
	}
	if (len == 0)
		return PT_OK;
	return push(t, p, len);
}

int pt_legacy_text_finish(pt_legacy_text_t *t)
{
	int r;

	if (t->stopped)
		return t->stopped;
	if (t->finished)
		return PT_ERR_INVALID;
	t->finished = true;
	if (!t->start_done) {
		/* Fewer than three bytes, all a prefix of the BOM: they are
		 * text, not a BOM. */
		t->start_done = true;
		if ((r = push(t, t->start, t->start_len)) != 0)
			return r;
	}
	if (t->line_len == 0 && !t->overlong)
		return PT_OK;
	/* A last line without LF is complete; a CR at its end is taken as a
	 * cut CR LF. */
	size_t clen = content_of(t->line, t->line_len, false);
	r = deliver(t, t->line, t->line_len, clen, t->overlong);
	t->line_len = 0;
	t->overlong = false;
	return r;
}
