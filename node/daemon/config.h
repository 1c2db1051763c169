/* The node daemon's configuration: an INI file read with inih into a
 * plain struct.
 *
 *   [node]      name, role (publisher|subscriber), data_dir,
 *               log_level (error|warn|info|debug), syslog (yes|no), pid_file
 *   [ports]     tftp, tvs, capf, replication_stream, replication_sync,
 *               bind_address
 *   [publisher] address (host of the publisher; required for a subscriber,
 *               ignored for a publisher)
 *   [services]  tftp, tvs, capf (yes|no)
 *   [tftp]      enabled (yes|no), port, bind_address, workers, blksize_max,
 *               windowsize_max, timeout, retries, max_transfers,
 *               per_client_max, per_client_rate, static_dir
 *   [tvs]       enabled (yes|no), port, bind_address, workers,
 *               max_connections, timeout (seconds)
 *   [capf]      enabled (yes|no), port, bind_address, workers, signers,
 *               max_connections, handshake_timeout, idle_timeout,
 *               session_timeout (seconds)
 *
 * node.name, node.role and node.data_dir are required; everything else has
 * a default (see pt_config_parse_file).  Section and key names are
 * case-sensitive.  Relative paths (data_dir, pid_file) are taken relative
 * to the daemon's current directory, like most daemons do, not to the
 * configuration file; use absolute paths under systemd.
 *
 * A bad file is refused as a whole, with one message naming the file, the
 * line, the section and key, and why: unknown section or key, bad value,
 * port out of range, duplicate key, a missing required key, a subscriber
 * without a publisher address, CAPF enabled on a subscriber, two services
 * on one TCP port, [tftp] enabled with [services] tftp = no, [tftp] port
 * and [ports] tftp set to different ports (the same for [tvs] and
 * [capf]), [capf] enabled on a subscriber, a syntax error, a line too
 * long.
 */
#ifndef PT_DAEMON_CONFIG_H
#define PT_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/log.h"
#include "records.pb-c.h"

#define PT_CONFIG_DEFAULT_TFTP_PORT 6969
#define PT_CONFIG_DEFAULT_TVS_PORT 2445
#define PT_CONFIG_DEFAULT_CAPF_PORT 3804
#define PT_CONFIG_DEFAULT_REPL_STREAM_PORT 5556
#define PT_CONFIG_DEFAULT_REPL_SYNC_PORT 5557
#define PT_CONFIG_DEFAULT_BIND_ADDRESS "127.0.0.1"
#define PT_CONFIG_DEFAULT_HEARTBEAT_MS 60000u
#define PT_CONFIG_DEFAULT_KEEP_SEQUENCES 100000u
#define PT_CONFIG_DEFAULT_KEEP_DAYS 7u
#define PT_CONFIG_DEFAULT_MAX_SEQUENCES 1000000u
#define PT_CONFIG_DEFAULT_TFTP_BLKSIZE_MAX 1468u /* Ethernet MTU 1500 */
#define PT_CONFIG_DEFAULT_TFTP_WINDOWSIZE_MAX 8u
#define PT_CONFIG_DEFAULT_TFTP_TIMEOUT 1u
#define PT_CONFIG_DEFAULT_TFTP_RETRIES 5u
#define PT_CONFIG_DEFAULT_TFTP_MAX_TRANSFERS 10000u
#define PT_CONFIG_DEFAULT_TFTP_PER_CLIENT_MAX 32u
#define PT_CONFIG_DEFAULT_TFTP_PER_CLIENT_RATE 50u
#define PT_CONFIG_DEFAULT_TVS_MAX_CONNECTIONS 10000u
#define PT_CONFIG_DEFAULT_TVS_TIMEOUT 10u
#define PT_CONFIG_DEFAULT_CAPF_MAX_CONNECTIONS 10000u
#define PT_CONFIG_DEFAULT_CAPF_HANDSHAKE_TIMEOUT 10u
#define PT_CONFIG_DEFAULT_CAPF_SESSION_TIMEOUT 3600u

typedef struct pt_config {
	char *path; /* the file it was read from */

	/* [node] */
	char *name;
	Pt__NodeRole role;         /* publisher or subscriber */
	char *data_dir;
	pt_log_level_t log_level;  /* default info */
	bool syslog;               /* default no */
	char *pid_file;            /* NULL: none (the default) */

	/* [ports] */
	uint16_t tftp_port;        /* UDP */
	uint16_t tvs_port;         /* TCP, TLS */
	uint16_t capf_port;        /* TCP, TLS */
	uint16_t repl_stream_port; /* TCP, ZeroMQ PUB on the publisher */
	uint16_t repl_sync_port;   /* TCP, ZeroMQ ROUTER on the publisher */
	char *bind_address;        /* IPv4 or IPv6 literal */

	/* [publisher] */
	char *publisher_address;   /* NULL on a publisher */

	/* [services]: publisher tftp, tvs, capf on (the one-machine
	 * default); subscriber tftp, tvs on and capf off (not allowed) */
	bool tftp;
	bool tvs;
	bool capf;

	/* [replication], publisher only: the changelog keeps at least the
	 * newest keep_sequences entries and every entry younger than
	 * keep_days (0 disables a rule); older entries go unless a live
	 * subscriber still needs them, and max_sequences caps what such a
	 * subscriber can hold back (it then catches up by snapshot). */
	uint64_t repl_keep_sequences;
	uint64_t repl_keep_days;
	uint64_t repl_max_sequences;

	/* [tftp]: the TFTP server engine.  It runs when both [services] tftp
	 * and [tftp] enabled say yes; enabled defaults to no.  The port is
	 * tftp_port above ([tftp] port and [ports] tftp set the same
	 * value). */
	bool tftp_enabled;
	char *tftp_bind_address;       /* default: [ports] bind_address */
	uint32_t tftp_workers;         /* 0 (default): one per CPU; <= 256 */
	uint32_t tftp_blksize_max;     /* 8-65464 */
	uint32_t tftp_windowsize_max;  /* 1-65535 */
	uint32_t tftp_timeout;         /* seconds, 1-255 */
	uint32_t tftp_retries;         /* 0-100 */
	uint32_t tftp_max_transfers;   /* 1-1000000 */
	uint32_t tftp_per_client_max;  /* 0: no cap */
	uint32_t tftp_per_client_rate; /* requests/s; 0: no limit */
	char *tftp_static_dir;         /* plain files served; NULL: none */

	/* [tvs]: the TVS server.  It runs when both [services] tvs and [tvs]
	 * enabled say yes; enabled defaults to no.  The port is tvs_port
	 * above ([tvs] port and [ports] tvs set the same value); when
	 * neither is in the file (tvs_port_set false) the daemon takes the
	 * cluster parameter tvs_port. */
	bool tvs_enabled;
	bool tvs_port_set;
	char *tvs_bind_address;        /* default: [ports] bind_address */
	uint32_t tvs_workers;          /* 0 (default): one per CPU; <= 256 */
	uint32_t tvs_max_connections;  /* 1-1000000 */
	uint32_t tvs_timeout;          /* seconds per connection, 1-300 */

	/* [capf]: the CAPF server (publisher only).  It runs when both
	 * [services] capf and [capf] enabled say yes; enabled defaults to
	 * no.  The port is capf_port above ([capf] port and [ports] capf
	 * set the same value); when neither is in the file (capf_port_set
	 * false) the daemon takes the cluster parameter capf_phone_port.
	 * idle_timeout 0 (the default) follows the cluster parameter
	 * capf_keepalive_minutes. */
	bool capf_enabled;
	bool capf_port_set;
	char *capf_bind_address;          /* default: [ports] bind_address */
	uint32_t capf_workers;            /* 0 (default): one per CPU; <= 256 */
	uint32_t capf_signers;            /* crypto threads; 0: one per CPU */
	uint32_t capf_max_connections;    /* 1-1000000 */
	uint32_t capf_handshake_timeout;  /* seconds, 1-300 */
	uint32_t capf_idle_timeout;       /* seconds, 0 or 1-86400 */
	uint32_t capf_session_timeout;    /* seconds, 1-86400 */

	/* Not in the file: interval of the daemon's debug heartbeat. */
	unsigned heartbeat_ms;
} pt_config_t;

/* Reads the INI file at path into *out.  On success *out owns its strings
 * (free them with pt_config_clear()).  On failure *out is left empty (safe
 * to clear), why (capacity why_len, may be NULL) receives one line such as
 *     phonetrust.ini:7: [ports] tvs: port 70000 is out of range (1-65535)
 * and the result is PT_ERR_CONFIG for a bad file, PT_ESYS(errno) when the
 * file cannot be read, or PT_ERR_NOMEM. */
int pt_config_parse_file(const char *path, pt_config_t *out, char *why,
			 size_t why_len);

/* Frees the strings of cfg and zeroes it; accepts an already clear one. */
void pt_config_clear(pt_config_t *cfg);

#endif
