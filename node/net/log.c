#include "net/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"

/* Longest ident kept; node names are at most 63 characters. */
#define IDENT_MAX 64

struct pt_log {
	/* Atomic because services on other threads (the replication actor)
	 * read it while the loop thread may change it. */
	_Atomic int level;
	int fd;
	bool syslog;
	char ident[IDENT_MAX + 1];
};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *pt_log_level_name(pt_log_level_t level)
{
	if ((unsigned)level > PT_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

int pt_log_level_parse(const char *s, pt_log_level_t *out)
{
	if (!s)
		return PT_ERR_INVALID;
	for (unsigned i = 0; i <= PT_LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (pt_log_level_t)i;
			return PT_OK;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = PT_LOG_WARN;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

/* Copies src into dst (capacity cap > 4), replacing control bytes by \xNN.
 * Returns true when everything fitted. */
static bool escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		bool ctl = *p < 0x20 || *p == 0x7f;
		size_t need = ctl ? 4 : 1;
		if (n + need + 1 > cap) {
			dst[n] = '\0';
			return false;
		}
		if (ctl) {
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[*p >> 4];
			dst[n++] = hex[*p & 0xf];
		} else {
			dst[n++] = (char)*p;
		}
	}
	dst[n] = '\0';
	return true;
}

int pt_log_new(const pt_log_opts_t *opts, pt_log_t **out)
{
	*out = NULL;
	if ((unsigned)opts->level > PT_LOG_DEBUG)
		return PT_ERR_INVALID;
	pt_log_t *log = calloc(1, sizeof *log);
	if (!log)
		return PT_ERR_NOMEM;
	atomic_init(&log->level, (int)opts->level);
	log->fd = opts->fd;
	log->syslog = opts->syslog;
	if (opts->ident)
		escape(log->ident, sizeof log->ident, opts->ident);
	if (log->syslog)
		openlog("phonetrustd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	*out = log;
	return PT_OK;
}

void pt_log_destroy(pt_log_t **log)
{
	if (!log || !*log)
		return;
	if ((*log)->syslog)
		closelog();
	free(*log);
	*log = NULL;
}

void pt_log_set_level(pt_log_t *log, pt_log_level_t level)
{
	if ((unsigned)level <= PT_LOG_DEBUG)
		atomic_store_explicit(&log->level, (int)level,
				      memory_order_relaxed);
}

bool pt_log_enabled(const pt_log_t *log, pt_log_level_t level)
{
	/* A component handed no logger stays quiet rather than crash. */
	if (!log)
		return false;
	int current = atomic_load_explicit(&log->level, memory_order_relaxed);
	return (int)level <= current;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		/* A full or closed stderr must not stop the daemon: drop. */
		if (w <= 0)
			return;
		buf += w;
		len -= (size_t)w;
	}
}

static int syslog_priority(pt_log_level_t level)
{
	switch (level) {
	case PT_LOG_ERROR: return LOG_ERR;
	case PT_LOG_WARN: return LOG_WARNING;
	case PT_LOG_INFO: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

void pt_log_vwrite(pt_log_t *log, pt_log_level_t level, const char *fmt,
		   va_list ap)
{
	if (!pt_log_enabled(log, level))
		return;

	char raw[PT_LOG_LINE_MAX];
	char msg[PT_LOG_LINE_MAX];
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	if (n < 0)
		return;
	bool whole = (size_t)n < sizeof raw;
	/* Room for the "..." marker is kept back from the escaped text. */
	if (!escape(msg, sizeof msg - 3, raw) || !whole)
		strcat(msg, "...");

	struct timespec ts;
	struct tm tm;
	char stamp[40] = "0000-00-00T00:00:00";
	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

	const char *sep = log->ident[0] ? ": " : "";
	if (log->fd >= 0) {
		char line[PT_LOG_LINE_MAX + 160];
		int len = snprintf(line, sizeof line, "%s.%03ldZ %s %s%s%s\n",
				   stamp, ts.tv_nsec / 1000000L,
				   pt_log_level_name(level), log->ident, sep,
				   msg);
		if (len > 0)
			write_all(log->fd, line,
				  (size_t)len < sizeof line ? (size_t)len
							    : sizeof line - 1);
	}
	if (log->syslog)
		syslog(syslog_priority(level), "%s%s%s", log->ident, sep, msg);
}

void pt_log_write(pt_log_t *log, pt_log_level_t level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pt_log_vwrite(log, level, fmt, ap);
	va_end(ap);
}

void pt_log_error(pt_log_t *log, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pt_log_vwrite(log, PT_LOG_ERROR, fmt, ap);
	va_end(ap);
}

void pt_log_warn(pt_log_t *log, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pt_log_vwrite(log, PT_LOG_WARN, fmt, ap);
	va_end(ap);
}

void pt_log_info(pt_log_t *log, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pt_log_vwrite(log, PT_LOG_INFO, fmt, ap);
	va_end(ap);
}

void pt_log_debug(pt_log_t *log, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pt_log_vwrite(log, PT_LOG_DEBUG, fmt, ap);
	va_end(ap);
}
