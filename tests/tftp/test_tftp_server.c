/* The TFTP server in-process on a loopback port chosen by the kernel,
 * serving a scratch directory: real clients (tftp-hpa, atftp, curl) fetch
 * files byte for byte, and a raw UDP client drives the protocol cases.
 * Every wait is bounded; "nothing arrives" is checked for well under the
 * retransmission timeout the request itself asked for. */
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/tftp_packet.h"
#include "net/log.h"
#include "pt_test.h"
#include "tftp/tftp_dir.h"
#include "tftp/tftp_server.h"

#define WAIT_MS 10000

static char *dir, *root, *log_path;
static int log_fd = -1;
static pt_log_t *log_;
static pt_tftp_dir_t *files;
static pt_tftp_server_t *srv;
static uint16_t port;

static uint8_t *cfg_bytes, *big_bytes;
#define CFG_LEN 5000u
#define BIG_LEN 600000u /* 75,001 blocks of 8 bytes: the block number rolls over */
static const char text_file[] = "line one\nline two\r\nlone CR\rend\n";

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_bytes(const char *name, const uint8_t *data, size_t len)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/%s", root, name), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
}

static uint8_t *pattern(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

static void server_start(const pt_tftp_server_opts_t *extra)
{
	pt_tftp_provider_t prov;
	pt_tftp_dir_provider(files, &prov);
	pt_tftp_server_opts_t o = {
		.bind_address = "127.0.0.1",
		.port = 0,
		.workers = 2,
		.blksize_max = 8192,
		.windowsize_max = 16,
		.timeout = 1,
		.retries = 3,
		.max_transfers = 20000,
	};
	if (extra)
		o = *extra;
	o.providers = &prov;
	o.n_providers = 1;
	o.log = log_;
	ck_assert_int_eq(pt_tftp_server_new(&o, &srv), PT_OK);
	ck_assert_int_eq(pt_tftp_server_start(srv), PT_OK);
	port = pt_tftp_server_port(srv);
	ck_assert_uint_ne(port, 0);
}

static pt_tftp_server_opts_t defaults(void)
{
	return (pt_tftp_server_opts_t){
		.bind_address = "127.0.0.1",
		.workers = 2,
		.blksize_max = 8192,
		.windowsize_max = 16,
		.timeout = 1,
		.retries = 3,
		.max_transfers = 20000,
	};
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&root, "%s/root", dir), 0);
	ck_assert_int_ge(asprintf(&log_path, "%s/server.log", dir), 0);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	char *sub = NULL;
	ck_assert_int_ge(asprintf(&sub, "%s/phone", root), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	free(sub);
	cfg_bytes = pattern(CFG_LEN, 7);
	big_bytes = pattern(BIG_LEN, 11);
	write_bytes("phone/SEP001122334455.cnf.xml", cfg_bytes, CFG_LEN);
	write_bytes("big.bin", big_bytes, BIG_LEN);
	write_bytes("hello.txt", (const uint8_t *)text_file,
		    sizeof text_file - 1);
	write_bytes("exact.bin", cfg_bytes, 1024);
	write_bytes("empty.bin", cfg_bytes, 0);
	write_bytes("three.bin", cfg_bytes, 1100);

	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		      0644);
	ck_assert_int_ge(log_fd, 0);
	pt_log_opts_t lo = {.level = PT_LOG_DEBUG, .fd = log_fd,
			    .ident = "t"};
	ck_assert_int_eq(pt_log_new(&lo, &log_), PT_OK);
	pt_tftp_dir_opts_t dopts = {.root = root};
	ck_assert_int_eq(pt_tftp_dir_new(&dopts, &files), PT_OK);
	srv = NULL;
}

static void teardown(void)
{
	pt_tftp_server_destroy(&srv);
	pt_tftp_dir_destroy(&files);
	pt_log_destroy(&log_);
	close(log_fd);
	pt_test_rmtree(dir);
	free(dir);
	free(root);
	free(log_path);
	free(cfg_bytes);
	free(big_bytes);
}

static char *log_text(void)
{
	return pt_test_read_file(log_path, NULL);
}

static void assert_log_has(const char *needle)
{
	char *text = log_text();
	ck_assert_msg(strstr(text, needle), "'%s' not in the log:\n%s", needle,
		      text);
	free(text);
}

static pt_tftp_stats_t stats(void)
{
	pt_tftp_stats_t s;
	pt_tftp_server_stats(srv, &s);
	return s;
}

/* Waits (bounded) until the server has no transfer running. */
static void wait_idle(void)
{
	int64_t end = now_ms() + WAIT_MS;
	while (stats().active != 0 && now_ms() < end)
		poll(NULL, 0, 10);
	ck_assert_uint_eq(stats().active, 0);
}

/* ---- real clients ---- */

static char *local_path(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

/* Runs a client under timeout(1) and checks it succeeded. */
static void run_client(char **argv)
{
	pt_run_t res;
	pt_test_runv(&res, NULL, "/usr/bin/timeout", argv);
	ck_assert_msg(res.status == 0, "%s failed (%d):\n%s\n%s", argv[2],
		      res.status, res.out, res.err);
	pt_run_clear(&res);
}

static void assert_file(const char *path, const void *want, size_t len)
{
	size_t got_len;
	char *got = pt_test_read_file(path, &got_len);
	ck_assert_uint_eq(got_len, len);
	ck_assert_msg(len == 0 || memcmp(got, want, len) == 0,
		      "%s differs from what was served", path);
	free(got);
}

static void tftp_hpa_get(const char *mode, const char *remote,
			 const char *local)
{
	char ports[8];
	snprintf(ports, sizeof ports, "%u", port);
	char *argv[] = {"timeout", "30", "/usr/bin/tftp", "-m", (char *)mode,
			"127.0.0.1", ports, "-c", "get", (char *)remote,
			(char *)local, NULL};
	run_client(argv);
}

START_TEST(tftp_hpa_octet_and_netascii)
{
	server_start(NULL);
	char *a = local_path("a.xml"), *b = local_path("b.txt"),
	     *c = local_path("c.bin"), *e = local_path("e.bin");
	tftp_hpa_get("octet", "phone/SEP001122334455.cnf.xml", a);
	assert_file(a, cfg_bytes, CFG_LEN);
	/* netascii: LF went out as CR LF, a lone CR as CR NUL, and the
	 * client turned them back. */
	tftp_hpa_get("netascii", "hello.txt", b);
	assert_file(b, text_file, sizeof text_file - 1);
	/* A multiple of 512 ends with an empty block; an empty file is one
	 * empty block. */
	tftp_hpa_get("octet", "exact.bin", c);
	assert_file(c, cfg_bytes, 1024);
	tftp_hpa_get("octet", "empty.bin", e);
	assert_file(e, "", 0);
	wait_idle();
	pt_tftp_stats_t s = stats();
	ck_assert_uint_eq(s.completed, 4);
	ck_assert_uint_eq(s.failed, 0);
	assert_log_has("tftp: sent 'hello.txt' to 127.0.0.1:");
	free(a);
	free(b);
	free(c);
	free(e);
}
END_TEST

static void atftp_get(const char *remote, const char *local,
		      const char *opt1, const char *opt2)
{
	char ports[8];
	snprintf(ports, sizeof ports, "%u", port);
	char *argv[16];
	int n = 0;
	argv[n++] = "timeout";
	argv[n++] = "30";
	argv[n++] = "/usr/bin/atftp";
	if (opt1) {
		argv[n++] = "--option";
		argv[n++] = (char *)opt1;
	}
	if (opt2) {
		argv[n++] = "--option";
		argv[n++] = (char *)opt2;
	}
	argv[n++] = "-g";
	argv[n++] = "-r";
	argv[n++] = (char *)remote;
	argv[n++] = "-l";
	argv[n++] = (char *)local;
	argv[n++] = "127.0.0.1";
	argv[n++] = ports;
	argv[n] = NULL;
	run_client(argv);
}

START_TEST(atftp_with_options)
{
	server_start(NULL);
	char *a = local_path("a.xml"), *b = local_path("b.xml"),
	     *c = local_path("c.bin");
	atftp_get("phone/SEP001122334455.cnf.xml", a, "blksize 1428",
		  "tsize");
	assert_file(a, cfg_bytes, CFG_LEN);
	atftp_get("phone/SEP001122334455.cnf.xml", b, "windowsize 4",
		  "blksize 512");
	assert_file(b, cfg_bytes, CFG_LEN);
	atftp_get("big.bin", c, "blksize 1428", "windowsize 8");
	assert_file(c, big_bytes, BIG_LEN);
	wait_idle();
	ck_assert_uint_eq(stats().completed, 3);
	ck_assert_uint_eq(stats().failed, 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

static void curl_get(const char *remote, const char *local,
		     const char *blksize)
{
	char url[512];
	snprintf(url, sizeof url, "tftp://127.0.0.1:%u/%s", port, remote);
	char *argv[] = {"timeout", "120", "/usr/bin/curl", "-sS",
			"--tftp-blksize", (char *)blksize, "-o", (char *)local,
			url, NULL};
	run_client(argv);
}

START_TEST(curl_blksizes)
{
	server_start(NULL);
	char *a = local_path("a.xml"), *b = local_path("b.xml");
	curl_get("phone/SEP001122334455.cnf.xml", a, "1428");
	assert_file(a, cfg_bytes, CFG_LEN);
	curl_get("phone/SEP001122334455.cnf.xml", b, "512");
	assert_file(b, cfg_bytes, CFG_LEN);
	wait_idle();
	ck_assert_uint_eq(stats().completed, 2);
	free(a);
	free(b);
}
END_TEST

/* A wildcard bind answers each client from the address it wrote to,
 * IPv4 (on the dual-stack socket) and IPv6 alike. */
START_TEST(wildcard_dual_stack)
{
	pt_tftp_server_opts_t o = defaults();
	o.bind_address = "::";
	server_start(&o);
	char *a = local_path("a.xml"), *b = local_path("b.xml");
	curl_get("phone/SEP001122334455.cnf.xml", a, "1428");
	assert_file(a, cfg_bytes, CFG_LEN);
	char url[512];
	snprintf(url, sizeof url, "tftp://[::1]:%u/phone/SEP001122334455.cnf.xml",
		 port);
	char *argv[] = {"timeout", "30", "/usr/bin/curl", "-sS", "-o", b, url,
			NULL};
	run_client(argv);
	assert_file(b, cfg_bytes, CFG_LEN);
	/* tftp-hpa checks that every packet comes from the server it asked. */
	char *c = local_path("c.txt");
	char ports[8];
	snprintf(ports, sizeof ports, "%u", port);
	char *argv2[] = {"timeout", "30", "/usr/bin/tftp", "-6", "::1", ports,
			 "-c", "get", "hello.txt", c, NULL};
	run_client(argv2);
	assert_file(c, text_file, sizeof text_file - 1);
	wait_idle();
	ck_assert_uint_eq(stats().completed, 3);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(block_number_rolls_over)
{
	server_start(NULL);
	char *a = local_path("big.bin");
	/* 600,000 bytes in blocks of 8: 75,001 blocks, past 65,535. */
	curl_get("big.bin", a, "8");
	assert_file(a, big_bytes, BIG_LEN);
	wait_idle();
	ck_assert_uint_eq(stats().completed, 1);
	ck_assert_uint_eq(stats().failed, 0);
	free(a);
}
END_TEST

/* ---- a raw client ---- */

static int raw_open(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in me = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
	return fd;
}

static void raw_send_to(int fd, uint16_t to_port, const void *pkt, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(to_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(sendto(fd, pkt, len, 0, (struct sockaddr *)&to,
				sizeof to),
			 (ssize_t)len);
}

/* Receives one datagram within timeout_ms; -1 when none came.  *from_port
 * (may be NULL) gets the sender's port. */
static ssize_t raw_recv(int fd, uint8_t *buf, size_t cap, int timeout_ms,
			uint16_t *from_port)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
	if (n >= 0 && from_port)
		*from_port = ntohs(from.sin_port);
	return n;
}

/* A request: opcode, name, mode, then option/value pairs. */
static size_t request(uint8_t *buf, uint16_t op, const char *name,
		      const char *mode, const char *const *opts, size_t nopts)
{
	size_t n = 0;
	buf[n++] = 0;
	buf[n++] = (uint8_t)op;
	memcpy(buf + n, name, strlen(name) + 1);
	n += strlen(name) + 1;
	memcpy(buf + n, mode, strlen(mode) + 1);
	n += strlen(mode) + 1;
	for (size_t i = 0; i < nopts; i++) {
		memcpy(buf + n, opts[i], strlen(opts[i]) + 1);
		n += strlen(opts[i]) + 1;
	}
	return n;
}

static void send_ack(int fd, uint16_t to_port, uint16_t block)
{
	uint8_t ack[4] = {0, PT_TFTP_ACK, (uint8_t)(block >> 8),
			  (uint8_t)block};
	raw_send_to(fd, to_port, ack, sizeof ack);
}

/* Sends a request and expects an ERROR with code; returns its text. */
static void expect_error(const uint8_t *req, size_t len, uint16_t code,
			 const char *text)
{
	int fd = raw_open();
	uint8_t buf[1024];
	raw_send_to(fd, port, req, len);
	ssize_t n = raw_recv(fd, buf, sizeof buf - 1, WAIT_MS, NULL);
	ck_assert_int_ge(n, 5);
	buf[n] = 0;
	ck_assert_uint_eq(buf[1], PT_TFTP_ERROR);
	ck_assert_uint_eq((unsigned)(buf[2] << 8 | buf[3]), code);
	if (text)
		ck_assert_msg(strstr((char *)buf + 4, text),
			      "error text '%s' lacks '%s'", buf + 4, text);
	close(fd);
}

START_TEST(refusals)
{
	server_start(NULL);
	uint8_t req[600];
	size_t n;

	n = request(req, PT_TFTP_WRQ, "upload.bin", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_ACCESS, "Write requests");
	n = request(req, PT_TFTP_RRQ, "../etc/passwd", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_ACCESS, NULL);
	n = request(req, PT_TFTP_RRQ, "phone/../../etc/passwd", "octet", NULL,
		    0);
	expect_error(req, n, PT_TFTP_E_ACCESS, NULL);
	n = request(req, PT_TFTP_RRQ, "/etc/passwd", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_ACCESS, NULL);
	n = request(req, PT_TFTP_RRQ, "bad\001name", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_ACCESS, NULL);
	n = request(req, PT_TFTP_RRQ, "nothere.bin", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_NOT_FOUND, "File not found");
	n = request(req, PT_TFTP_RRQ, "phone", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_NOT_FOUND, NULL);
	n = request(req, PT_TFTP_RRQ, "hello.txt", "mail", NULL, 0);
	expect_error(req, n, PT_TFTP_E_ILLEGAL_OP, NULL);
	/* No NUL after the mode. */
	n = request(req, PT_TFTP_RRQ, "hello.txt", "octet", NULL, 0) - 1;
	expect_error(req, n, PT_TFTP_E_ILLEGAL_OP, NULL);
	/* An unknown opcode. */
	uint8_t odd[4] = {0, 9, 0, 1};
	expect_error(odd, sizeof odd, PT_TFTP_E_ILLEGAL_OP, NULL);
	/* Over 512 bytes. */
	memset(req, 'a', sizeof req);
	req[0] = 0;
	req[1] = PT_TFTP_RRQ;
	expect_error(req, sizeof req, PT_TFTP_E_ILLEGAL_OP, NULL);

	/* Too short for an opcode, or a packet of a transfer (ERROR, ACK,
	 * DATA): no answer at all.  Then a good request from the same socket
	 * is answered first. */
	int fd = raw_open();
	uint8_t one = 0, buf[1024];
	uint8_t err[] = {0, PT_TFTP_ERROR, 0, 0, 'x', 0};
	uint8_t ack[4] = {0, PT_TFTP_ACK, 0, 1};
	uint8_t data[6] = {0, PT_TFTP_DATA, 0, 1, 'h', 'i'};
	raw_send_to(fd, port, &one, 1);
	raw_send_to(fd, port, err, sizeof err);
	raw_send_to(fd, port, ack, sizeof ack);
	raw_send_to(fd, port, data, sizeof data);
	n = request(req, PT_TFTP_RRQ, "nothere.bin", "octet", NULL, 0);
	raw_send_to(fd, port, req, n);
	ssize_t got = raw_recv(fd, buf, sizeof buf, WAIT_MS, NULL);
	ck_assert_int_ge(got, 4);
	ck_assert_uint_eq(buf[1], PT_TFTP_ERROR);
	ck_assert_uint_eq(buf[3], PT_TFTP_E_NOT_FOUND);
	close(fd);

	pt_tftp_stats_t s = stats();
	ck_assert_uint_eq(s.denied, 5);
	ck_assert_uint_eq(s.not_found, 3);
	ck_assert_uint_eq(s.illegal, 7);
	ck_assert_uint_eq(s.requests, 16);
	ck_assert_uint_eq(s.completed + s.failed + s.active, 0);
	assert_log_has("tftp: refused write request for 'upload.bin' from "
		       "127.0.0.1:");
	assert_log_has("refused read request for '../etc/passwd' ('..' in the "
		       "file name)");
	assert_log_has("refused read request for '/etc/passwd' (absolute "
		       "path)");
	assert_log_has("refused read request for 'bad\\x01name' (control or "
		       "non-ASCII character");
	assert_log_has("no file 'nothere.bin'");
	assert_log_has("refused mail-mode request for 'hello.txt'");
}
END_TEST

static unsigned count_in_log(const char *needle)
{
	char *text = log_text();
	unsigned n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	free(text);
	return n;
}

/* A flood of refusals costs a bounded number of log lines; the next line
 * after the second says how many were left out. */
START_TEST(refusal_lines_are_limited)
{
	server_start(NULL);
	int fd = raw_open();
	uint8_t req[600], buf[1024];
	size_t n = request(req, PT_TFTP_RRQ, "x/../y", "octet", NULL, 0);
	for (int i = 0; i < 30; i++)
		raw_send_to(fd, port, req, n);
	for (int i = 0; i < 30; i++)
		ck_assert_int_ge(raw_recv(fd, buf, sizeof buf, WAIT_MS, NULL), 4);
	poll(NULL, 0, 1100);
	raw_send_to(fd, port, req, n);
	ck_assert_int_ge(raw_recv(fd, buf, sizeof buf, WAIT_MS, NULL), 4);
	unsigned logged = count_in_log("refused read request for 'x/../y'");
	/* Lines "tftp: N more refusal lines of worker W left out ...". */
	char *text = log_text();
	unsigned left_out = 0;
	const char *tag = " more refusal lines of worker";
	for (const char *m = strstr(text, tag); m; m = strstr(m + 1, tag)) {
		const char *q = m;
		while (q > text && q[-1] >= '0' && q[-1] <= '9')
			q--;
		left_out += (unsigned)strtoul(q, NULL, 10);
	}
	free(text);
	ck_assert_uint_le(logged, 2 * PT_TFTP_LOG_BURST);
	ck_assert_uint_ge(left_out, 1);
	ck_assert_uint_eq(logged + left_out, 31);
	ck_assert_uint_eq(stats().denied, 31);
	close(fd);
}
END_TEST

START_TEST(symlink_out_of_root_refused)
{
	server_start(NULL);
	char *link = NULL;
	ck_assert_int_ge(asprintf(&link, "%s/escape", root), 0);
	ck_assert_int_eq(symlink("/etc/hostname", link), 0);
	uint8_t req[600];
	size_t n = request(req, PT_TFTP_RRQ, "escape", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_ACCESS, NULL);
	assert_log_has("refused 'escape' (static files: ");
	free(link);
}
END_TEST

/* Reads DATA packets until the one numbered block arrives. */
static ssize_t expect_data(int fd, uint8_t *buf, size_t cap, uint16_t block,
			   uint16_t *tid)
{
	ssize_t n = raw_recv(fd, buf, cap, WAIT_MS, tid);
	ck_assert_int_ge(n, 4);
	ck_assert_uint_eq(buf[1], PT_TFTP_DATA);
	ck_assert_uint_eq((unsigned)(buf[2] << 8 | buf[3]), block);
	return n;
}

START_TEST(duplicate_acks_send_nothing_twice)
{
	server_start(NULL);
	int fd = raw_open();
	uint8_t req[600], buf[2048];
	uint16_t tid = 0;
	/* A 5 s timeout keeps retransmissions out of the window watched. */
	const char *opts[] = {"timeout", "5"};
	size_t n = request(req, PT_TFTP_RRQ, "three.bin", "octet", opts, 2);
	raw_send_to(fd, port, req, n);
	ssize_t got = raw_recv(fd, buf, sizeof buf, WAIT_MS, &tid);
	ck_assert_int_ge(got, 2);
	ck_assert_uint_eq(buf[1], PT_TFTP_OACK);
	ck_assert_uint_ne(tid, port);
	send_ack(fd, tid, 0);
	send_ack(fd, tid, 0);
	expect_data(fd, buf, sizeof buf, 1, NULL);
	send_ack(fd, tid, 1);
	send_ack(fd, tid, 1);
	send_ack(fd, tid, 1);
	send_ack(fd, tid, 0);
	got = expect_data(fd, buf, sizeof buf, 2, NULL);
	ck_assert_int_eq(got, 4 + 512);
	/* The repeated ACKs 1 and the stale ACK 0 must not have sent DATA 2
	 * (or 1) again. */
	ck_assert_int_eq(raw_recv(fd, buf, sizeof buf, 1000, NULL), -1);
	send_ack(fd, tid, 2);
	got = expect_data(fd, buf, sizeof buf, 3, NULL);
	ck_assert_int_eq(got, 4 + 1100 - 1024);
	send_ack(fd, tid, 3);
	wait_idle();
	ck_assert_uint_eq(stats().completed, 1);
	ck_assert_uint_eq(stats().retransmissions, 0);
	close(fd);
}
END_TEST

START_TEST(silent_client_is_given_up)
{
	server_start(NULL);
	int fd = raw_open();
	uint8_t req[600], buf[2048];
	size_t n = request(req, PT_TFTP_RRQ, "three.bin", "octet", NULL, 0);
	raw_send_to(fd, port, req, n);
	/* DATA 1, then one copy per retry (3), then nothing. */
	for (int i = 0; i < 4; i++)
		expect_data(fd, buf, sizeof buf, 1, NULL);
	wait_idle();
	pt_tftp_stats_t s = stats();
	ck_assert_uint_eq(s.failed, 1);
	ck_assert_uint_eq(s.completed, 0);
	ck_assert_uint_eq(s.retransmissions, 3);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof buf, 200, NULL), -1);
	assert_log_has("transfer of 'three.bin' to 127.0.0.1:");
	assert_log_has("failed after");
	close(fd);
}
END_TEST

/* The value of option name in an OACK of len bytes, or NULL. */
static const char *oack_value(const uint8_t *pkt, size_t len, const char *name)
{
	size_t at = 2;
	while (at < len) {
		const char *k = (const char *)pkt + at;
		size_t kl = strnlen(k, len - at);
		if (at + kl + 1 >= len)
			return NULL;
		const char *v = k + kl + 1;
		size_t vl = strnlen(v, len - at - kl - 1);
		if (strcmp(k, name) == 0)
			return v;
		at += kl + 1 + vl + 1;
	}
	return NULL;
}

START_TEST(options_negotiated)
{
	server_start(NULL);
	int fd = raw_open();
	uint8_t req[600], buf[70000];
	uint16_t tid = 0;
	const char *opts[] = {"blksize", "1000", "tsize", "0", "timeout",
			      "3", "windowsize", "4", "colour", "blue"};
	size_t n = request(req, PT_TFTP_RRQ, "phone/SEP001122334455.cnf.xml",
			   "octet", opts, 10);
	raw_send_to(fd, port, req, n);
	ssize_t got = raw_recv(fd, buf, sizeof buf, WAIT_MS, &tid);
	ck_assert_int_gt(got, 2);
	ck_assert_uint_eq(buf[1], PT_TFTP_OACK);
	ck_assert_str_eq(oack_value(buf, (size_t)got, "blksize"), "1000");
	ck_assert_str_eq(oack_value(buf, (size_t)got, "tsize"), "5000");
	ck_assert_str_eq(oack_value(buf, (size_t)got, "timeout"), "3");
	ck_assert_str_eq(oack_value(buf, (size_t)got, "windowsize"), "4");
	ck_assert_ptr_null(oack_value(buf, (size_t)got, "colour"));
	send_ack(fd, tid, 0);
	/* A window of four blocks without waiting for ACKs. */
	uint8_t out[CFG_LEN];
	size_t have = 0;
	for (uint16_t b = 1; b <= 4; b++) {
		got = expect_data(fd, buf, sizeof buf, b, NULL);
		ck_assert_int_eq(got, 1004);
		memcpy(out + have, buf + 4, 1000);
		have += 1000;
	}
	send_ack(fd, tid, 4);
	got = expect_data(fd, buf, sizeof buf, 5, NULL);
	ck_assert_int_eq(got, 1004);
	memcpy(out + have, buf + 4, 1000);
	have += 1000;
	got = expect_data(fd, buf, sizeof buf, 6, NULL);
	ck_assert_int_eq(got, 4); /* 5000 is a multiple of 1000 */
	send_ack(fd, tid, 6);
	ck_assert_mem_eq(out, cfg_bytes, CFG_LEN);
	wait_idle();
	ck_assert_uint_eq(stats().completed, 1);

	/* A blksize above the server's cap is lowered to it. */
	const char *big[] = {"blksize", "65464"};
	n = request(req, PT_TFTP_RRQ, "big.bin", "octet", big, 2);
	raw_send_to(fd, port, req, n);
	got = raw_recv(fd, buf, sizeof buf, WAIT_MS, &tid);
	ck_assert_int_gt(got, 2);
	ck_assert_uint_eq(buf[1], PT_TFTP_OACK);
	ck_assert_str_eq(oack_value(buf, (size_t)got, "blksize"), "8192");
	send_ack(fd, tid, 0);
	got = expect_data(fd, buf, sizeof buf, 1, NULL);
	ck_assert_int_eq(got, 4 + 8192);
	/* The client gives up: its ERROR ends the transfer. */
	uint8_t err[] = {0, PT_TFTP_ERROR, 0, 0, 'b', 'y', 'e', 0};
	raw_send_to(fd, tid, err, sizeof err);
	wait_idle();
	ck_assert_uint_eq(stats().failed, 1);
	close(fd);
}
END_TEST

START_TEST(repeated_request_is_one_transfer)
{
	server_start(NULL);
	int fd = raw_open();
	uint8_t req[600], buf[2048];
	uint16_t tid1 = 0, tid2 = 0;
	const char *opts[] = {"timeout", "5"};
	size_t n = request(req, PT_TFTP_RRQ, "three.bin", "octet", opts, 2);
	raw_send_to(fd, port, req, n);
	raw_send_to(fd, port, req, n);
	ssize_t got = raw_recv(fd, buf, sizeof buf, WAIT_MS, &tid1);
	ck_assert_int_gt(got, 2);
	ck_assert_uint_eq(buf[1], PT_TFTP_OACK);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof buf, 1000, &tid2), -1);
	ck_assert_uint_eq(stats().active, 1);
	ck_assert_uint_eq(stats().requests, 2);
	close(fd);
}
END_TEST

START_TEST(per_client_cap)
{
	pt_tftp_server_opts_t o = defaults();
	o.per_client_max = 2;
	server_start(&o);
	int fds[3];
	uint16_t tids[2];
	uint8_t req[600], buf[2048];
	const char *opts[] = {"timeout", "30"};
	size_t n = request(req, PT_TFTP_RRQ, "three.bin", "octet", opts, 2);
	for (int i = 0; i < 2; i++) {
		fds[i] = raw_open();
		raw_send_to(fds[i], port, req, n);
		ssize_t got = raw_recv(fds[i], buf, sizeof buf, WAIT_MS,
				       &tids[i]);
		ck_assert_int_gt(got, 2);
		ck_assert_uint_eq(buf[1], PT_TFTP_OACK);
	}
	ck_assert_uint_eq(stats().active, 2);
	expect_error(req, n, PT_TFTP_E_UNDEFINED, "Too many transfers");
	ck_assert_uint_eq(stats().client_capped, 1);
	ck_assert_uint_eq(stats().active, 2);
	assert_log_has("the per-client maximum");
	/* One ends (the client says so): room for one more. */
	uint8_t err[] = {0, PT_TFTP_ERROR, 0, 0, 0};
	raw_send_to(fds[0], tids[0], err, sizeof err);
	int64_t end = now_ms() + WAIT_MS;
	while (stats().active != 1 && now_ms() < end)
		poll(NULL, 0, 10);
	ck_assert_uint_eq(stats().active, 1);
	fds[2] = raw_open();
	raw_send_to(fds[2], port, req, n);
	ssize_t got = raw_recv(fds[2], buf, sizeof buf, WAIT_MS, NULL);
	ck_assert_int_gt(got, 2);
	ck_assert_uint_eq(buf[1], PT_TFTP_OACK);
	ck_assert_uint_eq(stats().client_capped, 1);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}
END_TEST

START_TEST(per_client_rate)
{
	pt_tftp_server_opts_t o = defaults();
	o.per_client_rate = 5;
	server_start(&o);
	int fd = raw_open();
	uint8_t req[600], buf[2048];
	size_t n = request(req, PT_TFTP_RRQ, "nothere.bin", "octet", NULL, 0);
	for (int i = 0; i < 20; i++)
		raw_send_to(fd, port, req, n);
	int not_found = 0, limited = 0;
	ssize_t got;
	while ((got = raw_recv(fd, buf, sizeof buf - 1, 1000, NULL)) >= 4) {
		buf[got] = 0;
		ck_assert_uint_eq(buf[1], PT_TFTP_ERROR);
		if (buf[3] == PT_TFTP_E_NOT_FOUND) {
			not_found++;
		} else {
			ck_assert_uint_eq(buf[3], PT_TFTP_E_UNDEFINED);
			ck_assert_ptr_nonnull(strstr((char *)buf + 4,
						     "Too many requests"));
			limited++;
		}
	}
	/* The burst of five passes, the rest is refused and answered once. */
	ck_assert_int_ge(not_found, 5);
	ck_assert_int_lt(not_found, 20);
	ck_assert_int_eq(limited, 1);
	pt_tftp_stats_t s = stats();
	ck_assert_uint_eq(s.rate_limited + s.not_found, 20);
	ck_assert_uint_ge(s.rate_limited, 1);
	assert_log_has("request over the per-client rate of 5/s");
	close(fd);
}
END_TEST

START_TEST(server_busy)
{
	pt_tftp_server_opts_t o = defaults();
	o.max_transfers = 2;
	server_start(&o);
	int fds[2];
	uint8_t req[600], buf[2048];
	const char *opts[] = {"timeout", "30"};
	size_t n = request(req, PT_TFTP_RRQ, "three.bin", "octet", opts, 2);
	for (int i = 0; i < 2; i++) {
		fds[i] = raw_open();
		raw_send_to(fds[i], port, req, n);
		ck_assert_int_gt(raw_recv(fds[i], buf, sizeof buf, WAIT_MS,
					  NULL),
				 2);
	}
	expect_error(req, n, PT_TFTP_E_DISK_FULL, "Server busy");
	ck_assert_uint_eq(stats().busy, 1);
	assert_log_has("2 transfers running, the maximum");
	for (int i = 0; i < 2; i++)
		close(fds[i]);
}
END_TEST

START_TEST(wildcard_v4)
{
	pt_tftp_server_opts_t o = defaults();
	o.bind_address = "0.0.0.0";
	server_start(&o);
	char *a = local_path("a.xml");
	tftp_hpa_get("octet", "phone/SEP001122334455.cnf.xml", a);
	assert_file(a, cfg_bytes, CFG_LEN);
	/* Refusals go out from the TFTP port, from the address asked. */
	uint8_t req[600];
	size_t n = request(req, PT_TFTP_RRQ, "nothere.bin", "octet", NULL, 0);
	expect_error(req, n, PT_TFTP_E_NOT_FOUND, NULL);
	free(a);
}
END_TEST

/* ---- 10,000 transfers at once ---- */

#define MANY 10000
#define MANY_OUTSTANDING 256

static bool read_byte(int fd, char want, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c = 0;
	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	return read(fd, &c, 1) == 1 && c == want;
}

/* The client side, in a process of its own: its 10,000 sockets and the
 * server's 10,000 would not fit under one open-file limit.  Opens every
 * transfer and holds it (the requests ask for a 60 s timeout, so nothing
 * is resent meanwhile), reports, waits for the go, then acknowledges
 * everything to the end.  Exit status 0 on success. */
static int many_clients(int from_parent, int to_parent)
{
	struct rlimit rl;
	uint16_t srv_port;
	if (read(from_parent, &srv_port, sizeof srv_port) !=
	    (ssize_t)sizeof srv_port)
		return 10;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 11;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < MANY + 64)
		return 12;
	int *fd = calloc(MANY, sizeof *fd);
	uint16_t *tid = calloc(MANY, sizeof *tid);
	int64_t *asked = calloc(MANY, sizeof *asked);
	struct pollfd *pf = calloc(MANY, sizeof *pf);
	if (!fd || !tid || !asked || !pf)
		return 13;
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(srv_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t req[64], buf[1024];
	const char *opts[] = {"timeout", "60"};
	size_t n = request(req, PT_TFTP_RRQ, "hello.txt", "octet", opts, 2);
	for (int i = 0; i < MANY; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in me = {.sin_family = AF_INET,
					 .sin_addr.s_addr =
						 htonl(INADDR_LOOPBACK)};
		if (fd[i] < 0 ||
		    bind(fd[i], (struct sockaddr *)&me, sizeof me) != 0)
			return 14;
		pf[i] = (struct pollfd){.fd = fd[i], .events = POLLIN};
	}
	/* Phase 1: every transfer answered with its OACK.  Requests go out
	 * a few hundred at a time; one left unanswered for a second (its
	 * datagram dropped somewhere) is asked again. */
	int answered = 0, next = 0, outstanding = 0;
	int64_t deadline = now_ms() + 120000;
	while (answered < MANY) {
		int64_t now = now_ms();
		if (now > deadline)
			return 15;
		while (outstanding < MANY_OUTSTANDING && next < MANY) {
			sendto(fd[next], req, n, 0, (struct sockaddr *)&to,
			       sizeof to);
			asked[next++] = now;
			outstanding++;
		}
		for (int i = 0; i < next; i++) {
			if (!tid[i] && now - asked[i] > 1000) {
				sendto(fd[i], req, n, 0,
				       (struct sockaddr *)&to, sizeof to);
				asked[i] = now;
			}
		}
		if (poll(pf, (nfds_t)next, 100) < 0)
			return 16;
		for (int i = 0; i < next; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			ssize_t got = recvfrom(fd[i], buf, sizeof buf, 0,
					       (struct sockaddr *)&from, &fl);
			if (got < 2 || buf[1] != PT_TFTP_OACK)
				return 17;
			if (tid[i])
				return 18; /* two transfers for one request */
			tid[i] = ntohs(from.sin_port);
			answered++;
			outstanding--;
		}
	}
	if (write(to_parent, "R", 1) != 1 || !read_byte(from_parent, 'G',
							 120000))
		return 19;
	/* Phase 2: ACK 0, take the single DATA block, ACK it. */
	for (int i = 0; i < MANY; i++) {
		uint8_t ack[4] = {0, PT_TFTP_ACK, 0, 0};
		to.sin_port = htons(tid[i]);
		sendto(fd[i], ack, sizeof ack, 0, (struct sockaddr *)&to,
		       sizeof to);
	}
	int done = 0;
	deadline = now_ms() + 120000;
	while (done < MANY) {
		if (now_ms() > deadline)
			return 20;
		if (poll(pf, MANY, 100) < 0)
			return 21;
		for (int i = 0; i < MANY; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			ssize_t got = recv(fd[i], buf, sizeof buf, 0);
			if (got != 4 + (ssize_t)sizeof text_file - 1 ||
			    buf[1] != PT_TFTP_DATA || buf[3] != 1 ||
			    memcmp(buf + 4, text_file, sizeof text_file - 1))
				return 22;
			uint8_t ack[4] = {0, PT_TFTP_ACK, 0, 1};
			to.sin_port = htons(tid[i]);
			sendto(fd[i], ack, sizeof ack, 0,
			       (struct sockaddr *)&to, sizeof to);
			pf[i].events = 0;
			done++;
		}
	}
	return 0;
}

START_TEST(ten_thousand_at_once)
{
	int p2c[2], c2p[2];
	ck_assert_int_eq(pipe2(p2c, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(c2p, O_CLOEXEC), 0);
	/* Forked before the server's threads exist. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		_exit(many_clients(p2c[0], c2p[1]));
	}
	close(p2c[0]);
	close(c2p[1]);

	pt_tftp_server_opts_t o = defaults();
	o.max_transfers = MANY + 100;
	server_start(&o);
	ck_assert_int_eq(write(p2c[1], &port, sizeof port),
			 (ssize_t)sizeof port);
	bool ready = read_byte(c2p[0], 'R', 180000);
	pt_tftp_stats_t s = stats();
	if (!ready) {
		int status = 0;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("clients not ready (exit %d); active %llu",
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			     (unsigned long long)s.active);
	}
	ck_assert_uint_eq(s.active, MANY);
	ck_assert_uint_eq(s.busy, 0);
	ck_assert_int_eq(write(p2c[1], "G", 1), 1);
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "clients failed: status %d", status);
	wait_idle();
	s = stats();
	ck_assert_uint_eq(s.completed, MANY);
	ck_assert_uint_eq(s.failed, 0);
	close(p2c[1]);
	close(c2p[0]);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("tftp_server");
	TCase *clients = tcase_create("clients");
	tcase_add_checked_fixture(clients, setup, teardown);
	tcase_set_timeout(clients, 300);
	tcase_add_test(clients, tftp_hpa_octet_and_netascii);
	tcase_add_test(clients, atftp_with_options);
	tcase_add_test(clients, curl_blksizes);
	tcase_add_test(clients, wildcard_dual_stack);
	tcase_add_test(clients, wildcard_v4);
	tcase_add_test(clients, block_number_rolls_over);
	suite_add_tcase(s, clients);

	TCase *proto = tcase_create("protocol");
	tcase_add_checked_fixture(proto, setup, teardown);
	tcase_set_timeout(proto, 120);
	tcase_add_test(proto, refusals);
	tcase_add_test(proto, refusal_lines_are_limited);
	tcase_add_test(proto, symlink_out_of_root_refused);
	tcase_add_test(proto, duplicate_acks_send_nothing_twice);
	tcase_add_test(proto, silent_client_is_given_up);
	tcase_add_test(proto, options_negotiated);
	tcase_add_test(proto, repeated_request_is_one_transfer);
	suite_add_tcase(s, proto);

	TCase *limits = tcase_create("limits");
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_set_timeout(limits, 120);
	tcase_add_test(limits, per_client_cap);
	tcase_add_test(limits, per_client_rate);
	tcase_add_test(limits, server_busy);
	suite_add_tcase(s, limits);

	TCase *many = tcase_create("many");
	tcase_add_checked_fixture(many, setup, teardown);
	tcase_set_timeout(many, 600);
	tcase_add_test(many, ten_thousand_at_once);
	suite_add_tcase(s, many);
	return s;
}

int main(void)
{
	return pt_test_main(server_suite());
}
