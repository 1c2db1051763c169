#include "pt_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *pt_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;
	if (asprintf(&path, "%s/pt-test-XXXXXX", base && *base ? base : "/tmp") < 0)
		abort();
	if (!mkdtemp(path))
		abort();
	return path;
}

void pt_test_rmtree(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		unlink(path);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *child = NULL;
		if (asprintf(&child, "%s/%s", path, e->d_name) < 0)
			abort();
		struct stat st;
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			pt_test_rmtree(child);
		else
			unlink(child);
		free(child);
	}
	closedir(d);
	rmdir(path);
}

void pt_test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

char *pt_test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

const char *pt_test_bin(const char *relative)
{
	static char path[4096];
	const char *dir = getenv("PT_BIN_DIR");
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : PT_BIN_DIR,
		 relative);
	return path;
}

const char *pt_test_legacy_gen(void)
{
	static char path[4096];
	const char *env = getenv("PT_LEGACY_GEN");
	const char *candidates[] = {
		env && *env ? env : NULL,
		PT_SOURCE_DIR "/../shared/tools/legacy-capf-gen.py",
		"/work/shared/tools/legacy-capf-gen.py",
	};
	for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
		if (candidates[i] && access(candidates[i], R_OK) == 0) {
			snprintf(path, sizeof path, "%s", candidates[i]);
			return path;
		}
	}
	return NULL;
}

struct sink {
	char *buf;
	size_t len, cap;
};

static void sink_add(struct sink *s, const char *data, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

void pt_test_runv(pt_run_t *res, const char *stdin_text, const char *bin,
		  char *const argv[])
{
	int in[2], out[2], err[2];
	ck_assert(pipe(in) == 0 && pipe(out) == 0 && pipe(err) == 0);
	char path[4096];
	snprintf(path, sizeof path, "%s", bin[0] == '/' ? bin : pt_test_bin(bin));
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		char **args = (char **)argv;
		args[0] = path;
		execv(path, args);
		fprintf(stderr, "exec %s failed\n", path);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	if (stdin_text) {
		size_t left = strlen(stdin_text);
		const char *p = stdin_text;
		while (left > 0) {
			ssize_t w = write(in[1], p, left);
			if (w <= 0)
				break;
			p += w;
			left -= (size_t)w;
		}
	}
	close(in[1]);

	struct sink so = {0}, se = {0};
	sink_add(&so, "", 0);
	sink_add(&se, "", 0);
	struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
	int open_fds = 2;
	char buf[65536];
	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof buf);
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			} else {
				sink_add(i == 0 ? &so : &se, buf, (size_t)n);
			}
		}
	}
	int status;
	waitpid(pid, &status, 0);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status)
					: 128 + WTERMSIG(status);
	res->out = so.buf;
	res->err = se.buf;
}

void pt_test_run(pt_run_t *res, const char *stdin_text, const char *bin, ...)
{
	char *argv[256];
	int argc = 1;
	va_list ap;
	va_start(ap, bin);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 255)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	argv[0] = (char *)bin;
	pt_test_runv(res, stdin_text, bin, argv);
}

void pt_run_clear(pt_run_t *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

int pt_test_main(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

void pt_test_assert_in_order(const char *text, const char *const *expected,
			     size_t n)
{
	const char *p = text;
	for (size_t i = 0; i < n; i++) {
		const char *hit = strstr(p, expected[i]);
		ck_assert_msg(hit, "missing (in order) '%s' in:\n%s",
			      expected[i], text);
		p = hit + strlen(expected[i]);
	}
}
