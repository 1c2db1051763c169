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

static int parse(const char *text)
{
	return pt_conftest_parse(&t, text);
}

/* The file is refused with a message that starts "<path>:<line>: " (or
 * "<path>: " when line is 0) and contains each of the given fragments. */
static void expect_refused(const char *text, int line, const char *frag1,
			   const char *frag2)
{
	pt_conftest_refused(&t, text, line, frag1);
	if (frag2)
		ck_assert_msg(strstr(t.why, frag2), "'%s' not in '%s'", frag2,
			      t.why);
	/* A refused file leaves nothing behind. */
	ck_assert_ptr_null(t.cfg.name);
	ck_assert_ptr_null(t.cfg.data_dir);
	ck_assert_ptr_null(t.cfg.bind_address);
}

#define MINIMAL_PUBLISHER                                                     \
	"[node]\n"                                                            \
	"name = pub1\n"                                                       \
	"role = publisher\n"                                                  \
	"data_dir = var/pub1\n"

START_TEST(full_file)
{
	const char *text =
		"; a node of the test cluster\n"
		"# both comment styles\n"
		"\n"
		"[node]\n"
		"name = sub-2\n"
		"role = subscriber\n"
		"data_dir = /var/lib/phonetrust\n"
		"log_level = debug\n"
		"syslog = yes\n"
		"pid_file = /run/phonetrust/phonetrustd.pid\n"
		"\n"
		"[ports]\n"
		"tftp = 69\n"
		"tvs = 12445\n"
		"capf = 13804\n"
		"replication_stream = 15556\n"
		"replication_sync = 15557\n"
		"bind_address = ::1\n"
		"\n"
		"[publisher]\n"
		"address = pub.example.net ; the publisher\n"
		"\n"
		"[services]\n"
		"tftp = yes\n"
		"tvs = no\n"
		"capf = no\n";
	ck_assert_int_eq(parse(text), PT_OK);
	ck_assert_str_eq(t.cfg.path, t.path);
	ck_assert_str_eq(t.cfg.name, "sub-2");
	ck_assert_int_eq(t.cfg.role, PT__NODE_ROLE__ROLE_SUBSCRIBER);
	ck_assert_str_eq(t.cfg.data_dir, "/var/lib/phonetrust");
	ck_assert_int_eq(t.cfg.log_level, PT_LOG_DEBUG);
	ck_assert(t.cfg.syslog);
	ck_assert_str_eq(t.cfg.pid_file, "/run/phonetrust/phonetrustd.pid");
	ck_assert_uint_eq(t.cfg.tftp_port, 69);
	ck_assert_uint_eq(t.cfg.tvs_port, 12445);
	ck_assert_uint_eq(t.cfg.capf_port, 13804);
	ck_assert_uint_eq(t.cfg.repl_stream_port, 15556);
	ck_assert_uint_eq(t.cfg.repl_sync_port, 15557);
	ck_assert_str_eq(t.cfg.bind_address, "::1");
	ck_assert_str_eq(t.cfg.publisher_address, "pub.example.net");
	ck_assert(t.cfg.tftp);
	ck_assert(!t.cfg.tvs);
	ck_assert(!t.cfg.capf);
}
END_TEST

START_TEST(publisher_defaults)
{
	ck_assert_int_eq(parse(MINIMAL_PUBLISHER), PT_OK);
	ck_assert_str_eq(t.cfg.name, "pub1");
	ck_assert_int_eq(t.cfg.role, PT__NODE_ROLE__ROLE_PUBLISHER);
	ck_assert_str_eq(t.cfg.data_dir, "var/pub1");
	ck_assert_int_eq(t.cfg.log_level, PT_LOG_INFO);
	ck_assert(!t.cfg.syslog);
	ck_assert_ptr_null(t.cfg.pid_file);
	ck_assert_uint_eq(t.cfg.tftp_port, 6969);
	ck_assert_uint_eq(t.cfg.tvs_port, 2445);
	ck_assert_uint_eq(t.cfg.capf_port, 3804);
	ck_assert_uint_eq(t.cfg.repl_stream_port, 5556);
	ck_assert_uint_eq(t.cfg.repl_sync_port, 5557);
	ck_assert_str_eq(t.cfg.bind_address, "127.0.0.1");
	ck_assert_ptr_null(t.cfg.publisher_address);
	/* The embedded one-machine default: the publisher serves all. */
	ck_assert(t.cfg.capf);
	ck_assert(t.cfg.tftp);
	ck_assert(t.cfg.tvs);
	ck_assert_uint_eq(t.cfg.heartbeat_ms, PT_CONFIG_DEFAULT_HEARTBEAT_MS);
}
END_TEST

START_TEST(subscriber_defaults)
{
	ck_assert_int_eq(parse("[node]\nname = sub1\nrole = subscriber\n"
			       "data_dir = d\n[publisher]\naddress = 10.0.0.1\n"),
			 PT_OK);
	ck_assert(!t.cfg.capf);
	ck_assert(t.cfg.tftp);
	ck_assert(t.cfg.tvs);
	ck_assert_str_eq(t.cfg.publisher_address, "10.0.0.1");
}
END_TEST

START_TEST(publisher_ignores_publisher_address)
{
	ck_assert_int_eq(parse(MINIMAL_PUBLISHER
			       "[publisher]\naddress = elsewhere.example\n"),
			 PT_OK);
	ck_assert_ptr_null(t.cfg.publisher_address);
}
END_TEST

START_TEST(empty_pid_file_means_none)
{
	ck_assert_int_eq(parse(MINIMAL_PUBLISHER "pid_file =\n"), PT_OK);
	ck_assert_ptr_null(t.cfg.pid_file);
}
END_TEST

START_TEST(crlf_and_bom)
{
	ck_assert_int_eq(parse("\xef\xbb\xbf[node]\r\nname = p\r\n"
			       "role = publisher\r\ndata_dir = x\r\n"),
			 PT_OK);
	ck_assert_str_eq(t.cfg.name, "p");
	ck_assert_str_eq(t.cfg.data_dir, "x");
}
END_TEST

/* The shipped example must stay a valid configuration. */
START_TEST(example_file_parses)
{
	const char *example = PT_SOURCE_DIR "/deploy/phonetrust.example.ini";
	ck_assert_msg(pt_config_parse_file(example, &t.cfg, t.why,
					   sizeof t.why) == PT_OK,
		      "%s", t.why);
	ck_assert_str_eq(t.cfg.name, "pub1");
	ck_assert_int_eq(t.cfg.role, PT__NODE_ROLE__ROLE_PUBLISHER);
	ck_assert_str_eq(t.cfg.data_dir, "/var/lib/phonetrust");
	ck_assert_uint_eq(t.cfg.tftp_port, PT_CONFIG_DEFAULT_TFTP_PORT);
	ck_assert(t.cfg.capf && t.cfg.tftp && t.cfg.tvs);
}
END_TEST

START_TEST(unknown_key)
{
	expect_refused(MINIMAL_PUBLISHER "nmae = typo\n", 5,
		       "[node] nmae: unknown key", "name, role");
}
END_TEST

START_TEST(unknown_section)
{
	expect_refused(MINIMAL_PUBLISHER "\n[servces]\ntftp = yes\n", 6,
		       "[servces]: unknown section", NULL);
}
END_TEST

START_TEST(unknown_empty_section)
{
	/* No key follows, so inih never calls the handler for it. */
	expect_refused("[node]\nname = a\n[extra]\nrole = publisher\n", 3,
		       "[extra]: unknown section", NULL);
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "[tls]\n", 5, "[tls]", NULL);
}
END_TEST

START_TEST(key_outside_section)
{
	expect_refused("name = a\n" MINIMAL_PUBLISHER, 1,
		       "name: key outside any section", NULL);
}
END_TEST

START_TEST(bad_values)
{
	expect_refused(MINIMAL_PUBLISHER "log_level = verbose\n", 5,
		       "[node] log_level: bad value 'verbose'", "debug");
	pt_config_clear(&t.cfg);
	expect_refused("[node]\nname = a\nrole = leader\n", 3,
		       "[node] role: bad value 'leader'",
		       "publisher or subscriber");
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "syslog = maybe\n", 5,
		       "[node] syslog: bad value 'maybe'", "yes or no");
	pt_config_clear(&t.cfg);
	expect_refused("[node]\nname = bad name!\n", 2,
		       "[node] name: bad value 'bad name!'", NULL);
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "[ports]\ntvs = 24x5\n", 6,
		       "[ports] tvs: bad value '24x5'", "port number");
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "[ports]\nbind_address = localhost\n",
		       6, "[ports] bind_address: bad value 'localhost'", NULL);
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "[services]\n\ncapf = sure\n", 7,
		       "[services] capf: bad value 'sure'", NULL);
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "data_dir =\n", 5,
		       "[node] data_dir", NULL);
}
END_TEST

START_TEST(port_out_of_range)
{
	expect_refused(MINIMAL_PUBLISHER "[ports]\ncapf = 70000\n", 6,
		       "[ports] capf: port 70000 is out of range", "1-65535");
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "[ports]\n\n\ntftp = 0\n", 8,
		       "[ports] tftp: port 0 is out of range", NULL);
}
END_TEST

START_TEST(duplicate_key)
{
	expect_refused(MINIMAL_PUBLISHER "[ports]\ntvs = 1\n[node]\n"
					 "role = subscriber\n",
		       8, "[node] role: duplicate key", "line 3");
}
END_TEST

START_TEST(missing_required)
{
	expect_refused("[node]\nrole = publisher\ndata_dir = x\n", 0,
		       "[node] name: required key is missing", NULL);
	pt_config_clear(&t.cfg);
	expect_refused("[node]\nname = a\nrole = publisher\n", 0,
		       "[node] data_dir: required key is missing", NULL);
	pt_config_clear(&t.cfg);
	expect_refused("[node]\nname = a\ndata_dir = x\n", 0,
		       "[node] role: required key is missing", NULL);
	pt_config_clear(&t.cfg);
	expect_refused("", 0, "[node] name: required key is missing", NULL);
}
END_TEST

START_TEST(subscriber_needs_publisher)
{
	expect_refused("[node]\nname = s\n\nrole = subscriber\ndata_dir = x\n",
		       0, "[publisher] address: required for a subscriber",
		       "line 4");
}
END_TEST

START_TEST(capf_only_on_publisher)
{
	expect_refused("[node]\nname = s\nrole = subscriber\ndata_dir = x\n"
		       "[publisher]\naddress = p\n[services]\ncapf = yes\n",
		       8, "[services] capf: CAPF runs on the publisher only",
		       NULL);
}
END_TEST

START_TEST(port_conflict)
{
	expect_refused(MINIMAL_PUBLISHER "[ports]\ncapf = 5000\n"
					 "replication_sync = 5000\n",
		       7, "[ports] replication_sync: port 5000",
		       "[ports] capf");
	pt_config_clear(&t.cfg);
	/* Set on one side only: the message points at the key in the file. */
	expect_refused(MINIMAL_PUBLISHER "[ports]\ntvs = 3804\n", 6,
		       "[ports] tvs: port 3804 is also used by [ports] capf",
		       NULL);
	pt_config_clear(&t.cfg);
	/* A disabled service does not hold its port. */
	ck_assert_int_eq(parse(MINIMAL_PUBLISHER "[ports]\ntvs = 3804\n"
						 "[services]\ncapf = no\n"),
			 PT_OK);
	pt_config_clear(&t.cfg);
	/* TFTP is UDP: sharing a number with a TCP service is fine. */
	ck_assert_int_eq(parse(MINIMAL_PUBLISHER "[ports]\ntftp = 3804\n"),
			 PT_OK);
}
END_TEST

START_TEST(syntax_error)
{
	expect_refused(MINIMAL_PUBLISHER "\njust some words\n", 6,
		       "syntax error", NULL);
	pt_config_clear(&t.cfg);
	expect_refused("[node\nname = a\n", 1, "syntax error", NULL);
}
END_TEST

START_TEST(first_error_wins)
{
	expect_refused(MINIMAL_PUBLISHER "bogus\nlog_level = loud\n", 5,
		       "syntax error", NULL);
	pt_config_clear(&t.cfg);
	expect_refused(MINIMAL_PUBLISHER "log_level = loud\nbogus\n", 5,
		       "log_level", NULL);
}
END_TEST

START_TEST(indented_line)
{
	expect_refused("[node]\nname = a\n  role = publisher\n", 3,
		       "line starts with blanks", NULL);
	pt_config_clear(&t.cfg);
	/* Indented comments and blank lines are fine. */
	ck_assert_int_eq(parse("  ; comment\n   \n" MINIMAL_PUBLISHER), PT_OK);
}
END_TEST

START_TEST(long_line)
{
	char text[1024];
	char longdir[400];
	memset(longdir, 'x', sizeof longdir - 1);
	longdir[sizeof longdir - 1] = '\0';
	snprintf(text, sizeof text,
		 "[node]\nname = a\nrole = publisher\ndata_dir = /%s\n",
		 longdir);
	expect_refused(text, 4, "line is longer than", NULL);
}
END_TEST

START_TEST(nul_byte)
{
	FILE *f = fopen(t.path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite("[node]\nname = a\0b\n", 1, 18, f);
	fclose(f);
	ck_assert_int_eq(
		pt_config_parse_file(t.path, &t.cfg, t.why, sizeof t.why),
		PT_ERR_CONFIG);
	ck_assert_msg(strstr(t.why, ":2: line holds a NUL byte"), "%s", t.why);
}
END_TEST

START_TEST(missing_file)
{
	char *missing = NULL;
	if (asprintf(&missing, "%s/nope.ini", t.dir) < 0)
		abort();
	int r = pt_config_parse_file(missing, &t.cfg, t.why, sizeof t.why);
	ck_assert_int_eq(r, PT_ESYS(ENOENT));
	ck_assert_msg(strstr(t.why, missing) && strstr(t.why, "cannot open"),
		      "%s", t.why);
	free(missing);
}
END_TEST

START_TEST(clear_twice)
{
	ck_assert_int_eq(parse(MINIMAL_PUBLISHER), PT_OK);
	pt_config_clear(&t.cfg);
	pt_config_clear(&t.cfg);
	ck_assert_ptr_null(t.cfg.name);
	pt_config_clear(NULL);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *good = tcase_create("good");
	tcase_add_checked_fixture(good, setup, teardown);
	tcase_add_test(good, full_file);
	tcase_add_test(good, publisher_defaults);
	tcase_add_test(good, subscriber_defaults);
	tcase_add_test(good, publisher_ignores_publisher_address);
	tcase_add_test(good, empty_pid_file_means_none);
	tcase_add_test(good, crlf_and_bom);
	tcase_add_test(good, clear_twice);
	tcase_add_test(good, example_file_parses);
	suite_add_tcase(s, good);

	TCase *bad = tcase_create("bad");
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, unknown_key);
	tcase_add_test(bad, unknown_section);
	tcase_add_test(bad, unknown_empty_section);
	tcase_add_test(bad, key_outside_section);
	tcase_add_test(bad, bad_values);
	tcase_add_test(bad, port_out_of_range);
	tcase_add_test(bad, duplicate_key);
	tcase_add_test(bad, missing_required);
	tcase_add_test(bad, subscriber_needs_publisher);
	tcase_add_test(bad, capf_only_on_publisher);
	tcase_add_test(bad, port_conflict);
	tcase_add_test(bad, syntax_error);
	tcase_add_test(bad, first_error_wins);
	tcase_add_test(bad, indented_line);
	tcase_add_test(bad, long_line);
	tcase_add_test(bad, nul_byte);
	tcase_add_test(bad, missing_file);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return pt_test_main(config_suite());
}
