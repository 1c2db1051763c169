#include "pt_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Ports 12000-28800: below the kernel's usual ephemeral range, so no
 * outgoing connection holds one of them by chance. */
#define PORT_FIRST 12000
#define PORT_SLOTS 560
#define PORT_SPAN 30

static unsigned cluster_counter;

static bool port_free(unsigned port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return false;
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

/* A slot of PORT_SPAN ports, chosen by pid and counter, whose ports are
 * free now (a later taker can still collide; the daemon then says so). */
static unsigned pick_base_port(void)
{
	unsigned slot = ((unsigned)getpid() + cluster_counter * 97) % PORT_SLOTS;
	for (unsigned tries = 0; tries < PORT_SLOTS; tries++) {
		unsigned base = PORT_FIRST + slot * PORT_SPAN;
		bool ok = true;
		for (unsigned p = base; p < base + PORT_SPAN && ok; p++)
			ok = port_free(p);
		if (ok)
			return base;
		slot = (slot + 1) % PORT_SLOTS;
	}
	ck_abort_msg("no free range of %u ports", PORT_SPAN);
	return 0;
}

static const char *bin_dir(void)
{
	const char *dir = getenv("PT_BIN_DIR");
	return dir && *dir ? dir : PT_BIN_DIR;
}

bool pt_cluster_netns_usable(char *why, size_t why_len)
{
	const char *no = getenv("PT_TEST_NO_NETNS");
	if (no && *no && strcmp(no, "0") != 0) {
		snprintf(why, why_len, "PT_TEST_NO_NETNS is set");
		return false;
	}
	if (geteuid() != 0) {
		snprintf(why, why_len, "not root (network namespaces need it)");
		return false;
	}
	pt_run_t r;
	char name[32];
	snprintf(name, sizeof name, "ptprobe%ld", (long)getpid());
	pt_test_run(&r, NULL, "/bin/sh", "-c",
		    "command -v ip >/dev/null && ip netns add \"$0\" && "
		    "ip netns del \"$0\"",
		    name, NULL);
	bool ok = r.status == 0;
	if (!ok)
		snprintf(why, why_len, "ip netns does not work here: %s",
			 r.err);
	pt_run_clear(&r);
	return ok;
}

static void set_env(pt_cluster_t *c, size_t *n, const char *name,
		    const char *value)
{
	ck_assert_int_eq(setenv(name, value, 1), 0);
	if (*n < sizeof c->env / sizeof c->env[0]) {
		c->env[*n] = strdup(name);
		(*n)++;
	}
}

void pt_cluster_init(pt_cluster_t *c, bool netns, const char *const *extra_env)
{
	char text[64];
	size_t n = 0;
	memset(c, 0, sizeof *c);
	c->dir = pt_test_tmpdir();
	c->netns = netns;
	ck_assert_int_ge(asprintf(&c->script, "%s/deploy/%s", PT_SOURCE_DIR,
				  netns ? "netns-cluster.sh"
					: "local-cluster.sh"),
			 0);
	c->base_port = netns ? 26000 : pick_base_port();
	snprintf(c->prefix, sizeof c->prefix, "pt%lxc%u", (long)getpid(),
		 cluster_counter);
	cluster_counter++;

	set_env(c, &n, "PT_CLUSTER_DIR", c->dir);
	set_env(c, &n, "PT_CLUSTER_BIN", bin_dir());
	snprintf(text, sizeof text, "%u", c->base_port);
	set_env(c, &n, "PT_CLUSTER_BASE_PORT", text);
	set_env(c, &n, "PHONETRUST_PASSWORD", PT_CLUSTER_PASSWORD);
	set_env(c, &n, "PT_NETNS_PREFIX", c->prefix);
	for (size_t i = 0; extra_env && extra_env[i]; i++) {
		const char *eq = strchr(extra_env[i], '=');
		ck_assert_ptr_nonnull(eq);
		char *name = strndup(extra_env[i], (size_t)(eq - extra_env[i]));
		set_env(c, &n, name, eq + 1);
		free(name);
	}
}

void pt_cluster_clear(pt_cluster_t *c)
{
	if (!c->dir)
		return;
	pt_run_t r;
	pt_cluster_script(c, &r, "down", NULL);
	if (r.status != 0)
		fprintf(stderr, "cluster down failed (%d): %s\n", r.status,
			r.err);
	pt_run_clear(&r);
	/* PT_TEST_KEEP=1 keeps the nodes' directories and logs to look at. */
	const char *keep = getenv("PT_TEST_KEEP");
	if (keep && *keep && strcmp(keep, "0") != 0)
		fprintf(stderr, "kept %s\n", c->dir);
	else
		pt_test_rmtree(c->dir);
	for (size_t i = 0; i < sizeof c->env / sizeof c->env[0]; i++) {
		if (c->env[i])
			unsetenv(c->env[i]);
		free(c->env[i]);
	}
	free(c->dir);
	free(c->script);
	memset(c, 0, sizeof *c);
}

void pt_cluster_script(pt_cluster_t *c, pt_run_t *res, const char *verb,
		       const char *arg)
{
	char *argv[] = {c->script, (char *)verb, (char *)arg, NULL};
	pt_test_runv(res, NULL, c->script, argv);
}

void pt_cluster_up(pt_cluster_t *c, unsigned n)
{
	char count[16];
	snprintf(count, sizeof count, "%u", n);
	pt_run_t r;
	pt_cluster_script(c, &r, "up", count);
	ck_assert_msg(r.status == 0, "%s up %u: exit %d: %s", c->script, n,
		      r.status, r.err);
	/* The promised output, exactly. */
	char *want = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&want, &len);
	fprintf(f, "pub publisher %s/pub\n", c->dir);
	for (unsigned i = 1; i <= n; i++)
		fprintf(f, "sub%u subscriber %s/sub%u\n", i, c->dir, i);
	fclose(f);
	ck_assert_str_eq(r.out, want);
	free(want);
	pt_run_clear(&r);
}

void pt_cluster_do(pt_cluster_t *c, const char *verb, const char *node)
{
	pt_run_t r;
	pt_cluster_script(c, &r, verb, node);
	ck_assert_msg(r.status == 0, "%s %s %s: exit %d: %s", c->script, verb,
		      node, r.status, r.err);
	pt_run_clear(&r);
}

const char *pt_cluster_node_dir(const pt_cluster_t *c, const char *node)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", c->dir, node);
	return path;
}

unsigned pt_cluster_port(const pt_cluster_t *c, const char *node,
			 const char *service)
{
	unsigned i = 0;
	if (strcmp(node, "pub") != 0) {
		char *end = NULL;
		ck_assert_msg(strncmp(node, "sub", 3) == 0, "no node %s", node);
		unsigned long k = strtoul(node + 3, &end, 10);
		ck_assert_msg(*end == '\0' && k >= 1 && k <= 99, "no node %s",
			      node);
		i = (unsigned)k;
	}
	unsigned base = c->base_port + (c->netns ? 0 : 10 * i);
	if (strcmp(service, "tftp") == 0)
		return base;
	if (strcmp(service, "tvs") == 0)
		return base + 1;
	if (strcmp(service, "capf") == 0)
		return base + 2;
	if (strcmp(service, "stream") == 0)
		return c->base_port + 3;
	if (strcmp(service, "sync") == 0)
		return c->base_port + 4;
	ck_abort_msg("no service %s", service);
	return 0;
}

static void cli_va(pt_cluster_t *c, pt_run_t *res, const char *node,
		   va_list ap)
{
	char *argv[64];
	int n = 0;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", pt_cluster_node_dir(c, node));
	argv[n++] = (char *)"phonetrust";
	argv[n++] = (char *)"--data";
	argv[n++] = dir;
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 63)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	pt_test_runv(res, NULL, "cli/phonetrust", argv);
}

void pt_cluster_cli(pt_cluster_t *c, pt_run_t *res, const char *node, ...)
{
	va_list ap;
	va_start(ap, node);
	cli_va(c, res, node, ap);
	va_end(ap);
}

static json_t *cli_json(pt_cluster_t *c, const char *node, const char *noun,
			const char *verb)
{
	pt_run_t r;
	pt_cluster_cli(c, &r, node, "--json", noun, verb, NULL);
	ck_assert_msg(r.status == 0, "%s: %s %s: exit %d: %s", node, noun,
		      verb, r.status, r.err);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "%s: %s %s: bad JSON (%s): %s", node, noun,
		      verb, e.text, r.out);
	pt_run_clear(&r);
	return j;
}

char *pt_cluster_digest(pt_cluster_t *c, const char *node, uint64_t *seq)
{
	json_t *j = cli_json(c, node, "store", "digest");
	const char *hex = json_string_value(json_object_get(j, "digest"));
	ck_assert_ptr_nonnull(hex);
	char *out = strdup(hex);
	if (seq)
		*seq = (uint64_t)json_integer_value(
			json_object_get(j, "last_sequence"));
	json_decref(j);
	return out;
}

uint64_t pt_cluster_devices(pt_cluster_t *c, const char *node)
{
	json_t *j = cli_json(c, node, "store", "info");
	json_t *d = json_object_get(json_object_get(j, "records"), "devices");
	ck_assert_msg(json_is_integer(d), "%s: store info has no device count",
		      node);
	uint64_t n = (uint64_t)json_integer_value(d);
	json_decref(j);
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *log_tail(const pt_cluster_t *c, const char *node)
{
	char *log = pt_cluster_log(c, node);
	size_t len = strlen(log);
	if (len > 1500)
		memmove(log, log + len - 1500, 1501);
	return log;
}

void pt_cluster_wait_same(pt_cluster_t *c, unsigned seconds, ...)
{
	const char *nodes[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, seconds);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 16)
		nodes[n++] = a;
	va_end(ap);

	int64_t deadline = now_ms() + (int64_t)seconds * 1000;
	for (;;) {
		uint64_t want_seq, seq = 0;
		char *want = pt_cluster_digest(c, "pub", &want_seq);
		size_t i;
		char *got = NULL;
		for (i = 0; i < n; i++) {
			free(got);
			got = pt_cluster_digest(c, nodes[i], &seq);
			if (strcmp(got, want) != 0 || seq != want_seq)
				break;
		}
		if (i == n) {
			free(want);
			free(got);
			return;
		}
		if (now_ms() >= deadline) {
			char *tail = log_tail(c, nodes[i]);
			char *pub_tail = log_tail(c, "pub");
			ck_abort_msg("%s not in sync after %u s: it holds %s at "
				     "sequence %llu, the publisher %s at %llu; "
				     "its log ends:\n%s\npub's log ends:\n%s",
				     nodes[i], seconds, got,
				     (unsigned long long)seq, want,
				     (unsigned long long)want_seq, tail,
				     pub_tail);
		}
		free(want);
		free(got);
		usleep(200 * 1000);
	}
}

char *pt_cluster_log(const pt_cluster_t *c, const char *node)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s/phonetrustd.log", c->dir, node);
	if (access(path, R_OK) != 0)
		return strdup("");
	return pt_test_read_file(path, NULL);
}

void pt_cluster_assert_clean_logs(const pt_cluster_t *c)
{
	static const char *const nodes[] = {"pub", "sub1", "sub2", "sub3"};
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		char *log = pt_cluster_log(c, nodes[i]);
		bool dirty = strstr(log, "Sanitizer") ||
			     strstr(log, "runtime error:");
		ck_assert_msg(!dirty, "sanitizer report in %s's log:\n%s",
			      nodes[i], log);
		free(log);
	}
}

void pt_cluster_write_csv(const char *path, unsigned first, unsigned count)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs("name,model,protocol\n", f);
	for (unsigned i = first; i < first + count; i++)
		fprintf(f, "SEP%012X,8841,SIP\n", i);
	ck_assert_int_eq(fclose(f), 0);
}

pid_t pt_cluster_spawn(pt_cluster_t *c, const char *name, const char *script)
{
	char log[4096], cli[4096], daemon[4096];
	snprintf(log, sizeof log, "%s/%s.log", c->dir, name);
	snprintf(cli, sizeof cli, "%s/cli/phonetrust", bin_dir());
	snprintf(daemon, sizeof daemon, "%s/node/phonetrustd", bin_dir());
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int in = open("/dev/null", O_RDONLY);
		if (fd < 0 || in < 0)
			_exit(127);
		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("PT_CLI", cli, 1);
		setenv("PT_DAEMON", daemon, 1);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	/* Both sides, so the group exists before anyone signals it. */
	setpgid(pid, pid);
	return pid;
}

bool pt_cluster_spawn_running(pid_t pid, int *status)
{
	int st;
	pid_t r = waitpid(pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (status)
		*status = r == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return false;
}

int pt_cluster_spawn_wait(pid_t pid, unsigned seconds)
{
	int64_t deadline = now_ms() + (int64_t)seconds * 1000;
	int status = -1;
	while (pt_cluster_spawn_running(pid, &status)) {
		if (now_ms() >= deadline) {
			pt_cluster_spawn_kill(pid);
			ck_abort_msg("spawned script %ld still ran after %u s",
				     (long)pid, seconds);
		}
		usleep(50 * 1000);
	}
	return status;
}

void pt_cluster_spawn_kill(pid_t pid)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

uint64_t pt_cluster_wait_seq(pt_cluster_t *c, uint64_t seq, unsigned seconds)
{
	int64_t deadline = now_ms() + (int64_t)seconds * 1000;
	for (;;) {
		uint64_t last = 0;
		free(pt_cluster_digest(c, "pub", &last));
		if (last >= seq)
			return last;
		ck_assert_msg(now_ms() < deadline,
			      "the publisher reached sequence %llu, not %llu, "
			      "in %u s",
			      (unsigned long long)last, (unsigned long long)seq,
			      seconds);
		usleep(20 * 1000);
	}
}

void pt_cluster_wait_log(const pt_cluster_t *c, const char *node,
			 const char *text, unsigned seconds)
{
	int64_t deadline = now_ms() + (int64_t)seconds * 1000;
	for (;;) {
		char *log = pt_cluster_log(c, node);
		bool found = strstr(log, text) != NULL;
		if (found) {
			free(log);
			return;
		}
		if (now_ms() >= deadline)
			ck_abort_msg("%s's log has no \"%s\" after %u s:\n%s",
				     node, text, seconds, log);
		free(log);
		usleep(100 * 1000);
	}
}
