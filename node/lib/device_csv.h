/* Device CSV files for bulk import (pure, libcsv underneath).
 *
 * The first row names the columns: any subset of the known columns below,
 * in any order, each at most once.  Every other row is one device.  Quoted
 * fields, commas and line breaks inside quotes, CR LF line ends and a UTF-8
 * byte-order mark are accepted.  Blank lines and rows whose cells are all
 * empty are skipped.
 *
 * Problems are collected, not returned one at a time: each names the
 * physical line (1-based, the line where the row begins) and, when it
 * concerns one cell, the column.  A row with a problem is marked bad and
 * its cells are not to be used.  A problem with the header, too many rows,
 * or a file too large stops the parse ("fatal"); a broken row does not, so
 * one pass reports every broken row.
 */
#ifndef PT_LIB_DEVICE_CSV_H
#define PT_LIB_DEVICE_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/device_rules.h"

#define PT_DEVICE_CSV_MAX_BYTES (256u * 1024u * 1024u)
#define PT_DEVICE_CSV_MAX_ROWS 1000000u
#define PT_DEVICE_CSV_MAX_FIELD 1024u
#define PT_DEVICE_CSV_MAX_COLUMNS 64u

typedef enum pt_csv_col {
	PT_CSV_COL_NAME,
	PT_CSV_COL_DESCRIPTION,
	PT_CSV_COL_MODEL,
	PT_CSV_COL_PROTOCOL,
	PT_CSV_COL_SECURITY_PROFILE,
	PT_CSV_COL_OPERATION,
	PT_CSV_COL_AUTH_MODE,
	PT_CSV_COL_AUTH_STRING,
	PT_CSV_COL_KEY_SIZE,
	PT_CSV_COL_KEY_TYPE,
	PT_CSV_COL_EC_CURVE,
	PT_CSV_COL_COMPLETES_BY,
	PT_CSV_COL_COUNT,
} pt_csv_col_t;

/* The column's header spelling ("name", "auth_string", ...); NULL when col
 * is out of range. */
const char *pt_device_csv_column_name(pt_csv_col_t col);

typedef struct pt_csv_row {
	uint32_t line; /* physical line where the row begins */
	bool bad;      /* a problem was reported for this row */
	uint32_t cell[PT_CSV_COL_COUNT]; /* private: use pt_device_csv_cell */
} pt_csv_row_t;

typedef struct pt_csv_issue {
	uint32_t line;      /* 0 when about the whole file */
	const char *column; /* static column name, or NULL */
	char *reason;       /* owned by the pt_device_csv_t */
	size_t seq;         /* private: keeps the sort stable */
} pt_csv_issue_t;

typedef struct pt_device_csv {
	bool has[PT_CSV_COL_COUNT]; /* columns named by the header */
	pt_csv_row_t *rows;
	size_t nrows;               /* data rows kept, bad ones included */
	pt_csv_issue_t *issues;
	size_t nissues;
	size_t nbad;                /* rows marked bad */
	bool fatal;                 /* parsing stopped early */
	/* private */
	char *arena;
	size_t arena_len, arena_cap, rows_cap, issues_cap;
} pt_device_csv_t;

/* Parses len bytes (borrowed; need not be NUL-terminated).  On PT_OK *out
 * owns the result, problems included: check nissues.  Fails only with
 * PT_ERR_NOMEM (or PT_ERR_TOO_LARGE when len exceeds the byte cap, before
 * any work); *out is then NULL. */
int pt_device_csv_parse(const void *data, size_t len, pt_device_csv_t **out);
void pt_device_csv_destroy(pt_device_csv_t **csv);

/* The text of a cell: NULL when the file has no such column, "" for an
 * empty cell.  Valid until the pt_device_csv_t is destroyed. */
const char *pt_device_csv_cell(const pt_device_csv_t *csv,
			       const pt_csv_row_t *row, pt_csv_col_t col);

/* A row as device input: cells borrowed from csv, empty cells NULL (the
 * same as a missing column) except the name, the key columns mapped by
 * pt_device_csv_key_input().  PT_ERR_INVALID with *err filled when the
 * key columns contradict each other. */
int pt_device_csv_row_input(const pt_device_csv_t *csv,
			    const pt_csv_row_t *row, pt_device_input_t *in,
			    pt_device_error_t *err);

/* The key settings of a row, or of `capf op`'s options, into in (the
 * strings are borrowed; NULL = not given, "" = back to the profile's
 * default).  One meaning for both: key_size is an RSA key of that size
 * (key type rsa, no curve), ec_curve an EC key on that curve, key_type rsa
 * drops the curve, key_type ec keeps the stored curve or takes the
 * profile's.  Refused with PT_ERR_INVALID and *err (field = the column):
 * key_size with ec_curve or with key_type ec, ec_curve with key_type rsa,
 * a key_type other than rsa or ec.  Sizes and curves are checked by
 * pt_device_rules_build(). */
int pt_device_csv_key_input(const char *key_type, const char *key_size,
			    const char *ec_curve, pt_device_input_t *in,
			    pt_device_error_t *err);

/* Records a problem with row (marks it bad; row may be NULL for the whole
 * file).  Callers validating cells use it so that every problem ends in
 * one list.  PT_ERR_NOMEM on allocation failure. */
int pt_device_csv_add_issue(pt_device_csv_t *csv, pt_csv_row_t *row,
			    const char *column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Orders the problems by line (stable: same-line problems keep their
 * order). */
void pt_device_csv_sort_issues(pt_device_csv_t *csv);

#endif
