/* What phonetrustd's network services (daemon_tftp.c, daemon_tvs.c,
 * daemon_capf.c) share around their engines: the address their log lines
 * name, the port a TCP service takes from the file or the cluster, what a
 * failed bind is logged as, and the step from started workers to the
 * statistics timer.
 */
#ifndef PT_DAEMON_DAEMON_SERVICE_H
#define PT_DAEMON_DAEMON_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/log.h"
#include "net/loop.h"
#include "records.pb-c.h"
#include "store/store.h"

/* "address:port" into buf, with brackets around an IPv6 address
 * ("[::]:69"). */
void pt_daemon_service_where(char *buf, size_t len, const char *address,
			     unsigned port);

/* Where a TCP service's port comes from. */
typedef struct pt_daemon_port {
	bool set;            /* the [section] port was given */
	uint16_t configured; /* ... and is this */
	const char *param;   /* else this cluster parameter (params.h) */
	/* The port this node's record tells phones for the service (0 when
	 * the record names none). */
	uint32_t (*advertised)(const Pt__Node *node);
} pt_daemon_port_t;

/* Reads the port of service svc ("tvs", "capf") as spec says into *port,
 * in one read transaction on store, and warns on log when this node's
 * record, which phones' configuration files are built from, tells phones
 * another one.  cluster (may be NULL) receives the cluster record for the
 * caller (pt_record_free; NULL when the store has none).  Store errors
 * are returned, nothing logged. */
int pt_daemon_service_port(pt_store_t *store, pt_log_t *log, const char *svc,
			   const pt_daemon_port_t *spec, uint16_t *port,
			   Pt__Cluster **cluster);

/* Logs why TCP service svc could not listen on where (port: its number;
 * r: what creating the listener returned; key_name: "TVS", "CAPF", the
 * key that failed to make a TLS server on PT_ERR_CRYPTO) with what to do
 * about it, as "<svc>: ...; exiting". */
void pt_daemon_service_bind_error(pt_log_t *log, const char *svc,
				  const char *where, uint16_t port, int r,
				  const char *key_name);

/* Once the workers of service svc ("tftp", "tvs") were started (started:
 * the result of starting them), arms its statistics timer on loop: every
 * every_ms, fn(loop, id, data); *timer names it.  Logs what failed as
 * "<svc>: cannot ...: <why>; exiting" and returns that error. */
int pt_daemon_service_arm(pt_log_t *log, const char *svc, int started,
			  pt_loop_t *loop, uint64_t every_ms,
			  pt_loop_timer_fn fn, void *data, uint64_t *timer);

#endif
