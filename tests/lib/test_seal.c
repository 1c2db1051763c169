#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/seal.h"
#include "pt_test.h"
#include "store/records.h"

/* A cheap scrypt cost keeps the suite fast; one test uses the real one. */
#define TEST_N 1024u

static const uint8_t salt_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t salt_b[32] = "fedcba9876543210fedcba9876543210";
static const char aad[] = "device/SEP001122334455/auth_string";

static pt_data_key_t derive(const char *password, const uint8_t *salt)
{
	pt_data_key_t k;
	ck_assert_int_eq(pt_seal_derive_key(password, salt, 32, TEST_N, 8, 1,
					    &k),
			 PT_OK);
	return k;
}

static Pt__Sealed *seal_text(const pt_data_key_t *k, const char *label,
			     const char *text)
{
	Pt__Sealed *s = NULL;
	ck_assert_int_eq(pt_seal(k, label, text, strlen(text), &s), PT_OK);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(round_trip)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	Pt__Sealed *s = seal_text(&k, aad, "4829301");
	ck_assert_uint_eq(s->key_version, 1);
	ck_assert_uint_eq(s->nonce.len, PT_SEAL_NONCE_LEN);
	ck_assert_uint_eq(s->tag.len, PT_SEAL_TAG_LEN);
	ck_assert_uint_eq(s->ciphertext.len, 7);
	ck_assert(memcmp(s->ciphertext.data, "4829301", 7) != 0);

	uint8_t plain[64];
	size_t len = 0;
	ck_assert_int_eq(pt_unseal(&k, aad, s, plain, sizeof plain, &len),
			 PT_OK);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq((char *)plain, "4829301");

	/* The sealed value survives encoding as part of a record. */
	size_t packed = pt__sealed__get_packed_size(s);
	uint8_t *buf = malloc(packed);
	pt__sealed__pack(s, buf);
	Pt__Sealed *back = pt__sealed__unpack(NULL, packed, buf);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(pt_unseal(&k, aad, back, plain, sizeof plain, &len),
			 PT_OK);
	ck_assert_str_eq((char *)plain, "4829301");
	pt_record_free(&back->base);
	free(buf);
	pt_record_free(&s->base);
}
END_TEST

START_TEST(empty_and_largest_plaintext)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	Pt__Sealed *s = NULL;
	uint8_t plain[PT_SEAL_MAX_PLAINTEXT + 1];
	size_t len = 99;
	ck_assert_int_eq(pt_seal(&k, aad, "", 0, &s), PT_OK);
	ck_assert_int_eq(pt_unseal(&k, aad, s, plain, sizeof plain, &len),
			 PT_OK);
	ck_assert_uint_eq(len, 0);
	pt_record_free(&s->base);

	uint8_t *big = malloc(PT_SEAL_MAX_PLAINTEXT + 1);
	memset(big, 'k', PT_SEAL_MAX_PLAINTEXT + 1);
	ck_assert_int_eq(pt_seal(&k, aad, big, PT_SEAL_MAX_PLAINTEXT, &s),
			 PT_OK);
	ck_assert_int_eq(pt_unseal(&k, aad, s, plain, sizeof plain, &len),
			 PT_OK);
	ck_assert_uint_eq(len, PT_SEAL_MAX_PLAINTEXT);
	ck_assert(memcmp(plain, big, len) == 0);
	/* A buffer too small for the plaintext is refused. */
	ck_assert_int_eq(pt_unseal(&k, aad, s, plain, 100, &len),
			 PT_ERR_TOO_LARGE);
	pt_record_free(&s->base);
	s = NULL;
	ck_assert_int_eq(pt_seal(&k, aad, big, PT_SEAL_MAX_PLAINTEXT + 1, &s),
			 PT_ERR_TOO_LARGE);
	ck_assert_ptr_null(s);
	free(big);
}
END_TEST

START_TEST(fresh_nonce_each_time)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	Pt__Sealed *a = seal_text(&k, aad, "123456");
	Pt__Sealed *b = seal_text(&k, aad, "123456");
	ck_assert(memcmp(a->nonce.data, b->nonce.data, PT_SEAL_NONCE_LEN) != 0);
	ck_assert(memcmp(a->ciphertext.data, b->ciphertext.data, 6) != 0);
	pt_record_free(&a->base);
	pt_record_free(&b->base);
}
END_TEST

/* Each refusal also leaves no plaintext in the caller's buffer. */
static void expect_refused(const pt_data_key_t *k, const char *label,
			   const Pt__Sealed *s, int want)
{
	uint8_t plain[64];
	size_t len = 12345;
	memset(plain, 'X', sizeof plain);
	ck_assert_int_eq(pt_unseal(k, label, s, plain, sizeof plain, &len),
			 want);
	ck_assert_uint_eq(len, 12345);
	for (size_t i = 0; i < s->ciphertext.len; i++)
		ck_assert_msg(plain[i] == 0 || plain[i] == 'X',
			      "byte %zu of a refused unseal leaked", i);
}

START_TEST(wrong_key_refused)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	pt_data_key_t other = derive("another password", salt_a);
	Pt__Sealed *s = seal_text(&k, aad, "98765432");
	expect_refused(&other, aad, s, PT_ERR_AUTH);
	pt_record_free(&s->base);
}
END_TEST

START_TEST(wrong_aad_refused)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	Pt__Sealed *s = seal_text(&k, aad, "98765432");
	/* The same value moved to another device or field does not open. */
	expect_refused(&k, "device/SEP001122334466/auth_string", s,
		       PT_ERR_AUTH);
	expect_refused(&k, "device/SEP001122334455/digest_credentials", s,
		       PT_ERR_AUTH);
	expect_refused(&k, "", s, PT_ERR_AUTH);
	pt_record_free(&s->base);
}
END_TEST

START_TEST(altered_values_refused)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	Pt__Sealed *s = seal_text(&k, aad, "98765432");

	for (size_t i = 0; i < s->ciphertext.len; i++) {
		s->ciphertext.data[i] ^= 0x01;
		expect_refused(&k, aad, s, PT_ERR_AUTH);
		s->ciphertext.data[i] ^= 0x01;
	}
	for (size_t i = 0; i < s->tag.len; i++) {
		s->tag.data[i] ^= 0x80;
		expect_refused(&k, aad, s, PT_ERR_AUTH);
		s->tag.data[i] ^= 0x80;
	}
	for (size_t i = 0; i < s->nonce.len; i++) {
		s->nonce.data[i] ^= 0x10;
		expect_refused(&k, aad, s, PT_ERR_AUTH);
		s->nonce.data[i] ^= 0x10;
	}
	/* A shortened ciphertext, tag or nonce. */
	s->ciphertext.len--;
	expect_refused(&k, aad, s, PT_ERR_AUTH);
	s->ciphertext.len++;
	s->tag.len--;
	expect_refused(&k, aad, s, PT_ERR_CORRUPT);
	s->tag.len++;
	s->nonce.len--;
	expect_refused(&k, aad, s, PT_ERR_CORRUPT);
	s->nonce.len++;
	s->key_version = 2;
	expect_refused(&k, aad, s, PT_ERR_CORRUPT);
	s->key_version = 1;

	/* Restored, it opens again: the refusals were about the changes. */
	uint8_t plain[64];
	size_t len;
	ck_assert_int_eq(pt_unseal(&k, aad, s, plain, sizeof plain, &len),
			 PT_OK);
	ck_assert_str_eq((char *)plain, "98765432");
	pt_record_free(&s->base);
}
END_TEST

START_TEST(derive_is_deterministic)
{
	pt_data_key_t a1 = derive("cluster password", salt_a);
	pt_data_key_t a2 = derive("cluster password", salt_a);
	pt_data_key_t other_pw = derive("cluster passwore", salt_a);
	pt_data_key_t other_salt = derive("cluster password", salt_b);
	ck_assert(memcmp(a1.bytes, a2.bytes, PT_DATA_KEY_LEN) == 0);
	ck_assert(memcmp(a1.bytes, other_pw.bytes, PT_DATA_KEY_LEN) != 0);
	ck_assert(memcmp(a1.bytes, other_salt.bytes, PT_DATA_KEY_LEN) != 0);

	/* Other cost parameters give another key. */
	pt_data_key_t cost;
	ck_assert_int_eq(pt_seal_derive_key("cluster password", salt_a, 32,
					    TEST_N * 2, 8, 1, &cost),
			 PT_OK);
	ck_assert(memcmp(a1.bytes, cost.bytes, PT_DATA_KEY_LEN) != 0);

	/* Bad inputs. */
	ck_assert_int_eq(pt_seal_derive_key("pw", salt_a, 8, TEST_N, 8, 1,
					    &cost),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_seal_derive_key(NULL, salt_a, 32, TEST_N, 8, 1,
					    &cost),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_seal_derive_key("pw", salt_a, 32, 1, 8, 1, &cost),
			 PT_ERR_INVALID);
	/* N must be a power of two for scrypt. */
	ck_assert_int_eq(pt_seal_derive_key("pw", salt_a, 32, 1000, 8, 1,
					    &cost),
			 PT_ERR_CRYPTO);
}
END_TEST

/* The cost a new cluster uses works within scrypt's memory limit. */
START_TEST(derive_with_cluster_cost)
{
	pt_data_key_t a, b;
	ck_assert_int_eq(pt_seal_derive_key("cluster password", salt_a, 32,
					    PT_KDF_N, PT_KDF_R, PT_KDF_P, &a),
			 PT_OK);
	ck_assert_int_eq(pt_seal_derive_key("cluster password", salt_a, 32,
					    PT_KDF_N, PT_KDF_R, PT_KDF_P, &b),
			 PT_OK);
	ck_assert(memcmp(a.bytes, b.bytes, PT_DATA_KEY_LEN) == 0);
	pt_data_key_t cheap = derive("cluster password", salt_a);
	ck_assert(memcmp(a.bytes, cheap.bytes, PT_DATA_KEY_LEN) != 0);
}
END_TEST

START_TEST(verifier)
{
	pt_data_key_t k = derive("cluster password", salt_a);
	pt_data_key_t other = derive("another password", salt_a);
	uint8_t v1[32], v2[32], v3[32];
	ck_assert_int_eq(pt_seal_verifier(&k, v1), PT_OK);
	ck_assert_int_eq(pt_seal_verifier(&k, v2), PT_OK);
	ck_assert_int_eq(pt_seal_verifier(&other, v3), PT_OK);
	ck_assert(memcmp(v1, v2, 32) == 0);
	ck_assert(memcmp(v1, v3, 32) != 0);
	/* The verifier is not the key itself. */
	ck_assert(memcmp(v1, k.bytes, 32) != 0);

	/* Its definition travels between nodes: pin it. */
	static const char label[] = "phonetrust password verifier v1";
	uint8_t want[32];
	unsigned int n = 0;
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k.bytes, PT_DATA_KEY_LEN,
				   (const uint8_t *)label, sizeof label - 1,
				   want, &n));
	ck_assert_uint_eq(n, 32);
	ck_assert(memcmp(v1, want, 32) == 0);
}
END_TEST

START_TEST(wipe_clears)
{
	uint8_t buf[48];
	memset(buf, 0xA5, sizeof buf);
	pt_seal_wipe(buf, sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		ck_assert_uint_eq(buf[i], 0);
}
END_TEST

static Suite *seal_suite(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("seal");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_and_largest_plaintext);
	tcase_add_test(tc, fresh_nonce_each_time);
	tcase_add_test(tc, wrong_key_refused);
	tcase_add_test(tc, wrong_aad_refused);
	tcase_add_test(tc, altered_values_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("derive");
	tcase_add_test(tc, derive_is_deterministic);
	tcase_add_test(tc, derive_with_cluster_cost);
	tcase_add_test(tc, verifier);
	tcase_add_test(tc, wipe_clears);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(seal_suite());
}
