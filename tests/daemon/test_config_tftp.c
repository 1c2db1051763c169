/* The [tftp] section of phonetrustd's configuration: defaults, values,
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
	ck_assert_ptr_null(t.cfg.tftp_bind_address);
	ck_assert_ptr_null(t.cfg.tftp_static_dir);
}

START_TEST(defaults)
{
	ck_assert_msg(parse(NODE "[ports]\nbind_address = 10.0.0.5\n") == PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.tftp);
	ck_assert(!t.cfg.tftp_enabled);
	ck_assert_uint_eq(t.cfg.tftp_port, PT_CONFIG_DEFAULT_TFTP_PORT);
	ck_assert_str_eq(t.cfg.tftp_bind_address, "10.0.0.5");
	ck_assert_uint_eq(t.cfg.tftp_workers, 0);
	ck_assert_uint_eq(t.cfg.tftp_blksize_max, 1468);
	ck_assert_uint_eq(t.cfg.tftp_windowsize_max, 8);
	ck_assert_uint_eq(t.cfg.tftp_timeout, 1);
	ck_assert_uint_eq(t.cfg.tftp_retries, 5);
	ck_assert_uint_eq(t.cfg.tftp_max_transfers, 10000);
	ck_assert_uint_eq(t.cfg.tftp_per_client_max, 32);
	ck_assert_uint_eq(t.cfg.tftp_per_client_rate, 50);
	ck_assert_ptr_null(t.cfg.tftp_static_dir);
}
END_TEST

START_TEST(every_key)
{
	ck_assert_msg(parse(NODE "[tftp]\n"
				 "enabled = yes\n"
				 "port = 69\n"
				 "bind_address = ::\n"
				 "workers = 4\n"
				 "blksize_max = 65464\n"
				 "windowsize_max = 64\n"
				 "timeout = 3\n"
				 "retries = 0\n"
				 "max_transfers = 50000\n"
				 "per_client_max = 0\n"
				 "per_client_rate = 0\n"
				 "static_dir = /srv/tftp\n") == PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.tftp_enabled);
	ck_assert_uint_eq(t.cfg.tftp_port, 69);
	ck_assert_str_eq(t.cfg.tftp_bind_address, "::");
	ck_assert_str_eq(t.cfg.bind_address, "127.0.0.1");
	ck_assert_uint_eq(t.cfg.tftp_workers, 4);
	ck_assert_uint_eq(t.cfg.tftp_blksize_max, 65464);
	ck_assert_uint_eq(t.cfg.tftp_windowsize_max, 64);
	ck_assert_uint_eq(t.cfg.tftp_timeout, 3);
	ck_assert_uint_eq(t.cfg.tftp_retries, 0);
	ck_assert_uint_eq(t.cfg.tftp_max_transfers, 50000);
	ck_assert_uint_eq(t.cfg.tftp_per_client_max, 0);
	ck_assert_uint_eq(t.cfg.tftp_per_client_rate, 0);
	ck_assert_str_eq(t.cfg.tftp_static_dir, "/srv/tftp");
}
END_TEST

START_TEST(same_port_in_both_places)
{
	ck_assert_msg(
		parse(NODE "[ports]\ntftp = 1069\n[tftp]\nport = 1069\n") ==
			PT_OK,
		"%s", t.why);
	ck_assert_uint_eq(t.cfg.tftp_port, 1069);
}
END_TEST

START_TEST(refusals)
{
	expect_refused(NODE "[tftp]\nenabled = maybe\n", 8,
		       "[tftp] enabled: bad value 'maybe'");
	expect_refused(NODE "[tftp]\nport = 0\n", 8,
		       "[tftp] port: port 0 is out of range");
	expect_refused(NODE "[tftp]\nbind_address = example.net\n", 8,
		       "[tftp] bind_address: bad value");
	expect_refused(NODE "[tftp]\nworkers = 257\n", 8,
		       "[tftp] workers: bad value '257': expected a whole "
		       "number from 0 to 256");
	expect_refused(NODE "[tftp]\nblksize_max = 7\n", 8,
		       "from 8 to 65464");
	expect_refused(NODE "[tftp]\nblksize_max = 65465\n", 8,
		       "from 8 to 65464");
	expect_refused(NODE "[tftp]\nwindowsize_max = 0\n", 8,
		       "[tftp] windowsize_max");
	expect_refused(NODE "[tftp]\ntimeout = 256\n", 8, "from 1 to 255");
	expect_refused(NODE "[tftp]\nretries = -1\n", 8, "[tftp] retries");
	expect_refused(NODE "[tftp]\nmax_transfers = 0\n", 8,
		       "[tftp] max_transfers");
	expect_refused(NODE "[tftp]\nper_client_max = lots\n", 8,
		       "[tftp] per_client_max");
	expect_refused(NODE "[tftp]\nper_client_rate = 1000001\n", 8,
		       "[tftp] per_client_rate");
	expect_refused(NODE "[tftp]\nstatic_dir =\n", 8,
		       "[tftp] static_dir: must not be empty");
	expect_refused(NODE "[tftp]\nstaticdir = /srv\n", 8,
		       "[tftp] staticdir: unknown key");
	expect_refused(NODE "[tftp]\ntimeout = 2\ntimeout = 3\n", 9,
		       "duplicate key");
	expect_refused(NODE "[ports]\ntftp = 1069\n[tftp]\nport = 69\n", 10,
		       "[tftp] port: 69 differs from [ports] tftp = 1069 at "
		       "line 8");
	expect_refused(NODE "[services]\ntftp = no\n[tftp]\nenabled = yes\n",
		       10, "[tftp] enabled: the TFTP service is switched off");
}
END_TEST

START_TEST(switched_off_service_ignores_section)
{
	/* Settings without enabled are fine with the service off. */
	ck_assert_msg(parse(NODE "[services]\ntftp = no\n[tftp]\nenabled = "
				 "no\nworkers = 2\n") == PT_OK,
		      "%s", t.why);
	ck_assert(!t.cfg.tftp);
	ck_assert(!t.cfg.tftp_enabled);
}
END_TEST

START_TEST(example_has_the_section)
{
	const char *example = PT_SOURCE_DIR "/deploy/phonetrust.example.ini";
	ck_assert_msg(pt_config_parse_file(example, &t.cfg, t.why,
					   sizeof t.why) == PT_OK,
		      "%s", t.why);
	ck_assert(!t.cfg.tftp_enabled);
	char *text = pt_test_read_file(example, NULL);
	const char *keys[] = {"[tftp]", "enabled =", "port =",
			      "bind_address =", "workers =", "blksize_max =",
			      "windowsize_max =", "timeout =", "retries =",
			      "max_transfers =", "per_client_max =",
			      "per_client_rate =", "static_dir ="};
	const char *section = strstr(text, "\n[tftp]\n");
	ck_assert_ptr_nonnull(section);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_msg(strstr(section, keys[i]), "%s not documented",
			      keys[i]);
	free(text);
}
END_TEST

static Suite *config_tftp_suite(void)
{
	Suite *s = suite_create("config_tftp");
	TCase *tc = tcase_create("tftp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key);
	tcase_add_test(tc, same_port_in_both_places);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, switched_off_service_ignores_section);
	tcase_add_test(tc, example_has_the_section);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(config_tftp_suite());
}
