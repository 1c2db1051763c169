#include "lib/params.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/validate.h"

static const char *const issuer_choices[] = {"capf", "offline-ca",
					     "online-ca", NULL};
static const char *const key_size_choices[] = {"1024", "2048", "3072",
					       "4096", NULL};
static const char *const signature_choices[] = {"sha1", "sha512", NULL};

/* Defaults and ranges follow the seeds' enterprise parameters (security
 * section) and the CAPF, TFTP and TVS service parameters. */
static const pt_param_def_t params[] = {
	{PT_PARAM_CAPF_PHONE_PORT, "enterprise", PT_PARAM_INT, "3804", 1024,
	 65535, NULL, NULL, "TCP port on which phones reach CAPF"},
	{PT_PARAM_CAPF_OP_EXPIRES_DAYS, "enterprise", PT_PARAM_INT, "10", 1,
	 365, NULL, "days",
	 "default deadline of a CAPF operation, counted from when it is set"},
	{PT_PARAM_CAPF_KEEPALIVE_MIN, "service:capf", PT_PARAM_INT, "15", 5,
	 60, NULL, "minutes",
	 "keep-alive interval of an idle CAPF session with a phone"},
	{PT_PARAM_CAPF_ISSUER, "service:capf", PT_PARAM_CHOICE, "capf", 0, 0,
	 issuer_choices, NULL,
	 "who signs phone certificates: CAPF itself or an offline or online "
	 "CA"},
	{PT_PARAM_CAPF_VALIDITY_DAYS, "service:capf", PT_PARAM_INT, "1825", 1,
	 1825, NULL, "days", "validity of the certificates CAPF issues"},
	{PT_PARAM_CAPF_KEY_SIZE, "service:capf", PT_PARAM_CHOICE, "2048", 0, 0,
	 key_size_choices, "bits", "RSA key size of CAPF's own key"},
	{PT_PARAM_CAPF_MAX_KEYGEN_SECONDS, "service:capf", PT_PARAM_INT, "30",
	 1, 600, NULL, "seconds",
	 "how long a phone may take to generate its key pair"},
	{PT_PARAM_CAPF_MAX_KEYGEN_ATTEMPTS, "service:capf", PT_PARAM_INT, "3",
	 0, 100, NULL, NULL,
	 "key generation retries allowed before the operation fails"},
	{PT_PARAM_TFTP_SIGNATURE_ALG, "enterprise", PT_PARAM_CHOICE, "sha1", 0,
	 0, signature_choices, NULL,
	 "hash used to sign TFTP files (CTL, ITL, configurations)"},
	{PT_PARAM_TVS_PORT, "service:tvs", PT_PARAM_INT, "2445", 1024, 65535,
	 NULL, NULL, "TCP port on which phones reach TVS"},
	{PT_PARAM_CLUSTER_FQDN, "enterprise", PT_PARAM_TEXT, "", 0, 255, NULL,
	 NULL, "fully qualified domain name of the cluster (may hold *)"},
	{PT_PARAM_CERT_EXPIRY_WARNING_DAYS, "enterprise", PT_PARAM_INT, "30",
	 1, 365, NULL, "days",
	 "warn this long before a certificate in the store expires"},
};

size_t pt_param_count(void)
{
	return sizeof params / sizeof params[0];
}

const pt_param_def_t *pt_param_at(size_t i)
{
	return i < pt_param_count() ? &params[i] : NULL;
}

const pt_param_def_t *pt_param_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < pt_param_count(); i++)
		if (strcasecmp(params[i].name, name) == 0)
			return &params[i];
	return NULL;
}

static int refuse(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return PT_ERR_INVALID;
}

/* Finds value among def's choices; NULL when it is not one. */
static const char *choice_of(const pt_param_def_t *def, const char *value)
{
	for (const char *const *c = def->choices; c && *c; c++)
		if (strcasecmp(*c, value) == 0)
			return *c;
	return NULL;
}

int pt_param_canonical(const pt_param_def_t *def, const char *value,
		       char *buf, size_t len, const char **why)
{
	if (why)
		*why = NULL;
	if (!def || !value)
		return refuse(why, "no value given");
	int n;
	switch (def->type) {
	case PT_PARAM_INT: {
		uint64_t v;
		if (pt_parse_uint(value, (uint64_t)def->min, (uint64_t)def->max,
				  &v) != PT_OK)
			return refuse(why, "value must be a whole number within "
					   "the parameter's range");
		n = snprintf(buf, len, "%" PRIu64, v);
		break;
	}
	case PT_PARAM_CHOICE: {
		const char *c = choice_of(def, value);
		if (!c)
			return refuse(why, "value must be one of the "
					   "parameter's choices");
		n = snprintf(buf, len, "%s", c);
		break;
	}
	case PT_PARAM_TEXT: {
		size_t vlen = strlen(value);
		if (vlen > (size_t)def->max)
			return refuse(why, "value is longer than the parameter "
					   "allows");
		for (size_t i = 0; i < vlen; i++)
			if ((unsigned char)value[i] <= 0x20 ||
			    (unsigned char)value[i] >= 0x7f)
				return refuse(why, "value may hold only "
						   "printable ASCII without "
						   "blanks");
		n = snprintf(buf, len, "%s", value);
		break;
	}
	default:
		return refuse(why, "parameter has an unknown type");
	}
	if (n < 0 || (size_t)n >= len)
		return PT_ERR_TOO_LARGE;
	return PT_OK;
}

int pt_param_validate(const pt_param_def_t *def, const char *value,
		      const char **why)
{
	char buf[PT_PARAM_VALUE_MAX];
	int r = pt_param_canonical(def, value, buf, sizeof buf, why);
	return r == PT_ERR_TOO_LARGE ? refuse(why, "value is too long") : r;
}

char *pt_param_range_text(const pt_param_def_t *def, char *buf, size_t len)
{
	if (!len)
		return buf;
	buf[0] = '\0';
	switch (def->type) {
	case PT_PARAM_INT:
		snprintf(buf, len, "%" PRId64 "-%" PRId64, def->min, def->max);
		break;
	case PT_PARAM_CHOICE: {
		size_t used = 0;
		for (const char *const *c = def->choices; c && *c; c++) {
			int n = snprintf(buf + used, len - used, "%s%s",
					 used ? "|" : "", *c);
			if (n < 0 || (size_t)n >= len - used)
				break;
			used += (size_t)n;
		}
		break;
	}
	case PT_PARAM_TEXT:
		snprintf(buf, len, "up to %" PRId64 " characters", def->max);
		break;
	}
	return buf;
}

/* Index of name in cluster->parameters, or -1. */
static long stored_index(const Pt__Cluster *cluster, const char *name)
{
	if (!cluster)
		return -1;
	for (size_t i = 0; i < cluster->n_parameters; i++) {
		const Pt__KeyValue *kv = cluster->parameters[i];
		if (kv && kv->key && strcmp(kv->key, name) == 0)
			return (long)i;
	}
	return -1;
}

const char *pt_param_value(const Pt__Cluster *cluster, const char *name)
{
	const pt_param_def_t *def = pt_param_find(name);
	if (!def)
		return NULL;
	long i = stored_index(cluster, def->name);
	if (i < 0)
		return def->default_value;
	const char *v = cluster->parameters[i]->value;
	if (!v || pt_param_validate(def, v, NULL) != PT_OK)
		return def->default_value;
	return v;
}

int64_t pt_param_int(const Pt__Cluster *cluster, const char *name)
{
	const pt_param_def_t *def = pt_param_find(name);
	if (!def || def->type == PT_PARAM_TEXT)
		return 0;
	uint64_t v;
	if (pt_parse_uint(pt_param_value(cluster, name), 0, INT64_MAX, &v) ==
	    PT_OK)
		return (int64_t)v;
	if (pt_parse_uint(def->default_value, 0, INT64_MAX, &v) == PT_OK)
		return (int64_t)v;
	return 0;
}

static void free_kv(Pt__KeyValue *kv)
{
	pt__key_value__free_unpacked(kv, NULL);
}

static void remove_at(Pt__Cluster *cluster, size_t i)
{
	free_kv(cluster->parameters[i]);
	memmove(&cluster->parameters[i], &cluster->parameters[i + 1],
		(cluster->n_parameters - i - 1) * sizeof cluster->parameters[0]);
	cluster->n_parameters--;
	if (cluster->n_parameters == 0) {
		free(cluster->parameters);
		cluster->parameters = NULL;
	}
}

/* Appends a new key/value; the record is unchanged on failure. */
static int append(Pt__Cluster *cluster, const char *name, const char *value)
{
	Pt__KeyValue *kv = malloc(sizeof *kv);
	if (!kv)
		return PT_ERR_NOMEM;
	pt__key_value__init(kv);
	kv->key = strdup(name);
	kv->value = strdup(value);
	Pt__KeyValue **grown =
		realloc(cluster->parameters,
			(cluster->n_parameters + 1) * sizeof *grown);
	if (!kv->key || !kv->value || !grown) {
		if (grown)
			cluster->parameters = grown;
		free_kv(kv);
		return PT_ERR_NOMEM;
	}
	cluster->parameters = grown;
	cluster->parameters[cluster->n_parameters++] = kv;
	return PT_OK;
}

int pt_param_set(Pt__Cluster *cluster, const char *name, const char *value,
		 const char **why)
{
	if (why)
		*why = NULL;
	const pt_param_def_t *def = pt_param_find(name);
	if (!def) {
		if (why)
			*why = "no such parameter";
		return PT_ERR_NOT_FOUND;
	}
	char canon[PT_PARAM_VALUE_MAX];
	int r = pt_param_canonical(def, value, canon, sizeof canon, why);
	if (r == PT_ERR_TOO_LARGE)
		return refuse(why, "value is too long");
	if (r != PT_OK)
		return r;

	long i = stored_index(cluster, def->name);
	if (strcmp(canon, def->default_value) == 0) {
		/* Only overrides are stored, so a value equal to the default
		 * simply drops the override; duplicates (never written by us)
		 * go too. */
		while ((i = stored_index(cluster, def->name)) >= 0)
			remove_at(cluster, (size_t)i);
		return PT_OK;
	}
	if (i < 0)
		return append(cluster, def->name, canon);
	Pt__KeyValue *kv = cluster->parameters[i];
	if (kv->value && strcmp(kv->value, canon) == 0)
		return PT_OK;
	char *copy = strdup(canon);
	if (!copy)
		return PT_ERR_NOMEM;
	if (kv->value != protobuf_c_empty_string)
		free(kv->value);
	kv->value = copy;
	return PT_OK;
}
