#include <string.h>

#include "lib/errors.h"
#include "lib/names.h"
#include "lib/validate.h"
#include "pt_test.h"

START_TEST(device_names)
{
	const char *why = NULL;
	ck_assert_int_eq(pt_validate_device_name("SEP001122AABBCC", &why), PT_OK);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(pt_validate_device_name("CTIPort_1.a-b", NULL), PT_OK);
	ck_assert_int_eq(pt_validate_device_name("", &why), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(pt_validate_device_name("SEP0011", NULL), PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_device_name("SEP00112233445G", NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_device_name("bad name", NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_device_name("a/b", NULL), PT_ERR_INVALID);
	char longname[52];
	memset(longname, 'x', 51);
	longname[51] = '\0';
	ck_assert_int_eq(pt_validate_device_name(longname, NULL), PT_ERR_INVALID);
	longname[50] = '\0';
	ck_assert_int_eq(pt_validate_device_name(longname, NULL), PT_OK);
	ck_assert(pt_device_name_is_phone("SEPabcdef012345"));
	ck_assert(!pt_device_name_is_phone("CTIPort1"));
}
END_TEST

START_TEST(auth_strings)
{
	const char *why;
	ck_assert_int_eq(pt_validate_auth_string("1234", NULL), PT_OK);
	ck_assert_int_eq(pt_validate_auth_string("1234567890", NULL), PT_OK);
	ck_assert_int_eq(pt_validate_auth_string("123", &why), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "4 to 10"));
	ck_assert_int_eq(pt_validate_auth_string("12345678901", NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_auth_string("12a4", &why), PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "digits"));
	ck_assert_int_eq(pt_validate_auth_string(" 1234", NULL), PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_auth_string(NULL, NULL), PT_ERR_INVALID);
}
END_TEST

START_TEST(key_sizes)
{
	ck_assert_int_eq(pt_validate_key_size(512, NULL), PT_OK);
	ck_assert_int_eq(pt_validate_key_size(2048, NULL), PT_OK);
	ck_assert_int_eq(pt_validate_key_size(4096, NULL), PT_OK);
	ck_assert_int_eq(pt_validate_key_size(768, NULL), PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_key_size(0, NULL), PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_ec_bits(384, NULL), PT_OK);
	ck_assert_int_eq(pt_validate_ec_bits(512, NULL), PT_ERR_INVALID);
}
END_TEST

START_TEST(descriptions)
{
	ck_assert_int_eq(pt_validate_description("Warehouse (Müller)", NULL),
			 PT_OK);
	ck_assert_int_eq(pt_validate_description("tab\there", NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_validate_description("\xff\xfe", NULL),
			 PT_ERR_INVALID);
	/* 128 two-byte characters are 128 characters, not 256. */
	char s[128 * 2 + 3];
	for (int i = 0; i < 128; i++)
		memcpy(s + 2 * i, "\xc3\xbc", 2);
	s[256] = '\0';
	ck_assert_int_eq(pt_validate_description(s, NULL), PT_OK);
	memcpy(s + 256, "x", 2);
	ck_assert_int_eq(pt_validate_description(s, NULL), PT_ERR_INVALID);
}
END_TEST

START_TEST(utc_times)
{
	int64_t t;
	char buf[32];
	ck_assert_int_eq(pt_time_parse_utc("1970-01-01T00:00:00Z", &t), PT_OK);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(pt_time_parse_utc("2027-01-31T17:00:00Z", &t), PT_OK);
	ck_assert_int_eq(t, 1801414800);
	ck_assert_str_eq(pt_time_format_utc(t, buf, sizeof buf),
			 "2027-01-31T17:00:00Z");
	ck_assert_int_eq(pt_time_parse_utc("2024-02-29T12:00:00+00:00", &t),
			 PT_OK);
	ck_assert_int_eq(pt_time_parse_utc("2023-02-29T12:00:00Z", &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_time_parse_utc("2027-01-31T17:00:00", &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_time_parse_utc("2027-01-31T17:00:00+02:00", &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_time_parse_utc("2027-13-01T00:00:00Z", &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_time_parse_utc("2027-01-31T24:00:00Z", &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_time_parse_utc("yesterday", &t), PT_ERR_INVALID);
}
END_TEST

START_TEST(unsigned_numbers)
{
	uint64_t v;
	ck_assert_int_eq(pt_parse_uint("2048", 1, 4096, &v), PT_OK);
	ck_assert_uint_eq(v, 2048);
	ck_assert_int_eq(pt_parse_uint("-1", 0, 10, &v), PT_ERR_INVALID);
	ck_assert_int_eq(pt_parse_uint("12x", 0, 100, &v), PT_ERR_INVALID);
	ck_assert_int_eq(pt_parse_uint("", 0, 100, &v), PT_ERR_INVALID);
	ck_assert_int_eq(pt_parse_uint("101", 0, 100, &v), PT_ERR_INVALID);
	ck_assert_int_eq(pt_parse_uint("99999999999999999999", 0, UINT64_MAX,
				       &v),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(enum_names_round_trip)
{
	Pt__CapfOperation op;
	ck_assert_int_eq(pt_capf_op_parse("Install", &op), PT_OK);
	ck_assert_int_eq(op, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(pt_capf_op_parse("upgrade", &op), PT_OK);
	ck_assert_int_eq(op, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_str_eq(pt_capf_op_name(PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT),
			 "troubleshoot");
	ck_assert_int_eq(pt_capf_op_parse("reboot", &op), PT_ERR_INVALID);
	Pt__Protocol proto;
	ck_assert_int_eq(pt_protocol_parse("sip", &proto), PT_OK);
	ck_assert_str_eq(pt_protocol_name(proto), "SIP");
	ck_assert_int_eq(pt_protocol_parse("", &proto), PT_ERR_INVALID);
	ck_assert_str_eq(pt_protocol_name((Pt__Protocol)9), "unknown");
	Pt__CapfAuthMode mode;
	ck_assert_int_eq(pt_auth_mode_parse("MIC", &mode), PT_OK);
	ck_assert_int_eq(mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC);
	Pt__TrustPurpose purpose;
	ck_assert_int_eq(pt_trust_purpose_parse("itl-recovery", &purpose),
			 PT_OK);
	ck_assert_str_eq(pt_trust_purpose_name(purpose), "itl-recovery");
}
END_TEST

START_TEST(error_strings)
{
	ck_assert_str_eq(pt_strerror(PT_OK), "success");
	ck_assert_str_eq(pt_strerror(PT_ERR_SCHEMA_NEWER),
			 "store was written by a newer phonetrust");
	ck_assert_str_eq(pt_strerror(PT_ESYS(ENOENT)), strerror(ENOENT));
	ck_assert_str_eq(pt_strerror(-5000), "unknown error");
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("values");
	tcase_add_test(tc, device_names);
	tcase_add_test(tc, auth_strings);
	tcase_add_test(tc, key_sizes);
	tcase_add_test(tc, descriptions);
	tcase_add_test(tc, unsigned_numbers);
	suite_add_tcase(s, tc);
	tc = tcase_create("time");
	tcase_add_test(tc, utc_times);
	suite_add_tcase(s, tc);
	tc = tcase_create("names");
	tcase_add_test(tc, enum_names_round_trip);
	tcase_add_test(tc, error_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(validate_suite());
}
