/* bench_capf: CAPF enrolments per second and latency against a real
 * phonetrustd, for RSA-2048 and EC P-256 CAPF keys and RSA-2048 and EC
 * P-256 phone keys, at several concurrencies, next to OpenSSL's sign rate
 * for the CAPF key measured in the same run.
 *
 *   bench_capf [--capf-keys rsa2048,ec256] [--phone-keys rsa2048,ec256]
 *              [--levels 1,8,64,1000] [--sessions N] [--workers N]
 *              [--signers N] [--client-threads N] [--dir DIR]
 *
 * Per CAPF key type it makes a publisher with the real `phonetrust init`
 * in a scratch directory (or DIR, which must not exist), adds one device
 * per session to come (install, null string; RSA-2048 or EC P-256 keys)
 * and starts phonetrustd with [capf] enabled on a free port.  The phones
 * are non-blocking clients driven from --client-threads threads (default
 * 1): TCP connect, full TLS handshake with the CAPF certificate as the
 * only anchor, the whole install conversation of the phone machine
 * (lib/capf_session.h), the LSC checked against the CAPF key, close.  A
 * session counts when the phone stored its LSC and END_SESSION 1 came
 * (every LSC holds the phone's key; one in CHECK_EVERY is also checked
 * for the CAPF key's signature).
 *
 * The phones' key pairs are made before any clock starts (a pool of
 * KEY_POOL per type, handed out in turn: the server certifies whatever
 * key arrives), so key generation is never counted against the server.
 *
 * Ceiling: every enrolment costs the server two private-key operations
 * with the CAPF key - the TLS handshake signature (CertificateVerify) and
 * the LSC signature; the store writes none and the server signs nothing
 * else in an install with the null string.  The ECDHE exchange uses a
 * fresh ephemeral key (not the CAPF key) and is not counted.  Two
 * readings are printed: (a) `openssl speed`'s default single-core sign
 * rate divided by two - the "OpenSSL's sign rate", against which
 * the 80% target on two cores is judged - and (b) the rate with every
 * CPU (-multi) divided by two.  Targets (printed, never asserted): at
 * least 80% of ceiling (a) at concurrency 64, zero failures at every
 * concurrency, p99 under one second at 1,000.  The exit status is 1 when
 * any session failed.
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
#include <stdatomic.h>
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

#include "lib/capf_msg.h"
#include "lib/capf_session.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "store/records.h"
#include "store/store.h"

#define LEVELS_MAX 16
#define KEY_POOL 64
#define SESSION_TIMEOUT_NS (60ull * 1000000000ull)
#define EC_PROFILE "Bench EC P-256"
#define PRIVATE_OPS 2
/* Every LSC carries the phone's key (the phone machine checks it); one
 * in CHECK_EVERY is also decoded again and its CAPF signature verified,
 * so that the phones' own OpenSSL work takes less of the CPUs the server
 * shares with them. */
#define CHECK_EVERY 8

struct opts {
	char capf_keys[4][16];
	size_t n_capf;
	char phone_keys[4][16];
	size_t n_phone;
	unsigned levels[LEVELS_MAX];
	size_t n_levels;
	unsigned sessions; /* per level; 0: max(500, 4 x concurrency) */
	unsigned workers, signers, client_threads;
	const char *dir;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The phonetrustd running now, stopped by die(). */
static pid_t node_pid;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	if (node_pid > 0)
		kill(node_pid, SIGTERM);
	va_start(ap, fmt);
	fputs("bench_capf: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* ---- the node ------------------------------------------------------------ */

static char bin_dir[PATH_MAX];

static void find_binaries(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		die("cannot find my own path");
	self[n] = '\0';
	/* build/bench/bench_capf -> build */
	snprintf(bin_dir, sizeof bin_dir, "%s", dirname(dirname(self)));
}

/* Runs argv to completion, output appended to log; true on status 0. */
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
	char cli[PATH_MAX + 32];
	uint16_t port;
	pid_t pid;
};

/* `phonetrust --data DATA ARGS...` (NULL-terminated); dies on failure. */
static void cli(struct node *n, ...)
{
	char *argv[32] = {n->cli, "--data", n->data};
	size_t k = 3;
	va_list ap;
	va_start(ap, n);
	for (char *a = va_arg(ap, char *); a && k < 31; a = va_arg(ap, char *))
		argv[k++] = a;
	va_end(ap);
	argv[k] = NULL;
	if (!run(argv, n->log))
		die("phonetrust %s %s failed; see %s", argv[3], argv[4],
		    n->log);
}

/* Copies of the template device, named prefix + 9 hex digits from 0. */
static void clone_devices(pt_txn_t *txn, const char *tmpl_name,
			  const char *prefix, unsigned count)
{
	Pt__Device *d = NULL;
	if (pt_device_get(txn, tmpl_name, &d) != PT_OK)
		die("cannot read device %s", tmpl_name);
	char *own = d->name;
	char name[32];
	for (unsigned i = 0; i < count; i++) {
		snprintf(name, sizeof name, "%s%09X", prefix, i);
		d->name = name;
		if (pt_device_put(txn, d) != PT_OK)
			die("cannot write device %s", name);
	}
	d->name = own;
	pt_record_free(&d->base);
}

static void node_make(struct node *n, const char *capf_key,
		      unsigned per_type, const struct opts *o)
{
	char pw[PATH_MAX + 16], conf[PATH_MAX + 16], daemon[PATH_MAX + 32],
		text[PATH_MAX + 640];
	snprintf(n->data, sizeof n->data, "%s/data", n->dir);
	snprintf(n->log, sizeof n->log, "%s/node.log", n->dir);
	snprintf(n->cli, sizeof n->cli, "%s/cli/phonetrust", bin_dir);
	snprintf(pw, sizeof pw, "%s/password", n->dir);
	snprintf(conf, sizeof conf, "%s/node.ini", n->dir);
	snprintf(daemon, sizeof daemon, "%s/node/phonetrustd", bin_dir);
	write_text(pw, "bench capf cluster password\n");
	n->port = free_port();
	char port[16];
	snprintf(port, sizeof port, "%u", n->port);
	char *init[] = {n->cli, "--data", n->data, "init", "--name", "bench",
			"--role", "publisher", "--address", "127.0.0.1",
			"--password-file", pw, "--key-type", (char *)capf_key,
			"--capf-port", port, NULL};
	if (!run(init, n->log))
		die("phonetrust init failed; see %s", n->log);
	cli(n, "profile", "add", EC_PROFILE, "--protocol", "sip", "--model",
	    "8841", "--key-order", "ec-only", "--ec-key-size", "256",
	    (char *)NULL);
	cli(n, "device", "add", "SEPBA0000000000", "--model", "8841",
	    "--protocol", "sip", "--operation", "install", "--auth-mode",
	    "null", (char *)NULL);
	cli(n, "device", "add", "SEPEA0000000000", "--model", "8841",
	    "--protocol", "sip", "--profile", EC_PROFILE, "--operation",
	    "install", "--auth-mode", "null", (char *)NULL);

	/* One device per session to come, in one transaction. */
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	if (pt_store_open(n->data, 0, 0, &store) != PT_OK ||
	    pt_txn_begin(store, true, "bench", &txn) != PT_OK)
		die("cannot open the store in %s", n->data);
	clone_devices(txn, "SEPBA0000000000", "SEPBB0", per_type);
	clone_devices(txn, "SEPEA0000000000", "SEPEB0", per_type);
	if (pt_txn_commit(&txn, NULL) != PT_OK)
		die("cannot write the devices");
	pt_store_destroy(&store);

	snprintf(text, sizeof text,
		 "[node]\nname = bench\nrole = publisher\ndata_dir = %s\n"
		 "log_level = info\n"
		 "[ports]\nreplication_stream = %u\nreplication_sync = %u\n"
		 "[services]\ntftp = no\ntvs = no\n"
		 "[capf]\nenabled = yes\nport = %u\nworkers = %u\n"
		 "signers = %u\nmax_connections = 100000\n"
		 "handshake_timeout = 120\nsession_timeout = 600\n",
		 n->data, free_port(), free_port(), n->port, o->workers,
		 o->signers);
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
	node_pid = n->pid;
	for (int i = 0; i < 500; i++) {
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
	die("phonetrustd not ready after 10 s; see %s", n->log);
}

static void node_stop(struct node *n)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, SIGTERM);
	int status;
	waitpid(n->pid, &status, 0);
	n->pid = 0;
	node_pid = 0;
}

/* ---- the ceiling -------------------------------------------------------- */

/* openssl speed's sign/s for alg, with -multi when procs > 1; 0 when it
 * cannot be read. */
static double speed_sign(const char *alg, unsigned procs)
{
	char cmd[256], line[512];
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
	double sign = 0;
	while (fgets(line, sizeof line, p)) {
		/* A result line ends "... sign/s verify/s": the number
		 * before the last. */
		if (!strstr(line, " bits"))
			continue;
		double nums[16];
		int k = 0;
		char *save = NULL;
		for (char *t = strtok_r(line, " \t\n", &save); t && k < 16;
		     t = strtok_r(NULL, " \t\n", &save)) {
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

/* ---- the phones ---------------------------------------------------------- */

enum { P_CONNECT, P_HANDSHAKE, P_SESSION };

struct phone {
	int fd;
	SSL *ssl;
	int state;
	unsigned events;
	uint64_t start;
	pt_capf_phone_t *m;
	pt_capf_phone_config_t cfg;
	char name[32];
	unsigned index; /* device number */
	EVP_PKEY *key;
	uint8_t head[PT_CAPF_HEADER_LEN];
	uint8_t *msg;
	size_t have, want;
	uint8_t *out;
	size_t out_len;
	struct phone *prev, *next; /* in flight */
};

struct share {
	pthread_t thread;
	SSL_CTX *ctx;
	X509 *capf;
	struct sockaddr_in addr;
	const char *prefix;     /* device names */
	unsigned first, total;  /* device numbers of this share */
	unsigned conc;
	EVP_PKEY **keys;
	int ep;
	unsigned launched, done, failed;
	uint64_t *lat;
	size_t n_lat;
	struct phone *flight;
	char first_error[256];
	char protocol[64];
};

static void note(struct share *sh, const char *name, const char *what)
{
	if (sh->first_error[0])
		return;
	char detail[160] = "";
	unsigned long e = ERR_peek_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof detail);
	else if (errno)
		snprintf(detail, sizeof detail, "%s", strerror(errno));
	snprintf(sh->first_error, sizeof sh->first_error, "%s: %s%s%s", name,
		 what, detail[0] ? ": " : "", detail);
}

static void phone_end(struct share *sh, struct phone *p, bool ok)
{
	if (ok && !sh->protocol[0]) {
		int nid = SSL_get_negotiated_group(p->ssl);
		const char *g = nid > 0 ? OBJ_nid2sn(nid) : NULL;
		snprintf(sh->protocol, sizeof sh->protocol, "%s, %s",
			 SSL_get_version(p->ssl), g ? g : "?");
	}
	if (p->fd >= 0) {
		epoll_ctl(sh->ep, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
	}
	SSL_free(p->ssl);
	ERR_clear_error();
	pt_capf_phone_destroy(&p->m);
	free(p->msg);
	free(p->out);
	if (p->prev)
		p->prev->next = p->next;
	else
		sh->flight = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (ok)
		sh->lat[sh->n_lat++] = now_ns() - p->start;
	else
		sh->failed++;
	sh->done++;
	free(p);
}

static void phone_want(struct share *sh, struct phone *p, unsigned ev)
{
	if (p->events == ev)
		return;
	p->events = ev;
	struct epoll_event e = {.events = ev, .data.ptr = p};
	epoll_ctl(sh->ep, EPOLL_CTL_MOD, p->fd, &e);
}

static void phone_launch(struct share *sh)
{
	struct phone *p = calloc(1, sizeof *p);
	if (!p)
		die("out of memory");
	unsigned i = sh->first + sh->launched++;
	p->index = i;
	p->start = now_ns();
	snprintf(p->name, sizeof p->name, "%s%09X", sh->prefix, i);
	p->key = sh->keys[i % KEY_POOL];
	p->cfg.device_name = p->name;
	p->want = PT_CAPF_HEADER_LEN;
	p->next = sh->flight;
	if (sh->flight)
		sh->flight->prev = p;
	sh->flight = p;
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || pt_capf_phone_new(&p->cfg, &p->m) != PT_OK) {
		note(sh, p->name, "socket");
		phone_end(sh, p, false);
		return;
	}
	int one = 1;
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(p->fd, (struct sockaddr *)&sh->addr, sizeof sh->addr) != 0 &&
	    errno != EINPROGRESS) {
		note(sh, p->name, "connect");
		phone_end(sh, p, false);
		return;
	}
	p->ssl = SSL_new(sh->ctx);
	SSL_set_fd(p->ssl, p->fd);
	p->state = P_CONNECT;
	p->events = EPOLLOUT;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = p};
	epoll_ctl(sh->ep, EPOLL_CTL_ADD, p->fd, &ev);
}

/* The LSC offered: for our key (the machine saw to that), and now and
 * then checked for the CAPF key's signature. */
static bool lsc_ok(struct share *sh, struct phone *p)
{
	const uint8_t *der;
	size_t len;
	X509 *x = NULL;
	if (p->index % CHECK_EVERY != 0)
		return true;
	pt_capf_phone_cert(p->m, &der, &len);
	bool ok = pt_certs_decode_der(der, len, &x) == PT_OK &&
		  X509_verify(x, X509_get0_pubkey(sh->capf)) == 1 &&
		  EVP_PKEY_eq(X509_get0_pubkey(x), p->key) == 1;
	X509_free(x);
	return ok;
}

/* One step of the conversation; false when the phone waits or ended. */
static bool converse(struct share *sh, struct phone *p)
{
	int n;
	if (p->out) {
		n = SSL_write(p->ssl, p->out, (int)p->out_len);
		if (n <= 0)
			goto ssl_wait;
		free(p->out);
		p->out = NULL;
		return true;
	}
	if (pt_capf_phone_take_output(p->m, &p->out, &p->out_len))
		return true;
	switch (pt_capf_phone_request(p->m)) {
	case PT_CAPF_PREQ_READ: {
		uint8_t *dst = p->msg ? p->msg : p->head;
		n = SSL_read(p->ssl, dst + p->have, (int)(p->want - p->have));
		if (n <= 0)
			goto ssl_wait;
		p->have += (size_t)n;
		if (!p->msg && p->have == PT_CAPF_HEADER_LEN) {
			pt_capf_header_t h;
			if (pt_capf_header_decode(p->head, p->have, &h) !=
			    PT_OK) {
				note(sh, p->name, "not a CAPF header");
				phone_end(sh, p, false);
				return false;
			}
			p->want = PT_CAPF_HEADER_LEN + h.body_len;
			p->msg = malloc(p->want);
			if (!p->msg)
				die("out of memory");
			memcpy(p->msg, p->head, PT_CAPF_HEADER_LEN);
		}
		if (p->have < p->want)
			return true;
		pt_capf_phone_feed(p->m, p->msg, p->have);
		free(p->msg);
		p->msg = NULL;
		p->have = 0;
		p->want = PT_CAPF_HEADER_LEN;
		return true;
	}
	case PT_CAPF_PREQ_GENERATE_KEY:
		/* Made before the clock started. */
		if (pt_capf_keyspec_match(pt_capf_phone_keyspec(p->m),
					  p->key) != PT_OK ||
		    pt_capf_phone_set_key(p->m, p->key) != PT_OK) {
			note(sh, p->name, "the server asked for another key");
			pt_capf_phone_key_failed(p->m);
		}
		return true;
	case PT_CAPF_PREQ_STORE_CERT: {
		bool ok = lsc_ok(sh, p);
		if (!ok)
			note(sh, p->name, "LSC not signed by CAPF for our key");
		pt_capf_phone_stored(p->m, ok);
		return true;
	}
	case PT_CAPF_PREQ_DELETE_CERT:
		pt_capf_phone_deleted(p->m, false);
		return true;
	case PT_CAPF_PREQ_DONE: {
		const pt_capf_phone_outcome_t *o = pt_capf_phone_outcome(p->m);
		bool ok = o->ended && o->done &&
			  o->end_reason == PT_CAPF_REASON_UPDATE_CERTIFICATE;
		if (!ok) {
			char what[96];
			snprintf(what, sizeof what,
				 "session ended %s (END_SESSION %u, %s)",
				 o->done ? "done" : "not done", o->end_reason,
				 o->why ? o->why : "no protocol error");
			note(sh, p->name, what);
		}
		phone_end(sh, p, ok);
		return false;
	}
	}
	return false;
ssl_wait:;
	int e = SSL_get_error(p->ssl, n);
	if (e == SSL_ERROR_WANT_READ) {
		phone_want(sh, p, EPOLLIN);
		return false;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		phone_want(sh, p, EPOLLOUT);
		return false;
	}
	note(sh, p->name, "the server closed or failed mid-session");
	phone_end(sh, p, false);
	return false;
}

static void phone_step(struct share *sh, struct phone *p)
{
	ERR_clear_error();
	errno = 0;
	if (p->state == P_CONNECT) {
		int err = 0;
		socklen_t sl = sizeof err;
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			errno = err;
			note(sh, p->name, "connect");
			phone_end(sh, p, false);
			return;
		}
		p->state = P_HANDSHAKE;
	}
	if (p->state == P_HANDSHAKE) {
		int n = SSL_connect(p->ssl);
		if (n != 1) {
			int e = SSL_get_error(p->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				phone_want(sh, p, e == SSL_ERROR_WANT_READ
							  ? EPOLLIN
							  : EPOLLOUT);
				return;
			}
			note(sh, p->name, "TLS handshake");
			phone_end(sh, p, false);
			return;
		}
		p->state = P_SESSION;
	}
	while (converse(sh, p))
		;
}

static void *share_main(void *arg)
{
	struct share *sh = arg;
	struct epoll_event evs[256];
	sh->ep = epoll_create1(EPOLL_CLOEXEC);
	if (sh->ep < 0)
		die("epoll: %s", strerror(errno));
	while (sh->launched < sh->total && sh->launched - sh->done < sh->conc)
		phone_launch(sh);
	while (sh->done < sh->total) {
		int n = epoll_wait(sh->ep, evs, 256, 500);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			phone_step(sh, evs[i].data.ptr);
		uint64_t now = now_ns();
		for (struct phone *p = sh->flight, *next; p; p = next) {
			next = p->next;
			if (now - p->start > SESSION_TIMEOUT_NS) {
				errno = ETIMEDOUT;
				note(sh, p->name, "no END_SESSION within 60 s");
				phone_end(sh, p, false);
			}
		}
		while (sh->launched < sh->total &&
		       sh->launched - sh->done < sh->conc)
			phone_launch(sh);
	}
	close(sh->ep);
	return NULL;
}

/* ---- one level ------------------------------------------------------------ */

/* CPU seconds a process has used (all threads), from /proc. */
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
	/* After the command name (which may hold blanks): utime and stime
	 * are the 12th and 13th fields. */
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
	double rate, p50, p99, max;
	double server_ms, client_ms; /* CPU per enrolment */
	char error[256];
};

struct level_in {
	SSL_CTX *ctx;
	X509 *capf;
	uint16_t port;
	pid_t server;
	const char *prefix;
	unsigned first; /* first device number */
	EVP_PKEY **keys;
	unsigned threads;
};

static void run_level(const struct level_in *in, unsigned conc,
		      unsigned total, struct result *out, char *protocol,
		      size_t plen)
{
	unsigned threads = in->threads > conc ? conc : in->threads;
	struct share *sh = calloc(threads, sizeof *sh);
	uint64_t *lat = calloc(total, sizeof *lat);
	if (!sh || !lat)
		die("out of memory");
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(in->port)};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	unsigned first = in->first;
	for (unsigned t = 0; t < threads; t++) {
		sh[t] = (struct share){.ctx = in->ctx, .capf = in->capf,
				       .addr = addr, .prefix = in->prefix,
				       .keys = in->keys, .first = first};
		sh[t].total = total / threads + (t < total % threads);
		sh[t].conc = conc / threads + (t < conc % threads);
		first += sh[t].total;
		sh[t].lat = calloc(sh[t].total ? sh[t].total : 1,
				   sizeof *sh[t].lat);
		if (!sh[t].lat)
			die("out of memory");
	}
	double server0 = proc_cpu(in->server), client0 = self_cpu();
	uint64_t t0 = now_ns();
	for (unsigned t = 0; t < threads; t++)
		if (pthread_create(&sh[t].thread, NULL, share_main, &sh[t]) != 0)
			die("cannot start a client thread");
	for (unsigned t = 0; t < threads; t++)
		pthread_join(sh[t].thread, NULL);
	uint64_t elapsed = now_ns() - t0;
	double server_cpu = proc_cpu(in->server) - server0;
	double client_cpu = self_cpu() - client0;

	size_t n_lat = 0;
	*out = (struct result){.concurrency = conc, .total = total};
	for (unsigned t = 0; t < threads; t++) {
		memcpy(lat + n_lat, sh[t].lat, sh[t].n_lat * sizeof *lat);
		n_lat += sh[t].n_lat;
		out->failed += sh[t].failed;
		if (sh[t].first_error[0] && !out->error[0])
			snprintf(out->error, sizeof out->error, "%s",
				 sh[t].first_error);
		if (sh[t].protocol[0] && !protocol[0])
			snprintf(protocol, plen, "%s", sh[t].protocol);
		free(sh[t].lat);
	}
	qsort(lat, n_lat, sizeof *lat, cmp_u64);
	out->rate = (double)n_lat / ((double)elapsed / 1e9);
	out->p50 = pct_ms(lat, n_lat, 0.50);
	out->p99 = pct_ms(lat, n_lat, 0.99);
	out->max = pct_ms(lat, n_lat, 1.0);
	out->server_ms = n_lat ? 1e3 * server_cpu / (double)n_lat : 0;
	out->client_ms = n_lat ? 1e3 * client_cpu / (double)n_lat : 0;
	free(lat);
	free(sh);
}

/* ---- the phones' keys --------------------------------------------------- */

struct keygen {
	pt_capf_keyspec_t spec;
	EVP_PKEY **keys;
	atomic_uint next;
};

static void *keygen_main(void *arg)
{
	struct keygen *k = arg;
	for (;;) {
		unsigned i = atomic_fetch_add(&k->next, 1);
		if (i >= KEY_POOL)
			return NULL;
		if (pt_capf_keyspec_generate(&k->spec, &k->keys[i]) != PT_OK)
			die("cannot generate a phone key");
	}
}

static EVP_PKEY **make_keys(bool ec, unsigned threads)
{
	struct keygen k = {.spec = {.key_type = ec ? PT_CAPF_KEY_TYPE_EC
						   : PT_CAPF_KEY_TYPE_RSA,
				    .rsa_bits = ec ? 0 : 2048,
				    .curve = PT_CAPF_CURVE_P256}};
	pthread_t tid[64];
	k.keys = calloc(KEY_POOL, sizeof *k.keys);
	if (!k.keys)
		die("out of memory");
	atomic_init(&k.next, 0);
	if (threads > 64)
		threads = 64;
	for (unsigned t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, keygen_main, &k) != 0)
			die("cannot start a key generation thread");
	for (unsigned t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return k.keys;
}

static void free_keys(EVP_PKEY **keys)
{
	for (unsigned i = 0; keys && i < KEY_POOL; i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: bench_capf [--capf-keys rsa2048,ec256] [--phone-keys "
	      "rsa2048,ec256]\n"
	      "                  [--levels 1,8,64,1000] [--sessions N] "
	      "[--workers N]\n"
	      "                  [--signers N] [--client-threads N] "
	      "[--dir DIR]\n",
	      f);
}

static size_t split_kinds(char *arg, char out[4][16], const char *opt)
{
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(arg, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (n == 4 || (strcmp(t, "rsa2048") != 0 &&
			       strcmp(t, "ec256") != 0))
			die("%s: rsa2048 and/or ec256", opt);
		snprintf(out[n++], 16, "%s", t);
	}
	if (!n)
		die("%s: rsa2048 and/or ec256", opt);
	return n;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"capf-keys", required_argument, NULL, 'k'},
		{"phone-keys", required_argument, NULL, 'p'},
		{"levels", required_argument, NULL, 'l'},
		{"sessions", required_argument, NULL, 'n'},
		{"workers", required_argument, NULL, 'w'},
		{"signers", required_argument, NULL, 's'},
		{"client-threads", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const unsigned defaults[] = {1, 8, 64, 1000};
	char all[] = "rsa2048,ec256", all2[] = "rsa2048,ec256";
	memset(o, 0, sizeof *o);
	o->client_threads = 1;
	memcpy(o->levels, defaults, sizeof defaults);
	o->n_levels = 4;
	o->n_capf = split_kinds(all, o->capf_keys, "--capf-keys");
	o->n_phone = split_kinds(all2, o->phone_keys, "--phone-keys");
	int c;
	while ((c = getopt_long(argc, argv, "k:p:l:n:w:s:c:d:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'k':
			o->n_capf = split_kinds(optarg, o->capf_keys,
						"--capf-keys");
			break;
		case 'p':
			o->n_phone = split_kinds(optarg, o->phone_keys,
						 "--phone-keys");
			break;
		case 'l': {
			o->n_levels = 0;
			char *save = NULL;
			for (char *t = strtok_r(optarg, ",", &save);
			     t && o->n_levels < LEVELS_MAX;
			     t = strtok_r(NULL, ",", &save)) {
				unsigned v = (unsigned)strtoul(t, NULL, 10);
				if (v == 0 || v > 20000)
					die("bad concurrency '%s'", t);
				o->levels[o->n_levels++] = v;
			}
			break;
		}
		case 'n':
			o->sessions = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			o->workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->signers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o->client_threads = (unsigned)strtoul(optarg, NULL, 10);
			if (o->client_threads < 1 || o->client_threads > 64)
				die("--client-threads: 1 to 64");
			break;
		case 'd':
			o->dir = optarg;
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

static unsigned sessions_at(const struct opts *o, unsigned conc)
{
	/* Long enough that the first and last round of a level (phones
	 * starting together, the last few alone) weigh little. */
	unsigned n = o->sessions ? o->sessions : conc * 4 > 500 ? conc * 4
								 : 500;
	return n < conc ? conc : n;
}

static void print_stop_line(const struct node *n)
{
	char *log = read_text(n->log);
	const char *stats = log ? strstr(log, "capf at stop:") : NULL;
	if (stats) {
		const char *end = strchr(stats, '\n');
		printf("server: %.*s\n",
		       end ? (int)(end - stats) : (int)strlen(stats), stats);
	}
	free(log);
}

/* One CAPF key type: node, levels for every phone key type, figures. */
static unsigned bench_capf_key(const struct opts *o, const char *capf_key,
			       const char *root, long cpus,
			       EVP_PKEY **rsa_keys, EVP_PKEY **ec_keys)
{
	struct node n = {0};
	unsigned per_type = 0, failures = 0;
	for (size_t i = 0; i < o->n_levels; i++)
		per_type += sessions_at(o, o->levels[i]);
	int w = snprintf(n.dir, sizeof n.dir, "%s/%s", root, capf_key);
	if (w < 0 || (size_t)w >= sizeof n.dir)
		die("%s: path too long", root);
	if (mkdir(n.dir, 0700) != 0)
		die("mkdir %s: %s", n.dir, strerror(errno));
	node_make(&n, capf_key, per_type, o);

	char pem[PATH_MAX + 32];
	snprintf(pem, sizeof pem, "%s/certs/capf.pem", n.data);
	FILE *f = fopen(pem, "r");
	X509 *capf = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!capf || !ctx || SSL_CTX_load_verify_locations(ctx, pem, NULL) != 1)
		die("cannot set up the TLS client with %s", pem);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	bool rsa = strcmp(capf_key, "rsa2048") == 0;
	const char *alg = rsa ? "rsa2048" : "ecdsap256";
	double one = speed_sign(alg, 1);
	double all = cpus > 1 ? speed_sign(alg, (unsigned)cpus) : one;
	/* (a) is what the target is judged against; (b) shows the room
	 * left with every CPU signing. */
	double ceiling = one / PRIVATE_OPS;
	double ceiling_all = all / PRIVATE_OPS;
	printf("== CAPF key %s (phonetrustd on 127.0.0.1:%u, %u workers, %u "
	       "signers; node in %s)\n",
	       rsa ? "RSA 2048" : "EC P-256", n.port, o->workers, o->signers,
	       n.dir);
	printf("openssl speed %s: %.0f sign/s on one core, %.0f sign/s on %ld "
	       "CPUs; %d CAPF-key operations per enrolment (TLS "
	       "CertificateVerify, LSC signature; the ECDHE key is "
	       "ephemeral, not counted)\n"
	       "ceiling (a) one-core rate / %d = %.0f enrolments/s (the "
	       "target is judged against this one); (b) %ld-CPU rate / %d "
	       "= %.0f enrolments/s\n",
	       alg, one, all, cpus, PRIVATE_OPS, PRIVATE_OPS, ceiling, cpus,
	       PRIVATE_OPS, ceiling_all);
	fflush(stdout);

	for (size_t k = 0; k < o->n_phone; k++) {
		bool ec = strcmp(o->phone_keys[k], "ec256") == 0;
		struct level_in in = {
			.ctx = ctx, .capf = capf, .port = n.port,
			.server = n.pid, .prefix = ec ? "SEPEB0" : "SEPBB0",
			.keys = ec ? ec_keys : rsa_keys,
			.threads = o->client_threads,
		};
		struct result res[LEVELS_MAX];
		char protocol[64] = "";
		for (size_t i = 0; i < o->n_levels; i++) {
			unsigned total = sessions_at(o, o->levels[i]);
			run_level(&in, o->levels[i], total, &res[i], protocol,
				  sizeof protocol);
			in.first += total;
			failures += res[i].failed;
		}
		printf("\nphone keys %s (%u pre-generated, handed out in "
		       "turn), TLS %s\n",
		       ec ? "EC P-256" : "RSA 2048", KEY_POOL,
		       protocol[0] ? protocol : "?");
		printf("%-12s %8s %9s %12s %9s %9s %9s %8s %8s %12s %12s\n",
		       "concurrency", "sessions", "failures", "enrolments/s",
		       "p50 ms", "p99 ms", "max ms", "of (a)", "of (b)",
		       "server CPU", "client CPU");
		const struct result *at64 = NULL, *at1000 = NULL;
		bool clean = true;
		for (size_t i = 0; i < o->n_levels; i++) {
			const struct result *r = &res[i];
			printf("%-12u %8u %9u %12.0f %9.1f %9.1f %9.1f %7.0f%% "
			       "%7.0f%% %9.3f ms %9.3f ms\n",
			       r->concurrency, r->total, r->failed, r->rate,
			       r->p50, r->p99, r->max,
			       ceiling > 0 ? 100.0 * r->rate / ceiling : 0.0,
			       ceiling_all > 0 ? 100.0 * r->rate / ceiling_all
					       : 0.0,
			       r->server_ms, r->client_ms);
			if (r->error[0])
				printf("  first failure: %s\n", r->error);
			if (r->concurrency == 64)
				at64 = r;
			if (r->concurrency == 1000)
				at1000 = r;
			clean = clean && r->failed == 0;
		}
		double best = 0;
		for (size_t i = 0; i < o->n_levels; i++)
			if (res[i].server_ms > 0 &&
			    (best == 0 || res[i].server_ms < best))
				best = res[i].server_ms;
		if (best > 0)
			printf("server CPU per enrolment at best %.3f ms (every "
			       "thread of phonetrustd): with the %ld CPUs to "
			       "itself about %.0f enrolments/s; the phones "
			       "here share them\n",
			       best, cpus, 1e3 * (double)cpus / best);
		printf("targets: >= 80%% of ceiling (a) at 64: %s; zero "
		       "failures: %s; p99 < 1 s at 1000: %s\n",
		       !at64		       ? "not measured"
		       : at64->rate >= 0.8 * ceiling ? "met"
						     : "NOT MET",
		       clean ? "met" : "NOT MET",
		       !at1000		       ? "not measured"
		       : at1000->p99 < 1000.0 ? "met"
					      : "NOT MET");
		fflush(stdout);
	}
	SSL_CTX_free(ctx);
	X509_free(capf);
	node_stop(&n);
	print_stop_line(&n);
	printf("\n");
	return failures;
}

int main(int argc, char **argv)
{
	struct opts o;
	char root[PATH_MAX];
	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	find_binaries();

	/* At the highest concurrency every phone holds a descriptor. */
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
		snprintf(root, sizeof root, "%s", o.dir);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(root, sizeof root, "%s/bench_capf.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(root))
			die("mkdtemp: %s", strerror(errno));
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	if (!o.workers)
		o.workers = (unsigned)cpus;
	if (!o.signers)
		o.signers = (unsigned)cpus;

	printf("bench_capf: %ld CPUs, %u client thread%s; each session: TCP "
	       "connect, full TLS handshake (CAPF certificate verified), "
	       "AUTH (null string), KEY_GENERATE with a key made before the "
	       "clock started, the LSC checked (CAPF's signature, our key) "
	       "and stored, END_SESSION 1, close\n",
	       cpus, o.client_threads, o.client_threads == 1 ? "" : "s");
	uint64_t t0 = now_ns();
	EVP_PKEY **rsa_keys = make_keys(false, (unsigned)cpus);
	EVP_PKEY **ec_keys = make_keys(true, (unsigned)cpus);
	printf("phone keys made in %.1f s (not timed against the server)\n\n",
	       (double)(now_ns() - t0) / 1e9);
	fflush(stdout);

	unsigned failures = 0;
	for (size_t i = 0; i < o.n_capf; i++)
		failures += bench_capf_key(&o, o.capf_keys[i], root, cpus,
					   rsa_keys, ec_keys);
	free_keys(rsa_keys);
	free_keys(ec_keys);
	if (!o.dir) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_capf: could not remove %s\n",
				root);
	}
	return failures ? 1 : 0;
}
