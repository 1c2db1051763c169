/* phonetrustd: the node daemon.
 *
 *   phonetrustd --config FILE [--check] [--foreground]
 *
 * Runs in the foreground (systemd supervises it; --foreground is accepted
 * and changes nothing).  Reads the configuration, opens the node's store,
 * writes the pid file if one is configured, and runs the event loop until
 * SIGTERM or SIGINT.  --check only validates the configuration and that
 * the store opens, and exits.
 */
#ifndef PT_DAEMON_DAEMON_H
#define PT_DAEMON_DAEMON_H

enum {
	PT_DAEMON_EXIT_OK = 0,
	PT_DAEMON_EXIT_FAILURE = 1, /* could not start or run; --check failed */
	PT_DAEMON_EXIT_USAGE = 2,   /* bad command line or configuration */
};

/* Runs the daemon with its command line; returns the exit status. */
int pt_daemon_main(int argc, char **argv);

#endif
