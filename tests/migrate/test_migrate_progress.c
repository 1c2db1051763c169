/* migrate legacy's progress bar: shown with rate and ETA when standard
 * error is a terminal (a real pseudo-terminal made by util-linux
 * script(1)), and absent when it is not, so logs and pipes stay clean. */
#include "migrate_util.h"

static char *tmp, *fixture, *node;

static void setup(void)
{
	tmp = pt_test_tmpdir();
	fixture = mg_fmt("%s/legacy", tmp);
	node = mg_fmt("%s/pub", tmp);
	mg_generate(fixture, 600, 1, 0.02, 0.1, 5);
	mg_node(node);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(fixture);
	free(node);
	free(tmp);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f, "cannot open %s", path);
	char *buf = calloc(1, 1 << 20);
	ck_assert(buf);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(bar_on_a_terminal)
{
	char *typescript = mg_fmt("%s/typescript", tmp);
	char *cmd = mg_fmt(
		"script -qec \"'%s' --data '%s' migrate legacy "
		"'%s/publisher' '%s/subscriber1'\" '%s' >/dev/null 2>&1",
		pt_test_bin("cli/phonetrust"), node, fixture, fixture,
		typescript);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
	char *out = read_text(typescript);
	/* Each phase draws its bar with a rate and an ETA. */
	ck_assert_msg(strstr(out, "reading"), "%s", out);
	ck_assert_msg(strstr(out, "writing"), "%s", out);
	ck_assert_msg(strstr(out, "records/s"), "%s", out);
	ck_assert_msg(strstr(out, "ETA "), "%s", out);
	ck_assert_msg(strstr(out, "100%"), "%s", out);
	free(out);
	free(cmd);
	free(typescript);
}
END_TEST

START_TEST(no_bar_without_a_terminal)
{
	pt_run_t r;
	mg_migrate(&r, node, fixture, 1, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(!strstr(r.err, "ETA"), "stderr: %s", r.err);
	ck_assert_msg(!strchr(r.err, '\r'), "stderr: %s", r.err);
	pt_run_clear(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_progress");
	TCase *tc = tcase_create("progress");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, bar_on_a_terminal);
	tcase_add_test(tc, no_bar_without_a_terminal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
