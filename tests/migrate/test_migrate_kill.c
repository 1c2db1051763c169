/* kill -9 during a 100,000-device migration: the real CLI migrates one
 * copy of a node without interruption, and another copy of the same node
 * is killed (SIGKILL) a few times at random moments of its runs, then run
 * to the end.  Both must hold the same store digest, and a further run
 * must change nothing.
 *
 * The fixture is generated once per run of this binary.
 * $PT_TEST_MIGRATE_DEVICES scales it (the sanitizer build is slower). */
#include <signal.h>
#include <time.h>

#include "migrate_util.h"

#define DEFAULT_DEVICES 100000u
#define SUBS 2
#define KILLS 4

static unsigned device_count(void)
{
	const char *v = getenv("PT_TEST_MIGRATE_DEVICES");
	unsigned n = v && *v ? (unsigned)strtoul(v, NULL, 10) : DEFAULT_DEVICES;
	ck_assert_uint_gt(n, 0);
	return n;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Starts the CLI migrating node from fixture, outputs discarded. */
static pid_t start_migration(const char *node, const char *fixture)
{
	char *dirs[SUBS + 1];
	dirs[0] = mg_fmt("%s/publisher", fixture);
	for (unsigned i = 1; i <= SUBS; i++)
		dirs[i] = mg_fmt("%s/subscriber%u", fixture, i);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		FILE *devnull = fopen("/dev/null", "w");
		if (devnull) {
			dup2(fileno(devnull), 1);
			dup2(fileno(devnull), 2);
		}
		char *argv[] = {"phonetrust", "--data", (char *)node, "migrate",
				"legacy",     dirs[0], dirs[1],	 dirs[2], NULL};
		execv(pt_test_bin("cli/phonetrust"), argv);
		_exit(127);
	}
	for (unsigned i = 0; i <= SUBS; i++)
		free(dirs[i]);
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(killed_runs_complete_to_the_same_digest)
{
	char *tmp = pt_test_tmpdir();
	char *fixture = mg_fmt("%s/legacy", tmp);
	char *a = mg_fmt("%s/a", tmp), *b = mg_fmt("%s/b", tmp);
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	srand(seed);
	mg_generate(fixture, device_count(), SUBS, 0.01, 0.1, 41);
	mg_node(a);
	/* The same node twice (store, keys, data key): identical inputs
	 * must give identical stores. */
	char *cp = mg_fmt("cp -a '%s' '%s'", a, b);
	ck_assert_int_eq(system(cp), 0);
	free(cp);

	double t0 = now_s();
	ck_assert_int_eq(wait_exit(start_migration(a, fixture)), 0);
	double full = now_s() - t0;
	uint8_t da[32], db[32];
	pt_fixture_digest(a, da);

	/* The first kill lands anywhere in a run (parsing, spilling,
	 * archiving); the others once the run has committed a chosen
	 * number of batches, a few milliseconds into the next. */
	uint64_t first = pt_fixture_last_seq(b), last = pt_fixture_last_seq(a);
	ck_assert_uint_gt(last, first + KILLS);
	int mid = 0;
	for (int k = 0; k < KILLS; k++) {
		uint64_t cur = pt_fixture_last_seq(b);
		if (k > 0 && last - cur < 2)
			break;
		pid_t pid = start_migration(b, fixture);
		double t = now_s();
		if (k == 0) {
			double at = 0.6 * full * (double)rand() / RAND_MAX;
			while (now_s() - t < at && pt_fixture_last_seq(b) == cur)
				usleep(10000);
		} else {
			uint64_t span = (last - cur) / (uint64_t)(KILLS - k + 1);
			uint64_t target = cur + 1 + (uint64_t)rand() %
							    (span ? span : 1);
			while (pt_fixture_last_seq(b) < target &&
			       now_s() - t < full * 3)
				usleep(10000);
			usleep((useconds_t)(rand() % 50000));
		}
		kill(pid, SIGKILL);
		int st = wait_exit(pid);
		ck_assert_msg(st == 128 + SIGKILL || st == 0,
			      "run %d ended with %d (seed %u)", k, st, seed);
		/* The store opens and reads after every kill. */
		uint64_t seq = pt_fixture_last_seq(b);
		mid += seq > first && seq < last;
		fprintf(stderr, "kill %d after %.2f s: sequence %llu of %llu..%llu\n",
			k, now_s() - t, (unsigned long long)seq,
			(unsigned long long)first, (unsigned long long)last);
	}
	/* At least one run died with some batches written, not all. */
	ck_assert_msg(mid > 0, "no kill landed between batches (seed %u)",
		      seed);
	ck_assert_int_eq(wait_exit(start_migration(b, fixture)), 0);
	pt_fixture_digest(b, db);
	ck_assert_msg(memcmp(da, db, 32) == 0,
		      "killed and completed run differs from an uninterrupted "
		      "one (seed %u)", seed);
	ck_assert_uint_eq(pt_fixture_device_count(a),
			  pt_fixture_device_count(b));

	pt_fixture_state_t before;
	pt_fixture_state(b, &before);
	ck_assert_int_eq(wait_exit(start_migration(b, fixture)), 0);
	pt_fixture_assert_unchanged(b, &before);
	char *ls = mg_fmt("ls -d '%s'/legacy-spill.* >/dev/null 2>&1", b);
	ck_assert_int_ne(system(ls), 0);
	free(ls);

	pt_test_rmtree(tmp);
	free(fixture);
	free(a);
	free(b);
	free(tmp);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_kill");
	TCase *tc = tcase_create("kill");
	tcase_set_timeout(tc, 850);
	tcase_add_test(tc, killed_runs_complete_to_the_same_digest);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
