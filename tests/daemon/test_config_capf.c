/* The [capf] section of phonetrustd's configuration: defaults, values,
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

/* Four lines: the first line after PUB is line 5. */
#define PUB                                                                   \
	"[node]\n"                                                            \
	"name = pub1\n"                                                       \
	"role = publisher\n"                                                  \
	"data_dir = /var/lib/pt\n"

#define SUB                                                                   \
	"[node]\n"                                                            \
	"name = sub1\n"                                                       \
	"role = subscriber\n"                                                 \
	"data_dir = /var/lib/pt\n"                                            \
	"[publisher]\n"                                                       \
	"address = pub1.example.net\n"

static int parse(const char *text)
{
	return pt_conftest_parse(&t, text);
}

static void expect_refused(const char *text, int line, const char *frag)
{
	pt_conftest_refused(&t, text, line, frag);
	ck_assert_ptr_null(t.cfg.capf_bind_address);
}

START_TEST(defaults)
{
	ck_assert_msg(parse(PUB "[ports]\nbind_address = 10.0.0.5\n") == PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.capf);
	ck_assert(!t.cfg.capf_enabled);
	ck_assert(!t.cfg.capf_port_set);
	ck_assert_uint_eq(t.cfg.capf_port, PT_CONFIG_DEFAULT_CAPF_PORT);
	ck_assert_str_eq(t.cfg.capf_bind_address, "10.0.0.5");
	ck_assert_uint_eq(t.cfg.capf_workers, 0);
	ck_assert_uint_eq(t.cfg.capf_signers, 0);
	ck_assert_uint_eq(t.cfg.capf_max_connections, 10000);
	ck_assert_uint_eq(t.cfg.capf_handshake_timeout, 10);
	ck_assert_uint_eq(t.cfg.capf_idle_timeout, 0);
	ck_assert_uint_eq(t.cfg.capf_session_timeout, 3600);
}
END_TEST

START_TEST(values)
{
	ck_assert_msg(parse(PUB "[capf]\n"
				"enabled = yes\n"
				"port = 13804\n"
				"bind_address = ::1\n"
				"workers = 4\n"
				"signers = 3\n"
				"max_connections = 2000\n"
				"handshake_timeout = 5\n"
				"idle_timeout = 60\n"
				"session_timeout = 600\n") == PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.capf_enabled);
	ck_assert(t.cfg.capf_port_set);
	ck_assert_uint_eq(t.cfg.capf_port, 13804);
	ck_assert_str_eq(t.cfg.capf_bind_address, "::1");
	ck_assert_uint_eq(t.cfg.capf_workers, 4);
	ck_assert_uint_eq(t.cfg.capf_signers, 3);
	ck_assert_uint_eq(t.cfg.capf_max_connections, 2000);
	ck_assert_uint_eq(t.cfg.capf_handshake_timeout, 5);
	ck_assert_uint_eq(t.cfg.capf_idle_timeout, 60);
	ck_assert_uint_eq(t.cfg.capf_session_timeout, 600);
	pt_config_clear(&t.cfg);

	/* [ports] alone sets the port too. */
	ck_assert_msg(parse(PUB "[ports]\ncapf = 3000\n[capf]\nport = 3000\n") ==
			      PT_OK,
		      "%s", t.why);
	ck_assert(t.cfg.capf_port_set);
	ck_assert_uint_eq(t.cfg.capf_port, 3000);
	pt_config_clear(&t.cfg);
	ck_assert_msg(parse(PUB "[ports]\ncapf = 3001\n") == PT_OK, "%s",
		      t.why);
	ck_assert(t.cfg.capf_port_set);
	ck_assert_uint_eq(t.cfg.capf_port, 3001);
}
END_TEST

START_TEST(refusals)
{
	expect_refused(PUB "[capf]\nenabled = maybe\n", 6,
		       "[capf] enabled: bad value 'maybe'");
	expect_refused(PUB "[capf]\nport = 0\n", 6,
		       "[capf] port: port 0 is out of range");
	expect_refused(PUB "[capf]\nbind_address = capf.example\n", 6,
		       "[capf] bind_address: bad value");
	expect_refused(PUB "[capf]\nworkers = 257\n", 6,
		       "[capf] workers: bad value '257'");
	expect_refused(PUB "[capf]\nmax_connections = 0\n", 6,
		       "[capf] max_connections: bad value '0'");
	expect_refused(PUB "[capf]\nhandshake_timeout = 301\n", 6,
		       "[capf] handshake_timeout");
	expect_refused(PUB "[capf]\nidle_timeout = 86401\n", 6,
		       "[capf] idle_timeout");
	expect_refused(PUB "[capf]\nsession_timeout = 0\n", 6,
		       "[capf] session_timeout");
	expect_refused(PUB "[capf]\ncolour = blue\n", 6,
		       "[capf] colour: unknown key (keys of [capf]: enabled, "
		       "port,");
	expect_refused(PUB "[ports]\ncapf = 3000\n[capf]\nport = 3001\n", 8,
		       "[capf] port: 3001 differs from [ports] capf = 3000 at "
		       "line 6");
	expect_refused(PUB "[services]\ncapf = no\n[capf]\nenabled = yes\n", 8,
		       "[capf] enabled: the CAPF service is switched off");
	expect_refused(SUB "[capf]\nenabled = yes\n", 8,
		       "[capf] enabled: CAPF runs on the publisher only");
	/* The [capf] port meets the other TCP services' ports. */
	expect_refused(PUB "[capf]\nport = 2445\n", 0,
		       "port 2445 is also used by");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config_capf");
	TCase *tc = tcase_create("capf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, values);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
