#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_test.h"
#include "store/identity.h"

static char *dir;

static void setup(void)
{
	umask(022);
	dir = pt_test_tmpdir();
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

static char *path_in(const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, rel), 0);
	return p;
}

static unsigned mode_of(const char *rel)
{
	char *p = path_in(rel);
	struct stat st;
	ck_assert_msg(stat(p, &st) == 0, "%s missing", p);
	free(p);
	return st.st_mode & 07777;
}

static bool exists(const char *rel)
{
	char *p = path_in(rel);
	struct stat st;
	bool e = lstat(p, &st) == 0;
	free(p);
	return e;
}

START_TEST(publisher_save_and_load)
{
	pt_identity_t *id = NULL, *back = NULL;
	ck_assert_int_eq(pt_identity_new("pub1", true, PT_KEY_EC256, NULL, &id),
			 PT_OK);
	ck_assert_int_eq(pt_identity_check_absent(dir, NULL, 0), PT_OK);
	ck_assert_int_eq(pt_identity_save(dir, id), PT_OK);

	ck_assert_uint_eq(mode_of("keys"), 0700);
	static const char *const stems[] = {"tftp", "tvs", "capf",
					    "itlrecovery"};
	for (int i = 0; i < 4; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "keys/%s.key", stems[i]);
		ck_assert_uint_eq(mode_of(rel), 0600);
		snprintf(rel, sizeof rel, "certs/%s.pem", stems[i]);
		ck_assert_uint_eq(mode_of(rel), 0644);
		ck_assert_str_eq(pt_identity_slot_name((pt_identity_slot_t)i),
				 stems[i]);
	}

	ck_assert_int_eq(pt_identity_load(dir, &back), PT_OK);
	for (int i = 0; i < PT_IDENTITY_COUNT_; i++) {
		pt_identity_slot_t s = (pt_identity_slot_t)i;
		ck_assert_int_eq(EVP_PKEY_eq(pt_identity_key(id, s),
					     pt_identity_key(back, s)),
				 1);
		ck_assert_int_eq(X509_cmp(pt_identity_cert(id, s),
					  pt_identity_cert(back, s)),
				 0);
	}
	char *subject = NULL;
	ck_assert_int_eq(pt_certs_subject(pt_identity_cert(back,
							   PT_IDENTITY_ITL_RECOVERY),
					  &subject),
			 PT_OK);
	ck_assert_str_eq(subject, "CN=ITLRECOVERY_pub1");
	free(subject);
	/* Asked for EC: TVS and CAPF get it, the file signers stay RSA. */
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(back,
							      PT_IDENTITY_TFTP)),
			 EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(
				 back, PT_IDENTITY_ITL_RECOVERY)),
			 EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(back,
							      PT_IDENTITY_TVS)),
			 EVP_PKEY_EC);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(back,
							      PT_IDENTITY_CAPF)),
			 EVP_PKEY_EC);
	pt_identity_destroy(&back);
	ck_assert_ptr_null(back);
	pt_identity_destroy(&id);
	pt_identity_destroy(&id);
}
END_TEST

START_TEST(subscriber_has_no_publisher_keys)
{
	pt_identity_t *id = NULL, *back = NULL;
	ck_assert_int_eq(pt_identity_new("sub1", false, PT_KEY_EC256, NULL,
					 &id),
			 PT_OK);
	ck_assert_ptr_null(pt_identity_key(id, PT_IDENTITY_CAPF));
	ck_assert_ptr_null(pt_identity_cert(id, PT_IDENTITY_ITL_RECOVERY));
	ck_assert_int_eq(pt_identity_save(dir, id), PT_OK);
	ck_assert(exists("keys/tftp.key") && exists("keys/tvs.key"));
	ck_assert(!exists("keys/capf.key") && !exists("certs/capf.pem"));
	ck_assert(!exists("keys/itlrecovery.key"));
	ck_assert_int_eq(pt_identity_load(dir, &back), PT_OK);
	ck_assert_ptr_nonnull(pt_identity_key(back, PT_IDENTITY_TVS));
	ck_assert_ptr_null(pt_identity_key(back, PT_IDENTITY_CAPF));
	pt_identity_destroy(&back);
	pt_identity_destroy(&id);
}
END_TEST

START_TEST(never_overwrites)
{
	pt_identity_t *first = NULL, *second = NULL;
	ck_assert_int_eq(pt_identity_new("n1", false, PT_KEY_EC256, NULL,
					 &first),
			 PT_OK);
	ck_assert_int_eq(pt_identity_new("n1", true, PT_KEY_EC256, NULL,
					 &second),
			 PT_OK);
	ck_assert_int_eq(pt_identity_save(dir, first), PT_OK);
	char *kp = path_in("keys/tftp.key");
	char *before = pt_test_read_file(kp, NULL);

	char found[4096] = "";
	ck_assert_int_eq(pt_identity_check_absent(dir, found, sizeof found),
			 PT_ERR_EXISTS);
	ck_assert_ptr_nonnull(strstr(found, "keys/tftp.key"));
	ck_assert_int_eq(pt_identity_save(dir, second), PT_ERR_EXISTS);
	char *after = pt_test_read_file(kp, NULL);
	ck_assert_str_eq(before, after);
	/* Nothing of the refused identity was written. */
	ck_assert(!exists("keys/capf.key"));
	free(before);
	free(after);
	free(kp);
	pt_identity_destroy(&first);
	pt_identity_destroy(&second);
}
END_TEST

START_TEST(load_refuses_mismatch_and_missing)
{
	pt_identity_t *a = NULL, *b = NULL, *back = NULL;
	ck_assert_int_eq(pt_identity_load(dir, &back), PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_identity_new("n1", false, PT_KEY_EC256, NULL, &a),
			 PT_OK);
	ck_assert_int_eq(pt_identity_new("n1", false, PT_KEY_EC256, NULL, &b),
			 PT_OK);
	ck_assert_int_eq(pt_identity_save(dir, a), PT_OK);

	/* A certificate that belongs to another key. */
	char *other = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_pem(pt_identity_cert(b, PT_IDENTITY_TVS),
					     &other, &len),
			 PT_OK);
	char *cp = path_in("certs/tvs.pem");
	pt_test_write_file(cp, other);
	ck_assert_int_eq(pt_identity_load(dir, &back), PT_ERR_CORRUPT);
	ck_assert_ptr_null(back);
	/* A key without its certificate. */
	unlink(cp);
	ck_assert_int_eq(pt_identity_load(dir, &back), PT_ERR_CORRUPT);
	/* A key file that is not a key. */
	pt_test_write_file(cp, other);
	char *kp = path_in("keys/tftp.key");
	pt_test_write_file(kp, "not a key\n");
	ck_assert_int_eq(pt_identity_load(dir, &back), PT_ERR_CORRUPT);
	free(kp);
	free(cp);
	free(other);
	pt_identity_destroy(&a);
	pt_identity_destroy(&b);
}
END_TEST

START_TEST(remove_takes_everything)
{
	pt_identity_t *id = NULL;
	ck_assert_int_eq(pt_identity_new("p", true, PT_KEY_EC256, NULL, &id),
			 PT_OK);
	ck_assert_int_eq(pt_identity_save(dir, id), PT_OK);
	ck_assert_int_eq(pt_identity_remove(dir), PT_OK);
	ck_assert(!exists("keys") && !exists("certs"));
	ck_assert_int_eq(pt_identity_check_absent(dir, NULL, 0), PT_OK);
	/* Unrelated files keep their directory. */
	ck_assert_int_eq(pt_identity_save(dir, id), PT_OK);
	char *extra = path_in("keys/data.key");
	pt_test_write_file(extra, "x");
	ck_assert_int_eq(pt_identity_remove(dir), PT_OK);
	ck_assert(exists("keys/data.key") && !exists("keys/tftp.key"));
	free(extra);
	pt_identity_destroy(&id);
}
END_TEST

START_TEST(save_failure_leaves_nothing)
{
	pt_identity_t *id = NULL;
	ck_assert_int_eq(pt_identity_new("p", true, PT_KEY_EC256, NULL, &id),
			 PT_OK);
	/* certs/ cannot be created: a file stands in its way. */
	char *blocker = path_in("certs");
	pt_test_write_file(blocker, "in the way");
	ck_assert_int_lt(pt_identity_save(dir, id), 0);
	ck_assert(!exists("keys"));
	free(blocker);
	pt_identity_destroy(&id);
}
END_TEST

START_TEST(bad_arguments)
{
	pt_identity_t *id = NULL;
	ck_assert_int_eq(pt_identity_new("", false, PT_KEY_EC256, NULL, &id),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_identity_new(NULL, false, PT_KEY_EC256, NULL, &id),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(id);
	ck_assert_ptr_null(pt_identity_key(NULL, PT_IDENTITY_TFTP));
	ck_assert_str_eq(pt_identity_slot_name((pt_identity_slot_t)9),
			 "unknown");
}
END_TEST

static Suite *identity_suite(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, publisher_save_and_load);
	tcase_add_test(tc, subscriber_has_no_publisher_keys);
	tcase_add_test(tc, never_overwrites);
	tcase_add_test(tc, load_refuses_mismatch_and_missing);
	tcase_add_test(tc, remove_takes_everything);
	tcase_add_test(tc, save_failure_leaves_nothing);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(identity_suite());
}
