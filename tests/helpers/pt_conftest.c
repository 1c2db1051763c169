#include "pt_conftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "pt_test.h"

void pt_conftest_init(pt_conftest_t *t)
{
	memset(t, 0, sizeof *t);
	t->dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&t->path, "%s/phonetrust.ini", t->dir), 0);
}

void pt_conftest_clear(pt_conftest_t *t)
{
	pt_config_clear(&t->cfg);
	if (t->dir)
		pt_test_rmtree(t->dir);
	free(t->dir);
	free(t->path);
	memset(t, 0, sizeof *t);
}

int pt_conftest_parse(pt_conftest_t *t, const char *text)
{
	pt_test_write_file(t->path, text);
	return pt_config_parse_file(t->path, &t->cfg, t->why, sizeof t->why);
}

void pt_conftest_refused(pt_conftest_t *t, const char *text, int line,
			 const char *frag)
{
	char prefix[512];
	int r = pt_conftest_parse(t, text);
	ck_assert_msg(r == PT_ERR_CONFIG, "accepted or wrong error %d (%s): %s",
		      r, t->why, text);
	if (line > 0)
		snprintf(prefix, sizeof prefix, "%s:%d: ", t->path, line);
	else
		snprintf(prefix, sizeof prefix, "%s: ", t->path);
	ck_assert_msg(strncmp(t->why, prefix, strlen(prefix)) == 0,
		      "'%s' does not start with '%s'", t->why, prefix);
	ck_assert_msg(strstr(t->why, frag), "'%s' not in '%s'", frag, t->why);
}
