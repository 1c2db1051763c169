/* deploy/local-cluster.sh and deploy/netns-cluster.sh themselves: their
 * verbs, exit statuses and output contracts, the generated password (shown
 * once, never on disk), and that down leaves nothing running and, with
 * namespaces, no namespace behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pt_cluster.h"

static pt_cluster_t cluster;

static void setup_local(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static bool netns_ok;

static void setup_netns(void)
{
	char why[512];
	netns_ok = pt_cluster_netns_usable(why, sizeof why);
	if (!netns_ok)
		fprintf(stderr, "note: netns-cluster.sh not tested: %s\n", why);
	pt_cluster_init(&cluster, netns_ok, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

static char *script_out(pt_cluster_t *c, const char *verb, const char *arg,
			int want)
{
	pt_run_t r;
	pt_cluster_script(c, &r, verb, arg);
	ck_assert_msg(r.status == want, "%s %s: exit %d, want %d: %s", verb,
		      arg ? arg : "", r.status, want, r.err);
	char *out = r.out;
	r.out = NULL;
	pt_run_clear(&r);
	return out;
}

static void assert_has(const char *text, const char *part)
{
	ck_assert_msg(strstr(text, part), "no \"%s\" in:\n%s", part, text);
}

START_TEST(local_verbs)
{
	pt_cluster_t *c = &cluster;
	free(script_out(c, "bogus", NULL, 2));
	free(script_out(c, "up", "x", 2));
	pt_cluster_up(c, 2);
	/* A second up starts nothing new and prints the same lines. */
	pt_cluster_up(c, 2);

	char *status = script_out(c, "status", NULL, 0);
	assert_has(status, "pub    publisher  running pid");
	assert_has(status, "sub1   subscriber running pid");
	assert_has(status, "sub2   subscriber running pid");
	free(status);

	pt_cluster_do(c, "kill", "sub2");
	status = script_out(c, "status", NULL, 0);
	assert_has(status, "sub2   subscriber stopped");
	free(status);
	free(script_out(c, "kill", "sub2", 1));    /* not running */
	free(script_out(c, "kill", "sub7", 1));    /* no such node */
	free(script_out(c, "kill", NULL, 2));
	pt_cluster_do(c, "start", "sub2");
	pt_cluster_do(c, "wait", NULL);

	pt_cluster_do(c, "down", NULL);
	status = script_out(c, "status", NULL, 0);
	assert_has(status, "pub    publisher  stopped");
	assert_has(status, "sub1   subscriber stopped");
	assert_has(status, "sub2   subscriber stopped");
	free(status);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

/* Fails the test if text occurs in any file under dir. */
static void assert_absent_under(const char *dir, const char *text)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		ck_assert_int_eq(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			assert_absent_under(path, text);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			char *data = pt_test_read_file(path, &len);
			ck_assert_msg(!memmem(data, len, text, strlen(text)),
				      "the password is in %s", path);
			free(data);
		}
	}
	closedir(d);
}

START_TEST(generated_password)
{
	pt_cluster_t *c = &cluster;
	unsetenv("PHONETRUST_PASSWORD");
	pt_run_t r;
	pt_cluster_script(c, &r, "up", "1");
	ck_assert_msg(r.status == 0, "up 1: %s", r.err);
	const char *tag = "cluster security password (shown once, keep it): ";
	const char *at = strstr(r.err, tag);
	ck_assert_msg(at, "no password shown: %s", r.err);
	at += strlen(tag);
	char password[128];
	size_t n = strcspn(at, "\n");
	ck_assert_uint_lt(n, sizeof password);
	ck_assert_uint_ge(n, 16);
	memcpy(password, at, n);
	password[n] = '\0';
	ck_assert_msg(!strstr(at + n, tag), "shown twice: %s", r.err);
	ck_assert_msg(!strstr(r.out, password), "password on stdout");
	pt_run_clear(&r);

	/* Without it a new subscriber cannot join; with it, it can. */
	pt_cluster_script(c, &r, "up", "2");
	ck_assert_int_eq(r.status, 1);
	assert_has(r.err, "PHONETRUST_PASSWORD");
	pt_run_clear(&r);
	ck_assert_int_eq(setenv("PHONETRUST_PASSWORD", password, 1), 0);
	pt_cluster_up(c, 2);
	pt_cluster_script(c, &r, "up", "2");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.err, "password"), "shown again: %s", r.err);
	pt_run_clear(&r);

	pt_cluster_do(c, "down", NULL);
	assert_absent_under(c->dir, password);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static size_t namespaces_named(const char *prefix)
{
	pt_run_t r;
	pt_test_run(&r, NULL, "/bin/sh", "-c",
		    "ip netns list | awk '{ print $1 }' | grep -c \"^$0-\" || "
		    "true",
		    prefix, NULL);
	ck_assert_int_eq(r.status, 0);
	size_t n = strtoul(r.out, NULL, 10);
	pt_run_clear(&r);
	return n;
}

START_TEST(netns_verbs)
{
	pt_cluster_t *c = &cluster;
	if (!netns_ok)
		return;
	pt_cluster_up(c, 2);
	ck_assert_uint_eq(namespaces_named(c->prefix), 4); /* br pub sub1 sub2 */
	char *status = script_out(c, "status", NULL, 0);
	assert_has(status, "stream tcp://10.77.0.1:26003 sync "
			   "tcp://10.77.0.1:26004 link up");
	assert_has(status, "tftp udp 10.77.0.3:26000 tvs tcp 10.77.0.3:26001 "
			   "link up");
	free(status);

	pt_cluster_do(c, "cut", "sub2");
	status = script_out(c, "status", NULL, 0);
	assert_has(status, "10.77.0.3:26001 link CUT");
	free(status);
	free(script_out(c, "cut", "sub9", 1));
	pt_cluster_do(c, "restore", "sub2");
	status = script_out(c, "status", NULL, 0);
	assert_has(status, "10.77.0.3:26001 link up");
	free(status);

	/* Writes still reach both after the cut. */
	pt_run_t r;
	pt_cluster_cli(c, &r, "pub", "device", "add", "SEP00000000ABCD",
		       "--model", "8841", "--protocol", "sip", NULL);
	ck_assert_msg(r.status == 0, "device add: %s", r.err);
	pt_run_clear(&r);
	pt_cluster_wait_same(c, 120, "sub1", "sub2", NULL);

	pt_cluster_do(c, "down", NULL);
	ck_assert_uint_eq(namespaces_named(c->prefix), 0);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_scripts");
	const struct {
		const char *name;
		const TTest *test;
		SFun setup;
	} cases[] = {
		{"local_verbs", local_verbs, setup_local},
		{"generated_password", generated_password, setup_local},
		{"netns_verbs", netns_verbs, setup_netns},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* One cluster per case; unchecked fixtures run in the runner's
		 * process, so the nodes are stopped even after a failure. */
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_unchecked_fixture(tc, cases[i].setup, teardown);
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
