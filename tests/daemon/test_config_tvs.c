/* The [tvs] section of phonetrustd's configuration: defaults, values,
 * and the refusals with file, line, section and key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "lib/errors.h"
#include "pt_conftest.h"
#include "pt_test.h"

static pt_conftest_t t;

static void setup(void)
{
	pt_conftest_init(&t);
}

static void teardown(void)
{
	pt_conftest_clear(&t);
}

/* The first line after NODE is line 7. */
#define NODE PT_CONFTEST_SUBSCRIBER

static int parse(const char *text)
{
	return pt_conftest_parse(&t, text);
}

static void expect_refused(const char *text, int line, const char *frag)
{
	pt_conftest_refused(&t, text, line, frag);
	ck_assert_ptr_null(t.cfg.tvs_bind_address);
}

START_TEST(defaults)
{
	ck_assert_msg(parse(NODE "[ports]\nbind_address = 10.0.0.5\n") == PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.tvs);
	ck_assert(!t.cfg.tvs_enabled);
	ck_assert(!t.cfg.tvs_port_set);
	ck_assert_uint_eq(t.cfg.tvs_port, PT_CONFIG_DEFAULT_TVS_PORT);
	ck_assert_str_eq(t.cfg.tvs_bind_address, "10.0.0.5");
	ck_assert_uint_eq(t.cfg.tvs_workers, 0);
	ck_assert_uint_eq(t.cfg.tvs_max_connections, 10000);
	ck_assert_uint_eq(t.cfg.tvs_timeout, 10);
}
END_TEST

START_TEST(values)
{
	ck_assert_msg(parse(NODE "[tvs]\n"
				 "enabled = yes\n"
				 "port = 12445\n"
				 "bind_address = ::1\n"
				 "workers = 4\n"
				 "max_connections = 2000\n"
				 "timeout = 3\n") == PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.tvs_enabled);
	ck_assert(t.cfg.tvs_port_set);
	ck_assert_uint_eq(t.cfg.tvs_port, 12445);
	ck_assert_str_eq(t.cfg.tvs_bind_address, "::1");
	ck_assert_uint_eq(t.cfg.tvs_workers, 4);
	ck_assert_uint_eq(t.cfg.tvs_max_connections, 2000);
	ck_assert_uint_eq(t.cfg.tvs_timeout, 3);
	pt_config_clear(&t.cfg);

	/* The same port in both places is fine; [ports] alone sets it. */
	ck_assert_msg(parse(NODE "[ports]\ntvs = 3000\n[tvs]\nport = 3000\n") ==
			      PT_OK,
		      "%s", t.why);
	ck_assert_uint_eq(t.cfg.tvs_port, 3000);
	pt_config_clear(&t.cfg);
	ck_assert_msg(parse(NODE "[ports]\ntvs = 3001\n") == PT_OK, "%s",
		      t.why);
	ck_assert(t.cfg.tvs_port_set);
	ck_assert_uint_eq(t.cfg.tvs_port, 3001);
	pt_config_clear(&t.cfg);
	ck_assert_msg(parse(NODE "[tvs]\nworkers = 0\ntimeout = 300\n"
				 "max_connections = 1000000\n") == PT_OK,
		      "%s", t.why);
}
END_TEST

START_TEST(refusals)
{
	expect_refused(NODE "[tvs]\nenabled = maybe\n", 8,
		       "[tvs] enabled: bad value 'maybe'");
	expect_refused(NODE "[tvs]\nport = 0\n", 8,
		       "[tvs] port: port 0 is out of range");
	expect_refused(NODE "[tvs]\nbind_address = localhost\n", 8,
		       "[tvs] bind_address: bad value 'localhost'");
	expect_refused(NODE "[tvs]\nworkers = 257\n", 8,
		       "[tvs] workers: bad value '257'");
	expect_refused(NODE "[tvs]\nmax_connections = 0\n", 8,
		       "[tvs] max_connections: bad value '0'");
	expect_refused(NODE "[tvs]\ntimeout = 0\n", 8,
		       "[tvs] timeout: bad value '0'");
	expect_refused(NODE "[tvs]\ntimeout = 301\n", 8,
		       "expected a whole number from 1 to 300");
	expect_refused(NODE "[tvs]\ncolour = blue\n", 8,
		       "[tvs] colour: unknown key (keys of [tvs]: enabled, "
		       "port, bind_address, workers, max_connections, "
		       "timeout)");
	expect_refused(NODE "[tvs]\ntimeout = 1\ntimeout = 2\n", 9,
		       "duplicate key");
	expect_refused(NODE "[ports]\ntvs = 3000\n[tvs]\nport = 3001\n", 10,
		       "[tvs] port: 3001 differs from [ports] tvs = 3000 at "
		       "line 8");
	expect_refused(NODE "[services]\ntvs = no\n[tvs]\nenabled = yes\n", 10,
		       "[tvs] enabled: the TVS service is switched off");
	/* A [tvs] port meets the other TCP services. */
	expect_refused("[node]\nname = p\nrole = publisher\ndata_dir = /d\n"
		       "[tvs]\nport = 3804\n",
		       0, "port 3804 is also used by");
}
END_TEST

static Suite *config_tvs_suite(void)
{
	Suite *s = suite_create("config_tvs");
	TCase *tc = tcase_create("tvs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, values);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(config_tvs_suite());
}
