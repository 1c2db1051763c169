/* The CAPF operation settings that `capf op` and `capf profile add` take
 * alike (--operation, --auth-mode, --auth-string | --generate-string,
 * --key-size | --ec-curve, --completes-by): their getopt entries, the
 * usage checks, the generated string and the data key that seals it.
 * The same settings arrive from CSV cells in `device import`, where
 * node/lib/device_csv.h maps the key columns the same way. */
#ifndef PT_CLI_CAPF_OPTS_H
#define PT_CLI_CAPF_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "cli.h"
#include "files/capf_users.h"
#include "lib/device_rules.h"
#include "lib/seal.h"
#include "lib/validate.h"

/* getopt codes of the settings; a verb's own codes stay below. */
enum {
	PT_CAPF_OPT_OPERATION = 0x300,
	PT_CAPF_OPT_AUTH_MODE,
	PT_CAPF_OPT_AUTH_STRING,
	PT_CAPF_OPT_GENERATE,
	PT_CAPF_OPT_KEY_SIZE,
	PT_CAPF_OPT_EC_CURVE,
	PT_CAPF_OPT_COMPLETES_BY,
};

/* The settings' entries of a struct option table (initialisers only). */
#define PT_CAPF_OPTS_LONG                                                    \
	{"operation", required_argument, NULL, PT_CAPF_OPT_OPERATION},       \
	{"auth-mode", required_argument, NULL, PT_CAPF_OPT_AUTH_MODE},       \
	{"auth-string", required_argument, NULL, PT_CAPF_OPT_AUTH_STRING},   \
	{"generate-string", no_argument, NULL, PT_CAPF_OPT_GENERATE},        \
	{"key-size", required_argument, NULL, PT_CAPF_OPT_KEY_SIZE},         \
	{"ec-curve", required_argument, NULL, PT_CAPF_OPT_EC_CURVE},         \
	{"completes-by", required_argument, NULL, PT_CAPF_OPT_COMPLETES_BY}

typedef struct pt_capf_opts {
	pt_capf_input_t in; /* borrowed from argv, or generated below */
	bool generate;      /* --generate-string */
	char generated[PT_AUTH_STRING_MAX + 1]; /* "" until prepared */
} pt_capf_opts_t;

/* Takes getopt's code c and its optarg into o.  False when c is not one
 * of the settings (the verb handles it). */
bool pt_capf_opts_take(pt_capf_opts_t *o, int c, const char *arg);

/* The usage rules once options are read: --auth-string or
 * --generate-string, --key-size or --ec-curve, not both.  PT_EXIT_OK, or
 * PT_EXIT_USAGE with the message printed. */
int pt_capf_opts_check(const pt_capf_opts_t *o);

/* Draws the generated string when asked (o->in.auth_string then points
 * at o->generated) and loads the cluster data key when a string is to be
 * sealed: *key is the CLI's (NULL when none is needed).  PT_EXIT_OK or
 * PT_EXIT_REFUSED with the reason printed. */
int pt_capf_opts_prepare(pt_cli_t *cli, pt_capf_opts_t *o,
			 const pt_data_key_t **key);

/* The settings as device-rule input for device name (borrowed): key size
 * and curve mapped as pt_device_csv_key_input() does, the rest as given. */
void pt_capf_opts_device_input(const pt_capf_opts_t *o, const char *name,
			       pt_device_input_t *in);

/* Wipes the generated string. */
void pt_capf_opts_clear(pt_capf_opts_t *o);

#endif
