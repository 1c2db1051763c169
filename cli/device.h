/* Internal to the device and capf nouns: the verbs that live in files of
 * their own, the profile cache and the shared rendering of devices
 * (cli/device_out.c). */
#ifndef PT_CLI_DEVICE_H
#define PT_CLI_DEVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "records.pb-c.h"
#include "store/store.h"

/* `device import` (cli/device_import.c); argv[0] is "import". */
int pt_cli_device_import(pt_cli_t *cli, int argc, char **argv);

/* Profiles by name, each looked up once per command.  Returned profiles
 * are borrowed from the cache and live until it is destroyed. */
typedef struct pt_profile_cache pt_profile_cache_t;

pt_profile_cache_t *pt_profile_cache_new(void);
void pt_profile_cache_destroy(pt_profile_cache_t **cache);
/* *out is NULL when no such profile exists (that answer is cached too).
 * Errors are the store's. */
int pt_profile_cache_get(pt_profile_cache_t *cache, pt_txn_t *txn,
			 const char *name, const Pt__Profile **out);

/* The JSON object of a device (new reference, NULL on allocation
 * failure).  profile (may be NULL) supplies the effective CAPF settings.
 * With detail (device show) it adds the auth string (auth_string: the
 * text, or NULL for none), MIC, history, hardening, digest user and
 * timestamps. */
json_t *pt_device_json(const Pt__Device *dev, const Pt__Profile *profile,
		       bool detail, const char *auth_string);

/* Opens dev's auth string into buf (PT_AUTH_STRING_MAX + 1 bytes) with
 * the node's data key, loaded quietly on first need.  Returns buf, or
 * NULL when the device has none or it cannot be opened (*why then says
 * which, when why is not NULL). */
const char *pt_cli_device_auth_string(pt_cli_t *cli, const Pt__Device *dev,
				      char *buf, const char **why);

/* Prints device show's human form on out.  auth_text is the auth string
 * in clear, or a note for its line ("none", "sealed; ..."). */
void pt_device_print(FILE *out, const Pt__Device *dev,
		     const Pt__Profile *profile, const char *auth_text);

/* Streams devices to stdout: a JSON array printed object by object, or a
 * table (name, model, protocol, profile, CAPF, LSC) printed at the end. */
typedef struct pt_device_stream pt_device_stream_t;

pt_device_stream_t *pt_device_stream_new(bool json);
int pt_device_stream_add(pt_device_stream_t *s, const Pt__Device *dev,
			 const Pt__Profile *profile);
/* Closes the array or prints the table; returns the number of devices
 * through *count (may be NULL) and frees s. */
int pt_device_stream_finish(pt_device_stream_t **s, size_t *count);

/* Prints item (ownership taken) indented as one element of a JSON array
 * streamed to out: first opens the array, later items get a separator.
 * The caller closes the array ("\n]\n", or "[]\n" when empty). */
int pt_cli_json_array_item(FILE *out, json_t *item, bool first);

/* A UTC time as "YYYY-MM-DDTHH:MM:SSZ" (new JSON string) or JSON null
 * for 0. */
json_t *pt_json_time(int64_t t);

#endif
