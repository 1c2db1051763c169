/* Device CSV files come from administrators' spreadsheets: the parser and
 * the row rules behind `device import` must survive any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/device_csv.h"
#include "lib/device_rules.h"
#include "lib/errors.h"
#include "lib/profiles.h"
#include "records.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The predefined profiles, built once: they stand in for the store. */
static Pt__Profile **profiles;
static size_t nprofiles;

static void load_profiles(void)
{
	if (profiles)
		return;
	nprofiles = pt_profile_predefined_count();
	profiles = calloc(nprofiles, sizeof *profiles);
	if (!profiles)
		abort();
	for (size_t i = 0; i < nprofiles; i++)
		if (pt_profile_predefined_build(i, &profiles[i]) != PT_OK)
			abort();
}

static const Pt__Profile *find_profile(const char *name)
{
	for (size_t i = 0; i < nprofiles; i++)
		if (strcmp(profiles[i]->name, name) == 0)
			return profiles[i];
	return NULL;
}

static void check_row(const pt_device_csv_t *csv, const pt_csv_row_t *row,
		      const pt_data_key_t *key)
{
	pt_device_input_t in;
	pt_device_error_t err;
	if (pt_device_csv_row_input(csv, row, &in, &err) != PT_OK)
		return;
	if (!in.name)
		in.name = "";
	pt_device_target_t t;
	if (pt_device_rules_target(&in, NULL, &t, &err) != PT_OK)
		return;
	pt_device_env_t env = {.profile = find_profile(t.profile),
			       .key = key,
			       .now = 1800000000};
	Pt__Device *dev = NULL;
	if (pt_device_rules_build(&in, NULL, &t, &env, &dev, &err) != PT_OK)
		return;
	/* A built device is a valid record: it packs and copies. */
	Pt__Device *copy = NULL;
	if (pt_device_copy(dev, &copy) != PT_OK || !pt_device_equal(dev, copy))
		abort();
	pt__device__free_unpacked(copy, NULL);
	pt__device__free_unpacked(dev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_device_csv_t *csv = NULL;
	pt_data_key_t key;
	memset(&key, 0x42, sizeof key);
	load_profiles();
	if (pt_device_csv_parse(data, size, &csv) != PT_OK)
		return 0;
	if (csv->nissues == 0 && csv->nbad != 0)
		abort(); /* a bad row always says why */
	for (size_t i = 0; i < csv->nrows && i < 64; i++)
		if (!csv->rows[i].bad)
			check_row(csv, &csv->rows[i], &key);
	pt_device_csv_destroy(&csv);
	return 0;
}
