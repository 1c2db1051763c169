/* TVS in the real phonetrustd: a publisher made by the real `phonetrust
 * init`, [tvs] enabled on free ports, asked over TLS by our client and by
 * `openssl s_client`; trust entries changed with the real CLI while it
 * runs; start-up refusals.  Every wait is bounded, and the daemon is
 * killed if the test process dies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/tvs_msg.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testd.h"
#include "store/store.h"
#include "tvs/tvs_client.h"

#define WAIT_MS 15000

static char *dir, *data, *conf;
static pt_testd_t daemon_proc = PT_TESTD_INIT;
static uint16_t tvs_port, stream_port, sync_port;

static char *path_in(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void init_publisher(void)
{
	pt_node_init(data, "pub1", "publisher", "ec256");
}

static void write_config(const char *tvs_extra)
{
	char *text = NULL;
	ck_assert_int_ge(asprintf(&text,
				  "[node]\nname = pub1\nrole = publisher\n"
				  "data_dir = %s\nlog_level = debug\n"
				  "[ports]\nreplication_stream = %u\n"
				  "replication_sync = %u\n"
				  "[services]\ntftp = no\n"
				  "[tvs]\nenabled = yes\nworkers = 2\n%s",
				  data, stream_port, sync_port, tvs_extra),
			 0);
	pt_test_write_file(conf, text);
	free(text);
}

static void assert_err_has(const char *needle)
{
	ck_assert_msg(strstr(daemon_proc.buf[PT_TESTD_ERR], needle),
		      "'%s' not in:\n%s", needle,
		      daemon_proc.buf[PT_TESTD_ERR]);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	data = path_in("data");
	conf = path_in("phonetrust.ini");
	tvs_port = pt_testd_free_port(SOCK_STREAM);
	stream_port = pt_testd_free_port(SOCK_STREAM);
	sync_port = pt_testd_free_port(SOCK_STREAM);
	daemon_proc = (pt_testd_t)PT_TESTD_INIT;
}

static void teardown(void)
{
	pt_testd_clear(&daemon_proc);
	pt_test_rmtree(dir);
	free(dir);
	free(data);
	free(conf);
}

static X509 *read_pem(const char *path)
{
	size_t len;
	char *text = pt_test_read_file(path, &len);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(text, len, &x), PT_OK);
	free(text);
	return x;
}

static void der_of(const char *pem_path, uint8_t **der, size_t *len)
{
	X509 *x = read_pem(pem_path);
	ck_assert_int_eq(pt_certs_encode_der(x, der, len), PT_OK);
	X509_free(x);
}

/* A certificate file valid from `from` to `to` seconds from now. */
static char *write_cert(const char *name, long from, long to)
{
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	char *pem = NULL;
	size_t len;
	ck_assert_int_eq(pt_certs_encode_pem(x, &pem, &len), PT_OK);
	char *file = NULL;
	ck_assert_int_ge(asprintf(&file, "%s/%s.pem", dir, name), 0);
	pt_test_write_file(file, pem);
	free(pem);
	X509_free(x);
	EVP_PKEY_free(key);
	return file;
}

static void cli_ok(const char *const *args)
{
	pt_node_cli_ok(data, args);
}

static int ask(const uint8_t *der, size_t len, pt_tvs_answer_t *a)
{
	char *anchor_path = NULL;
	ck_assert_int_ge(asprintf(&anchor_path, "%s/certs/tvs.pem", data), 0);
	X509 *anchor = read_pem(anchor_path);
	free(anchor_path);
	pt_tvs_client_opts_t o = {
		.host = "127.0.0.1",
		.port = tvs_port,
		.anchors = &anchor,
		.n_anchors = 1,
		.timeout_ms = WAIT_MS,
		.device_name = "CP-8845-SEP0011223344AA",
	};
	char why[256] = "";
	int r = pt_tvs_client_verify(&o, der, len, a, why, sizeof why);
	X509_free(anchor);
	if (r != PT_OK && r != PT_ERR_INCOMPLETE)
		ck_abort_msg("verify: %s (%s)", pt_strerror(r), why);
	return r;
}

static void ask_file(const char *pem_path, pt_tvs_answer_t *a)
{
	uint8_t *der;
	size_t len;
	der_of(pem_path, &der, &len);
	ck_assert_int_eq(ask(der, len, a), PT_OK);
	free(der);
}

static void start_daemon(void)
{
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[PT_TESTD_ERR]);
}

START_TEST(answers_over_tls)
{
	init_publisher();
	char extra[64];
	snprintf(extra, sizeof extra, "port = %u\n", tvs_port);
	write_config(extra);
	start_daemon();
	char running[128];
	snprintf(running, sizeof running,
		 "running: tvs (tcp 127.0.0.1:%u, 2 workers)", tvs_port);
	assert_err_has(running);
	assert_err_has("with 2 workers, certificate CN=pub1-tvs (EC 256 "
		       "bits)");

	pt_tvs_answer_t a;
	char *tftp = NULL, *capf = NULL;
	ck_assert_int_ge(asprintf(&tftp, "%s/certs/tftp.pem", data), 0);
	ck_assert_int_ge(asprintf(&capf, "%s/certs/capf.pem", data), 0);
	ask_file(tftp, &a);
	ck_assert(a.valid && a.n_roles == 2 && a.roles[0] == 2 &&
		  a.roles[1] == 3 && a.has_ttl && a.ttl == 86400);

	/* Unknown, then trusted by the administrator while it runs. */
	char *app = write_cert("app", -86400, 365 * 86400);
	ask_file(app, &a);
	ck_assert(!a.valid && a.status == 1 && !a.has_ttl && a.n_roles == 0);
	cli_ok((const char *[]){"trust", "add", app, "--purpose",
				"app-server", "--ttl", "600", NULL});
	ask_file(app, &a);
	ck_assert(a.valid && a.n_roles == 1 && a.roles[0] == 7 &&
		  a.ttl == 600);
	cli_ok((const char *[]){"trust", "remove", app, NULL});
	ask_file(app, &a);
	ck_assert(!a.valid);

	/* Trusted but expired: invalid, and said so in the log. */
	char *old = write_cert("old", -3 * 86400, -86400);
	cli_ok((const char *[]){"trust", "add", old, "--purpose",
				"callmanager", NULL});
	ask_file(old, &a);
	ck_assert(!a.valid && a.status == 1);
	ck_assert(pt_testd_wait_for(&daemon_proc, "trusted but expired at",
				    WAIT_MS));

	/* openssl s_client, fed the request bytes: the CAPF certificate. */
	uint8_t *der, req[4096];
	size_t len, req_len;
	der_of(capf, &der, &len);
	ck_assert_int_eq(pt_tvs_request_build(1, "CP-7841-SEP001122334455",
					      der, len, req, sizeof req,
					      &req_len),
			 PT_OK);
	free(der);
	char *req_path = path_in("req.bin"), *resp_path = path_in("resp.bin");
	FILE *f = fopen(req_path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(req, 1, req_len, f), req_len);
	fclose(f);
	char *cmd = NULL;
	ck_assert_int_ge(asprintf(&cmd,
				  "timeout 20 openssl s_client -quiet "
				  "-connect 127.0.0.1:%u -CAfile %s/certs/"
				  "tvs.pem -verify_return_error < %s > %s",
				  tvs_port, data, req_path, resp_path),
			 0);
	pt_run_t r;
	pt_test_run(&r, NULL, "/bin/sh", "-c", cmd, NULL);
	ck_assert_msg(r.status == 0, "s_client: %s", r.err);
	pt_run_clear(&r);
	size_t resp_len;
	uint8_t *resp = (uint8_t *)pt_test_read_file(resp_path, &resp_len);
	pt_tvs_response_t rs;
	const char *why = NULL;
	ck_assert_msg(pt_tvs_response_parse(resp, resp_len, 1, &rs, &why) ==
			      PT_OK,
		      "%s (%zu bytes)", why, resp_len);
	ck_assert_uint_eq(rs.status, 0);
	ck_assert_uint_eq(rs.n_roles, 1);
	ck_assert_uint_eq(rs.roles[0], 4);
	ck_assert(rs.has_ttl && rs.ttl == 86400);
	free(resp);
	free(cmd);

	/* A malformed request: closed without an answer, logged. */
	req[0] = 0x42;
	char *anchor_path = path_in("data/certs/tvs.pem");
	X509 *anchor = read_pem(anchor_path);
	pt_tvs_client_opts_t o = {.host = "127.0.0.1", .port = tvs_port,
				  .anchors = &anchor, .n_anchors = 1,
				  .timeout_ms = WAIT_MS};
	uint8_t out[64];
	size_t out_len;
	char whybuf[256];
	ck_assert_int_eq(pt_tvs_client_exchange(&o, req, req_len, out,
						sizeof out, &out_len, whybuf,
						sizeof whybuf),
			 PT_ERR_INCOMPLETE);
	X509_free(anchor);
	free(anchor_path);
	ck_assert(pt_testd_wait_for(&daemon_proc,
				    "closed without an answer: not a "
				    "TVS header",
				    WAIT_MS));

	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
	assert_err_has("tvs at stop: 7 connections, 0 open; answered 3 valid, "
		       "2 unknown, 1 expired; closed without an answer: 1 "
		       "malformed");
	free(req_path);
	free(resp_path);
	free(tftp);
	free(capf);
	free(app);
	free(old);
}
END_TEST

START_TEST(port_from_cluster_parameter)
{
	init_publisher();
	char value[16];
	uint16_t port = 0;
	/* The parameter's range starts at 1024. */
	while ((port = pt_testd_free_port(SOCK_STREAM)) < 1024)
		;
	tvs_port = port;
	snprintf(value, sizeof value, "%u", port);
	cli_ok((const char *[]){"cluster", "set", "tvs_port", value, NULL});
	write_config("");
	start_daemon();
	char running[128];
	snprintf(running, sizeof running, "running: tvs (tcp 127.0.0.1:%u,",
		 port);
	assert_err_has(running);
	/* init recorded 2445 for the node: the phones' files say so. */
	assert_err_has("but node pub1 tells phones port 2445 in their "
		       "configuration files");
	char *tvs = path_in("data/certs/tvs.pem");
	pt_tvs_answer_t a;
	ask_file(tvs, &a);
	ck_assert(a.valid && a.n_roles == 1 && a.roles[0] == 21);
	free(tvs);
	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
}
END_TEST

START_TEST(start_refusals)
{
	/* A store without an identity: nothing to present. */
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(data, PT_STORE_CREATE, 64 << 20, &store),
			 PT_OK);
	pt_store_destroy(&store);
	char extra[64];
	snprintf(extra, sizeof extra, "port = %u\n", tvs_port);
	write_config(extra);
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 1);
	assert_err_has("tvs: cannot load the node's TVS key and certificate");
	pt_testd_clear(&daemon_proc);
	pt_test_rmtree(data);

	/* The port held by someone else. */
	init_publisher();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons(tvs_port)};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 1);
	assert_err_has("is in use by another process");
	close(fd);
}
END_TEST

static Suite *phonetrustd_tvs_suite(void)
{
	Suite *s = suite_create("phonetrustd_tvs");
	TCase *tc = tcase_create("tvs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, answers_over_tls);
	tcase_add_test(tc, port_from_cluster_parameter);
	tcase_add_test(tc, start_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(phonetrustd_tvs_suite());
}
