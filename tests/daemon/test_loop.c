#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/errors.h"
#include "net/loop.h"
#include "pt_test.h"

/* Every test arms a guard timer: if the behaviour under test never stops
 * the loop, the guard does, and the test fails instead of hanging. */
#define GUARD_MS 3000

static pt_loop_t *loop;
static bool guard_fired;

static void on_guard(pt_loop_t *l, uint64_t id, void *data)
{
	(void)id;
	(void)data;
	guard_fired = true;
	pt_loop_stop(l);
}

static void on_stop(pt_loop_t *l, uint64_t id, void *data)
{
	(void)id;
	(void)data;
	pt_loop_stop(l);
}

static void setup(void)
{
	guard_fired = false;
	ck_assert_int_eq(pt_loop_new(&loop), PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(loop, GUARD_MS, 0, on_guard, NULL,
					   NULL),
			 PT_OK);
}

static void teardown(void)
{
	pt_loop_destroy(&loop);
	ck_assert_ptr_null(loop);
}

static void run_loop(void)
{
	ck_assert_int_eq(pt_loop_run(loop), PT_OK);
}

static void make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

/* ---- fds ---- */

struct fd_probe {
	int calls;
	int fd;
	unsigned events;
	char byte;
	bool stop;
};

static void on_readable(pt_loop_t *l, int fd, unsigned events, void *data)
{
	struct fd_probe *p = data;
	p->calls++;
	p->fd = fd;
	p->events = events;
	ck_assert_int_eq(read(fd, &p->byte, 1), 1);
	if (p->stop)
		pt_loop_stop(l);
}

START_TEST(pipe_read_fires)
{
	int p[2];
	make_pipe(p);
	struct fd_probe probe = {.stop = true};
	ck_assert_int_eq(pt_loop_fd_add(loop, p[0], PT_LOOP_READ, on_readable,
					&probe),
			 PT_OK);
	ck_assert_uint_eq(pt_loop_fd_count(loop), 1);
	/* The loop made the fd non-blocking. */
	ck_assert(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(probe.calls, 1);
	ck_assert_int_eq(probe.fd, p[0]);
	ck_assert_uint_eq(probe.events, PT_LOOP_READ);
	ck_assert_int_eq(probe.byte, 'x');
	close(p[0]);
	close(p[1]);
}
END_TEST

static void on_writable(pt_loop_t *l, int fd, unsigned events, void *data)
{
	int *calls = data;
	(*calls)++;
	ck_assert_uint_eq(events, PT_LOOP_WRITE);
	/* Pause it: without interest, no more callbacks. */
	ck_assert_int_eq(pt_loop_fd_mod(l, fd, 0), PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(l, 30, 0, on_stop, NULL, NULL),
			 PT_OK);
}

START_TEST(write_interest_and_pause)
{
	int p[2];
	make_pipe(p);
	int calls = 0;
	ck_assert_int_eq(pt_loop_fd_add(loop, p[1], PT_LOOP_WRITE, on_writable,
					&calls),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(calls, 1);
	/* Paused fds stay registered. */
	ck_assert_uint_eq(pt_loop_fd_count(loop), 1);
	ck_assert_int_eq(pt_loop_fd_add(loop, p[1], PT_LOOP_WRITE, on_writable,
					&calls),
			 PT_ERR_EXISTS);
	ck_assert_int_eq(pt_loop_fd_mod(loop, p[1], 8), PT_ERR_INVALID);
	ck_assert_int_eq(pt_loop_fd_del(loop, p[1]), PT_OK);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(removed_fd_is_silent)
{
	int p[2];
	make_pipe(p);
	struct fd_probe probe = {0};
	ck_assert_int_eq(pt_loop_fd_add(loop, p[0], PT_LOOP_READ, on_readable,
					&probe),
			 PT_OK);
	ck_assert_int_eq(pt_loop_fd_del(loop, p[0]), PT_OK);
	ck_assert_int_eq(pt_loop_fd_del(loop, p[0]), PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_loop_fd_mod(loop, p[0], PT_LOOP_READ),
			 PT_ERR_NOT_FOUND);
	ck_assert_uint_eq(pt_loop_fd_count(loop), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(pt_loop_timer_add(loop, 50, 0, on_stop, NULL, NULL),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(probe.calls, 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Two readable pipes: whichever callback runs first removes and closes
 * the other one and registers a fresh, empty pipe (which gets the freed fd
 * number).  The stale event of the closed fd must reach nobody. */
struct pair {
	int a[2], b[2];
	int fresh[2];
	int calls;
	int stale_calls;
};

static void on_fresh(pt_loop_t *l, int fd, unsigned events, void *data)
{
	struct pair *pr = data;
	(void)l;
	(void)fd;
	(void)events;
	pr->stale_calls++;
}

static void on_pair(pt_loop_t *l, int fd, unsigned events, void *data)
{
	struct pair *pr = data;
	(void)events;
	pr->calls++;
	int other = fd == pr->a[0] ? pr->b[0] : pr->a[0];
	ck_assert_int_eq(pt_loop_fd_del(l, other), PT_OK);
	close(other);
	ck_assert_int_eq(pipe2(pr->fresh, O_CLOEXEC), 0);
	ck_assert_int_eq(pr->fresh[0], other);
	ck_assert_int_eq(pt_loop_fd_add(l, pr->fresh[0], PT_LOOP_READ,
					on_fresh, pr),
			 PT_OK);
	ck_assert_int_eq(pt_loop_fd_del(l, fd), PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(l, 30, 0, on_stop, NULL, NULL),
			 PT_OK);
}

START_TEST(fd_removed_in_same_round)
{
	struct pair pr = {0};
	make_pipe(pr.a);
	make_pipe(pr.b);
	ck_assert_int_eq(write(pr.a[1], "a", 1), 1);
	ck_assert_int_eq(write(pr.b[1], "b", 1), 1);
	ck_assert_int_eq(pt_loop_fd_add(loop, pr.a[0], PT_LOOP_READ, on_pair,
					&pr),
			 PT_OK);
	ck_assert_int_eq(pt_loop_fd_add(loop, pr.b[0], PT_LOOP_READ, on_pair,
					&pr),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(pr.calls, 1);
	ck_assert_int_eq(pr.stale_calls, 0);
	/* One of a[0] and b[0] was closed in the callback (its number now
	 * belongs to fresh[0]). */
	close(pr.fresh[0] == pr.a[0] ? pr.b[0] : pr.a[0]);
	close(pr.fresh[0]);
	close(pr.fresh[1]);
	close(pr.a[1]);
	close(pr.b[1]);
}
END_TEST

static void on_hangup_fd(pt_loop_t *l, int fd, unsigned events, void *data)
{
	int *calls = data;
	char c;
	(*calls)++;
	ck_assert(events & PT_LOOP_READ);
	ck_assert_int_eq(read(fd, &c, 1), 0); /* end of file */
	ck_assert_int_eq(pt_loop_fd_del(l, fd), PT_OK);
	pt_loop_stop(l);
}

START_TEST(hangup_reported_as_readable)
{
	int p[2];
	make_pipe(p);
	int calls = 0;
	ck_assert_int_eq(pt_loop_fd_add(loop, p[0], PT_LOOP_READ, on_hangup_fd,
					&calls),
			 PT_OK);
	close(p[1]);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(calls, 1);
	close(p[0]);
}
END_TEST

START_TEST(fd_add_refuses_bad_arguments)
{
	ck_assert_int_eq(pt_loop_fd_add(loop, -1, PT_LOOP_READ, on_readable,
					NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_loop_fd_add(loop, 0, PT_LOOP_READ, NULL, NULL),
			 PT_ERR_INVALID);
	/* Regular files cannot be polled: epoll says so. */
	char *dir = pt_test_tmpdir();
	char path[512];
	snprintf(path, sizeof path, "%s/f", dir);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pt_loop_fd_add(loop, fd, PT_LOOP_READ, on_readable,
					NULL),
			 PT_ESYS(EPERM));
	ck_assert_uint_eq(pt_loop_fd_count(loop), 0);
	close(fd);
	pt_test_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- timers ---- */

struct order {
	int seen[16];
	int n;
	int stop_after;
};

struct tag {
	struct order *o;
	int value;
};

static void on_tagged(pt_loop_t *l, uint64_t id, void *data)
{
	struct tag *t = data;
	(void)id;
	t->o->seen[t->o->n++] = t->value;
	if (t->o->n == t->o->stop_after)
		pt_loop_stop(l);
}

START_TEST(timers_fire_in_order)
{
	struct order o = {.stop_after = 4};
	/* Armed out of order; 20 ms apart so that arming takes no part. */
	struct tag tags[] = {{&o, 80}, {&o, 20}, {&o, 60}, {&o, 40}};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pt_loop_timer_add(loop,
						   (uint64_t)tags[i].value, 0,
						   on_tagged, &tags[i], NULL),
				 PT_OK);
	ck_assert_uint_eq(pt_loop_timer_count(loop), 5);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(o.n, 4);
	ck_assert_int_eq(o.seen[0], 20);
	ck_assert_int_eq(o.seen[1], 40);
	ck_assert_int_eq(o.seen[2], 60);
	ck_assert_int_eq(o.seen[3], 80);
	/* Fired one-shot timers are gone; only the guard is left. */
	ck_assert_uint_eq(pt_loop_timer_count(loop), 1);
}
END_TEST

START_TEST(due_timers_fire_in_arming_order)
{
	/* All due at once (0 ms): they fire in the order they were armed. */
	struct order o = {.stop_after = 6};
	struct tag tags[6];
	for (int i = 0; i < 6; i++) {
		tags[i] = (struct tag){&o, i};
		ck_assert_int_eq(pt_loop_timer_add(loop, 0, 0, on_tagged,
						   &tags[i], NULL),
				 PT_OK);
	}
	run_loop();
	ck_assert(!guard_fired);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(o.seen[i], i);
}
END_TEST

struct repeat {
	int calls;
	uint64_t id;
};

static void on_repeat(pt_loop_t *l, uint64_t id, void *data)
{
	struct repeat *r = data;
	ck_assert_uint_eq(id, r->id);
	if (++r->calls == 3) {
		ck_assert_int_eq(pt_loop_timer_del(l, id), PT_OK);
		ck_assert_int_eq(pt_loop_timer_add(l, 20, 0, on_stop, NULL,
						   NULL),
				 PT_OK);
	}
}

START_TEST(repeating_timer_until_removed)
{
	struct repeat r = {0};
	ck_assert_int_eq(pt_loop_timer_add(loop, 1, 5, on_repeat, &r, &r.id),
			 PT_OK);
	ck_assert_uint_ne(r.id, 0);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(r.calls, 3);
	ck_assert_int_eq(pt_loop_timer_del(loop, r.id), PT_ERR_NOT_FOUND);
	ck_assert_uint_eq(pt_loop_timer_count(loop), 1);
}
END_TEST

struct cancel {
	uint64_t victim;
	int victim_calls;
	int del_result;
};

static void on_victim(pt_loop_t *l, uint64_t id, void *data)
{
	struct cancel *c = data;
	(void)l;
	(void)id;
	c->victim_calls++;
}

static void on_canceller(pt_loop_t *l, uint64_t id, void *data)
{
	struct cancel *c = data;
	(void)id;
	c->del_result = pt_loop_timer_del(l, c->victim);
	ck_assert_int_eq(pt_loop_timer_add(l, 60, 0, on_stop, NULL, NULL),
			 PT_OK);
}

START_TEST(timer_del_cancels)
{
	struct cancel c = {.del_result = 1};
	ck_assert_int_eq(pt_loop_timer_add(loop, 40, 0, on_victim, &c,
					   &c.victim),
			 PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(loop, 5, 0, on_canceller, &c, NULL),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(c.del_result, PT_OK);
	ck_assert_int_eq(c.victim_calls, 0);
	ck_assert_int_eq(pt_loop_timer_del(loop, c.victim), PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_loop_timer_del(loop, 0), PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_loop_timer_del(loop, UINT64_MAX),
			 PT_ERR_NOT_FOUND);
}
END_TEST

/* A due timer cancelled by another due timer of the same round does not
 * fire, and its slot, reused at once, is not confused with it. */
struct same_round {
	uint64_t ids[2];
	int calls[2];
	uint64_t reused;
};

static void on_same_round(pt_loop_t *l, uint64_t id, void *data)
{
	struct same_round *s = data;
	int me = id == s->ids[0] ? 0 : 1;
	s->calls[me]++;
	ck_assert_int_eq(pt_loop_timer_del(l, s->ids[1 - me]), PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(l, 10, 0, on_stop, NULL,
					   &s->reused),
			 PT_OK);
	ck_assert_uint_ne(s->reused, s->ids[1 - me]);
}

START_TEST(timer_cancelled_in_same_round)
{
	struct same_round s = {0};
	ck_assert_int_eq(pt_loop_timer_add(loop, 0, 0, on_same_round, &s,
					   &s.ids[0]),
			 PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(loop, 0, 0, on_same_round, &s,
					   &s.ids[1]),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(s.calls[0] + s.calls[1], 1);
	ck_assert_int_eq(s.calls[0], 1);
}
END_TEST

static void on_self_cancel(pt_loop_t *l, uint64_t id, void *data)
{
	int *result = data;
	*result = pt_loop_timer_del(l, id);
	pt_loop_stop(l);
}

START_TEST(one_shot_cancels_itself)
{
	int result = 1;
	uint64_t id;
	ck_assert_int_eq(pt_loop_timer_add(loop, 1, 0, on_self_cancel, &result,
					   &id),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(result, PT_OK);
	ck_assert_int_eq(pt_loop_timer_del(loop, id), PT_ERR_NOT_FOUND);
}
END_TEST

struct many {
	int calls[600];
	int position[600]; /* when each fired */
	int fired;
};

struct many_tag {
	struct many *m;
	int index;
};

static void on_many(pt_loop_t *l, uint64_t id, void *data)
{
	struct many_tag *t = data;
	(void)l;
	(void)id;
	t->m->calls[t->index]++;
	t->m->position[t->index] = t->m->fired++;
}

START_TEST(many_timers_and_cancels)
{
	static struct many m;
	static struct many_tag tags[600];
	uint64_t ids[600];
	memset(&m, 0, sizeof m);
	for (int i = 0; i < 600; i++) {
		tags[i] = (struct many_tag){&m, i};
		ck_assert_int_eq(pt_loop_timer_add(loop, (uint64_t)(i * 7 % 23),
						   0, on_many, &tags[i],
						   &ids[i]),
				 PT_OK);
	}
	for (int i = 0; i < 600; i += 3)
		ck_assert_int_eq(pt_loop_timer_del(loop, ids[i]), PT_OK);
	ck_assert_int_eq(pt_loop_timer_add(loop, 80, 0, on_stop, NULL, NULL),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	for (int i = 0; i < 600; i++)
		ck_assert_int_eq(m.calls[i], i % 3 == 0 ? 0 : 1);
	ck_assert_int_eq(m.fired, 400);
	/* Armed earlier with no longer a delay means due earlier, so it must
	 * have fired earlier: the heap's order, whatever the clock did. */
	for (int i = 0; i < 600; i++) {
		for (int j = i + 1; j < 600; j++) {
			if (i % 3 == 0 || j % 3 == 0 ||
			    i * 7 % 23 > j * 7 % 23)
				continue;
			ck_assert_msg(m.position[i] < m.position[j],
				      "timer %d fired after timer %d", i, j);
		}
	}
	ck_assert_uint_eq(pt_loop_timer_count(loop), 1);
}
END_TEST

/* ---- running and stopping ---- */

START_TEST(stop_before_run_returns_at_once)
{
	pt_loop_stop(loop);
	run_loop();
	ck_assert(!guard_fired);
	/* The stop was used up: the loop runs again (until a timer stops
	 * it). */
	ck_assert_int_eq(pt_loop_timer_add(loop, 5, 0, on_stop, NULL, NULL),
			 PT_OK);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_uint_eq(pt_loop_timer_count(loop), 1);
}
END_TEST

static void on_count_and_stop(pt_loop_t *l, uint64_t id, void *data)
{
	int *calls = data;
	(void)id;
	(*calls)++;
	pt_loop_stop(l);
}

START_TEST(stop_leaves_due_timers_for_next_run)
{
	int calls = 0;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pt_loop_timer_add(loop, 0, 0,
						   on_count_and_stop, &calls,
						   NULL),
				 PT_OK);
	run_loop();
	ck_assert_int_eq(calls, 1);
	ck_assert_uint_eq(pt_loop_timer_count(loop), 3);
	run_loop();
	ck_assert_int_eq(calls, 2);
	run_loop();
	ck_assert_int_eq(calls, 3);
	ck_assert(!guard_fired);
	ck_assert_uint_eq(pt_loop_timer_count(loop), 1);
}
END_TEST

static void on_fd_count_and_stop(pt_loop_t *l, int fd, unsigned events,
				 void *data)
{
	int *calls = data;
	char c;
	(void)events;
	(*calls)++;
	ck_assert_int_eq(read(fd, &c, 1), 1);
	pt_loop_stop(l);
}

START_TEST(stop_leaves_ready_fds_for_next_run)
{
	int a[2], b[2], calls = 0;
	make_pipe(a);
	make_pipe(b);
	ck_assert_int_eq(write(a[1], "a", 1), 1);
	ck_assert_int_eq(write(b[1], "b", 1), 1);
	ck_assert_int_eq(pt_loop_fd_add(loop, a[0], PT_LOOP_READ,
					on_fd_count_and_stop, &calls),
			 PT_OK);
	ck_assert_int_eq(pt_loop_fd_add(loop, b[0], PT_LOOP_READ,
					on_fd_count_and_stop, &calls),
			 PT_OK);
	run_loop();
	ck_assert_int_eq(calls, 1);
	run_loop();
	ck_assert_int_eq(calls, 2);
	ck_assert(!guard_fired);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}
END_TEST

static void on_nested_run(pt_loop_t *l, uint64_t id, void *data)
{
	int *result = data;
	(void)id;
	*result = pt_loop_run(l);
	pt_loop_stop(l);
}

START_TEST(run_is_not_reentrant)
{
	int result = 1;
	ck_assert_int_eq(pt_loop_timer_add(loop, 0, 0, on_nested_run, &result,
					   NULL),
			 PT_OK);
	run_loop();
	ck_assert_int_eq(result, PT_ERR_DENIED);
}
END_TEST

/* ---- signals ---- */

START_TEST(sigterm_stops_loop)
{
	/* pt_loop_new blocked SIGTERM: raising it only makes it pending. */
	ck_assert_int_eq(raise(SIGTERM), 0);
	run_loop();
	ck_assert(!guard_fired);
}
END_TEST

START_TEST(sigint_stops_loop)
{
	ck_assert_int_eq(raise(SIGINT), 0);
	run_loop();
	ck_assert(!guard_fired);
}
END_TEST

START_TEST(sighup_ignored_by_default)
{
	ck_assert_int_eq(raise(SIGHUP), 0);
	ck_assert_int_eq(pt_loop_timer_add(loop, 50, 0, on_stop, NULL, NULL),
			 PT_OK);
	run_loop();
	/* Still alive, stopped by the timer rather than by the signal. */
	ck_assert(!guard_fired);
	ck_assert_uint_eq(pt_loop_timer_count(loop), 1);
}
END_TEST

struct sig_probe {
	int hups;
	int terms;
	int usr1;
};

static void on_signal(pt_loop_t *l, int signo, void *data)
{
	struct sig_probe *s = data;
	if (signo == SIGHUP) {
		s->hups++;
		ck_assert_int_eq(raise(SIGUSR1), 0);
	} else if (signo == SIGUSR1) {
		s->usr1++;
		ck_assert_int_eq(raise(SIGTERM), 0);
	} else if (signo == SIGTERM) {
		/* A callback replaces the default: stop only on the second. */
		if (++s->terms == 2)
			pt_loop_stop(l);
		else
			ck_assert_int_eq(raise(SIGTERM), 0);
	}
}

START_TEST(signal_callbacks)
{
	struct sig_probe s = {0};
	ck_assert_int_eq(pt_loop_signal_add(loop, SIGHUP, on_signal, &s),
			 PT_OK);
	ck_assert_int_eq(pt_loop_signal_add(loop, SIGUSR1, on_signal, &s),
			 PT_OK);
	ck_assert_int_eq(pt_loop_signal_add(loop, SIGTERM, on_signal, &s),
			 PT_OK);
	ck_assert_int_eq(raise(SIGHUP), 0);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(s.hups, 1);
	ck_assert_int_eq(s.usr1, 1);
	ck_assert_int_eq(s.terms, 2);

	/* NULL restores the default: SIGTERM stops the loop again. */
	ck_assert_int_eq(pt_loop_signal_add(loop, SIGTERM, NULL, NULL), PT_OK);
	ck_assert_int_eq(raise(SIGTERM), 0);
	run_loop();
	ck_assert(!guard_fired);
	ck_assert_int_eq(s.terms, 2);
}
END_TEST

START_TEST(signal_add_refuses)
{
	ck_assert_int_eq(pt_loop_signal_add(loop, SIGKILL, on_signal, NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_loop_signal_add(loop, SIGSTOP, on_signal, NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_loop_signal_add(loop, 0, on_signal, NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_loop_signal_add(loop, 4096, on_signal, NULL),
			 PT_ERR_INVALID);
}
END_TEST

/* ---- plain loops (worker threads) ---- */

struct plain_probe {
	bool mask_untouched;
	int signal_add;
	int fired;
	bool pipe_read;
	int run;
};

static void plain_on_timer(pt_loop_t *l, uint64_t id, void *data)
{
	struct plain_probe *p = data;
	(void)id;
	if (++p->fired == 2)
		pt_loop_stop(l);
}

static void plain_on_pipe(pt_loop_t *l, int fd, unsigned events, void *data)
{
	struct plain_probe *p = data;
	char c;
	(void)l;
	(void)events;
	p->pipe_read = read(fd, &c, 1) == 1 && c == 'w';
}

/* Runs in a thread of its own whose mask starts empty: the plain loop must
 * leave it so, and still run fds and timers. */
static void *plain_thread(void *arg)
{
	struct plain_probe *p = arg;
	sigset_t none, now;
	int fds[2];
	pt_loop_t *l = NULL;

	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	if (pt_loop_new_plain(&l) != PT_OK || pipe(fds) != 0)
		return NULL;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	p->mask_untouched = !sigismember(&now, SIGTERM) &&
			    !sigismember(&now, SIGINT) &&
			    !sigismember(&now, SIGHUP);
	p->signal_add = pt_loop_signal_add(l, SIGTERM, on_signal, NULL);
	pt_loop_fd_add(l, fds[0], PT_LOOP_READ, plain_on_pipe, p);
	pt_loop_timer_add(l, 10, 10, plain_on_timer, p, NULL);
	pt_loop_timer_add(l, GUARD_MS, 0, on_guard, NULL, NULL);
	if (write(fds[1], "w", 1) != 1)
		return NULL;
	p->run = pt_loop_run(l);
	pt_loop_fd_del(l, fds[0]);
	close(fds[0]);
	close(fds[1]);
	pt_loop_destroy(&l);
	return NULL;
}

START_TEST(plain_loop_leaves_signals_alone)
{
	struct plain_probe p = {.signal_add = 1, .run = 1};
	pthread_t t;
	guard_fired = false;
	ck_assert_int_eq(pthread_create(&t, NULL, plain_thread, &p), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(p.mask_untouched);
	ck_assert_int_eq(p.signal_add, PT_ERR_INVALID);
	ck_assert(p.pipe_read);
	ck_assert_int_eq(p.fired, 2);
	ck_assert_int_eq(p.run, PT_OK);
	ck_assert(!guard_fired);
}
END_TEST

START_TEST(destroy_accepts_null)
{
	pt_loop_t *none = NULL;
	pt_loop_destroy(&none);
	pt_loop_destroy(NULL);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *fds = tcase_create("fds");
	tcase_add_checked_fixture(fds, setup, teardown);
	tcase_add_test(fds, pipe_read_fires);
	tcase_add_test(fds, write_interest_and_pause);
	tcase_add_test(fds, removed_fd_is_silent);
	tcase_add_test(fds, fd_removed_in_same_round);
	tcase_add_test(fds, hangup_reported_as_readable);
	tcase_add_test(fds, fd_add_refuses_bad_arguments);
	suite_add_tcase(s, fds);

	TCase *timers = tcase_create("timers");
	tcase_add_checked_fixture(timers, setup, teardown);
	tcase_add_test(timers, timers_fire_in_order);
	tcase_add_test(timers, due_timers_fire_in_arming_order);
	tcase_add_test(timers, repeating_timer_until_removed);
	tcase_add_test(timers, timer_del_cancels);
	tcase_add_test(timers, timer_cancelled_in_same_round);
	tcase_add_test(timers, one_shot_cancels_itself);
	tcase_add_test(timers, many_timers_and_cancels);
	suite_add_tcase(s, timers);

	TCase *run = tcase_create("run");
	tcase_add_checked_fixture(run, setup, teardown);
	tcase_add_test(run, stop_before_run_returns_at_once);
	tcase_add_test(run, run_is_not_reentrant);
	tcase_add_test(run, stop_leaves_due_timers_for_next_run);
	tcase_add_test(run, stop_leaves_ready_fds_for_next_run);
	tcase_add_test(run, destroy_accepts_null);
	suite_add_tcase(s, run);

	TCase *sig = tcase_create("signals");
	tcase_add_checked_fixture(sig, setup, teardown);
	tcase_add_test(sig, sigterm_stops_loop);
	tcase_add_test(sig, sigint_stops_loop);
	tcase_add_test(sig, sighup_ignored_by_default);
	tcase_add_test(sig, signal_callbacks);
	tcase_add_test(sig, signal_add_refuses);
	suite_add_tcase(s, sig);

	TCase *plain = tcase_create("plain");
	tcase_add_test(plain, plain_loop_leaves_signals_alone);
	suite_add_tcase(s, plain);
	return s;
}

int main(void)
{
	return pt_test_main(loop_suite());
}
