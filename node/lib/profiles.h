/* Phone security profile rules (pure).
 *
 * Predefined profiles: one "Cisco <model> - Standard <SCCP|SIP> Non-Secure
 * Profile" per model and protocol it speaks, plus the model-independent
 * "Universal Device Template - Model-independent Security Profile" for
 * each protocol.  They cannot be changed or deleted.
 */
#ifndef PT_LIB_PROFILES_H
#define PT_LIB_PROFILES_H

#include <stddef.h>

#include "records.pb-c.h"

/* Number of predefined profiles and a newly allocated copy of the i-th
 * (free with pt_record_free / protobuf_c_message_free_unpacked). */
size_t pt_profile_predefined_count(void);
int pt_profile_predefined_build(size_t i, Pt__Profile **out);

/* Name of the predefined non-secure profile for model and protocol, or of
 * the universal one when the model is unknown.  Writes into buf. */
int pt_profile_default_name(const char *model, Pt__Protocol protocol,
			    char *buf, size_t len);

/* Checks a profile's settings against each other and the seeds' ranges
 * (e.g. encrypted mode needs TLS for SIP, digest options are SIP-only,
 * key sizes valid). */
int pt_profile_validate(const Pt__Profile *profile, const char **why);

/* Whether a device of this model and protocol may use the profile
 * (protocol must match; a model-specific profile needs the same model). */
int pt_profile_accepts(const Pt__Profile *profile, const char *model,
		       Pt__Protocol protocol, const char **why);

#endif
