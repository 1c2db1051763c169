/* End-to-end tests of the real phonetrustd binary: started with fork/exec,
 * watched through its stdout and stderr, stopped with signals.  Every wait
 * is bounded, and the daemon is killed if the test process dies. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testd.h"
#include "store/records.h"
#include "store/store.h"

#define WAIT_MS 5000

static char *dir;
static char *data_dir;
static char *conf;
static char *pid_path;
static pt_testd_t daemon_proc = PT_TESTD_INIT;

/* Runs phonetrustd to completion (bounded) and returns its status. */
static int run_daemon(pt_testd_t *p, const char *config, const char *extra)
{
	pt_testd_spawn(p, config, extra);
	return pt_testd_wait_exit(p, WAIT_MS);
}

static void write_config(const char *extra)
{
	char *text = NULL;
	ck_assert_int_ge(asprintf(&text,
				  "[node]\n"
				  "name = t1\n"
				  "role = publisher\n"
				  "data_dir = %s\n"
				  "pid_file = %s\n"
				  "%s",
				  data_dir, pid_path, extra ? extra : ""),
			 0);
	pt_test_write_file(conf, text);
	free(text);
}

static void create_store(void)
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(data_dir, PT_STORE_CREATE, 64 << 20,
				       &store),
			 PT_OK);
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = (char *)"SEP001122334455";
	dev.description = (char *)"lobby";
	dev.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&data_dir, "%s/data", dir), 0);
	ck_assert_int_ge(asprintf(&conf, "%s/phonetrust.ini", dir), 0);
	ck_assert_int_ge(asprintf(&pid_path, "%s/phonetrustd.pid", dir), 0);
	daemon_proc = (pt_testd_t)PT_TESTD_INIT;
}

static void teardown(void)
{
	pt_testd_clear(&daemon_proc);
	pt_test_rmtree(dir);
	free(dir);
	free(data_dir);
	free(conf);
	free(pid_path);
}

static void assert_err_has(const pt_testd_t *p, const char *needle)
{
	ck_assert_msg(strstr(p->buf[1], needle), "'%s' not in stderr:\n%s",
		      needle, p->buf[1]);
}

static pid_t pid_in_file(void)
{
	char *text = pt_test_read_file(pid_path, NULL);
	long pid = strtol(text, NULL, 10);
	free(text);
	return (pid_t)pid;
}

START_TEST(starts_and_stops_on_sigterm)
{
	create_store();
	write_config(NULL);
	/* A pid file left by a crash does not stop a start. */
	pt_test_write_file(pid_path, "999999\n");

	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[1]);
	assert_err_has(&daemon_proc, " info t1: ready: node t1, role publisher");
	assert_err_has(&daemon_proc, "(schema 2, last sequence 1)");
	assert_err_has(&daemon_proc, "running: none");
	assert_err_has(&daemon_proc, "not in this build yet: capf (tcp "
				     "127.0.0.1:3804), tftp (udp "
				     "127.0.0.1:6969), tvs (tcp "
				     "127.0.0.1:2445);");
	/* A store made without init has no CurveZMQ server key: the daemon
	 * runs, and says why it does not replicate. */
	assert_err_has(&daemon_proc, "replication is not running: no CurveZMQ "
				     "server key in");
	ck_assert_int_eq(pid_in_file(), daemon_proc.pid);

	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
	assert_err_has(&daemon_proc, "received SIGTERM: stopping");
	assert_err_has(&daemon_proc, "stopped on SIGTERM: store");
	ck_assert_msg(access(pid_path, F_OK) != 0 && errno == ENOENT,
		      "pid file left behind");
}
END_TEST

START_TEST(sighup_is_logged_and_sigint_stops)
{
	create_store();
	write_config("[services]\ntftp = no\n");
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[1]);
	assert_err_has(&daemon_proc, "disabled: tftp");

	ck_assert_int_eq(kill(daemon_proc.pid, SIGHUP), 0);
	ck_assert_msg(
		pt_testd_wait_for(&daemon_proc, "received SIGHUP", WAIT_MS),
		"SIGHUP not logged:\n%s", daemon_proc.buf[1]);
	ck_assert(pt_testd_running(&daemon_proc));

	ck_assert_int_eq(kill(daemon_proc.pid, SIGINT), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
	assert_err_has(&daemon_proc, "received SIGINT: stopping");
}
END_TEST

START_TEST(unjoined_subscriber_says_it_does_not_replicate)
{
	create_store();
	char *text = NULL;
	ck_assert_int_ge(asprintf(&text,
				  "[node]\nname = s1\nrole = subscriber\n"
				  "data_dir = %s\n"
				  "[publisher]\naddress = 127.0.0.2\n",
				  data_dir),
			 0);
	pt_test_write_file(conf, text);
	free(text);
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[1]);
	assert_err_has(&daemon_proc, "role subscriber");
	assert_err_has(&daemon_proc,
		       "replication is not running: this node has not joined "
		       "a cluster (initialise it with --join "
		       "tcp://PUBLISHER:5557)");
	assert_err_has(&daemon_proc, "disabled: capf");
	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
}
END_TEST

START_TEST(second_daemon_refused_by_pid_file)
{
	create_store();
	write_config(NULL);
	pt_testd_spawn(&daemon_proc, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&daemon_proc, "ready:", WAIT_MS),
		      "not ready:\n%s", daemon_proc.buf[1]);

	pt_testd_t second = PT_TESTD_INIT;
	ck_assert_int_eq(run_daemon(&second, conf, NULL), 1);
	char expect[128];
	snprintf(expect, sizeof expect, "running phonetrustd (pid %ld)",
		 (long)daemon_proc.pid);
	assert_err_has(&second, expect);
	pt_testd_clear(&second);

	/* The first one is untouched and still owns its pid file. */
	ck_assert(pt_testd_running(&daemon_proc));
	ck_assert_int_eq(pid_in_file(), daemon_proc.pid);
	ck_assert_int_eq(kill(daemon_proc.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&daemon_proc, WAIT_MS), 0);
	ck_assert_int_ne(access(pid_path, F_OK), 0);
}
END_TEST

START_TEST(bad_config_exits_2)
{
	create_store();
	write_config("[ports]\ntvs = 99999\n");
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, NULL), 2);
	char expect[512];
	snprintf(expect, sizeof expect,
		 "phonetrustd: %s:7: [ports] tvs: port 99999 is out of range",
		 conf);
	assert_err_has(&daemon_proc, expect);
	ck_assert_int_ne(access(pid_path, F_OK), 0);
	pt_testd_clear(&daemon_proc);

	write_config("colour = blue\n");
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, NULL), 2);
	snprintf(expect, sizeof expect, "%s:6: [node] colour: unknown key",
		 conf);
	assert_err_has(&daemon_proc, expect);
}
END_TEST

START_TEST(missing_store_exits_1_with_hint)
{
	write_config(NULL);
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, NULL), 1);
	char expect[1024];
	snprintf(expect, sizeof expect,
		 "no store in %s: run 'phonetrust init --data %s' first",
		 data_dir, data_dir);
	assert_err_has(&daemon_proc, expect);
	ck_assert_int_ne(access(pid_path, F_OK), 0);
}
END_TEST

/* Marks the store as written by a future phonetrust, through LMDB
 * directly. */
static void bump_schema(uint64_t version)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/store", data_dir), 0);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, 64 << 20), 0);
	ck_assert_int_eq(mdb_env_open(env, path, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	uint8_t be[8];
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(version >> (56 - 8 * i));
	MDB_val k = {strlen("schema_version"), (void *)"schema_version"};
	MDB_val v = {sizeof be, be};
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(path);
}

START_TEST(newer_schema_refused)
{
	create_store();
	bump_schema(PT_SCHEMA_VERSION + 1);
	write_config(NULL);
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, NULL), 1);
	assert_err_has(&daemon_proc, "was written by a newer phonetrust");
	ck_assert_int_ne(access(pid_path, F_OK), 0);
	pt_testd_clear(&daemon_proc);

	ck_assert_int_eq(run_daemon(&daemon_proc, conf, "--check"), 1);
	assert_err_has(&daemon_proc, "was written by a newer phonetrust");
}
END_TEST

START_TEST(check_mode)
{
	write_config(NULL);
	/* Configuration fine, no store yet. */
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, "--check"), 1);
	ck_assert_msg(strstr(daemon_proc.buf[0], "configuration ok"), "%s",
		      daemon_proc.buf[0]);
	assert_err_has(&daemon_proc, "run 'phonetrust init --data");
	pt_testd_clear(&daemon_proc);

	create_store();
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, "--check"), 0);
	ck_assert_msg(strstr(daemon_proc.buf[0],
			     "store ok (schema 2, last sequence 1)"),
		      "%s", daemon_proc.buf[0]);
	/* Checking starts nothing: no pid file. */
	ck_assert_int_ne(access(pid_path, F_OK), 0);
	pt_testd_clear(&daemon_proc);

	write_config("[services]\ncapf = perhaps\n");
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, "--check"), 1);
	assert_err_has(&daemon_proc, ":7: [services] capf: bad value");
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	ck_assert_int_eq(run_daemon(&daemon_proc, NULL, NULL), 2);
	assert_err_has(&daemon_proc, "--config FILE is required");
	pt_testd_clear(&daemon_proc);

	ck_assert_int_eq(run_daemon(&daemon_proc, conf, "--bogus"), 2);
	assert_err_has(&daemon_proc, "unknown option --bogus");
	pt_testd_clear(&daemon_proc);

	/* A configuration file that is not there is a configuration error. */
	ck_assert_int_eq(run_daemon(&daemon_proc, conf, "--foreground"), 2);
	assert_err_has(&daemon_proc, "cannot open");
	pt_testd_clear(&daemon_proc);

	ck_assert_int_eq(run_daemon(&daemon_proc, NULL, "--help"), 0);
	ck_assert(strstr(daemon_proc.buf[0], "usage: phonetrustd"));
}
END_TEST

static Suite *phonetrustd_suite(void)
{
	Suite *s = suite_create("phonetrustd");
	TCase *run = tcase_create("run");
	tcase_add_checked_fixture(run, setup, teardown);
	tcase_set_timeout(run, 60);
	tcase_add_test(run, starts_and_stops_on_sigterm);
	tcase_add_test(run, sighup_is_logged_and_sigint_stops);
	tcase_add_test(run, unjoined_subscriber_says_it_does_not_replicate);
	tcase_add_test(run, second_daemon_refused_by_pid_file);
	suite_add_tcase(s, run);

	TCase *refuse = tcase_create("refuse");
	tcase_add_checked_fixture(refuse, setup, teardown);
	tcase_set_timeout(refuse, 60);
	tcase_add_test(refuse, bad_config_exits_2);
	tcase_add_test(refuse, missing_store_exits_1_with_hint);
	tcase_add_test(refuse, newer_schema_refused);
	tcase_add_test(refuse, check_mode);
	tcase_add_test(refuse, usage_errors_exit_2);
	suite_add_tcase(s, refuse);
	return s;
}

int main(void)
{
	return pt_test_main(phonetrustd_suite());
}
