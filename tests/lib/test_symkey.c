#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/symkey.h"
#include "pt_test.h"

START_TEST(bits_by_model)
{
	ck_assert_uint_eq(pt_symkey_bits("7960"), 128);
	ck_assert_uint_eq(pt_symkey_bits("7940"), 128);
	ck_assert_uint_eq(pt_symkey_bits("Cisco 7975"), 128);
	ck_assert_uint_eq(pt_symkey_bits("8841"), 256);
	ck_assert_uint_eq(pt_symkey_bits("6921"), 256);
	/* Unknown models (7905/7912 among them) take 256 bits. */
	ck_assert_uint_eq(pt_symkey_bits("7912"), 256);
	ck_assert_uint_eq(pt_symkey_bits("9999"), 256);
	ck_assert_uint_eq(pt_symkey_bits(""), 256);
	ck_assert_uint_eq(pt_symkey_bits(NULL), 256);
}
END_TEST

START_TEST(generate)
{
	char a[PT_SYMKEY_HEX_MAX], b[PT_SYMKEY_HEX_MAX];
	for (unsigned bits = 128; bits <= 256; bits += 128) {
		ck_assert_int_eq(pt_symkey_generate(bits, a, sizeof a), PT_OK);
		ck_assert_int_eq(pt_symkey_generate(bits, b, sizeof b), PT_OK);
		ck_assert_uint_eq(strlen(a), bits / 4);
		ck_assert_str_ne(a, b);
		for (const char *p = a; *p; p++)
			ck_assert(isxdigit((unsigned char)*p) &&
				  !isupper((unsigned char)*p));
		bool off = true;
		ck_assert_int_eq(pt_symkey_validate(a, bits, &off, NULL),
				 PT_OK);
		ck_assert(!off);
		/* Exactly the room needed is enough; one byte less is not. */
		ck_assert_int_eq(pt_symkey_generate(bits, a, bits / 4 + 1),
				 PT_OK);
		ck_assert_int_eq(pt_symkey_generate(bits, a, bits / 4),
				 PT_ERR_TOO_LARGE);
	}
	ck_assert_int_eq(pt_symkey_generate(192, a, sizeof a), PT_ERR_INVALID);
	ck_assert_int_eq(pt_symkey_generate(0, a, sizeof a), PT_ERR_INVALID);
	ck_assert_int_eq(pt_symkey_generate(128, NULL, 64), PT_ERR_INVALID);
}
END_TEST

START_TEST(validate)
{
	static const char k128[] = "00112233445566778899aAbBcCdDeEfF";
	static const char k256[] =
		"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
	const char *why = "x";
	bool off = true;

	ck_assert_int_eq(pt_symkey_validate(k128, 128, &off, &why), PT_OK);
	ck_assert(!off);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(pt_symkey_validate(k256, 256, &off, &why), PT_OK);
	/* The wrong length for the model's size. */
	ck_assert_int_eq(pt_symkey_validate(k256, 128, &off, &why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "32 hex digits"));
	ck_assert_int_eq(pt_symkey_validate(k128, 256, &off, &why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "64 hex digits"));

	static const char *const bad[] = {
		"",
		"0011223344556677889aabbccddeeff",   /* 31 */
		"00112233445566778899aabbccddeeff0", /* 33 */
		"0x112233445566778899aabbccddeeff",
		"00112233445566778899aabbccddeefg",
		"00112233445566778899aabbccddee f",
		" 00112233445566778899aabbccddeef",
		"00112233-45566778899aabbccddeeff",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		off = true;
		ck_assert_msg(pt_symkey_validate(bad[i], 128, &off, &why) ==
				      PT_ERR_INVALID,
			      "%s", bad[i]);
		ck_assert_ptr_nonnull(why);
		ck_assert(!off);
	}
	ck_assert_int_eq(pt_symkey_validate(NULL, 128, NULL, NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_symkey_validate(k128, 64, NULL, &why),
			 PT_ERR_INVALID);

	/* All zeros: accepted, and it turns encryption off. */
	char zero[65];
	memset(zero, '0', 64);
	zero[64] = '\0';
	ck_assert_int_eq(pt_symkey_validate(zero, 256, &off, &why), PT_OK);
	ck_assert(off);
	ck_assert_ptr_nonnull(strstr(why, "off"));
	zero[32] = '\0';
	ck_assert_int_eq(pt_symkey_validate(zero, 128, &off, NULL), PT_OK);
	ck_assert(off);
}
END_TEST

START_TEST(canonical)
{
	char out[PT_SYMKEY_HEX_MAX] = "untouched";
	ck_assert_int_eq(pt_symkey_canonical("00112233445566778899AABBCCDDEEFF",
					     128, out, sizeof out, NULL),
			 PT_OK);
	ck_assert_str_eq(out, "00112233445566778899aabbccddeeff");
	strcpy(out, "untouched");
	ck_assert_int_eq(pt_symkey_canonical("00112233445566778899AABBCCDDEEF",
					     128, out, sizeof out, NULL),
			 PT_ERR_INVALID);
	ck_assert_str_eq(out, "untouched");
	ck_assert_int_eq(pt_symkey_canonical("00112233445566778899AABBCCDDEEFF",
					     128, out, 32, NULL),
			 PT_ERR_TOO_LARGE);
	ck_assert_str_eq(out, "untouched");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("symkey");
	TCase *tc = tcase_create("symkey");
	tcase_add_test(tc, bits_by_model);
	tcase_add_test(tc, generate);
	tcase_add_test(tc, validate);
	tcase_add_test(tc, canonical);
	suite_add_tcase(s, tc);
	return pt_test_main(s);
}
