/* phonetrust cluster show|set|reset, run as the real binary. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/params.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/profile_store.h"
#include "store/records.h"
#include "store/store.h"

static char *dir;

static void setup(void)
{
	dir = pt_test_tmpdir();
	pt_fixture_node(dir);
}

/* A store as a test without init leaves it: profiles, no cluster record. */
static void setup_bare(void)
{
	dir = pt_test_tmpdir();
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_profiles_seed(txn), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

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
	ck_assert_msg(r->status == want, "%s: exit %d, want %d; stderr: %s",
		      args[1] ? args[1] : args[0], r->status, want, r->err);
}

static json_t *show_json(void)
{
	pt_run_t r;
	run(&r, 0, (const char *[]){"cluster", "show", "--json", NULL});
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

static json_t *param(json_t *show, const char *name)
{
	json_t *p = json_object_get(json_object_get(show, "parameters"), name);
	ck_assert_msg(json_is_object(p), "no parameter %s", name);
	return p;
}

static json_int_t int_value(json_t *show, const char *name)
{
	json_t *v = json_object_get(param(show, name), "value");
	ck_assert(json_is_integer(v));
	return json_integer_value(v);
}

static const char *str_value(json_t *show, const char *name)
{
	json_t *v = json_object_get(param(show, name), "value");
	ck_assert(json_is_string(v));
	return json_string_value(v);
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
}

static Pt__Cluster *stored_cluster(void)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *c = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &c), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return c;
}

START_TEST(show_every_parameter)
{
	json_t *j = show_json();
	ck_assert(json_is_true(json_object_get(j, "initialised")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "security_mode")),
			 "non-secure");
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")),
			 "fixture");
	json_t *params = json_object_get(j, "parameters");
	ck_assert_uint_eq(json_object_size(params), pt_param_count());
	ck_assert_int_eq(int_value(j, PT_PARAM_CAPF_PHONE_PORT), 3804);
	ck_assert_int_eq(int_value(j, PT_PARAM_CAPF_KEEPALIVE_MIN), 15);
	ck_assert_str_eq(str_value(j, PT_PARAM_CAPF_ISSUER), "capf");
	json_t *keepalive = param(j, PT_PARAM_CAPF_KEEPALIVE_MIN);
	ck_assert_int_eq(json_integer_value(json_object_get(keepalive, "min")),
			 5);
	ck_assert_int_eq(json_integer_value(json_object_get(keepalive, "max")),
			 60);
	ck_assert_int_eq(json_integer_value(json_object_get(keepalive,
							    "default")),
			 15);
	ck_assert_str_eq(json_string_value(json_object_get(keepalive, "unit")),
			 "minutes");
	ck_assert_str_eq(json_string_value(json_object_get(keepalive, "scope")),
			 "service:capf");
	json_t *choices = json_object_get(param(j, PT_PARAM_CAPF_ISSUER),
					  "choices");
	ck_assert_uint_eq(json_array_size(choices), 3);
	json_decref(j);

	pt_run_t r;
	run(&r, 0, (const char *[]){"cluster", "show", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "security_mode"));
	ck_assert_ptr_nonnull(strstr(r.out, "capf_keepalive_minutes"));
	ck_assert_ptr_nonnull(strstr(r.out, "5-60"));
	pt_run_clear(&r);
	run(&r, 0, (const char *[]){"cluster", "show", "tvs_port", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "2445"));
	ck_assert_ptr_null(strstr(r.out, "capf_phone_port"));
	pt_run_clear(&r);
	refused("unknown cluster parameter",
		(const char *[]){"cluster", "show", "tvs_prot", NULL});
}
END_TEST

START_TEST(set_several_in_one_transaction)
{
	uint64_t seq = pt_fixture_last_seq(dir);
	pt_run_t r;
	run(&r, 0, (const char *[]){"cluster", "set", "capf_phone_port", "3805",
				    "capf_keepalive_minutes", "20",
				    "capf_certificate_issuer", "Offline-CA",
				    "cluster_fqdn", "*.pt.example", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "capf_phone_port: 3804 -> 3805"));
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
	json_t *j = show_json();
	ck_assert_int_eq(int_value(j, PT_PARAM_CAPF_PHONE_PORT), 3805);
	ck_assert_int_eq(int_value(j, PT_PARAM_CAPF_KEEPALIVE_MIN), 20);
	ck_assert_str_eq(str_value(j, PT_PARAM_CAPF_ISSUER), "offline-ca");
	ck_assert_str_eq(str_value(j, PT_PARAM_CLUSTER_FQDN), "*.pt.example");
	json_decref(j);
	Pt__Cluster *c = stored_cluster();
	ck_assert_uint_eq(c->n_parameters, 4);
	/* The rest of the record is kept. */
	ck_assert_str_eq(c->name, "fixture");
	ck_assert_uint_eq(c->kdf_salt.len, 16);
	pt__cluster__free_unpacked(c, NULL);

	/* The values in force again: nothing written. */
	run(&r, 0, (const char *[]){"cluster", "set", "capf_phone_port",
				    "03805", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "nothing changed"));
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
}
END_TEST

START_TEST(one_bad_value_refuses_all)
{
	refused("capf_keepalive_minutes",
		(const char *[]){"cluster", "set", "capf_phone_port", "3805",
				 "capf_keepalive_minutes", "61", NULL});
	refused("capf_key_size",
		(const char *[]){"cluster", "set", "capf_key_size", "768",
				 NULL});
	refused("unknown cluster parameter 'capf_phone_prot'",
		(const char *[]){"cluster", "set", "capf_phone_port", "3805",
				 "capf_phone_prot", "3806", NULL});
	refused("security_mode",
		(const char *[]){"cluster", "set", "security_mode", "strict",
				 NULL});
	refused("cluster_fqdn",
		(const char *[]){"cluster", "set", "cluster_fqdn", "a b", NULL});
	refused("unknown cluster parameter",
		(const char *[]){"cluster", "reset", "nothing_here", NULL});
	json_t *j = show_json();
	ck_assert_int_eq(int_value(j, PT_PARAM_CAPF_PHONE_PORT), 3804);
	json_decref(j);
}
END_TEST

/* Writes the mode straight into the store, as `ctl init` would with its
 * CTL, to see what the cluster verbs do with it. */
static void store_mode(Pt__ClusterSecurityMode mode)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *c = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &c), PT_OK);
	c->security_mode = mode;
	ck_assert_int_eq(pt_cluster_put(txn, c), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt__cluster__free_unpacked(c, NULL);
	pt_store_destroy(&store);
}

/* The mode changes only with the CTL (ctl init/update); set and reset
 * refuse it and reset --all leaves it alone. */
START_TEST(security_mode_and_reset)
{
	refused("ctl init --mode",
		(const char *[]){"cluster", "set", "security_mode", "mixed",
				 "tvs_port", "2446", NULL});
	refused("ctl update --signer TOKEN --mode",
		(const char *[]){"cluster", "set", "security_mode",
				 "non-secure", NULL});
	refused("ctl init",
		(const char *[]){"cluster", "reset", "security_mode", NULL});

	pt_run_t r;
	run(&r, 0, (const char *[]){"cluster", "set", "tvs_port", "2446",
				    "capf_key_size", "4096", NULL});
	pt_run_clear(&r);
	store_mode(PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED);
	json_t *j = show_json();
	ck_assert_str_eq(json_string_value(json_object_get(j, "security_mode")),
			 "mixed");
	ck_assert_int_eq(int_value(j, PT_PARAM_TVS_PORT), 2446);
	ck_assert_str_eq(str_value(j, PT_PARAM_CAPF_KEY_SIZE), "4096");
	json_decref(j);

	uint64_t seq = pt_fixture_last_seq(dir);
	run(&r, 0, (const char *[]){"cluster", "reset", "tvs_port", NULL});
	pt_run_clear(&r);
	ck_assert_uint_eq(pt_fixture_last_seq(dir), seq + 1);
	Pt__Cluster *c = stored_cluster();
	ck_assert_uint_eq(c->n_parameters, 1);
	ck_assert_str_eq(c->parameters[0]->key, PT_PARAM_CAPF_KEY_SIZE);
	ck_assert_int_eq(c->security_mode,
			 PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED);
	pt__cluster__free_unpacked(c, NULL);

	run(&r, 0, (const char *[]){"cluster", "reset", "--all", NULL});
	pt_run_clear(&r);
	c = stored_cluster();
	ck_assert_uint_eq(c->n_parameters, 0);
	ck_assert_int_eq(c->security_mode,
			 PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED);
	pt__cluster__free_unpacked(c, NULL);
}
END_TEST

START_TEST(usage_errors)
{
	const char *const cases[][6] = {
		{"cluster", NULL},
		{"cluster", "frobnicate", NULL},
		{"cluster", "set", NULL},
		{"cluster", "set", "capf_phone_port", NULL},
		{"cluster", "reset", NULL},
		{"cluster", "reset", "--all", "tvs_port", NULL},
		{"cluster", "show", "--bogus", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pt_fixture_state_t before;
		pt_fixture_state(dir, &before);
		pt_run_t r;
		run(&r, 2, cases[i]);
		pt_run_clear(&r);
		pt_fixture_assert_unchanged(dir, &before);
	}
	const char *verbs[] = {"show", "set", "reset"};
	for (size_t i = 0; i < 3; i++) {
		pt_run_t r;
		run(&r, 0, (const char *[]){"cluster", verbs[i], "--help", NULL});
		ck_assert_ptr_nonnull(strstr(r.out, "usage: phonetrust cluster"));
		pt_run_clear(&r);
	}
}
END_TEST

/* Without `init` there is no cluster record: show prints the defaults,
 * set refuses and creates nothing. */
START_TEST(store_without_cluster_record)
{
	json_t *j = show_json();
	ck_assert(json_is_false(json_object_get(j, "initialised")));
	ck_assert(json_is_null(json_object_get(j, "name")));
	ck_assert_int_eq(int_value(j, PT_PARAM_CAPF_PHONE_PORT), 3804);
	json_decref(j);
	pt_run_t r;
	run(&r, 0, (const char *[]){"cluster", "show", NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "no cluster record"));
	pt_run_clear(&r);
	refused("phonetrust init",
		(const char *[]){"cluster", "set", "capf_phone_port", "3805",
				 NULL});
	refused("phonetrust init",
		(const char *[]){"cluster", "reset", "--all", NULL});
	/* Profiles work on such a store. */
	run(&r, 0, (const char *[]){"profile", "add", "Bare", "--protocol",
				    "sip", NULL});
	pt_run_clear(&r);
}
END_TEST

static Suite *cli_cluster_suite(void)
{
	Suite *s = suite_create("cli_cluster");
	TCase *tc = tcase_create("initialised");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, show_every_parameter);
	tcase_add_test(tc, set_several_in_one_transaction);
	tcase_add_test(tc, one_bad_value_refuses_all);
	tcase_add_test(tc, security_mode_and_reset);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("bare store");
	tcase_add_checked_fixture(tc, setup_bare, teardown);
	tcase_add_test(tc, store_without_cluster_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cli_cluster_suite());
}
