#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "bench";
static pid_t started[4];

void bench_init(const char *prog)
{
	prog_name = prog;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_since_s(uint64_t t0_ns)
{
	return (double)(bench_now_ns() - t0_ns) / 1e9;
}

void bench_track(pid_t pid)
{
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] <= 0) {
			started[i] = pid;
			return;
		}
}

void bench_untrack(pid_t pid)
{
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] == pid)
			started[i] = 0;
}

void bench_die(const char *fmt, ...)
{
	va_list ap;
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] > 0) {
			kill(started[i], SIGTERM);
			waitpid(started[i], NULL, 0);
		}
	fflush(stdout);
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

void bench_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static char *vformat(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));
static char *vformat(const char *fmt, va_list ap)
{
	char *p = NULL;
	if (vasprintf(&p, fmt, ap) < 0)
		bench_die("out of memory");
	return p;
}

char *bench_path(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = vformat(fmt, ap);
	va_end(ap);
	return p;
}

void *bench_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		bench_die("out of memory");
	return p;
}

uint8_t *bench_read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *b = realloc(buf, cap + 1);
			if (!b)
				bench_die("out of memory");
			buf = b;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

void bench_write_bytes(const char *path, const void *p, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		bench_die("cannot write %s: %s", path, strerror(errno));
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			bench_die("cannot write %s: %s", path, strerror(errno));
		b += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0)
		bench_die("cannot write %s: %s", path, strerror(errno));
}

void bench_write_text(const char *path, const char *text)
{
	bench_write_bytes(path, text, strlen(text), 0600);
}

void bench_redirect(const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

/* argv started with its output appended to log. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		bench_redirect(log);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* User + system seconds of a struct rusage. */
static double rusage_cpu(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec +
	       (double)ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

bool bench_run(char *const argv[], const char *log)
{
	pid_t pid = spawn(argv, log);
	int status;
	if (waitpid(pid, &status, 0) != pid)
		bench_die("waitpid: %s", strerror(errno));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void bench_run_measured(char *const argv[], const char *log,
			bench_measure_t *m)
{
	memset(m, 0, sizeof *m);
	uint64_t t0 = bench_now_ns();
	pid_t pid = spawn(argv, log);
	int st = 0;
	struct rusage ru;
	for (;;) {
		pid_t w = wait4(pid, &st, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			bench_die("wait4: %s", strerror(errno));
		/* RssAnon is gone once the child is reaped, and the kernel
		 * keeps no peak of it: sampling is the only way to see it. */
		long anon = bench_proc_status_kb(pid, "RssAnon");
		if (anon > m->anon_kb)
			m->anon_kb = anon;
		usleep(20000);
	}
	m->wall = bench_since_s(t0);
	m->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	m->cpu = rusage_cpu(&ru);
	m->hwm_kb = ru.ru_maxrss;
}

int bench_sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	int r = system(cmd);
	free(cmd);
	return r;
}

bool bench_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

uint16_t bench_free_port(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof in;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
		bench_die("no free port: %s", strerror(errno));
	close(fd);
	return ntohs(in.sin_port);
}

bool bench_alive(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

const char *bench_build_dir(void)
{
	static char dir[PATH_MAX];
	char self[PATH_MAX];
	if (dir[0])
		return dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		bench_die("cannot find my own path");
	self[n] = '\0';
	snprintf(dir, sizeof dir, "%s", dirname(dirname(self)));
	return dir;
}

void bench_scratch_dir(const char *dir, char *out, size_t len)
{
	if (dir) {
		if (mkdir(dir, 0700) != 0)
			bench_die("--dir %s: %s (give a directory that does "
				  "not exist yet)",
				  dir, strerror(errno));
		snprintf(out, len, "%s", dir);
		return;
	}
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(out, len, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp",
			 prog_name);
	if (n < 0 || (size_t)n >= len)
		bench_die("$TMPDIR is too long");
	if (!mkdtemp(out))
		bench_die("mkdtemp: %s", strerror(errno));
}

void bench_remove_tree(const char *dir)
{
	char *argv[] = {"/bin/rm", "-rf", "--", (char *)dir, NULL};
	if (!bench_run(argv, "/dev/null"))
		fprintf(stderr, "%s: could not remove %s\n", prog_name, dir);
}

void bench_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

size_t bench_parse_levels(char *list, unsigned *levels, size_t max,
			  unsigned limit)
{
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(t, &end, 10);
		if (*end || v == 0 || v > limit || n == max)
			bench_die("bad concurrency '%s' (1 to %u, at most %zu "
				  "levels)",
				  t, limit, max);
		levels[n++] = (unsigned)v;
	}
	return n;
}

double bench_proc_cpu(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	uint8_t *buf = bench_read_all(path, NULL);
	if (!buf)
		return 0;
	/* After the command name (which may hold blanks): utime and stime
	 * are the 12th and 13th fields after ')'. */
	char *p = strrchr((char *)buf, ')');
	unsigned long long ut = 0, st = 0;
	int n = p ? sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				  "%*u %llu %llu",
			   &ut, &st)
		  : 0;
	free(buf);
	if (n != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return rusage_cpu(&ru);
}

unsigned long long bench_machine_busy(void)
{
	uint8_t *text = bench_read_all("/proc/stat", NULL);
	unsigned long long v[8] = {0}, busy = 0;
	/* user nice system idle iowait irq softirq steal */
	if (text && sscanf((char *)text, "cpu %llu %llu %llu %llu %llu %llu "
					 "%llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) == 8)
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	free(text);
	return busy;
}

long bench_proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	size_t fl = strlen(field);
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}
