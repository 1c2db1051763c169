/* The real phonetrustd as a child of a test: started with fork/exec,
 * watched through its stdout and stderr, waited for with bounds, and
 * killed if the test process dies.  Every helper fails the test on an
 * unexpected error.
 */
#ifndef PT_TESTS_HELPERS_PT_TESTD_H
#define PT_TESTS_HELPERS_PT_TESTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { PT_TESTD_OUT = 0, PT_TESTD_ERR = 1 };

typedef struct pt_testd {
	pid_t pid;    /* 0 once reaped */
	int fd[2];    /* its stdout and stderr; -1 once closed */
	char *buf[2]; /* what it printed on each so far, NUL-terminated */
	size_t len[2];
} pt_testd_t;

/* A pt_testd_t with nothing running. */
#define PT_TESTD_INIT {.fd = {-1, -1}}

/* Starts node/phonetrustd [--config config] [extra] (either may be NULL)
 * with stdin on /dev/null. */
void pt_testd_spawn(pt_testd_t *p, const char *config, const char *extra);

/* Reads what it printed within timeout_ms; false once both outputs are
 * closed. */
bool pt_testd_pump(pt_testd_t *p, int timeout_ms);

/* Reads until its stderr holds needle, for at most wait_ms; whether it
 * does. */
bool pt_testd_wait_for(pt_testd_t *p, const char *needle, int wait_ms);

/* Waits at most wait_ms for it to end and returns its exit status, or
 * 128 + signal; one still running then is killed and the test fails. */
int pt_testd_wait_exit(pt_testd_t *p, int wait_ms);

/* Whether it still runs (reaps it when it ended). */
bool pt_testd_running(pt_testd_t *p);

/* Kills it if it still runs, closes and frees; p may be spawned again. */
void pt_testd_clear(pt_testd_t *p);

/* A port nobody holds on 127.0.0.1 right now (the kernel's pick,
 * released): type SOCK_DGRAM or SOCK_STREAM. */
uint16_t pt_testd_free_port(int type);

#endif
