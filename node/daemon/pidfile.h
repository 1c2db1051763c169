/* The daemon's pid file.
 *
 * The file is locked (flock) for as long as the daemon runs, so a file
 * left behind by a crash does not stop a restart, while a second daemon
 * given the same pid file is refused.
 */
#ifndef PT_DAEMON_PIDFILE_H
#define PT_DAEMON_PIDFILE_H

#include <sys/types.h>

typedef struct pt_pidfile pt_pidfile_t;

/* Creates or takes over path (mode 0644, symlinks refused), locks it and
 * writes this process's pid.  PT_ERR_EXISTS when another live process
 * holds it; *holder (may be NULL) then receives that process's pid, or 0
 * if the file does not say.  On success *out owns the file. */
int pt_pidfile_new(const char *path, pt_pidfile_t **out, pid_t *holder);

/* Removes the file, then releases the lock; accepts NULL and nulls the
 * pointer. */
void pt_pidfile_destroy(pt_pidfile_t **pidfile);

#endif
