/* Legacy CAPF 1.0 service settings: CAPF.cfg's [Service] section
 * (../shared/spec/legacy-capf.md) into a plain struct.  Pure: the caller
 * reads the file (small: capped at PT_LEGACY_CFG_MAX_BYTES) and passes its
 * bytes.  Text rules are legacy_text.h's.
 *
 * Problems do not stop the parse: each is listed with its line and key,
 * and a key whose value is refused stays unset (its has_* flag false).  A
 * problem that makes the directory's times unknowable (a bad or repeated
 * TimeZoneOffset) is marked fatal: converting times with a guess would
 * shift every record, so the caller must refuse the directory.
 */
#ifndef PT_LIB_LEGACY_CFG_H
#define PT_LIB_LEGACY_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/legacy_phone.h"

#define PT_LEGACY_CFG_MAX_BYTES (1024u * 1024u)
#define PT_LEGACY_CFG_MAX_EXTRAS 256u
#define PT_LEGACY_CFG_MAX_ISSUES 256u
#define PT_LEGACY_CFG_PHONE_PORT_DEFAULT 3804u

typedef enum pt_legacy_issuer {
	PT_LEGACY_ISSUER_UNSET = 0,
	PT_LEGACY_ISSUER_CAPF = 1,      /* Cisco Certificate Authority Proxy
	                                 * Function */
	PT_LEGACY_ISSUER_KEON = 2,      /* Keon */
	PT_LEGACY_ISSUER_MICROSOFT = 3, /* Microsoft CA */
} pt_legacy_issuer_t;

typedef struct pt_legacy_cfg_issue {
	uint32_t line;   /* 0 for the whole file */
	char *key;       /* the key as written, or NULL */
	const char *reason; /* a PT_LEGACY_R_* or PT_LEGACY_CFG_R_* code */
	char *why;       /* a sentence */
	bool fatal;
} pt_legacy_cfg_issue_t;

#define PT_LEGACY_CFG_R_VALUE "value"         /* a value out of range */
#define PT_LEGACY_CFG_R_TZ "timezone"         /* bad TimeZoneOffset */
#define PT_LEGACY_CFG_R_SECTION "section"     /* a section other than
                                               * [Service] */
#define PT_LEGACY_CFG_R_TOO_MANY "too-many"   /* caps reached */

typedef struct pt_legacy_cfg {
	bool has_service;          /* a [Service] section was present */

	bool has_phone_port;
	uint16_t phone_port;       /* PT_LEGACY_CFG_PHONE_PORT_DEFAULT if unset */
	bool has_issuer;
	pt_legacy_issuer_t issuer;
	bool has_cert_validity_years;
	uint32_t cert_validity_years;    /* 1-100 */
	bool has_key_size;
	uint32_t key_size;               /* 512, 1024, 2048 */
	bool has_max_keygen_minutes;
	uint32_t max_keygen_minutes;     /* 1-1440 */
	bool has_max_keygen_attempts;
	uint32_t max_keygen_attempts;    /* 1-100 */
	bool has_operation_expires_days;
	uint32_t operation_expires_days; /* 1-3650 */
	char *ca_address;                /* NULL when absent; UTF-8 */
	char *keon_jurisdiction_id;      /* NULL when absent; UTF-8 */
	bool has_scep_port;
	uint16_t scep_port;
	bool has_tz;
	int32_t tz_offset_minutes;       /* minutes east of UTC; 0 if absent */

	/* Keys not in the spec's table, in file order.  Keys of sections
	 * other than [Service] are kept as "Section.Key". */
	pt_legacy_kv_t *extras;
	size_t nextras;
	pt_legacy_cfg_issue_t *issues;   /* in line order */
	size_t nissues;
	bool fatal;                      /* some issue is fatal */
} pt_legacy_cfg_t;

/* Parses len bytes of CAPF.cfg (borrowed).  On PT_OK *out owns the result,
 * problems included (check nissues and fatal).  PT_ERR_TOO_LARGE beyond
 * PT_LEGACY_CFG_MAX_BYTES, PT_ERR_NOMEM; *out is NULL then. */
int pt_legacy_cfg_parse(const void *data, size_t len, pt_legacy_cfg_t **out);
void pt_legacy_cfg_destroy(pt_legacy_cfg_t **cfg);

/* "+HHMM" / "-HHMM" (HH 00-14, MM 00-59) -> minutes east of UTC.
 * PT_ERR_INVALID otherwise. */
int pt_legacy_cfg_parse_tz(const char *s, int32_t *out);

/* The spec's spelling of an issuer ("Keon", ...); "" for UNSET. */
const char *pt_legacy_cfg_issuer_name(pt_legacy_issuer_t v);

#endif
