/* phonetrustd's replication: the publisher or subscriber actor, set up
 * from the configuration and the node's keys. */
#ifndef PT_DAEMON_DAEMON_REPL_H
#define PT_DAEMON_DAEMON_REPL_H

#include <stddef.h>

#include "daemon/config.h"
#include "net/log.h"
#include "store/store.h"

typedef struct pt_daemon_repl pt_daemon_repl_t;

/* Starts replication for this node.  On success *out runs it and what
 * describes it for the ready line ("publishing on ..."); when replication
 * cannot run (not joined, keys missing, a port taken) it returns an error
 * and why says why in one sentence. */
int pt_daemon_repl_start(const pt_config_t *cfg, pt_store_t *store,
			 pt_log_t *log, pt_daemon_repl_t **out, char *what,
			 size_t what_len);

/* Stops it; accepts NULL. */
void pt_daemon_repl_stop(pt_daemon_repl_t **repl);

#endif
