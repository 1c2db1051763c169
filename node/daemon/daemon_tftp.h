/* phonetrustd's TFTP service: the server engine (tftp/tftp_server.h)
 * started from the [tftp] section, answering from the node's file cache
 * (files/file_cache.h: CTL, ITL, configurations, and the static_dir files
 * with their signed forms), its statistics and the cache's logged every
 * PT_DAEMON_TFTP_STATS_MS when they moved, and a clean stop.
 *
 * The engine runs only when [services] tftp and [tftp] enabled are both
 * yes.  Its workers are threads of their own: start it after the main
 * loop blocked the signals (they block every signal themselves too).
 */
#ifndef PT_DAEMON_DAEMON_TFTP_H
#define PT_DAEMON_DAEMON_TFTP_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "net/log.h"
#include "net/loop.h"

#define PT_DAEMON_TFTP_STATS_MS 60000u

typedef struct pt_daemon_tftp pt_daemon_tftp_t;

/* Opens static_dir, binds the port, starts the workers and arms the
 * statistics timer on loop; logs what it does and, on failure, why.
 * *out is NULL (and the result PT_OK) when the engine is not enabled.
 * cfg, log and loop are borrowed and must outlive *out.  Errors:
 * PT_ESYS(errno) (EADDRINUSE, EACCES for a privileged port, a missing
 * static_dir), PT_ERR_NOMEM. */
struct pt_file_cache;
int pt_daemon_tftp_start(const pt_config_t *cfg, pt_log_t *log,
			 pt_loop_t *loop, struct pt_file_cache *cache,
			 pt_daemon_tftp_t **out);

/* One line for the daemon's start-up message, such as
 * "tftp (udp 127.0.0.1:6969, 2 workers, static files from /srv/tftp)". */
void pt_daemon_tftp_describe(const pt_daemon_tftp_t *t, char *buf,
			     size_t len);

/* Stops the workers (transfers in flight end), logs the final counters,
 * cancels the timer and frees.  Accepts NULL and nulls the pointer; call
 * before the loop is destroyed. */
void pt_daemon_tftp_stop(pt_daemon_tftp_t **t);

#endif
