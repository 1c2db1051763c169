#include "daemon/daemon_service.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/errors.h"

void pt_daemon_service_where(char *buf, size_t len, const char *address,
			     unsigned port)
{
	bool v6 = strchr(address, ':') != NULL;
	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", address, v6 ? "]" : "",
		 port);
}

int pt_daemon_service_arm(pt_log_t *log, const char *svc, int started,
			  pt_loop_t *loop, uint64_t every_ms,
			  pt_loop_timer_fn fn, void *data, uint64_t *timer)
{
	if (started != PT_OK) {
		pt_log_error(log, "%s: cannot start the workers: %s; exiting",
			     svc, pt_strerror(started));
		return started;
	}
	int r = pt_loop_timer_add(loop, every_ms, every_ms, fn, data, timer);
	if (r != PT_OK)
		pt_log_error(log,
			     "%s: cannot arm the statistics timer: %s; "
			     "exiting",
			     svc, pt_strerror(r));
	return r;
}
