/* The migration's building blocks without the CLI: the sorted spill runs
 * hand back every record, grouped by key in key order and each group in
 * ascending order, across many runs; the quarantine masking hides every
 * AuthString value and nothing else; the winner and history rules. */
#include <stdlib.h>
#include <string.h>

#include "files/legacy_device.h"
#include "files/legacy_report.h"
#include "files/legacy_spill.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "store/records.h"

START_TEST(spill_groups_come_back_sorted)
{
	char *dir = pt_test_tmpdir();
	pt_legacy_spill_t *s = NULL;
	/* The smallest run buffer: a few MB of payload make several runs. */
	ck_assert_int_eq(pt_legacy_spill_new(dir, 1, &s), PT_OK);
	enum { KEYS = 3000, PER = 3 };
	static uint8_t payload[1500];
	unsigned seen[KEYS] = {0};
	srand(7);
	for (unsigned i = 0; i < KEYS * PER; i++) {
		unsigned k = i % KEYS;
		char key[32];
		snprintf(key, sizeof key, "SEP%012X", k * 2654435761u);
		uint64_t order = (uint64_t)(PER - i / KEYS) << 32 | k;
		memset(payload, (int)(k & 0xff), sizeof payload);
		ck_assert_int_eq(pt_legacy_spill_put(s, key, order, payload,
						     sizeof payload),
				 PT_OK);
	}
	ck_assert_int_eq(pt_legacy_spill_finish(s), PT_OK);
	ck_assert_uint_ge(pt_legacy_spill_runs(s), 3);
	char prev[32] = "";
	size_t groups = 0;
	const pt_legacy_spill_item_t *items;
	size_t n;
	int r;
	while ((r = pt_legacy_spill_next(s, &items, &n)) == PT_OK) {
		ck_assert_uint_eq(n, PER);
		ck_assert_int_lt(strcmp(prev, items[0].key), 0);
		snprintf(prev, sizeof prev, "%s", items[0].key);
		for (size_t i = 0; i < n; i++) {
			ck_assert_str_eq(items[i].key, prev);
			ck_assert_uint_eq(items[i].len, sizeof payload);
			if (i)
				ck_assert_uint_lt(items[i - 1].order,
						  items[i].order);
			unsigned k = (unsigned)(items[i].order & 0xffffffffu);
			ck_assert_uint_eq(items[i].payload[0], k & 0xff);
			seen[k]++;
		}
		groups++;
	}
	ck_assert_int_eq(r, PT_ERR_NOT_FOUND);
	ck_assert_uint_eq(groups, KEYS);
	for (unsigned k = 0; k < KEYS; k++)
		ck_assert_uint_eq(seen[k], PER);
	pt_legacy_spill_destroy(&s);
	ck_assert_ptr_null(s);
	/* The runs are gone with the spill. */
	char *cmd = NULL;
	ck_assert_int_ge(asprintf(&cmd, "test -z \"$(ls -A '%s')\"", dir), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	pt_test_rmtree(dir);
	free(dir);
}
END_TEST

static void masks(const char *in, const char *want)
{
	uint8_t out[512];
	size_t n = pt_legacy_mask_auth((const uint8_t *)in, strlen(in), out);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_mem_eq(out, want, n);
}

START_TEST(mask_hides_auth_strings_only)
{
	masks("AuthString=1234\r\n", "AuthString=********\r\n");
	masks("  authstring = 98765 ;note\n", "  authstring = ******** ;note\n");
	masks("AUTHSTRING=12345678", "AUTHSTRING=********");
	masks("AuthString=\r\n", "AuthString=\r\n");
	masks("AuthMode=By Authentication String\nAuthStringX=12\n",
	      "AuthMode=By Authentication String\nAuthStringX=12\n");
	masks("[SEP001122334455]\nAuthString=12x4\nKeySize=768\n",
	      "[SEP001122334455]\nAuthString=********\nKeySize=768\n");
	masks("Description=AuthString=1234\n", "Description=AuthString=1234\n");
}
END_TEST

static Pt__Device *candidate(const char *name, int64_t lu, const char *lsc)
{
	Pt__Device *d = malloc(sizeof *d);
	pt__device__init(d);
	d->name = strdup(name);
	d->legacy = malloc(sizeof *d->legacy);
	pt__legacy_origin__init(d->legacy);
	d->legacy->last_updated = lu;
	d->legacy->directory = strdup("dir");
	if (lsc) {
		d->lsc = malloc(sizeof *d->lsc);
		pt__certificate__init(d->lsc);
		d->lsc->sha256.data = (uint8_t *)strdup(lsc);
		d->lsc->sha256.len = strlen(lsc);
		d->lsc->source = strdup(PT_LEGACY_CERT_SOURCE);
	}
	return d;
}

START_TEST(winner_and_history)
{
	/* Latest wins; a tie goes to the one with an LSC; the losers' LSCs
	 * become history once each, oldest first. */
	Pt__Device *c[5] = {
		candidate("SEP1", 100, "a"), candidate("SEP1", 300, NULL),
		candidate("SEP1", 300, "b"), candidate("SEP1", 50, "c"),
		candidate("SEP1", 200, "a"),
	};
	uint64_t order[5] = {1, 2, 3, 4, 5};
	Pt__Device *w = NULL;
	size_t wi = 9;
	ck_assert_int_eq(pt_legacy_device_resolve(c, order, 5, &w, &wi), PT_OK);
	ck_assert_uint_eq(wi, 2);
	ck_assert_mem_eq(w->lsc->sha256.data, "b", 1);
	ck_assert_uint_eq(w->n_history, 2);
	ck_assert_mem_eq(w->history[0]->sha256.data, "c", 1);
	ck_assert_mem_eq(w->history[1]->sha256.data, "a", 1);

	/* Merging it again into what it produced changes nothing. */
	Pt__Device *stored = NULL, *again = NULL;
	pt_legacy_action_t a;
	char why[PT_LEGACY_REASON_MAX];
	ck_assert_int_eq(pt_legacy_device_merge(NULL, w, 1000, &stored, &a, why),
			 PT_OK);
	ck_assert_int_eq(a, PT_LEGACY_IMPORTED);
	ck_assert_int_eq(pt_legacy_device_merge(stored, w, 2000, &again, &a,
						why),
			 PT_OK);
	ck_assert_int_eq(a, PT_LEGACY_UNCHANGED);
	ck_assert_ptr_null(again);
	pt_record_free(&stored->base);
	pt_record_free(&w->base);

	/* Full tie: the earlier directory and line. */
	Pt__Device *t[2] = {candidate("SEP2", 5, "x"), candidate("SEP2", 5, "y")};
	uint64_t o2[2] = {(uint64_t)1 << 32 | 7, 9};
	ck_assert_int_eq(pt_legacy_device_resolve(t, o2, 2, &w, &wi), PT_OK);
	ck_assert_uint_eq(wi, 1);
	pt_record_free(&w->base);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_units");
	TCase *tc = tcase_create("units");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, spill_groups_come_back_sorted);
	tcase_add_test(tc, mask_hides_auth_strings_only);
	tcase_add_test(tc, winner_and_history);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
