/* What phonetrustd's network services (daemon_tftp.c, daemon_tvs.c) share
 * around their engines: the address their log lines name, and the step
 * from started workers to the statistics timer.
 */
#ifndef PT_DAEMON_DAEMON_SERVICE_H
#define PT_DAEMON_DAEMON_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "net/log.h"
#include "net/loop.h"

/* "address:port" into buf, with brackets around an IPv6 address
 * ("[::]:69"). */
void pt_daemon_service_where(char *buf, size_t len, const char *address,
			     unsigned port);

/* Once the workers of service svc ("tftp", "tvs") were started (started:
 * the result of starting them), arms its statistics timer on loop: every
 * every_ms, fn(loop, id, data); *timer names it.  Logs what failed as
 * "<svc>: cannot ...: <why>; exiting" and returns that error. */
int pt_daemon_service_arm(pt_log_t *log, const char *svc, int started,
			  pt_loop_t *loop, uint64_t every_ms,
			  pt_loop_timer_fn fn, void *data, uint64_t *timer);

#endif
