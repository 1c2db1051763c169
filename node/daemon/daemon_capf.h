/* phonetrustd's CAPF service on the publisher: the service
 * (capf/capf_service.h) started from the [capf] section with the node's
 * CAPF key and certificate and the cluster data key, its statistics
 * logged every PT_DAEMON_CAPF_STATS_MS when they moved, and a clean stop.
 *
 * It runs only when [services] capf and [capf] enabled are both yes (the
 * configuration allows that on a publisher only).  Its port is the
 * configured one, or else the cluster parameter capf_phone_port; a
 * warning says so when this node's record tells phones another port.
 * Unless [capf] idle_timeout is set, a session's idle deadline is the
 * cluster's keep-alive (capf_keepalive_minutes), read again every
 * PT_DAEMON_CAPF_REFRESH_MS so that `capf set keep-alive` takes effect
 * without a restart.  A CAPF certificate regenerated meanwhile is only
 * noticed (a warning: restart phonetrustd to serve it).  Its threads are
 * of their own: start it after the main loop blocked the signals.
 */
#ifndef PT_DAEMON_DAEMON_CAPF_H
#define PT_DAEMON_DAEMON_CAPF_H

#include <stddef.h>

#include "daemon/config.h"
#include "net/log.h"
#include "net/loop.h"
#include "store/store.h"

#define PT_DAEMON_CAPF_STATS_MS 60000u
#define PT_DAEMON_CAPF_REFRESH_MS 10000u

typedef struct pt_daemon_capf pt_daemon_capf_t;

/* Loads the CAPF key and certificate and the data key from cfg->data_dir,
 * binds the port, starts the service and arms its timers on loop; logs
 * what it does and, on failure, why.  *out is NULL (and the result PT_OK)
 * when the service is not enabled.  cfg, store, log and loop are borrowed
 * and must outlive *out.  Errors: PT_ERR_NOT_FOUND / PT_ERR_CORRUPT (no
 * usable CAPF identity or data key), PT_ESYS(errno) (EADDRINUSE, EACCES),
 * PT_ERR_CRYPTO, PT_ERR_NOMEM. */
int pt_daemon_capf_start(const pt_config_t *cfg, pt_store_t *store,
			 pt_log_t *log, pt_loop_t *loop,
			 pt_daemon_capf_t **out);

/* One line for the daemon's ready message, such as
 * "capf (tcp 127.0.0.1:3804, 2 workers)". */
void pt_daemon_capf_describe(const pt_daemon_capf_t *c, char *buf,
			     size_t len);

/* Stops the service (open sessions end without an answer), logs the final
 * counters, cancels the timers and frees.  Accepts NULL and nulls the
 * pointer; call before the loop and the store are destroyed. */
void pt_daemon_capf_stop(pt_daemon_capf_t **c);

#endif
