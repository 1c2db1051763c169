/* phonetrustd's trust files: keeps the node's ITL (files/itl_source.h) up
 * to date with the store and, when the TFTP service runs, the file cache
 * the TFTP server answers from (files/file_cache.h).
 *
 * It refreshes the ITL at start and then whenever the store's last
 * sequence has moved, checked on a PT_DAEMON_FILES_POLL_MS timer on the
 * event loop: a committed change, a replicated transaction or a snapshot
 * all move it, and a refresh with unchanged inputs costs a read, not a
 * signature.  A rebuild is logged in one line; a failure is logged once
 * until its reason changes, and the next movement retries.
 *
 * The file cache is refreshed by a thread of its own (at start, then
 * after every movement), so thousands of configurations are signed ahead
 * of the phones without holding up the event loop.
 */
#ifndef PT_DAEMON_DAEMON_FILES_H
#define PT_DAEMON_DAEMON_FILES_H

#include "daemon/config.h"
#include "net/log.h"
#include "net/loop.h"
#include "store/store.h"

#define PT_DAEMON_FILES_POLL_MS 200u

typedef struct pt_daemon_files pt_daemon_files_t;

/* Refreshes once and arms the timer on loop.  cfg, store, log and loop
 * are borrowed and must outlive *out.  With the TFTP service disabled
 * nothing is armed and *out is still made (a node that serves no files
 * keeps no ITL).  Errors: PT_ERR_NOMEM or the loop's. */
int pt_daemon_files_start(const pt_config_t *cfg, pt_store_t *store,
			  pt_log_t *log, pt_loop_t *loop,
			  pt_daemon_files_t **out);

/* The cache the TFTP server answers from, or NULL when the TFTP service
 * is not enabled.  Borrowed from files. */
struct pt_file_cache *pt_daemon_files_cache(const pt_daemon_files_t *files);

/* Cancels the timer, stops the refresh thread and frees; accepts NULL and
 * nulls the pointer.  Call before the loop is destroyed and after the
 * TFTP server stopped using the cache. */
void pt_daemon_files_stop(pt_daemon_files_t **files);

#endif
