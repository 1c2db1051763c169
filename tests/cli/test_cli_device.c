/* phonetrust device add|update|show|list|find|delete, run as the real
 * binary against a prepared node. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/profiles.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

#define PROFILE_7975 "Cisco 7975 - Standard SCCP Non-Secure Profile"
#define PROFILE_8841 "Cisco 8841 - Standard SIP Non-Secure Profile"
#define EC_PROFILE "EC SIP by string"

static char *dir;

static void setup(void)
{
	dir = pt_test_tmpdir();
	pt_fixture_node(dir);
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

/* A SIP profile that allows EC keys and asks for an auth string, written
 * straight into the store (profile rules are another suite's business). */
static void put_ec_profile(void)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Profile p;
	pt_profile_init(&p, PT__PROTOCOL__PROTOCOL_SIP);
	p.name = EC_PROFILE;
	p.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	p.key_order = PT__KEY_ORDER__KEY_ORDER_EC_PREFERRED;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_profile_put(txn, &p), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
}

/* Gives a device an LSC (as a finished CAPF install would). */
static void give_lsc(const char *name)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, name, &dev), PT_OK);
	dev->lsc = malloc(sizeof *dev->lsc);
	pt__certificate__init(dev->lsc);
	dev->lsc->serial = strdup("0a1b2c");
	dev->lsc->sha256.data = calloc(1, 32);
	dev->lsc->sha256.len = 32;
	dev->lsc->sha256.data[0] = 0xab;
	dev->lsc->not_after = 4102444800; /* 2100-01-01 */
	ck_assert_int_eq(pt_device_put(txn, dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&dev->base);
	pt_store_destroy(&store);
}

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, text);
	return j;
}

static json_t *show_json(const char *name)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "show", name, "--json", NULL);
	ck_assert_msg(r.status == 0, "show failed: %s", r.err);
	json_t *j = parse_json(r.out);
	pt_run_clear(&r);
	return j;
}

static const char *jstr(json_t *obj, const char *path1, const char *path2)
{
	json_t *v = json_object_get(obj, path1);
	if (path2)
		v = json_object_get(v, path2);
	ck_assert_msg(json_is_string(v), "%s.%s is not a string", path1,
		      path2 ? path2 : "");
	return json_string_value(v);
}

static json_int_t jint(json_t *obj, const char *path1, const char *path2)
{
	json_t *v = json_object_get(obj, path1);
	if (path2)
		v = json_object_get(v, path2);
	ck_assert(json_is_integer(v));
	return json_integer_value(v);
}

static void add_ok(const char *name, const char *model, const char *protocol)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", name, "--model", model,
		       "--protocol", protocol, NULL);
	ck_assert_msg(r.status == 0, "add %s failed: %s", name, r.err);
	pt_run_clear(&r);
}

/* Exit 1, exactly one line on stderr, and the store as it was. */
static void assert_refused(pt_run_t *r, const pt_fixture_state_t *before,
			   const char *needle)
{
	ck_assert_msg(r->status == 1, "status %d, stderr: %s", r->status,
		      r->err);
	char *nl = strchr(r->err, '\n');
	ck_assert_msg(nl && nl[1] == '\0', "not one line: %s", r->err);
	ck_assert_msg(strstr(r->err, needle), "'%s' not in: %s", needle,
		      r->err);
	pt_fixture_assert_unchanged(dir, before);
	pt_run_clear(r);
}

START_TEST(add_show_round_trip)
{
	put_ec_profile();
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP00AABBCCDDEE",
		       "--description", "Lobby, ground floor", "--model",
		       "Cisco 8841", "--protocol", "sip", "--security-profile",
		       EC_PROFILE, "--operation", "install", "--auth-mode",
		       "string", "--auth-string", "9081726354", "--key-size",
		       "4096", "--key-type", "ec", "--ec-curve", "521",
		       "--completes-by", "2099-01-31T17:00:00Z", "--web-access",
		       "disabled", "--settings-access", "enabled",
		       "--gratuitous-arp", "disabled", "--pc-port", "enabled",
		       "--pc-voice-vlan-access", "disabled", "--digest-user",
		       "alice", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "added SEP00AABBCCDDEE\n");
	pt_run_clear(&r);

	json_t *j = show_json("SEP00AABBCCDDEE");
	ck_assert_str_eq(jstr(j, "name", NULL), "SEP00AABBCCDDEE");
	ck_assert_str_eq(jstr(j, "description", NULL), "Lobby, ground floor");
	ck_assert_str_eq(jstr(j, "model", NULL), "8841");
	ck_assert_str_eq(jstr(j, "protocol", NULL), "SIP");
	ck_assert_str_eq(jstr(j, "security_profile", NULL), EC_PROFILE);
	ck_assert_str_eq(jstr(j, "capf", "operation"), "install");
	ck_assert_str_eq(jstr(j, "capf", "auth_mode"), "string");
	ck_assert_str_eq(jstr(j, "capf", "auth_string"), "9081726354");
	ck_assert_int_eq(jint(j, "capf", "key_size"), 4096);
	ck_assert_str_eq(jstr(j, "capf", "key_type"), "ec");
	ck_assert_int_eq(jint(j, "capf", "ec_curve"), 521);
	ck_assert_str_eq(jstr(j, "capf", "completes_by"),
			 "2099-01-31T17:00:00Z");
	ck_assert_str_eq(jstr(j, "capf", "status"), "pending");
	ck_assert_str_eq(jstr(j, "hardening", "web_access"), "disabled");
	ck_assert_str_eq(jstr(j, "hardening", "settings_access"), "enabled");
	ck_assert_str_eq(jstr(j, "hardening", "gratuitous_arp"), "disabled");
	ck_assert_str_eq(jstr(j, "hardening", "pc_port"), "enabled");
	ck_assert_str_eq(jstr(j, "hardening", "pc_voice_vlan_access"),
			 "disabled");
	ck_assert_str_eq(jstr(j, "digest_user", NULL), "alice");
	ck_assert(json_is_null(json_object_get(j, "lsc")));
	ck_assert(json_is_null(json_object_get(j, "mic")));
	ck_assert_int_eq(jint(j, "history", NULL), 0);
	json_decref(j);

	/* The human form names the same values. */
	pt_fixture_cli(&r, NULL, dir, "device", "show", "SEP00AABBCCDDEE",
		       NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "9081726354"));
	ck_assert_ptr_nonnull(strstr(r.out, "ec 521"));
	ck_assert_ptr_nonnull(strstr(r.out, "alice"));
	pt_run_clear(&r);
}
END_TEST

/* The secret-at-rest requirement: the auth string never occurs in
 * the LMDB file, yet opens through `device show`. */
START_TEST(auth_string_not_in_store_file)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP001122334455",
		       "--model", "8841", "--operation", "install",
		       "--auth-mode", "string", "--auth-string", "9081726354",
		       NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	char path[4096];
	snprintf(path, sizeof path, "%s/store/data.mdb", dir);
	size_t len = 0;
	char *bytes = pt_test_read_file(path, &len);
	ck_assert_uint_gt(len, 0);
	ck_assert_ptr_nonnull(memmem(bytes, len, "SEP001122334455", 15));
	ck_assert_ptr_null(memmem(bytes, len, "9081726354", 10));
	free(bytes);

	json_t *j = show_json("SEP001122334455");
	ck_assert_str_eq(jstr(j, "capf", "auth_string"), "9081726354");
	json_decref(j);
}
END_TEST

START_TEST(generated_auth_string)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP001122334455",
		       "--model", "8841", "--operation", "install",
		       "--auth-mode", "string", "--generate-auth-string", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	const char *p = strstr(r.out, "authentication string for "
				      "SEP001122334455: ");
	ck_assert_ptr_nonnull(p);
	char shown[16] = "";
	sscanf(strchr(p, ':') + 2, "%15s", shown);
	ck_assert_uint_eq(strlen(shown), 8);
	ck_assert_uint_eq(strspn(shown, "0123456789"), 8);
	pt_run_clear(&r);
	json_t *j = show_json("SEP001122334455");
	ck_assert_str_eq(jstr(j, "capf", "auth_string"), shown);
	json_decref(j);
}
END_TEST

/* Digest password and manual key: read from a source, sealed in the
 * store, shown only as set, the key checked against the model's size. */
START_TEST(digest_password_and_symmetric_key)
{
	pt_run_t r;
	char pw_src[4200], key_src[4200], path[4096];
	snprintf(path, sizeof path, "%s/pw.txt", dir);
	pt_test_write_file(path, "Dig3st-secret-42\n");
	snprintf(pw_src, sizeof pw_src, "file:%s", path);
	snprintf(path, sizeof path, "%s/key.txt", dir);
	pt_test_write_file(path, "00112233445566778899AABBCCDDEEFF\n");
	snprintf(key_src, sizeof key_src, "file:%s", path);

	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP001122334455",
		       "--model", "7960", "--protocol", "sip", "--digest-user",
		       "alice", "--digest-password", pw_src,
		       "--symmetric-key", key_src, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);

	snprintf(path, sizeof path, "%s/store/data.mdb", dir);
	size_t len = 0;
	char *bytes = pt_test_read_file(path, &len);
	ck_assert_ptr_null(memmem(bytes, len, "Dig3st-secret-42", 16));
	ck_assert_ptr_null(memmem(bytes, len, "00112233445566778899", 20));
	ck_assert_ptr_null(memmem(bytes, len, "00112233445566778899aa", 22));
	free(bytes);

	json_t *j = show_json("SEP001122334455");
	ck_assert(json_is_true(json_object_get(j, "digest_password_set")));
	ck_assert(json_is_true(json_object_get(j, "symmetric_key_set")));
	char *dump = json_dumps(j, 0);
	ck_assert_ptr_null(strstr(dump, "Dig3st"));
	free(dump);
	json_decref(j);

	/* A 7960 takes 128 bits: a 256-bit key is refused, store unchanged;
	 * moving to a model that takes 256 bits with the old key too. */
	pt_fixture_state_t before;
	pt_fixture_state(dir, &before);
	snprintf(path, sizeof path, "%s/key.txt", dir);
	pt_test_write_file(path, "00112233445566778899AABBCCDDEEFF"
				 "00112233445566778899AABBCCDDEEFF\n");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--symmetric-key", key_src, NULL);
	assert_refused(&r, &before, "symmetric_key");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--model", "8841", NULL);
	assert_refused(&r, &before, "symmetric_key");

	/* Generated: printed once, of the model's size; "" clears. */
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--generate-symmetric-key", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	const char *p = strstr(r.out, "symmetric key for SEP001122334455: ");
	ck_assert_ptr_nonnull(p);
	char shown[80] = "";
	sscanf(strchr(p, ':') + 2, "%79s", shown);
	ck_assert_uint_eq(strlen(shown), 32);
	ck_assert_uint_eq(strspn(shown, "0123456789abcdef"), 32);
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--symmetric-key", "", "--digest-password", "", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	j = show_json("SEP001122334455");
	ck_assert(json_is_false(json_object_get(j, "digest_password_set")));
	ck_assert(json_is_false(json_object_get(j, "symmetric_key_set")));
	json_decref(j);
}
END_TEST

START_TEST(update_changes_only_given_fields)
{
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP001122334455",
		       "--model", "7975", "--protocol", "sccp", "--description",
		       "old", "--key-size", "1024", "--pc-port", "disabled",
		       NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	Pt__Device *before = pt_fixture_device(dir, "SEP001122334455");
	uint64_t seq = pt_fixture_last_seq(dir);

	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--description", "new", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
	Pt__Device *after = pt_fixture_device(dir, "SEP001122334455");
	ck_assert_str_eq(after->description, "new");
	ck_assert_str_eq(after->model, before->model);
	ck_assert_int_eq(after->protocol, before->protocol);
	ck_assert_str_eq(after->security_profile, PROFILE_7975);
	ck_assert_uint_eq(after->capf->key_size, 1024);
	ck_assert_int_eq(after->hardening->pc_port, PT__TOGGLE__TOGGLE_DISABLED);
	ck_assert_int_eq(after->created, before->created);
	pt__device__free_unpacked(before, NULL);
	pt__device__free_unpacked(after, NULL);

	/* The same value again writes nothing. */
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--description", "new", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "device SEP001122334455 unchanged\n");
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);

	/* A model change moves a device on the default profile to the new
	 * model's default. */
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--model", "7965", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	json_t *j = show_json("SEP001122334455");
	ck_assert_str_eq(jstr(j, "security_profile", NULL),
			 "Cisco 7965 - Standard SCCP Non-Secure Profile");
	json_decref(j);
}
END_TEST

START_TEST(refused_requests_change_nothing)
{
	add_ok("SEP001122334455", "8841", "sip");
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	pt_run_t r;

	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP0011223344AA",
		       "--model", "8841", "--security-profile", "No Such", NULL);
	assert_refused(&r, &st, "profile 'No Such' does not exist");
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP0011223344AA",
		       "--model", "8841", "--auth-string", "123", NULL);
	assert_refused(&r, &st, "auth_string");
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP0011223344AA",
		       "--model", "8841", "--auth-string", "12a4", NULL);
	assert_refused(&r, &st, "digits");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--key-size", "768", NULL);
	assert_refused(&r, &st, "key_size");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--operation", "install", "--completes-by",
		       "2001-01-01T00:00:00Z", NULL);
	assert_refused(&r, &st, "in the past");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--protocol", "sccp", NULL);
	assert_refused(&r, &st, "does not speak SCCP");
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP001122334455",
		       "--model", "8841", NULL);
	assert_refused(&r, &st, "exists already");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP0011223344AB",
		       "--description", "x", NULL);
	assert_refused(&r, &st, "no device SEP0011223344AB");
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP0011", "--model",
		       "8841", NULL);
	assert_refused(&r, &st, "name");
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP0011223344AA",
		       "--model", "Unknown Phone", NULL);
	assert_refused(&r, &st, "give the protocol");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP001122334455",
		       "--operation", "install", "--auth-mode", "string", NULL);
	assert_refused(&r, &st, "needs an authentication string");
	pt_fixture_cli(&r, NULL, dir, "device", "show", "SEP0011223344AB",
		       NULL);
	assert_refused(&r, &st, "no device");
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	static const char *const cases[][6] = {
		{"device", NULL},
		{"device", "frobnicate", NULL},
		{"device", "add", "SEP001122334455", NULL},
		{"device", "add", "SEP001122334455", "--model", NULL},
		{"device", "add", "SEP001122334455", "--colour", "red", NULL},
		{"device", "update", "SEP001122334455", NULL},
		{"device", "list", "extra", NULL},
		{"device", "find", "--lsc", "maybe", NULL},
		{"device", "delete", NULL},
		{"device", "show", NULL},
	};
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *argv[10] = {"phonetrust", "--data", dir};
		int n = 3;
		for (int k = 0; cases[i][k]; k++)
			argv[n++] = (char *)cases[i][k];
		argv[n] = NULL;
		pt_run_t r;
		pt_test_runv(&r, NULL, "cli/phonetrust", argv);
		ck_assert_msg(r.status == 2, "case %zu: status %d (%s)", i,
			      r.status, r.err);
		pt_run_clear(&r);
	}
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "add", "SEP001122334455",
		       "--model", "8841", "--auth-string", "1234",
		       "--generate-auth-string", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "device", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "import"));
	pt_run_clear(&r);
	pt_fixture_cli(&r, NULL, dir, "device", "add", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "--completes-by"));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &st);
}
END_TEST

/* Names of the devices a listing printed, comma-joined in order. */
static char *listed(const char *first, ...) __attribute__((sentinel));
static char *listed(const char *first, ...)
{
	char *argv[32] = {"phonetrust", "--data", dir, "device",
			  (char *)first};
	int n = 5;
	va_list ap;
	va_start(ap, first);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 30)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n++] = "--json";
	argv[n] = NULL;
	pt_run_t r;
	pt_test_runv(&r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r.status == 0, "%s", r.err);
	json_t *arr = parse_json(r.out);
	pt_run_clear(&r);
	ck_assert(json_is_array(arr));
	char *names = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&names, &len);
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		fprintf(f, "%s%s", i ? "," : "", jstr(o, "name", NULL));
	}
	fclose(f);
	json_decref(arr);
	return names;
}

static void expect_listed(char *got, const char *want)
{
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(list_and_find)
{
	pt_run_t r;
	add_ok("SEP000000000001", "7975", "sccp");
	add_ok("SEP000000000002", "8841", "sip");
	add_ok("CTI_port-1", "Softphone", "sip");
	pt_fixture_cli(&r, NULL, dir, "device", "update", "SEP000000000002",
		       "--description", "Reception desk", "--operation",
		       "install", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	give_lsc("SEP000000000001");

	/* JSON listing: every required key. */
	pt_fixture_cli(&r, NULL, dir, "device", "list", "--json", NULL);
	ck_assert_int_eq(r.status, 0);
	json_t *arr = parse_json(r.out);
	pt_run_clear(&r);
	ck_assert_uint_eq(json_array_size(arr), 3);
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o) {
		static const char *const keys[] = {"name", "description",
						   "model", "protocol",
						   "security_profile"};
		for (size_t k = 0; k < 5; k++)
			ck_assert(json_is_string(json_object_get(o, keys[k])));
		json_t *capf = json_object_get(o, "capf");
		ck_assert(json_is_string(json_object_get(capf, "operation")));
		ck_assert(json_is_string(json_object_get(capf, "auth_mode")));
		ck_assert(json_is_integer(json_object_get(capf, "key_size")));
		ck_assert_ptr_nonnull(json_object_get(capf, "completes_by"));
		ck_assert(json_is_string(json_object_get(capf, "status")));
		ck_assert_ptr_nonnull(json_object_get(o, "lsc"));
		ck_assert_ptr_null(json_object_get(capf, "auth_string"));
	}
	json_t *lsc = json_object_get(json_array_get(arr, 1), "lsc");
	ck_assert_str_eq(jstr(json_array_get(arr, 1), "name", NULL),
			 "SEP000000000001");
	ck_assert_str_eq(jstr(lsc, "serial", NULL), "0a1b2c");
	ck_assert_uint_eq(strlen(jstr(lsc, "sha256", NULL)), 64);
	ck_assert_str_eq(jstr(lsc, "not_after", NULL), "2100-01-01T00:00:00Z");
	ck_assert(json_is_null(
		json_object_get(json_array_get(arr, 0), "lsc")));
	json_decref(arr);

	/* The human table. */
	pt_fixture_cli(&r, NULL, dir, "device", "list", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
	ck_assert_ptr_nonnull(strstr(r.out, "install/pending"));
	ck_assert_ptr_nonnull(strstr(r.out, PROFILE_8841));
	pt_run_clear(&r);

	expect_listed(listed("find", "--name", "SEP*", NULL),
		      "SEP000000000001,SEP000000000002");
	expect_listed(listed("find", "--description", "RECEPTION", NULL),
		      "SEP000000000002");
	expect_listed(listed("find", "--model", "Cisco 7975", NULL),
		      "SEP000000000001");
	expect_listed(listed("find", "--protocol", "sip", NULL),
		      "CTI_port-1,SEP000000000002");
	expect_listed(listed("find", "--profile", PROFILE_7975, NULL),
		      "SEP000000000001");
	expect_listed(listed("find", "--operation", "install", NULL),
		      "SEP000000000002");
	expect_listed(listed("find", "--status", "pending", NULL),
		      "SEP000000000002");
	expect_listed(listed("find", "--lsc", "yes", NULL), "SEP000000000001");
	expect_listed(listed("find", "--lsc", "no", "--protocol", "sip", NULL),
		      "CTI_port-1,SEP000000000002");
	expect_listed(listed("find", "--name", "nothing*", NULL), "");
	expect_listed(listed("list", NULL),
		      "CTI_port-1,SEP000000000001,SEP000000000002");
}
END_TEST

START_TEST(delete_is_all_or_nothing)
{
	add_ok("SEP000000000001", "7975", "sccp");
	add_ok("SEP000000000002", "8841", "sip");
	add_ok("SEP000000000003", "8841", "sip");
	pt_fixture_state_t st;
	pt_fixture_state(dir, &st);
	pt_run_t r;
	pt_fixture_cli(&r, NULL, dir, "device", "delete", "SEP000000000001",
		       "SEP000000000002", "SEP00000000000F", "bad name", NULL);
	assert_refused(&r, &st, "no such device: SEP00000000000F, bad name");
	ck_assert_uint_eq(pt_fixture_device_count(dir), 3);

	pt_fixture_cli(&r, NULL, dir, "device", "delete", "SEP000000000001",
		       "SEP000000000002", "SEP000000000001", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, "deleted 2 devices\n");
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), st.seq + 1);
	ck_assert_uint_eq(pt_fixture_device_count(dir), 1);
	Pt__Device *left = pt_fixture_device(dir, "SEP000000000003");
	ck_assert_ptr_nonnull(left);
	pt__device__free_unpacked(left, NULL);
	ck_assert_ptr_null(pt_fixture_device(dir, "SEP000000000001"));
}
END_TEST

static Suite *device_suite(void)
{
	Suite *s = suite_create("cli_device");
	TCase *tc = tcase_create("edit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_show_round_trip);
	tcase_add_test(tc, auth_string_not_in_store_file);
	tcase_add_test(tc, generated_auth_string);
	tcase_add_test(tc, digest_password_and_symmetric_key);
	tcase_add_test(tc, update_changes_only_given_fields);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, refused_requests_change_nothing);
	tcase_add_test(tc, usage_errors_exit_2);
	suite_add_tcase(s, tc);
	tc = tcase_create("listings");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, list_and_find);
	tcase_add_test(tc, delete_is_all_or_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(device_suite());
}
