/* Canonical text forms of the record enums, as the CLI, CSV import and
 * JSON output spell them.  *_name() returns a static string (never NULL:
 * "unknown" for out-of-range values); *_parse() accepts the canonical
 * spelling case-insensitively and returns PT_ERR_INVALID otherwise.
 */
#ifndef PT_LIB_NAMES_H
#define PT_LIB_NAMES_H

#include "records.pb-c.h"

const char *pt_protocol_name(Pt__Protocol v);          /* SCCP, SIP */
int pt_protocol_parse(const char *s, Pt__Protocol *out);

/* none, install, delete, troubleshoot ("upgrade" is read as install) */
const char *pt_capf_op_name(Pt__CapfOperation v);
int pt_capf_op_parse(const char *s, Pt__CapfOperation *out);

/* string, null, lsc, mic; "" for unspecified (take the profile's) */
const char *pt_auth_mode_name(Pt__CapfAuthMode v);
int pt_auth_mode_parse(const char *s, Pt__CapfAuthMode *out);

/* none, pending, success, failed */
const char *pt_capf_status_name(Pt__CapfStatus v);

/* rsa, ec */
const char *pt_key_type_name(Pt__KeyType v);
int pt_key_type_parse(const char *s, Pt__KeyType *out);

/* rsa-only, ec-only, ec-preferred */
const char *pt_key_order_name(Pt__KeyOrder v);
int pt_key_order_parse(const char *s, Pt__KeyOrder *out);

/* non-secure, authenticated, encrypted */
const char *pt_security_mode_name(Pt__DeviceSecurityMode v);
int pt_security_mode_parse(const char *s, Pt__DeviceSecurityMode *out);

/* tcp, udp, tcp+udp, tls */
const char *pt_transport_name(Pt__Transport v);
int pt_transport_parse(const char *s, Pt__Transport *out);

/* default, enabled, disabled */
const char *pt_toggle_name(Pt__Toggle v);
int pt_toggle_parse(const char *s, Pt__Toggle *out);

/* capf, callmanager, tvs, tftp, sast, itl-recovery, legacy-capf,
 * app-server */
const char *pt_trust_purpose_name(Pt__TrustPurpose v);
int pt_trust_purpose_parse(const char *s, Pt__TrustPurpose *out);

/* publisher, subscriber */
const char *pt_role_name(Pt__NodeRole v);
int pt_role_parse(const char *s, Pt__NodeRole *out);

/* non-secure, mixed */
const char *pt_cluster_mode_name(Pt__ClusterSecurityMode v);
int pt_cluster_mode_parse(const char *s, Pt__ClusterSecurityMode *out);

#endif
