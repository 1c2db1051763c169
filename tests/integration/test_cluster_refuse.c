/* Real nodes that do not belong are refused by a real publisher:
 *  - a new subscriber with a wrong cluster security password cannot join:
 *    init exits 1 and leaves nothing behind, the publisher logs the refused
 *    connection, and its store (nodes table included) is unchanged;
 *  - a copy of a joined subscriber whose CurveZMQ key was replaced by a
 *    fresh pair (made with pt_curve_pair_generate / pt_curve_pair_save) is
 *    refused on both replication ports and receives nothing, while the
 *    real subscriber keeps receiving. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_cluster.h"
#include "store/curve_keys.h"

static pt_cluster_t cluster;

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

/* The rogue daemon is no node of the script's: stop it by its pid file. */
static void teardown(void)
{
	char path[4096];
	if (cluster.dir) {
		snprintf(path, sizeof path, "%s/rogue/phonetrustd.pid",
			 cluster.dir);
		FILE *f = fopen(path, "r");
		long pid = 0;
		if (f && fscanf(f, "%ld", &pid) == 1 && pid > 1)
			kill((pid_t)pid, SIGKILL);
		if (f)
			fclose(f);
	}
	pt_cluster_clear(&cluster);
}

static size_t node_count(pt_cluster_t *c)
{
	pt_run_t r;
	pt_cluster_cli(c, &r, "pub", "--json", "node", "list", NULL);
	ck_assert_msg(r.status == 0, "node list: %s", r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "node list: bad JSON: %s", r.out);
	json_t *arr = json_is_array(j) ? j : json_object_get(j, "nodes");
	ck_assert_msg(json_is_array(arr), "node list: no array: %s", r.out);
	size_t n = json_array_size(arr);
	json_decref(j);
	pt_run_clear(&r);
	return n;
}

static void add_device(pt_cluster_t *c, const char *name)
{
	pt_run_t r;
	pt_cluster_cli(c, &r, "pub", "device", "add", name, "--model", "8841",
		       "--protocol", "sip", NULL);
	ck_assert_msg(r.status == 0, "device add %s: %s", name, r.err);
	pt_run_clear(&r);
}

START_TEST(wrong_password_cannot_join)
{
	pt_cluster_t *c = &cluster;
	pt_cluster_up(c, 1);
	add_device(c, "SEP000000000001");
	pt_cluster_wait_same(c, 120, "sub1", NULL);
	uint64_t seq_before = 0;
	char *digest_before = pt_cluster_digest(c, "pub", &seq_before);
	ck_assert_uint_eq(node_count(c), 2);

	char pw[4096], join[64], sub2[4096];
	snprintf(pw, sizeof pw, "%s/wrong-password", c->dir);
	pt_test_write_file(pw, "not the cluster password\n");
	snprintf(join, sizeof join, "tcp://127.0.0.1:%u", c->base_port + 4);
	snprintf(sub2, sizeof sub2, "%s/sub2", c->dir);
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", sub2, "init",
		    "--name", "sub2", "--role", "subscriber", "--key-type",
		    "ec256", "--join", join, "--password-file", pw, NULL);
	ck_assert_msg(r.status == 1, "init with a wrong password: exit %d: %s",
		      r.status, r.err);
	ck_assert_msg(strstr(r.err, "password"), "no reason given: %s", r.err);
	pt_run_clear(&r);
	struct stat st;
	ck_assert_msg(stat(sub2, &st) != 0, "%s was left behind", sub2);

	pt_cluster_wait_log(c, "pub", "CurveZMQ handshake failed", 60);
	char *log = pt_cluster_log(c, "pub");
	ck_assert_msg(strstr(log, "refused") && !strstr(log, "sub2 at"),
		      "publisher log:\n%s", log);
	free(log);
	uint64_t seq_after = 0;
	char *digest_after = pt_cluster_digest(c, "pub", &seq_after);
	ck_assert_str_eq(digest_after, digest_before);
	ck_assert_uint_eq(seq_after, seq_before);
	ck_assert_uint_eq(node_count(c), 2);
	free(digest_before);
	free(digest_after);

	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static void write_rogue_ini(const pt_cluster_t *c, const char dir[2048])
{
	char path[4096], *ini = NULL;
	snprintf(path, sizeof path, "%s/phonetrust.ini", dir);
	ck_assert_int_ge(asprintf(&ini,
				  "[node]\nname = sub1\nrole = subscriber\n"
				  "data_dir = %s\npid_file = %s/phonetrustd.pid\n"
				  "[ports]\nbind_address = 127.0.0.1\n"
				  "tftp = %u\ntvs = %u\ncapf = %u\n"
				  "replication_stream = %u\n"
				  "replication_sync = %u\n"
				  "[publisher]\naddress = 127.0.0.1\n",
				  dir, dir, c->base_port + 25,
				  c->base_port + 26, c->base_port + 27,
				  c->base_port + 3, c->base_port + 4),
			 0);
	pt_test_write_file(path, ini);
	free(ini);
}

START_TEST(unknown_curve_key_is_refused)
{
	pt_cluster_t *c = &cluster;
	pt_cluster_up(c, 1);
	add_device(c, "SEP000000000001");
	pt_cluster_wait_same(c, 120, "sub1", NULL);

	/* A copy of sub1, taken while it is down, with a key of its own. */
	char rogue[2048], key[4096];
	snprintf(rogue, sizeof rogue, "%s/rogue", c->dir);
	pt_cluster_do(c, "kill", "sub1");
	pt_run_t r;
	pt_test_run(&r, NULL, "/bin/cp", "-a", pt_cluster_node_dir(c, "sub1"),
		    rogue, NULL);
	ck_assert_msg(r.status == 0, "cp: %s", r.err);
	pt_run_clear(&r);
	pt_cluster_do(c, "start", "sub1");
	snprintf(key, sizeof key, "%s/keys/%s", rogue, PT_CURVE_NODE_FILE);
	ck_assert_int_eq(unlink(key), 0);
	pt_curve_pair_t fresh;
	ck_assert_int_eq(pt_curve_pair_generate(&fresh), PT_OK);
	ck_assert_int_eq(pt_curve_pair_save(rogue, PT_CURVE_NODE_FILE, &fresh),
			 PT_OK);
	pt_curve_pair_clear(&fresh);
	char path[4096];
	snprintf(path, sizeof path, "%s/phonetrustd.log", rogue);
	unlink(path);
	snprintf(path, sizeof path, "%s/phonetrustd.pid", rogue);
	unlink(path);
	write_rogue_ini(c, rogue);
	uint64_t rogue_seq = 0;
	char *rogue_digest = pt_cluster_digest(c, "rogue", &rogue_seq);
	uint64_t rogue_devices = pt_cluster_devices(c, "rogue");

	char *script = NULL;
	ck_assert_int_ge(asprintf(&script,
				  "exec \"$PT_DAEMON\" --config "
				  "'%s/phonetrust.ini'",
				  rogue),
			 0);
	pid_t daemon = pt_cluster_spawn(c, "rogue/phonetrustd", script);
	free(script);
	pt_cluster_wait_log(c, "rogue", " ready: node ", 60);

	/* The publisher refuses it on both ports ... */
	pt_cluster_wait_log(c, "pub",
			    "stream connection(s) from keys of no joined node "
			    "(the latest from 127.0.0.1)",
			    60);
	pt_cluster_wait_log(c, "pub",
			    "request(s) from keys of no joined node (the "
			    "latest: sync request from 127.0.0.1)",
			    60);
	pt_cluster_wait_log(c, "rogue", "not a member of this cluster", 60);
	/* ... and what the real subscriber receives never reaches it. */
	add_device(c, "SEP000000000002");
	add_device(c, "SEP000000000003");
	pt_cluster_wait_same(c, 120, "sub1", NULL);
	ck_assert_uint_eq(pt_cluster_devices(c, "sub1"), 3);
	uint64_t seq = 0;
	char *digest = pt_cluster_digest(c, "rogue", &seq);
	ck_assert_str_eq(digest, rogue_digest);
	ck_assert_uint_eq(seq, rogue_seq);
	ck_assert_uint_eq(pt_cluster_devices(c, "rogue"), rogue_devices);
	free(digest);
	free(rogue_digest);

	ck_assert_int_eq(kill(daemon, SIGTERM), 0);
	ck_assert_int_eq(pt_cluster_spawn_wait(daemon, 60), 0);
	char *text = pt_cluster_log(c, "rogue");
	ck_assert_msg(!strstr(text, "Sanitizer") &&
			      !strstr(text, "runtime error:"),
		      "sanitizer report in the rogue's log:\n%s", text);
	free(text);
	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_refuse");
	const struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{"wrong_password", wrong_password_cannot_join},
		{"unknown_key", unknown_curve_key_is_refused},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* One cluster per case; unchecked fixtures run in the runner's
		 * process, so the nodes are stopped even after a failure. */
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_unchecked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 600);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
