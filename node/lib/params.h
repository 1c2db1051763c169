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

/* Names every caller uses, so a typo is a compile error. */
#define PT_PARAM_CAPF_PHONE_PORT "capf_phone_port"
#define PT_PARAM_CAPF_OP_EXPIRES_DAYS "capf_operation_expires_days"
#define PT_PARAM_CAPF_KEEPALIVE_MIN "capf_keepalive_minutes"
#define PT_PARAM_CAPF_ISSUER "capf_certificate_issuer"
#define PT_PARAM_CAPF_VALIDITY_DAYS "capf_cert_validity_days"
#define PT_PARAM_CAPF_KEY_SIZE "capf_key_size"

size_t pt_param_count(void);
const pt_param_def_t *pt_param_at(size_t i);
/* NULL when there is no such parameter. */
const pt_param_def_t *pt_param_find(const char *name);

/* PT_OK when value is acceptable for def; else PT_ERR_INVALID and a
 * static reason in *why (may be NULL). */
int pt_param_validate(const pt_param_def_t *def, const char *value,
		      const char **why);

/* The value in force: the cluster's override or the default.  cluster may
 * be NULL (defaults only).  The string is borrowed from cluster or the
 * table.  NULL only for an unknown name. */
const char *pt_param_value(const Pt__Cluster *cluster, const char *name);
/* The same for INT parameters; the default when the stored text is bad. */
int64_t pt_param_int(const Pt__Cluster *cluster, const char *name);

/* Validates and stores value in cluster->parameters (removing the entry
 * when it equals the default).  Allocates with malloc/strdup so the
 * record can be freed with pt_record_free(). */
int pt_param_set(Pt__Cluster *cluster, const char *name, const char *value,
		 const char **why);

#endif
