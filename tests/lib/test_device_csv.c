#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/device_csv.h"
#include "lib/errors.h"
#include "pt_test.h"

static pt_device_csv_t *parse(const char *text)
{
	pt_device_csv_t *csv = NULL;
	ck_assert_int_eq(pt_device_csv_parse(text, strlen(text), &csv), PT_OK);
	ck_assert_ptr_nonnull(csv);
	return csv;
}

static const char *cell(pt_device_csv_t *csv, size_t row, pt_csv_col_t col)
{
	ck_assert_uint_lt(row, csv->nrows);
	return pt_device_csv_cell(csv, &csv->rows[row], col);
}

/* True when some issue is on line with a reason containing text. */
static int has_issue(pt_device_csv_t *csv, uint32_t line, const char *column,
		     const char *text)
{
	for (size_t i = 0; i < csv->nissues; i++) {
		pt_csv_issue_t *is = &csv->issues[i];
		if (is->line == line && strstr(is->reason, text) &&
		    (!column || (is->column && strcmp(is->column, column) == 0)))
			return 1;
	}
	return 0;
}

START_TEST(header_subset_any_order)
{
	pt_device_csv_t *csv = parse("model,NAME,description\n"
				     "7975,SEP001122334455,lobby\n"
				     "8841,SEP001122334466,\n");
	ck_assert_uint_eq(csv->nissues, 0);
	ck_assert(!csv->fatal);
	ck_assert(csv->has[PT_CSV_COL_NAME] && csv->has[PT_CSV_COL_MODEL] &&
		  csv->has[PT_CSV_COL_DESCRIPTION]);
	ck_assert(!csv->has[PT_CSV_COL_AUTH_STRING]);
	ck_assert_uint_eq(csv->nrows, 2);
	ck_assert_str_eq(cell(csv, 0, PT_CSV_COL_NAME), "SEP001122334455");
	ck_assert_str_eq(cell(csv, 0, PT_CSV_COL_MODEL), "7975");
	ck_assert_str_eq(cell(csv, 0, PT_CSV_COL_DESCRIPTION), "lobby");
	ck_assert_str_eq(cell(csv, 1, PT_CSV_COL_DESCRIPTION), "");
	ck_assert_ptr_null(cell(csv, 1, PT_CSV_COL_AUTH_STRING));
	ck_assert_uint_eq(csv->rows[0].line, 2);
	ck_assert_uint_eq(csv->rows[1].line, 3);
	pt_device_csv_destroy(&csv);
	ck_assert_ptr_null(csv);
	pt_device_csv_destroy(NULL);
}
END_TEST

START_TEST(quotes_crlf_bom_and_line_numbers)
{
	pt_device_csv_t *csv = parse(
		"\xef\xbb\xbfname,description,key_size\r\n"
		"SEP000000000001,\"desk, second floor\",2048\r\n"
		"\r\n"
		"SEP000000000002,\"two\r\nlines \"\"quoted\"\"\",1024\r\n"
		"  \r\n"
		",,\r\n"
		"SEP000000000003,last,4096");
	ck_assert_uint_eq(csv->nissues, 0);
	ck_assert_uint_eq(csv->nrows, 3);
	ck_assert_str_eq(cell(csv, 0, PT_CSV_COL_DESCRIPTION),
			 "desk, second floor");
	ck_assert_str_eq(cell(csv, 1, PT_CSV_COL_DESCRIPTION),
			 "two\r\nlines \"quoted\"");
	ck_assert_str_eq(cell(csv, 2, PT_CSV_COL_KEY_SIZE), "4096");
	ck_assert_uint_eq(csv->rows[0].line, 2);
	ck_assert_uint_eq(csv->rows[1].line, 4);
	ck_assert_uint_eq(csv->rows[2].line, 8);
	pt_device_csv_destroy(&csv);
}
END_TEST

START_TEST(unknown_column_refuses_file)
{
	pt_device_csv_t *csv = parse("name,colour\nSEP000000000001,red\n");
	ck_assert(csv->fatal);
	ck_assert(has_issue(csv, 1, "header", "unknown column 'colour'"));
	ck_assert_uint_eq(csv->nrows, 0);
	pt_device_csv_destroy(&csv);
}
END_TEST

START_TEST(header_problems_are_fatal)
{
	pt_device_csv_t *csv = parse("name,model,Model\n");
	ck_assert(csv->fatal);
	ck_assert(has_issue(csv, 1, "header", "appears twice"));
	pt_device_csv_destroy(&csv);

	csv = parse("model,description\n7975,x\n");
	ck_assert(csv->fatal);
	ck_assert(has_issue(csv, 1, "header", "no 'name' column"));
	pt_device_csv_destroy(&csv);

	csv = parse("");
	ck_assert(csv->fatal);
	ck_assert(has_issue(csv, 0, "header", "empty"));
	pt_device_csv_destroy(&csv);

	csv = parse("\n\n  \n");
	ck_assert(csv->fatal);
	pt_device_csv_destroy(&csv);

	csv = parse("name,,model\n");
	ck_assert(csv->fatal);
	ck_assert(has_issue(csv, 1, "header", "empty column name"));
	pt_device_csv_destroy(&csv);

	/* A header line whose column name holds control bytes is shown
	 * without them. */
	csv = parse("name,\"a\x01" "b\"\n");
	ck_assert(csv->fatal);
	ck_assert(has_issue(csv, 1, "header", "'a?b'"));
	pt_device_csv_destroy(&csv);
}
END_TEST

START_TEST(bad_rows_are_all_reported)
{
	char *long_field = malloc(PT_DEVICE_CSV_MAX_FIELD + 2);
	memset(long_field, 'x', PT_DEVICE_CSV_MAX_FIELD + 1);
	long_field[PT_DEVICE_CSV_MAX_FIELD + 1] = '\0';
	char *text = NULL;
	ck_assert_int_ge(asprintf(&text,
				  "name,description\n"      /* 1 */
				  "SEP000000000001,ok\n"    /* 2 */
				  "SEP000000000002\n"       /* 3 few fields */
				  "SEP000000000003,a,b\n"   /* 4 too many */
				  "SEP000000000004,%s\n"    /* 5 too long */
				  "SEP0000000000\"05,x\n"   /* 6 bad quote */
				  "SEP000000000006,\"a\"b\n" /* 7 after quote */
				  "SEP000000000007,fine\n"  /* 8 */
				  "SEP000000000008,\"open\n", /* 9 unclosed */
				  long_field),
			 0);
	pt_device_csv_t *csv = parse(text);
	ck_assert(!csv->fatal);
	ck_assert(has_issue(csv, 3, NULL, "row has 1 fields; the header has 2"));
	ck_assert(has_issue(csv, 4, NULL, "row has 3 fields"));
	ck_assert(has_issue(csv, 5, "description", "longer than 1024 bytes"));
	ck_assert(has_issue(csv, 6, NULL, "malformed quoting"));
	ck_assert(has_issue(csv, 7, NULL, "malformed quoting"));
	ck_assert(has_issue(csv, 9, NULL, "malformed quoting"));
	ck_assert_uint_eq(csv->nissues, 6);
	ck_assert_uint_eq(csv->nbad, 6);
	size_t good = 0;
	for (size_t i = 0; i < csv->nrows; i++) {
		if (csv->rows[i].bad)
			continue;
		good++;
		ck_assert(csv->rows[i].line == 2 || csv->rows[i].line == 8);
	}
	ck_assert_uint_eq(good, 2);
	pt_device_csv_destroy(&csv);
	free(text);
	free(long_field);
}
END_TEST

/* A field far beyond the cap is refused without buffering it whole, and
 * parsing resumes on the next line. */
START_TEST(huge_field_recovers)
{
	size_t big = 200 * 1024;
	char *text = malloc(big + 128);
	char *p = text;
	p += sprintf(p, "name,description\nSEP000000000001,");
	memset(p, 'y', big);
	p += big;
	p += sprintf(p, "\nSEP000000000002,after\n");
	pt_device_csv_t *csv = NULL;
	ck_assert_int_eq(pt_device_csv_parse(text, (size_t)(p - text), &csv),
			 PT_OK);
	ck_assert(has_issue(csv, 2, NULL, "longer than 1024 bytes"));
	ck_assert_uint_eq(csv->nbad, 1);
	ck_assert_str_eq(cell(csv, csv->nrows - 1, PT_CSV_COL_NAME),
			 "SEP000000000002");
	ck_assert_uint_eq(csv->rows[csv->nrows - 1].line, 3);
	pt_device_csv_destroy(&csv);
	free(text);
}
END_TEST

START_TEST(nul_byte_in_field)
{
	static const char text[] = "name,model\nSEP000000000001,79\0"
				   "75\n";
	pt_device_csv_t *csv = NULL;
	ck_assert_int_eq(pt_device_csv_parse(text, sizeof text - 1, &csv),
			 PT_OK);
	ck_assert(has_issue(csv, 2, "model", "NUL byte"));
	pt_device_csv_destroy(&csv);
}
END_TEST

START_TEST(row_cap)
{
	size_t rows = PT_DEVICE_CSV_MAX_ROWS + 1;
	char *text = malloc(5 + rows * 2 + 1);
	memcpy(text, "name\n", 5);
	for (size_t i = 0; i < rows; i++)
		memcpy(text + 5 + 2 * i, "a\n", 2);
	pt_device_csv_t *csv = NULL;
	ck_assert_int_eq(pt_device_csv_parse(text, 5 + rows * 2, &csv), PT_OK);
	ck_assert(csv->fatal);
	ck_assert_uint_eq(csv->nrows, PT_DEVICE_CSV_MAX_ROWS);
	ck_assert(has_issue(csv, (uint32_t)rows + 1, NULL, "more than"));
	pt_device_csv_destroy(&csv);
	free(text);
}
END_TEST

START_TEST(byte_cap)
{
	pt_device_csv_t *csv = (pt_device_csv_t *)1;
	/* The length is refused before a byte is read. */
	ck_assert_int_eq(pt_device_csv_parse("name\n",
					     PT_DEVICE_CSV_MAX_BYTES + 1u, &csv),
			 PT_ERR_TOO_LARGE);
	ck_assert_ptr_null(csv);
}
END_TEST

START_TEST(issues_sort_by_line_stably)
{
	pt_device_csv_t *csv = parse("name,description\n"
				     "SEP000000000001,a\n"
				     "SEP000000000002\n");
	ck_assert_uint_eq(csv->nissues, 1);
	ck_assert_int_eq(pt_device_csv_add_issue(csv, &csv->rows[0], "model",
						 "first on line %d", 2),
			 PT_OK);
	ck_assert_int_eq(pt_device_csv_add_issue(csv, &csv->rows[0], "name",
						 "second on line 2"),
			 PT_OK);
	ck_assert_int_eq(pt_device_csv_add_issue(csv, NULL, NULL, "file"),
			 PT_OK);
	ck_assert(csv->rows[0].bad);
	ck_assert_uint_eq(csv->nbad, 2);
	pt_device_csv_sort_issues(csv);
	ck_assert_uint_eq(csv->issues[0].line, 0);
	ck_assert_str_eq(csv->issues[1].reason, "first on line 2");
	ck_assert_str_eq(csv->issues[2].reason, "second on line 2");
	ck_assert_uint_eq(csv->issues[3].line, 3);
	pt_device_csv_destroy(&csv);
}
END_TEST

START_TEST(column_names)
{
	ck_assert_str_eq(pt_device_csv_column_name(PT_CSV_COL_COMPLETES_BY),
			 "completes_by");
	ck_assert_ptr_null(pt_device_csv_column_name(PT_CSV_COL_COUNT));
}
END_TEST

/* The key columns mean what capf op's --key-size and --ec-curve mean. */
static void key_ok(const char *type, const char *size, const char *curve,
		   const char *want_type, const char *want_size,
		   const char *want_curve)
{
	pt_device_input_t in = {.name = "SEP001122334455"};
	pt_device_error_t err = {0};
	ck_assert_int_eq(pt_device_csv_key_input(type, size, curve, &in, &err),
			 PT_OK);
	const char *got[3] = {in.key_type, in.key_size, in.ec_curve};
	const char *want[3] = {want_type, want_size, want_curve};
	for (int i = 0; i < 3; i++) {
		if (!want[i])
			ck_assert_ptr_null(got[i]);
		else
			ck_assert_msg(got[i] && strcmp(got[i], want[i]) == 0,
				      "field %d: '%s', want '%s'", i,
				      got[i] ? got[i] : "(null)", want[i]);
	}
}

static void key_refused(const char *type, const char *size, const char *curve,
			const char *field, const char *reason)
{
	pt_device_input_t in = {.name = "SEP001122334455"};
	pt_device_error_t err = {0};
	ck_assert_int_eq(pt_device_csv_key_input(type, size, curve, &in, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, field);
	ck_assert_msg(strstr(err.reason, reason), "%s", err.reason);
	ck_assert_ptr_null(in.key_type);
	ck_assert_ptr_null(in.key_size);
	ck_assert_ptr_null(in.ec_curve);
}

START_TEST(key_columns)
{
	key_ok(NULL, NULL, NULL, NULL, NULL, NULL);
	key_ok(NULL, "3072", NULL, "rsa", "3072", "");
	key_ok(NULL, NULL, "384", "ec", NULL, "384");
	key_ok("ec", NULL, NULL, "ec", NULL, NULL);
	key_ok("ec", NULL, "521", "ec", NULL, "521");
	key_ok("rsa", NULL, NULL, "rsa", NULL, "");
	key_ok("rsa", "1024", NULL, "rsa", "1024", "");
	/* capf op's resets: back to the profile's key. */
	key_ok(NULL, "", NULL, "", "", "");
	key_ok(NULL, NULL, "", "", NULL, "");
	key_refused("ec", "2048", NULL, "key_size", "RSA keys");
	key_refused(NULL, "2048", "256", "key_size", "not both");
	key_refused("rsa", NULL, "256", "ec_curve", "needs key type ec");
	key_refused("dsa", NULL, NULL, "key_type", "rsa or ec");
}
END_TEST

START_TEST(row_input_empty_cells)
{
	pt_device_csv_t *csv = parse("name,operation,key_type,ec_curve,key_size\n"
				     "SEP001122334455,install,,256,\n"
				     "SEP001122334466,,ec,,4096\n");
	pt_device_input_t in;
	pt_device_error_t err = {0};
	ck_assert_int_eq(pt_device_csv_row_input(csv, &csv->rows[0], &in, &err),
			 PT_OK);
	ck_assert_str_eq(in.name, "SEP001122334455");
	ck_assert_str_eq(in.operation, "install");
	ck_assert_str_eq(in.key_type, "ec");
	ck_assert_str_eq(in.ec_curve, "256");
	ck_assert_ptr_null(in.key_size);
	ck_assert_ptr_null(in.description);
	ck_assert_int_eq(pt_device_csv_row_input(csv, &csv->rows[1], &in, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "key_size");
	pt_device_csv_destroy(&csv);
}
END_TEST

static Suite *csv_suite(void)
{
	Suite *s = suite_create("device_csv");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, header_subset_any_order);
	tcase_add_test(tc, quotes_crlf_bom_and_line_numbers);
	tcase_add_test(tc, column_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("problems");
	tcase_add_test(tc, unknown_column_refuses_file);
	tcase_add_test(tc, header_problems_are_fatal);
	tcase_add_test(tc, bad_rows_are_all_reported);
	tcase_add_test(tc, huge_field_recovers);
	tcase_add_test(tc, nul_byte_in_field);
	tcase_add_test(tc, issues_sort_by_line_stably);
	suite_add_tcase(s, tc);
	tc = tcase_create("input");
	tcase_add_test(tc, key_columns);
	tcase_add_test(tc, row_input_empty_cells);
	suite_add_tcase(s, tc);
	tc = tcase_create("caps");
	tcase_add_test(tc, row_cap);
	tcase_add_test(tc, byte_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(csv_suite());
}
