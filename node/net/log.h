/* Leveled logging for the daemons.
 *
 * A pt_log_t is an object the daemon creates from its configuration and
 * hands to the services; there is no process-wide logger.  Each line is
 *     2025-01-31T17:00:00.123Z info pub1: message
 * (UTC timestamp with milliseconds, level, the ident given at creation,
 * the message) written with one write(2) so that lines from several
 * threads never interleave.  Control characters in the message (a newline
 * in a device name sent by a phone, say) are escaped as \xNN so that nothing
 * a peer sends can forge a log line.  Messages longer than PT_LOG_LINE_MAX
 * are cut and end in "...".
 *
 * With syslog enabled, each line also goes to syslog (ident "phonetrustd",
 * facility LOG_DAEMON, the level mapped to LOG_ERR .. LOG_DEBUG).  openlog()
 * is process-wide, so at most one logger per process should enable it.
 *
 * Secrets: the API takes only printf-style text.  Nothing here accepts a
 * record or a Pt__Sealed value, and no caller may format a secret's
 * plaintext into a message; log what failed and for whom, never the value.
 *
 * Write log lines that say what failed, for whom (node, peer, device), why
 * (pt_strerror()) and what happens next.
 */
#ifndef PT_NET_LOG_H
#define PT_NET_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#define PT_LOG_LINE_MAX 2048

typedef enum pt_log_level {
	PT_LOG_ERROR = 0,
	PT_LOG_WARN = 1,
	PT_LOG_INFO = 2,
	PT_LOG_DEBUG = 3,
} pt_log_level_t;

typedef struct pt_log pt_log_t;

typedef struct pt_log_opts {
	pt_log_level_t level; /* lines above this level are dropped */
	int fd;               /* where lines go (STDERR_FILENO), or -1: none */
	bool syslog;          /* also send every line to syslog */
	const char *ident;    /* e.g. the node name (copied); NULL: none */
} pt_log_opts_t;

/* Creates a logger.  The fd stays the caller's: it is neither closed nor
 * made non-blocking.  On success *out owns the logger. */
int pt_log_new(const pt_log_opts_t *opts, pt_log_t **out);

/* Frees the logger (closing syslog if it opened it); accepts NULL and
 * nulls the pointer. */
void pt_log_destroy(pt_log_t **log);

/* Changes the level (call from the thread that owns the logger, before
 * other threads log, or accept that they see the change late). */
void pt_log_set_level(pt_log_t *log, pt_log_level_t level);

/* True when a line of this level would be written: lets a caller skip
 * expensive formatting.  False for a NULL logger, so every pt_log_* call
 * accepts NULL and writes nothing. */
bool pt_log_enabled(const pt_log_t *log, pt_log_level_t level);

/* Writes one line at level.  Never fails visibly: a line that cannot be
 * written is dropped.  Safe to call from several threads. */
void pt_log_write(pt_log_t *log, pt_log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pt_log_vwrite(pt_log_t *log, pt_log_level_t level, const char *fmt,
		   va_list ap) __attribute__((format(printf, 3, 0)));

void pt_log_error(pt_log_t *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pt_log_warn(pt_log_t *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pt_log_info(pt_log_t *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pt_log_debug(pt_log_t *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "error", "warn", "info", "debug" ("unknown" out of range). */
const char *pt_log_level_name(pt_log_level_t level);

/* Parses one of the names above (case-insensitive; "warning" is accepted
 * for warn).  PT_ERR_INVALID otherwise. */
int pt_log_level_parse(const char *s, pt_log_level_t *out);

#endif
