#include "bs_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bs_since_s(uint64_t t0_ns)
{
	return (double)(bs_now_ns() - t0_ns) / 1e9;
}

static pid_t started[4];

void bs_track(pid_t pid)
{
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] <= 0) {
			started[i] = pid;
			return;
		}
}

void bs_untrack(pid_t pid)
{
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] == pid)
			started[i] = 0;
}

void bs_die(const char *fmt, ...)
{
	va_list ap;
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] > 0) {
			kill(started[i], SIGTERM);
			waitpid(started[i], NULL, 0);
		}
	fflush(stdout);
	va_start(ap, fmt);
	fputs("bench_bootstorm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

void bs_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

char *bs_path(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		bs_die("out of memory");
	return p;
}

void *bs_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		bs_die("out of memory");
	return p;
}

uint8_t *bs_read_all(const char *path, size_t *len)
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
				bs_die("out of memory");
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

void bs_write_bytes(const char *path, const void *p, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		bs_die("cannot write %s: %s", path, strerror(errno));
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			bs_die("cannot write %s: %s", path, strerror(errno));
		b += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0)
		bs_die("cannot write %s: %s", path, strerror(errno));
}

void bs_write_text(const char *path, const char *text)
{
	bs_write_bytes(path, text, strlen(text), 0600);
}

void bs_redirect(const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

uint16_t bs_free_port(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof in;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
		bs_die("no free port: %s", strerror(errno));
	close(fd);
	return ntohs(in.sin_port);
}

bool bs_alive(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

double bs_proc_cpu(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	uint8_t *buf = bs_read_all(path, NULL);
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

double bs_self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

unsigned long long bs_machine_busy(void)
{
	uint8_t *text = bs_read_all("/proc/stat", NULL);
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

/* Two "Udp:" lines: the names, then the values. */
bs_udp_t bs_udp_read(void)
{
	bs_udp_t c = {0};
	uint8_t *text = bs_read_all("/proc/net/snmp", NULL);
	char *names = text ? strstr((char *)text, "\nUdp: ") : NULL;
	char *values = names ? strstr(names + 1, "\nUdp: ") : NULL;
	if (!values) {
		free(text);
		return c;
	}
	char *nl = strchr(names + 1, '\n');
	if (nl)
		*nl = '\0';
	nl = strchr(values + 1, '\n');
	if (nl)
		*nl = '\0';
	char *sn = NULL, *sv = NULL;
	char *n = strtok_r(names + 6, " ", &sn);
	char *v = strtok_r(values + 6, " ", &sv);
	for (; n && v; n = strtok_r(NULL, " ", &sn),
		       v = strtok_r(NULL, " ", &sv)) {
		if (strcmp(n, "RcvbufErrors") == 0)
			c.rcvbuf_errors = atoll(v);
		else if (strcmp(n, "InErrors") == 0)
			c.in_errors = atoll(v);
	}
	c.ok = true;
	free(text);
	return c;
}
