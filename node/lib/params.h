/* Cluster-wide enterprise and service parameters: names, defaults, ranges.
 *
 * The cluster record stores only values that differ from the default
 * (Pt__Cluster.parameters); everything else reads the table below.  Pure
 * code: the table is static, lookups do not allocate.
 */
#ifndef PT_LIB_PARAMS_H
#define PT_LIB_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "records.pb-c.h"

typedef enum pt_param_type {
	PT_PARAM_INT,    /* decimal in [min, max] */
	PT_PARAM_CHOICE, /* one of choices[] */
	PT_PARAM_TEXT,   /* free text up to max characters */
} pt_param_type_t;

typedef struct pt_param_def {
	const char *name;          /* e.g. "capf_keepalive_minutes" */
	const char *scope;         /* "enterprise" or "service:capf" ... */
	pt_param_type_t type;
	const char *default_value; /* as text */
	int64_t min, max;          /* INT range; TEXT: max length */
	const char *const *choices; /* CHOICE: NULL-terminated */
	const char *unit;          /* "days", "minutes", ... or NULL */
	const char *description;   /* one line, for `cluster show` */
} pt_param_def_t;

/* Room for any canonical parameter value and its NUL. */
#define PT_PARAM_VALUE_MAX 256

/* Names every caller uses, so a typo is a compile error. */
#define PT_PARAM_CAPF_PHONE_PORT "capf_phone_port"
#define PT_PARAM_CAPF_OP_EXPIRES_DAYS "capf_operation_expires_days"
#define PT_PARAM_CAPF_KEEPALIVE_MIN "capf_keepalive_minutes"
#define PT_PARAM_CAPF_ISSUER "capf_certificate_issuer"
#define PT_PARAM_CAPF_VALIDITY_DAYS "capf_cert_validity_days"
#define PT_PARAM_CAPF_KEY_SIZE "capf_key_size"
#define PT_PARAM_CAPF_MAX_KEYGEN_SECONDS "capf_max_keygen_seconds"
#define PT_PARAM_CAPF_MAX_KEYGEN_ATTEMPTS "capf_max_keygen_attempts"
#define PT_PARAM_TFTP_SIGNATURE_ALG "tftp_file_signature_algorithm"
#define PT_PARAM_TVS_PORT "tvs_port"
#define PT_PARAM_CLUSTER_FQDN "cluster_fqdn"
#define PT_PARAM_CERT_EXPIRY_WARNING_DAYS "certificate_expiry_warning_days"

size_t pt_param_count(void);
/* The i-th definition in display order; NULL when i is out of range. */
const pt_param_def_t *pt_param_at(size_t i);
/* Case-insensitive.  NULL when there is no such parameter. */
const pt_param_def_t *pt_param_find(const char *name);

/* PT_OK when value is acceptable for def; else PT_ERR_INVALID and a
 * static reason in *why (may be NULL).  INT: decimal digits only, within
 * [min, max]; CHOICE: one of choices (case-insensitive); TEXT: up to max
 * printable ASCII characters without blanks (empty is allowed). */
int pt_param_validate(const pt_param_def_t *def, const char *value,
		      const char **why);

/* Writes the canonical spelling of an acceptable value into buf (INT
 * without leading zeros, CHOICE as in the table, TEXT unchanged).
 * PT_ERR_INVALID as pt_param_validate; PT_ERR_TOO_LARGE when len is too
 * small. */
int pt_param_canonical(const pt_param_def_t *def, const char *value,
		       char *buf, size_t len, const char **why);

/* Writes the range of def for humans ("1024-65535", "capf|offline-ca",
 * "up to 255 characters") into buf.  Returns buf. */
char *pt_param_range_text(const pt_param_def_t *def, char *buf, size_t len);

/* The value in force: the cluster's override or the default.  cluster may
 * be NULL (defaults only).  A stored value that no longer validates (for
 * example one written by a newer binary with a wider range) yields the
 * default.  The string is borrowed from cluster or the table.  NULL only
 * for an unknown name. */
const char *pt_param_value(const Pt__Cluster *cluster, const char *name);
/* The same as a number, for INT parameters and numeric CHOICE ones such
 * as capf_key_size; 0 for an unknown name or a non-numeric parameter. */
int64_t pt_param_int(const Pt__Cluster *cluster, const char *name);

/* Validates and stores the canonical form of value in cluster->parameters
 * (removing the entry when it equals the default; leaving the record
 * untouched when the value is already in force).  Allocates with
 * malloc/strdup so the record can be freed with pt_record_free().
 * PT_ERR_NOT_FOUND for an unknown name, PT_ERR_INVALID for a bad value
 * (reason in *why), PT_ERR_NOMEM; on any error the record is unchanged. */
int pt_param_set(Pt__Cluster *cluster, const char *name, const char *value,
		 const char **why);

#endif
