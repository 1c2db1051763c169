/* A migrated cluster: deploy/local-cluster.sh starts a real publisher and
 * two real subscribers, the real CLI migrates legacy directories on the
 * publisher in small batches, and every subscriber reaches the
 * publisher's digest and sequence.  A subscriber refuses to migrate, and
 * a second run on the publisher adds nothing to the changelog. */
#include "migrate_util.h"
#include "pt_cluster.h"

static pt_cluster_t cluster;

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

START_TEST(subscribers_reach_the_publishers_digest)
{
	pt_cluster_t *c = &cluster;
	pt_cluster_up(c, 2);
	char *fixture = mg_fmt("%s/legacy", c->dir);
	mg_generate(fixture, 3000, 2, 0.03, 0.2, 51);
	char *d0 = mg_fmt("%s/publisher", fixture);
	char *d1 = mg_fmt("%s/subscriber1", fixture);
	char *d2 = mg_fmt("%s/subscriber2", fixture);
	uint64_t before = 0, after = 0, again = 0;
	free(pt_cluster_digest(c, "pub", &before));

	pt_run_t r;
	pt_cluster_cli(c, &r, "sub1", "migrate", "legacy", d0, d1, d2, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "subscriber"), "%s", r.err);
	pt_run_clear(&r);

	pt_cluster_cli(c, &r, "pub", "migrate", "legacy", d0, d1, d2,
		       "--batch", "100", "--json", NULL);
	ck_assert_msg(r.status == 0, "migrate: %s", r.err);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	json_int_t devices = json_integer_value(json_object_get(j, "devices"));
	ck_assert_int_gt(devices, 0);
	/* Each batch of 100 devices is one transaction. */
	ck_assert_int_ge(json_integer_value(json_object_get(j, "transactions")),
			 devices / 100);
	json_decref(j);
	pt_run_clear(&r);
	free(pt_cluster_digest(c, "pub", &after));
	ck_assert_uint_gt(after, before);

	pt_cluster_wait_same(c, 300, "sub1", "sub2", NULL);
	const char *nodes[] = {"pub", "sub1", "sub2"};
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(pt_cluster_devices(c, nodes[i]),
				  (uint64_t)devices);

	pt_cluster_cli(c, &r, "pub", "migrate", "legacy", d0, d1, d2, NULL);
	ck_assert_msg(r.status == 0, "rerun: %s", r.err);
	pt_run_clear(&r);
	free(pt_cluster_digest(c, "pub", &again));
	ck_assert_uint_eq(again, after);

	pt_cluster_do(c, "down", NULL);
	pt_cluster_assert_clean_logs(c);
	free(fixture);
	free(d0);
	free(d1);
	free(d2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_cluster");
	TCase *tc = tcase_create("cluster");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, subscribers_reach_the_publishers_digest);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
