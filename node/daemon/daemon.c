#include "daemon/daemon.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/daemon_capf.h"
#include "daemon/daemon_files.h"
#include "daemon/daemon_repl.h"
#include "daemon/daemon_tftp.h"
#include "daemon/daemon_tvs.h"
#include "daemon/pidfile.h"
#include "lib/errors.h"
#include "lib/names.h"
#include "net/log.h"
#include "net/loop.h"
#include "store/store.h"

struct daemon {
	pt_config_t cfg;
	pt_log_t *log;
	pt_loop_t *loop;
	pt_store_t *store;
	pt_pidfile_t *pidfile;
	pt_daemon_repl_t *repl;
	pt_daemon_files_t *files;
	pt_daemon_tftp_t *tftp;
	pt_daemon_tvs_t *tvs;
	pt_daemon_capf_t *capf;
	char repl_what[768];
	uint64_t heartbeat;
	int stop_signal;
};

struct options {
	const char *config;
	bool check;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: phonetrustd --config FILE [--check] [--foreground]\n"
		"\n"
		"  -c, --config FILE  the node's configuration (INI)\n"
		"      --check        validate the configuration and that the\n"
		"                     store opens, then exit (0 ok, 1 not)\n"
		"  -f, --foreground   accepted for compatibility: phonetrustd\n"
		"                     always runs in the foreground\n"
		"  -h, --help         show this help\n");
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct options *opts)
{
	enum { OPT_CHECK = 256 };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, OPT_CHECK},
		{"foreground", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opts->config = optarg;
			break;
		case OPT_CHECK:
			opts->check = true;
			break;
		case 'f':
			break;
		case 'h':
			usage(stdout);
			return PT_DAEMON_EXIT_OK;
		case ':':
			fprintf(stderr, "phonetrustd: %s needs an argument\n",
				argv[optind - 1]);
			usage(stderr);
			return PT_DAEMON_EXIT_USAGE;
		default:
			fprintf(stderr, "phonetrustd: unknown option %s\n",
				argv[optind - 1]);
			usage(stderr);
			return PT_DAEMON_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "phonetrustd: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return PT_DAEMON_EXIT_USAGE;
	}
	if (!opts->config) {
		fprintf(stderr, "phonetrustd: --config FILE is required\n");
		usage(stderr);
		return PT_DAEMON_EXIT_USAGE;
	}
	return -1;
}

/* Explains a failed pt_store_open() in one line with what to do next. */
static void store_error(char *buf, size_t len, const char *dir, int r)
{
	switch (r) {
	case PT_ERR_NOT_FOUND:
		snprintf(buf, len,
			 "no store in %s: run 'phonetrust init --data %s' first",
			 dir, dir);
		break;
	case PT_ERR_SCHEMA_NEWER:
		snprintf(buf, len,
			 "the store in %s was written by a newer phonetrust "
			 "(this phonetrustd reads schema %u and older): "
			 "install a newer phonetrustd",
			 dir, PT_SCHEMA_VERSION);
		break;
	default:
		snprintf(buf, len, "cannot open the store in %s: %s", dir,
			 pt_strerror(r));
		break;
	}
}

static int run_check(const pt_config_t *cfg)
{
	pt_store_t *store = NULL;
	char msg[1024];
	uint64_t last = 0;

	printf("%s: configuration ok (node %s, %s)\n", cfg->path, cfg->name,
	       pt_role_name(cfg->role));
	/* Read-only, so that checking never upgrades or creates anything. */
	int r = pt_store_open(cfg->data_dir, PT_STORE_READONLY, 0, &store);
	if (r == PT_OK && pt_store_schema_version(store) < PT_SCHEMA_VERSION) {
		printf("%s: store opens; its schema %u is older and will be "
		       "upgraded to %u (after a backup) when phonetrustd "
		       "starts\n",
		       cfg->data_dir, pt_store_schema_version(store),
		       PT_SCHEMA_VERSION);
		pt_store_destroy(&store);
		return PT_DAEMON_EXIT_OK;
	}
	if (r == PT_OK)
		r = pt_store_last_sequence(store, &last);
	if (r != PT_OK) {
		store_error(msg, sizeof msg, cfg->data_dir, r);
		fprintf(stderr, "phonetrustd: %s\n", msg);
		pt_store_destroy(&store);
		return PT_DAEMON_EXIT_FAILURE;
	}
	printf("%s: store ok (schema %u, last sequence %" PRIu64 ")\n",
	       cfg->data_dir, pt_store_schema_version(store), last);
	pt_store_destroy(&store);
	return PT_DAEMON_EXIT_OK;
}

/* ---- the running daemon ---- */

static void on_stop_signal(pt_loop_t *loop, int signo, void *data)
{
	struct daemon *d = data;
	d->stop_signal = signo;
	pt_log_info(d->log, "received %s: stopping",
		    signo == SIGINT ? "SIGINT" : "SIGTERM");
	pt_loop_stop(loop);
}

static void on_hangup(pt_loop_t *loop, int signo, void *data)
{
	struct daemon *d = data;
	(void)loop;
	(void)signo;
	pt_log_info(d->log, "received SIGHUP: reloading the configuration is "
			    "not supported yet; restart phonetrustd to apply "
			    "changes to %s",
		    d->cfg.path);
}

static void on_heartbeat(pt_loop_t *loop, uint64_t id, void *data)
{
	struct daemon *d = data;
	uint64_t last = 0;
	(void)id;
	if (!pt_log_enabled(d->log, PT_LOG_DEBUG))
		return;
	int r = pt_store_last_sequence(d->store, &last);
	if (r != PT_OK) {
		pt_log_warn(d->log, "heartbeat: cannot read the changelog in "
				    "%s: %s; will try again",
			    d->cfg.data_dir, pt_strerror(r));
		return;
	}
	pt_log_debug(d->log, "heartbeat: last sequence %" PRIu64
			     ", %u fds, %u timers",
		     last, pt_loop_fd_count(loop), pt_loop_timer_count(loop));
}

/* Appends text to the comma-separated list in buf (cut if full). */
static void list_add(char *buf, size_t len, const char *text)
{
	size_t n = strlen(buf);
	if (n < len)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", text);
}

/* Says which configured services run and which this build does not have
 * yet.  CAPF, TFTP and TVS arrive with later issues; until then the node
 * says so rather than pretend to listen. */
static void log_ready(struct daemon *d, uint64_t last)
{
	const pt_config_t *cfg = &d->cfg;
	bool v6 = strchr(cfg->bind_address, ':') != NULL;
	const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
	char running[1024] = "", missing[512] = "", disabled[64] = "";
	char item[160];
	struct {
		const char *name;
		const char *proto;
		unsigned port;
		bool enabled;
	} svc[] = {
		{"capf", "tcp", cfg->capf_port, cfg->capf},
		{"tftp", "udp", cfg->tftp_port, cfg->tftp},
		{"tvs", "tcp", cfg->tvs_port, cfg->tvs},
	};

	for (size_t i = 0; i < sizeof svc / sizeof svc[0]; i++) {
		if (!svc[i].enabled) {
			list_add(disabled, sizeof disabled, svc[i].name);
			continue;
		}
		if (strcmp(svc[i].name, "tftp") == 0 && d->tftp) {
			char what[512]; /* names static_dir, a path */
			pt_daemon_tftp_describe(d->tftp, what, sizeof what);
			list_add(running, sizeof running, what);
			continue;
		}
		if (strcmp(svc[i].name, "tvs") == 0 && d->tvs) {
			pt_daemon_tvs_describe(d->tvs, item, sizeof item);
			list_add(running, sizeof running, item);
			continue;
		}
		if (strcmp(svc[i].name, "capf") == 0 && d->capf) {
			pt_daemon_capf_describe(d->capf, item, sizeof item);
			list_add(running, sizeof running, item);
			continue;
		}
		snprintf(item, sizeof item, "%s (%s %s%s%s:%u)", svc[i].name,
			 svc[i].proto, lb, cfg->bind_address, rb, svc[i].port);
		list_add(missing, sizeof missing, item);
	}
	if (d->repl)
		list_add(running, sizeof running, d->repl_what);
	else
		pt_log_warn(d->log, "replication is not running: %s",
			    d->repl_what);
	pt_log_info(d->log,
		    "ready: node %s, role %s, store %s (schema %u, last "
		    "sequence %" PRIu64 "); running: %s; not in this build "
		    "yet: %s; disabled: %s",
		    cfg->name, pt_role_name(cfg->role), cfg->data_dir,
		    pt_store_schema_version(d->store), last,
		    running[0] ? running : "none",
		    missing[0] ? missing : "none",
		    disabled[0] ? disabled : "none");
}

/* Sets up everything the loop needs; logs why on failure. */
static int start(struct daemon *d)
{
	char msg[1024];
	uint64_t last = 0;
	int r;

	r = pt_loop_new(&d->loop);
	if (r != PT_OK) {
		pt_log_error(d->log, "cannot create the event loop: %s; "
				     "exiting",
			     pt_strerror(r));
		return r;
	}
	pt_store_upgrade_report_t upgrade;
	r = pt_store_open_report(d->cfg.data_dir, 0, 0, &upgrade, &d->store);
	if (r != PT_OK && r != PT_ERR_SCHEMA_NEWER && upgrade.found &&
	    upgrade.found < PT_SCHEMA_VERSION) {
		pt_log_error(d->log,
			     "upgrading the store in %s from schema %u to %u "
			     "failed: %s; the store is as it was%s%s; exiting",
			     d->cfg.data_dir, upgrade.found, PT_SCHEMA_VERSION,
			     pt_strerror(r),
			     upgrade.backup[0] ? ", a backup is in " : "",
			     upgrade.backup);
		return r;
	}
	if (r == PT_OK && upgrade.upgraded_to)
		pt_log_info(d->log,
			    "upgraded the store in %s from schema %u to %u "
			    "(%zu record(s) rewritten); backup of the old store "
			    "in %s",
			    d->cfg.data_dir, upgrade.found, upgrade.upgraded_to,
			    upgrade.rewritten, upgrade.backup);
	if (r == PT_OK)
		r = pt_store_last_sequence(d->store, &last);
	if (r != PT_OK) {
		store_error(msg, sizeof msg, d->cfg.data_dir, r);
		pt_log_error(d->log, "%s", msg);
		return r;
	}
	if (d->cfg.pid_file) {
		pid_t holder = 0;
		r = pt_pidfile_new(d->cfg.pid_file, &d->pidfile, &holder);
		if (r == PT_ERR_EXISTS) {
			pt_log_error(d->log, "pid file %s is held by a running "
					     "phonetrustd (pid %ld): stop it "
					     "first or configure another "
					     "pid_file; exiting",
				     d->cfg.pid_file, (long)holder);
			return r;
		}
		if (r != PT_OK) {
			pt_log_error(d->log, "cannot write pid file %s: %s; "
					     "exiting",
				     d->cfg.pid_file, pt_strerror(r));
			return r;
		}
	}
	r = pt_loop_signal_add(d->loop, SIGTERM, on_stop_signal, d);
	if (r == PT_OK)
		r = pt_loop_signal_add(d->loop, SIGINT, on_stop_signal, d);
	if (r == PT_OK)
		r = pt_loop_signal_add(d->loop, SIGHUP, on_hangup, d);
	if (r == PT_OK)
		r = pt_loop_timer_add(d->loop, d->cfg.heartbeat_ms,
				      d->cfg.heartbeat_ms, on_heartbeat, d,
				      &d->heartbeat);
	if (r != PT_OK) {
		pt_log_error(d->log, "cannot set up the event loop: %s; "
				     "exiting",
			     pt_strerror(r));
		return r;
	}
	/* After the loop exists: it blocked the signals, and the actor
	 * threads inherit that mask, so signals reach only the loop. */
	if (pt_daemon_repl_start(&d->cfg, d->store, d->log, &d->repl,
				 d->repl_what, sizeof d->repl_what) != PT_OK)
		d->repl = NULL;
	r = pt_daemon_files_start(&d->cfg, d->store, d->log, d->loop,
				  &d->files);
	if (r != PT_OK) {
		pt_log_error(d->log, "cannot set up the trust files: %s; "
				     "exiting",
			     pt_strerror(r));
		return r;
	}
	r = pt_daemon_tftp_start(&d->cfg, d->log, d->loop,
				 pt_daemon_files_cache(d->files), &d->tftp);
	if (r != PT_OK)
		return r; /* logged */
	r = pt_daemon_tvs_start(&d->cfg, d->store, d->log, d->loop, &d->tvs);
	if (r != PT_OK)
		return r; /* logged */
	r = pt_daemon_capf_start(&d->cfg, d->store, d->log, d->loop,
				 &d->capf);
	if (r != PT_OK)
		return r; /* logged */
	log_ready(d, last);
	return PT_OK;
}

static void stop(struct daemon *d)
{
	pt_daemon_capf_stop(&d->capf);
	pt_daemon_tvs_stop(&d->tvs);
	pt_daemon_tftp_stop(&d->tftp);
	pt_daemon_repl_stop(&d->repl);
	pt_daemon_files_stop(&d->files);
	pt_loop_destroy(&d->loop);
	pt_pidfile_destroy(&d->pidfile);
	pt_store_destroy(&d->store);
}

int pt_daemon_main(int argc, char **argv)
{
	struct options opts = {0};
	struct daemon d = {0};
	char why[1024];
	int status;

	status = parse_args(argc, argv, &opts);
	if (status >= 0)
		return status;
	int r = pt_config_parse_file(opts.config, &d.cfg, why, sizeof why);
	if (r != PT_OK) {
		fprintf(stderr, "phonetrustd: %s\n", why);
		return opts.check ? PT_DAEMON_EXIT_FAILURE
				  : PT_DAEMON_EXIT_USAGE;
	}
	if (opts.check) {
		status = run_check(&d.cfg);
		pt_config_clear(&d.cfg);
		return status;
	}

	/* Peers that vanish must cost a failed write, not the process. */
	signal(SIGPIPE, SIG_IGN);
	pt_log_opts_t lo = {
		.level = d.cfg.log_level,
		.fd = STDERR_FILENO,
		.syslog = d.cfg.syslog,
		.ident = d.cfg.name,
	};
	r = pt_log_new(&lo, &d.log);
	if (r != PT_OK) {
		fprintf(stderr, "phonetrustd: cannot set up logging: %s\n",
			pt_strerror(r));
		pt_config_clear(&d.cfg);
		return PT_DAEMON_EXIT_FAILURE;
	}

	status = PT_DAEMON_EXIT_FAILURE;
	if (start(&d) == PT_OK) {
		r = pt_loop_run(d.loop);
		if (r == PT_OK) {
			status = PT_DAEMON_EXIT_OK;
		} else {
			pt_log_error(d.log, "event loop failed: %s; stopping",
				     pt_strerror(r));
		}
		stop(&d);
		pt_log_info(d.log, "stopped%s: store %s closed%s",
			    d.stop_signal == SIGINT    ? " on SIGINT"
			    : d.stop_signal == SIGTERM ? " on SIGTERM"
						       : "",
			    d.cfg.data_dir,
			    d.cfg.pid_file ? ", pid file removed" : "");
	} else {
		stop(&d);
	}
	pt_log_destroy(&d.log);
	pt_config_clear(&d.cfg);
	return status;
}
