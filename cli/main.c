/* phonetrust: the administrator's command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PT_DEFAULT_DATA_DIR "/var/lib/phonetrust"

/* Nouns are weak references so that a noun still to come (a later issue)
 * leaves a NULL here and a clear message, rather than a link error. */
#pragma weak pt_cli_init
#pragma weak pt_cli_device
#pragma weak pt_cli_profile
#pragma weak pt_cli_cluster
#pragma weak pt_cli_capf
#pragma weak pt_cli_store_noun
#pragma weak pt_cli_node
#pragma weak pt_cli_ctl
#pragma weak pt_cli_config
#pragma weak pt_cli_itl
#pragma weak pt_cli_tlv
#pragma weak pt_cli_trust
#pragma weak pt_cli_migrate
#pragma weak pt_cli_phone

struct noun {
	const char *name;
	pt_cli_noun_fn run;
	const char *summary;
};

static const struct noun nouns[] = {
	{"init", pt_cli_init, "create a node's data directory, keys and certificates"},
	{"device", pt_cli_device, "add, update, show, list, find, delete, import devices"},
	{"profile", pt_cli_profile, "phone security profiles"},
	{"cluster", pt_cli_cluster, "cluster security mode and parameters"},
	{"capf", pt_cli_capf, "CAPF report and certificate operations"},
	{"store", pt_cli_store_noun, "store digest and maintenance"},
	{"node", pt_cli_node, "cluster nodes"},
	{"ctl", pt_cli_ctl, "certificate trust list"},
	{"config", pt_cli_config, "configuration files phones receive"},
	{"itl", pt_cli_itl, "identity trust list of this node"},
	{"tlv", pt_cli_tlv, "show any CTL or ITL file"},
	{"trust", pt_cli_trust, "trusted certificates by purpose"},
	{"migrate", pt_cli_migrate, "bring in legacy CAPF 1.0 data"},
	{"phone", pt_cli_phone, "simulated phone: boot, enrol, verify, storm"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: phonetrust [--data DIR] [--json] NOUN VERB [ARGS...]\n"
		"\n"
		"  --data DIR   the node's data directory (default "
		"$PHONETRUST_DATA or " PT_DEFAULT_DATA_DIR ")\n"
		"  --json       machine-readable output\n"
		"\nnouns:\n");
	for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++)
		fprintf(out, "  %-9s %s%s\n", nouns[i].name, nouns[i].summary,
			nouns[i].run ? "" : " (not in this build)");
	fprintf(out, "\nRun 'phonetrust NOUN --help' for a noun's verbs.\n");
}

/* Removes global options wherever they stand, so `device list --json` and
 * `--json device list` mean the same. */
static int take_global_options(pt_cli_t *cli, int *argc, char **argv)
{
	int w = 1;
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli->json = true;
		} else if (strcmp(argv[i], "--quiet") == 0) {
			cli->quiet = true;
		} else if (strcmp(argv[i], "--data") == 0) {
			if (i + 1 >= *argc)
				return pt_cli_usage_error("--data needs a "
							  "directory");
			cli->data_dir = argv[++i];
		} else if (strncmp(argv[i], "--data=", 7) == 0) {
			cli->data_dir = argv[i] + 7;
		} else {
			argv[w++] = argv[i];
		}
	}
	*argc = w;
	argv[w] = NULL;
	return PT_EXIT_OK;
}

int main(int argc, char **argv)
{
	pt_cli_t cli = {0};
	int rc = take_global_options(&cli, &argc, argv);
	if (rc != PT_EXIT_OK)
		return rc;
	if (!cli.data_dir)
		cli.data_dir = getenv("PHONETRUST_DATA");
	if (!cli.data_dir || !*cli.data_dir)
		cli.data_dir = PT_DEFAULT_DATA_DIR;

	if (argc < 2) {
		usage(stderr);
		return PT_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return PT_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("phonetrust 0.1.0\n");
		return PT_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof nouns / sizeof nouns[0]; i++) {
		if (strcmp(argv[1], nouns[i].name) != 0)
			continue;
		if (!nouns[i].run)
			return pt_cli_refuse("'%s' is not available in this "
					     "build yet",
					     nouns[i].name);
		rc = nouns[i].run(&cli, argc - 2 + 1, argv + 1);
		pt_store_destroy(&cli.store);
		pt_seal_wipe(&cli.key, sizeof cli.key);
		return rc;
	}
	return pt_cli_usage_error("unknown noun '%s'", argv[1]);
}
