#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_fixtures.h"
#include "lib/errors.h"
#include "lib/legacy_text.h"
#include "pt_test.h"

/* Every event as one text line, raw bytes in hex. */
typedef struct evlog {
	char *text;
	size_t len;
	size_t count;
	int stop_at; /* return -42 from the n-th event (0: never) */
} evlog_t;

static void add(evlog_t *l, const char *s)
{
	size_t n = strlen(s);
	l->text = realloc(l->text, l->len + n + 1);
	ck_assert_ptr_nonnull(l->text);
	memcpy(l->text + l->len, s, n + 1);
	l->len += n;
}

static int on_event(void *arg, const pt_legacy_event_t *ev)
{
	evlog_t *l = arg;
	char *hex = malloc(2 * ev->raw_len + 1), *s;
	fx_hex(ev->raw, ev->raw_len, hex);
	switch (ev->kind) {
	case PT_LEGACY_EV_SECTION:
		s = fx_fmt("%u S [%s]", ev->line, ev->name);
		break;
	case PT_LEGACY_EV_KEY:
		s = fx_fmt("%u K <%s>=<%s>", ev->line, ev->key, ev->value);
		break;
	case PT_LEGACY_EV_OTHER:
		s = fx_fmt("%u O", ev->line);
		break;
	default:
		s = fx_fmt("%u E %s", ev->line, ev->reason);
		ck_assert_ptr_nonnull(ev->why);
		break;
	}
	add(l, s);
	free(s);
	s = fx_fmt(" %s%s\n", ev->raw_len > 64 ? "(long)" : hex,
		   ev->raw_truncated ? " T" : "");
	add(l, s);
	free(s);
	free(hex);
	l->count++;
	return l->stop_at && (int)l->count == l->stop_at ? -42 : 0;
}

static char *run_chunks(const char *text, size_t n, size_t chunk)
{
	evlog_t l = {0};
	pt_legacy_text_t *t = NULL;
	ck_assert_int_eq(pt_legacy_text_new(on_event, &l, &t), PT_OK);
	for (size_t off = 0; off < n; off += chunk)
		ck_assert_int_eq(pt_legacy_text_feed(t, text + off,
						     n - off < chunk ? n - off
								     : chunk),
				 PT_OK);
	ck_assert_int_eq(pt_legacy_text_finish(t), PT_OK);
	ck_assert_int_eq(pt_legacy_text_feed(t, "x", 1), PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_text_finish(t), PT_ERR_INVALID);
	pt_legacy_text_destroy(&t);
	ck_assert_ptr_null(t);
	pt_legacy_text_destroy(NULL);
	if (!l.text)
		l.text = strdup("");
	return l.text;
}

static char *run(const char *text, size_t n)
{
	return run_chunks(text, n, n ? n : 1);
}

static void expect(const char *text, const char *want)
{
	char *got = run(text, strlen(text));
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(lines_and_endings)
{
	/* CR LF, lone LF, a last line without an ending. */
	expect("A=1\r\nB=2\nC=3",
	       "1 K <A>=<1> 413d310d0a\n2 K <B>=<2> 423d320a\n"
	       "3 K <C>=<3> 433d33\n");
	/* A CR at the very end is a cut CR LF; a lone CR inside a line is
	 * text. */
	expect("A=1\r", "1 K <A>=<1> 413d310d\n");
	expect("A=x\ry\n", "1 K <A>=<x\ry> 413d780d790a\n");
	/* Nothing in, nothing out; an empty last line is no line. */
	expect("", "");
	expect("\n", "1 O 0a\n");
	expect("\r\n\r\n", "1 O 0d0a\n2 O 0d0a\n");
}
END_TEST

START_TEST(bom_only_at_the_start)
{
	expect("\xef\xbb\xbf"
	       "A=1\n",
	       "1 K <A>=<1> 413d310a\n");
	/* Later it is text (Windows-1252: "ï»¿"). */
	expect("A=1\n\xef\xbb\xbf"
	       "B=2\n",
	       "1 K <A>=<1> 413d310a\n"
	       "2 K <\xc3\xaf\xc2\xbb\xc2\xbf"
	       "B>=<2> efbbbf423d320a\n");
	/* A file that is a BOM prefix only, or a BOM only. */
	expect("\xef\xbb", "1 E syntax efbb\n");
	expect("\xef\xbb\xbf", "");
	expect("\xef"
	       "A=1",
	       "1 K <\xc3\xaf"
	       "A>=<1> ef413d31\n");
}
END_TEST

START_TEST(comments_sections_and_keys)
{
	expect("; comment\n  # also\n \t \n[Service]\n  [ Odd name ] ; note\n"
	       "[Empty]#c\n[]\n",
	       "1 O 3b20636f6d6d656e740a\n2 O 20202320616c736f0a\n"
	       "3 O 2009200a\n"
	       "4 S [Service] 5b536572766963655d0a\n"
	       "5 S [ Odd name ] 20205b204f6464206e616d65205d203b206e6f74650a\n"
	       "6 S [Empty] 5b456d7074795d23630a\n"
	       "7 S [] 5b5d0a\n");
	expect("  Key  =  Some value  \nK=a;b\nK=a ;b\nK=a\t;b\nK= ;b\nK=\n"
	       "K==x\n",
	       "1 K <Key>=<Some value> 20204b657920203d2020536f6d652076616c756520200a\n"
	       "2 K <K>=<a;b> 4b3d613b620a\n3 K <K>=<a> 4b3d61203b620a\n"
	       "4 K <K>=<a> 4b3d61093b620a\n5 K <K>=<> 4b3d203b620a\n"
	       "6 K <K>=<> 4b3d0a\n7 K <K>=<=x> 4b3d3d780a\n");
	expect("no equals\n=v\n [x\n[x] y\n",
	       "1 E syntax 6e6f20657175616c730a\n2 E syntax 3d760a\n"
	       "3 E syntax 205b780a\n4 E syntax 5b785d20790a\n");
}
END_TEST

START_TEST(nul_byte_is_an_error_for_its_line)
{
	static const char text[] = "A=b\0c\nB=1\n";
	char *got = run(text, sizeof text - 1);
	ck_assert_str_eq(got, "1 E nul-byte 413d6200630a\n2 K <B>=<1> "
			      "423d310a\n");
	free(got);
}
END_TEST

START_TEST(windows_1252)
{
	uint8_t in[128];
	char out[3 * 128 + 1];
	for (int i = 0; i < 128; i++)
		in[i] = (uint8_t)(0x80 + i);
	size_t n = pt_legacy_text_decode_cp1252(in, 128, out);
	ck_assert_uint_eq(strlen(out), n);
	/* 0x80 euro, 0x81 undefined (C1), 0x9f Y diaeresis, 0xa0 no-break
	 * space, 0xe9 e acute, 0xff y diaeresis. */
	ck_assert_mem_eq(out, "\xe2\x82\xac\xc2\x81\xe2\x80\x9a", 8);
	char one[8];
	uint8_t b;
	static const struct {
		uint8_t in;
		const char *out;
	} cases[] = {
		{0x8d, "\xc2\x8d"}, {0x8f, "\xc2\x8f"}, {0x90, "\xc2\x90"},
		{0x9d, "\xc2\x9d"}, {0x9f, "\xc5\xb8"}, {0x99, "\xe2\x84\xa2"},
		{0xa0, "\xc2\xa0"}, {0xe9, "\xc3\xa9"}, {0xff, "\xc3\xbf"},
		{0x41, "A"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		b = cases[i].in;
		pt_legacy_text_decode_cp1252(&b, 1, one);
		ck_assert_str_eq(one, cases[i].out);
	}
	/* Every byte 0x80-0xff becomes one valid UTF-8 character. */
	for (int i = 0x80; i <= 0xff; i++) {
		b = (uint8_t)i;
		size_t k = pt_legacy_text_decode_cp1252(&b, 1, one);
		ck_assert(k == 2 || k == 3);
		ck_assert((one[0] & 0xe0) == 0xc0 || (one[0] & 0xf0) == 0xe0);
	}
	expect("Description=Caf\xe9 \x80\n",
	       "1 K <Description>=<Caf\xc3\xa9 \xe2\x82\xac> "
	       "4465736372697074696f6e3d436166e920800a\n");
}
END_TEST

START_TEST(long_lines_are_errors_for_their_line_only)
{
	size_t max = PT_LEGACY_LINE_MAX;
	char *text = malloc(5 * max);
	size_t n = 0;
	/* Exactly the limit (with CR LF), one over (LF), far over, and a
	 * last line over the limit without an ending. */
	text[n++] = 'A';
	text[n++] = '=';
	memset(text + n, 'a', max - 2);
	n += max - 2;
	memcpy(text + n, "\r\nB=", 4);
	n += 4;
	memset(text + n, 'b', max - 1);
	n += max - 1;
	text[n++] = '\n';
	memset(text + n, 'c', max + 100);
	n += max + 100;
	memcpy(text + n, "\r\nD=4\r\n", 7);
	n += 7;
	memset(text + n, 'e', max + 1);
	n += max + 1;
	const char *want = "1 K (long)\n2 E line-too-long (long) T\n"
			   "3 E line-too-long (long) T\n4 K <D>=<4> 443d340d0a\n"
			   "5 E line-too-long (long) T\n";
	size_t chunks[] = {n, 1, 7, 4096, max - 1, max, max + 1, max + 2};
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		char *got = run_chunks(text, n, chunks[i]);
		/* Key lines are printed long: strip their key/value. */
		char *w = got;
		for (char *p = got; *p;) {
			char *eol = strchr(p, '\n');
			if (strncmp(p, "1 K <A>", 7) == 0) {
				ck_assert_uint_eq(
					(size_t)(strchr(p, '>') - p), 6);
				memcpy(w, "1 K (long)\n", 11);
				w += 11;
			} else {
				memmove(w, p, (size_t)(eol - p) + 1);
				w += eol - p + 1;
			}
			p = eol + 1;
		}
		*w = '\0';
		ck_assert_msg(strcmp(got, want) == 0, "chunk %zu: %s",
			      chunks[i], got);
		free(got);
	}
	free(text);
}
END_TEST

/* The raw bytes and the value of a line just at the limit. */
static size_t long_value;
static size_t long_raw;
static bool long_trunc;
static int on_long(void *arg, const pt_legacy_event_t *ev)
{
	(void)arg;
	long_raw = ev->raw_len;
	long_trunc = ev->raw_truncated;
	long_value = ev->kind == PT_LEGACY_EV_KEY ? strlen(ev->value) : 0;
	return 0;
}

START_TEST(raw_bytes_of_long_lines)
{
	size_t max = PT_LEGACY_LINE_MAX;
	char *text = malloc(2 * max);
	pt_legacy_text_t *t = NULL;
	memcpy(text, "V=", 2);
	memset(text + 2, 'v', max - 2);
	memcpy(text + max, "\r\n", 2);
	ck_assert_int_eq(pt_legacy_text_new(on_long, NULL, &t), PT_OK);
	ck_assert_int_eq(pt_legacy_text_feed(t, text, max + 2), PT_OK);
	ck_assert_uint_eq(long_raw, max + 2);
	ck_assert(!long_trunc);
	ck_assert_uint_eq(long_value, max - 2);
	/* Over the limit: the first PT_LEGACY_LINE_MAX bytes, marked. */
	memset(text + max, 'v', 100);
	text[max + 100] = '\n';
	ck_assert_int_eq(pt_legacy_text_feed(t, text, max + 101), PT_OK);
	ck_assert_uint_eq(long_raw, max);
	ck_assert(long_trunc);
	ck_assert_uint_eq(pt_legacy_text_lines(t), 2);
	pt_legacy_text_destroy(&t);
	free(text);
}
END_TEST

START_TEST(every_split_gives_the_same_events)
{
	static const char text[] =
		"\xef\xbb\xbf; header\r\nVersion=1\n\r\n[SEP000000000001]\r\n"
		"Description = B\xfcro \x93x\x94 ;c\r\n  # note\r\n"
		"bad line\r\nK=\r\n[x] y\r\nA=1\r";
	size_t n = sizeof text - 1;
	char *whole = run(text, n);
	for (size_t cut = 0; cut <= n; cut++) {
		evlog_t l = {0};
		pt_legacy_text_t *t = NULL;
		ck_assert_int_eq(pt_legacy_text_new(on_event, &l, &t), PT_OK);
		ck_assert_int_eq(pt_legacy_text_feed(t, text, cut), PT_OK);
		ck_assert_int_eq(pt_legacy_text_feed(t, text + cut, n - cut),
				 PT_OK);
		ck_assert_int_eq(pt_legacy_text_finish(t), PT_OK);
		pt_legacy_text_destroy(&t);
		ck_assert_msg(strcmp(l.text, whole) == 0, "cut at %zu", cut);
		free(l.text);
	}
	char *bytes = run_chunks(text, n, 1);
	ck_assert_str_eq(bytes, whole);
	free(bytes);
	free(whole);
}
END_TEST

START_TEST(callback_value_stops_the_reader)
{
	evlog_t l = {0};
	l.stop_at = 2;
	pt_legacy_text_t *t = NULL;
	ck_assert_int_eq(pt_legacy_text_new(on_event, &l, &t), PT_OK);
	ck_assert_int_eq(pt_legacy_text_feed(t, "A=1\nB=2\nC=3\n", 12), -42);
	ck_assert_uint_eq(l.count, 2);
	ck_assert_int_eq(pt_legacy_text_feed(t, "D=4\n", 4), -42);
	ck_assert_int_eq(pt_legacy_text_finish(t), -42);
	ck_assert_uint_eq(l.count, 2);
	pt_legacy_text_destroy(&t);
	free(l.text);
}
END_TEST

Suite *legacy_text_suite(void);
Suite *legacy_text_suite(void)
{
	Suite *s = suite_create("legacy_text");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, lines_and_endings);
	tcase_add_test(tc, bom_only_at_the_start);
	tcase_add_test(tc, comments_sections_and_keys);
	tcase_add_test(tc, nul_byte_is_an_error_for_its_line);
	tcase_add_test(tc, windows_1252);
	tcase_add_test(tc, long_lines_are_errors_for_their_line_only);
	tcase_add_test(tc, raw_bytes_of_long_lines);
	tcase_add_test(tc, every_split_gives_the_same_events);
	tcase_add_test(tc, callback_value_stops_the_reader);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(legacy_text_suite());
}
