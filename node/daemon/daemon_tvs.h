/* phonetrustd's TVS service: the server (tvs/tvs_server.h) started from
 * the [tvs] section with the node's TVS key and certificate, its
 * statistics logged every PT_DAEMON_TVS_STATS_MS when they moved, and a
 * clean stop.
 *
 * The server runs only when [services] tvs and [tvs] enabled are both
 * yes.  Its port is the configured one, or else the cluster parameter
 * tvs_port; a warning says so when this node's record tells phones
 * another port.  Its workers are threads of their own: start it after the
 * main loop blocked the signals.
 */
#ifndef PT_DAEMON_DAEMON_TVS_H
#define PT_DAEMON_DAEMON_TVS_H

#include <stddef.h>

#include "daemon/config.h"
#include "net/log.h"
#include "net/loop.h"
#include "store/store.h"

#define PT_DAEMON_TVS_STATS_MS 60000u

typedef struct pt_daemon_tvs pt_daemon_tvs_t;

/* Loads the TVS key and certificate from cfg->data_dir, binds the port,
 * starts the workers and arms the statistics timer on loop; logs what it
 * does and, on failure, why.  *out is NULL (and the result PT_OK) when
 * the server is not enabled.  cfg, store, log and loop are borrowed and
 * must outlive *out.  Errors: PT_ERR_NOT_FOUND / PT_ERR_CORRUPT (no usable
 * identity), PT_ESYS(errno) (EADDRINUSE, EACCES), PT_ERR_CRYPTO,
 * PT_ERR_NOMEM. */
int pt_daemon_tvs_start(const pt_config_t *cfg, pt_store_t *store,
			pt_log_t *log, pt_loop_t *loop, pt_daemon_tvs_t **out);

/* One line for the daemon's start-up message, such as
 * "tvs (tcp 127.0.0.1:2445, 2 workers)". */
void pt_daemon_tvs_describe(const pt_daemon_tvs_t *t, char *buf, size_t len);

/* Stops the workers (open connections end without an answer), logs the
 * final counters, cancels the timer and frees.  Accepts NULL and nulls
 * the pointer; call before the loop and the store are destroyed. */
void pt_daemon_tvs_stop(pt_daemon_tvs_t **t);

#endif
