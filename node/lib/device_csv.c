#include "lib/device_csv.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/names.h"

#define CELL_ABSENT UINT32_MAX

/* libcsv buffers a whole field before handing it over; refusing to grow
 * its buffer past this bound keeps one absurd field from taking memory in
 * proportion to the file.  Fields between PT_DEVICE_CSV_MAX_FIELD and this
 * bound are reported like any other overlong field. */
#define ENTRY_BUF_CAP (64u * 1024u)

static const char *const column_names[PT_CSV_COL_COUNT] = {
	"name",		"description", "model",	   "protocol",
	"security_profile", "operation", "auth_mode", "auth_string",
	"key_size",	"key_type",    "ec_curve",  "completes_by",
};

static const char known_columns[] =
	"name, description, model, protocol, security_profile, operation, "
	"auth_mode, auth_string, key_size, key_type, ec_curve, completes_by";

struct parse {
	pt_device_csv_t *csv;
	int map[PT_DEVICE_CSV_MAX_COLUMNS]; /* file column -> pt_csv_col_t */
	size_t header_cols;
	bool in_header;
	uint32_t line;     /* physical line being fed */
	bool row_open;     /* a row has begun and not yet ended */
	size_t nfields;    /* fields seen in the current row */
	bool all_empty;
	pt_csv_row_t cur;
	bool stop;
	int error;         /* PT_ERR_NOMEM once an allocation failed */
};

const char *pt_device_csv_column_name(pt_csv_col_t col)
{
	if ((unsigned)col >= PT_CSV_COL_COUNT)
		return NULL;
	return column_names[col];
}

const char *pt_device_csv_cell(const pt_device_csv_t *csv,
			       const pt_csv_row_t *row, pt_csv_col_t col)
{
	if ((unsigned)col >= PT_CSV_COL_COUNT || !csv->has[col])
		return NULL;
	if (row->cell[col] == CELL_ABSENT)
		return "";
	return csv->arena + row->cell[col];
}

static int add_issue_v(pt_device_csv_t *csv, uint32_t line,
		       const char *column, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static int add_issue_v(pt_device_csv_t *csv, uint32_t line,
		       const char *column, const char *fmt, va_list ap)
{
	if (csv->nissues == csv->issues_cap) {
		size_t cap = csv->issues_cap ? csv->issues_cap * 2 : 16;
		pt_csv_issue_t *grown =
			realloc(csv->issues, cap * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		csv->issues = grown;
		csv->issues_cap = cap;
	}
	char *reason = NULL;
	if (vasprintf(&reason, fmt, ap) < 0)
		return PT_ERR_NOMEM;
	csv->issues[csv->nissues++] =
		(pt_csv_issue_t){.line = line, .column = column,
				 .reason = reason, .seq = csv->nissues};
	return PT_OK;
}

int pt_device_csv_add_issue(pt_device_csv_t *csv, pt_csv_row_t *row,
			    const char *column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = add_issue_v(csv, row ? row->line : 0, column, fmt, ap);
	va_end(ap);
	if (r == PT_OK && row && !row->bad) {
		row->bad = true;
		csv->nbad++;
	}
	return r;
}

static int by_line(const void *a, const void *b)
{
	const pt_csv_issue_t *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void pt_device_csv_sort_issues(pt_device_csv_t *csv)
{
	if (csv->nissues > 1)
		qsort(csv->issues, csv->nissues, sizeof *csv->issues, by_line);
}

void pt_device_csv_destroy(pt_device_csv_t **csv)
{
	if (!csv || !*csv)
		return;
	for (size_t i = 0; i < (*csv)->nissues; i++)
		free((*csv)->issues[i].reason);
	free((*csv)->issues);
	free((*csv)->rows);
	free((*csv)->arena);
	free(*csv);
	*csv = NULL;
}

/* Problem with the row being parsed (or the header, which is fatal). */
static void issue(struct parse *p, const char *column, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void issue(struct parse *p, const char *column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	uint32_t line = p->row_open ? p->cur.line : p->line;
	int r = add_issue_v(p->csv, line, column, fmt, ap);
	va_end(ap);
	if (r != PT_OK) {
		p->error = r;
		p->stop = true;
		return;
	}
	if (p->in_header) {
		p->csv->fatal = true;
		p->stop = true;
	} else if (!p->cur.bad) {
		p->cur.bad = true;
		p->csv->nbad++;
	}
}

static void reset_row(struct parse *p)
{
	p->row_open = false;
	p->nfields = 0;
	p->all_empty = true;
	memset(&p->cur, 0, sizeof p->cur);
	for (size_t i = 0; i < PT_CSV_COL_COUNT; i++)
		p->cur.cell[i] = CELL_ABSENT;
}

static int arena_add(pt_device_csv_t *csv, const char *s, size_t len,
		     uint32_t *off)
{
	if (csv->arena_len + len + 1 > csv->arena_cap) {
		size_t cap = csv->arena_cap ? csv->arena_cap : 4096;
		while (cap < csv->arena_len + len + 1)
			cap *= 2;
		if (cap >= CELL_ABSENT)
			return PT_ERR_TOO_LARGE;
		char *grown = realloc(csv->arena, cap);
		if (!grown)
			return PT_ERR_NOMEM;
		csv->arena = grown;
		csv->arena_cap = cap;
	}
	*off = (uint32_t)csv->arena_len;
	memcpy(csv->arena + csv->arena_len, s, len);
	csv->arena[csv->arena_len + len] = '\0';
	csv->arena_len += len + 1;
	return PT_OK;
}

/* The header text may be anything; show at most 40 printable bytes. */
static void printable(const char *s, size_t len, char *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 4 < cap && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (len > 40 && n + 4 < cap) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static void header_field(struct parse *p, const char *s, size_t len)
{
	size_t idx = p->nfields - 1;
	char shown[64];
	if (idx >= PT_DEVICE_CSV_MAX_COLUMNS) {
		issue(p, "header", "more than %u columns",
		      PT_DEVICE_CSV_MAX_COLUMNS);
		return;
	}
	for (int c = 0; c < PT_CSV_COL_COUNT; c++) {
		if (strlen(column_names[c]) != len ||
		    strncasecmp(column_names[c], s, len) != 0)
			continue;
		if (p->csv->has[c]) {
			issue(p, "header", "column '%s' appears twice",
			      column_names[c]);
			return;
		}
		p->csv->has[c] = true;
		p->map[idx] = c;
		return;
	}
	printable(s, len, shown, sizeof shown);
	if (len == 0)
		issue(p, "header", "empty column name (known: %s)",
		      known_columns);
	else
		issue(p, "header", "unknown column '%s' (known: %s)", shown,
		      known_columns);
}

static void on_field(void *field, size_t len, void *ctx)
{
	struct parse *p = ctx;
	const char *s = field ? field : "";
	if (p->stop)
		return;
	p->nfields++;
	if (p->in_header) {
		header_field(p, s, len);
		return;
	}
	if (len > 0)
		p->all_empty = false;
	if (p->nfields > p->header_cols)
		return; /* counted; reported when the row ends */
	pt_csv_col_t col = (pt_csv_col_t)p->map[p->nfields - 1];
	if (len > PT_DEVICE_CSV_MAX_FIELD) {
		issue(p, column_names[col], "longer than %u bytes",
		      PT_DEVICE_CSV_MAX_FIELD);
		return;
	}
	if (memchr(s, '\0', len)) {
		issue(p, column_names[col], "contains a NUL byte");
		return;
	}
	int r = arena_add(p->csv, s, len, &p->cur.cell[col]);
	if (r != PT_OK) {
		p->error = r;
		p->stop = true;
	}
}

static bool append_row(struct parse *p)
{
	pt_device_csv_t *csv = p->csv;
	if (csv->nrows == csv->rows_cap) {
		size_t cap = csv->rows_cap ? csv->rows_cap * 2 : 256;
		pt_csv_row_t *grown = realloc(csv->rows, cap * sizeof *grown);
		if (!grown) {
			p->error = PT_ERR_NOMEM;
			p->stop = true;
			return false;
		}
		csv->rows = grown;
		csv->rows_cap = cap;
	}
	csv->rows[csv->nrows++] = p->cur;
	return true;
}

static void on_row(int term, void *ctx)
{
	struct parse *p = ctx;
	(void)term;
	if (p->stop)
		return;
	if (p->in_header) {
		p->header_cols = p->nfields;
		p->in_header = false;
		if (!p->csv->has[PT_CSV_COL_NAME]) {
			p->in_header = true; /* makes the issue fatal */
			issue(p, "header", "no 'name' column");
			return;
		}
		reset_row(p);
		return;
	}
	if (p->all_empty && !p->cur.bad) {
		reset_row(p);
		return;
	}
	if (p->nfields != p->header_cols)
		issue(p, NULL, "row has %zu fields; the header has %zu",
		      p->nfields, p->header_cols);
	if (p->csv->nrows >= PT_DEVICE_CSV_MAX_ROWS) {
		p->in_header = true; /* fatal from here on */
		issue(p, NULL, "more than %u rows; split the file",
		      PT_DEVICE_CSV_MAX_ROWS);
		return;
	}
	if (append_row(p))
		reset_row(p);
}

static void *capped_realloc(void *ptr, size_t size)
{
	if (size > ENTRY_BUF_CAP)
		return NULL;
	return realloc(ptr, size);
}

static void parser_init(struct csv_parser *parser)
{
	csv_init(parser, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_realloc_func(parser, capped_realloc);
}

static bool blank(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* After a libcsv error the rest of the physical line is skipped and a
 * fresh parser takes over at the next one, so later rows still get
 * checked. */
static void recover(struct parse *p, struct csv_parser *parser, int err)
{
	if (err == CSV_ENOMEM &&
	    csv_get_buffer_size(parser) + parser->blk_size <= ENTRY_BUF_CAP) {
		p->error = PT_ERR_NOMEM;
		p->stop = true;
		return;
	}
	if (err == CSV_ENOMEM)
		issue(p, NULL, "a field is longer than %u bytes",
		      PT_DEVICE_CSV_MAX_FIELD);
	else
		issue(p, NULL, "malformed quoting (a quote inside an unquoted "
			       "field, text after a closing quote, or an "
			       "unclosed quote)");
	if (!p->stop && !p->in_header && append_row(p))
		reset_row(p);
	csv_free(parser);
	parser_init(parser);
}

int pt_device_csv_parse(const void *data, size_t len, pt_device_csv_t **out)
{
	const unsigned char *s = data;
	struct csv_parser parser;
	struct parse p = {0};
	size_t pos = 0;

	*out = NULL;
	if (len > PT_DEVICE_CSV_MAX_BYTES)
		return PT_ERR_TOO_LARGE;
	if (!(p.csv = calloc(1, sizeof *p.csv)))
		return PT_ERR_NOMEM;
	p.in_header = true;
	p.line = 1;
	reset_row(&p);
	parser_init(&parser);
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		pos = 3;

	/* Feeding one physical line at a time tells us which line each row
	 * begins on; libcsv keeps its state across the pieces. */
	while (pos < len && !p.stop) {
		size_t end = pos;
		while (end < len && s[end] != '\n' && s[end] != '\r')
			end++;
		bool terminated = end < len;
		if (terminated)
			end += s[end] == '\r' && end + 1 < len &&
					       s[end + 1] == '\n'
				       ? 2
				       : 1;
		if (!p.row_open && !blank(s + pos, end - pos)) {
			p.row_open = true;
			p.cur.line = p.line;
		}
		size_t n = csv_parse(&parser, s + pos, end - pos, on_field,
				     on_row, &p);
		if (n != end - pos && !p.stop)
			recover(&p, &parser, csv_error(&parser));
		pos = end;
		if (terminated && p.line < UINT32_MAX)
			p.line++;
	}
	if (!p.stop && csv_fini(&parser, on_field, on_row, &p) != 0 &&
	    !p.stop) {
		recover(&p, &parser, csv_error(&parser));
	}
	csv_free(&parser);
	if (!p.stop && p.in_header && !p.csv->fatal) {
		p.row_open = false;
		p.line = 0;
		issue(&p, "header", "the file is empty (no header row)");
	}
	if (p.error != PT_OK) {
		pt_device_csv_destroy(&p.csv);
		return p.error;
	}
	*out = p.csv;
	return PT_OK;
}

static int key_refuse(pt_device_error_t *err, const char *field,
		      const char *reason)
{
	err->field = field;
	snprintf(err->reason, sizeof err->reason, "%s", reason);
	return PT_ERR_INVALID;
}

int pt_device_csv_key_input(const char *key_type, const char *key_size,
			    const char *ec_curve, pt_device_input_t *in,
			    pt_device_error_t *err)
{
	bool has_size = key_size && *key_size;
	bool has_curve = ec_curve && *ec_curve;
	Pt__KeyType type = PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED;

	if (key_type && *key_type &&
	    (pt_key_type_parse(key_type, &type) != PT_OK ||
	     type == PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED))
		return key_refuse(err, "key_type",
				  "the key type must be rsa or ec");
	if (has_size && has_curve)
		return key_refuse(err, "key_size",
				  "give key_size (RSA) or ec_curve (EC), not "
				  "both");
	if (has_size && type == PT__KEY_TYPE__KEY_TYPE_EC)
		return key_refuse(err, "key_size",
				  "a key size is for RSA keys; key_type is ec "
				  "(give ec_curve)");
	if (has_curve && type == PT__KEY_TYPE__KEY_TYPE_RSA)
		return key_refuse(err, "ec_curve",
				  "an EC curve needs key type ec");

	if (key_size) {
		in->key_size = key_size;
		in->key_type = has_size ? "rsa" : "";
		in->ec_curve = "";
	}
	if (ec_curve) {
		in->ec_curve = ec_curve;
		in->key_type = has_curve ? "ec" : "";
	}
	if (key_type) {
		in->key_type = key_type;
		/* A curve kept from an earlier EC setting would contradict
		 * rsa. */
		if (type == PT__KEY_TYPE__KEY_TYPE_RSA)
			in->ec_curve = "";
	}
	return PT_OK;
}

int pt_device_csv_row_input(const pt_device_csv_t *csv,
			    const pt_csv_row_t *row, pt_device_input_t *in,
			    pt_device_error_t *err)
{
	const char *v[PT_CSV_COL_COUNT];
	for (int c = 0; c < PT_CSV_COL_COUNT; c++) {
		v[c] = pt_device_csv_cell(csv, row, (pt_csv_col_t)c);
		if (v[c] && !*v[c] && c != PT_CSV_COL_NAME)
			v[c] = NULL;
	}
	*in = (pt_device_input_t){
		.name = v[PT_CSV_COL_NAME],
		.description = v[PT_CSV_COL_DESCRIPTION],
		.model = v[PT_CSV_COL_MODEL],
		.protocol = v[PT_CSV_COL_PROTOCOL],
		.security_profile = v[PT_CSV_COL_SECURITY_PROFILE],
		.operation = v[PT_CSV_COL_OPERATION],
		.auth_mode = v[PT_CSV_COL_AUTH_MODE],
		.auth_string = v[PT_CSV_COL_AUTH_STRING],
		.completes_by = v[PT_CSV_COL_COMPLETES_BY],
	};
	return pt_device_csv_key_input(v[PT_CSV_COL_KEY_TYPE],
				       v[PT_CSV_COL_KEY_SIZE],
				       v[PT_CSV_COL_EC_CURVE], in, err);
}
