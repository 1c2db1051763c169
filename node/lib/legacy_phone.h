/* Legacy CAPF 1.0 phone records: a streaming parse of one CAPF.phone
 * (../shared/spec/legacy-capf.md) into validated records and quarantine
 * entries.  Pure: no files; the caller pushes chunks of any size and gets
 * each record through a callback as soon as its section ends, so memory is
 * one record at a time whatever the file's size.
 *
 * A section that breaks any rule is quarantined whole (never half-kept)
 * with a stable reason code (PT_LEGACY_R_*) and a sentence; a key line
 * outside any section is quarantined alone ("outside-section"), and the
 * rest of the file still reads.  The rules the spec leaves open are
 * decided in legacy_phone.c, each with its reason.
 */
#ifndef PT_LIB_LEGACY_PHONE_H
#define PT_LIB_LEGACY_PHONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/legacy_text.h"
#include "lib/validate.h"
#include "records.pb-c.h"

/* Reason codes of quarantine entries.  The first six are the names the
 * fixture generator (../shared/tools/legacy-capf-gen.py) writes into
 * expected.json; line-too-long, nul-byte and syntax come from legacy_text.h.
 */
#define PT_LEGACY_R_NAME "name"               /* bad device name */
#define PT_LEGACY_R_AUTHSTRING "authstring"   /* bad or missing auth string */
#define PT_LEGACY_R_KEYSIZE "keysize"         /* not 512, 1024 or 2048 */
#define PT_LEGACY_R_LSC "lsc"                 /* not base64 of a certificate */
#define PT_LEGACY_R_DATE "date"               /* LastUpdated/CompletesBy */
#define PT_LEGACY_R_OUTSIDE "outside-section" /* key line before any [NAME] */
#define PT_LEGACY_R_VERSION "version"         /* Version other than 1 */
#define PT_LEGACY_R_DUPLICATE "duplicate-key" /* a key twice in one section */
#define PT_LEGACY_R_DESCRIPTION "description" /* > 128 chars or controls */
#define PT_LEGACY_R_MODEL "model"             /* missing or unusable */
#define PT_LEGACY_R_PROTOCOL "protocol"       /* not SCCP/SIP, or not one
                                               * the known model speaks */
#define PT_LEGACY_R_OPERATION "operation"
#define PT_LEGACY_R_AUTHMODE "authmode"
#define PT_LEGACY_R_STATUS "status"
#define PT_LEGACY_R_MIC "micpresent"          /* not Yes or No */
#define PT_LEGACY_R_MISSING_LASTUPDATED "missing-lastupdated"
#define PT_LEGACY_R_EXTRA "extra-key"         /* unusable extra key/value */
#define PT_LEGACY_R_TOO_LARGE "record-too-large" /* too many lines/bytes */

/* Caps of one record: a real one has about a dozen short lines. */
#define PT_LEGACY_PHONE_MAX_KEYS 256u
#define PT_LEGACY_PHONE_RAW_MAX (256u * 1024u) /* verbatim bytes kept */
#define PT_LEGACY_STATUS_MAX 128u             /* bytes of Status text */

typedef struct pt_legacy_kv {
	char *key;   /* as written, UTF-8 */
	char *value; /* trimmed, UTF-8 */
	uint32_t line;
} pt_legacy_kv_t;

/* One valid CAPF.phone section.  Every pointer is owned by the record. */
typedef struct pt_legacy_phone {
	char *name;        /* the section name, a valid device name */
	char *description; /* UTF-8, <= 128 characters; "" when absent */
	char *model;       /* models.h canonical name when known, else the
	                    * legacy text as written */
	bool model_known;
	Pt__Protocol protocol;        /* SCCP or SIP */
	Pt__CapfOperation operation;  /* NONE when absent */
	Pt__CapfAuthMode auth_mode;   /* UNSPECIFIED when absent */
	/* In clear, "" when none: the caller seals it (device_rules.h) and
	 * must never log or write it; wiped by pt_legacy_phone_destroy. */
	char auth_string[PT_AUTH_STRING_MAX + 1];
	uint32_t key_size;            /* 512, 1024, 2048; 0 when absent */
	int64_t completes_by;         /* UTC seconds; 0 when absent/empty */
	int64_t last_updated;         /* UTC seconds (always present) */
	Pt__CapfStatus status;        /* NONE for an empty Status */
	Pt__CapfOperation status_operation; /* what the status is about */
	char *status_text;            /* Status verbatim (UTF-8), "" if none */
	uint8_t *lsc_der;             /* NULL when no LSC */
	size_t lsc_der_len;
	uint8_t lsc_sha1[20];         /* of lsc_der; zero when no LSC */
	uint8_t lsc_sha256[32];
	bool mic_present;             /* MICPresent=Yes */
	pt_legacy_kv_t *extras;       /* keys not in the spec's table, in
	                               * file order */
	size_t nextras;
	uint32_t first_line;          /* the [NAME] line */
	uint32_t last_line;           /* the section's last key line */
	/* The section's bytes as in the file, from its [NAME] line through
	 * its last key line (comments between included), at most
	 * PT_LEGACY_PHONE_RAW_MAX bytes (raw_truncated then). */
	uint8_t *raw;
	size_t raw_len;
	bool raw_truncated;
} pt_legacy_phone_t;

/* Frees a record (NULL accepted; *rec is nulled), wiping the auth
 * string first. */
void pt_legacy_phone_destroy(pt_legacy_phone_t **rec);

/* One quarantined record or line.  Pointers are borrowed: valid only
 * during the callback. */
typedef struct pt_legacy_quarantine {
	const char *section;   /* the [NAME] text; NULL for a line outside any
	                        * section */
	uint32_t first_line;
	uint32_t last_line;
	const char *reason;    /* a PT_LEGACY_R_* code (static) */
	const char *why;       /* a human sentence naming the key and line */
	const uint8_t *raw;    /* verbatim bytes, as in pt_legacy_phone_t */
	size_t raw_len;
	bool raw_truncated;
} pt_legacy_quarantine_t;

typedef struct pt_legacy_phone_cbs {
	/* A valid record.  The callback may take ownership by setting *rec
	 * to NULL; otherwise the parser destroys it on return. */
	int (*record)(void *arg, pt_legacy_phone_t **rec);
	/* A quarantined section or line. */
	int (*quarantine)(void *arg, const pt_legacy_quarantine_t *q);
	void *arg;
	/* A non-zero return from either stops the parse: the feed or finish
	 * call returns it. */
} pt_legacy_phone_cbs_t;

typedef struct pt_legacy_phone_opts {
	/* The directory's TimeZoneOffset (legacy_cfg.h) in minutes east of
	 * UTC: local times in the file are converted with it. */
	int32_t tz_offset_minutes;
} pt_legacy_phone_opts_t;

typedef struct pt_legacy_phone_stats {
	uint32_t lines;       /* physical lines read */
	uint64_t records;     /* sections delivered valid */
	uint64_t quarantined; /* quarantine entries delivered */
	bool version_seen;    /* a "Version=1" line before the first section */
} pt_legacy_phone_stats_t;

typedef struct pt_legacy_phone_parser pt_legacy_phone_parser_t;

/* opts may be NULL (UTC); cbs is copied.  PT_ERR_NOMEM. */
int pt_legacy_phone_parser_new(const pt_legacy_phone_opts_t *opts,
			       const pt_legacy_phone_cbs_t *cbs,
			       pt_legacy_phone_parser_t **out);
void pt_legacy_phone_parser_destroy(pt_legacy_phone_parser_t **p);

/* Pushes len bytes of CAPF.phone (borrowed; any split point); records and
 * quarantine entries of every section these bytes complete are delivered
 * before it returns.  PT_OK, PT_ERR_NOMEM, or a callback's value. */
int pt_legacy_phone_parser_feed(pt_legacy_phone_parser_t *p, const void *data,
				size_t len);
/* End of input: delivers the last section.  Same returns. */
int pt_legacy_phone_parser_finish(pt_legacy_phone_parser_t *p);

void pt_legacy_phone_parser_stats(const pt_legacy_phone_parser_t *p,
				  pt_legacy_phone_stats_t *out);

/* The whole of data in one call: new, feed, finish, destroy. */
int pt_legacy_phone_parse(const void *data, size_t len,
			  const pt_legacy_phone_opts_t *opts,
			  const pt_legacy_phone_cbs_t *cbs);

/* "YYYY-MM-DD HH:MM:SS" (with_seconds) or "YYYY-MM-DD HH:MM" local time at
 * tz_offset_minutes east of UTC -> UTC seconds.  Calendar-checked (month,
 * day of month with leap years, hour, minute, second 0-59); years
 * 1900-9999.  PT_ERR_INVALID otherwise. */
int pt_legacy_phone_parse_time(const char *s, bool with_seconds,
			       int32_t tz_offset_minutes, int64_t *out);

#endif
