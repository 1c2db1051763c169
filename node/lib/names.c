#include "lib/names.h"

#include <stddef.h>
#include <strings.h>

#include "lib/errors.h"

/* One table per enum: index is the enum value.  Aliases follow the
 * canonical names with the value they stand for. */
struct alias {
	const char *name;
	int value;
};

static const char *name_of(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || !names[v])
		return "unknown";
	return names[v];
}

static int parse_in(const char *const *names, size_t n,
		    const struct alias *aliases, const char *s, int *out)
{
	if (!s)
		return PT_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (names[i] && strcasecmp(names[i], s) == 0) {
			*out = (int)i;
			return PT_OK;
		}
	}
	for (; aliases && aliases->name; aliases++) {
		if (strcasecmp(aliases->name, s) == 0) {
			*out = aliases->value;
			return PT_OK;
		}
	}
	return PT_ERR_INVALID;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define PT_NAMES(fn, type, table, aliases)                                   \
	const char *pt_##fn##_name(type v)                                   \
	{                                                                    \
		return name_of(table, COUNT(table), (int)v);                 \
	}                                                                    \
	int pt_##fn##_parse(const char *s, type *out)                        \
	{                                                                    \
		int v;                                                       \
		int r = parse_in(table, COUNT(table), aliases, s, &v);       \
		if (r == PT_OK)                                              \
			*out = (type)v;                                      \
		return r;                                                    \
	}

static const char *const protocol_names[] = {NULL, "SCCP", "SIP"};
PT_NAMES(protocol, Pt__Protocol, protocol_names, NULL)

static const char *const capf_op_names[] = {"none", "install", "delete",
					    "troubleshoot"};
static const struct alias capf_op_aliases[] = {
	{"upgrade", PT__CAPF_OPERATION__CAPF_OP_INSTALL},
	{"install/upgrade", PT__CAPF_OPERATION__CAPF_OP_INSTALL},
	{NULL, 0}};
PT_NAMES(capf_op, Pt__CapfOperation, capf_op_names, capf_op_aliases)

static const char *const auth_mode_names[] = {"", "string", "null", "lsc",
					      "mic"};
PT_NAMES(auth_mode, Pt__CapfAuthMode, auth_mode_names, NULL)

static const char *const capf_status_names[] = {"none", "pending", "success",
						"failed"};
const char *pt_capf_status_name(Pt__CapfStatus v)
{
	return name_of(capf_status_names, COUNT(capf_status_names), (int)v);
}

static const char *const key_type_names[] = {NULL, "rsa", "ec"};
PT_NAMES(key_type, Pt__KeyType, key_type_names, NULL)

static const char *const key_order_names[] = {"rsa-only", "ec-only",
					      "ec-preferred"};
PT_NAMES(key_order, Pt__KeyOrder, key_order_names, NULL)

static const char *const security_mode_names[] = {"non-secure",
						  "authenticated", "encrypted"};
PT_NAMES(security_mode, Pt__DeviceSecurityMode, security_mode_names, NULL)

static const char *const transport_names[] = {"tcp", "udp", "tcp+udp", "tls"};
PT_NAMES(transport, Pt__Transport, transport_names, NULL)

static const char *const toggle_names[] = {"default", "enabled", "disabled"};
PT_NAMES(toggle, Pt__Toggle, toggle_names, NULL)

static const char *const trust_purpose_names[] = {
	NULL, "capf", "callmanager", "tvs", "tftp", "sast", "itl-recovery",
	"legacy-capf", "app-server"};
PT_NAMES(trust_purpose, Pt__TrustPurpose, trust_purpose_names, NULL)

static const char *const role_names[] = {NULL, "publisher", "subscriber"};
PT_NAMES(role, Pt__NodeRole, role_names, NULL)

static const char *const cluster_mode_names[] = {"non-secure", "mixed"};
PT_NAMES(cluster_mode, Pt__ClusterSecurityMode, cluster_mode_names, NULL)
