/* Secrets at rest: a device's authentication string, manual symmetric key
 * and digest credentials go through the real store sealed under a key
 * derived from the cluster password.  Their plaintext must occur in no file
 * of the node's data directory, and reopening the store must give them
 * back. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/errors.h"
#include "lib/seal.h"
#include "pt_test.h"
#include "store/datakey.h"
#include "store/records.h"
#include "store/store.h"

#define DEVICE "SEP00AABBCCDDEE"
#define AUTH_STRING "8305571264"
#define SYMMETRIC_KEY "5f1e0c3a9b7d44e2a1c6f08b3d5e7a91"
#define DIGEST_SECRET "digest-Zq7-credential"
#define VISIBLE "lobby-phone-visible-marker"
#define PASSWORD "correct horse battery staple"

static const uint8_t salt[32] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static char *dir;

static void setup(void)
{
	dir = pt_test_tmpdir();
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

static pt_data_key_t derive_key(void)
{
	pt_data_key_t k;
	ck_assert_int_eq(pt_seal_derive_key(PASSWORD, salt, sizeof salt, 1024,
					    8, 1, &k),
			 PT_OK);
	return k;
}

static Pt__Sealed *seal(const pt_data_key_t *k, const char *field,
			const char *text)
{
	char aad[128];
	Pt__Sealed *s = NULL;
	snprintf(aad, sizeof aad, "device/%s/%s", DEVICE, field);
	ck_assert_int_eq(pt_seal(k, aad, text, strlen(text), &s), PT_OK);
	return s;
}

static void open_and_check(const pt_data_key_t *k, const Pt__Sealed *s,
			   const char *field, const char *want)
{
	char aad[128];
	uint8_t plain[256];
	size_t len = 0;
	snprintf(aad, sizeof aad, "device/%s/%s", DEVICE, field);
	ck_assert_int_eq(pt_unseal(k, aad, s, plain, sizeof plain, &len),
			 PT_OK);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(memcmp(plain, want, len) == 0);
}

static void write_device(const pt_data_key_t *k)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, 64 << 20, &store),
			 PT_OK);
	Pt__CapfSettings capf = PT__CAPF_SETTINGS__INIT;
	capf.operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	capf.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	capf.auth_string = seal(k, "auth_string", AUTH_STRING);
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = DEVICE;
	dev.description = VISIBLE;
	dev.model = "8841";
	dev.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	dev.capf = &capf;
	dev.manual_symmetric_key = seal(k, "manual_symmetric_key",
					SYMMETRIC_KEY);
	dev.digest_user = "alice";
	dev.digest_credentials = seal(k, "digest_credentials", DIGEST_SECRET);

	ck_assert_int_eq(pt_txn_begin(store, true, "test secrets", &txn),
			 PT_OK);
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	/* An update rewrites the record (and appends a second changelog
	 * entry): neither copy may hold plaintext. */
	ck_assert_int_eq(pt_txn_begin(store, true, "test update", &txn),
			 PT_OK);
	dev.updated = 1700000000;
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);

	pt_record_free(&capf.auth_string->base);
	pt_record_free(&dev.manual_symmetric_key->base);
	pt_record_free(&dev.digest_credentials->base);
}

/* Counts the files under path whose bytes contain needle; *files counts
 * every regular file visited. */
static int files_containing(const char *path, const char *needle,
			    int *files)
{
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int hits = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *child = NULL;
		ck_assert_int_ge(asprintf(&child, "%s/%s", path, e->d_name), 0);
		struct stat st;
		ck_assert_int_eq(lstat(child, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			hits += files_containing(child, needle, files);
		} else if (S_ISREG(st.st_mode)) {
			size_t len = 0;
			char *bytes = pt_test_read_file(child, &len);
			if (memmem(bytes, len, needle, strlen(needle)))
				hits++;
			(*files)++;
			free(bytes);
		}
		free(child);
	}
	closedir(d);
	return hits;
}

START_TEST(plaintext_never_reaches_disk)
{
	pt_data_key_t k = derive_key();
	write_device(&k);
	ck_assert_int_eq(pt_datakey_save(dir, &k), PT_OK);

	/* The raw LMDB file first, as the issue asks. */
	char path[4096];
	snprintf(path, sizeof path, "%s/store/data.mdb", dir);
	size_t len = 0;
	char *raw = pt_test_read_file(path, &len);
	ck_assert_uint_gt(len, 0);
	/* The search can see records: the unsealed description is there. */
	ck_assert_ptr_nonnull(memmem(raw, len, VISIBLE, strlen(VISIBLE)));
	ck_assert_ptr_nonnull(memmem(raw, len, DEVICE, strlen(DEVICE)));
	ck_assert_ptr_null(memmem(raw, len, AUTH_STRING, strlen(AUTH_STRING)));
	ck_assert_ptr_null(memmem(raw, len, SYMMETRIC_KEY,
				  strlen(SYMMETRIC_KEY)));
	ck_assert_ptr_null(memmem(raw, len, DIGEST_SECRET,
				  strlen(DIGEST_SECRET)));
	ck_assert_ptr_null(memmem(raw, len, PASSWORD, strlen(PASSWORD)));
	free(raw);

	/* Then every file the node keeps: store, lock file, data key. */
	int files = 0;
	ck_assert_int_eq(files_containing(dir, AUTH_STRING, &files), 0);
	ck_assert_int_ge(files, 3);
	files = 0;
	ck_assert_int_eq(files_containing(dir, SYMMETRIC_KEY, &files), 0);
	ck_assert_int_eq(files_containing(dir, DIGEST_SECRET, &files), 0);
	ck_assert_int_eq(files_containing(dir, PASSWORD, &files), 0);
	ck_assert_int_eq(files_containing(dir, VISIBLE, &files), 1);
}
END_TEST

START_TEST(sealed_secrets_reopen)
{
	pt_data_key_t k = derive_key();
	write_device(&k);
	ck_assert_int_eq(pt_datakey_save(dir, &k), PT_OK);

	/* Another process: the key comes from the node's key file, or is
	 * derived again from the password and the salt. */
	pt_data_key_t from_file, again = derive_key();
	ck_assert_int_eq(pt_datakey_load(dir, &from_file), PT_OK);
	ck_assert(memcmp(from_file.bytes, k.bytes, PT_DATA_KEY_LEN) == 0);

	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 64 << 20, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, DEVICE, &dev), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);

	ck_assert_ptr_nonnull(dev->capf);
	ck_assert_str_eq(dev->description, VISIBLE);
	open_and_check(&from_file, dev->capf->auth_string, "auth_string",
		       AUTH_STRING);
	open_and_check(&again, dev->manual_symmetric_key,
		       "manual_symmetric_key", SYMMETRIC_KEY);
	open_and_check(&again, dev->digest_credentials, "digest_credentials",
		       DIGEST_SECRET);

	/* A wrong password's key opens nothing. */
	pt_data_key_t wrong;
	uint8_t plain[64];
	size_t len;
	ck_assert_int_eq(pt_seal_derive_key("not the password", salt,
					    sizeof salt, 1024, 8, 1, &wrong),
			 PT_OK);
	ck_assert_int_eq(pt_unseal(&wrong, "device/" DEVICE "/auth_string",
				   dev->capf->auth_string, plain, sizeof plain,
				   &len),
			 PT_ERR_AUTH);
	pt_record_free(&dev->base);
}
END_TEST

static Suite *secrets_suite(void)
{
	Suite *s = suite_create("secrets at rest");
	TCase *tc = tcase_create("lmdb file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plaintext_never_reaches_disk);
	tcase_add_test(tc, sealed_secrets_reopen);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(secrets_suite());
}
