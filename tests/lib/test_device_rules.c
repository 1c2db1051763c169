#include <stdlib.h>
#include <string.h>

#include "lib/device_rules.h"
#include "lib/device_secrets.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "lib/profiles.h"
#include "pt_test.h"

#define NOW 1800000000 /* 2027-01-15 */

static pt_data_key_t key;

static void setup(void)
{
	memset(key.bytes, 0x5a, sizeof key.bytes);
}

/* A predefined profile by name, or NULL. */
static Pt__Profile *predefined(const char *name)
{
	for (size_t i = 0; i < pt_profile_predefined_count(); i++) {
		Pt__Profile *p = NULL;
		ck_assert_int_eq(pt_profile_predefined_build(i, &p), PT_OK);
		if (strcmp(p->name, name) == 0)
			return p;
		pt__profile__free_unpacked(p, NULL);
	}
	return NULL;
}

/* An administrator profile for any model of protocol, CAPF by string. */
static Pt__Profile *string_profile(Pt__Protocol protocol, Pt__KeyOrder order)
{
	Pt__Profile *p = malloc(sizeof *p);
	pt_profile_init(p, protocol);
	p->name = strdup("Secure by string");
	p->auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	p->key_order = order;
	return p;
}

static void free_profile(Pt__Profile *p)
{
	pt__profile__free_unpacked(p, NULL);
}

/* Settles the target, checks the profile is the one expected, builds. */
static int build(const pt_device_input_t *in, const Pt__Device *existing,
		 const Pt__Profile *profile, Pt__Device **out,
		 pt_device_error_t *err)
{
	pt_device_target_t t;
	int r = pt_device_rules_target(in, existing, &t, err);
	if (r != PT_OK)
		return r;
	pt_device_env_t env = {.profile = profile, .key = &key, .now = NOW};
	return pt_device_rules_build(in, existing, &t, &env, out, err);
}

static void free_device(Pt__Device **d)
{
	if (*d)
		pt__device__free_unpacked(*d, NULL);
	*d = NULL;
}

START_TEST(target_model_and_protocol)
{
	pt_device_target_t t;
	pt_device_error_t err;
	pt_device_input_t in = {.name = "SEP001122334455", .model = "Cisco 7975",
				.protocol = "sccp"};
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err), PT_OK);
	ck_assert_str_eq(t.model, "7975");
	ck_assert_ptr_nonnull(t.known);
	ck_assert_int_eq(t.protocol, PT__PROTOCOL__PROTOCOL_SCCP);
	ck_assert_str_eq(t.profile,
			 "Cisco 7975 - Standard SCCP Non-Secure Profile");

	/* A model that speaks one protocol implies it. */
	in = (pt_device_input_t){.name = "SEP001122334455", .model = "8841"};
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err), PT_OK);
	ck_assert_int_eq(t.protocol, PT__PROTOCOL__PROTOCOL_SIP);

	in.model = "7975";
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "protocol");

	in = (pt_device_input_t){.name = "SEP001122334455", .model = "8841",
				 .protocol = "SCCP"};
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "does not speak SCCP"));

	in.protocol = "h323";
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "protocol");
}
END_TEST

START_TEST(target_unknown_model)
{
	pt_device_target_t t;
	pt_device_error_t err;
	pt_device_input_t in = {.name = "CTIPort-1", .model = "Softphone X"};
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "give the protocol"));
	in.protocol = "sip";
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err), PT_OK);
	ck_assert_ptr_null(t.known);
	ck_assert_str_eq(t.model, "Softphone X");
	ck_assert_str_eq(t.profile, PT_PROFILE_UNIVERSAL_SIP);
}
END_TEST

START_TEST(target_refusals)
{
	pt_device_target_t t;
	pt_device_error_t err;
	pt_device_input_t in = {.name = "SEP0011", .model = "7975",
				.protocol = "sccp"};
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "name");
	in.name = "bad name";
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	in.name = "SEP001122334455";
	in.model = NULL;
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "model");
	in.model = "bad\tmodel";
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	in.model = "7975";
	in.security_profile = " padded";
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "security_profile");
}
END_TEST

START_TEST(new_device_defaults)
{
	Pt__Profile *prof =
		predefined("Cisco 7975 - Standard SCCP Non-Secure Profile");
	ck_assert_ptr_nonnull(prof);
	pt_device_input_t in = {.name = "SEP001122334455", .model = "7975",
				.protocol = "SCCP", .description = "lobby"};
	Pt__Device *d = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_OK);
	ck_assert_str_eq(d->name, "SEP001122334455");
	ck_assert_str_eq(d->description, "lobby");
	ck_assert_str_eq(d->security_profile, prof->name);
	ck_assert_int_eq(d->created, NOW);
	ck_assert_int_eq(d->updated, NOW);
	ck_assert_ptr_nonnull(d->capf);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_NONE);
	ck_assert_int_eq(d->capf->completes_by, 0);
	ck_assert_ptr_null(d->capf->auth_string);

	pt_capf_effective_t eff;
	pt_device_capf_effective(d, prof, &eff);
	ck_assert_int_eq(eff.auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL);
	ck_assert(eff.auth_mode_from_profile);
	ck_assert_uint_eq(eff.key_size, 2048);
	ck_assert(eff.key_size_from_profile);
	ck_assert_int_eq(eff.key_type, PT__KEY_TYPE__KEY_TYPE_RSA);
	ck_assert_uint_eq(eff.ec_bits, 0);
	free_device(&d);

	/* The profile handed in must be the target's. */
	Pt__Profile *other = predefined(PT_PROFILE_UNIVERSAL_SCCP);
	ck_assert_int_eq(build(&in, NULL, other, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_null(d);
	free_profile(other);
	free_profile(prof);
}
END_TEST

START_TEST(profile_must_accept_device)
{
	Pt__Profile *sip = predefined(PT_PROFILE_UNIVERSAL_SIP);
	pt_device_input_t in = {.name = "SEP001122334455", .model = "7975",
				.protocol = "sccp",
				.security_profile = PT_PROFILE_UNIVERSAL_SIP};
	Pt__Device *d = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, sip, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "security_profile");
	ck_assert_ptr_nonnull(strstr(err.reason, "SIP"));
	/* A missing profile (lookup found nothing). */
	ck_assert_int_eq(build(&in, NULL, NULL, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "does not exist"));
	free_profile(sip);
}
END_TEST

START_TEST(key_rules)
{
	Pt__Profile *rsa = string_profile(PT__PROTOCOL__PROTOCOL_SIP,
					  PT__KEY_ORDER__KEY_ORDER_RSA_ONLY);
	Pt__Profile *ecp = string_profile(PT__PROTOCOL__PROTOCOL_SIP,
					  PT__KEY_ORDER__KEY_ORDER_EC_PREFERRED);
	Pt__Profile *eco = string_profile(PT__PROTOCOL__PROTOCOL_SIP,
					  PT__KEY_ORDER__KEY_ORDER_EC_ONLY);
	pt_device_input_t in = {.name = "SEP001122334455", .model = "8841",
				.security_profile = "Secure by string",
				.key_size = "768"};
	Pt__Device *d = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, rsa, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "key_size");
	ck_assert_ptr_nonnull(strstr(err.reason, "768"));
	in.key_size = "2k";
	ck_assert_int_eq(build(&in, NULL, rsa, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "key_size");
	in.key_size = "4096";
	in.key_type = "ec";
	ck_assert_int_eq(build(&in, NULL, rsa, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "RSA keys only"));
	in.key_type = "rsa";
	ck_assert_int_eq(build(&in, NULL, eco, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "EC keys only"));
	in.ec_curve = "384";
	ck_assert_int_eq(build(&in, NULL, ecp, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "ec_curve");
	in.key_type = "ec";
	in.ec_curve = "512";
	ck_assert_int_eq(build(&in, NULL, ecp, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "ec_curve");
	in.ec_curve = "521";
	ck_assert_int_eq(build(&in, NULL, ecp, &d, &err), PT_OK);
	ck_assert_uint_eq(d->capf->key_size, 4096);
	ck_assert_int_eq(d->capf->key_type, PT__KEY_TYPE__KEY_TYPE_EC);
	ck_assert_uint_eq(d->capf->ec_curve_bits, 521);
	pt_capf_effective_t eff;
	pt_device_capf_effective(d, ecp, &eff);
	ck_assert(!eff.key_size_from_profile);
	ck_assert_uint_eq(eff.ec_bits, 521);
	free_device(&d);

	/* Unset key type under an EC-preferred profile means EC with the
	 * profile's curve. */
	in.key_type = NULL;
	in.ec_curve = NULL;
	ck_assert_int_eq(build(&in, NULL, ecp, &d, &err), PT_OK);
	pt_device_capf_effective(d, ecp, &eff);
	ck_assert_int_eq(eff.key_type, PT__KEY_TYPE__KEY_TYPE_EC);
	ck_assert_uint_eq(eff.ec_bits, 384);
	free_device(&d);

	/* A model without EC support. */
	Pt__Profile *sccp = string_profile(PT__PROTOCOL__PROTOCOL_SCCP,
					   PT__KEY_ORDER__KEY_ORDER_EC_PREFERRED);
	in = (pt_device_input_t){.name = "SEP001122334455", .model = "7975",
				 .protocol = "sccp", .key_type = "ec",
				 .security_profile = "Secure by string"};
	ck_assert_int_eq(build(&in, NULL, sccp, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "cannot hold an EC key"));
	free_profile(sccp);
	free_profile(rsa);
	free_profile(ecp);
	free_profile(eco);
}
END_TEST

START_TEST(operation_sets_pending_and_deadline)
{
	Pt__Profile *prof = predefined(PT_PROFILE_UNIVERSAL_SIP);
	pt_device_input_t in = {.name = "SEP001122334455", .model = "8841",
				.security_profile = PT_PROFILE_UNIVERSAL_SIP,
				.operation = "install"};
	Pt__Device *d = NULL, *again = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_OK);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_PENDING);
	ck_assert_int_eq(d->capf->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(d->capf->completes_by, NOW + 10 * 86400);
	char buf[64];
	ck_assert_str_eq(pt_device_lsc_status(d, NOW, buf, sizeof buf),
			 "pending install");

	/* Setting the same operation again changes nothing. */
	pt_device_input_t same = {.name = d->name, .operation = "install"};
	pt_device_target_t t;
	ck_assert_int_eq(pt_device_rules_target(&same, d, &t, &err), PT_OK);
	pt_device_env_t env = {.profile = prof, .key = &key, .now = NOW + 60};
	ck_assert_int_eq(pt_device_rules_build(&same, d, &t, &env, &again, &err),
			 PT_OK);
	ck_assert(pt_device_equal(d, again));
	ck_assert_int_eq(again->updated, NOW + 60);
	free_device(&again);

	/* A cluster parameter changes the default deadline. */
	Pt__Cluster *cluster = malloc(sizeof *cluster);
	pt__cluster__init(cluster);
	const char *why = NULL;
	ck_assert_int_eq(pt_param_set(cluster, PT_PARAM_CAPF_OP_EXPIRES_DAYS,
				      "3", &why),
			 PT_OK);
	pt_device_input_t del = {.name = d->name, .operation = "delete"};
	env.cluster = cluster;
	ck_assert_int_eq(pt_device_rules_target(&del, d, &t, &err), PT_OK);
	ck_assert_int_eq(pt_device_rules_build(&del, d, &t, &env, &again, &err),
			 PT_OK);
	ck_assert_int_eq(again->capf->completes_by, NOW + 60 + 3 * 86400);
	ck_assert_int_eq(again->capf->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_DELETE);
	free_device(&again);
	pt__cluster__free_unpacked(cluster, NULL);

	/* Cancelling: none clears the deadline and the pending status. */
	pt_device_input_t none = {.name = d->name, .operation = "none"};
	env.cluster = NULL;
	ck_assert_int_eq(pt_device_rules_target(&none, d, &t, &err), PT_OK);
	ck_assert_int_eq(pt_device_rules_build(&none, d, &t, &env, &again, &err),
			 PT_OK);
	ck_assert_int_eq(again->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(again->capf->status, PT__CAPF_STATUS__CAPF_STATUS_NONE);
	ck_assert_int_eq(again->capf->completes_by, 0);
	ck_assert_str_eq(pt_device_lsc_status(again, NOW, buf, sizeof buf),
			 "none");
	free_device(&again);
	free_device(&d);
	free_profile(prof);
}
END_TEST

START_TEST(completes_by_rules)
{
	Pt__Profile *prof = predefined(PT_PROFILE_UNIVERSAL_SIP);
	pt_device_input_t in = {.name = "SEP001122334455", .model = "8841",
				.security_profile = PT_PROFILE_UNIVERSAL_SIP,
				.operation = "troubleshoot",
				.completes_by = "2020-01-01T00:00:00Z"};
	Pt__Device *d = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "completes_by");
	ck_assert_ptr_nonnull(strstr(err.reason, "in the past"));
	in.completes_by = "31/01/2027";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "ISO 8601"));
	in.completes_by = "2027-01-31T17:00:00Z";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_OK);
	int64_t want;
	ck_assert_int_eq(pt_time_parse_utc("2027-01-31T17:00:00Z", &want),
			 PT_OK);
	ck_assert_int_eq(d->capf->completes_by, want);
	free_device(&d);
	in.operation = "none";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "needs an operation"));
	in.operation = "upgrade";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_OK);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	free_device(&d);
	in.operation = "reboot";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "operation");
	free_profile(prof);
}
END_TEST

START_TEST(auth_string_rules)
{
	Pt__Profile *prof = string_profile(PT__PROTOCOL__PROTOCOL_SIP,
					   PT__KEY_ORDER__KEY_ORDER_RSA_ONLY);
	pt_device_input_t in = {.name = "SEP001122334455", .model = "8841",
				.security_profile = "Secure by string",
				.operation = "install"};
	Pt__Device *d = NULL, *d2 = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "auth_string");
	in.auth_string = "123";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "auth_string");
	in.auth_string = "12a4";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "digits"));
	in.auth_string = "12345678901";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_ERR_INVALID);

	in.auth_string = "9081726354";
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_OK);
	ck_assert_ptr_nonnull(d->capf->auth_string);
	char clear[PT_AUTH_STRING_MAX + 1];
	ck_assert_int_eq(pt_device_open_auth_string(d, &key, clear), PT_OK);
	ck_assert_str_eq(clear, "9081726354");
	/* Bound to the device: the same sealed value under another name
	 * does not open. */
	char *name = d->name;
	d->name = "SEP00112233445F";
	ck_assert_int_eq(pt_device_open_auth_string(d, &key, clear),
			 PT_ERR_AUTH);
	d->name = name;
	/* Never in clear in the record. */
	size_t len = pt__device__get_packed_size(d);
	uint8_t *packed = malloc(len);
	pt__device__pack(d, packed);
	ck_assert_ptr_null(memmem(packed, len, "9081726354", 10));
	free(packed);

	/* Giving the same string again keeps the sealed value. */
	pt_device_input_t same = {.name = d->name, .auth_string = "9081726354"};
	ck_assert_int_eq(build(&same, d, prof, &d2, &err), PT_OK);
	ck_assert(pt_device_equal(d, d2));
	free_device(&d2);
	same.auth_string = "1111";
	ck_assert_int_eq(build(&same, d, prof, &d2, &err), PT_OK);
	ck_assert(!pt_device_equal(d, d2));
	ck_assert_int_eq(pt_device_open_auth_string(d2, &key, clear), PT_OK);
	ck_assert_str_eq(clear, "1111");
	free_device(&d2);
	/* Clearing it while the install is pending is refused. */
	same.auth_string = "";
	ck_assert_int_eq(build(&same, d, prof, &d2, &err), PT_ERR_INVALID);
	/* ... unless the mode no longer needs one. */
	same.auth_mode = "null";
	ck_assert_int_eq(build(&same, d, prof, &d2, &err), PT_OK);
	ck_assert_ptr_null(d2->capf->auth_string);
	ck_assert_int_eq(pt_device_open_auth_string(d2, &key, clear),
			 PT_ERR_NOT_FOUND);
	free_device(&d2);
	free_device(&d);

	/* Without a data key nothing can be sealed. */
	pt_device_target_t t;
	ck_assert_int_eq(pt_device_rules_target(&in, NULL, &t, &err), PT_OK);
	pt_device_env_t env = {.profile = prof, .now = NOW};
	ck_assert_int_eq(pt_device_rules_build(&in, NULL, &t, &env, &d, &err),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err.reason, "data key"));

	/* Deferred: built without a string, then one is set. */
	in.auth_string = NULL;
	env.key = &key;
	env.defer_auth_string = true;
	ck_assert_int_eq(pt_device_rules_build(&in, NULL, &t, &env, &d, &err),
			 PT_OK);
	ck_assert(pt_device_needs_auth_string(d, prof));
	char gen[PT_AUTH_STRING_MAX + 1];
	ck_assert_int_eq(pt_device_auth_string_generate(gen, 8), PT_OK);
	ck_assert_int_eq(pt_device_set_auth_string(d, &key, gen), PT_OK);
	ck_assert(!pt_device_needs_auth_string(d, prof));
	ck_assert_int_eq(pt_device_open_auth_string(d, &key, clear), PT_OK);
	ck_assert_str_eq(clear, gen);
	free_device(&d);
	free_profile(prof);
}
END_TEST

START_TEST(generated_strings)
{
	char s[PT_AUTH_STRING_MAX + 1];
	int seen[10] = {0};
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(pt_device_auth_string_generate(s, 8), PT_OK);
		ck_assert_uint_eq(strlen(s), 8);
		ck_assert_int_eq(pt_validate_auth_string(s, NULL), PT_OK);
		for (int k = 0; k < 8; k++)
			seen[s[k] - '0']++;
	}
	/* 1600 digits: each of the ten appears (a miss is ~1e-70 likely). */
	for (int k = 0; k < 10; k++)
		ck_assert_int_gt(seen[k], 0);
	ck_assert_int_eq(pt_device_auth_string_generate(s, 3), PT_ERR_INVALID);
	ck_assert_int_eq(pt_device_auth_string_generate(s, 11), PT_ERR_INVALID);
	ck_assert_int_eq(pt_device_auth_string_generate(s, 10), PT_OK);
	ck_assert_uint_eq(strlen(s), 10);
}
END_TEST

START_TEST(update_changes_only_given_fields)
{
	Pt__Profile *prof = predefined("Cisco 7975 - Standard SCCP Non-Secure "
				       "Profile");
	pt_device_input_t in = {.name = "SEP001122334455", .model = "7975",
				.protocol = "sccp", .description = "first",
				.key_size = "1024", .web_access = "disabled"};
	Pt__Device *d = NULL, *d2 = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, prof, &d, &err), PT_OK);
	pt_device_input_t up = {.name = d->name, .pc_port = "enabled"};
	ck_assert_int_eq(build(&up, d, prof, &d2, &err), PT_OK);
	ck_assert_str_eq(d2->description, "first");
	ck_assert_uint_eq(d2->capf->key_size, 1024);
	ck_assert_int_eq(d2->hardening->web_access, PT__TOGGLE__TOGGLE_DISABLED);
	ck_assert_int_eq(d2->hardening->pc_port, PT__TOGGLE__TOGGLE_ENABLED);
	ck_assert_int_eq(d2->created, d->created);
	free_device(&d2);
	/* Empty strings reset to defaults. */
	up = (pt_device_input_t){.name = d->name, .description = "",
				 .key_size = "", .web_access = ""};
	ck_assert_int_eq(build(&up, d, prof, &d2, &err), PT_OK);
	ck_assert_str_eq(d2->description, "");
	ck_assert_uint_eq(d2->capf->key_size, 0);
	ck_assert_int_eq(d2->hardening->web_access, PT__TOGGLE__TOGGLE_DEFAULT);
	free_device(&d2);
	up = (pt_device_input_t){.name = d->name, .settings_access = "maybe"};
	ck_assert_int_eq(build(&up, d, prof, &d2, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "settings_access");
	up = (pt_device_input_t){.name = d->name, .description = "bad\x01"};
	ck_assert_int_eq(build(&up, d, prof, &d2, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "description");
	free_device(&d);
	free_profile(prof);
}
END_TEST

START_TEST(profile_follows_model_change)
{
	Pt__Profile *p75 = predefined("Cisco 7975 - Standard SIP Non-Secure "
				      "Profile");
	pt_device_input_t in = {.name = "SEP001122334455", .model = "7975",
				.protocol = "sip"};
	Pt__Device *d = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, p75, &d, &err), PT_OK);
	pt_device_target_t t;
	pt_device_input_t up = {.name = d->name, .model = "8841"};
	ck_assert_int_eq(pt_device_rules_target(&up, d, &t, &err), PT_OK);
	ck_assert_str_eq(t.profile,
			 "Cisco 8841 - Standard SIP Non-Secure Profile");
	/* A profile the administrator chose stays. */
	char *old = d->security_profile;
	d->security_profile = "Secure by string";
	ck_assert_int_eq(pt_device_rules_target(&up, d, &t, &err), PT_OK);
	ck_assert_str_eq(t.profile, "Secure by string");
	d->security_profile = old;
	free_device(&d);
	free_profile(p75);
}
END_TEST

START_TEST(digest_user_is_sip_only)
{
	Pt__Profile *sccp = predefined(PT_PROFILE_UNIVERSAL_SCCP);
	Pt__Profile *sip = predefined(PT_PROFILE_UNIVERSAL_SIP);
	pt_device_input_t in = {.name = "CTI_1", .model = "Other",
				.protocol = "sccp", .digest_user = "alice"};
	Pt__Device *d = NULL;
	pt_device_error_t err;
	ck_assert_int_eq(build(&in, NULL, sccp, &d, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "digest_user");
	in.protocol = "sip";
	ck_assert_int_eq(build(&in, NULL, sip, &d, &err), PT_OK);
	ck_assert_str_eq(d->digest_user, "alice");
	free_device(&d);
	in.digest_user = "two words";
	ck_assert_int_eq(build(&in, NULL, sip, &d, &err), PT_ERR_INVALID);
	free_profile(sccp);
	free_profile(sip);
}
END_TEST

START_TEST(digest_password_is_sealed_and_sip_only)
{
	Pt__Profile *sccp = predefined(PT_PROFILE_UNIVERSAL_SCCP);
	Pt__Profile *sip = predefined(PT_PROFILE_UNIVERSAL_SIP);
	pt_device_input_t in = {.name = "SEP0011223344AA", .model = "Other",
				.protocol = "sip", .digest_user = "alice",
				.digest_password = "s3cret pass"};
	Pt__Device *d = NULL, *again = NULL;
	pt_device_error_t err;
	char out[PT_DIGEST_PASSWORD_MAX + 1];

	ck_assert_int_eq(build(&in, NULL, sip, &d, &err), PT_OK);
	ck_assert_ptr_nonnull(d->digest_credentials);
	ck_assert_ptr_null(memmem(d->digest_credentials->ciphertext.data,
				  d->digest_credentials->ciphertext.len,
				  "s3cret", 6));
	ck_assert_int_eq(pt_device_secret_open(d, PT_DEVICE_SECRET_DIGEST_PASSWORD,
					       &key, out, sizeof out), PT_OK);
	ck_assert_str_eq(out, "s3cret pass");

	/* Bound to its device and field: another name does not open it. */
	free(d->name);
	d->name = strdup("SEP0011223344AB");
	ck_assert_int_eq(pt_device_secret_open(d, PT_DEVICE_SECRET_DIGEST_PASSWORD,
					       &key, out, sizeof out), PT_ERR_AUTH);
	free(d->name);
	d->name = strdup("SEP0011223344AA");

	/* The same password again is not a change (no new nonce). */
	pt_device_input_t same = {.name = "SEP0011223344AA",
				  .digest_password = "s3cret pass"};
	ck_assert_int_eq(build(&same, d, sip, &again, &err), PT_OK);
	ck_assert(pt_device_equal(d, again));
	free_device(&again);

	/* Empty clears; bad text is refused. */
	same.digest_password = "";
	ck_assert_int_eq(build(&same, d, sip, &again, &err), PT_OK);
	ck_assert_ptr_null(again->digest_credentials);
	free_device(&again);
	char ctl[] = {'a', 0x01, 'b', 0};
	same.digest_password = ctl;
	ck_assert_int_eq(build(&same, d, sip, &again, &err), PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "digest_password");
	ck_assert_ptr_null(again);

	/* SCCP devices have no digest credentials. */
	pt_device_input_t to_sccp = {.name = "SEP0011223344AA",
				     .protocol = "sccp", .digest_user = ""};
	ck_assert_int_eq(build(&to_sccp, d, sccp, &again, &err),
			 PT_ERR_INVALID);
	ck_assert_str_eq(err.field, "digest_password");
	free_device(&d);
	free_profile(sccp);
	free_profile(sip);
}
END_TEST

START_TEST(lsc_status_texts)
{
	Pt__Device d = PT__DEVICE__INIT;
	Pt__CapfSettings c = PT__CAPF_SETTINGS__INIT;
	Pt__Certificate lsc = PT__CERTIFICATE__INIT;
	char buf[128];
	ck_assert_str_eq(pt_device_lsc_status(&d, NOW, buf, sizeof buf), "none");
	d.lsc = &lsc;
	lsc.not_after = NOW + 86400;
	ck_assert_str_eq(pt_device_lsc_status(&d, NOW, buf, sizeof buf),
			 "installed until 2027-01-16");
	lsc.not_after = NOW - 86400;
	ck_assert_str_eq(pt_device_lsc_status(&d, NOW, buf, sizeof buf),
			 "expired 2027-01-14");
	d.capf = &c;
	c.status = PT__CAPF_STATUS__CAPF_STATUS_FAILED;
	c.status_reason = "phone did not answer";
	ck_assert_str_eq(pt_device_lsc_status(&d, NOW, buf, sizeof buf),
			 "failed: phone did not answer");
	c.status = PT__CAPF_STATUS__CAPF_STATUS_PENDING;
	c.status_operation = PT__CAPF_OPERATION__CAPF_OP_DELETE;
	ck_assert_str_eq(pt_device_lsc_status(&d, NOW, buf, sizeof buf),
			 "pending delete");
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("device_rules");
	TCase *tc = tcase_create("target");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, target_model_and_protocol);
	tcase_add_test(tc, target_unknown_model);
	tcase_add_test(tc, target_refusals);
	tcase_add_test(tc, profile_follows_model_change);
	suite_add_tcase(s, tc);
	tc = tcase_create("build");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, new_device_defaults);
	tcase_add_test(tc, profile_must_accept_device);
	tcase_add_test(tc, key_rules);
	tcase_add_test(tc, update_changes_only_given_fields);
	tcase_add_test(tc, digest_user_is_sip_only);
	tcase_add_test(tc, digest_password_is_sealed_and_sip_only);
	suite_add_tcase(s, tc);
	tc = tcase_create("capf");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, operation_sets_pending_and_deadline);
	tcase_add_test(tc, completes_by_rules);
	tcase_add_test(tc, auth_string_rules);
	tcase_add_test(tc, generated_strings);
	tcase_add_test(tc, lsc_status_texts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(rules_suite());
}
