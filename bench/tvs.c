/* bench_tvs: TVS queries per second and latency against a real
 * phonetrustd, a full TLS handshake per query (as phones do: one question
 * per connection), at several concurrencies, next to OpenSSL's sign rate
 * for the TVS key measured in the same run (every handshake costs the
 * server one signature: that rate is the ceiling).
 *
 *   bench_tvs [--key-type rsa2048|ec256|ec384] [--workers N]
 *             [--requests N] [--levels 1,8,64,1000] [--dir DIR]
 *
 * It makes a publisher with the real `phonetrust init` in a scratch
 * directory (or DIR, which must not exist), starts phonetrustd with [tvs]
 * enabled on a free port, and drives non-blocking TLS clients from one
 * thread.  Every query asks about the node's TFTP certificate and must be
 * answered VALID with its two roles: anything else is a failure.  Prints
 * figures; it does not pass or fail, but its exit status is 1 when any
 * query failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tvs_msg.h"

#define QUERY_TIMEOUT_NS (30ull * 1000000000ull)
#define LEVELS_MAX 16

struct opts {
	const char *key_type;
	unsigned workers;
	unsigned requests; /* per level; 0: max(2000, 5 x concurrency) */
	unsigned levels[LEVELS_MAX];
	size_t n_levels;
	const char *dir;
	unsigned client_threads;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench_tvs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* ---- the node ----------------------------------------------------------- */

static char bin_dir[PATH_MAX];

static void find_binaries(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		die("cannot find my own path");
	self[n] = '\0';
	/* build/bench/bench_tvs -> build */
	snprintf(bin_dir, sizeof bin_dir, "%s", dirname(dirname(self)));
}

/* Runs argv to completion, output to log; true on exit status 0. */
static bool run(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof in;
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
		die("no free port: %s", strerror(errno));
	close(fd);
	return ntohs(in.sin_port);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write %s", path);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct node {
	char dir[PATH_MAX];
	char data[PATH_MAX + 8];
	char log[PATH_MAX + 16];
	uint16_t port;
	pid_t pid;
};

static void node_start(struct node *n, const struct opts *o)
{
	char pw[PATH_MAX + 16], conf[PATH_MAX + 16], cli[PATH_MAX + 32],
		daemon[PATH_MAX + 32], text[PATH_MAX + 512];
	snprintf(n->data, sizeof n->data, "%s/data", n->dir);
	snprintf(n->log, sizeof n->log, "%s/node.log", n->dir);
	snprintf(pw, sizeof pw, "%s/password", n->dir);
	snprintf(conf, sizeof conf, "%s/node.ini", n->dir);
	snprintf(cli, sizeof cli, "%s/cli/phonetrust", bin_dir);
	snprintf(daemon, sizeof daemon, "%s/node/phonetrustd", bin_dir);
	write_text(pw, "bench tvs cluster password\n");
	char *init[] = {cli, "--data", n->data, "init", "--name", "bench",
			"--role", "publisher", "--address", "127.0.0.1",
			"--password-file", pw, "--key-type",
			(char *)o->key_type, NULL};
	if (!run(init, n->log))
		die("phonetrust init failed; see %s", n->log);
	n->port = free_port();
	snprintf(text, sizeof text,
		 "[node]\nname = bench\nrole = publisher\ndata_dir = %s\n"
		 "log_level = info\n"
		 "[ports]\nreplication_stream = %u\nreplication_sync = %u\n"
		 "[services]\ntftp = no\n"
		 "[tvs]\nenabled = yes\nport = %u\nworkers = %u\n"
		 "max_connections = 100000\ntimeout = 30\n",
		 n->data, free_port(), free_port(), n->port, o->workers);
	write_text(conf, text);
	n->pid = fork();
	if (n->pid < 0)
		die("fork: %s", strerror(errno));
	if (n->pid == 0) {
		int fd = open(n->log, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(daemon, daemon, "--config", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		char *log = read_text(n->log);
		bool ready = log && strstr(log, "ready:");
		free(log);
		if (ready)
			return;
		int status;
		if (waitpid(n->pid, &status, WNOHANG) == n->pid)
			die("phonetrustd exited at start; see %s", n->log);
		usleep(20000);
	}
	die("phonetrustd not ready after 6 s; see %s", n->log);
}

static void node_stop(struct node *n)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, SIGTERM);
	int status;
	waitpid(n->pid, &status, 0);
	n->pid = 0;
}

/* ---- the signature ceiling ---------------------------------------------- */

/* openssl speed's sign/s for alg, with -multi when procs > 1; 0 when it
 * cannot be read. */
static double speed_sign(const char *alg, unsigned procs)
{
	char cmd[256];
	if (procs > 1)
		snprintf(cmd, sizeof cmd,
			 "openssl speed -seconds 3 -multi %u %s 2>/dev/null",
			 procs, alg);
	else
		snprintf(cmd, sizeof cmd,
			 "openssl speed -seconds 3 %s 2>/dev/null", alg);
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	char line[512];
	double sign = 0;
	while (fgets(line, sizeof line, p)) {
		/* "rsa 2048 bits 0.000717s 0.000022s 1393.8 46243.8" or
		 * " 256 bits ecdsa (nistp256) 0.0000s 0.0001s 39170.8
		 * 12875.0": sign/s is the last number but one. */
		if (!strstr(line, " bits"))
			continue;
		double nums[16];
		int k = 0;
		for (char *save = NULL, *t = strtok_r(line, " \t\n", &save);
		     t && k < 16; t = strtok_r(NULL, " \t\n", &save)) {
			char *end;
			double v = strtod(t, &end);
			if (end != t && *end == '\0')
				nums[k++] = v;
		}
		if (k >= 2)
			sign = nums[k - 2];
	}
	pclose(p);
	return sign;
}

/* The speed algorithm for the TVS certificate's key, and its description. */
static const char *speed_alg(const char *tvs_pem, char *desc, size_t len)
{
	FILE *f = fopen(tvs_pem, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!x)
		die("cannot read %s", tvs_pem);
	EVP_PKEY *k = X509_get0_pubkey(x);
	int bits = EVP_PKEY_get_bits(k);
	const char *alg = NULL;
	static char rsa[16];
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		snprintf(rsa, sizeof rsa, "rsa%d", bits);
		alg = rsa;
		snprintf(desc, len, "RSA %d", bits);
	} else {
		alg = bits > 256 ? "ecdsap384" : "ecdsap256";
		snprintf(desc, len, "EC P-%d", bits);
	}
	X509_free(x);
	return alg;
}

/* ---- the clients ---------------------------------------------------------- */

enum { C_CONNECT, C_HANDSHAKE, C_SEND, C_READ };

struct client {
	int fd;
	SSL *ssl;
	int state;
	uint64_t start;
	uint8_t resp[PT_TVS_RESPONSE_MAX];
	size_t have;
	unsigned events;
};

struct level {
	SSL_CTX *ctx;
	struct sockaddr_in addr;
	const uint8_t *req;
	size_t req_len;
	int ep;
	unsigned total, launched, done, failed;
	uint64_t *lat; /* ns, one per answered query */
	size_t n_lat;
	char first_error[256];
	char protocol[32];
};

static void note_error(struct level *lv, const char *what)
{
	if (!lv->first_error[0]) {
		unsigned long e = ERR_peek_error();
		char detail[160] = "";
		if (e)
			ERR_error_string_n(e, detail, sizeof detail);
		else if (errno)
			snprintf(detail, sizeof detail, "%s", strerror(errno));
		snprintf(lv->first_error, sizeof lv->first_error, "%s%s%s",
			 what, detail[0] ? ": " : "", detail);
	}
}

static void client_end(struct level *lv, struct client *c, bool ok)
{
	if (ok && !lv->protocol[0])
		snprintf(lv->protocol, sizeof lv->protocol, "%s",
			 SSL_get_version(c->ssl));
	epoll_ctl(lv->ep, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	close(c->fd);
	ERR_clear_error();
	if (ok)
		lv->lat[lv->n_lat++] = now_ns() - c->start;
	else
		lv->failed++;
	lv->done++;
	free(c);
}

static bool client_launch(struct level *lv)
{
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		die("out of memory");
	lv->launched++;
	c->start = now_ns();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error(lv, "socket");
		lv->failed++;
		lv->done++;
		free(c);
		return false;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&lv->addr, sizeof lv->addr) != 0 &&
	    errno != EINPROGRESS) {
		note_error(lv, "connect");
		close(c->fd);
		lv->failed++;
		lv->done++;
		free(c);
		return false;
	}
	c->ssl = SSL_new(lv->ctx);
	SSL_set_fd(c->ssl, c->fd);
	c->state = C_CONNECT;
	c->events = EPOLLOUT;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	epoll_ctl(lv->ep, EPOLL_CTL_ADD, c->fd, &ev);
	return true;
}

static void client_want(struct level *lv, struct client *c, unsigned ev)
{
	if (c->events == ev)
		return;
	c->events = ev;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	epoll_ctl(lv->ep, EPOLL_CTL_MOD, c->fd, &e);
}

static void client_step(struct level *lv, struct client *c)
{
	for (;;) {
		int n = 0;
		ERR_clear_error();
		errno = 0;
		switch (c->state) {
		case C_CONNECT: {
			int err = 0;
			socklen_t sl = sizeof err;
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
			if (err) {
				errno = err;
				note_error(lv, "connect");
				client_end(lv, c, false);
				return;
			}
			c->state = C_HANDSHAKE;
			continue;
		}
		case C_HANDSHAKE:
			n = SSL_connect(c->ssl);
			if (n == 1) {
				c->state = C_SEND;
				continue;
			}
			break;
		case C_SEND:
			n = SSL_write(c->ssl, lv->req, (int)lv->req_len);
			if (n > 0) {
				c->state = C_READ;
				continue;
			}
			break;
		case C_READ:
			n = SSL_read(c->ssl, c->resp + c->have,
				     (int)(sizeof c->resp - c->have));
			if (n > 0) {
				c->have += (size_t)n;
				pt_tvs_response_t r;
				const char *why;
				if (c->have >= PT_TVS_HEADER_LEN &&
				    pt_tvs_response_parse(c->resp, c->have, 1,
							  &r, &why) == PT_OK) {
					bool ok = r.status == 0 &&
						  r.n_roles == 2;
					if (!ok)
						note_error(lv, "not VALID with "
							       "two roles");
					client_end(lv, c, ok);
					return;
				}
				if (c->have == sizeof c->resp) {
					note_error(lv, "oversized answer");
					client_end(lv, c, false);
					return;
				}
				continue;
			}
			break;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ) {
			client_want(lv, c, EPOLLIN);
			return;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			client_want(lv, c, EPOLLOUT);
			return;
		}
		note_error(lv, c->state == C_HANDSHAKE ? "handshake"
			       : c->state == C_READ   ? "no answer"
						      : "send");
		client_end(lv, c, false);
		return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)sorted[i] / 1e6;
}

struct result {
	unsigned concurrency, total, failed;
	double qps, p50, p99;
	double server_ms, client_ms; /* CPU per answered query */
	char error[256];
};

/* One client thread's share of a level. */
struct share {
	pthread_t thread;
	struct level lv;
	unsigned conc;
};

static void *share_main(void *arg)
{
	struct share *sh = arg;
	struct level *lv = &sh->lv;
	lv->ep = epoll_create1(EPOLL_CLOEXEC);
	if (lv->ep < 0)
		die("epoll: %s", strerror(errno));
	while (lv->launched < lv->total && lv->launched - lv->done < sh->conc)
		client_launch(lv);
	struct epoll_event evs[256];
	uint64_t last_progress = now_ns();
	while (lv->done < lv->total) {
		int n = epoll_wait(lv->ep, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			client_step(lv, evs[i].data.ptr);
		while (lv->launched < lv->total &&
		       lv->launched - lv->done < sh->conc)
			client_launch(lv);
		if (n > 0)
			last_progress = now_ns();
		else if (now_ns() - last_progress > QUERY_TIMEOUT_NS)
			die("no progress for 30 s (%u of %u done)", lv->done,
			    lv->total);
	}
	close(lv->ep);
	return NULL;
}

/* CPU seconds a process has used (all its threads), from /proc. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold blanks: utime and
	 * stime are the 12th and 13th after ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				"%llu %llu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void run_level(SSL_CTX *ctx, uint16_t port, pid_t server,
		      const uint8_t *req, size_t req_len, unsigned conc,
		      unsigned total, unsigned threads, struct result *out,
		      char *protocol, size_t plen)
{
	if (threads > conc)
		threads = conc;
	struct share *sh = calloc(threads, sizeof *sh);
	uint64_t *lat = calloc(total, sizeof *lat);
	if (!sh || !lat)
		die("out of memory");
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	for (unsigned t = 0; t < threads; t++) {
		struct level *lv = &sh[t].lv;
		*lv = (struct level){.ctx = ctx, .addr = addr, .req = req,
				     .req_len = req_len};
		lv->total = total / threads + (t < total % threads);
		sh[t].conc = conc / threads + (t < conc % threads);
		lv->lat = calloc(lv->total ? lv->total : 1, sizeof *lv->lat);
		if (!lv->lat)
			die("out of memory");
	}
	double server0 = proc_cpu(server), client0 = self_cpu();
	uint64_t t0 = now_ns();
	for (unsigned t = 0; t < threads; t++)
		if (pthread_create(&sh[t].thread, NULL, share_main, &sh[t]) != 0)
			die("cannot start a client thread");
	for (unsigned t = 0; t < threads; t++)
		pthread_join(sh[t].thread, NULL);
	uint64_t elapsed = now_ns() - t0;
	double server_cpu = proc_cpu(server) - server0;
	double client_cpu = self_cpu() - client0;

	size_t n_lat = 0;
	unsigned failed = 0;
	*out = (struct result){.concurrency = conc, .total = total};
	for (unsigned t = 0; t < threads; t++) {
		struct level *lv = &sh[t].lv;
		memcpy(lat + n_lat, lv->lat, lv->n_lat * sizeof *lat);
		n_lat += lv->n_lat;
		failed += lv->failed;
		if (lv->first_error[0] && !out->error[0])
			snprintf(out->error, sizeof out->error, "%s",
				 lv->first_error);
		if (lv->protocol[0] && !protocol[0])
			snprintf(protocol, plen, "%s", lv->protocol);
		free(lv->lat);
	}
	qsort(lat, n_lat, sizeof *lat, cmp_u64);
	out->failed = failed;
	out->qps = (double)n_lat / ((double)elapsed / 1e9);
	out->p50 = pct_ms(lat, n_lat, 0.50);
	out->p99 = pct_ms(lat, n_lat, 0.99);
	out->server_ms = n_lat ? 1e3 * server_cpu / (double)n_lat : 0;
	out->client_ms = n_lat ? 1e3 * client_cpu / (double)n_lat : 0;
	free(lat);
	free(sh);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: bench_tvs [--key-type rsa2048|ec256|ec384] "
	      "[--workers N]\n"
	      "                 [--requests N] [--levels 1,8,64,1000] "
	      "[--dir DIR]\n"
	      "                 [--client-threads N]\n",
	      f);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"key-type", required_argument, NULL, 'k'},
		{"workers", required_argument, NULL, 'w'},
		{"requests", required_argument, NULL, 'n'},
		{"levels", required_argument, NULL, 'l'},
		{"dir", required_argument, NULL, 'd'},
		{"client-threads", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const unsigned defaults[] = {1, 8, 64, 1000};
	*o = (struct opts){.key_type = "rsa2048", .client_threads = 1};
	memcpy(o->levels, defaults, sizeof defaults);
	o->n_levels = 4;
	int c;
	while ((c = getopt_long(argc, argv, "k:w:n:l:d:c:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'k':
			o->key_type = optarg;
			break;
		case 'w':
			o->workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->requests = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l': {
			o->n_levels = 0;
			char *save = NULL;
			for (char *t = strtok_r(optarg, ",", &save);
			     t && o->n_levels < LEVELS_MAX;
			     t = strtok_r(NULL, ",", &save)) {
				unsigned v = (unsigned)strtoul(t, NULL, 10);
				if (v == 0 || v > 50000)
					die("bad concurrency '%s'", t);
				o->levels[o->n_levels++] = v;
			}
			break;
		}
		case 'd':
			o->dir = optarg;
			break;
		case 'c':
			o->client_threads = (unsigned)strtoul(optarg, NULL, 10);
			if (o->client_threads < 1 || o->client_threads > 64)
				die("--client-threads: 1 to 64");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !o->n_levels) {
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct node n = {0};
	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	find_binaries();

	/* Clients at the highest concurrency hold a descriptor each. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (o.dir) {
		if (mkdir(o.dir, 0700) != 0)
			die("--dir %s: %s (give a directory that does not "
			    "exist yet)",
			    o.dir, strerror(errno));
		snprintf(n.dir, sizeof n.dir, "%s", o.dir);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(n.dir, sizeof n.dir, "%s/bench_tvs.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(n.dir))
			die("mkdtemp: %s", strerror(errno));
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (!o.workers)
		o.workers = cpus > 0 ? (unsigned)cpus : 1;

	node_start(&n, &o);
	char tvs_pem[PATH_MAX + 32], tftp_pem[PATH_MAX + 32], key_desc[32];
	snprintf(tvs_pem, sizeof tvs_pem, "%s/certs/tvs.pem", n.data);
	snprintf(tftp_pem, sizeof tftp_pem, "%s/certs/tftp.pem", n.data);
	const char *alg = speed_alg(tvs_pem, key_desc, sizeof key_desc);

	/* The question: the node's own TFTP certificate (VALID, CCM+TFTP and
	 * TFTP). */
	FILE *f = fopen(tftp_pem, "r");
	X509 *q = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	uint8_t *der = NULL, req[4096];
	size_t der_len = 0, req_len = 0;
	if (!q || pt_certs_encode_der(q, &der, &der_len) != PT_OK ||
	    pt_tvs_request_build(1, "CP-8845-SEP001122334455", der, der_len,
				 req, sizeof req, &req_len) != PT_OK)
		die("cannot build the request");
	X509_free(q);
	free(der);

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, tvs_pem, NULL) != 1)
		die("cannot set up the TLS client");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Every query a full handshake: no session is kept to resume. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	printf("bench_tvs: phonetrustd TVS on 127.0.0.1:%u, %u workers, "
	       "%ld CPUs, TVS key %s; node in %s\n",
	       n.port, o.workers, cpus, key_desc, n.dir);
	printf("each query: TCP connect, full TLS handshake (server "
	       "certificate verified), VERIFY_REQUEST for a trusted "
	       "certificate, VALID answer with 2 roles, close\n\n");
	fflush(stdout);

	double one = speed_sign(alg, 1);
	double all = o.workers > 1 ? speed_sign(alg, o.workers) : one;
	printf("openssl speed %s: %.0f sign/s on one core, %.0f sign/s with "
	       "%u processes: the handshake ceiling (a handshake also costs "
	       "a key exchange)\n\n",
	       alg, one, all, o.workers);

	struct result res[LEVELS_MAX];
	char protocol[32] = "";
	unsigned failures = 0;
	for (size_t i = 0; i < o.n_levels; i++) {
		unsigned total = o.requests ? o.requests
				 : o.levels[i] * 5 > 2000 ? o.levels[i] * 5
							  : 2000;
		if (total < o.levels[i])
			total = o.levels[i];
		run_level(ctx, n.port, n.pid, req, req_len, o.levels[i],
			  total, o.client_threads, &res[i], protocol,
			  sizeof protocol);
		failures += res[i].failed;
	}
	SSL_CTX_free(ctx);

	printf("%-12s %8s %9s %10s %9s %9s %11s %12s %12s\n", "concurrency",
	       "queries", "failures", "queries/s", "p50 ms", "p99 ms",
	       "of ceiling", "server CPU", "client CPU");
	for (size_t i = 0; i < o.n_levels; i++) {
		printf("%-12u %8u %9u %10.0f %9.2f %9.2f %10.0f%% %9.3f ms "
		       "%9.3f ms\n",
		       res[i].concurrency, res[i].total, res[i].failed,
		       res[i].qps, res[i].p50, res[i].p99,
		       all > 0 ? 100.0 * res[i].qps / all : 0.0,
		       res[i].server_ms, res[i].client_ms);
		if (res[i].error[0])
			printf("  first failure: %s\n", res[i].error);
	}
	/* What the server would do with the CPUs to itself: the clients
	 * here share them. */
	double best = 0;
	for (size_t i = 0; i < o.n_levels; i++)
		if (res[i].server_ms > 0 && (best == 0 || res[i].server_ms < best))
			best = res[i].server_ms;
	if (best > 0)
		printf("\nserver CPU per query at best %.3f ms (all threads of "
		       "phonetrustd): %u workers with the CPUs to themselves "
		       "would answer about %.0f queries/s; here the clients "
		       "share the same %ld CPUs\n",
		       best, o.workers, 1e3 * o.workers / best, cpus);
	printf("\nTLS: %s.  Zero failures at every concurrency: %s\n",
	       protocol[0] ? protocol : "?", failures ? "NOT MET" : "met");

	node_stop(&n);
	char *log = read_text(n.log);
	const char *stats = log ? strstr(log, "tvs at stop:") : NULL;
	if (stats) {
		const char *end = strchr(stats, '\n');
		printf("server: %.*s\n", end ? (int)(end - stats) : (int)strlen(stats),
		       stats);
	}
	free(log);
	if (!o.dir) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", n.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_tvs: could not remove %s\n",
				n.dir);
	}
	return failures ? 1 : 0;
}
