/* Phone security profile rules (pure).
 *
 * Predefined profiles: one "Cisco <model> - Standard <SCCP|SIP> Non-Secure
 * Profile" per model of the model table and protocol it speaks, plus two
 * model-independent ones, one per protocol:
 *   SIP:  "Universal Device Template - Model-independent Security Profile"
 *         (the name the seeds use for universal device templates),
 *   SCCP: "Universal Device Template - Model-independent SCCP Security
 *         Profile", so that an SCCP device of a model outside the table
 *         still has a non-secure default.
 * They cannot be changed or deleted (copy them instead), and their names
 * are reserved even on a store where they have not been seeded yet.
 *
 * Defaults of a new profile (pt_profile_init), chosen after the seeds'
 * administration pages: non-secure mode, no TFTP encrypted configuration,
 * CAPF authentication by null string, key order RSA only, RSA 2048 bits,
 * EC 384 bits; SIP adds transport TCP+UDP, digest authentication off,
 * digest credentials included, nonce validity 600 s, SIP port 5060,
 * nonsecure call indication off.  SCCP profiles keep every SIP-only field
 * at zero.
 */
#ifndef PT_LIB_PROFILES_H
#define PT_LIB_PROFILES_H

#include <stdbool.h>
#include <stddef.h>

#include "records.pb-c.h"

#define PT_PROFILE_UNIVERSAL_SIP                                              \
	"Universal Device Template - Model-independent Security Profile"
#define PT_PROFILE_UNIVERSAL_SCCP                                             \
	"Universal Device Template - Model-independent SCCP Security Profile"

#define PT_PROFILE_DEFAULT_KEY_SIZE 2048u
#define PT_PROFILE_DEFAULT_EC_KEY_SIZE 384u
#define PT_PROFILE_DEFAULT_NONCE_SECONDS 600u
#define PT_PROFILE_NONCE_MIN 15u
#define PT_PROFILE_NONCE_MAX 86400u
#define PT_PROFILE_DEFAULT_SIP_PORT 5060u
#define PT_PROFILE_SIP_PORT_MIN 1024u
#define PT_PROFILE_SIP_PORT_MAX 65535u

/* Initialises *profile (pt__profile__init) and sets the defaults of a new
 * profile of protocol (see above).  Strings stay the empty default; the
 * caller sets name, description and model with malloc'd copies. */
void pt_profile_init(Pt__Profile *profile, Pt__Protocol protocol);

/* Number of predefined profiles and a newly allocated copy of the i-th
 * (free with pt_record_free / protobuf_c_message_free_unpacked).
 * PT_ERR_NOT_FOUND when i is out of range, PT_ERR_NOMEM. */
size_t pt_profile_predefined_count(void);
int pt_profile_predefined_build(size_t i, Pt__Profile **out);

/* True when name is the name of a predefined profile (exact match). */
bool pt_profile_name_reserved(const char *name);

/* Name of the predefined non-secure profile for model and protocol, or of
 * the universal one of that protocol when the model is unknown, NULL or
 * empty.  Writes into buf.  PT_ERR_INVALID when the protocol is not SCCP
 * or SIP or the model is known but does not speak it; PT_ERR_TOO_LARGE
 * when buf is too small (128 bytes always suffice). */
int pt_profile_default_name(const char *model, Pt__Protocol protocol,
			    char *buf, size_t len);

/* Checks a profile's settings against each other and the seeds' ranges:
 * name and description, protocol SCCP or SIP, model empty or a model of
 * the table that speaks the protocol, an explicit authentication mode,
 * RSA and EC key sizes, EC key orders only for models that hold EC keys;
 * SIP: TLS transport exactly when the mode is authenticated or encrypted,
 * nonce validity 15-86400 s, SIP port 1024-65535; SCCP: every SIP-only
 * field zero.  PT_ERR_INVALID with a static reason in *why. */
int pt_profile_validate(const Pt__Profile *profile, const char **why);

/* Whether a device of this model and protocol may use the profile:
 * protocol must match; a model-specific profile needs the same model
 * (compared through the model table, so "Cisco 7975" matches "7975"); an
 * EC-only profile needs a model that holds EC keys when the model is
 * known.  PT_ERR_INVALID with a static reason in *why. */
int pt_profile_accepts(const Pt__Profile *profile, const char *model,
		       Pt__Protocol protocol, const char **why);

#endif
