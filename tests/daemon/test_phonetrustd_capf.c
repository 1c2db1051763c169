/* CAPF in the real phonetrustd: a publisher made by the real `phonetrust
 * init`, [capf] enabled on a free port, phones as real `phonetrust phone
 * enrol` processes; the ready line, the outcome in the store's changelog
 * (so it replicates), the port from capf_phone_port, the keep-alive
 * followed while it runs, the statistics at stop, start-up refusals.
 * Every wait is bounded, and the daemon is killed if the test process
 * dies. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testd.h"
#include "store/records.h"
#include "store/store.h"

#define WAIT_MS 15000

static char *dir, *data, *conf, *phones;
static pt_testd_t daemon_proc = PT_TESTD_INIT;
static uint16_t capf_port, stream_port, sync_port;

static char *path_in(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void write_config(const char *capf_extra)
{
	char *text = NULL;
	ck_assert_int_ge(asprintf(&text,
				  "[node]\nname = pub1\nrole = publisher\n"
				  "data_dir = %s\nlog_level = debug\n"
				  "[ports]\nreplication_stream = %u\n"
				  "replication_sync = %u\n"
				  "[services]\ntftp = no\ntvs = no\n"
				  "[capf]\nenabled = yes\nworkers = 2\n%s",
				  data, stream_port, sync_port, capf_extra),
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
	phones = path_in("phones");
	ck_assert_int_eq(mkdir(phones, 0700), 0);
	capf_port = pt_testd_free_port(SOCK_STREAM);
	stream_port = pt_testd_free_port(SOCK_STREAM);
	sync_port = pt_testd_free_port(SOCK_STREAM);
	daemon_proc = (pt_testd_t)PT_TESTD_INIT;
	pt_node_init(data, "pub1", "publisher", NULL);
}

static void teardown(void)
{
	pt_testd_clear(&daemon_proc);
	pt_test_rmtree(dir);
	free(dir);
	free(data);
	free(conf);
	free(phones);
}

static void start_daemon(void)
{
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[PT_TESTD_ERR]);
}

static void stop_daemon(void)
{
	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
}

/* `phone enrol` against port; its exit status, output in *r. */
static int enrol(pt_run_t *r, unsigned port, const char *device)
{
	char where[32];
	snprintf(where, sizeof where, "127.0.0.1:%u", port);
	const char *args[] = {"--json", "phone",  "enrol",  "--capf", where,
			      "--device", device, "--out", phones, NULL};
	return pt_node_cli(r, data, args);
}

static void add_device(const char *name)
{
	const char *args[] = {"device",	     "add",	 name,
			      "--model",     "8841",	 "--protocol",
			      "sip",	     "--operation", "install",
			      "--auth-mode", "null",	 "--key-size",
			      "1024",	     NULL};
	pt_node_cli_ok(data, args);
}

static uint64_t last_seq(void)
{
	pt_store_t *store = NULL;
	uint64_t seq = 0;
	ck_assert_int_eq(pt_store_open(data, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_store_last_sequence(store, &seq), PT_OK);
	pt_store_destroy(&store);
	return seq;
}

START_TEST(enrols_and_records)
{
	char extra[64], running[128];
	pt_run_t r;
	snprintf(extra, sizeof extra, "port = %u\n", capf_port);
	write_config(extra);
	add_device("SEP0011223344C1");
	start_daemon();
	snprintf(running, sizeof running,
		 "running: capf (tcp 127.0.0.1:%u, 2 workers)", capf_port);
	assert_err_has(running);
	assert_err_has("certificate CN=CAPF-");
	assert_err_has("(RSA 2048 bits)");
	assert_err_has("idle sessions end after 900 s (the cluster's "
		       "keep-alive)");

	uint64_t before = last_seq();
	ck_assert_msg(enrol(&r, capf_port, "SEP0011223344C1") == 0, "%s %s",
		      r.out, r.err);
	ck_assert_msg(strstr(r.out, "\"result\": \"installed\""), "%s", r.out);
	pt_run_clear(&r);
	/* The outcome is one transaction in the changelog: it replicates
	 * like any other write. */
	ck_assert_uint_eq(last_seq(), before + 1);
	ck_assert(pt_testd_wait_for(&daemon_proc, "SEP0011223344C1: install "
						  "done",
				    WAIT_MS));

	/* An unknown device changes nothing. */
	ck_assert_int_eq(enrol(&r, capf_port, "SEP0011223344CF"), 1);
	pt_run_clear(&r);
	ck_assert_uint_eq(last_seq(), before + 1);

	stop_daemon();
	assert_err_has("capf at stop: 2 connections, 0 open; installed 1");
	assert_err_has("1 unknown devices");
}
END_TEST

START_TEST(port_from_cluster_and_keepalive_followed)
{
	char port[16];
	pt_run_t r;
	snprintf(port, sizeof port, "%u", capf_port);
	const char *set[] = {"cluster", "set", "capf_phone_port", port, NULL};
	pt_node_cli_ok(data, set);
	write_config("");
	add_device("SEP0011223344C2");
	start_daemon();
	char running[128];
	snprintf(running, sizeof running, "capf (tcp 127.0.0.1:%u, 2 workers)",
		 capf_port);
	assert_err_has(running);
	ck_assert_msg(enrol(&r, capf_port, "SEP0011223344C2") == 0, "%s", r.err);
	pt_run_clear(&r);

	/* capf set keep-alive while it runs: the next idle deadline
	 * follows within the refresh interval. */
	const char *ka[] = {"capf", "set", "keep-alive", "7", NULL};
	pt_node_cli_ok(data, ka);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc,
					"capf: keep-alive is now 7 minutes",
					WAIT_MS + 10000),
		      "keep-alive not followed:\n%s",
		      daemon_proc.buf[PT_TESTD_ERR]);
	stop_daemon();
}
END_TEST

START_TEST(refuses_without_capf_key)
{
	char extra[64], key[4096];
	snprintf(extra, sizeof extra, "port = %u\n", capf_port);
	write_config(extra);
	snprintf(key, sizeof key, "%s/keys/capf.key", data);
	ck_assert_int_eq(unlink(key), 0);
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 1);
	assert_err_has("capf: cannot load the CAPF key and certificate");
}
END_TEST

START_TEST(refuses_port_in_use)
{
	char extra[64];
	snprintf(extra, sizeof extra, "port = %u\n", capf_port);
	write_config(extra);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons(capf_port),
				 .sin_addr.s_addr = htonl(0x7f000001)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 1);
	assert_err_has("is in use by another process");
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("phonetrustd_capf");
	TCase *tc = tcase_create("capf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, enrols_and_records);
	tcase_add_test(tc, port_from_cluster_and_keepalive_followed);
	tcase_add_test(tc, refuses_without_capf_key);
	tcase_add_test(tc, refuses_port_in_use);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
