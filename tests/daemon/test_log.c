#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/errors.h"
#include "net/log.h"
#include "pt_test.h"

static int p[2];
static pt_log_t *lg;

static void open_log(pt_log_level_t level, const char *ident)
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	pt_log_opts_t opts = {.level = level, .fd = p[1], .ident = ident};
	ck_assert_int_eq(pt_log_new(&opts, &lg), PT_OK);
}

static void teardown(void)
{
	pt_log_destroy(&lg);
	ck_assert_ptr_null(lg);
	close(p[0]);
	close(p[1]);
}

/* Everything written so far (caller frees). */
static char *drain(void)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	ssize_t n;
	while ((n = read(p[0], buf + len, cap - len - 1)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

/* "2025-01-31T17:00:00.123Z " */
static void assert_timestamp(const char *line)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd')
			ck_assert_msg(isdigit((unsigned char)line[i]),
				      "no timestamp: %s", line);
		else
			ck_assert_msg(line[i] == shape[i], "no timestamp: %s",
				      line);
	}
}

START_TEST(line_format)
{
	open_log(PT_LOG_INFO, "pub1");
	pt_log_info(lg, "device %s enrolled, %d left", "SEP001122334455", 3);
	pt_log_error(lg, "cannot open the store in %s: %s", "/x",
		     pt_strerror(PT_ERR_NOT_FOUND));
	char *out = drain();
	char *second = strchr(out, '\n');
	ck_assert_ptr_nonnull(second);
	second++;
	assert_timestamp(out);
	assert_timestamp(second);
	ck_assert(strncmp(out + 25, "info pub1: device SEP001122334455 "
				    "enrolled, 3 left\n",
			  (size_t)(second - out - 25)) == 0);
	ck_assert_str_eq(second + 25, "error pub1: cannot open the store in "
				      "/x: not found\n");
	free(out);
}
END_TEST

START_TEST(levels_filter)
{
	open_log(PT_LOG_WARN, NULL);
	ck_assert(pt_log_enabled(lg, PT_LOG_ERROR));
	ck_assert(pt_log_enabled(lg, PT_LOG_WARN));
	ck_assert(!pt_log_enabled(lg, PT_LOG_INFO));
	pt_log_debug(lg, "hidden debug");
	pt_log_info(lg, "hidden info");
	pt_log_warn(lg, "shown warn");
	pt_log_set_level(lg, PT_LOG_DEBUG);
	pt_log_debug(lg, "shown debug");
	pt_log_write(lg, PT_LOG_ERROR, "shown %s", "error");
	char *out = drain();
	ck_assert_ptr_null(strstr(out, "hidden"));
	ck_assert_ptr_nonnull(strstr(out, " warn shown warn\n"));
	ck_assert_ptr_nonnull(strstr(out, " debug shown debug\n"));
	ck_assert_ptr_nonnull(strstr(out, " error shown error\n"));
	free(out);
}
END_TEST

START_TEST(control_characters_escaped)
{
	open_log(PT_LOG_INFO, "n\n1");
	/* A name sent by a peer must not be able to start a forged line. */
	pt_log_info(lg, "unknown device %s",
		    "SEP1\n2025-01-01T00:00:00.000Z info x: forged\x1b[0m");
	char *out = drain();
	ck_assert_ptr_nonnull(strstr(out, " info n\\x0a1: unknown device "
					  "SEP1\\x0a2025-01-01T00:00:00.000Z "
					  "info x: forged\\x1b[0m\n"));
	/* One line only. */
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
	free(out);
}
END_TEST

START_TEST(long_message_cut)
{
	open_log(PT_LOG_INFO, "a");
	char *big = malloc(5000);
	memset(big, 'y', 4999);
	big[4999] = '\0';
	pt_log_info(lg, "%s", big);
	/* Escaping makes text longer: still cut. */
	memset(big, '\t', 4999);
	pt_log_info(lg, "%s", big);
	free(big);
	char *out = drain();
	char *second = strchr(out, '\n');
	ck_assert_ptr_nonnull(second);
	ck_assert_msg(second - out < PT_LOG_LINE_MAX + 64, "line too long");
	ck_assert(strncmp(second - 3, "...", 3) == 0);
	ck_assert(strncmp(out + strlen(out) - 4, "...\n", 4) == 0);
	ck_assert_uint_lt(strlen(second + 1), PT_LOG_LINE_MAX + 64);
	free(out);
}
END_TEST

START_TEST(no_fd_no_output)
{
	pt_log_opts_t opts = {.level = PT_LOG_DEBUG, .fd = -1};
	ck_assert_int_eq(pt_log_new(&opts, &lg), PT_OK);
	pt_log_info(lg, "nowhere");
	pt_log_destroy(&lg);
	pt_log_destroy(&lg);
	pt_log_destroy(NULL);
	opts.level = (pt_log_level_t)7;
	ck_assert_int_eq(pt_log_new(&opts, &lg), PT_ERR_INVALID);
	ck_assert_ptr_null(lg);
	/* Nothing to tear down but the pipe. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}
END_TEST

START_TEST(level_names)
{
	pt_log_level_t l;
	ck_assert_int_eq(pt_log_level_parse("debug", &l), PT_OK);
	ck_assert_int_eq(l, PT_LOG_DEBUG);
	ck_assert_int_eq(pt_log_level_parse("WARN", &l), PT_OK);
	ck_assert_int_eq(l, PT_LOG_WARN);
	ck_assert_int_eq(pt_log_level_parse("warning", &l), PT_OK);
	ck_assert_int_eq(l, PT_LOG_WARN);
	ck_assert_int_eq(pt_log_level_parse("error", &l), PT_OK);
	ck_assert_int_eq(l, PT_LOG_ERROR);
	ck_assert_int_eq(pt_log_level_parse("info", &l), PT_OK);
	ck_assert_int_eq(l, PT_LOG_INFO);
	ck_assert_int_eq(pt_log_level_parse("trace", &l), PT_ERR_INVALID);
	ck_assert_int_eq(pt_log_level_parse(NULL, &l), PT_ERR_INVALID);
	ck_assert_str_eq(pt_log_level_name(PT_LOG_INFO), "info");
	ck_assert_str_eq(pt_log_level_name((pt_log_level_t)9), "unknown");
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("lg");
	TCase *tc = tcase_create("lg");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, line_format);
	tcase_add_test(tc, levels_filter);
	tcase_add_test(tc, control_characters_escaped);
	tcase_add_test(tc, long_message_cut);
	tcase_add_test(tc, no_fd_no_output);
	suite_add_tcase(s, tc);
	TCase *names = tcase_create("names");
	tcase_add_test(names, level_names);
	suite_add_tcase(s, names);
	return s;
}

int main(void)
{
	return pt_test_main(log_suite());
}
