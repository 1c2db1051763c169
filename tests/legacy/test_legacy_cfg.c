#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/legacy_cfg.h"
#include "pt_test.h"

static pt_legacy_cfg_t *parse(const char *text)
{
	pt_legacy_cfg_t *c = NULL;
	ck_assert_int_eq(pt_legacy_cfg_parse(text, strlen(text), &c), PT_OK);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* The issue on line, if any. */
static const pt_legacy_cfg_issue_t *issue_at(const pt_legacy_cfg_t *c,
					     uint32_t line)
{
	for (size_t i = 0; i < c->nissues; i++)
		if (c->issues[i].line == line)
			return &c->issues[i];
	return NULL;
}

START_TEST(every_key_of_the_spec)
{
	pt_legacy_cfg_t *c = parse(
		"\xef\xbb\xbf; CAPF service\r\n[Service]\r\nPhonePort=3805\r\n"
		"CertificateIssuer=keon\r\nCertValidityYears=5\r\n"
		"KeySize=2048\r\nMaxKeyGenMinutes=30\r\nMaxKeyGenAttempts=3\r\n"
		"OperationExpiresDays=10\r\nCAAddress = ca.example.com ;x\r\n"
		"KeonJurisdictionID=J\xe9 1\r\nSCEPPort=8080\r\n"
		"timezoneoffset=-0530\r\nLogLevel=3\r\nTraceFile=capf.log");
	ck_assert_uint_eq(c->nissues, 0);
	ck_assert(!c->fatal);
	ck_assert(c->has_service);
	ck_assert(c->has_phone_port);
	ck_assert_uint_eq(c->phone_port, 3805);
	ck_assert(c->has_issuer);
	ck_assert_int_eq(c->issuer, PT_LEGACY_ISSUER_KEON);
	ck_assert_str_eq(pt_legacy_cfg_issuer_name(c->issuer), "Keon");
	ck_assert(c->has_cert_validity_years && c->cert_validity_years == 5);
	ck_assert(c->has_key_size && c->key_size == 2048);
	ck_assert(c->has_max_keygen_minutes && c->max_keygen_minutes == 30);
	ck_assert(c->has_max_keygen_attempts && c->max_keygen_attempts == 3);
	ck_assert(c->has_operation_expires_days &&
		  c->operation_expires_days == 10);
	ck_assert_str_eq(c->ca_address, "ca.example.com");
	ck_assert_str_eq(c->keon_jurisdiction_id, "J\xc3\xa9 1");
	ck_assert(c->has_scep_port && c->scep_port == 8080);
	ck_assert(c->has_tz);
	ck_assert_int_eq(c->tz_offset_minutes, -330);
	ck_assert_uint_eq(c->nextras, 2);
	ck_assert_str_eq(c->extras[0].key, "LogLevel");
	ck_assert_str_eq(c->extras[0].value, "3");
	ck_assert_uint_eq(c->extras[0].line, 14);
	ck_assert_str_eq(c->extras[1].key, "TraceFile");
	ck_assert_str_eq(c->extras[1].value, "capf.log");
	pt_legacy_cfg_destroy(&c);
	ck_assert_ptr_null(c);
	pt_legacy_cfg_destroy(NULL);
}
END_TEST

START_TEST(absent_means_defaults)
{
	pt_legacy_cfg_t *c = parse("");
	ck_assert(!c->has_service);
	ck_assert_uint_eq(c->nissues, 0);
	ck_assert(!c->has_phone_port);
	ck_assert_uint_eq(c->phone_port, PT_LEGACY_CFG_PHONE_PORT_DEFAULT);
	ck_assert(!c->has_tz);
	ck_assert_int_eq(c->tz_offset_minutes, 0);
	ck_assert_ptr_null(c->ca_address);
	ck_assert_int_eq(c->issuer, PT_LEGACY_ISSUER_UNSET);
	ck_assert_str_eq(pt_legacy_cfg_issuer_name(c->issuer), "");
	pt_legacy_cfg_destroy(&c);
	/* Empty values count as absent. */
	c = parse("[Service]\nPhonePort=\nTimeZoneOffset=\nKeySize=\n");
	ck_assert(c->has_service);
	ck_assert_uint_eq(c->nissues, 0);
	ck_assert(!c->has_phone_port && !c->has_tz && !c->has_key_size);
	pt_legacy_cfg_destroy(&c);
}
END_TEST

START_TEST(time_zone_offsets)
{
	static const struct {
		const char *s;
		int rc;
		int32_t min;
	} cases[] = {
		{"+0000", PT_OK, 0},       {"-0000", PT_OK, 0},
		{"-0500", PT_OK, -300},    {"+0530", PT_OK, 330},
		{"+0100", PT_OK, 60},      {"-0800", PT_OK, -480},
		{"+1400", PT_OK, 840},     {"-1200", PT_OK, -720},
		{"+1401", PT_ERR_INVALID, 0}, {"+1500", PT_ERR_INVALID, 0},
		{"+0560", PT_ERR_INVALID, 0}, {"0500", PT_ERR_INVALID, 0},
		{"+05:30", PT_ERR_INVALID, 0}, {"+5", PT_ERR_INVALID, 0},
		{"", PT_ERR_INVALID, 0},      {"UTC", PT_ERR_INVALID, 0},
		{"+05a0", PT_ERR_INVALID, 0}, {" +0500", PT_ERR_INVALID, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int32_t m = 12345;
		ck_assert_msg(pt_legacy_cfg_parse_tz(cases[i].s, &m) ==
				      cases[i].rc,
			      "%s", cases[i].s);
		if (cases[i].rc == PT_OK)
			ck_assert_int_eq(m, cases[i].min);
	}
}
END_TEST

START_TEST(a_bad_or_repeated_time_zone_is_fatal)
{
	pt_legacy_cfg_t *c = parse("[Service]\nTimeZoneOffset=+5\n");
	ck_assert(c->fatal);
	ck_assert(!c->has_tz);
	ck_assert_uint_eq(c->nissues, 1);
	ck_assert(c->issues[0].fatal);
	ck_assert_uint_eq(c->issues[0].line, 2);
	ck_assert_str_eq(c->issues[0].key, "TimeZoneOffset");
	ck_assert_str_eq(c->issues[0].reason, PT_LEGACY_CFG_R_TZ);
	pt_legacy_cfg_destroy(&c);
	c = parse("[Service]\nTimeZoneOffset=+0100\nTIMEZONEOFFSET=+0100\n");
	ck_assert(c->fatal);
	ck_assert(issue_at(c, 3) && issue_at(c, 3)->fatal);
	pt_legacy_cfg_destroy(&c);
}
END_TEST

START_TEST(bad_values_are_issues_and_stay_unset)
{
	pt_legacy_cfg_t *c = parse(
		"Stray=1\n[Service]\nPhonePort=0\nSCEPPort=70000\n"
		"CertValidityYears=five\nKeySize=768\nCertificateIssuer=Acme\n"
		"MaxKeyGenMinutes=-3\nMaxKeyGenAttempts=3\nmaxkeygenattempts=4\n"
		"garbage\nOperationExpiresDays=10\n[Other]\nX=1\n[Service]\n"
		"PhonePort=3804\n");
	ck_assert(!c->fatal);
	ck_assert(!c->has_phone_port && !c->has_scep_port &&
		  !c->has_cert_validity_years && !c->has_key_size &&
		  !c->has_issuer && !c->has_max_keygen_minutes);
	ck_assert(c->has_max_keygen_attempts);
	ck_assert_uint_eq(c->max_keygen_attempts, 3); /* the first stands */
	ck_assert(c->has_operation_expires_days);
	ck_assert_str_eq(issue_at(c, 1)->reason, PT_LEGACY_R_OUTSIDE);
	for (uint32_t l = 3; l <= 8; l++)
		ck_assert_msg(issue_at(c, l) && !issue_at(c, l)->fatal,
			      "line %u", l);
	ck_assert_str_eq(issue_at(c, 3)->key, "PhonePort");
	ck_assert_str_eq(issue_at(c, 6)->reason, PT_LEGACY_R_KEYSIZE);
	ck_assert_str_eq(issue_at(c, 10)->reason, PT_LEGACY_R_DUPLICATE);
	ck_assert_str_eq(issue_at(c, 11)->reason, PT_LEGACY_R_SYNTAX);
	ck_assert_str_eq(issue_at(c, 13)->reason, PT_LEGACY_CFG_R_SECTION);
	ck_assert_ptr_null(issue_at(c, 14));
	/* A second [Service] is reported and its keys are repeats. */
	ck_assert_str_eq(issue_at(c, 15)->reason, PT_LEGACY_R_DUPLICATE);
	ck_assert_str_eq(issue_at(c, 16)->reason, PT_LEGACY_R_DUPLICATE);
	ck_assert(!c->has_phone_port);
	ck_assert_uint_eq(c->nextras, 1);
	ck_assert_str_eq(c->extras[0].key, "Other.X");
	ck_assert_uint_eq(c->extras[0].line, 14);
	for (size_t i = 1; i < c->nissues; i++)
		ck_assert_uint_ge(c->issues[i].line, c->issues[i - 1].line);
	pt_legacy_cfg_destroy(&c);
}
END_TEST

START_TEST(size_and_count_caps)
{
	pt_legacy_cfg_t *c = NULL;
	size_t big = PT_LEGACY_CFG_MAX_BYTES + 1;
	char *text = calloc(1, big);
	ck_assert_int_eq(pt_legacy_cfg_parse(text, big, &c),
			 PT_ERR_TOO_LARGE);
	ck_assert_ptr_null(c);
	/* Many extra keys: the first PT_LEGACY_CFG_MAX_EXTRAS are kept, the
	 * rest reported (up to the issue cap). */
	size_t n = (size_t)sprintf(text, "[Service]\n");
	for (unsigned i = 0; i < 2 * PT_LEGACY_CFG_MAX_EXTRAS + 600; i++)
		n += (size_t)sprintf(text + n, "K%u=v\n", i);
	ck_assert_int_eq(pt_legacy_cfg_parse(text, n, &c), PT_OK);
	ck_assert_uint_eq(c->nextras, PT_LEGACY_CFG_MAX_EXTRAS);
	ck_assert_uint_eq(c->nissues, PT_LEGACY_CFG_MAX_ISSUES);
	ck_assert_str_eq(c->issues[0].reason, PT_LEGACY_CFG_R_TOO_MANY);
	pt_legacy_cfg_destroy(&c);
	free(text);
}
END_TEST

Suite *legacy_cfg_suite(void);
Suite *legacy_cfg_suite(void)
{
	Suite *s = suite_create("legacy_cfg");
	TCase *tc = tcase_create("service");
	tcase_add_test(tc, every_key_of_the_spec);
	tcase_add_test(tc, absent_means_defaults);
	tcase_add_test(tc, time_zone_offsets);
	tcase_add_test(tc, a_bad_or_repeated_time_zone_is_fatal);
	tcase_add_test(tc, bad_values_are_issues_and_stay_unset);
	tcase_add_test(tc, size_and_count_caps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(legacy_cfg_suite());
}
