/* device import --csv with the CAPF key columns key_type and ec_curve
 * beside key_size: the same meaning as `capf op --key-size/--ec-curve`,
 * contradictions refused as 'line N: column: reason' with the store
 * unchanged, and a round trip through `device list --json`.  Runs the real
 * binary on a publisher made by the real `phonetrust init`. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"

#define EC_PROFILE "EC 8841"
#define RSA_PROFILE "Cisco 8841 - Standard SIP Non-Secure Profile"

static char *tmp, *pub, *csv;

static void setup(void)
{
	pt_run_t r;
	char *pw = NULL;
	tmp = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&pub, "%s/pub", tmp), 0);
	ck_assert_int_ge(asprintf(&csv, "%s/devices.csv", tmp), 0);
	ck_assert_int_ge(asprintf(&pw, "%s/password", tmp), 0);
	pt_test_write_file(pw, "import capf test password\n");
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", pub, "init", "--name",
		    "pub1", "--role", "publisher", "--password-file", pw,
		    "--key-type", "ec256", "--org", "Example", "--address",
		    "10.0.0.5", NULL);
	ck_assert_msg(r.status == 0, "init: %s", r.err);
	pt_run_clear(&r);
	free(pw);
	/* The predefined profiles allow RSA keys only. */
	pt_fixture_cli(&r, NULL, pub, "profile", "copy", RSA_PROFILE,
		       EC_PROFILE, "--key-order", "ec-preferred", NULL);
	ck_assert_msg(r.status == 0, "profile copy: %s", r.err);
	pt_run_clear(&r);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
	free(csv);
}

static void import(pt_run_t *r, int want, const char *text)
{
	pt_test_write_file(csv, text);
	pt_fixture_cli(r, NULL, pub, "device", "import", "--csv", csv, NULL);
	ck_assert_msg(r->status == want, "import: exit %d, want %d\n%s%s",
		      r->status, want, r->out, r->err);
}

static void ok(const char *want_out, const char *text)
{
	pt_run_t r;
	import(&r, 0, text);
	ck_assert_str_eq(r.out, want_out);
	pt_run_clear(&r);
}

/* `device list --json`, as an object keyed by device name. */
static json_t *listed(void)
{
	pt_run_t r;
	json_error_t e;
	pt_fixture_cli(&r, NULL, pub, "device", "list", "--json", NULL);
	ck_assert_msg(r.status == 0, "device list: %s", r.err);
	json_t *arr = json_loads(r.out, 0, &e);
	ck_assert_msg(arr != NULL, "bad JSON: %s", e.text);
	pt_run_clear(&r);
	json_t *by_name = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(arr, i, d)
		json_object_set(by_name,
				json_string_value(json_object_get(d, "name")),
				d);
	json_decref(arr);
	return by_name;
}

/* "rsa 3072" or "ec 384" from a listed device's capf object. */
static void key_of(json_t *all, const char *name, char *buf, size_t len)
{
	json_t *capf = json_object_get(json_object_get(all, name), "capf");
	ck_assert_msg(capf != NULL, "%s not listed", name);
	const char *type = json_string_value(json_object_get(capf, "key_type"));
	ck_assert_ptr_nonnull(type);
	json_int_t bits = json_integer_value(json_object_get(
		capf, strcmp(type, "ec") == 0 ? "ec_curve" : "key_size"));
	snprintf(buf, len, "%s %lld", type, (long long)bits);
}

static void assert_key(json_t *all, const char *name, const char *want)
{
	char got[32];
	key_of(all, name, got, sizeof got);
	ck_assert_msg(strcmp(got, want) == 0, "%s: key %s, want %s", name, got,
		      want);
}

#define HEADER                                                               \
	"name,model,protocol,security_profile,operation,auth_mode,key_type,"  \
	"ec_curve,key_size\n"

START_TEST(ec_and_rsa_keys_in_bulk)
{
	uint64_t seq = pt_fixture_last_seq(pub);
	ok("inserted 6, updated 0, unchanged 0\n",
	   HEADER
	   "SEP0000000000E1,8841,sip," EC_PROFILE ",install,null,ec,384,\n"
	   /* a curve alone means EC, as capf op --ec-curve */
	   "SEP0000000000E2,8841,sip," EC_PROFILE ",install,null,,521,\n"
	   /* EC on the profile's curve */
	   "SEP0000000000E3,8841,sip," EC_PROFILE ",install,null,ec,,\n"
	   "SEP0000000000E4,8841,sip," EC_PROFILE ",install,null,RSA,,3072\n"
	   /* a size alone means RSA, as capf op --key-size */
	   "SEP0000000000E5,8841,sip," EC_PROFILE ",install,null,,,1024\n"
	   "SEP0000000000E6,8841,sip," EC_PROFILE ",,,,,\n");
	ck_assert_uint_eq(pt_fixture_last_seq(pub), seq + 1);

	json_t *all = listed();
	assert_key(all, "SEP0000000000E1", "ec 384");
	assert_key(all, "SEP0000000000E2", "ec 521");
	assert_key(all, "SEP0000000000E4", "rsa 3072");
	assert_key(all, "SEP0000000000E5", "rsa 1024");
	char e3[32];
	key_of(all, "SEP0000000000E3", e3, sizeof e3);
	ck_assert_msg(strncmp(e3, "ec ", 3) == 0, "E3: %s", e3);

	/* device show says the same. */
	pt_run_t r;
	pt_fixture_cli(&r, NULL, pub, "device", "show", "SEP0000000000E1",
		       NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "ec 384"), "%s", r.out);
	pt_run_clear(&r);

	/* The stored settings equal what capf op makes of the same request. */
	pt_fixture_cli(&r, NULL, pub, "device", "add", "SEP0000000000F1",
		       "--model", "8841", "--security-profile", EC_PROFILE,
		       NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, pub, "capf", "op", "SEP0000000000F1",
		       "--operation", "install", "--auth-mode", "null",
		       "--ec-curve", "384", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	Pt__Device *bulk = pt_fixture_device(pub, "SEP0000000000E1");
	Pt__Device *op = pt_fixture_device(pub, "SEP0000000000F1");
	ck_assert_int_eq(bulk->capf->key_type, op->capf->key_type);
	ck_assert_uint_eq(bulk->capf->ec_curve_bits, op->capf->ec_curve_bits);
	ck_assert_uint_eq(bulk->capf->key_size, op->capf->key_size);
	pt__device__free_unpacked(bulk, NULL);
	pt__device__free_unpacked(op, NULL);

	/* The same file again changes nothing. */
	seq = pt_fixture_last_seq(pub);
	pt_run_t again;
	pt_fixture_cli(&again, NULL, pub, "device", "import", "--csv", csv,
		       NULL);
	ck_assert_msg(again.status == 0, "%s", again.err);
	ck_assert_str_eq(again.out, "inserted 0, updated 0, unchanged 6\n");
	pt_run_clear(&again);
	ck_assert_uint_eq(pt_fixture_last_seq(pub), seq);

	/* Round trip: a file written from device list --json (the listed
	 * names are the columns) gives every device the key it shows. */
	char *text = strdup(HEADER);
	const char *name;
	json_t *d;
	json_object_foreach(all, name, d)
	{
		if (strncmp(name, "SEP0000000000E", 14) != 0)
			continue;
		json_t *capf = json_object_get(d, "capf");
		const char *type =
			json_string_value(json_object_get(capf, "key_type"));
		/* key_size is for RSA rows only, ec_curve for EC rows. */
		bool ec = strcmp(type, "ec") == 0;
		long long bits = json_integer_value(
			json_object_get(capf, ec ? "ec_curve" : "key_size"));
		char *next = NULL;
		ck_assert_int_ge(
			asprintf(&next, "%s%s,%s,%s,%s,%s,%s,%s,%s%lld%s\n",
				 text, name,
				 json_string_value(json_object_get(d, "model")),
				 json_string_value(json_object_get(d, "protocol")),
				 json_string_value(
					 json_object_get(d, "security_profile")),
				 json_string_value(
					 json_object_get(capf, "operation")),
				 json_string_value(
					 json_object_get(capf, "auth_mode")),
				 type, ec ? "" : ",", bits, ec ? "," : ""),
			0);
		free(text);
		text = next;
	}
	pt_test_write_file(csv, text);
	free(text);
	pt_fixture_cli(&r, NULL, pub, "device", "import", "--csv", csv, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	json_t *after = listed();
	json_object_foreach(all, name, d)
	{
		char before_key[32], after_key[32];
		key_of(all, name, before_key, sizeof before_key);
		key_of(after, name, after_key, sizeof after_key);
		ck_assert_msg(strcmp(before_key, after_key) == 0,
			      "%s: %s became %s", name, before_key, after_key);
	}
	json_decref(after);
	json_decref(all);

	/* Switching kinds: rsa drops the stored curve, a curve makes EC. */
	ok("inserted 0, updated 2, unchanged 0\n",
	   "name,key_type,ec_curve\n"
	   "SEP0000000000E1,rsa,\n"
	   "SEP0000000000E4,,256\n");
	all = listed();
	assert_key(all, "SEP0000000000E1", "rsa 2048");
	assert_key(all, "SEP0000000000E4", "ec 256");
	json_decref(all);
}
END_TEST

/* Every contradiction of one file reported with line and column; nothing
 * written, existing devices as they were. */
START_TEST(contradictions_refused_nothing_written)
{
	ok("inserted 1, updated 0, unchanged 0\n",
	   "name,model,security_profile,key_type,ec_curve\n"
	   "SEP0000000000E1,8841," EC_PROFILE ",ec,384\n");
	pt_fixture_state_t st;
	pt_fixture_state(pub, &st);
	pt_run_t r;
	import(&r, 1,
	       HEADER
	       "SEP0000000000E1,8841,sip," EC_PROFILE ",,,ec,,2048\n"   /* 2 */
	       "SEP0000000000E2,8841,sip," EC_PROFILE ",,,rsa,256,\n"   /* 3 */
	       "SEP0000000000E3,8841,sip," EC_PROFILE ",,,,256,2048\n"  /* 4 */
	       "SEP0000000000E4,8841,sip," EC_PROFILE ",,,dsa,,\n"      /* 5 */
	       "SEP0000000000E5,8841,sip," EC_PROFILE ",,,,300,\n"      /* 6 */
	       "SEP0000000000E6,8841,sip,,,,ec,,\n"                     /* 7 */
	       "SEP0000000000E7,8841,sip," EC_PROFILE ",,,ec,256,\n");  /* 8 */
	static const char *const expected[] = {
		"line 2: key_size: a key size is for RSA keys; key_type is ec",
		"line 3: ec_curve: an EC curve needs key type ec\n",
		"line 4: key_size: give key_size (RSA) or ec_curve (EC), not "
		"both\n",
		"line 5: key_type: the key type must be rsa or ec\n",
		"line 6: ec_curve: ",
		"line 7: key_type: profile '" RSA_PROFILE "' allows RSA keys "
		"only\n",
		"phonetrust: import refused: 6 bad rows in ",
	};
	pt_test_assert_in_order(r.err, expected,
				sizeof expected / sizeof expected[0]);
	ck_assert_ptr_null(strstr(r.err, "line 8:"));
	ck_assert_str_eq(r.out, "");
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &st);
	json_t *all = listed();
	assert_key(all, "SEP0000000000E1", "ec 384");
	ck_assert_uint_eq(json_object_size(all), 1);
	json_decref(all);
}
END_TEST

/* The columns are documented where an administrator looks. */
START_TEST(help_names_the_columns)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, pub, "device", "import", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "key_type"));
	ck_assert_ptr_nonnull(strstr(r.out, "ec_curve"));
	pt_run_clear(&r);
	/* An unknown column lists the known ones. */
	import(&r, 1, "name,curve\nSEP0000000000E1,256\n");
	ck_assert_ptr_nonnull(strstr(r.err, "key_size, key_type, ec_curve"));
	pt_run_clear(&r);
	/* capf profile add shares capf op's usage rule on keys. */
	pt_fixture_cli(&r, NULL, pub, "capf", "profile", "add", "app-1",
		       "--user", "app", "--key-size", "2048", "--ec-curve",
		       "256", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "not both"));
	pt_run_clear(&r);
}
END_TEST

static Suite *import_capf_suite(void)
{
	Suite *s = suite_create("cli_import_capf");
	TCase *tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ec_and_rsa_keys_in_bulk);
	tcase_add_test(tc, contradictions_refused_nothing_written);
	tcase_add_test(tc, help_names_the_columns);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(import_capf_suite());
}
