#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/models.h"
#include "lib/profiles.h"
#include "pt_test.h"

#define SCCP PT__PROTOCOL__PROTOCOL_SCCP
#define SIP PT__PROTOCOL__PROTOCOL_SIP

START_TEST(model_table)
{
	ck_assert_uint_ge(pt_model_count(), 30);
	ck_assert_ptr_null(pt_model_at(pt_model_count()));
	for (size_t i = 0; i < pt_model_count(); i++) {
		const pt_model_t *m = pt_model_at(i);
		ck_assert(m->sccp || m->sip);
		ck_assert(m->symmetric_bits == 128 || m->symmetric_bits == 256);
		ck_assert_ptr_eq(pt_model_find(m->name), m);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(pt_model_at(j)->name, m->name);
		/* The 79xx generation takes 128-bit keys and no EC. */
		if (m->name[0] == '7' && m->name[1] == '9') {
			ck_assert_uint_eq(m->symmetric_bits, 128);
			ck_assert(!m->ec_keys);
		} else {
			ck_assert_uint_eq(m->symmetric_bits, 256);
		}
		if (m->name[0] == '8' && m->name[1] == '8')
			ck_assert(m->ec_keys && m->sip && !m->sccp);
		if (m->name[0] == '7' && m->name[1] == '8')
			ck_assert(m->ec_keys);
	}
}
END_TEST

START_TEST(model_lookup)
{
	const pt_model_t *m = pt_model_find("7975");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_eq(pt_model_find("Cisco 7975"), m);
	ck_assert_ptr_eq(pt_model_find("cisco 7975"), m);
	ck_assert(pt_model_speaks(m, SCCP) && pt_model_speaks(m, SIP));
	ck_assert(!pt_model_speaks(m, PT__PROTOCOL__PROTOCOL_UNSPECIFIED));
	m = pt_model_find("7940");
	ck_assert(m && m->sccp && m->sip && m->symmetric_bits == 128);
	m = pt_model_find("8841");
	ck_assert(m && !m->sccp && m->sip && m->ec_keys);
	ck_assert(!pt_model_speaks(m, SCCP));
	ck_assert_ptr_null(pt_model_find("1234"));
	ck_assert_ptr_null(pt_model_find("Cisco "));
	ck_assert_ptr_null(pt_model_find(NULL));
	ck_assert(!pt_model_speaks(NULL, SIP));
}
END_TEST

static Pt__Profile *built(size_t i)
{
	Pt__Profile *p = NULL;
	ck_assert_int_eq(pt_profile_predefined_build(i, &p), PT_OK);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(predefined_profiles)
{
	size_t expected = 2;
	for (size_t i = 0; i < pt_model_count(); i++)
		expected += (size_t)pt_model_at(i)->sccp +
			    (size_t)pt_model_at(i)->sip;
	size_t n = pt_profile_predefined_count();
	ck_assert_uint_eq(n, expected);
	char **names = calloc(n, sizeof *names);
	size_t universal = 0;
	for (size_t i = 0; i < n; i++) {
		Pt__Profile *p = built(i);
		const char *why = NULL;
		ck_assert_msg(pt_profile_validate(p, &why) == PT_OK,
			      "%s: %s", p->name, why);
		ck_assert(p->predefined);
		ck_assert_int_eq(p->security_mode,
				 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE);
		ck_assert(pt_profile_name_reserved(p->name));
		char expect[160];
		ck_assert_int_eq(pt_profile_default_name(p->model, p->protocol,
							 expect, sizeof expect),
				 PT_OK);
		ck_assert_str_eq(p->name, expect);
		if (!*p->model)
			universal++;
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(names[j], p->name);
		names[i] = strdup(p->name);
		pt__profile__free_unpacked(p, NULL);
	}
	ck_assert_uint_eq(universal, 2);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	Pt__Profile *p = (Pt__Profile *)1;
	ck_assert_int_eq(pt_profile_predefined_build(n, &p), PT_ERR_NOT_FOUND);
	ck_assert_ptr_null(p);
	ck_assert(!pt_profile_name_reserved("my profile"));
	ck_assert(!pt_profile_name_reserved(NULL));
}
END_TEST

START_TEST(default_names)
{
	char buf[160];
	ck_assert_int_eq(pt_profile_default_name("7975", SCCP, buf, sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, "Cisco 7975 - Standard SCCP Non-Secure Profile");
	ck_assert_int_eq(pt_profile_default_name("Cisco 8841", SIP, buf,
						 sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, "Cisco 8841 - Standard SIP Non-Secure Profile");
	ck_assert_int_eq(pt_profile_default_name("8841", SCCP, buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_profile_default_name("Soft Phone", SIP, buf,
						 sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, PT_PROFILE_UNIVERSAL_SIP);
	ck_assert_int_eq(pt_profile_default_name(NULL, SCCP, buf, sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, PT_PROFILE_UNIVERSAL_SCCP);
	ck_assert_int_eq(pt_profile_default_name("", SIP, buf, sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, PT_PROFILE_UNIVERSAL_SIP);
	ck_assert_int_eq(pt_profile_default_name("7975",
						 PT__PROTOCOL__PROTOCOL_UNSPECIFIED,
						 buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_profile_default_name("7975", SIP, buf, 10),
			 PT_ERR_TOO_LARGE);
}
END_TEST

/* A valid profile of protocol with the defaults of a new one. */
static void fresh(Pt__Profile *p, Pt__Protocol protocol)
{
	pt_profile_init(p, protocol);
	p->name = (char *)"test profile";
}

static int validate(const Pt__Profile *p)
{
	const char *why = "untouched";
	int r = pt_profile_validate(p, &why);
	if (r == PT_OK)
		ck_assert_ptr_null(why);
	else
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(new_profile_defaults)
{
	Pt__Profile p;
	fresh(&p, SCCP);
	ck_assert_int_eq(validate(&p), PT_OK);
	ck_assert_int_eq(p.security_mode,
			 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE);
	ck_assert_int_eq(p.auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL);
	ck_assert_int_eq(p.key_order, PT__KEY_ORDER__KEY_ORDER_RSA_ONLY);
	ck_assert_uint_eq(p.key_size, 2048);
	ck_assert_uint_eq(p.ec_key_size, 384);
	ck_assert(!p.tftp_encrypted_config);
	ck_assert_uint_eq(p.nonce_validity_seconds, 0);
	ck_assert_uint_eq(p.sip_phone_port, 0);
	fresh(&p, SIP);
	ck_assert_int_eq(validate(&p), PT_OK);
	ck_assert_int_eq(p.transport, PT__TRANSPORT__TRANSPORT_TCP_UDP);
	ck_assert_uint_eq(p.nonce_validity_seconds, 600);
	ck_assert_uint_eq(p.sip_phone_port, 5060);
	ck_assert(!p.enable_digest_auth && !p.exclude_digest_credentials &&
		  !p.nonsecure_call_indication);
}
END_TEST

START_TEST(validate_common_settings)
{
	Pt__Profile p;
	fresh(&p, SCCP);
	p.name = (char *)"";
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.name = (char *)" padded";
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.description = (char *)"bad\ncontrol";
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.protocol = PT__PROTOCOL__PROTOCOL_UNSPECIFIED;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.key_size = 768;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.key_size = 512;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.key_size = 4096;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.ec_key_size = 300;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.ec_key_size = 521;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.security_mode = (Pt__DeviceSecurityMode)7;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED;
	p.tftp_encrypted_config = true;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.key_order = (Pt__KeyOrder)9;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
}
END_TEST

START_TEST(validate_models)
{
	Pt__Profile p;
	fresh(&p, SCCP);
	p.model = (char *)"7975";
	ck_assert_int_eq(validate(&p), PT_OK);
	p.model = (char *)"8841"; /* SIP only */
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.model = (char *)"1234";
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	/* EC key orders need a model that holds EC keys. */
	fresh(&p, SIP);
	p.model = (char *)"7975";
	p.key_order = PT__KEY_ORDER__KEY_ORDER_EC_ONLY;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.key_order = PT__KEY_ORDER__KEY_ORDER_EC_PREFERRED;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.model = (char *)"8841";
	ck_assert_int_eq(validate(&p), PT_OK);
	p.key_order = PT__KEY_ORDER__KEY_ORDER_EC_ONLY;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.model = (char *)"";
	ck_assert_int_eq(validate(&p), PT_OK);
}
END_TEST

START_TEST(validate_sip_rules)
{
	Pt__Profile p;
	fresh(&p, SIP);
	p.security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID); /* tcp+udp */
	p.transport = PT__TRANSPORT__TRANSPORT_TLS;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_AUTHENTICATED;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.transport = PT__TRANSPORT__TRANSPORT_UDP;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.transport = PT__TRANSPORT__TRANSPORT_TLS;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.transport = (Pt__Transport)8;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);

	fresh(&p, SIP);
	p.enable_digest_auth = true;
	p.exclude_digest_credentials = true;
	p.nonsecure_call_indication = true;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.nonce_validity_seconds = 14;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.nonce_validity_seconds = 15;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.nonce_validity_seconds = 86400;
	ck_assert_int_eq(validate(&p), PT_OK);
	p.nonce_validity_seconds = 86401;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.nonce_validity_seconds = 600;
	p.sip_phone_port = 1023;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.sip_phone_port = 65536;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	p.sip_phone_port = 65535;
	ck_assert_int_eq(validate(&p), PT_OK);
}
END_TEST

START_TEST(sip_settings_refused_on_sccp)
{
	Pt__Profile p;
	fresh(&p, SCCP);
	p.enable_digest_auth = true;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.exclude_digest_credentials = true;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.nonce_validity_seconds = 600;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.sip_phone_port = 5060;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.transport = PT__TRANSPORT__TRANSPORT_TLS;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
	fresh(&p, SCCP);
	p.nonsecure_call_indication = true;
	ck_assert_int_eq(validate(&p), PT_ERR_INVALID);
}
END_TEST

static int accepts(const Pt__Profile *p, const char *model,
		   Pt__Protocol protocol)
{
	const char *why = "untouched";
	int r = pt_profile_accepts(p, model, protocol, &why);
	if (r == PT_OK)
		ck_assert_ptr_null(why);
	else
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(profile_accepts_devices)
{
	Pt__Profile p;
	fresh(&p, SIP);
	/* Universal: any model of the same protocol, known or not. */
	ck_assert_int_eq(accepts(&p, "8841", SIP), PT_OK);
	ck_assert_int_eq(accepts(&p, "Soft Phone", SIP), PT_OK);
	ck_assert_int_eq(accepts(&p, "8841", SCCP), PT_ERR_INVALID);
	p.model = (char *)"7975";
	ck_assert_int_eq(accepts(&p, "7975", SIP), PT_OK);
	ck_assert_int_eq(accepts(&p, "Cisco 7975", SIP), PT_OK);
	ck_assert_int_eq(accepts(&p, "7970", SIP), PT_ERR_INVALID);
	ck_assert_int_eq(accepts(&p, "Soft Phone", SIP), PT_ERR_INVALID);
	ck_assert_int_eq(accepts(&p, "7975", SCCP), PT_ERR_INVALID);
	/* EC only: phones known to lack EC keys cannot use it. */
	fresh(&p, SIP);
	p.key_order = PT__KEY_ORDER__KEY_ORDER_EC_ONLY;
	ck_assert_int_eq(accepts(&p, "7975", SIP), PT_ERR_INVALID);
	ck_assert_int_eq(accepts(&p, "8841", SIP), PT_OK);
	ck_assert_int_eq(accepts(&p, "Soft Phone", SIP), PT_OK);
	p.key_order = PT__KEY_ORDER__KEY_ORDER_EC_PREFERRED;
	ck_assert_int_eq(accepts(&p, "7975", SIP), PT_OK);
}
END_TEST

static Suite *profiles_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("models");
	tcase_add_test(tc, model_table);
	tcase_add_test(tc, model_lookup);
	suite_add_tcase(s, tc);
	tc = tcase_create("predefined");
	tcase_add_test(tc, predefined_profiles);
	tcase_add_test(tc, default_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("validate");
	tcase_add_test(tc, new_profile_defaults);
	tcase_add_test(tc, validate_common_settings);
	tcase_add_test(tc, validate_models);
	tcase_add_test(tc, validate_sip_rules);
	tcase_add_test(tc, sip_settings_refused_on_sccp);
	tcase_add_test(tc, profile_accepts_devices);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(profiles_suite());
}
