#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/params.h"
#include "pt_test.h"
#include "records.pb-c.h"

/* A cluster record allocated the way the store hands one out, so that
 * pt_param_set's allocations are freed by free_unpacked (ASan checks). */
static Pt__Cluster *empty_cluster(void)
{
	static const uint8_t none[1];
	Pt__Cluster *c = pt__cluster__unpack(NULL, 0, none);
	ck_assert_ptr_nonnull(c);
	return c;
}

static size_t packed(const Pt__Cluster *c, uint8_t **out)
{
	size_t n = pt__cluster__get_packed_size(c);
	*out = malloc(n + 1);
	pt__cluster__pack(c, *out);
	return n;
}

START_TEST(table_is_consistent)
{
	ck_assert_uint_ge(pt_param_count(), 12);
	ck_assert_ptr_null(pt_param_at(pt_param_count()));
	for (size_t i = 0; i < pt_param_count(); i++) {
		const pt_param_def_t *d = pt_param_at(i);
		ck_assert_ptr_nonnull(d->name);
		ck_assert_ptr_nonnull(d->scope);
		ck_assert_ptr_nonnull(d->description);
		ck_assert_msg(pt_param_validate(d, d->default_value, NULL) ==
				      PT_OK,
			      "default of %s does not validate", d->name);
		ck_assert_ptr_eq(pt_param_find(d->name), d);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(pt_param_at(j)->name, d->name);
		if (d->type == PT_PARAM_INT)
			ck_assert_int_le(d->min, d->max);
		if (d->type == PT_PARAM_CHOICE)
			ck_assert_ptr_nonnull(d->choices[0]);
	}
}
END_TEST

START_TEST(seed_defaults)
{
	ck_assert_str_eq(pt_param_value(NULL, PT_PARAM_CAPF_PHONE_PORT), "3804");
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CAPF_OP_EXPIRES_DAYS), 10);
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CAPF_KEEPALIVE_MIN), 15);
	ck_assert_str_eq(pt_param_value(NULL, PT_PARAM_CAPF_ISSUER), "capf");
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CAPF_VALIDITY_DAYS), 1825);
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CAPF_KEY_SIZE), 2048);
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CAPF_MAX_KEYGEN_SECONDS),
			 30);
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CAPF_MAX_KEYGEN_ATTEMPTS),
			 3);
	ck_assert_str_eq(pt_param_value(NULL, PT_PARAM_TFTP_SIGNATURE_ALG),
			 "sha1");
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_TVS_PORT), 2445);
	ck_assert_str_eq(pt_param_value(NULL, PT_PARAM_CLUSTER_FQDN), "");
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CERT_EXPIRY_WARNING_DAYS),
			 30);
	ck_assert_ptr_null(pt_param_value(NULL, "no_such_parameter"));
	ck_assert_int_eq(pt_param_int(NULL, "no_such_parameter"), 0);
	ck_assert_int_eq(pt_param_int(NULL, PT_PARAM_CLUSTER_FQDN), 0);
	ck_assert_ptr_nonnull(pt_param_find("CAPF_Phone_Port"));
	ck_assert_ptr_null(pt_param_find(NULL));
}
END_TEST

static int check(const char *name, const char *value)
{
	const char *why = "untouched";
	int r = pt_param_validate(pt_param_find(name), value, &why);
	if (r == PT_OK)
		ck_assert_ptr_null(why);
	else
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(validate_ranges)
{
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, "1024"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, "65535"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, "1023"), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, "65536"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, "-1"), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, " 3804"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, "38o4"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT, ""), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_PHONE_PORT,
			       "99999999999999999999999"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEEPALIVE_MIN, "4"), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEEPALIVE_MIN, "5"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEEPALIVE_MIN, "60"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEEPALIVE_MIN, "61"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_VALIDITY_DAYS, "1826"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_VALIDITY_DAYS, "0"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_OP_EXPIRES_DAYS, "366"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_MAX_KEYGEN_ATTEMPTS, "0"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_MAX_KEYGEN_ATTEMPTS, "101"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_MAX_KEYGEN_SECONDS, "601"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CERT_EXPIRY_WARNING_DAYS, "365"),
			 PT_OK);
}
END_TEST

START_TEST(validate_choices_and_text)
{
	ck_assert_int_eq(check(PT_PARAM_CAPF_ISSUER, "offline-ca"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_ISSUER, "Online-CA"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_ISSUER, "somebody"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEY_SIZE, "3072"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEY_SIZE, "768"), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CAPF_KEY_SIZE, "512"), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_TFTP_SIGNATURE_ALG, "SHA512"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_TFTP_SIGNATURE_ALG, "md5"),
			 PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CLUSTER_FQDN, "*.example.com"), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CLUSTER_FQDN, ""), PT_OK);
	ck_assert_int_eq(check(PT_PARAM_CLUSTER_FQDN, "a b"), PT_ERR_INVALID);
	ck_assert_int_eq(check(PT_PARAM_CLUSTER_FQDN, "tab\there"),
			 PT_ERR_INVALID);
	char long_text[300];
	memset(long_text, 'a', sizeof long_text);
	long_text[255] = '\0';
	ck_assert_int_eq(check(PT_PARAM_CLUSTER_FQDN, long_text), PT_OK);
	long_text[255] = 'a';
	long_text[256] = '\0';
	ck_assert_int_eq(check(PT_PARAM_CLUSTER_FQDN, long_text),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(canonical_and_range_text)
{
	char buf[PT_PARAM_VALUE_MAX];
	const pt_param_def_t *port = pt_param_find(PT_PARAM_CAPF_PHONE_PORT);
	ck_assert_int_eq(pt_param_canonical(port, "03805", buf, sizeof buf,
					    NULL),
			 PT_OK);
	ck_assert_str_eq(buf, "3805");
	ck_assert_int_eq(pt_param_canonical(port, "3805", buf, 3, NULL),
			 PT_ERR_TOO_LARGE);
	const pt_param_def_t *issuer = pt_param_find(PT_PARAM_CAPF_ISSUER);
	ck_assert_int_eq(pt_param_canonical(issuer, "OFFLINE-CA", buf,
					    sizeof buf, NULL),
			 PT_OK);
	ck_assert_str_eq(buf, "offline-ca");
	ck_assert_str_eq(pt_param_range_text(port, buf, sizeof buf),
			 "1024-65535");
	ck_assert_str_eq(pt_param_range_text(issuer, buf, sizeof buf),
			 "capf|offline-ca|online-ca");
	ck_assert_str_eq(pt_param_range_text(pt_param_find(PT_PARAM_CLUSTER_FQDN),
					     buf, sizeof buf),
			 "up to 255 characters");
}
END_TEST

START_TEST(set_stores_only_overrides)
{
	Pt__Cluster *c = empty_cluster();
	const char *why = NULL;
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_PHONE_PORT, "03805",
				      &why),
			 PT_OK);
	ck_assert_uint_eq(c->n_parameters, 1);
	ck_assert_str_eq(c->parameters[0]->key, PT_PARAM_CAPF_PHONE_PORT);
	ck_assert_str_eq(c->parameters[0]->value, "3805");
	ck_assert_int_eq(pt_param_int(c, PT_PARAM_CAPF_PHONE_PORT), 3805);
	ck_assert_int_eq(pt_param_set(c, "capf_certificate_issuer",
				      "Online-CA", &why),
			 PT_OK);
	ck_assert_str_eq(pt_param_value(c, PT_PARAM_CAPF_ISSUER), "online-ca");
	ck_assert_uint_eq(c->n_parameters, 2);

	/* Replacing keeps one entry; the default removes it. */
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_PHONE_PORT, "3806", NULL),
			 PT_OK);
	ck_assert_uint_eq(c->n_parameters, 2);
	ck_assert_str_eq(pt_param_value(c, PT_PARAM_CAPF_PHONE_PORT), "3806");
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_PHONE_PORT, "3804", NULL),
			 PT_OK);
	ck_assert_uint_eq(c->n_parameters, 1);
	ck_assert_str_eq(c->parameters[0]->key, PT_PARAM_CAPF_ISSUER);
	ck_assert_str_eq(pt_param_value(c, PT_PARAM_CAPF_PHONE_PORT), "3804");
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_ISSUER, "capf", NULL),
			 PT_OK);
	ck_assert_uint_eq(c->n_parameters, 0);
	ck_assert_ptr_null(c->parameters);
	/* Text back to its empty default also drops the override. */
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CLUSTER_FQDN, "pt.example",
				      NULL),
			 PT_OK);
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CLUSTER_FQDN, "", NULL),
			 PT_OK);
	ck_assert_uint_eq(c->n_parameters, 0);
	pt__cluster__free_unpacked(c, NULL);
}
END_TEST

START_TEST(set_refusals_change_nothing)
{
	Pt__Cluster *c = empty_cluster();
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_TVS_PORT, "2446", NULL),
			 PT_OK);
	uint8_t *before, *after;
	size_t n1 = packed(c, &before);
	const char *why = NULL;
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_TVS_PORT, "80", &why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(why);
	why = NULL;
	ck_assert_int_eq(pt_param_set(c, "tvs_prot", "2447", &why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_KEY_SIZE, "768", NULL),
			 PT_ERR_INVALID);
	/* Setting the value in force is no change either. */
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_TVS_PORT, "02446", NULL),
			 PT_OK);
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_KEEPALIVE_MIN, "15",
				      NULL),
			 PT_OK);
	size_t n2 = packed(c, &after);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(before, after, n1) == 0);
	free(before);
	free(after);
	pt__cluster__free_unpacked(c, NULL);
}
END_TEST

START_TEST(stored_values_survive_a_round_trip)
{
	Pt__Cluster *c = empty_cluster();
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CAPF_VALIDITY_DAYS, "365",
				      NULL),
			 PT_OK);
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CLUSTER_FQDN, "*.pt.example",
				      NULL),
			 PT_OK);
	uint8_t *bytes;
	size_t n = packed(c, &bytes);
	pt__cluster__free_unpacked(c, NULL);
	c = pt__cluster__unpack(NULL, n, bytes);
	free(bytes);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(pt_param_int(c, PT_PARAM_CAPF_VALIDITY_DAYS), 365);
	ck_assert_str_eq(pt_param_value(c, PT_PARAM_CLUSTER_FQDN),
			 "*.pt.example");
	/* Changing a decoded record's value frees the decoded string. */
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_CLUSTER_FQDN, "other.example",
				      NULL),
			 PT_OK);
	ck_assert_str_eq(pt_param_value(c, PT_PARAM_CLUSTER_FQDN),
			 "other.example");
	pt__cluster__free_unpacked(c, NULL);
}
END_TEST

/* A stored value outside today's range (say from a newer binary) yields
 * the default rather than reaching a service. */
START_TEST(bad_stored_value_reads_as_default)
{
	Pt__KeyValue kv = PT__KEY_VALUE__INIT;
	kv.key = (char *)PT_PARAM_CAPF_KEEPALIVE_MIN;
	kv.value = (char *)"999";
	Pt__KeyValue *list[] = {&kv};
	Pt__Cluster c = PT__CLUSTER__INIT;
	c.parameters = list;
	c.n_parameters = 1;
	ck_assert_str_eq(pt_param_value(&c, PT_PARAM_CAPF_KEEPALIVE_MIN), "15");
	ck_assert_int_eq(pt_param_int(&c, PT_PARAM_CAPF_KEEPALIVE_MIN), 15);
	kv.value = (char *)"30";
	ck_assert_int_eq(pt_param_int(&c, PT_PARAM_CAPF_KEEPALIVE_MIN), 30);
}
END_TEST

static Suite *params_suite(void)
{
	Suite *s = suite_create("params");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, table_is_consistent);
	tcase_add_test(tc, seed_defaults);
	suite_add_tcase(s, tc);
	tc = tcase_create("validate");
	tcase_add_test(tc, validate_ranges);
	tcase_add_test(tc, validate_choices_and_text);
	tcase_add_test(tc, canonical_and_range_text);
	suite_add_tcase(s, tc);
	tc = tcase_create("set");
	tcase_add_test(tc, set_stores_only_overrides);
	tcase_add_test(tc, set_refusals_change_nothing);
	tcase_add_test(tc, stored_values_survive_a_round_trip);
	tcase_add_test(tc, bad_stored_value_reads_as_default);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(params_suite());
}
