#include "net/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"

/* Timers live in a binary heap ordered by deadline whose head sets
 * epoll_wait's timeout, rather than one timerfd each: services arm a timer
 * per TFTP transfer and per idle connection, thousands at a time, and a
 * heap costs no file descriptors and no system call to arm or cancel.
 * Timer ids carry a slot number and that slot's generation, so cancelling
 * finds a timer in O(1) and a stale id never names a newer timer. */

#define MAX_EVENTS 64
#define NS_PER_MS 1000000ull
/* epoll data of the signalfd; fd entries use (generation << 32 | fd) with
 * generations below UINT32_MAX. */
#define SIGNAL_TAG UINT64_MAX

struct fd_entry {
	pt_loop_fd_fn fn;
	void *data;
	unsigned mask;
	uint32_t gen; /* 0: slot unused */
	bool in_epoll;
};

struct timer {
	uint64_t deadline; /* CLOCK_MONOTONIC, ns */
	uint64_t every;    /* ns; 0 for a one-shot timer */
	uint64_t order;    /* arming order: breaks deadline ties */
	pt_loop_timer_fn fn;
	void *data;
	uint32_t gen;       /* bumped whenever the slot is freed */
	int32_t heap_pos;   /* -1 while firing or free */
	uint32_t next_free; /* free list link */
	bool live;
};

struct sig_entry {
	pt_loop_signal_fn fn;
	void *data;
};

struct pt_loop {
	int epfd;
	int sigfd;
	sigset_t sigmask;
	bool stop;
	bool running;

	struct fd_entry *fds; /* indexed by fd */
	size_t fds_cap;
	unsigned fds_used;
	uint32_t next_fd_gen;

	struct timer *timers; /* slots */
	uint32_t *heap;       /* slot numbers */
	size_t timers_cap;
	size_t heap_len;
	uint32_t free_head; /* UINT32_MAX: empty */
	unsigned timers_live;
	uint64_t next_order;
	uint64_t *due; /* ids collected for one round (timers_cap long) */

	struct sig_entry sigs[NSIG];
	struct epoll_event events[MAX_EVENTS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t ms_to_ns(uint64_t ms)
{
	return ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX : ms * NS_PER_MS;
}

static pt_loop_t *loop_alloc(void)
{
	pt_loop_t *loop = calloc(1, sizeof *loop);
	if (!loop)
		return NULL;
	loop->epfd = -1;
	loop->sigfd = -1;
	loop->free_head = UINT32_MAX;
	loop->next_fd_gen = 1;
	sigemptyset(&loop->sigmask);
	return loop;
}

int pt_loop_new_plain(pt_loop_t **out)
{
	*out = NULL;
	pt_loop_t *loop = loop_alloc();
	if (!loop)
		return PT_ERR_NOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int r = PT_ESYS(errno);
		pt_loop_destroy(&loop);
		return r;
	}
	*out = loop;
	return PT_OK;
}

int pt_loop_new(pt_loop_t **out)
{
	pt_loop_t *loop;
	int r;

	*out = NULL;
	loop = loop_alloc();
	if (!loop)
		return PT_ERR_NOMEM;

	sigaddset(&loop->sigmask, SIGTERM);
	sigaddset(&loop->sigmask, SIGINT);
	sigaddset(&loop->sigmask, SIGHUP);
	r = pthread_sigmask(SIG_BLOCK, &loop->sigmask, NULL);
	if (r != 0) {
		r = PT_ESYS(r);
		goto out;
	}
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	loop->sigfd = signalfd(-1, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SIGNAL_TAG};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->sigfd, &ev) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	*out = loop;
	loop = NULL;
	r = PT_OK;
out:
	pt_loop_destroy(&loop);
	return r;
}

void pt_loop_destroy(pt_loop_t **loopp)
{
	if (!loopp || !*loopp)
		return;
	pt_loop_t *loop = *loopp;
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop->fds);
	free(loop->timers);
	free(loop->heap);
	free(loop->due);
	free(loop);
	*loopp = NULL;
}

void pt_loop_stop(pt_loop_t *loop)
{
	loop->stop = true;
}

unsigned pt_loop_fd_count(const pt_loop_t *loop)
{
	return loop->fds_used;
}

unsigned pt_loop_timer_count(const pt_loop_t *loop)
{
	return loop->timers_live;
}

/* ---- file descriptors ---- */

static struct fd_entry *fd_lookup(pt_loop_t *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->fds_cap || loop->fds[fd].gen == 0)
		return NULL;
	return &loop->fds[fd];
}

static uint32_t epoll_bits(unsigned mask)
{
	uint32_t bits = 0;
	if (mask & PT_LOOP_READ)
		bits |= EPOLLIN;
	if (mask & PT_LOOP_WRITE)
		bits |= EPOLLOUT;
	return bits;
}

/* Brings the epoll registration of fd in line with e->mask. */
static int fd_sync(pt_loop_t *loop, int fd, struct fd_entry *e)
{
	struct epoll_event ev = {
		.events = epoll_bits(e->mask),
		.data.u64 = (uint64_t)e->gen << 32 | (uint32_t)fd,
	};
	int op;
	if (e->mask == 0) {
		if (!e->in_epoll)
			return PT_OK;
		op = EPOLL_CTL_DEL;
	} else {
		op = e->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	}
	if (epoll_ctl(loop->epfd, op, fd, &ev) != 0)
		return PT_ESYS(errno);
	e->in_epoll = e->mask != 0;
	return PT_OK;
}

static int fd_grow(pt_loop_t *loop, int fd)
{
	if ((size_t)fd < loop->fds_cap)
		return PT_OK;
	size_t cap = loop->fds_cap ? loop->fds_cap : 64;
	while (cap <= (size_t)fd)
		cap *= 2;
	struct fd_entry *fds = realloc(loop->fds, cap * sizeof *fds);
	if (!fds)
		return PT_ERR_NOMEM;
	memset(fds + loop->fds_cap, 0, (cap - loop->fds_cap) * sizeof *fds);
	loop->fds = fds;
	loop->fds_cap = cap;
	return PT_OK;
}

int pt_loop_fd_add(pt_loop_t *loop, int fd, unsigned mask, pt_loop_fd_fn fn,
		   void *data)
{
	if (fd < 0 || !fn || (mask & ~(unsigned)(PT_LOOP_READ | PT_LOOP_WRITE)))
		return PT_ERR_INVALID;
	if (fd_lookup(loop, fd))
		return PT_ERR_EXISTS;
	int r = fd_grow(loop, fd);
	if (r != PT_OK)
		return r;
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return PT_ESYS(errno);

	struct fd_entry *e = &loop->fds[fd];
	*e = (struct fd_entry){.fn = fn, .data = data, .mask = mask,
			       .gen = loop->next_fd_gen};
	r = fd_sync(loop, fd, e);
	if (r != PT_OK) {
		memset(e, 0, sizeof *e);
		return r;
	}
	/* Generations only tell registrations of one fd number apart, so
	 * wrapping after four billion registrations is harmless; 0 and
	 * UINT32_MAX stay reserved. */
	if (++loop->next_fd_gen == UINT32_MAX)
		loop->next_fd_gen = 1;
	loop->fds_used++;
	return PT_OK;
}

int pt_loop_fd_mod(pt_loop_t *loop, int fd, unsigned mask)
{
	struct fd_entry *e = fd_lookup(loop, fd);
	if (!e)
		return PT_ERR_NOT_FOUND;
	if (mask & ~(unsigned)(PT_LOOP_READ | PT_LOOP_WRITE))
		return PT_ERR_INVALID;
	unsigned old = e->mask;
	e->mask = mask;
	int r = fd_sync(loop, fd, e);
	if (r != PT_OK)
		e->mask = old;
	return r;
}

int pt_loop_fd_del(pt_loop_t *loop, int fd)
{
	struct fd_entry *e = fd_lookup(loop, fd);
	if (!e)
		return PT_ERR_NOT_FOUND;
	/* A caller that closed the fd first already lost the epoll
	 * registration with it (EBADF); forgetting it is all that is left. */
	if (e->in_epoll)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(e, 0, sizeof *e);
	loop->fds_used--;
	return PT_OK;
}

static void fd_dispatch(pt_loop_t *loop, const struct epoll_event *ev)
{
	int fd = (int)(uint32_t)ev->data.u64;
	uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
	struct fd_entry *e = fd_lookup(loop, fd);
	/* Removed, or removed and registered anew, earlier in this round. */
	if (!e || e->gen != gen || !e->in_epoll)
		return;
	unsigned ready = 0;
	if (ev->events & EPOLLIN)
		ready |= PT_LOOP_READ;
	if (ev->events & EPOLLOUT)
		ready |= PT_LOOP_WRITE;
	if (ev->events & (EPOLLERR | EPOLLHUP))
		ready |= PT_LOOP_READ | PT_LOOP_WRITE;
	ready &= e->mask;
	if (ready)
		e->fn(loop, fd, ready, e->data);
}

/* ---- timers ---- */

static bool timer_before(const struct timer *a, const struct timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->order < b->order;
}

static void heap_set(pt_loop_t *loop, size_t pos, uint32_t slot)
{
	loop->heap[pos] = slot;
	loop->timers[slot].heap_pos = (int32_t)pos;
}

static void heap_up(pt_loop_t *loop, size_t pos)
{
	uint32_t slot = loop->heap[pos];
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		uint32_t p = loop->heap[parent];
		if (!timer_before(&loop->timers[slot], &loop->timers[p]))
			break;
		heap_set(loop, pos, p);
		pos = parent;
	}
	heap_set(loop, pos, slot);
}

static void heap_down(pt_loop_t *loop, size_t pos)
{
	uint32_t slot = loop->heap[pos];
	for (;;) {
		size_t child = 2 * pos + 1;
		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len &&
		    timer_before(&loop->timers[loop->heap[child + 1]],
				 &loop->timers[loop->heap[child]]))
			child++;
		if (!timer_before(&loop->timers[loop->heap[child]],
				  &loop->timers[slot]))
			break;
		heap_set(loop, pos, loop->heap[child]);
		pos = child;
	}
	heap_set(loop, pos, slot);
}

static void heap_push(pt_loop_t *loop, uint32_t slot)
{
	size_t pos = loop->heap_len++;
	heap_set(loop, pos, slot);
	heap_up(loop, pos);
}

static void heap_remove(pt_loop_t *loop, uint32_t slot)
{
	size_t pos = (size_t)loop->timers[slot].heap_pos;
	loop->timers[slot].heap_pos = -1;
	size_t last = --loop->heap_len;
	if (pos == last)
		return;
	uint32_t moved = loop->heap[last];
	heap_set(loop, pos, moved);
	heap_up(loop, pos);
	heap_down(loop, (size_t)loop->timers[moved].heap_pos);
}

static int timer_grow(pt_loop_t *loop)
{
	size_t cap = loop->timers_cap ? loop->timers_cap * 2 : 16;
	if (cap > UINT32_MAX - 1)
		return PT_ERR_TOO_LARGE;
	struct timer *timers = realloc(loop->timers, cap * sizeof *timers);
	if (!timers)
		return PT_ERR_NOMEM;
	loop->timers = timers;
	uint32_t *heap = realloc(loop->heap, cap * sizeof *heap);
	if (!heap)
		return PT_ERR_NOMEM;
	loop->heap = heap;
	uint64_t *due = realloc(loop->due, cap * sizeof *due);
	if (!due)
		return PT_ERR_NOMEM;
	loop->due = due;
	/* New slots join the free list in ascending order. */
	for (size_t i = cap; i-- > loop->timers_cap;) {
		timers[i] = (struct timer){.gen = 1, .heap_pos = -1,
					   .next_free = loop->free_head};
		loop->free_head = (uint32_t)i;
	}
	loop->timers_cap = cap;
	return PT_OK;
}

static uint64_t timer_id(const pt_loop_t *loop, uint32_t slot)
{
	return (uint64_t)loop->timers[slot].gen << 32 | slot;
}

static struct timer *timer_lookup(pt_loop_t *loop, uint64_t id)
{
	uint64_t slot = id & 0xffffffffu;
	if (slot >= loop->timers_cap)
		return NULL;
	struct timer *t = &loop->timers[slot];
	if (!t->live || t->gen != (uint32_t)(id >> 32))
		return NULL;
	return t;
}

static void timer_free(pt_loop_t *loop, uint32_t slot)
{
	struct timer *t = &loop->timers[slot];
	t->live = false;
	t->fn = NULL;
	t->data = NULL;
	if (++t->gen == 0)
		t->gen = 1;
	t->next_free = loop->free_head;
	loop->free_head = slot;
	loop->timers_live--;
}

int pt_loop_timer_add(pt_loop_t *loop, uint64_t after_ms, uint64_t every_ms,
		      pt_loop_timer_fn fn, void *data, uint64_t *id)
{
	if (!fn)
		return PT_ERR_INVALID;
	if (loop->free_head == UINT32_MAX) {
		int r = timer_grow(loop);
		if (r != PT_OK)
			return r;
	}
	uint32_t slot = loop->free_head;
	struct timer *t = &loop->timers[slot];
	loop->free_head = t->next_free;
	t->deadline = add_sat(now_ns(), ms_to_ns(after_ms));
	t->every = ms_to_ns(every_ms);
	t->order = loop->next_order++;
	t->fn = fn;
	t->data = data;
	t->live = true;
	loop->timers_live++;
	heap_push(loop, slot);
	if (id)
		*id = timer_id(loop, slot);
	return PT_OK;
}

int pt_loop_timer_del(pt_loop_t *loop, uint64_t id)
{
	struct timer *t = timer_lookup(loop, id);
	if (!t)
		return PT_ERR_NOT_FOUND;
	uint32_t slot = (uint32_t)(id & 0xffffffffu);
	if (t->heap_pos >= 0)
		heap_remove(loop, slot);
	timer_free(loop, slot);
	return PT_OK;
}

/* Milliseconds epoll_wait may sleep before the first timer is due; rounded
 * up so the loop does not wake just before a deadline and spin. */
static int timer_timeout(const pt_loop_t *loop)
{
	if (loop->heap_len == 0)
		return -1;
	uint64_t deadline = loop->timers[loop->heap[0]].deadline;
	uint64_t now = now_ns();
	if (deadline <= now)
		return 0;
	uint64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Fires the timers that are due.  They are taken off the heap first, so a
 * callback that arms a timer due at once does not run it in this round
 * (no endless round), and one that cancels a later due timer stops it. */
static void timer_dispatch(pt_loop_t *loop)
{
	uint64_t now = now_ns();
	size_t ndue = 0;
	while (loop->heap_len > 0 &&
	       loop->timers[loop->heap[0]].deadline <= now) {
		uint32_t slot = loop->heap[0];
		heap_remove(loop, slot);
		loop->due[ndue++] = timer_id(loop, slot);
	}
	for (size_t i = 0; i < ndue; i++) {
		uint64_t id = loop->due[i];
		struct timer *t = timer_lookup(loop, id);
		if (!t)
			continue;
		uint32_t slot = (uint32_t)(id & 0xffffffffu);
		if (loop->stop) {
			/* Keeps its deadline and order for the next run. */
			heap_push(loop, slot);
			continue;
		}
		t->fn(loop, id, t->data);
		/* The callback may have grown (moved) the slots or freed
		 * this one. */
		t = timer_lookup(loop, id);
		if (!t)
			continue;
		if (t->every == 0) {
			timer_free(loop, slot);
			continue;
		}
		uint64_t cur = now_ns();
		t->deadline = add_sat(t->deadline, t->every);
		if (t->deadline <= cur)
			t->deadline = add_sat(cur, t->every);
		t->order = loop->next_order++;
		heap_push(loop, slot);
	}
}

/* ---- signals ---- */

int pt_loop_signal_add(pt_loop_t *loop, int signo, pt_loop_signal_fn fn,
		       void *data)
{
	/* A plain loop has no signalfd: its thread's signals are someone
	 * else's. */
	if (loop->sigfd < 0)
		return PT_ERR_INVALID;
	/* 32 and 33 are glibc's own (thread cancellation, setxid). */
	if (signo <= 0 || signo >= NSIG || signo == SIGKILL ||
	    signo == SIGSTOP || (signo >= 32 && signo < SIGRTMIN))
		return PT_ERR_INVALID;
	if (!sigismember(&loop->sigmask, signo)) {
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, signo);
		int r = pthread_sigmask(SIG_BLOCK, &one, NULL);
		if (r != 0)
			return PT_ESYS(r);
		sigset_t mask = loop->sigmask;
		sigaddset(&mask, signo);
		if (signalfd(loop->sigfd, &mask, 0) < 0)
			return PT_ESYS(errno);
		loop->sigmask = mask;
	}
	loop->sigs[signo].fn = fn;
	loop->sigs[signo].data = data;
	return PT_OK;
}

static void signal_dispatch(pt_loop_t *loop)
{
	/* One at a time, so signals after a stop stay queued for the next
	 * run. */
	while (!loop->stop) {
		struct signalfd_siginfo si;
		ssize_t n = read(loop->sigfd, &si, sizeof si);
		if (n != (ssize_t)sizeof si)
			return;
		int signo = (int)si.ssi_signo;
		if (signo <= 0 || signo >= NSIG)
			continue;
		struct sig_entry *s = &loop->sigs[signo];
		if (s->fn)
			s->fn(loop, signo, s->data);
		else if (signo == SIGTERM || signo == SIGINT)
			loop->stop = true;
	}
}

/* ---- running ---- */

int pt_loop_run(pt_loop_t *loop)
{
	int r = PT_OK;
	if (loop->running)
		return PT_ERR_DENIED;
	loop->running = true;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS,
				   timer_timeout(loop));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = PT_ESYS(errno);
			break;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			if (loop->events[i].data.u64 == SIGNAL_TAG)
				signal_dispatch(loop);
			else
				fd_dispatch(loop, &loop->events[i]);
		}
		if (!loop->stop)
			timer_dispatch(loop);
	}
	loop->stop = false;
	loop->running = false;
	return r;
}
