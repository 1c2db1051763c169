/* migrate legacy against the generator's ground truth: fixtures of several
 * seeds, sizes, directory counts, overlaps and damage rates are migrated
 * into real publishers by the real CLI, and the store and the report must
 * match expected.json exactly (migrate_util.h says what is compared). */
#include "migrate_util.h"

struct fixture_case {
	unsigned phones, subs, seed;
	double damage, overlap;
	const char *batch;    /* --batch, or NULL */
	const char *spill_mb; /* --spill-mb, or NULL */
};

static const struct fixture_case cases[] = {
	{2000, 2, 3, 0.05, 0.1, NULL, NULL},
	{800, 0, 11, 0.0, 0.1, NULL, NULL},
	/* Several sorted runs merged, odd batch size. */
	{6000, 3, 5, 0.02, 0.4, "7", "1"},
	{1000, 1, 9, 0.2, 0.3, "250", NULL},
};

static void run_case(const struct fixture_case *fc)
{
	char *tmp = pt_test_tmpdir();
	char *fixture = mg_fmt("%s/legacy", tmp);
	char *node = mg_fmt("%s/pub", tmp);
	char *report = mg_fmt("%s/report", tmp);
	mg_generate(fixture, fc->phones, fc->subs, fc->damage, fc->overlap,
		    fc->seed);
	mg_node(node);

	pt_run_t r;
	mg_migrate(&r, node, fixture, fc->subs, "--report", report,
		   fc->batch ? "--batch" : NULL, fc->batch,
		   fc->spill_mb ? "--spill-mb" : NULL, fc->spill_mb, NULL);
	ck_assert_msg(r.status == 0, "migrate: %s", r.err);
	ck_assert_msg(strstr(r.out, "imported"), "summary: %s", r.out);
	pt_run_clear(&r);
	mg_check_expected(node, fixture, report);

	/* Every device line names a directory and lines; new devices are
	 * imported or flagged, nothing else on a fresh store. */
	json_t *rep = mg_report(report);
	ck_assert_int_eq(mg_count(rep, "updated"), 0);
	ck_assert_int_eq(mg_count(rep, "unchanged"), 0);
	ck_assert_int_eq(mg_count(rep, "imported") + mg_count(rep, "flagged"),
			 mg_count(rep, "devices"));
	ck_assert_int_eq(mg_count(rep, "flagged"),
			 mg_count(rep, "needs_reissue"));
	json_decref(rep);

	/* No spill is left behind; the archive holds every source file. */
	char *path = mg_fmt("%s/legacy-archive", node);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	free(path);
	path = mg_fmt("ls -d '%s'/legacy-spill.* >/dev/null 2>&1", node);
	ck_assert_int_ne(system(path), 0);
	free(path);

	pt_test_rmtree(tmp);
	free(fixture);
	free(node);
	free(report);
	free(tmp);
}

START_TEST(matches_expected)
{
	run_case(&cases[_i]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_expected");
	TCase *tc = tcase_create("expected");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, matches_expected, 0,
			    (int)(sizeof cases / sizeof cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
