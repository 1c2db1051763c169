#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/profiles.h"
#include "pt_test.h"
#include "store/profile_store.h"
#include "store/records.h"
#include "store/store.h"

#define SCCP PT__PROTOCOL__PROTOCOL_SCCP
#define SIP PT__PROTOCOL__PROTOCOL_SIP
#define P7975_SCCP "Cisco 7975 - Standard SCCP Non-Secure Profile"

static char *dir;
static pt_store_t *store;

static uint64_t last_seq(void)
{
	uint64_t seq = 0;
	ck_assert_int_eq(pt_store_last_sequence(store, &seq), PT_OK);
	return seq;
}

static pt_txn_t *begin(void)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	return txn;
}

static void commit(pt_txn_t *txn)
{
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

static void setup_empty(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE | PT_STORE_NOSYNC,
				       64 << 20, &store),
			 PT_OK);
}

static void setup_seeded(void)
{
	setup_empty();
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profiles_seed(txn), PT_OK);
	commit(txn);
}

static void teardown(void)
{
	pt_store_destroy(&store);
	pt_test_rmtree(dir);
	free(dir);
}

static void put_device(const char *name, const char *model,
		       Pt__Protocol protocol, const char *profile,
		       const char *description)
{
	pt_txn_t *txn = begin();
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = (char *)name;
	dev.model = (char *)model;
	dev.protocol = protocol;
	dev.security_profile = (char *)profile;
	dev.description = (char *)description;
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	commit(txn);
}

static Pt__Profile *get(const char *name)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	Pt__Profile *p = NULL;
	int r = pt_profile_get(txn, name, &p);
	pt_txn_abort(&txn);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	return p;
}

/* Replaces a string of a decoded record. */
static void replace(char **field, const char *value)
{
	if (*field != protobuf_c_empty_string)
		free(*field);
	*field = strdup(value);
}

/* A custom profile on the stack (strings borrowed). */
static void custom(Pt__Profile *p, const char *name, Pt__Protocol protocol)
{
	pt_profile_init(p, protocol);
	p->name = (char *)name;
	p->description = (char *)"custom";
}

static void add_custom(const char *name, Pt__Protocol protocol,
		       const char *model)
{
	Pt__Profile p;
	custom(&p, name, protocol);
	if (model)
		p.model = (char *)model;
	char why[256] = "";
	pt_txn_t *txn = begin();
	ck_assert_msg(pt_profile_store_add(txn, &p, why, sizeof why) == PT_OK,
		      "%s", why);
	commit(txn);
}

START_TEST(seed_is_idempotent)
{
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profiles_seed(txn), PT_OK);
	ck_assert_uint_eq(pt_txn_changes(txn), pt_profile_predefined_count());
	uint64_t seq = 0;
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 1);

	txn = begin();
	ck_assert_int_eq(pt_profiles_seed(txn), PT_OK);
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 0);
	ck_assert_uint_eq(last_seq(), 1);

	size_t n = 0;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_PROFILES, &n), PT_OK);
	pt_txn_abort(&txn);
	ck_assert_uint_eq(n, pt_profile_predefined_count());
	Pt__Profile *p = get(PT_PROFILE_UNIVERSAL_SIP);
	ck_assert_ptr_nonnull(p);
	ck_assert(p->predefined);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

/* Seeding fills in what is missing and leaves stored records alone. */
START_TEST(seed_adds_only_missing)
{
	pt_txn_t *txn = begin();
	Pt__Profile *p = NULL;
	ck_assert_int_eq(pt_profile_predefined_build(0, &p), PT_OK);
	replace(&p->description, "kept as stored");
	ck_assert_int_eq(pt_profile_put(txn, p), PT_OK);
	commit(txn);
	char *name = strdup(p->name);
	pt__profile__free_unpacked(p, NULL);

	txn = begin();
	ck_assert_int_eq(pt_profiles_seed(txn), PT_OK);
	ck_assert_uint_eq(pt_txn_changes(txn),
			  pt_profile_predefined_count() - 1);
	commit(txn);
	p = get(name);
	ck_assert_str_eq(p->description, "kept as stored");
	pt__profile__free_unpacked(p, NULL);
	free(name);
}
END_TEST

START_TEST(usage_counts_devices)
{
	bool in_use = true;
	char example[64] = "x";
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profile_in_use(txn, P7975_SCCP, &in_use, example,
					   sizeof example),
			 PT_OK);
	pt_txn_abort(&txn);
	ck_assert(!in_use);
	ck_assert_str_eq(example, "");

	put_device("SEP000000000001", "7975", SCCP, P7975_SCCP, "");
	put_device("SEP000000000002", "7975", SCCP, P7975_SCCP, "");
	/* Mentions the name in its description only: not a user. */
	put_device("SEP000000000003", "7975", SIP,
		   "Cisco 7975 - Standard SIP Non-Secure Profile", P7975_SCCP);

	txn = begin();
	ck_assert_int_eq(pt_profile_in_use(txn, P7975_SCCP, &in_use, example,
					   sizeof example),
			 PT_OK);
	ck_assert(in_use);
	ck_assert_str_eq(example, "SEP000000000001");
	size_t count = 0;
	ck_assert_int_eq(pt_profile_usage(txn, P7975_SCCP, &count, NULL, 0),
			 PT_OK);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(pt_profile_usage(txn, "Cisco 7975 - Standard SIP "
					       "Non-Secure Profile",
					  &count, example, sizeof example),
			 PT_OK);
	ck_assert_uint_eq(count, 1);
	ck_assert_str_eq(example, "SEP000000000003");
	ck_assert_int_eq(pt_profile_usage(txn, "Cisco 7975", &count, NULL, 0),
			 PT_OK);
	ck_assert_uint_eq(count, 0);
	pt_txn_abort(&txn);
}
END_TEST

START_TEST(add_rules)
{
	add_custom("lobby", SCCP, "7975");
	Pt__Profile *p = get("lobby");
	ck_assert_ptr_nonnull(p);
	ck_assert(!p->predefined);
	ck_assert_int_gt(p->created, 0);
	ck_assert_int_eq(p->created, p->updated);
	pt__profile__free_unpacked(p, NULL);

	uint64_t seq = last_seq();
	char why[256];
	Pt__Profile q;
	pt_txn_t *txn = begin();
	custom(&q, "lobby", SIP);
	ck_assert_int_eq(pt_profile_store_add(txn, &q, why, sizeof why),
			 PT_ERR_EXISTS);
	ck_assert_ptr_nonnull(strstr(why, "lobby"));
	custom(&q, P7975_SCCP, SCCP);
	ck_assert_int_eq(pt_profile_store_add(txn, &q, why, sizeof why),
			 PT_ERR_EXISTS);
	custom(&q, "big keys", SCCP);
	q.key_size = 768;
	ck_assert_int_eq(pt_profile_store_add(txn, &q, why, sizeof why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "key size"));
	/* Asking for predefined does not make a profile predefined. */
	custom(&q, "sneaky", SCCP);
	q.predefined = true;
	ck_assert_int_eq(pt_profile_store_add(txn, &q, why, sizeof why), PT_OK);
	commit(txn);
	ck_assert_uint_eq(last_seq(), seq + 1);
	p = get("sneaky");
	ck_assert(!p->predefined);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

/* Names of predefined profiles are reserved even before seeding. */
START_TEST(reserved_names_before_seed)
{
	Pt__Profile q;
	custom(&q, PT_PROFILE_UNIVERSAL_SCCP, SCCP);
	char why[256];
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profile_store_add(txn, &q, why, sizeof why),
			 PT_ERR_EXISTS);
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	pt_txn_abort(&txn);
}
END_TEST

START_TEST(predefined_are_immutable)
{
	uint64_t seq = last_seq();
	char why[256];
	Pt__Profile *p = get(P7975_SCCP);
	p->security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED;
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profile_store_update(txn, P7975_SCCP, p, why,
						 sizeof why),
			 PT_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "predefined"));
	ck_assert_int_eq(pt_profile_store_delete(txn, P7975_SCCP, why,
						 sizeof why),
			 PT_ERR_DENIED);
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	commit(txn);
	ck_assert_uint_eq(last_seq(), seq);
	pt__profile__free_unpacked(p, NULL);
	p = get(P7975_SCCP);
	ck_assert_int_eq(p->security_mode,
			 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

START_TEST(update_rules)
{
	add_custom("phones", SIP, NULL);
	Pt__Profile *p = get("phones");
	int64_t created = p->created;
	char why[256];
	uint64_t seq = last_seq();

	/* Nothing changed: nothing written. */
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_OK);
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	pt_txn_abort(&txn);

	txn = begin();
	p->protocol = SCCP;
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_ERR_DENIED);
	p->protocol = SIP;
	p->security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED;
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_ERR_INVALID); /* still tcp+udp */
	ck_assert_int_eq(pt_profile_store_update(txn, "nobody", p, why,
						 sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	p->transport = PT__TRANSPORT__TRANSPORT_TLS;
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_OK);
	commit(txn);
	ck_assert_uint_eq(last_seq(), seq + 1);
	pt__profile__free_unpacked(p, NULL);
	p = get("phones");
	ck_assert_int_eq(p->transport, PT__TRANSPORT__TRANSPORT_TLS);
	ck_assert_int_eq(p->created, created);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

START_TEST(update_keeps_devices_suited)
{
	add_custom("phones", SIP, NULL);
	put_device("SEP000000000010", "7975", SIP, "phones", "");
	Pt__Profile *p = get("phones");
	char why[256];
	uint64_t seq = last_seq();
	pt_txn_t *txn = begin();
	p->key_order = PT__KEY_ORDER__KEY_ORDER_EC_ONLY;
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_ERR_IN_USE);
	ck_assert_ptr_nonnull(strstr(why, "SEP000000000010"));
	p->key_order = PT__KEY_ORDER__KEY_ORDER_RSA_ONLY;
	replace(&p->model, "8841");
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_ERR_IN_USE);
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	/* The device's own model is fine. */
	replace(&p->model, "7975");
	ck_assert_int_eq(pt_profile_store_update(txn, "phones", p, why,
						 sizeof why),
			 PT_OK);
	commit(txn);
	ck_assert_uint_eq(last_seq(), seq + 1);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

START_TEST(rename_rules)
{
	add_custom("old name", SCCP, NULL);
	add_custom("taken", SCCP, NULL);
	Pt__Profile *p = get("old name");
	char why[256];
	uint64_t seq = last_seq();

	pt_txn_t *txn = begin();
	replace(&p->name, "taken");
	ck_assert_int_eq(pt_profile_store_update(txn, "old name", p, why,
						 sizeof why),
			 PT_ERR_EXISTS);
	replace(&p->name, P7975_SCCP);
	ck_assert_int_eq(pt_profile_store_update(txn, "old name", p, why,
						 sizeof why),
			 PT_ERR_EXISTS);
	pt_txn_abort(&txn);

	/* In use: refused, naming a device and the count. */
	put_device("SEP000000000020", "7975", SCCP, "old name", "");
	put_device("SEP000000000021", "7940", SCCP, "old name", "");
	seq = last_seq();
	txn = begin();
	replace(&p->name, "new name");
	ck_assert_int_eq(pt_profile_store_update(txn, "old name", p, why,
						 sizeof why),
			 PT_ERR_IN_USE);
	ck_assert_ptr_nonnull(strstr(why, "SEP000000000020"));
	ck_assert_ptr_nonnull(strstr(why, "2 devices"));
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	pt_txn_abort(&txn);
	ck_assert_uint_eq(last_seq(), seq);

	/* Unused: the record moves to its new key. */
	txn = begin();
	ck_assert_int_eq(pt_device_del(txn, "SEP000000000020"), PT_OK);
	ck_assert_int_eq(pt_device_del(txn, "SEP000000000021"), PT_OK);
	ck_assert_int_eq(pt_profile_store_update(txn, "old name", p, why,
						 sizeof why),
			 PT_OK);
	commit(txn);
	Pt__Profile *moved = get("new name");
	ck_assert_ptr_nonnull(moved);
	ck_assert_ptr_null(get("old name"));
	pt__profile__free_unpacked(moved, NULL);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

START_TEST(delete_rules)
{
	add_custom("spare", SCCP, NULL);
	add_custom("busy", SIP, NULL);
	put_device("SEP000000000030", "8841", SIP, "busy", "");
	put_device("SEP000000000031", "8841", SIP, "busy", "");
	put_device("SEP000000000032", "8841", SIP, "busy", "");
	uint64_t seq = last_seq();
	char why[256];
	pt_txn_t *txn = begin();
	ck_assert_int_eq(pt_profile_store_delete(txn, "busy", why, sizeof why),
			 PT_ERR_IN_USE);
	ck_assert_ptr_nonnull(strstr(why, "3 devices"));
	ck_assert_ptr_nonnull(strstr(why, "SEP000000000030"));
	ck_assert_int_eq(pt_profile_store_delete(txn, "ghost", why, sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(why, "ghost"));
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	ck_assert_int_eq(pt_profile_store_delete(txn, "spare", why, sizeof why),
			 PT_OK);
	commit(txn);
	ck_assert_uint_eq(last_seq(), seq + 1);
	ck_assert_ptr_null(get("spare"));
	Pt__Profile *p = get("busy");
	ck_assert_ptr_nonnull(p);
	pt__profile__free_unpacked(p, NULL);
}
END_TEST

static Suite *profile_store_suite(void)
{
	Suite *s = suite_create("profile_store");
	TCase *tc = tcase_create("seed");
	tcase_add_checked_fixture(tc, setup_empty, teardown);
	tcase_add_test(tc, seed_is_idempotent);
	tcase_add_test(tc, seed_adds_only_missing);
	tcase_add_test(tc, reserved_names_before_seed);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup_seeded, teardown);
	tcase_add_test(tc, usage_counts_devices);
	tcase_add_test(tc, add_rules);
	tcase_add_test(tc, predefined_are_immutable);
	tcase_add_test(tc, update_rules);
	tcase_add_test(tc, update_keeps_devices_suited);
	tcase_add_test(tc, rename_rules);
	tcase_add_test(tc, delete_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(profile_store_suite());
}
