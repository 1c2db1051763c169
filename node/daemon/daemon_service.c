#include "daemon/daemon_service.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/params.h"
#include "store/node_meta.h"
#include "store/records.h"

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

int pt_daemon_service_port(pt_store_t *store, pt_log_t *log, const char *svc,
			   const pt_daemon_port_t *spec, uint16_t *port,
			   Pt__Cluster **cluster)
{
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	Pt__Node *node = NULL;
	const uint8_t *name;
	size_t name_len;
	char node_name[128];

	if (cluster)
		*cluster = NULL;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r != PT_OK)
		return r;
	r = pt_cluster_get(txn, &cl);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		goto out;
	*port = spec->set ? spec->configured
			  : (uint16_t)pt_param_int(cl, spec->param);
	if (pt_txn_meta_get(txn, PT_META_NODE_NAME, &name, &name_len) ==
		    PT_OK &&
	    name_len < sizeof node_name) {
		memcpy(node_name, name, name_len);
		node_name[name_len] = '\0';
		uint32_t told = pt_node_get(txn, node_name, &node) == PT_OK
					? spec->advertised(node)
					: 0;
		if (told && told != *port)
			pt_log_warn(log,
				    "%s: listening on port %u, but node %s "
				    "tells phones port %u in their "
				    "configuration files",
				    svc, *port, node_name, told);
	}
	r = PT_OK;
	if (cluster) {
		*cluster = cl;
		cl = NULL;
	}
out:
	pt_record_free(node ? &node->base : NULL);
	pt_record_free(cl ? &cl->base : NULL);
	pt_txn_abort(&txn);
	return r;
}

void pt_daemon_service_bind_error(pt_log_t *log, const char *svc,
				  const char *where, uint16_t port, int r,
				  const char *key_name)
{
	if (r == PT_ESYS(EADDRINUSE))
		pt_log_error(log, "%s: TCP %s is in use by another process "
				  "(another phonetrustd?): stop it or set "
				  "another [%s] port; exiting",
			     svc, where, svc);
	else if (r == PT_ESYS(EACCES) && port < 1024)
		pt_log_error(log, "%s: binding TCP %s needs "
				  "CAP_NET_BIND_SERVICE or an unprivileged "
				  "port; exiting",
			     svc, where);
	else if (r == PT_ERR_CRYPTO)
		pt_log_error(log, "%s: the %s key and certificate do not make "
				  "a TLS server (does the key belong to the "
				  "certificate?); exiting",
			     svc, key_name);
	else
		pt_log_error(log, "%s: cannot listen on TCP %s: %s; exiting",
			     svc, where, pt_strerror(r));
}
