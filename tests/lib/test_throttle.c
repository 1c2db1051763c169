#include "lib/throttle.h"
#include "pt_test.h"

START_TEST(first_event_passes_then_one_line_per_interval)
{
	pt_throttle_t t = {.interval_ms = 10000};
	unsigned n = 0;
	ck_assert(pt_throttle_pass(&t, 1000, &n));
	ck_assert_uint_eq(n, 1);
	/* Retries within the interval are counted, not logged. */
	for (int64_t at = 1100; at < 11000; at += 100)
		ck_assert(!pt_throttle_pass(&t, at, &n));
	ck_assert(pt_throttle_pass(&t, 11000, &n));
	ck_assert_uint_eq(n, 100); /* 99 held back plus this one */
	ck_assert(!pt_throttle_pass(&t, 11001, &n));
	ck_assert(pt_throttle_pass(&t, 30000, &n));
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(a_clock_at_zero_still_passes_the_first)
{
	pt_throttle_t t = {.interval_ms = 5000};
	unsigned n = 0;
	ck_assert(pt_throttle_pass(&t, 0, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert(!pt_throttle_pass(&t, 4999, &n));
}
END_TEST

static Suite *throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("pass");
	tcase_add_test(tc, first_event_passes_then_one_line_per_interval);
	tcase_add_test(tc, a_clock_at_zero_still_passes_the_first);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(throttle_suite());
}
