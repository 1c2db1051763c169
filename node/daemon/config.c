#include "daemon/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/names.h"
#include "lib/validate.h"

enum key_id {
	K_NAME,
	K_ROLE,
	K_DATA_DIR,
	K_LOG_LEVEL,
	K_SYSLOG,
	K_PID_FILE,
	K_PORT_TFTP,
	K_PORT_TVS,
	K_PORT_CAPF,
	K_PORT_STREAM,
	K_PORT_SYNC,
	K_BIND_ADDRESS,
	K_PUBLISHER_ADDRESS,
	K_SVC_TFTP,
	K_SVC_TVS,
	K_SVC_CAPF,
	K_REPL_KEEP_SEQ,
	K_REPL_KEEP_DAYS,
	K_REPL_MAX_SEQ,
	K_TFTP_ENABLED,
	K_TFTP_PORT,
	K_TFTP_BIND_ADDRESS,
	K_TFTP_WORKERS,
	K_TFTP_BLKSIZE_MAX,
	K_TFTP_WINDOWSIZE_MAX,
	K_TFTP_TIMEOUT,
	K_TFTP_RETRIES,
	K_TFTP_MAX_TRANSFERS,
	K_TFTP_PER_CLIENT_MAX,
	K_TFTP_PER_CLIENT_RATE,
	K_TFTP_STATIC_DIR,
	K_TVS_ENABLED,
	K_TVS_PORT,
	K_TVS_BIND_ADDRESS,
	K_TVS_WORKERS,
	K_TVS_MAX_CONNECTIONS,
	K_TVS_TIMEOUT,
	K_CAPF_ENABLED,
	K_CAPF_PORT,
	K_CAPF_BIND_ADDRESS,
	K_CAPF_WORKERS,
	K_CAPF_SIGNERS,
	K_CAPF_MAX_CONNECTIONS,
	K_CAPF_HANDSHAKE_TIMEOUT,
	K_CAPF_IDLE_TIMEOUT,
	K_CAPF_SESSION_TIMEOUT,
	K_COUNT
};

struct key_def {
	const char *section;
	const char *name;
};

static const struct key_def keys[K_COUNT] = {
	[K_NAME] = {"node", "name"},
	[K_ROLE] = {"node", "role"},
	[K_DATA_DIR] = {"node", "data_dir"},
	[K_LOG_LEVEL] = {"node", "log_level"},
	[K_SYSLOG] = {"node", "syslog"},
	[K_PID_FILE] = {"node", "pid_file"},
	[K_PORT_TFTP] = {"ports", "tftp"},
	[K_PORT_TVS] = {"ports", "tvs"},
	[K_PORT_CAPF] = {"ports", "capf"},
	[K_PORT_STREAM] = {"ports", "replication_stream"},
	[K_PORT_SYNC] = {"ports", "replication_sync"},
	[K_BIND_ADDRESS] = {"ports", "bind_address"},
	[K_PUBLISHER_ADDRESS] = {"publisher", "address"},
	[K_SVC_TFTP] = {"services", "tftp"},
	[K_SVC_TVS] = {"services", "tvs"},
	[K_SVC_CAPF] = {"services", "capf"},
	[K_REPL_KEEP_SEQ] = {"replication", "keep_sequences"},
	[K_REPL_KEEP_DAYS] = {"replication", "keep_days"},
	[K_REPL_MAX_SEQ] = {"replication", "max_sequences"},
	[K_TFTP_ENABLED] = {"tftp", "enabled"},
	[K_TFTP_PORT] = {"tftp", "port"},
	[K_TFTP_BIND_ADDRESS] = {"tftp", "bind_address"},
	[K_TFTP_WORKERS] = {"tftp", "workers"},
	[K_TFTP_BLKSIZE_MAX] = {"tftp", "blksize_max"},
	[K_TFTP_WINDOWSIZE_MAX] = {"tftp", "windowsize_max"},
	[K_TFTP_TIMEOUT] = {"tftp", "timeout"},
	[K_TFTP_RETRIES] = {"tftp", "retries"},
	[K_TFTP_MAX_TRANSFERS] = {"tftp", "max_transfers"},
	[K_TFTP_PER_CLIENT_MAX] = {"tftp", "per_client_max"},
	[K_TFTP_PER_CLIENT_RATE] = {"tftp", "per_client_rate"},
	[K_TFTP_STATIC_DIR] = {"tftp", "static_dir"},
	[K_TVS_ENABLED] = {"tvs", "enabled"},
	[K_TVS_PORT] = {"tvs", "port"},
	[K_TVS_BIND_ADDRESS] = {"tvs", "bind_address"},
	[K_TVS_WORKERS] = {"tvs", "workers"},
	[K_TVS_MAX_CONNECTIONS] = {"tvs", "max_connections"},
	[K_TVS_TIMEOUT] = {"tvs", "timeout"},
	[K_CAPF_ENABLED] = {"capf", "enabled"},
	[K_CAPF_PORT] = {"capf", "port"},
	[K_CAPF_BIND_ADDRESS] = {"capf", "bind_address"},
	[K_CAPF_WORKERS] = {"capf", "workers"},
	[K_CAPF_SIGNERS] = {"capf", "signers"},
	[K_CAPF_MAX_CONNECTIONS] = {"capf", "max_connections"},
	[K_CAPF_HANDSHAKE_TIMEOUT] = {"capf", "handshake_timeout"},
	[K_CAPF_IDLE_TIMEOUT] = {"capf", "idle_timeout"},
	[K_CAPF_SESSION_TIMEOUT] = {"capf", "session_timeout"},
};

static const char *const sections[] = {"node",        "ports", "publisher",
				       "services",    "replication", "tftp",
				       "tvs",         "capf"};

struct parse {
	const char *path;
	FILE *f;
	char *buf; /* getline's line buffer */
	size_t buf_cap;
	int line;  /* number of the line inih is working on */
	bool stop; /* the reader ends the file early after a fatal error */
	int sys_err;
	bool nomem;
	bool have_err;
	int err_line; /* 0 when the error belongs to no line */
	char why[768];
	int key_line[K_COUNT]; /* where each key was set; 0: not set */
	int svc[3];            /* tftp, tvs, capf: -1 unset, 0 no, 1 yes */
	uint16_t tftp_port;    /* [tftp] port, when set */
	uint16_t tvs_port;     /* [tvs] port, when set */
	uint16_t capf_port;    /* [capf] port, when set */
	pt_config_t cfg;
};

/* Records the first error only: later ones are usually its echoes. */
static void fail(struct parse *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct parse *p, int line, const char *fmt, ...)
{
	if (p->have_err)
		return;
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->why, sizeof p->why, "%s:%d: %s", p->path, line,
			 detail);
	else
		snprintf(p->why, sizeof p->why, "%s: %s", p->path, detail);
	p->have_err = true;
	p->err_line = line;
}

static bool known_section(const char *name)
{
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (strcmp(name, sections[i]) == 0)
			return true;
	return false;
}

static void fail_unknown_section(struct parse *p, int line, const char *name)
{
	fail(p, line,
	     "[%s]: unknown section (known: [node], [ports], [publisher], "
	     "[services], [replication], [tftp], [tvs], [capf])",
	     name);
}

/* Lists the keys of section into buf, for "unknown key" messages. */
static void key_list(const char *section, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int k = 0; k < K_COUNT && n < len; k++) {
		if (strcmp(keys[k].section, section) != 0)
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
				 keys[k].name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* ---- reading lines ---- */

/* inih's fgets-style reader.  Reading whole lines here lets us number
 * them for the handler (inih does not pass line numbers to it) and refuse,
 * with a clear message, what inih would otherwise misread: a line longer
 * than its buffer (split into two lines), an indented line (a continuation
 * of the previous value), a section header with no keys (never reaches
 * the handler). */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	if (p->stop)
		return NULL;
	errno = 0;
	ssize_t n = getline(&p->buf, &p->buf_cap, p->f);
	if (n < 0) {
		if (ferror(p->f)) {
			p->sys_err = errno ? errno : EIO;
			fail(p, 0, "cannot read: %s", strerror(p->sys_err));
		}
		return NULL;
	}
	p->line++;
	if (strlen(p->buf) != (size_t)n) {
		fail(p, p->line, "line holds a NUL byte");
		p->stop = true;
		return NULL;
	}
	size_t content = (size_t)n;
	while (content > 0 && (p->buf[content - 1] == '\n' ||
			       p->buf[content - 1] == '\r'))
		content--;
	/* inih needs room for "\r\n" and the terminator. */
	if (num < 4 || content > (size_t)num - 3) {
		fail(p, p->line, "line is longer than %d characters",
		     num < 4 ? 0 : num - 3);
		p->stop = true;
		return NULL;
	}
	memcpy(str, p->buf, content);
	str[content] = '\n';
	str[content + 1] = '\0';

	const char *s = str;
	if (p->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	const char *start = s;
	while (*start == ' ' || *start == '\t')
		start++;
	if (*start == '\0' || *start == '\n' || *start == '\r' ||
	    *start == ';' || *start == '#')
		return str;
	if (start != s) {
		fail(p, p->line,
		     "line starts with blanks: remove them (an indented line "
		     "would be read as the continuation of the value above)");
		p->stop = true;
		return NULL;
	}
	if (*start == '[') {
		const char *end = strchr(start + 1, ']');
		if (end) {
			char name[128];
			size_t len = (size_t)(end - start - 1);
			if (len >= sizeof name)
				len = sizeof name - 1;
			memcpy(name, start + 1, len);
			name[len] = '\0';
			if (!known_section(name))
				fail_unknown_section(p, p->line, name);
		}
	}
	return str;
}

/* ---- values ---- */

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on"};
	static const char *const no[] = {"no", "false", "off"};
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool valid_ip(const char *s)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, s, addr) == 1 ||
	       inet_pton(AF_INET6, s, addr) == 1;
}

/* A DNS name (letters, digits, dots, hyphens) or an IP literal. */
static bool valid_host(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	if (valid_ip(s))
		return true;
	if (s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.')
			return false;
	}
	return true;
}

static void set_string(struct parse *p, char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	if (!*field)
		p->nomem = true;
}

static void set_port(struct parse *p, int line, const struct key_def *k,
		     const char *value, uint16_t *field)
{
	uint64_t v;
	if (pt_parse_uint(value, 0, UINT64_MAX, &v) != PT_OK) {
		fail(p, line, "[%s] %s: bad value '%s': expected a port number "
			      "(1-65535)",
		     k->section, k->name, value);
		return;
	}
	if (v < 1 || v > 65535) {
		fail(p, line, "[%s] %s: port %s is out of range (1-65535)",
		     k->section, k->name, value);
		return;
	}
	*field = (uint16_t)v;
}

static void set_count(struct parse *p, int line, const struct key_def *k,
		      const char *value, uint64_t max, uint64_t *field)
{
	uint64_t v;
	if (pt_parse_uint(value, 0, max, &v) != PT_OK) {
		fail(p, line, "[%s] %s: bad value '%s': expected a whole "
			      "number from 0 to %llu",
		     k->section, k->name, value, (unsigned long long)max);
		return;
	}
	*field = v;
}

/* A whole number from min to max into a 32-bit field. */
static void set_range(struct parse *p, int line, const struct key_def *k,
		      const char *value, uint32_t min, uint32_t max,
		      uint32_t *field)
{
	uint64_t v;
	if (pt_parse_uint(value, 0, UINT64_MAX, &v) != PT_OK || v < min ||
	    v > max) {
		fail(p, line, "[%s] %s: bad value '%s': expected a whole "
			      "number from %u to %u",
		     k->section, k->name, value, min, max);
		return;
	}
	*field = (uint32_t)v;
}

static void set_service(struct parse *p, int line, const struct key_def *k,
			const char *value, int *field)
{
	bool b;
	if (!parse_bool(value, &b)) {
		fail(p, line, "[%s] %s: bad value '%s': expected yes or no",
		     k->section, k->name, value);
		return;
	}
	*field = b;
}

static void apply(struct parse *p, int line, enum key_id id, const char *value)
{
	const struct key_def *k = &keys[id];
	pt_config_t *cfg = &p->cfg;
	const char *why = NULL;
	bool b;

	switch (id) {
	case K_NAME:
		if (pt_validate_node_name(value, &why) != PT_OK)
			fail(p, line, "[node] name: bad value '%s': %s", value,
			     why);
		else
			set_string(p, &cfg->name, value);
		break;
	case K_ROLE:
		if (pt_role_parse(value, &cfg->role) != PT_OK)
			fail(p, line, "[node] role: bad value '%s': expected "
				      "publisher or subscriber",
			     value);
		break;
	case K_DATA_DIR:
		if (!*value)
			fail(p, line, "[node] data_dir: must not be empty");
		else
			set_string(p, &cfg->data_dir, value);
		break;
	case K_LOG_LEVEL:
		if (pt_log_level_parse(value, &cfg->log_level) != PT_OK)
			fail(p, line, "[node] log_level: bad value '%s': "
				      "expected error, warn, info or debug",
			     value);
		break;
	case K_SYSLOG:
		if (!parse_bool(value, &b))
			fail(p, line, "[node] syslog: bad value '%s': "
				      "expected yes or no",
			     value);
		else
			cfg->syslog = b;
		break;
	case K_PID_FILE:
		/* An empty value means no pid file. */
		if (*value)
			set_string(p, &cfg->pid_file, value);
		break;
	case K_PORT_TFTP:
		set_port(p, line, k, value, &cfg->tftp_port);
		break;
	case K_PORT_TVS:
		set_port(p, line, k, value, &cfg->tvs_port);
		break;
	case K_PORT_CAPF:
		set_port(p, line, k, value, &cfg->capf_port);
		break;
	case K_PORT_STREAM:
		set_port(p, line, k, value, &cfg->repl_stream_port);
		break;
	case K_PORT_SYNC:
		set_port(p, line, k, value, &cfg->repl_sync_port);
		break;
	case K_BIND_ADDRESS:
		if (!valid_ip(value))
			fail(p, line, "[ports] bind_address: bad value '%s': "
				      "expected an IPv4 or IPv6 address",
			     value);
		else
			set_string(p, &cfg->bind_address, value);
		break;
	case K_PUBLISHER_ADDRESS:
		if (!valid_host(value))
			fail(p, line, "[publisher] address: bad value '%s': "
				      "expected a host name or IP address",
			     value);
		else
			set_string(p, &cfg->publisher_address, value);
		break;
	case K_SVC_TFTP:
		set_service(p, line, k, value, &p->svc[0]);
		break;
	case K_SVC_TVS:
		set_service(p, line, k, value, &p->svc[1]);
		break;
	case K_SVC_CAPF:
		set_service(p, line, k, value, &p->svc[2]);
		break;
	case K_REPL_KEEP_SEQ:
		set_count(p, line, k, value, UINT64_MAX / 2,
			  &cfg->repl_keep_sequences);
		break;
	case K_REPL_KEEP_DAYS:
		set_count(p, line, k, value, 36500, &cfg->repl_keep_days);
		break;
	case K_REPL_MAX_SEQ:
		set_count(p, line, k, value, UINT64_MAX / 2,
			  &cfg->repl_max_sequences);
		break;
	case K_TFTP_ENABLED:
		if (!parse_bool(value, &b))
			fail(p, line, "[tftp] enabled: bad value '%s': "
				      "expected yes or no",
			     value);
		else
			cfg->tftp_enabled = b;
		break;
	case K_TFTP_PORT:
		set_port(p, line, k, value, &p->tftp_port);
		break;
	case K_TFTP_BIND_ADDRESS:
		if (!valid_ip(value))
			fail(p, line, "[tftp] bind_address: bad value '%s': "
				      "expected an IPv4 or IPv6 address",
			     value);
		else
			set_string(p, &cfg->tftp_bind_address, value);
		break;
	case K_TFTP_WORKERS:
		set_range(p, line, k, value, 0, 256, &cfg->tftp_workers);
		break;
	case K_TFTP_BLKSIZE_MAX:
		set_range(p, line, k, value, 8, 65464, &cfg->tftp_blksize_max);
		break;
	case K_TFTP_WINDOWSIZE_MAX:
		set_range(p, line, k, value, 1, 65535,
			  &cfg->tftp_windowsize_max);
		break;
	case K_TFTP_TIMEOUT:
		set_range(p, line, k, value, 1, 255, &cfg->tftp_timeout);
		break;
	case K_TFTP_RETRIES:
		set_range(p, line, k, value, 0, 100, &cfg->tftp_retries);
		break;
	case K_TFTP_MAX_TRANSFERS:
		set_range(p, line, k, value, 1, 1000000,
			  &cfg->tftp_max_transfers);
		break;
	case K_TFTP_PER_CLIENT_MAX:
		set_range(p, line, k, value, 0, 1000000,
			  &cfg->tftp_per_client_max);
		break;
	case K_TFTP_PER_CLIENT_RATE:
		set_range(p, line, k, value, 0, 1000000,
			  &cfg->tftp_per_client_rate);
		break;
	case K_TFTP_STATIC_DIR:
		if (!*value)
			fail(p, line, "[tftp] static_dir: must not be empty "
				      "(leave the key out to serve no plain "
				      "files)");
		else
			set_string(p, &cfg->tftp_static_dir, value);
		break;
	case K_TVS_ENABLED:
		if (!parse_bool(value, &b))
			fail(p, line, "[tvs] enabled: bad value '%s': "
				      "expected yes or no",
			     value);
		else
			cfg->tvs_enabled = b;
		break;
	case K_TVS_PORT:
		set_port(p, line, k, value, &p->tvs_port);
		break;
	case K_TVS_BIND_ADDRESS:
		if (!valid_ip(value))
			fail(p, line, "[tvs] bind_address: bad value '%s': "
				      "expected an IPv4 or IPv6 address",
			     value);
		else
			set_string(p, &cfg->tvs_bind_address, value);
		break;
	case K_TVS_WORKERS:
		set_range(p, line, k, value, 0, 256, &cfg->tvs_workers);
		break;
	case K_TVS_MAX_CONNECTIONS:
		set_range(p, line, k, value, 1, 1000000,
			  &cfg->tvs_max_connections);
		break;
	case K_TVS_TIMEOUT:
		set_range(p, line, k, value, 1, 300, &cfg->tvs_timeout);
		break;
	case K_CAPF_ENABLED:
		if (!parse_bool(value, &b))
			fail(p, line, "[capf] enabled: bad value '%s': "
				      "expected yes or no",
			     value);
		else
			cfg->capf_enabled = b;
		break;
	case K_CAPF_PORT:
		set_port(p, line, k, value, &p->capf_port);
		break;
	case K_CAPF_BIND_ADDRESS:
		if (!valid_ip(value))
			fail(p, line, "[capf] bind_address: bad value '%s': "
				      "expected an IPv4 or IPv6 address",
			     value);
		else
			set_string(p, &cfg->capf_bind_address, value);
		break;
	case K_CAPF_WORKERS:
		set_range(p, line, k, value, 0, 256, &cfg->capf_workers);
		break;
	case K_CAPF_SIGNERS:
		set_range(p, line, k, value, 0, 256, &cfg->capf_signers);
		break;
	case K_CAPF_MAX_CONNECTIONS:
		set_range(p, line, k, value, 1, 1000000,
			  &cfg->capf_max_connections);
		break;
	case K_CAPF_HANDSHAKE_TIMEOUT:
		set_range(p, line, k, value, 1, 300,
			  &cfg->capf_handshake_timeout);
		break;
	case K_CAPF_IDLE_TIMEOUT:
		set_range(p, line, k, value, 0, 86400,
			  &cfg->capf_idle_timeout);
		break;
	case K_CAPF_SESSION_TIMEOUT:
		set_range(p, line, k, value, 1, 86400,
			  &cfg->capf_session_timeout);
		break;
	case K_COUNT:
		break;
	}
}

/* Called by inih for each key = value.  Always returns 1: errors are
 * recorded here with their line, so a non-zero result of inih itself means
 * a syntax error. */
static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse *p = user;
	int line = p->line;

	if (!*section) {
		fail(p, line, "%s: key outside any section (put it under "
			      "[node], [ports], [publisher] or [services])",
		     name);
		return 1;
	}
	if (!known_section(section)) {
		fail_unknown_section(p, line, section);
		return 1;
	}
	int id = -1;
	for (int k = 0; k < K_COUNT; k++) {
		if (strcmp(keys[k].section, section) == 0 &&
		    strcmp(keys[k].name, name) == 0) {
			id = k;
			break;
		}
	}
	if (id < 0) {
		char known[256];
		key_list(section, known, sizeof known);
		fail(p, line, "[%s] %s: unknown key (keys of [%s]: %s)",
		     section, name, section, known);
		return 1;
	}
	if (p->key_line[id]) {
		fail(p, line, "[%s] %s: duplicate key (first set at line %d)",
		     section, name, p->key_line[id]);
		return 1;
	}
	p->key_line[id] = line;
	apply(p, line, (enum key_id)id, value);
	return 1;
}

/* ---- checks across keys ---- */

static void check_required(struct parse *p)
{
	static const enum key_id required[] = {K_NAME, K_ROLE, K_DATA_DIR};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		const struct key_def *k = &keys[required[i]];
		if (!p->key_line[required[i]])
			fail(p, 0, "[%s] %s: required key is missing",
			     k->section, k->name);
	}
}

static void apply_role(struct parse *p)
{
	pt_config_t *cfg = &p->cfg;
	bool publisher = cfg->role == PT__NODE_ROLE__ROLE_PUBLISHER;

	cfg->tftp = p->svc[0] < 0 ? true : p->svc[0];
	cfg->tvs = p->svc[1] < 0 ? true : p->svc[1];
	cfg->capf = p->svc[2] < 0 ? publisher : p->svc[2];
	if (publisher) {
		/* Documented as ignored on a publisher. */
		free(cfg->publisher_address);
		cfg->publisher_address = NULL;
		return;
	}
	if (cfg->capf)
		fail(p, p->key_line[K_SVC_CAPF],
		     "[services] capf: CAPF runs on the publisher only; set "
		     "capf = no on a subscriber");
	if (!cfg->publisher_address)
		fail(p, 0, "[publisher] address: required for a subscriber "
			   "(role = subscriber at line %d)",
		     p->key_line[K_ROLE]);
}

/* Two services of this node listening on one TCP port would fail at bind
 * time; say so now, naming both keys. */
static void check_ports(struct parse *p)
{
	const pt_config_t *cfg = &p->cfg;
	bool publisher = cfg->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	struct {
		enum key_id id;
		uint16_t port;
		bool used;
	} tcp[] = {
		{K_PORT_CAPF, cfg->capf_port, cfg->capf},
		{K_PORT_TVS, cfg->tvs_port, cfg->tvs},
		{K_PORT_STREAM, cfg->repl_stream_port, publisher},
		{K_PORT_SYNC, cfg->repl_sync_port, publisher},
	};
	size_t n = sizeof tcp / sizeof tcp[0];
	for (size_t j = 1; j < n; j++) {
		for (size_t i = 0; i < j; i++) {
			if (!tcp[i].used || !tcp[j].used ||
			    tcp[i].port != tcp[j].port)
				continue;
			size_t at = p->key_line[tcp[j].id] ? j : i;
			size_t other = at == j ? i : j;
			fail(p, p->key_line[tcp[at].id],
			     "[ports] %s: port %u is also used by [ports] %s",
			     keys[tcp[at].id].name, tcp[at].port,
			     keys[tcp[other].id].name);
		}
	}
}

/* [tftp] against the rest: one port, and no engine for a switched-off
 * service. */
static void check_tftp(struct parse *p)
{
	pt_config_t *cfg = &p->cfg;
	int at_tftp = p->key_line[K_TFTP_PORT];
	int at_ports = p->key_line[K_PORT_TFTP];
	if (at_tftp && at_ports && p->tftp_port != cfg->tftp_port)
		fail(p, at_tftp,
		     "[tftp] port: %u differs from [ports] tftp = %u at line "
		     "%d: set the port in one place",
		     p->tftp_port, cfg->tftp_port, at_ports);
	else if (at_tftp)
		cfg->tftp_port = p->tftp_port;
	if (cfg->tftp_enabled && !cfg->tftp)
		fail(p, p->key_line[K_TFTP_ENABLED],
		     "[tftp] enabled: the TFTP service is switched off "
		     "([services] tftp = no); switch it on there too");
}

/* [tvs] against the rest, as check_tftp; runs before check_ports so
 * that a [tvs] port meets the other TCP services' ports. */
static void check_tvs(struct parse *p)
{
	pt_config_t *cfg = &p->cfg;
	int at_tvs = p->key_line[K_TVS_PORT];
	int at_ports = p->key_line[K_PORT_TVS];
	if (at_tvs && at_ports && p->tvs_port != cfg->tvs_port)
		fail(p, at_tvs,
		     "[tvs] port: %u differs from [ports] tvs = %u at line "
		     "%d: set the port in one place",
		     p->tvs_port, cfg->tvs_port, at_ports);
	else if (at_tvs)
		cfg->tvs_port = p->tvs_port;
	cfg->tvs_port_set = at_tvs || at_ports;
	if (cfg->tvs_enabled && !cfg->tvs)
		fail(p, p->key_line[K_TVS_ENABLED],
		     "[tvs] enabled: the TVS service is switched off "
		     "([services] tvs = no); switch it on there too");
}

/* [capf] against the rest, as check_tvs (before check_ports too). */
static void check_capf(struct parse *p)
{
	pt_config_t *cfg = &p->cfg;
	int at_capf = p->key_line[K_CAPF_PORT];
	int at_ports = p->key_line[K_PORT_CAPF];
	if (at_capf && at_ports && p->capf_port != cfg->capf_port)
		fail(p, at_capf,
		     "[capf] port: %u differs from [ports] capf = %u at line "
		     "%d: set the port in one place",
		     p->capf_port, cfg->capf_port, at_ports);
	else if (at_capf)
		cfg->capf_port = p->capf_port;
	cfg->capf_port_set = at_capf || at_ports;
	if (cfg->capf_enabled && cfg->role != PT__NODE_ROLE__ROLE_PUBLISHER)
		fail(p, p->key_line[K_CAPF_ENABLED],
		     "[capf] enabled: CAPF runs on the publisher only");
	else if (cfg->capf_enabled && !cfg->capf)
		fail(p, p->key_line[K_CAPF_ENABLED],
		     "[capf] enabled: the CAPF service is switched off "
		     "([services] capf = no); switch it on there too");
}

/* ---- entry points ---- */

void pt_config_clear(pt_config_t *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->name);
	free(cfg->data_dir);
	free(cfg->pid_file);
	free(cfg->bind_address);
	free(cfg->publisher_address);
	free(cfg->tftp_bind_address);
	free(cfg->tftp_static_dir);
	free(cfg->tvs_bind_address);
	free(cfg->capf_bind_address);
	memset(cfg, 0, sizeof *cfg);
}

static void set_defaults(struct parse *p)
{
	pt_config_t *cfg = &p->cfg;
	cfg->log_level = PT_LOG_INFO;
	cfg->tftp_port = PT_CONFIG_DEFAULT_TFTP_PORT;
	cfg->tvs_port = PT_CONFIG_DEFAULT_TVS_PORT;
	cfg->capf_port = PT_CONFIG_DEFAULT_CAPF_PORT;
	cfg->repl_stream_port = PT_CONFIG_DEFAULT_REPL_STREAM_PORT;
	cfg->repl_sync_port = PT_CONFIG_DEFAULT_REPL_SYNC_PORT;
	cfg->heartbeat_ms = PT_CONFIG_DEFAULT_HEARTBEAT_MS;
	cfg->repl_keep_sequences = PT_CONFIG_DEFAULT_KEEP_SEQUENCES;
	cfg->repl_keep_days = PT_CONFIG_DEFAULT_KEEP_DAYS;
	cfg->repl_max_sequences = PT_CONFIG_DEFAULT_MAX_SEQUENCES;
	cfg->tftp_blksize_max = PT_CONFIG_DEFAULT_TFTP_BLKSIZE_MAX;
	cfg->tftp_windowsize_max = PT_CONFIG_DEFAULT_TFTP_WINDOWSIZE_MAX;
	cfg->tftp_timeout = PT_CONFIG_DEFAULT_TFTP_TIMEOUT;
	cfg->tftp_retries = PT_CONFIG_DEFAULT_TFTP_RETRIES;
	cfg->tftp_max_transfers = PT_CONFIG_DEFAULT_TFTP_MAX_TRANSFERS;
	cfg->tftp_per_client_max = PT_CONFIG_DEFAULT_TFTP_PER_CLIENT_MAX;
	cfg->tftp_per_client_rate = PT_CONFIG_DEFAULT_TFTP_PER_CLIENT_RATE;
	cfg->tvs_max_connections = PT_CONFIG_DEFAULT_TVS_MAX_CONNECTIONS;
	cfg->tvs_timeout = PT_CONFIG_DEFAULT_TVS_TIMEOUT;
	cfg->capf_max_connections = PT_CONFIG_DEFAULT_CAPF_MAX_CONNECTIONS;
	cfg->capf_handshake_timeout = PT_CONFIG_DEFAULT_CAPF_HANDSHAKE_TIMEOUT;
	cfg->capf_session_timeout = PT_CONFIG_DEFAULT_CAPF_SESSION_TIMEOUT;
	p->svc[0] = p->svc[1] = p->svc[2] = -1;
}

int pt_config_parse_file(const char *path, pt_config_t *out, char *why,
			 size_t why_len)
{
	struct parse p = {.path = path};
	int r;

	memset(out, 0, sizeof *out);
	if (why && why_len)
		why[0] = '\0';
	set_defaults(&p);
	p.f = fopen(path, "re");
	if (!p.f) {
		r = PT_ESYS(errno);
		fail(&p, 0, "cannot open: %s", strerror(errno));
		goto out;
	}
	int syntax = ini_parse_stream(read_line, &p, on_key, &p);
	if (syntax > 0 && !p.sys_err &&
	    (!p.have_err || p.err_line == 0 ||
	     syntax < p.err_line)) {
		p.have_err = false;
		fail(&p, syntax, "syntax error: expected [section] or "
				 "key = value");
	}
	if (!p.have_err) {
		check_required(&p);
		if (!p.have_err)
			apply_role(&p);
		if (!p.have_err)
			check_tvs(&p);
		if (!p.have_err)
			check_capf(&p);
		if (!p.have_err)
			check_ports(&p);
		if (!p.have_err)
			check_tftp(&p);
	}
	if (!p.nomem && !p.have_err && !p.cfg.bind_address)
		set_string(&p, &p.cfg.bind_address,
			   PT_CONFIG_DEFAULT_BIND_ADDRESS);
	if (!p.nomem && !p.have_err && !p.cfg.tftp_bind_address)
		set_string(&p, &p.cfg.tftp_bind_address, p.cfg.bind_address);
	if (!p.nomem && !p.have_err && !p.cfg.tvs_bind_address)
		set_string(&p, &p.cfg.tvs_bind_address, p.cfg.bind_address);
	if (!p.nomem && !p.have_err && !p.cfg.capf_bind_address)
		set_string(&p, &p.cfg.capf_bind_address, p.cfg.bind_address);
	if (!p.nomem && !p.have_err)
		set_string(&p, &p.cfg.path, path);

	if (p.nomem || syntax == -2) {
		r = PT_ERR_NOMEM;
		p.have_err = false;
		fail(&p, 0, "out of memory");
	} else if (p.sys_err) {
		r = PT_ESYS(p.sys_err);
	} else if (p.have_err) {
		r = PT_ERR_CONFIG;
	} else {
		*out = p.cfg;
		memset(&p.cfg, 0, sizeof p.cfg);
		r = PT_OK;
	}
out:
	if (r != PT_OK && why && why_len)
		snprintf(why, why_len, "%s", p.why);
	if (p.f)
		fclose(p.f);
	free(p.buf);
	pt_config_clear(&p.cfg);
	return r;
}
