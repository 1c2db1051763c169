/* The per-client table: rate limit, concurrency cap, answers to refusals,
 * expiry and its fixed capacity.  Time is passed in, so nothing here
 * depends on the clock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "lib/errors.h"
#include "pt_test.h"
#include "tftp/tftp_clients.h"

static struct sockaddr_in v4(uint32_t host, uint16_t port)
{
	return (struct sockaddr_in){.sin_family = AF_INET,
				    .sin_port = htons(port),
				    .sin_addr.s_addr = htonl(host)};
}

#define SA(x) ((const struct sockaddr *)&(x))

START_TEST(no_limits_no_table)
{
	pt_tftp_clients_t *t = (pt_tftp_clients_t *)1;
	ck_assert_int_eq(pt_tftp_clients_new(0, 0, 100, &t), PT_OK);
	ck_assert_ptr_null(t);
	struct sockaddr_in a = v4(0x0a000001, 1);
	bool reply = true;
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 0, &reply), PT_OK);
	ck_assert(!reply);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a), 0), PT_OK);
	pt_tftp_clients_release(t, SA(a));
	ck_assert_uint_eq(pt_tftp_clients_expire(t, 0), 0);
	pt_tftp_clients_destroy(&t);
}
END_TEST

START_TEST(token_bucket)
{
	pt_tftp_clients_t *t = NULL;
	ck_assert_int_eq(pt_tftp_clients_new(0, 4, 100, &t), PT_OK);
	struct sockaddr_in a = v4(0x0a000001, 1000), b = v4(0x0a000002, 1000);
	bool reply;
	/* A burst of four, then refused; the first refusal is answered, the
	 * next ones within a second are not. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 0, &reply),
				 PT_OK);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 0, &reply),
			 PT_ERR_DENIED);
	ck_assert(reply);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 10, &reply),
			 PT_ERR_DENIED);
	ck_assert(!reply);
	/* Another address has a bucket of its own. */
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(b), 10, &reply), PT_OK);
	/* Another port of the same address shares the bucket. */
	struct sockaddr_in a2 = v4(0x0a000001, 2000);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a2), 10, &reply),
			 PT_ERR_DENIED);
	/* 4/s: one token after 250 ms, none more at 300. */
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 250, &reply), PT_OK);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 300, &reply),
			 PT_ERR_DENIED);
	ck_assert(!reply);
	/* A second after the last answer, a refusal is answered again. */
	for (int64_t ms = 1000; ms < 1003; ms++)
		ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), ms, &reply),
				 PT_OK); /* 0.2 + 2.8 tokens, and a little */
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 1003, &reply),
			 PT_ERR_DENIED);
	ck_assert(reply);
	/* The bucket holds at most a second's worth. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 100000,
							 &reply),
				 PT_OK);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 100000, &reply),
			 PT_ERR_DENIED);
	pt_tftp_clients_destroy(&t);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(concurrency_cap)
{
	pt_tftp_clients_t *t = NULL;
	ck_assert_int_eq(pt_tftp_clients_new(2, 0, 100, &t), PT_OK);
	struct sockaddr_in a = v4(0x0a000001, 1), a2 = v4(0x0a000001, 2);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a), 0), PT_OK);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a2), 0), PT_OK);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a), 0), PT_ERR_DENIED);
	ck_assert_uint_eq(pt_tftp_clients_active(t, SA(a)), 2);
	/* No rate limit configured: requests always pass. */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 0, NULL),
				 PT_OK);
	pt_tftp_clients_release(t, SA(a2));
	ck_assert_uint_eq(pt_tftp_clients_active(t, SA(a)), 1);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a), 0), PT_OK);
	pt_tftp_clients_release(t, SA(a));
	pt_tftp_clients_release(t, SA(a));
	pt_tftp_clients_release(t, SA(a)); /* one too many: ignored */
	ck_assert_uint_eq(pt_tftp_clients_active(t, SA(a)), 0);
	pt_tftp_clients_destroy(&t);
}
END_TEST

START_TEST(v4_mapped_is_v4)
{
	pt_tftp_clients_t *t = NULL;
	ck_assert_int_eq(pt_tftp_clients_new(1, 0, 100, &t), PT_OK);
	struct sockaddr_in a = v4(0xc0000201, 69);
	struct sockaddr_in6 m = {.sin6_family = AF_INET6};
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.1", &m.sin6_addr),
			 1);
	struct sockaddr_in6 o = {.sin6_family = AF_INET6};
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &o.sin6_addr), 1);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a), 0), PT_OK);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(m), 0), PT_ERR_DENIED);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(o), 0), PT_OK);
	pt_tftp_clients_destroy(&t);
}
END_TEST

START_TEST(idle_entries_expire)
{
	pt_tftp_clients_t *t = NULL;
	ck_assert_int_eq(pt_tftp_clients_new(4, 10, 100, &t), PT_OK);
	struct sockaddr_in a = v4(0x0a000001, 1), b = v4(0x0a000002, 1);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(a), 0, NULL), PT_OK);
	ck_assert_int_eq(pt_tftp_clients_request(t, SA(b), 0, NULL), PT_OK);
	ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(b), 0), PT_OK);
	ck_assert_uint_eq(pt_tftp_clients_count(t), 2);
	/* a's bucket is not full again yet (one token spent at 10/s). */
	ck_assert_uint_eq(pt_tftp_clients_expire(t, 50), 0);
	/* Now it is; b still has a transfer. */
	ck_assert_uint_eq(pt_tftp_clients_expire(t, 100), 1);
	ck_assert_uint_eq(pt_tftp_clients_count(t), 1);
	ck_assert_uint_eq(pt_tftp_clients_active(t, SA(b)), 1);
	pt_tftp_clients_release(t, SA(b));
	ck_assert_uint_eq(pt_tftp_clients_expire(t, 200), 1);
	ck_assert_uint_eq(pt_tftp_clients_count(t), 0);
	pt_tftp_clients_destroy(&t);
}
END_TEST

START_TEST(capacity_is_fixed)
{
	pt_tftp_clients_t *t = NULL;
	/* 16 shards of at least 4: 64 entries at most. */
	ck_assert_int_eq(pt_tftp_clients_new(1, 0, 1, &t), PT_OK);
	unsigned busy = 0, full = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		struct sockaddr_in a = v4(0x0a000000 + i, 1);
		int r = pt_tftp_clients_acquire(t, SA(a), 0);
		if (r == PT_OK) {
			busy++;
		} else {
			ck_assert_int_eq(r, PT_ERR_TOO_LARGE);
			full++;
		}
	}
	ck_assert_uint_eq(busy, 64);
	ck_assert_uint_eq(full, 1000 - 64);
	ck_assert_uint_eq(pt_tftp_clients_count(t), 64);
	/* Idle entries make room: release everything, then new addresses
	 * take their places. */
	for (uint32_t i = 0; i < 1000; i++) {
		struct sockaddr_in a = v4(0x0a000000 + i, 1);
		pt_tftp_clients_release(t, SA(a));
	}
	for (uint32_t i = 5000; i < 5200; i++) {
		struct sockaddr_in a = v4(0x0a000000 + i, 1);
		ck_assert_int_eq(pt_tftp_clients_acquire(t, SA(a), 0), PT_OK);
		pt_tftp_clients_release(t, SA(a));
	}
	ck_assert_uint_le(pt_tftp_clients_count(t), 64);
	pt_tftp_clients_destroy(&t);
}
END_TEST

static Suite *clients_suite(void)
{
	Suite *s = suite_create("tftp_clients");
	TCase *tc = tcase_create("clients");
	tcase_add_test(tc, no_limits_no_table);
	tcase_add_test(tc, token_bucket);
	tcase_add_test(tc, concurrency_cap);
	tcase_add_test(tc, v4_mapped_is_v4);
	tcase_add_test(tc, idle_entries_expire);
	tcase_add_test(tc, capacity_is_fixed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(clients_suite());
}
