/* migrate legacy runs that meet an earlier state: a dry run reports what
 * the real run then does and writes nothing (digest, changelog, archive,
 * spill); a second run is a no-op (changelog unchanged, every device
 * unchanged); a subscriber's directory brought in by a later run updates
 * exactly the devices it holds newer records for, and the store then
 * matches expected.json as if all were migrated at once. */
#include "migrate_util.h"

#define SUBS 2

static char *tmp, *fixture, *node;

static void setup(void)
{
	tmp = pt_test_tmpdir();
	fixture = mg_fmt("%s/legacy", tmp);
	node = mg_fmt("%s/pub", tmp);
	mg_generate(fixture, 1500, SUBS, 0.05, 0.3, 21);
	mg_node(node);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(fixture);
	free(node);
	free(tmp);
}

static void migrate_ok(unsigned subs, const char *report, const char *extra)
{
	pt_run_t r;
	mg_migrate(&r, node, fixture, subs, "--report", report, extra, NULL);
	ck_assert_msg(r.status == 0, "migrate: %s", r.err);
	pt_run_clear(&r);
}

static int exists(const char *dir, const char *name)
{
	char *p = mg_fmt("%s/%s", dir, name);
	struct stat st;
	int e = stat(p, &st) == 0;
	free(p);
	return e;
}

START_TEST(dry_run_equals_real_run_and_writes_nothing)
{
	char *dry = mg_fmt("%s/dry", tmp), *real = mg_fmt("%s/real", tmp);
	pt_fixture_state_t before;
	pt_fixture_state(node, &before);
	migrate_ok(SUBS, dry, "--dry-run");
	pt_fixture_assert_unchanged(node, &before);
	ck_assert(!exists(node, "legacy-archive"));
	char *ls = mg_fmt("ls -d '%s'/legacy-spill.* >/dev/null 2>&1", node);
	ck_assert_int_ne(system(ls), 0);

	migrate_ok(SUBS, real, NULL);
	ck_assert_uint_gt(pt_fixture_last_seq(node), before.seq);
	ck_assert_int_ne(system(ls), 0);
	free(ls);
	json_t *a = mg_report(dry), *b = mg_report(real);
	ck_assert(json_is_true(json_object_get(a, "dry_run")));
	ck_assert(json_is_false(json_object_get(b, "dry_run")));
	/* Line for line the same actions, sources and reasons. */
	ck_assert_msg(json_equal(json_object_get(a, "devices"),
				 json_object_get(b, "devices")),
		      "dry run and real run reported different devices");
	json_t *ca = json_object_get(a, "counts"), *cb = json_object_get(b,
									  "counts");
	json_object_del(ca, "transactions");
	json_object_del(cb, "transactions");
	ck_assert(json_equal(ca, cb));
	ck_assert_int_gt(mg_count(a, "imported"), 0);
	json_decref(a);
	json_decref(b);
	mg_check_expected(node, fixture, real);
	free(dry);
	free(real);
}
END_TEST

START_TEST(rerun_writes_nothing)
{
	char *first = mg_fmt("%s/first", tmp), *again = mg_fmt("%s/again", tmp);
	migrate_ok(SUBS, first, NULL);
	pt_fixture_state_t before;
	pt_fixture_state(node, &before);
	migrate_ok(SUBS, again, NULL);
	pt_fixture_assert_unchanged(node, &before);

	json_t *a = mg_report(first), *b = mg_report(again);
	ck_assert_int_eq(mg_count(b, "unchanged"), mg_count(a, "devices"));
	ck_assert_int_eq(mg_count(b, "imported"), 0);
	ck_assert_int_eq(mg_count(b, "updated"), 0);
	ck_assert_int_eq(mg_count(b, "flagged"), 0);
	ck_assert_int_eq(mg_count(b, "transactions"), 0);
	ck_assert_int_eq(mg_count(b, "quarantined"), mg_count(a, "quarantined"));
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(b, "devices"), i, l)
	{
		const char *act = json_string_value(json_object_get(l, "action"));
		ck_assert_msg(!strcmp(act, "unchanged") ||
				      !strcmp(act, "quarantined"),
			      "rerun: %s", act);
	}
	json_decref(a);
	json_decref(b);
	mg_check_expected(node, fixture, again);
	free(first);
	free(again);
}
END_TEST

START_TEST(later_directories_update_what_they_hold_newer)
{
	char *pub = mg_fmt("%s/pub-only", tmp), *all = mg_fmt("%s/all", tmp);
	migrate_ok(0, pub, NULL);
	migrate_ok(SUBS, all, NULL);
	json_t *a = mg_report(pub), *b = mg_report(all);
	/* Devices the publisher's run imported are unchanged or updated
	 * now; the others are imported. */
	ck_assert_int_eq(mg_count(b, "unchanged") + mg_count(b, "updated") +
				 mg_count(b, "imported") + mg_count(b, "flagged"),
			 mg_count(b, "devices"));
	ck_assert_int_le(mg_count(b, "unchanged") + mg_count(b, "updated"),
			 mg_count(a, "devices"));
	ck_assert_int_gt(mg_count(b, "unchanged"), 0);
	ck_assert_int_gt(mg_count(b, "updated"), 0);
	ck_assert_int_gt(mg_count(b, "imported") + mg_count(b, "flagged"), 0);
	json_decref(a);
	json_decref(b);
	/* Winners, history and flags as if merged in one run. */
	mg_check_expected(node, fixture, all);
	free(pub);
	free(all);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_rerun");
	TCase *tc = tcase_create("rerun");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, dry_run_equals_real_run_and_writes_nothing);
	tcase_add_test(tc, rerun_writes_nothing);
	tcase_add_test(tc, later_directories_update_what_they_hold_newer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
