/* phonetrust device import --csv: inserts, updates, defaults, refusals
 * that write nothing, batches, generated auth strings. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/device_rules.h"
#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"

#define PROFILE_7975 "Cisco 7975 - Standard SCCP Non-Secure Profile"
#define PROFILE_8841 "Cisco 8841 - Standard SIP Non-Secure Profile"

static char *dir;
static char *csv;

static void setup(void)
{
	dir = pt_test_tmpdir();
	pt_fixture_node(dir);
	if (asprintf(&csv, "%s/devices.csv", dir) < 0)
		abort();
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
	free(csv);
}

static void import(pt_run_t *r, const char *text, const char *flag)
{
	pt_test_write_file(csv, text);
	pt_fixture_cli(r, NULL, dir, "device", "import", "--csv", csv, flag,
		       NULL);
}

static json_t *run_json(const char *noun, const char *verb)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, noun, verb, "--json", NULL);
	ck_assert_msg(r.status == 0, "%s %s: %s", noun, verb, r.err);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON: %s", e.text);
	pt_run_clear(&r);
	return j;
}

static char *auth_string(const char *name)
{
	pt_data_key_t key;
	char s[PT_AUTH_STRING_MAX + 1];
	pt_fixture_key(dir, &key);
	Pt__Device *d = pt_fixture_device(dir, name);
	ck_assert_ptr_nonnull(d);
	int r = pt_device_open_auth_string(d, &key, s);
	pt__device__free_unpacked(d, NULL);
	if (r == PT_ERR_NOT_FOUND)
		return NULL;
	ck_assert_int_eq(r, PT_OK);
	return strdup(s);
}

START_TEST(inserts_updates_and_defaults)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP000000000001",
		       "--model", "7975", "--protocol", "sccp", "--description",
		       "old", "--key-size", "1024", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	uint64_t seq = pt_fixture_last_seq(dir);

	/* BOM, CRLF, quotes with commas; columns in an odd order; empty cells
	 * keep (update) or default (insert). */
	import(&r,
	       "\xef\xbb\xbf"
	       "description,name,model,protocol,operation,auth_mode,"
	       "auth_string,key_size,completes_by,security_profile\r\n"
	       "\"Lobby, west\",SEP000000000001,,,,,,,,\r\n"
	       "New phone,SEP000000000002,8841,,install,string,4321,3072,"
	       "2099-06-30T12:00:00Z,\r\n"
	       ",SEP000000000003,Cisco 7965,SCCP,,,,,,\r\n",
	       NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "inserted 2, updated 1, unchanged 0\n");
	pt_run_clear(&r);
	/* Fewer than 1,000 devices: one transaction, one changelog entry. */
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);

	Pt__Device *d = pt_fixture_device(dir, "SEP000000000001");
	ck_assert_str_eq(d->description, "Lobby, west");
	ck_assert_str_eq(d->model, "7975");
	ck_assert_uint_eq(d->capf->key_size, 1024);
	ck_assert_str_eq(d->security_profile, PROFILE_7975);
	pt__device__free_unpacked(d, NULL);

	d = pt_fixture_device(dir, "SEP000000000002");
	ck_assert_str_eq(d->description, "New phone");
	ck_assert_int_eq(d->protocol, PT__PROTOCOL__PROTOCOL_SIP);
	ck_assert_str_eq(d->security_profile, PROFILE_8841);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_PENDING);
	ck_assert_uint_eq(d->capf->key_size, 3072);
	int64_t by;
	ck_assert_int_eq(pt_time_parse_utc("2099-06-30T12:00:00Z", &by), PT_OK);
	ck_assert_int_eq(d->capf->completes_by, by);
	pt__device__free_unpacked(d, NULL);
	char *s = auth_string("SEP000000000002");
	ck_assert_str_eq(s, "4321");
	free(s);

	d = pt_fixture_device(dir, "SEP000000000003");
	ck_assert_str_eq(d->model, "7965");
	ck_assert_str_eq(d->description, "");
	ck_assert_str_eq(d->security_profile,
			 "Cisco 7965 - Standard SCCP Non-Secure Profile");
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_uint_eq(d->capf->key_size, 0);
	pt__device__free_unpacked(d, NULL);

	/* The same file again changes nothing and appends nothing. */
	pt_fixture_cli(&r, NULL, dir, "device", "import", "--csv", csv, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "inserted 0, updated 0, unchanged 3\n");
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
}
END_TEST

/* The bad inputs in one file: every bad row is reported with its
 * line, and nothing is written. */
START_TEST(bad_rows_all_reported_nothing_written)
{
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	pt_run_t r;
	import(&r,
	       "name,model,protocol,security_profile,operation,auth_mode,"
	       "auth_string,key_size,completes_by\n"
	       "SEP000000000001,8841,sip,,,,,,\n"                     /* 2 ok */
	       "SEP000000000002,8841,sip,Gold Profile,,,,,\n"         /* 3 */
	       "SEP000000000003,8841,sip,,install,string,123,,\n"     /* 4 */
	       "SEP000000000004,8841,sip,,install,string,12a4,,\n"    /* 5 */
	       "SEP000000000005,8841,sip,,,,,768,\n"                  /* 6 */
	       "SEP000000000006,8841,sip,,install,,,,"
	       "2001-01-01T00:00:00Z\n"                               /* 7 */
	       "SEP000000000007,8841,\"si\"p,,,,,,\n"                 /* 8 */
	       "SEP000000000008,8841,sip,,,,\n"                       /* 9 */
	       "SEP000000000001,8841,sip,,,,,,\n"                     /* 10 */
	       "SEP000000000009,8841,sip,,,,,,\n"                     /* 11 ok */
	       "SEP0000000000090000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       "0000000000000000000000000000000000000000000000000000000000"
	       ",8841,sip,,,,,,\n",                                    /* 12 */
	       NULL);
	ck_assert_int_eq(r.status, 1);
	static const char *const expected[] = {
		"line 3: security_profile: profile 'Gold Profile' does not "
		"exist\n",
		"line 4: auth_string: ",
		"line 5: auth_string: authentication string must be 4 to 10 "
		"digits (0-9 only)\n",
		"line 6: key_size: ",
		"line 7: completes_by: 2001-01-01T00:00:00Z is in the past\n",
		"line 8: row: malformed quoting",
		"line 9: row: row has 7 fields; the header has 9\n",
		"line 10: name: SEP000000000001 appears already on line 2\n",
		"line 12: name: device name is longer than 50 characters\n",
		"phonetrust: import refused: 9 bad rows in ",
	};
	pt_test_assert_in_order(r.err, expected,
				sizeof expected / sizeof expected[0]);
	ck_assert_ptr_null(strstr(r.err, "line 2:"));
	ck_assert_ptr_null(strstr(r.err, "line 11:"));
	ck_assert_str_eq(r.out, "");
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &st);
	ck_assert_uint_eq(pt_fixture_device_count(dir), 0);
}
END_TEST

START_TEST(file_level_refusals)
{
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	pt_run_t r;
	import(&r, "name,model,colour\nSEP000000000001,8841,red\n", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "line 1: header: unknown column "
					    "'colour'"));
	pt_run_clear(&r);
	import(&r, "name,model,model\n", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "appears twice"));
	pt_run_clear(&r);
	import(&r, "", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "empty"));
	pt_run_clear(&r);
	import(&r, "model\n8841\n", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "no 'name' column"));
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "device", "import", "--csv",
		       "/nonexistent/devices.csv", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot read"));
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "device", "import", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "device", "import", "--csv", csv,
		       "--frobnicate", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &st);
}
END_TEST

START_TEST(dry_run_and_stdin)
{
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	pt_run_t r;
	import(&r, "name,model\nSEP000000000001,8841\nSEP000000000002,8841\n",
	       "--dry-run");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "would insert 2, update 0"));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &st);

	pt_fixture_cli(&r, "name,model\nSEP000000000001,8841\n", dir, "device",
		       "import", "--csv", "-", "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "inserted")), 1);
	json_decref(j);
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_device_count(dir), 1);
}
END_TEST

/* 10,000 rows: ten transactions of 1,000, then the JSON listing counts
 * them all. */
START_TEST(ten_thousand_rows)
{
	size_t n = 10000;
	FILE *f = fopen(csv, "w");
	ck_assert_ptr_nonnull(f);
	fputs("name,description,model,operation,auth_mode,auth_string\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "SEP%012zX,\"desk %zu, floor %zu\",%s,%s,%s,%s\n", i,
			i, i % 7, i % 2 ? "8841" : "7811",
			i % 3 ? "none" : "install", i % 3 ? "" : "string",
			i % 3 ? "" : "20241231");
	fclose(f);
	uint64_t seq = pt_fixture_last_seq(dir);
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "import", "--csv", csv, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "inserted 10000, updated 0, unchanged 0\n");
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 10);

	json_t *arr = run_json("device", "list");
	ck_assert(json_is_array(arr));
	ck_assert_uint_eq(json_array_size(arr), n);
	json_t *last = json_array_get(arr, n - 1);
	ck_assert_str_eq(json_string_value(json_object_get(last, "name")),
			 "SEP00000000270F");
	json_decref(arr);
}
END_TEST

START_TEST(unique_auth_strings)
{
	pt_run_t r;
	/* One device already holds a string: it keeps it. */
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP000000000FFF",
		       "--model", "8841", "--operation", "install",
		       "--auth-mode", "string", "--auth-string", "55555555",
		       NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);

	size_t n = 300;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fputs("name,model,operation,auth_mode,auth_string\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "SEP%012zX,8841,install,string,\n", i);
	fputs("SEP000000000FFF,8841,install,string,\n", f);
	fputs("SEP000000000FFE,8841,install,string,12345678\n", f);
	fputs("SEP000000000FFD,8841,none,,\n", f);
	fclose(f);
	import(&r, text, "--unique-auth-strings");
	free(text);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "inserted 302, updated 0, unchanged 1\n"
				"generated 300 authentication strings; see "
				"'phonetrust capf report'\n");
	pt_run_clear(&r);

	json_t *rep = run_json("capf", "report");
	ck_assert_uint_eq(json_array_size(rep), n + 3);
	json_t *seen = json_object();
	size_t i;
	json_t *o;
	json_array_foreach(rep, i, o) {
		const char *name =
			json_string_value(json_object_get(o, "device_name"));
		const char *s =
			json_string_value(json_object_get(o, "auth_string"));
		if (strcmp(name, "SEP000000000FFD") == 0) {
			ck_assert_str_eq(s, "");
			continue;
		}
		ck_assert_int_eq(pt_validate_auth_string(s, NULL), PT_OK);
		ck_assert_uint_eq(strlen(s), 8);
		ck_assert_msg(!json_object_get(seen, s), "%s shared", s);
		json_object_set_new(seen, s, json_true());
	}
	ck_assert_uint_eq(json_object_size(seen), n + 2);
	json_decref(seen);
	json_decref(rep);
	char *kept = auth_string("SEP000000000FFF");
	ck_assert_str_eq(kept, "55555555");
	free(kept);
	char *given = auth_string("SEP000000000FFE");
	ck_assert_str_eq(given, "12345678");
	free(given);

	/* Running it again generates nothing: every device has its string. */
	uint64_t seq = pt_fixture_last_seq(dir);
	pt_fixture_cli(&r, NULL, dir, "device", "import", "--csv", csv,
		       "--unique-auth-strings", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "inserted 0, updated 0, unchanged 303\n");
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq);

	/* Without the flag, a row needing a string and having none is bad. */
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	import(&r, "name,model,operation,auth_mode\n"
		   "SEP000000000FFC,8841,install,string\n",
	       NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "line 2: auth_string: "));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &st);
}
END_TEST

static Suite *import_suite(void)
{
	Suite *s = suite_create("cli_import");
	TCase *tc = tcase_create("import");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inserts_updates_and_defaults);
	tcase_add_test(tc, dry_run_and_stdin);
	tcase_add_test(tc, unique_auth_strings);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_rows_all_reported_nothing_written);
	tcase_add_test(tc, file_level_refusals);
	suite_add_tcase(s, tc);
	tc = tcase_create("bulk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ten_thousand_rows);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(import_suite());
}
