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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

#define WAIT_MS 10000

static char *dir, *data_dir, *conf, *static_dir;
static uint16_t port;
static pid_t pid;
static int err_fd = -1;
static char *err_text;
static size_t err_len;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A UDP port nobody holds right now (the kernel's pick, released). */
static uint16_t free_udp_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A real node: the TFTP service signs with the identity init makes. */
static void create_store(void)
{
	char *pw = NULL;
	pt_run_t r;
	ck_assert_int_ge(asprintf(&pw, "%s/password", dir), 0);
	pt_test_write_file(pw, "correct horse battery staple\n");
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", data_dir, "init",
		    "--name", "t1", "--role", "publisher", "--address",
		    "127.0.0.1", "--password-file", pw, NULL);
	ck_assert_msg(r.status == 0, "init: %s", r.err);
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", data_dir, "device",
		    "add", "SEP001122334455", "--model", "8841", NULL);
	ck_assert_msg(r.status == 0, "device add: %s", r.err);
	pt_run_clear(&r);
	free(pw);
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

static void spawn(void)
{
	int err[2];
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	const char *bin = pt_test_bin("node/phonetrustd");
	pid_t parent = getpid();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(err[1], 2);
		execl(bin, bin, "--config", conf, (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	err_fd = err[0];
	free(err_text);
	err_text = calloc(1, 1);
	err_len = 0;
}

/* Reads stderr for up to timeout_ms; false once it is closed. */
static bool pump(int timeout_ms)
{
	struct pollfd p = {.fd = err_fd, .events = POLLIN};
	if (err_fd < 0)
		return false;
	if (poll(&p, 1, timeout_ms) <= 0)
		return true;
	char chunk[4096];
	ssize_t n = read(err_fd, chunk, sizeof chunk);
	if (n <= 0) {
		close(err_fd);
		err_fd = -1;
		return false;
	}
	err_text = realloc(err_text, err_len + (size_t)n + 1);
	memcpy(err_text + err_len, chunk, (size_t)n);
	err_len += (size_t)n;
	err_text[err_len] = '\0';
	return true;
}

static bool wait_for(const char *needle)
{
	int64_t end = now_ms() + WAIT_MS;
	while (!strstr(err_text, needle) && now_ms() < end)
		if (!pump((int)(end - now_ms())))
			break;
	return strstr(err_text, needle) != NULL;
}

static int wait_exit(void)
{
	int64_t end = now_ms() + WAIT_MS;
	int status = 0;
	while (pump(50) && now_ms() < end)
		;
	pid_t got;
	while ((got = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end)
		poll(NULL, 0, 20);
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		pid = 0;
		ck_abort_msg("phonetrustd did not exit:\n%s", err_text);
	}
	pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static void assert_err_has(const char *needle)
{
	ck_assert_msg(strstr(err_text, needle), "'%s' not in stderr:\n%s",
		      needle, err_text);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&data_dir, "%s/data", dir), 0);
	ck_assert_int_ge(asprintf(&conf, "%s/phonetrust.ini", dir), 0);
	ck_assert_int_ge(asprintf(&static_dir, "%s/tftp", dir), 0);
	ck_assert_int_eq(mkdir(static_dir, 0755), 0);
	err_text = calloc(1, 1);
	pid = 0;
	port = free_udp_port();
	create_store();
}

static void teardown(void)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (err_fd >= 0)
		close(err_fd);
	err_fd = -1;
	pt_test_rmtree(dir);
	free(dir);
	free(data_dir);
	free(conf);
	free(static_dir);
	free(err_text);
	err_text = NULL;
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

	spawn();
	ck_assert_msg(wait_for("ready:"), "not ready:\n%s", err_text);
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
	ck_assert_msg(wait_for("refused read request for '../data'"),
		      "refusal not logged:\n%s", err_text);

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(wait_exit(), 0);
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
	spawn();
	ck_assert_int_eq(wait_exit(), 1);
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
	spawn();
	ck_assert_int_eq(wait_exit(), 1);
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
