/* A log-line throttle: a peer that is refused retries every few hundred
 * milliseconds, and one line per interval with a count says as much as a
 * line per attempt. */
#ifndef PT_LIB_THROTTLE_H
#define PT_LIB_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pt_throttle {
	int64_t interval_ms; /* at most one line per interval */
	int64_t last_ms;     /* when the last line went out */
	unsigned pending;    /* events since then */
	bool started;
} pt_throttle_t;

/* Counts one event at now_ms.  True when a line may go out now; *count
 * then holds the events it covers (this one included). */
static inline bool pt_throttle_pass(pt_throttle_t *t, int64_t now_ms,
				    unsigned *count)
{
	t->pending++;
	if (t->started && now_ms - t->last_ms < t->interval_ms)
		return false;
	*count = t->pending;
	t->pending = 0;
	t->last_ms = now_ms;
	t->started = true;
	return true;
}

#endif
