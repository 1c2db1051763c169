/* Device rules (pure): administrator input -> a validated Pt__Device.
 *
 * Input arrives as text (from CLI options or CSV cells) so that both paths
 * share one parser and one set of messages.  A NULL field was not given:
 * a new device takes the default, an existing one keeps its value.  An
 * empty string resets an optional field to its default (no description,
 * the profile's auth mode or key size, the default profile, no auth
 * string, no digest user).
 *
 * Building is two steps because the profile lives in the store:
 * pt_device_rules_target() settles model, protocol and the profile's name;
 * the caller looks that profile up and passes it to pt_device_rules_build().
 *
 * Decisions (documented here once):
 * - A model phonetrust does not know (pt_model_find) is accepted when the
 *   protocol is given or already on the device; such a device defaults to
 *   the universal profile.  Known models are stored under their canonical
 *   name and must speak the protocol.  A known model that speaks one
 *   protocol implies it.
 * - On update, a device still on the default profile of its old model and
 *   protocol follows a model/protocol change to the new default; any other
 *   profile stays and must accept the new combination.
 * - An auth string is required when the operation is not none and the
 *   effective auth mode (the device's, else the profile's) is string.  One
 *   given for another mode is kept: it is harmless.
 * - Setting an operation (one that differs from the current one, or any
 *   operation when none is pending) makes its status pending and, without
 *   completes_by, sets completes_by to now + capf_operation_expires_days.
 *   Setting the operation to none clears completes_by and cancels a pending
 *   status; completes_by without an operation is refused.
 * - digest_user and the digest password are for SIP devices only; the
 *   password is sealed (device_secrets.h) and never shown.
 * - A manual symmetric key must have the length the model takes
 *   (symkey.h); it is stored sealed in lower case.  A model change that
 *   would leave a key of the wrong length is refused.
 */
#ifndef PT_LIB_DEVICE_RULES_H
#define PT_LIB_DEVICE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/models.h"
#include "lib/seal.h"
#include "lib/validate.h"
#include "records.pb-c.h"

#define PT_MODEL_TEXT_MAX 64
/* Digits of a generated auth string (within 4-10). */
#define PT_AUTH_STRING_GENERATED 8

typedef struct pt_device_input {
	const char *name; /* required */
	const char *description;
	const char *model;
	const char *protocol;         /* sccp | sip */
	const char *security_profile;
	const char *operation;        /* none | install | delete | troubleshoot */
	const char *auth_mode;        /* string | null | lsc | mic | "" */
	const char *auth_string;      /* 4-10 digits, in clear */
	const char *key_size;         /* 512 | 1024 | 2048 | 3072 | 4096 */
	const char *key_type;         /* rsa | ec */
	const char *ec_curve;         /* 256 | 384 | 521 */
	const char *completes_by;     /* YYYY-MM-DDTHH:MM:SSZ */
	const char *web_access;       /* default | enabled | disabled */
	const char *settings_access;
	const char *gratuitous_arp;
	const char *pc_port;
	const char *pc_voice_vlan_access;
	const char *digest_user;
	const char *digest_password;  /* in clear; SIP devices only */
	const char *symmetric_key;    /* hex, in clear (symkey.h) */
} pt_device_input_t;

typedef struct pt_device_error {
	const char *field; /* input field / CSV column, static; may be NULL */
	char reason[240];
} pt_device_error_t;

typedef struct pt_device_target {
	char model[PT_MODEL_TEXT_MAX + 1];      /* canonical when known */
	const pt_model_t *known;                /* NULL for an unknown model */
	Pt__Protocol protocol;
	char profile[PT_PROFILE_NAME_MAX * 4 + 1]; /* UTF-8 */
} pt_device_target_t;

typedef struct pt_device_env {
	const Pt__Profile *profile;  /* the target's profile (borrowed) */
	const Pt__Cluster *cluster;  /* parameters; NULL for defaults */
	const pt_data_key_t *key;    /* NULL: refuse to seal or open */
	int64_t now;                 /* UTC seconds */
	/* Accept a missing required auth string: the caller sets one with
	 * pt_device_set_auth_string() afterwards (generated strings). */
	bool defer_auth_string;
} pt_device_env_t;

/* Validates the name and settles model, protocol and profile name from in
 * and existing (NULL for a new device).  PT_ERR_INVALID with *err filled
 * on refusal. */
int pt_device_rules_target(const pt_device_input_t *in,
			   const Pt__Device *existing, pt_device_target_t *t,
			   pt_device_error_t *err);

/* Builds the device: a copy of existing with the given fields changed, or
 * a new one.  Checks every rule against env->profile (which must be the
 * target's).  On PT_OK *out is newly allocated (pt_record_free); on
 * refusal PT_ERR_INVALID, *err filled, *out NULL.  Other errors:
 * PT_ERR_NOMEM, PT_ERR_CRYPTO, PT_ERR_AUTH (existing secret does not open
 * with env->key). */
int pt_device_rules_build(const pt_device_input_t *in,
			  const Pt__Device *existing,
			  const pt_device_target_t *t,
			  const pt_device_env_t *env, Pt__Device **out,
			  pt_device_error_t *err);

/* The CAPF settings in force once the profile's defaults are applied. */
typedef struct pt_capf_effective {
	Pt__CapfOperation operation;
	Pt__CapfAuthMode auth_mode; /* never UNSPECIFIED */
	bool auth_mode_from_profile;
	uint32_t key_size;          /* RSA bits */
	bool key_size_from_profile;
	Pt__KeyType key_type;       /* never UNSPECIFIED */
	uint32_t ec_bits;           /* 0 unless key_type is EC */
} pt_capf_effective_t;

/* profile may be NULL (a profile that vanished): built-in defaults then. */
void pt_device_capf_effective(const Pt__Device *dev,
			      const Pt__Profile *profile,
			      pt_capf_effective_t *out);

/* True when the device's operation needs an auth string it lacks. */
bool pt_device_needs_auth_string(const Pt__Device *dev,
				 const Pt__Profile *profile);

/* The additional authenticated data binding a device's auth string:
 * "device/<name>/auth_string".  Returns buf. */
char *pt_device_auth_string_aad(const char *name, char *buf, size_t len);

/* Seals digits (already validated) as dev's auth string, replacing any. */
int pt_device_set_auth_string(Pt__Device *dev, const pt_data_key_t *key,
			      const char *digits);

/* Opens dev's auth string into out (NUL-terminated).  PT_ERR_NOT_FOUND
 * when it has none; PT_ERR_AUTH / PT_ERR_CORRUPT when it does not open. */
int pt_device_open_auth_string(const Pt__Device *dev, const pt_data_key_t *key,
			       char out[PT_AUTH_STRING_MAX + 1]);

/* Writes `digits` uniformly random decimal digits (4-10) and a NUL into
 * out, from OpenSSL's RAND_bytes.  PT_ERR_CRYPTO if the RNG fails. */
int pt_device_auth_string_generate(char *out, size_t digits);

/* A deep copy (pt_record_free). */
int pt_device_copy(const Pt__Device *src, Pt__Device **out);

/* True when a and b hold the same record apart from the `updated` time. */
bool pt_device_equal(const Pt__Device *a, const Pt__Device *b);

/* The LSC status as the CAPF report shows it, written into buf:
 * "pending install|delete|troubleshoot", "failed: <reason>",
 * "installed until YYYY-MM-DD", "expired YYYY-MM-DD", or "none". */
char *pt_device_lsc_status(const Pt__Device *dev, int64_t now, char *buf,
			   size_t len);

#endif
