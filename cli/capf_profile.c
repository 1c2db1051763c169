/* phonetrust capf profile add | list | show | delete: Application User
 * and End User CAPF profiles of CTI and JTAPI applications, keyed by
 * instance ID (rules: node/files/capf_users.h).  Their certificate
 * operations run through the same CAPF server as phones'; `capf op ID`
 * changes a profile's operation later. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capf.h"
#include "capf_opts.h"
#include "device.h"
#include "files/capf_store.h"
#include "files/capf_users.h"
#include "lib/device_rules.h"
#include "lib/names.h"
#include "lib/validate.h"
#include "store/records.h"

static const char profile_help[] =
	"usage: phonetrust capf profile VERB [ARGS...]\n"
	"\n"
	"  add ID --user USER [--end-user] [SETTINGS...]\n"
	"  list                       every CAPF profile\n"
	"  show ID                    settings, status, LSC, history\n"
	"  delete ID [ID...]          all of them or none\n"
	"\n"
	"Application User (the default) and End User CAPF profiles for CTI "
	"and\n"
	"JTAPI applications.  ID, the instance ID the application gives CAPF,\n"
	"is 1-64 of a-z A-Z 0-9 . _ - and may not be a device's name.\n"
	"SETTINGS: --operation none|install|delete|troubleshoot, --auth-mode\n"
	"string|null|lsc (default string), --auth-string DIGITS or\n"
	"--generate-string, --key-size 512|1024|2048|3072|4096 or --ec-curve\n"
	"256|384|521, --completes-by TIME.  Change them later with 'phonetrust\n"
	"capf op ID'.  On the publisher only.\n";

static int profile_add(pt_cli_t *cli, int argc, char **argv)
{
	enum { OPT_USER = 256, OPT_END_USER, OPT_APP_USER };
	static const struct option options[] = {
		{"user", required_argument, NULL, OPT_USER},
		{"end-user", no_argument, NULL, OPT_END_USER},
		{"application-user", no_argument, NULL, OPT_APP_USER},
		PT_CAPF_OPTS_LONG,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	pt_capf_opts_t o = {0};
	const char *user = NULL;
	Pt__CapfUserKind kind = PT__CAPF_USER_KIND__CAPF_USER_APPLICATION;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (pt_capf_opts_take(&o, c, optarg))
			continue;
		switch (c) {
		case OPT_USER: user = optarg; break;
		case OPT_END_USER:
			kind = PT__CAPF_USER_KIND__CAPF_USER_END_USER;
			break;
		case OPT_APP_USER:
			kind = PT__CAPF_USER_KIND__CAPF_USER_APPLICATION;
			break;
		case 'h': fputs(profile_help, stdout); return PT_EXIT_OK;
		default: return pt_capf_cli_bad_option(argv);
		}
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("profile add takes exactly one "
					  "instance ID");
	if (!user)
		return pt_cli_usage_error("profile add needs --user");
	int rc = pt_capf_opts_check(&o);
	if (rc != PT_EXIT_OK)
		return rc;
	const char *id = argv[optind];
	char why[PT_CAPF_WHY_MAX];
	const pt_data_key_t *key = NULL;
	pt_txn_t *txn = NULL;
	pt_capf_holder_t *h = NULL;
	int64_t now = (int64_t)time(NULL);
	if ((rc = pt_capf_opts_prepare(cli, &o, &key)) != PT_EXIT_OK ||
	    (rc = pt_capf_cli_begin_publisher(cli, "cli capf profile add",
					      &txn)) != PT_EXIT_OK)
		goto out;
	int r = pt_capf_user_add(txn, id, user, kind, &o.in, key, now, why,
				 sizeof why);
	if (r == PT_ERR_INVALID || r == PT_ERR_EXISTS) {
		rc = pt_cli_refuse("%s: %s; nothing changed", id, why);
		goto out;
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("cannot add CAPF profile %s: %s", id,
				   pt_strerror(r));
		goto out;
	}
	if ((rc = pt_capf_cli_commit(&txn)) != PT_EXIT_OK)
		goto out;
	if (cli->json) {
		char buf[PT_AUTH_STRING_MAX + 1];
		if ((r = pt_txn_begin(pt_cli_store(cli), false, NULL, &txn)) !=
			    PT_OK ||
		    (r = pt_capf_user_get(txn, id, &h)) != PT_OK) {
			rc = pt_cli_refuse("cannot read CAPF profile %s: %s", id,
					   pt_strerror(r));
			goto out;
		}
		rc = pt_cli_print_json(pt_capf_cli_holder_json(
			txn, h, pt_capf_cli_auth_string(cli, h, buf)));
		pt_seal_wipe(buf, sizeof buf);
	} else {
		if (!cli->quiet)
			printf("added CAPF profile %s\n", id);
		if (o.generate)
			printf("authentication string for %s: %s\n", id,
			       o.generated);
	}
out:
	pt_capf_holder_destroy(&h);
	pt_txn_abort(&txn);
	pt_capf_opts_clear(&o);
	return rc;
}

struct plist {
	pt_cli_t *cli;
	pt_cli_list_t rows;
	int64_t now;
};

static int list_visit(void *ctx, pt_capf_holder_t *h)
{
	struct plist *l = ctx;
	char status[256], lsc[48];
	if (!h->profile)
		return PT_OK;
	Pt__Device shallow = PT__DEVICE__INIT;
	shallow.capf = h->capf;
	shallow.lsc = *h->lsc;
	pt_device_lsc_status(&shallow, l->now, status, sizeof status);
	if (*h->lsc)
		pt_time_format_utc((*h->lsc)->not_after, lsc, sizeof lsc);
	else
		snprintf(lsc, sizeof lsc, "none");
	l->rows.n++;
	if (l->rows.array)
		return json_array_append_new(
			       l->rows.array,
			       json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}",
					 "instance_id", h->name, "kind",
					 pt_capf_holder_kind_name(h->kind),
					 "user", h->profile->user, "operation",
					 pt_capf_op_name(h->capf->operation),
					 "status", status, "lsc_not_after",
					 lsc)) == 0
			       ? PT_OK
			       : PT_ERR_NOMEM;
	const char *cells[] = {h->name, pt_capf_holder_kind_name(h->kind),
			       h->profile->user,
			       pt_capf_op_name(h->capf->operation), status,
			       lsc};
	return pt_table_out_add(l->rows.table, cells);
}

static int walk_profiles(pt_txn_t *txn, void *ctx)
{
	/* Only the profiles table: devices are not CAPF profiles. */
	int r = PT_OK;
	size_t n = 0;
	ProtobufCMessage **all = NULL;
	r = pt_record_list(txn, PT_TABLE_CAPF_PROFILES,
			   &pt__capf_user_profile__descriptor, &all, &n);
	for (size_t i = 0; r == PT_OK && i < n; i++) {
		pt_capf_holder_t *h = NULL;
		r = pt_capf_holder_from_profile((Pt__CapfUserProfile *)all[i],
						&h);
		all[i] = NULL;
		if (r == PT_OK)
			r = list_visit(ctx, h);
		pt_capf_holder_destroy(&h);
	}
	pt_record_list_free(all, n);
	return r;
}

static int profile_list(pt_cli_t *cli, int argc)
{
	static const char *const headers[] = {"INSTANCE ID", "KIND", "USER",
					      "OPERATION", "STATUS",
					      "LSC UNTIL"};
	if (argc != 1)
		return pt_cli_usage_error("profile list takes no arguments");
	struct plist l = {.cli = cli, .now = (int64_t)time(NULL)};
	return pt_capf_cli_list(cli, 6, headers, walk_profiles, &l, &l.rows,
				"no CAPF profiles");
}

static int profile_show(pt_cli_t *cli, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return pt_cli_usage_error("profile show takes exactly one "
					  "instance ID");
	return pt_capf_cli_show(cli, argv[1], pt_capf_user_get,
				"CAPF profile");
}

static int profile_delete(pt_cli_t *cli, int argc, char **argv)
{
	char why[PT_CAPF_WHY_MAX];
	pt_txn_t *txn = NULL;
	if (argc < 2)
		return pt_cli_usage_error("profile delete takes one or more "
					  "instance IDs");
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			return pt_cli_usage_error("unexpected option '%s'",
						  argv[i]);
	int rc = pt_capf_cli_begin_publisher(cli, "cli capf profile delete",
					     &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	for (int i = 1; i < argc; i++) {
		int r = pt_capf_user_delete(txn, argv[i], why, sizeof why);
		if (r != PT_OK) {
			rc = pt_cli_refuse("%s; nothing deleted",
					   r == PT_ERR_NOT_FOUND ? why
								 : pt_strerror(r));
			goto out;
		}
	}
	if ((rc = pt_capf_cli_commit(&txn)) == PT_EXIT_OK && !cli->quiet &&
	    !cli->json)
		printf("deleted %d CAPF profile%s\n", argc - 1,
		       argc == 2 ? "" : "s");
	else if (rc == PT_EXIT_OK && cli->json)
		rc = pt_cli_print_json(json_pack("{s:i}", "deleted", argc - 1));
out:
	pt_txn_abort(&txn);
	return rc;
}

int pt_cli_capf_profile(pt_cli_t *cli, int argc, char **argv)
{
	if (argc < 2) {
		fputs(profile_help, stderr);
		return PT_EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "help") == 0) {
		fputs(profile_help, stdout);
		return PT_EXIT_OK;
	}
	if (pt_cli_wants_help(argc - 1, argv + 1) &&
	    strcmp(verb, "add") != 0) {
		fputs(profile_help, stdout);
		return PT_EXIT_OK;
	}
	if (strcmp(verb, "add") == 0)
		return profile_add(cli, argc - 1, argv + 1);
	if (strcmp(verb, "list") == 0)
		return profile_list(cli, argc - 1);
	if (strcmp(verb, "show") == 0)
		return profile_show(cli, argc - 1, argv + 1);
	if (strcmp(verb, "delete") == 0)
		return profile_delete(cli, argc - 1, argv + 1);
	return pt_cli_usage_error("unknown verb 'capf profile %s' (add, list, "
				  "show, delete)",
				  verb);
}
