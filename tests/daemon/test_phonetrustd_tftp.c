/* The real phonetrustd with [tftp] enabled: it serves its static_dir on
 * the configured UDP port to curl, lists TFTP as running, logs its
 * counters at stop, and refuses to start on a port in use or without its
 * directory.  Every wait is bounded; the daemon dies with the test. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testd.h"
#include "store/records.h"
#include "store/store.h"

#define WAIT_MS 10000

static char *dir, *data_dir, *conf, *static_dir;
static uint16_t port;
static pt_testd_t daemon_proc = PT_TESTD_INIT;

/* A real node: the TFTP service signs with the identity init makes. */
static void create_store(void)
{
	pt_node_init(data_dir, "t1", "publisher", NULL);
	pt_node_add_device(data_dir, "SEP001122334455", NULL, NULL, NULL);
}

static void write_config(const char *tftp_extra)
{
	char *text = NULL;
	ck_assert_int_ge(asprintf(&text,
				  "[node]\n"
				  "name = t1\n"
				  "role = publisher\n"
				  "data_dir = %s\n"
				  "[tftp]\n"
				  "enabled = yes\n"
				  "port = %u\n"
				  "workers = 2\n"
				  "%s",
				  data_dir, port, tftp_extra),
			 0);
	pt_test_write_file(conf, text);
	free(text);
}

static void assert_err_has(const char *needle)
{
	ck_assert_msg(strstr(daemon_proc.buf[PT_TESTD_ERR], needle),
		      "'%s' not in stderr:\n%s", needle,
		      daemon_proc.buf[PT_TESTD_ERR]);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&data_dir, "%s/data", dir), 0);
	ck_assert_int_ge(asprintf(&conf, "%s/phonetrust.ini", dir), 0);
	ck_assert_int_ge(asprintf(&static_dir, "%s/tftp", dir), 0);
	ck_assert_int_eq(mkdir(static_dir, 0755), 0);
	daemon_proc = (pt_testd_t)PT_TESTD_INIT;
	port = pt_testd_free_port(SOCK_DGRAM);
	create_store();
}

static void teardown(void)
{
	pt_testd_clear(&daemon_proc);
	pt_test_rmtree(dir);
	free(dir);
	free(data_dir);
	free(conf);
	free(static_dir);
}

START_TEST(serves_static_dir_to_curl)
{
	/* A ring tone of a few blocks, in a sub-directory. */
	char *sub = NULL, *file = NULL, *local = NULL, *extra = NULL;
	ck_assert_int_ge(asprintf(&sub, "%s/ringtones", static_dir), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_ge(asprintf(&file, "%s/Ring1.raw", sub), 0);
	uint8_t tone[3000];
	for (size_t i = 0; i < sizeof tone; i++)
		tone[i] = (uint8_t)(i * 7 + 3);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, tone, sizeof tone), (ssize_t)sizeof tone);
	close(fd);
	ck_assert_int_ge(asprintf(&extra, "static_dir = %s\n", static_dir), 0);
	write_config(extra);

	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[PT_TESTD_ERR]);
	char want[512];
	snprintf(want, sizeof want,
		 "running: tftp (udp 127.0.0.1:%u, 2 workers, phone files and "
		 "static files from %s)",
		 port, static_dir);
	assert_err_has(want);
	snprintf(want, sizeof want, "tftp: listening on UDP 127.0.0.1:%u with "
				    "2 workers",
		 port);
	assert_err_has(want);

	ck_assert_int_ge(asprintf(&local, "%s/got.raw", dir), 0);
	char url[256];
	snprintf(url, sizeof url, "tftp://127.0.0.1:%u/ringtones/Ring1.raw",
		 port);
	pt_run_t res;
	char *argv[] = {"timeout", "30", "/usr/bin/curl", "-sS",
			"--tftp-blksize", "1428", "-o", local, url, NULL};
	pt_test_runv(&res, NULL, "/usr/bin/timeout", argv);
	ck_assert_msg(res.status == 0, "curl failed (%d): %s", res.status,
		      res.err);
	pt_run_clear(&res);
	size_t len;
	char *got = pt_test_read_file(local, &len);
	ck_assert_uint_eq(len, sizeof tone);
	ck_assert_mem_eq(got, tone, sizeof tone);
	free(got);

	/* A name outside the directory: refused, and said so in the log. */
	snprintf(url, sizeof url, "tftp://127.0.0.1:%u/%%2e%%2e/data", port);
	char *argv2[] = {"timeout", "30", "/usr/bin/curl", "-sS", "-o",
			 "/dev/null", url, NULL};
	pt_test_runv(&res, NULL, "/usr/bin/timeout", argv2);
	ck_assert_int_ne(res.status, 0);
	pt_run_clear(&res);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc,
					"refused read request for '../data'",
					WAIT_MS),
		      "refusal not logged:\n%s", daemon_proc.buf[PT_TESTD_ERR]);

	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
	assert_err_has("tftp at stop: 2 requests, 1 transfers completed, 0 "
		       "failed, 0 active");
	assert_err_has("1 denied");
	assert_err_has("stopped on SIGTERM");
	free(sub);
	free(file);
	free(local);
	free(extra);
}
END_TEST

START_TEST(port_in_use_refused)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	write_config("");
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 1);
	char want[256];
	snprintf(want, sizeof want, "tftp: UDP 127.0.0.1:%u is in use by "
				    "another process",
		 port);
	assert_err_has(want);
	close(fd);
}
END_TEST

START_TEST(missing_static_dir_refused)
{
	write_config("static_dir = /nonexistent/pt-tftp\n");
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 1);
	assert_err_has("tftp: cannot open [tftp] static_dir "
		       "/nonexistent/pt-tftp: ");
}
END_TEST

static Suite *phonetrustd_tftp_suite(void)
{
	Suite *s = suite_create("phonetrustd_tftp");
	TCase *tc = tcase_create("tftp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, serves_static_dir_to_curl);
	tcase_add_test(tc, port_in_use_refused);
	tcase_add_test(tc, missing_static_dir_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(phonetrustd_tftp_suite());
}
