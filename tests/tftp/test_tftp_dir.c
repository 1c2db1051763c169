/* The directory provider on a real scratch directory: what it serves,
 * what it refuses (with openat2 and with the fallback resolver), and its
 * cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "pt_test.h"
#include "tftp/tftp_dir.h"

static char *dir, *root;
static pt_tftp_dir_t *d;
static char why[PT_TFTP_WHY_MAX];

static char *path_of(const char *name)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", root, name), 0);
	return p;
}

static void put(const char *name, const char *text)
{
	char *p = path_of(name);
	pt_test_write_file(p, text);
	free(p);
}

static void make_dir(const char *name)
{
	char *p = path_of(name);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
}

static void make_link(const char *target, const char *name)
{
	char *p = path_of(name);
	ck_assert_int_eq(symlink(target, p), 0);
	free(p);
}

static void open_dir(bool fallback, uint64_t max, size_t files,
		     uint64_t bytes)
{
	pt_tftp_dir_destroy(&d);
	pt_tftp_dir_opts_t o = {.root = root,
				.max_file_size = max,
				.cache_files = files,
				.cache_bytes = bytes,
				.force_fallback = fallback};
	ck_assert_int_eq(pt_tftp_dir_new(&o, &d), PT_OK);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&root, "%s/root", dir), 0);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	char *outside = NULL;
	ck_assert_int_ge(asprintf(&outside, "%s/secret.txt", dir), 0);
	pt_test_write_file(outside, "outside the root\n");
	free(outside);
	put("ring.raw", "ring ring");
	make_dir("Desktops");
	make_dir("Desktops/320x212x12");
	put("Desktops/320x212x12/List.xml", "<list/>");
	d = NULL;
}

static void teardown(void)
{
	pt_tftp_dir_destroy(&d);
	ck_assert_ptr_null(d);
	pt_test_rmtree(dir);
	free(dir);
	free(root);
}

static int look(const char *name, pt_blob_t **out)
{
	why[0] = '\0';
	return pt_tftp_dir_lookup(d, name, NULL, 0, out, why, sizeof why);
}

static void expect_text(const char *name, const char *text)
{
	pt_blob_t *b = NULL;
	int r = look(name, &b);
	ck_assert_msg(r == PT_OK, "%s: %s (%s)", name, pt_strerror(r), why);
	ck_assert_uint_eq(pt_blob_len(b), strlen(text));
	ck_assert_mem_eq(pt_blob_data(b), text, strlen(text));
	pt_blob_unref(&b);
}

static void expect_refused(const char *name, int err, const char *reason)
{
	pt_blob_t *b = NULL;
	ck_assert_int_eq(look(name, &b), err);
	ck_assert_ptr_null(b);
	if (reason)
		ck_assert_msg(strstr(why, reason), "%s: reason '%s' lacks '%s'",
			      name, why, reason);
}

/* Both resolvers must refuse these alike. */
static void refusals_common(void)
{
	expect_refused("nothere", PT_ERR_NOT_FOUND, "no such file");
	expect_refused("ring.raw/x", PT_ERR_NOT_FOUND, NULL);
	expect_refused("Desktops", PT_ERR_NOT_FOUND, "a directory");
	expect_refused("Desktops/", PT_ERR_NOT_FOUND, NULL);
	expect_refused("abs", PT_ERR_DENIED, NULL);
	expect_refused("up", PT_ERR_DENIED, NULL);
	expect_refused("updir/secret.txt", PT_ERR_DENIED, NULL);
	expect_refused("fifo", PT_ERR_DENIED, "not a regular file");
	expect_refused("big.bin", PT_ERR_DENIED, "above the cap of 64");
}

static void make_traps(void)
{
	char *outside = NULL;
	ck_assert_int_ge(asprintf(&outside, "%s/secret.txt", dir), 0);
	make_link(outside, "abs");
	make_link("../secret.txt", "up");
	make_link("..", "updir");
	make_link("ring.raw", "inside");
	free(outside);
	char *fifo = path_of("fifo");
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	free(fifo);
	char big[66];
	memset(big, 'b', 65);
	big[65] = '\0';
	put("big.bin", big);
	put("limit.bin", "0123456789012345678901234567890123456789012345678"
			 "901234567890123");
}

START_TEST(serves_files_below_root)
{
	open_dir(false, 0, 0, 0);
	expect_text("ring.raw", "ring ring");
	expect_text("Desktops/320x212x12/List.xml", "<list/>");
	/* Backslashes separate parts too. */
	expect_text("Desktops\\320x212x12\\List.xml", "<list/>");
	expect_text("./ring.raw", "ring ring");
	put("empty", "");
	expect_text("empty", "");
}
END_TEST

START_TEST(openat2_refusals)
{
	make_traps();
	open_dir(false, 64, 0, 0);
	refusals_common();
	/* A link that stays inside is followed. */
	expect_text("inside", "ring ring");
	expect_text("limit.bin", "0123456789012345678901234567890123456789"
				 "012345678901234567890123");
}
END_TEST

START_TEST(fallback_refusals)
{
	make_traps();
	open_dir(true, 64, 0, 0);
	refusals_common();
	/* The fallback follows no link at all. */
	expect_refused("inside", PT_ERR_DENIED, "symbolic link");
	expect_refused("updir/secret.txt", PT_ERR_DENIED, "symbolic link");
	expect_text("Desktops/320x212x12/List.xml", "<list/>");
}
END_TEST

START_TEST(unreadable_file_denied)
{
	if (geteuid() == 0)
		return; /* root reads anything */
	put("locked", "x");
	char *p = path_of("locked");
	ck_assert_int_eq(chmod(p, 0), 0);
	open_dir(false, 0, 0, 0);
	expect_refused("locked", PT_ERR_DENIED, "permission");
	open_dir(true, 0, 0, 0);
	expect_refused("locked", PT_ERR_DENIED, "permission");
	free(p);
}
END_TEST

static pt_tftp_dir_stats_t st(void)
{
	pt_tftp_dir_stats_t s;
	pt_tftp_dir_stats(d, &s);
	return s;
}

START_TEST(cache_hits_and_changes)
{
	open_dir(false, 0, 0, 0);
	expect_text("ring.raw", "ring ring");
	ck_assert_uint_eq(st().misses, 1);
	ck_assert_uint_eq(st().hits, 0);
	expect_text("ring.raw", "ring ring");
	ck_assert_uint_eq(st().hits, 1);
	ck_assert_uint_eq(st().files, 1);
	ck_assert_uint_eq(st().bytes, 9);

	/* Same size, new content and time: read again. */
	put("ring.raw", "RING RING");
	char *p = path_of("ring.raw");
	struct timespec times[2] = {{.tv_sec = 1000000000},
				    {.tv_sec = 1000000000}};
	ck_assert_int_eq(utimensat(AT_FDCWD, p, times, 0), 0);
	expect_text("ring.raw", "RING RING");
	ck_assert_uint_eq(st().misses, 2);

	/* Same size and time, but another file renamed over it. */
	put("next.raw", "ring-ring");
	char *q = path_of("next.raw");
	ck_assert_int_eq(utimensat(AT_FDCWD, q, times, 0), 0);
	ck_assert_int_eq(rename(q, p), 0);
	expect_text("ring.raw", "ring-ring");
	ck_assert_uint_eq(st().misses, 3);
	ck_assert_uint_eq(st().files, 1);

	/* Removed: gone at once, cache or not. */
	ck_assert_int_eq(unlink(p), 0);
	expect_refused("ring.raw", PT_ERR_NOT_FOUND, NULL);
	free(p);
	free(q);
}
END_TEST

START_TEST(cache_is_bounded)
{
	open_dir(false, 0, 2, 20);
	put("a", "aaaaaaaa");
	put("b", "bbbbbbbb");
	put("c", "cccccccc");
	expect_text("a", "aaaaaaaa");
	expect_text("b", "bbbbbbbb");
	expect_text("a", "aaaaaaaa"); /* a is now the more recent */
	expect_text("c", "cccccccc"); /* b goes */
	ck_assert_uint_eq(st().files, 2);
	ck_assert_uint_eq(st().bytes, 16);
	uint64_t misses = st().misses;
	expect_text("a", "aaaaaaaa");
	ck_assert_uint_eq(st().misses, misses);
	expect_text("b", "bbbbbbbb");
	ck_assert_uint_eq(st().misses, misses + 1);
	/* Larger than the whole cache: served, not kept. */
	put("huge", "0123456789012345678901234");
	expect_text("huge", "0123456789012345678901234");
	ck_assert_uint_le(st().bytes, 20);
	ck_assert_uint_le(st().files, 2);
}
END_TEST

START_TEST(blob_outlives_cache)
{
	open_dir(false, 0, 0, 0);
	pt_blob_t *b = NULL;
	ck_assert_int_eq(look("ring.raw", &b), PT_OK);
	pt_tftp_dir_destroy(&d);
	ck_assert_mem_eq(pt_blob_data(b), "ring ring", 9);
	pt_blob_unref(&b);
}
END_TEST

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pt_blob_t *b = NULL;
		char w[PT_TFTP_WHY_MAX];
		const char *name = i % 2 ? "ring.raw" : "Desktops/320x212x12/"
							"List.xml";
		if (pt_tftp_dir_lookup(d, name, NULL, 0, &b, w, sizeof w) !=
		    PT_OK)
			return (void *)1;
		pt_blob_unref(&b);
	}
	return NULL;
}

START_TEST(concurrent_lookups)
{
	open_dir(false, 0, 1, 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *res = (void *)2;
		pthread_join(t[i], &res);
		ck_assert_ptr_null(res);
	}
	ck_assert_uint_eq(st().hits + st().misses, 8000);
}
END_TEST

START_TEST(bad_roots)
{
	pt_tftp_dir_opts_t o = {.root = root};
	char *file = path_of("ring.raw");
	o.root = file;
	ck_assert_int_eq(pt_tftp_dir_new(&o, &d), PT_ESYS(ENOTDIR));
	ck_assert_ptr_null(d);
	o.root = "/nonexistent/pt-tftp-root";
	ck_assert_int_eq(pt_tftp_dir_new(&o, &d), PT_ESYS(ENOENT));
	o.root = "";
	ck_assert_int_eq(pt_tftp_dir_new(&o, &d), PT_ERR_INVALID);
	o.root = root;
	o.cache_files = PT_TFTP_DIR_CACHE_FILES_MAX + 1;
	ck_assert_int_eq(pt_tftp_dir_new(&o, &d), PT_ERR_INVALID);
	pt_tftp_dir_destroy(NULL);
	free(file);
}
END_TEST

static Suite *dir_suite(void)
{
	Suite *s = suite_create("tftp_dir");
	TCase *tc = tcase_create("dir");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, serves_files_below_root);
	tcase_add_test(tc, openat2_refusals);
	tcase_add_test(tc, fallback_refusals);
	tcase_add_test(tc, unreadable_file_denied);
	tcase_add_test(tc, cache_hits_and_changes);
	tcase_add_test(tc, cache_is_bounded);
	tcase_add_test(tc, blob_outlives_cache);
	tcase_add_test(tc, concurrent_lookups);
	tcase_add_test(tc, bad_roots);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(dir_suite());
}
