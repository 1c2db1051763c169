/* The event loop: one epoll instance driving fd callbacks, timers and
 * signals, for one thread.
 *
 * A pt_loop_t is an object (no global state); a daemon makes one, the
 * services register their fds and timers on it, and pt_loop_run() dispatches
 * until pt_loop_stop() is called.  All calls must come from the thread that
 * runs the loop.  Other threads (the ZeroMQ replication actor) talk to the
 * loop through a pipe whose read end is registered with pt_loop_fd_add().
 *
 * Callbacks may add, change and remove fds, timers and signal handlers
 * (their own included) and may call pt_loop_stop(); an event for an fd
 * removed earlier in the same round is not delivered, even if the number
 * was reused by a new registration meanwhile.
 *
 * Signals: pt_loop_new() blocks SIGTERM, SIGINT and SIGHUP in the calling
 * thread and receives them through a signalfd.  Threads created afterwards
 * inherit the mask, so create the loop before starting threads.  By default
 * SIGTERM and SIGINT stop the loop and SIGHUP is ignored;
 * pt_loop_signal_add() replaces that with a callback.  The signals stay
 * blocked after pt_loop_destroy(), so one arriving during shutdown stays
 * pending instead of killing the process half-way.
 */
#ifndef PT_NET_LOOP_H
#define PT_NET_LOOP_H

#include <stdint.h>

typedef struct pt_loop pt_loop_t;

/* Interest and readiness bits for fds.  An error or hang-up on the fd is
 * reported as whichever of these it is registered for, so the callback's
 * next read() or write() meets the error itself. */
enum {
	PT_LOOP_READ = 1u << 0,
	PT_LOOP_WRITE = 1u << 1,
};

/* events holds the PT_LOOP_* bits that are ready (never 0). */
typedef void (*pt_loop_fd_fn)(pt_loop_t *loop, int fd, unsigned events,
			      void *data);
/* id is the timer's id, as pt_loop_timer_add() returned it. */
typedef void (*pt_loop_timer_fn)(pt_loop_t *loop, uint64_t id, void *data);
typedef void (*pt_loop_signal_fn)(pt_loop_t *loop, int signo, void *data);

/* Creates a loop (epoll and signalfd, both close-on-exec) and blocks
 * SIGTERM, SIGINT and SIGHUP in the calling thread.  On success *out owns
 * the loop. */
int pt_loop_new(pt_loop_t **out);

/* Creates a loop without signal handling (epoll only): it leaves the
 * calling thread's signal mask alone, and pt_loop_signal_add() on it is
 * refused (PT_ERR_INVALID).  For worker threads, whose signals belong to
 * the daemon's main loop.  On success *out owns the loop. */
int pt_loop_new_plain(pt_loop_t **out);

/* Frees the loop; the fds registered on it stay open and remain their
 * owners' to close.  Accepts NULL and nulls the pointer. */
void pt_loop_destroy(pt_loop_t **loop);

/* Dispatches events until pt_loop_stop() is called, then returns PT_OK
 * (at once if it was called before).  Returns a negative pt_err_t if
 * epoll itself fails.  May be called again after it returned. */
int pt_loop_run(pt_loop_t *loop);

/* Makes pt_loop_run() return once the running callback returns; no further
 * callbacks of the current round are called. */
void pt_loop_stop(pt_loop_t *loop);

/* Watches fd for the PT_LOOP_* bits in mask (0 registers the fd without
 * watching it) and puts fd in non-blocking mode.  PT_ERR_EXISTS if fd is
 * registered already.  data is passed to fn unchanged. */
int pt_loop_fd_add(pt_loop_t *loop, int fd, unsigned mask, pt_loop_fd_fn fn,
		   void *data);

/* Replaces the interest mask of a registered fd (0 pauses it: no callback,
 * not even for hang-ups, until it is given a mask again).
 * PT_ERR_NOT_FOUND if fd is not registered. */
int pt_loop_fd_mod(pt_loop_t *loop, int fd, unsigned mask);

/* Forgets fd (call it before closing the fd).  PT_ERR_NOT_FOUND if fd is
 * not registered. */
int pt_loop_fd_del(pt_loop_t *loop, int fd);

/* Starts a timer that fires after after_ms milliseconds and then, if
 * every_ms is not 0, every every_ms milliseconds until it is removed.
 * Timers due at the same time fire in the order they were armed.  A
 * repeating timer that fell behind (a slow callback) skips the missed
 * ticks rather than firing in a burst.  *id (never 0) names the timer. */
int pt_loop_timer_add(pt_loop_t *loop, uint64_t after_ms, uint64_t every_ms,
		      pt_loop_timer_fn fn, void *data, uint64_t *id);

/* Cancels a timer; a timer may cancel itself from its callback.
 * PT_ERR_NOT_FOUND if the id is unknown or a one-shot timer has fired
 * already (its callback returned). */
int pt_loop_timer_del(pt_loop_t *loop, uint64_t id);

/* Calls fn whenever signo arrives instead of the default action (replacing
 * any previous callback for it); fn NULL restores the default.  A signal
 * other than SIGTERM, SIGINT and SIGHUP is blocked in the calling thread
 * and watched from now on; its default is to be ignored.
 * PT_ERR_INVALID for SIGKILL, SIGSTOP or a number that is no signal. */
int pt_loop_signal_add(pt_loop_t *loop, int signo, pt_loop_signal_fn fn,
		       void *data);

/* Number of fds registered and of timers armed (for tests and status). */
unsigned pt_loop_fd_count(const pt_loop_t *loop);
unsigned pt_loop_timer_count(const pt_loop_t *loop);

#endif
