/* The node's file cache against a real publisher: hits, revalidation
 * after unrelated changes, rebuilds after relevant ones, not-found
 * answers, refresh ahead of the phones, eviction, many threads. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files/file_cache.h"
#include "files/itl_source.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "store/records.h"
#include "store/store.h"

#define PHONE "SEP001122334455"
#define PHONE_ENC "SEP0011223344AA"

static char *tmp, *pub;

static char *path_in(const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, rel), 0);
	return p;
}

static void ok(const char *const *args)
{
	pt_node_cli_ok(pub, args);
}

/* An LSC for a new key, as a finished CAPF session records it. */
static void give_lsc(const char *device)
{
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &key), PT_OK);
	X509 *cert = pt_testcert(key, device, 0x55);
	pt_node_give_lsc(pub, device, cert);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in("pub");
	pt_node_init(pub, "pub", "publisher", NULL);
	pt_node_mixed(pub, "SAST-");
	pt_node_add_enc_profile(pub);
	pt_node_add_device(pub, PHONE, NULL, NULL, NULL);
	pt_node_add_device(pub, PHONE_ENC, PT_NODE_ENC_PROFILE, NULL, NULL);
	give_lsc(PHONE_ENC);
	ok((const char *[]){"itl", "show", NULL}); /* builds the ITL */
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
}

static pt_file_cache_t *open_cache(pt_store_t **store, size_t max_bytes)
{
	pt_file_cache_t *c = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, store), PT_OK);
	pt_file_cache_opts_t o = {.datadir = pub, .max_bytes = max_bytes};
	ck_assert_int_eq(pt_file_cache_new(*store, &o, &c), PT_OK);
	return c;
}

static pt_blob_t *get_ok(pt_file_cache_t *c, const char *name)
{
	pt_blob_t *b = NULL;
	char why[256];
	int r = pt_file_cache_get(c, name, &b, why, sizeof why);
	ck_assert_msg(r == PT_OK, "%s: %s (%s)", name, pt_strerror(r), why);
	return b;
}

START_TEST(hits_and_not_found)
{
	pt_store_t *store = NULL;
	pt_file_cache_t *c = open_cache(&store, 0);
	pt_file_cache_stats_t st;

	pt_blob_t *a = get_ok(c, PHONE ".cnf.xml.sgn");
	pt_blob_t *b = get_ok(c, "sep001122334455.CNF.XML.SGN");
	ck_assert_ptr_eq(a, b); /* one entry, whatever the case */
	pt_file_cache_stats(c, &st);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.hits, 1);
	pt_blob_unref(&b);

	/* The signed file verifies with the node's TFTP certificate. */
	char *pem_path = path_in("pub/certs/tftp.pem");
	size_t pem_len = 0;
	char *pem = pt_test_read_file(pem_path, &pem_len);
	X509 *tftp = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, pem_len, &tftp), PT_OK);
	pt_sgn_file_t f;
	ck_assert_int_eq(pt_sgn_parse(pt_blob_data(a), pt_blob_len(a), &f,
				      NULL),
			 PT_OK);
	ck_assert_int_eq(pt_sgn_verify(&f, tftp, NULL), PT_OK);
	X509_free(tftp);
	free(pem);
	free(pem_path);
	pt_blob_unref(&a);

	/* File not found answers carry the table's reason, and are kept. */
	char why[256];
	ck_assert_int_eq(pt_file_cache_get(c, PHONE ".cnf.xml.enc.sgn", &b,
					   why, sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_null(b);
	ck_assert_ptr_nonnull(strstr(why, "encryption is off"));
	ck_assert_int_eq(pt_file_cache_get(c, PHONE ".cnf.xml", &b, why,
					   sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(why, "signed"));
	/* Without a static directory other names are not found. */
	ck_assert_int_eq(pt_file_cache_get(c, "firmware.bin", &b, why,
					   sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(why, "no static directory"));
	ck_assert_int_eq(pt_file_cache_get(c, "ITLSEP0000000000AA.tlv", &b,
					   why, sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(why, "no device"));

	/* The lists are the store's own bytes. */
	pt_blob_t *ctl = get_ok(c, "CTLFile.tlv");
	pt_blob_t *itl = get_ok(c, "ITLFile.tlv");
	pt_blob_t *sep = get_ok(c, "itlsep0011223344aa.tlv");
	uint8_t *itl_bytes = NULL;
	size_t itl_len = 0;
	ck_assert_int_eq(pt_itl_source_get(store, &itl_bytes, &itl_len), PT_OK);
	ck_assert_uint_eq(pt_blob_len(itl), itl_len);
	ck_assert_mem_eq(pt_blob_data(itl), itl_bytes, itl_len);
	ck_assert_uint_eq(pt_blob_len(sep), itl_len);
	ck_assert_uint_gt(pt_blob_len(ctl), 1000);
	free(itl_bytes);
	pt_blob_unref(&ctl);
	pt_blob_unref(&itl);
	pt_blob_unref(&sep);
	pt_file_cache_destroy(&c);
	pt_store_destroy(&store);
}
END_TEST

START_TEST(changes_rebuild_only_what_they_touch)
{
	pt_store_t *store = NULL;
	pt_file_cache_t *c = open_cache(&store, 0);
	pt_file_cache_stats_t st;

	pt_blob_t *plain1 = get_ok(c, PHONE ".cnf.xml.sgn");
	pt_blob_t *enc1 = get_ok(c, PHONE_ENC ".cnf.xml.enc.sgn");
	pt_blob_t *again = get_ok(c, PHONE_ENC ".cnf.xml.enc.sgn");
	ck_assert_ptr_eq(enc1, again); /* no new key until a rebuild */
	pt_blob_unref(&again);

	/* An unrelated device: inputs unchanged, nothing is re-signed. */
	ok((const char *[]){"device", "add", "SEP00000000BEEF", "--model",
			    "8841", NULL});
	pt_blob_t *plain2 = get_ok(c, PHONE ".cnf.xml.sgn");
	ck_assert_ptr_eq(plain1, plain2);
	pt_file_cache_stats(c, &st);
	ck_assert_uint_eq(st.revalidated, 1);
	ck_assert_uint_eq(st.misses, 2);
	pt_blob_unref(&plain2);

	/* The device itself changes: rebuilt. */
	ok((const char *[]){"device", "update", PHONE, "--description",
			    "lobby phone", NULL});
	plain2 = get_ok(c, PHONE ".cnf.xml.sgn");
	ck_assert_ptr_ne(plain1, plain2);
	ck_assert_ptr_nonnull(memmem(pt_blob_data(plain2), pt_blob_len(plain2),
				     "lobby phone", 11));
	pt_blob_unref(&plain2);

	/* A cluster-wide change rebuilds every configuration: the encrypted
	 * one gets a new key. */
	ok((const char *[]){"cluster", "set", "tftp_file_signature_algorithm",
			    "sha512", NULL});
	pt_blob_t *enc2 = get_ok(c, PHONE_ENC ".cnf.xml.enc.sgn");
	ck_assert_ptr_ne(enc1, enc2);
	pt_sgn_file_t f;
	/* Item 8 now says SHA-512. */
	ck_assert_int_eq(pt_sgn_decode(pt_blob_data(enc2), pt_blob_len(enc2),
				       &f.raw, NULL),
			 PT_OK);
	ck_assert_uint_eq(f.raw.item[PT_SGN_TAG_DIGEST].val[0], PT_SGN_SHA512);
	pt_blob_unref(&enc1);
	pt_blob_unref(&enc2);
	pt_blob_unref(&plain1);
	pt_file_cache_destroy(&c);
	pt_store_destroy(&store);
}
END_TEST

START_TEST(refresh_builds_ahead_and_eviction_bounds_memory)
{
	pt_store_t *store = NULL;
	pt_file_cache_t *c = open_cache(&store, 0);
	pt_file_cache_stats_t st;
	size_t built = 0;
	ck_assert_int_eq(pt_file_cache_refresh(c, NULL, &built), PT_OK);
	/* CTL, ITL and three names per phone (found or not). */
	ck_assert_uint_eq(built, 2 + 3 * 2);
	pt_blob_t *b = get_ok(c, PHONE_ENC ".cnf.xml.sgn");
	pt_blob_unref(&b);
	pt_file_cache_stats(c, &st);
	ck_assert_uint_eq(st.misses, built); /* served without building */
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_int_eq(pt_file_cache_refresh(c, NULL, &built), PT_OK);
	ck_assert_uint_eq(built, 0);
	pt_file_cache_destroy(&c);

	/* A cache of 12 KB holds about two signed files. */
	pt_store_destroy(&store);
	c = open_cache(&store, 12000);
	ck_assert_int_eq(pt_file_cache_refresh(c, NULL, &built), PT_OK);
	pt_file_cache_stats(c, &st);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert_uint_le(st.bytes, 12000 + 8000);
	b = get_ok(c, PHONE ".cnf.xml.sgn"); /* rebuilt when evicted */
	pt_blob_unref(&b);
	pt_file_cache_destroy(&c);
	pt_store_destroy(&store);
}
END_TEST

START_TEST(static_files_follow_the_directory)
{
	char *dir = path_in("tftp");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char *fw = path_in("tftp/firmware.bin"), *ring = path_in("tftp/Chime.raw");
	pt_test_write_file(fw, "firmware v1");
	pt_test_write_file(ring, "ring");
	pt_store_t *store = NULL;
	pt_file_cache_t *c = NULL;
	ck_assert_int_eq(pt_store_open(pub, 0, 0, &store), PT_OK);
	pt_file_cache_opts_t o = {.datadir = pub, .static_dir = dir};
	ck_assert_int_eq(pt_file_cache_new(store, &o, &c), PT_OK);

	pt_blob_t *b = get_ok(c, "firmware.bin");
	ck_assert_uint_eq(pt_blob_len(b), 11);
	pt_blob_t *again = get_ok(c, "firmware.bin");
	ck_assert_ptr_eq(b, again);
	pt_blob_unref(&again);
	pt_blob_unref(&b);

	/* The ring list lists the directory's ring tones, signed in mixed
	 * mode. */
	b = get_ok(c, "RingList.xml.sgn");
	pt_sgn_file_t f;
	ck_assert_int_eq(pt_sgn_parse(pt_blob_data(b), pt_blob_len(b), &f,
				      NULL),
			 PT_OK);
	ck_assert_ptr_nonnull(memmem(f.payload, f.payload_len, "Chime.raw", 9));
	pt_blob_unref(&b);

	/* A changed file is served changed, without any store change. */
	pt_test_write_file(fw, "firmware v2, longer");
	b = get_ok(c, "firmware.bin");
	ck_assert_uint_eq(pt_blob_len(b), 19);
	pt_blob_unref(&b);

	char why[256];
	ck_assert_int_eq(pt_file_cache_get(c, "missing.bin", &b, why,
					   sizeof why),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_null(b);
	pt_file_cache_destroy(&c);
	pt_store_destroy(&store);
	free(fw);
	free(ring);
	free(dir);
}
END_TEST

struct hammer {
	pt_file_cache_t *c;
	int failures;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	static const char *const names[] = {
		PHONE ".cnf.xml.sgn", PHONE_ENC ".cnf.xml.enc.sgn",
		PHONE_ENC ".cnf.xml.sgn", "CTLFile.tlv", "ITLFile.tlv"};
	for (int i = 0; i < 400; i++) {
		pt_blob_t *b = NULL;
		char why[200];
		if (pt_file_cache_get(h->c, names[i % 5], &b, why,
				      sizeof why) != PT_OK ||
		    pt_blob_len(b) < 500)
			h->failures++;
		pt_blob_unref(&b);
	}
	return NULL;
}

START_TEST(many_threads)
{
	pt_store_t *store = NULL;
	pt_file_cache_t *c = open_cache(&store, 0);
	pthread_t t[8];
	struct hammer h[8];
	for (int i = 0; i < 8; i++) {
		h[i] = (struct hammer){c, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(h[i].failures, 0);
	}
	pt_file_cache_stats_t st;
	pt_file_cache_stats(c, &st);
	ck_assert_uint_eq(st.hits + st.misses + st.revalidated, 8 * 400);
	pt_file_cache_destroy(&c);
	pt_store_destroy(&store);
}
END_TEST

static Suite *file_cache_suite(void)
{
	Suite *s = suite_create("file_cache");
	TCase *tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, hits_and_not_found);
	tcase_add_test(tc, changes_rebuild_only_what_they_touch);
	tcase_add_test(tc, refresh_builds_ahead_and_eviction_bounds_memory);
	tcase_add_test(tc, static_files_follow_the_directory);
	tcase_add_test(tc, many_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(file_cache_suite());
}
