/* phonetrust capf report: content, LSC status texts, filters, --out. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

#define P7975 "Cisco 7975 - Standard SCCP Non-Secure Profile"
#define P8841 "Cisco 8841 - Standard SIP Non-Secure Profile"

static char *dir;

static void cli_ok(const char *first, ...) __attribute__((sentinel));
static void cli_ok(const char *first, ...)
{
	char *argv[32] = {"phonetrust", "--data", dir, (char *)first};
	int n = 4;
	va_list ap;
	va_start(ap, first);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	pt_run_t r;
	pt_test_runv(&r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r.status == 0, "%s %s: %s", argv[3], argv[4], r.err);
	pt_run_clear(&r);
}

/* Changes a stored device as a CAPF session would (status, LSC). */
static void set_capf_state(const char *name, Pt__CapfStatus status,
			   const char *reason, int64_t lsc_not_after)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test capf", &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, name, &dev), PT_OK);
	dev->capf->status = status;
	dev->capf->operation = PT__CAPF_OPERATION__CAPF_OP_NONE;
	if (reason)
		dev->capf->status_reason = strdup(reason);
	if (lsc_not_after) {
		dev->lsc = malloc(sizeof *dev->lsc);
		pt__certificate__init(dev->lsc);
		dev->lsc->not_after = lsc_not_after;
	}
	ck_assert_int_eq(pt_device_put(txn, dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&dev->base);
	pt_store_destroy(&store);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	pt_fixture_node(dir);
	/* A: pending install by string; B: installed; C: failed;
	 * D: nothing; E: expired LSC, description with a comma. */
	cli_ok("device", "add", "SEP00000000000A", "--model", "8841",
	       "--operation", "install", "--auth-mode", "string",
	       "--auth-string", "24681357", NULL);
	cli_ok("device", "add", "SEP00000000000B", "--model", "8841",
	       "--description", "Boardroom", NULL);
	set_capf_state("SEP00000000000B", PT__CAPF_STATUS__CAPF_STATUS_SUCCESS,
		       NULL, 4102444800 /* 2100-01-01 */);
	cli_ok("device", "add", "SEP00000000000C", "--model", "7975",
	       "--protocol", "sccp", "--auth-string", "1357", NULL);
	set_capf_state("SEP00000000000C", PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		       "phone did not answer", 0);
	cli_ok("device", "add", "SEP00000000000D", "--model", "7975",
	       "--protocol", "sccp", NULL);
	cli_ok("device", "add", "SEP00000000000E", "--model", "8841",
	       "--description", "Hall, \"east\"", "--auth-mode", "lsc", NULL);
	set_capf_state("SEP00000000000E", PT__CAPF_STATUS__CAPF_STATUS_SUCCESS,
		       NULL, 946684800 /* 2000-01-01 */);
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

static const char full_report[] =
	"device_name,description,security_profile,auth_string,auth_mode,"
	"lsc_status\n"
	"SEP00000000000A,," P8841 ",24681357,string,pending install\n"
	"SEP00000000000B,Boardroom," P8841 ",,null,installed until 2100-01-01\n"
	"SEP00000000000C,," P7975 ",1357,null,failed: phone did not answer\n"
	"SEP00000000000D,," P7975 ",,null,none\n"
	"SEP00000000000E,\"Hall, \"\"east\"\"\"," P8841 ",,lsc,"
	"expired 2000-01-01\n";

START_TEST(report_content)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "capf", "report", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, full_report);
	pt_run_clear(&r);

	pt_fixture_cli(&r, NULL, dir, "capf", "report", "--json", NULL);
	ck_assert_int_eq(r.status, 0);
	json_error_t e;
	json_t *arr = json_loads(r.out, 0, &e);
	pt_run_clear(&r);
	ck_assert_ptr_nonnull(arr);
	ck_assert_uint_eq(json_array_size(arr), 5);
	json_t *c = json_array_get(arr, 2);
	static const char *const keys[] = {"device_name", "description",
					   "security_profile", "auth_string",
					   "auth_mode", "lsc_status"};
	static const char *const want[] = {"SEP00000000000C", "", P7975,
					   "1357", "null",
					   "failed: phone did not answer"};
	for (size_t i = 0; i < 6; i++)
		ck_assert_str_eq(json_string_value(json_object_get(c, keys[i])),
				 want[i]);
	ck_assert_uint_eq(json_object_size(c), 6);
	json_decref(arr);
}
END_TEST

/* Names in a CSV report, comma-joined. */
static char *names_of(const char *report)
{
	char *out = calloc(1, strlen(report) + 1);
	const char *line = strchr(report, '\n');
	while (line && line[1]) {
		line++;
		if (*out)
			strcat(out, ",");
		strncat(out, line, 15);
		line = strchr(line, '\n');
	}
	return out;
}

static void expect(const char *want, const char *opt, const char *val)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "capf", "report", opt, val, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	char *got = names_of(r.out);
	ck_assert_msg(strcmp(got, want) == 0, "%s %s: got '%s', want '%s'",
		      opt, val, got, want);
	free(got);
	pt_run_clear(&r);
}

START_TEST(report_filters)
{
	expect("SEP00000000000A,SEP00000000000B", "--name", "SEP*0[AB]");
	expect("SEP00000000000E", "--description", "EAST");
	expect("SEP00000000000A", "--lsc-status", "pending");
	expect("SEP00000000000A", "--lsc-status", "Pending Install");
	expect("SEP00000000000B", "--lsc-status", "installed");
	expect("SEP00000000000C", "--lsc-status", "failed");
	expect("SEP00000000000D", "--lsc-status", "none");
	expect("SEP00000000000E", "--lsc-status", "expired");
	expect("SEP00000000000C", "--auth-string", "1357");
	expect("", "--auth-string", "0000");
	expect("SEP00000000000C,SEP00000000000D", "--profile", P7975);
	expect("", "--profile", "No Such Profile");

	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "capf", "report", "--name", "SEP*",
		       "--lsc-status", "none", "--profile", P7975, NULL);
	ck_assert_int_eq(r.status, 0);
	char *got = names_of(r.out);
	ck_assert_str_eq(got, "SEP00000000000D");
	free(got);
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "capf", "report", "--bogus", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "capf", "nothing", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
}
END_TEST

START_TEST(report_out_file_is_private)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/report.csv", dir);
	pt_test_write_file(path, "old content that is longer than nothing\n");
	chmod(path, 0644);
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "capf", "report", "--out", path, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "wrote 5 devices to "));
	pt_run_clear(&r);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char *text = pt_test_read_file(path, NULL);
	ck_assert_str_eq(text, full_report);
	free(text);

	pt_fixture_cli(&r, NULL, dir, "capf", "report", "--out",
		       "/nonexistent/dir/report.csv", NULL);
	ck_assert_int_eq(r.status, 1);
	pt_run_clear(&r);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("cli_capf_report");
	TCase *tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, report_content);
	tcase_add_test(tc, report_filters);
	tcase_add_test(tc, report_out_file_is_private);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(report_suite());
}
