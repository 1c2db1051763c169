/* phonetrust profile add|update|copy|show|list|delete, run as the real
 * binary against a prepared node. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/profiles.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

#define P7975_SCCP "Cisco 7975 - Standard SCCP Non-Secure Profile"
#define P8841_SIP "Cisco 8841 - Standard SIP Non-Secure Profile"

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

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, text);
	return j;
}

/* Runs the CLI with up to 24 arguments and expects exit status want. */
#define MAX_ARGS 24
static void run(pt_run_t *r, int want, const char *const *args)
{
	char *argv[MAX_ARGS + 4];
	int n = 0;
	argv[n++] = (char *)"phonetrust";
	argv[n++] = (char *)"--data";
	argv[n++] = dir;
	for (; args[n - 3] && n < MAX_ARGS + 3; n++)
		argv[n] = (char *)args[n - 3];
	argv[n] = NULL;
	pt_test_runv(r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r->status == want, "%s %s: exit %d, want %d; stderr: %s",
		      args[0], args[1] ? args[1] : "", r->status, want, r->err);
}

static void ok(const char *const *args)
{
	pt_run_t r;
	run(&r, 0, args);
	pt_run_clear(&r);
}

static json_t *ok_json(const char *const *args)
{
	pt_run_t r;
	run(&r, 0, args);
	json_t *j = parse_json(r.out);
	pt_run_clear(&r);
	return j;
}

/* Exit 1, one line on stderr holding hint, and the store as it was. */
static void refused(const char *hint, const char *const *args)
{
	pt_fixture_state_t before;
	pt_fixture_state(dir, &before);
	pt_run_t r;
	run(&r, 1, args);
	const char *nl = strchr(r.err, '\n');
	ck_assert_msg(nl && nl[1] == '\0', "want one line, got: %s", r.err);
	ck_assert_msg(strstr(r.err, hint), "'%s' not in: %s", hint, r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(dir, &before);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), before.seq);
}

static json_t *show(const char *name)
{
	const char *args[] = {"profile", "show", name, "--json", NULL};
	return ok_json(args);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static bool jbool(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_boolean(v), "%s is not a boolean", key);
	return json_is_true(v);
}

static void put_device(const char *name, const char *model,
		       Pt__Protocol protocol, const char *profile)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = (char *)name;
	dev.model = (char *)model;
	dev.protocol = protocol;
	dev.security_profile = (char *)profile;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
}

START_TEST(add_and_show)
{
	uint64_t seq = pt_fixture_last_seq(dir);
	const char *add[] = {"profile", "add", "Lobby SCCP", "--protocol",
			     "sccp", "--model", "Cisco 7975", "--description",
			     "lobby phones", "--mode", "authenticated",
			     "--auth-mode", "string", "--key-size", "3072",
			     "--tftp-encrypted-config", "yes", NULL};
	pt_run_t r;
	run(&r, 0, add);
	ck_assert_ptr_nonnull(strstr(r.out, "Lobby SCCP"));
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);

	json_t *j = show("Lobby SCCP");
	ck_assert_str_eq(jstr(j, "name"), "Lobby SCCP");
	ck_assert_str_eq(jstr(j, "description"), "lobby phones");
	ck_assert_str_eq(jstr(j, "protocol"), "SCCP");
	ck_assert_str_eq(jstr(j, "model"), "7975");
	ck_assert_str_eq(jstr(j, "security_mode"), "authenticated");
	ck_assert(jbool(j, "tftp_encrypted_config"));
	ck_assert_str_eq(jstr(j, "auth_mode"), "string");
	ck_assert_str_eq(jstr(j, "key_order"), "rsa-only");
	ck_assert_int_eq(jint(j, "key_size"), 3072);
	ck_assert_int_eq(jint(j, "ec_key_size"), 384);
	ck_assert(json_is_null(json_object_get(j, "transport")));
	ck_assert(json_is_null(json_object_get(j, "digest_auth")));
	ck_assert(json_is_null(json_object_get(j, "nonce_validity")));
	ck_assert(json_is_null(json_object_get(j, "sip_port")));
	ck_assert(!jbool(j, "predefined"));
	ck_assert_int_eq(jint(j, "devices"), 0);
	json_decref(j);

	/* Human form. */
	const char *show_args[] = {"profile", "show", "Lobby SCCP", NULL};
	run(&r, 0, show_args);
	ck_assert_ptr_nonnull(strstr(r.out, "authenticated"));
	ck_assert_ptr_null(strstr(r.out, "sip_port"));
	pt_run_clear(&r);
}
END_TEST

START_TEST(sip_defaults_follow_mode)
{
	const char *add[] = {"profile", "add", "Secure SIP", "--protocol", "sip",
			     "--mode", "encrypted", "--model", "8841",
			     "--key-order", "ec-preferred", "--digest-auth",
			     "yes", "--nonce-validity", "120", NULL};
	json_t *j = ok_json((const char *[]){"--json", "profile", "add",
					     "Plain SIP", "--protocol", "sip",
					     NULL});
	ck_assert_str_eq(jstr(j, "transport"), "tcp+udp");
	ck_assert_int_eq(jint(j, "nonce_validity"), 600);
	ck_assert_int_eq(jint(j, "sip_port"), 5060);
	ck_assert(json_is_null(json_object_get(j, "model")));
	ck_assert_str_eq(jstr(j, "auth_mode"), "null");
	ck_assert_int_eq(jint(j, "key_size"), 2048);
	json_decref(j);

	ok(add);
	j = show("Secure SIP");
	ck_assert_str_eq(jstr(j, "transport"), "tls");
	ck_assert(jbool(j, "digest_auth"));
	ck_assert_int_eq(jint(j, "nonce_validity"), 120);
	ck_assert_str_eq(jstr(j, "key_order"), "ec-preferred");
	json_decref(j);

	/* Back to non-secure: TLS falls back to the non-secure default. */
	const char *down[] = {"profile", "update", "Secure SIP", "--mode",
			      "non-secure", NULL};
	ok(down);
	j = show("Secure SIP");
	ck_assert_str_eq(jstr(j, "transport"), "tcp+udp");
	json_decref(j);
	const char *udp[] = {"profile", "update", "Secure SIP", "--transport",
			     "udp", "--sip-port", "5070", NULL};
	ok(udp);
	j = show("Secure SIP");
	ck_assert_str_eq(jstr(j, "transport"), "udp");
	ck_assert_int_eq(jint(j, "sip_port"), 5070);
	json_decref(j);
}
END_TEST

START_TEST(update_changes_only_given_settings)
{
	const char *add[] = {"profile", "add", "Branch", "--protocol", "sip",
			     "--description", "branch office", "--key-size",
			     "4096", NULL};
	ok(add);
	uint64_t seq = pt_fixture_last_seq(dir);
	const char *upd[] = {"--json", "profile", "update", "Branch", "--mode",
			     "authenticated", "--auth-mode", "lsc", NULL};
	json_t *j = ok_json(upd);
	ck_assert_str_eq(jstr(j, "security_mode"), "authenticated");
	ck_assert_str_eq(jstr(j, "auth_mode"), "lsc");
	ck_assert_str_eq(jstr(j, "transport"), "tls");
	ck_assert_str_eq(jstr(j, "description"), "branch office");
	ck_assert_int_eq(jint(j, "key_size"), 4096);
	json_decref(j);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);

	/* The same settings again: nothing written. */
	const char *again[] = {"profile", "update", "Branch", "--mode",
			       "authenticated", NULL};
	ok(again);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
}
END_TEST

START_TEST(copy_profiles)
{
	const char *copy[] = {"profile", "copy", P7975_SCCP, "My 7975",
			      "--mode", "encrypted", "--auth-mode", "mic", NULL};
	ok(copy);
	json_t *j = show("My 7975");
	ck_assert(!jbool(j, "predefined"));
	ck_assert_str_eq(jstr(j, "model"), "7975");
	ck_assert_str_eq(jstr(j, "protocol"), "SCCP");
	ck_assert_str_eq(jstr(j, "security_mode"), "encrypted");
	ck_assert_str_eq(jstr(j, "auth_mode"), "mic");
	json_decref(j);
	/* The source is untouched. */
	j = show(P7975_SCCP);
	ck_assert(jbool(j, "predefined"));
	ck_assert_str_eq(jstr(j, "security_mode"), "non-secure");
	json_decref(j);
	/* Copy of a copy, to a new model. */
	const char *again[] = {"profile", "copy", "My 7975", "My 7940",
			       "--model", "7940", NULL};
	ok(again);
	j = show("My 7940");
	ck_assert_str_eq(jstr(j, "model"), "7940");
	ck_assert_str_eq(jstr(j, "security_mode"), "encrypted");
	json_decref(j);

	refused("exists already",
		(const char *[]){"profile", "copy", P7975_SCCP, "My 7975",
				 NULL});
	refused("protocol",
		(const char *[]){"profile", "copy", P7975_SCCP, "x",
				 "--protocol", "sip", NULL});
	refused("predefined profile",
		(const char *[]){"profile", "copy", "My 7975", P8841_SIP,
				 NULL});
	refused("no profile named 'Nobody'",
		(const char *[]){"profile", "copy", "Nobody", "x", NULL});
}
END_TEST

START_TEST(rename_profiles)
{
	const char *add[] = {"profile", "add", "Old", "--protocol", "sccp",
			     NULL};
	ok(add);
	const char *ren[] = {"profile", "update", "Old", "--name", "New",
			     "--description", "renamed", NULL};
	pt_run_t r;
	run(&r, 0, ren);
	ck_assert_ptr_nonnull(strstr(r.out, "renamed"));
	pt_run_clear(&r);
	json_t *j = show("New");
	ck_assert_str_eq(jstr(j, "description"), "renamed");
	json_decref(j);
	refused("no profile named 'Old'",
		(const char *[]){"profile", "show", "Old", NULL});

	/* A profile in use keeps its name. */
	put_device("SEP00AA00BB00CC", "7975", PT__PROTOCOL__PROTOCOL_SCCP,
		   "New");
	refused("SEP00AA00BB00CC",
		(const char *[]){"profile", "update", "New", "--name", "Newer",
				 NULL});
	j = show("New");
	ck_assert_int_eq(jint(j, "devices"), 1);
	json_decref(j);
	const char *add2[] = {"profile", "add", "Other", "--protocol", "sccp",
			      NULL};
	ok(add2);
	refused("exists already",
		(const char *[]){"profile", "update", "Other", "--name", "New",
				 NULL});
	refused("predefined profile",
		(const char *[]){"profile", "update", "Other", "--name",
				 P7975_SCCP, NULL});
}
END_TEST

START_TEST(delete_profiles)
{
	const char *add[] = {"profile", "add", "Temp", "--protocol", "sip",
			     NULL};
	ok(add);
	uint64_t seq = pt_fixture_last_seq(dir);
	const char *del[] = {"profile", "delete", "Temp", NULL};
	ok(del);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
	refused("no profile named 'Temp'", del);

	ok(add);
	put_device("SEP111111111111", "8841", PT__PROTOCOL__PROTOCOL_SIP,
		   "Temp");
	put_device("SEP222222222222", "8841", PT__PROTOCOL__PROTOCOL_SIP,
		   "Temp");
	refused("used by 2 devices (e.g. SEP111111111111)", del);
	refused("predefined",
		(const char *[]){"profile", "delete", P8841_SIP, NULL});
}
END_TEST

START_TEST(refusals_change_nothing)
{
	const char *add[] = {"profile", "add", "Mine", "--protocol", "sccp",
			     NULL};
	ok(add);
	refused("predefined",
		(const char *[]){"profile", "update", P7975_SCCP, "--mode",
				 "encrypted", NULL});
	refused("key size",
		(const char *[]){"profile", "add", "Weak", "--protocol", "sccp",
				 "--key-size", "768", NULL});
	refused("key size",
		(const char *[]){"profile", "update", "Mine", "--key-size",
				 "768", NULL});
	refused("--ec-key-size",
		(const char *[]){"profile", "update", "Mine", "--ec-key-size",
				 "300", NULL});
	refused("SIP profiles only",
		(const char *[]){"profile", "add", "Digest", "--protocol",
				 "sccp", "--digest-auth", "yes", NULL});
	refused("SIP profiles only",
		(const char *[]){"profile", "update", "Mine", "--transport",
				 "tcp", NULL});
	refused("TLS",
		(const char *[]){"profile", "add", "Bad SIP", "--protocol",
				 "sip", "--mode", "encrypted", "--transport",
				 "tcp", NULL});
	refused("EC keys",
		(const char *[]){"profile", "add", "EC 7975", "--protocol",
				 "sip", "--model", "7975", "--key-order",
				 "ec-only", NULL});
	refused("does not speak",
		(const char *[]){"profile", "add", "SCCP 8841", "--protocol",
				 "sccp", "--model", "8841", NULL});
	refused("unknown phone model",
		(const char *[]){"profile", "add", "Odd", "--protocol", "sip",
				 "--model", "1234", NULL});
	refused("--nonce-validity",
		(const char *[]){"profile", "add", "Nonce", "--protocol", "sip",
				 "--nonce-validity", "5", NULL});
	refused("--mode",
		(const char *[]){"profile", "add", "Mode", "--protocol", "sip",
				 "--mode", "paranoid", NULL});
	refused("exists already",
		(const char *[]){"profile", "add", "Mine", "--protocol", "sccp",
				 NULL});
	refused("predefined profile",
		(const char *[]){"profile", "add", P7975_SCCP, "--protocol",
				 "sccp", NULL});
	refused("protocol",
		(const char *[]){"profile", "update", "Mine", "--protocol",
				 "sip", NULL});
	refused("no profile named 'Ghost'",
		(const char *[]){"profile", "update", "Ghost", "--mode",
				 "encrypted", NULL});
	refused("no profile named 'Ghost'",
		(const char *[]){"profile", "show", "Ghost", NULL});
	refused("no profile named 'Ghost'",
		(const char *[]){"profile", "delete", "Ghost", NULL});
}
END_TEST

START_TEST(usage_errors)
{
	const char *const cases[][8] = {
		{"profile", NULL},
		{"profile", "frobnicate", NULL},
		{"profile", "add", "NoProtocol", NULL},
		{"profile", "add", "X", "--protocol", "sip", "--bogus", NULL},
		{"profile", "add", "X", "Y", "--protocol", "sip", NULL},
		{"profile", "copy", "OnlySource", NULL},
		{"profile", "add", "X", "--protocol", "sip", "--name", "Y", NULL},
		{"profile", "list", "--predefined", "--custom", NULL},
		{"profile", "show", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pt_fixture_state_t before;
		pt_fixture_state(dir, &before);
		pt_run_t r;
		run(&r, 2, cases[i]);
		pt_run_clear(&r);
		pt_fixture_assert_unchanged(dir, &before);
	}
	const char *verbs[] = {"add", "update", "copy", "show", "list",
			       "delete"};
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		pt_run_t r;
		run(&r, 0, (const char *[]){"profile", verbs[i], "--help", NULL});
		ck_assert_ptr_nonnull(strstr(r.out, "usage: phonetrust profile"));
		pt_run_clear(&r);
	}
	pt_run_t r;
	run(&r, 0, (const char *[]){"profile", "--help", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "copy"));
	pt_run_clear(&r);
}
END_TEST

static size_t list_length(const char *const *args)
{
	json_t *j = ok_json(args);
	ck_assert(json_is_array(j));
	size_t n = json_array_size(j);
	json_decref(j);
	return n;
}

START_TEST(list_filters)
{
	const char *add1[] = {"profile", "add", "A SIP", "--protocol", "sip",
			      "--model", "8841", NULL};
	const char *add2[] = {"profile", "add", "B SCCP", "--protocol", "sccp",
			      NULL};
	ok(add1);
	ok(add2);
	size_t predefined = pt_profile_predefined_count();
	ck_assert_uint_eq(list_length((const char *[]){"profile", "list",
						       "--json", NULL}),
			  predefined + 2);
	ck_assert_uint_eq(list_length((const char *[]){"profile", "list",
						       "--predefined", "--json",
						       NULL}),
			  predefined);
	json_t *j = ok_json((const char *[]){"profile", "list", "--custom",
					     "--json", NULL});
	ck_assert_uint_eq(json_array_size(j), 2);
	ck_assert_str_eq(jstr(json_array_get(j, 0), "name"), "A SIP");
	ck_assert_str_eq(jstr(json_array_get(j, 1), "name"), "B SCCP");
	ck_assert(json_object_get(json_array_get(j, 0), "devices") == NULL);
	json_decref(j);
	/* 8841 SIP: the predefined one and ours. */
	ck_assert_uint_eq(list_length((const char *[]){"profile", "list",
						       "--model", "8841",
						       "--protocol", "sip",
						       "--json", NULL}),
			  2);
	ck_assert_uint_eq(list_length((const char *[]){"profile", "list",
						       "--model", "8841",
						       "--protocol", "sccp",
						       "--json", NULL}),
			  0);
	ck_assert_uint_eq(list_length((const char *[]){"profile", "list",
						       "--model", "7940",
						       "--json", NULL}),
			  2);
	refused("unknown phone model",
		(const char *[]){"profile", "list", "--model", "1234", NULL});
	pt_run_t r;
	run(&r, 0, (const char *[]){"profile", "list", "--custom", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
	ck_assert_ptr_nonnull(strstr(r.out, "B SCCP"));
	ck_assert_ptr_null(strstr(r.out, P7975_SCCP));
	pt_run_clear(&r);
}
END_TEST

static Suite *cli_profile_suite(void)
{
	Suite *s = suite_create("cli_profile");
	TCase *tc = tcase_create("verbs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, add_and_show);
	tcase_add_test(tc, sip_defaults_follow_mode);
	tcase_add_test(tc, update_changes_only_given_settings);
	tcase_add_test(tc, copy_profiles);
	tcase_add_test(tc, rename_profiles);
	tcase_add_test(tc, delete_profiles);
	tcase_add_test(tc, list_filters);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cli_profile_suite());
}
