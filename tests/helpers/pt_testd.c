#include "pt_testd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pt_test.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pt_testd_spawn(pt_testd_t *p, const char *config, const char *extra)
{
	int out[2], err[2];
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	const char *bin = pt_test_bin("node/phonetrustd");
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Never outlive the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		char *argv[6];
		int argc = 0;
		argv[argc++] = (char *)bin;
		if (config) {
			argv[argc++] = (char *)"--config";
			argv[argc++] = (char *)config;
		}
		if (extra)
			argv[argc++] = (char *)extra;
		argv[argc] = NULL;
		execv(bin, argv);
		fprintf(stderr, "exec %s failed: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	*p = (pt_testd_t){.pid = pid, .fd = {out[0], err[0]}};
	for (int i = 0; i < 2; i++) {
		p->buf[i] = calloc(1, 1);
		ck_assert_ptr_nonnull(p->buf[i]);
	}
}

bool pt_testd_pump(pt_testd_t *p, int timeout_ms)
{
	struct pollfd fds[2];
	for (int i = 0; i < 2; i++)
		fds[i] = (struct pollfd){.fd = p->fd[i], .events = POLLIN};
	if (p->fd[0] < 0 && p->fd[1] < 0)
		return false;
	if (poll(fds, 2, timeout_ms) <= 0)
		return true;
	for (int i = 0; i < 2; i++) {
		if (p->fd[i] < 0 || !fds[i].revents)
			continue;
		char chunk[4096];
		ssize_t n = read(p->fd[i], chunk, sizeof chunk);
		if (n <= 0) {
			close(p->fd[i]);
			p->fd[i] = -1;
			continue;
		}
		p->buf[i] = realloc(p->buf[i], p->len[i] + (size_t)n + 1);
		ck_assert_ptr_nonnull(p->buf[i]);
		memcpy(p->buf[i] + p->len[i], chunk, (size_t)n);
		p->len[i] += (size_t)n;
		p->buf[i][p->len[i]] = '\0';
	}
	return true;
}

bool pt_testd_wait_for(pt_testd_t *p, const char *needle, int wait_ms)
{
	int64_t deadline = now_ms() + wait_ms;
	while (!strstr(p->buf[PT_TESTD_ERR], needle)) {
		int64_t left = deadline - now_ms();
		if (left <= 0 || !pt_testd_pump(p, (int)left))
			return strstr(p->buf[PT_TESTD_ERR], needle) != NULL;
	}
	return true;
}

int pt_testd_wait_exit(pt_testd_t *p, int wait_ms)
{
	int64_t deadline = now_ms() + wait_ms;
	while (now_ms() < deadline && pt_testd_pump(p, 100))
		;
	int status;
	pid_t got;
	while ((got = waitpid(p->pid, &status, WNOHANG)) == 0 &&
	       now_ms() < deadline)
		poll(NULL, 0, 20);
	if (got == 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &status, 0);
		p->pid = 0;
		ck_abort_msg("phonetrustd did not exit; stderr:\n%s",
			     p->buf[PT_TESTD_ERR]);
	}
	p->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool pt_testd_running(pt_testd_t *p)
{
	int status;
	if (p->pid <= 0)
		return false;
	if (waitpid(p->pid, &status, WNOHANG) == 0)
		return true;
	p->pid = 0;
	return false;
}

void pt_testd_clear(pt_testd_t *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		if (p->fd[i] >= 0)
			close(p->fd[i]);
		free(p->buf[i]);
	}
	*p = (pt_testd_t)PT_TESTD_INIT;
}

uint16_t pt_testd_free_port(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}
