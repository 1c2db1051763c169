/* phonetrust itl: the node's own ITL (files/itl_source.h).
 *
 * `itl show` brings the stored ITL up to date first, as the daemon does,
 * so what it prints is what phones get from this node.  The daemon may
 * hold the store open meanwhile: LMDB lets both processes use it, one
 * writer at a time.  A store this user may only read still shows the
 * stored ITL, with a warning when it is out of date.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "files/itl_source.h"
#include "lib/tlv.h"
#include "tlv.h"

static const char itl_help[] =
	"usage: phonetrust itl VERB [ARGS...]\n"
	"\n"
	"verbs:\n"
	"  show [--out FILE] [--json]\n"
	"                       list this node's ITLFile.tlv (rebuilt first "
	"if the\n"
	"                       store changed), or write its raw bytes\n";

static const char show_help[] =
	"usage: phonetrust itl show [--out FILE] [--json]\n"
	"\n"
	"Shows the ITL this node serves: its TFTP certificate as the signing "
	"SAST and\n"
	"as TFTP, the CAPF certificate, every node's TVS certificate and the "
	"ITL\n"
	"recovery SAST, signed with the node's TFTP key.  The ITL is rebuilt "
	"first\n"
	"when the nodes table, the CAPF or recovery certificate, the "
	"node's own\n"
	"certificate or tftp_file_signature_algorithm changed; otherwise the "
	"stored\n"
	"bytes (and their timestamp) stay as they are.  The listing is the "
	"one of\n"
	"'phonetrust tlv show'.\n"
	"\n"
	"  --out FILE   write the raw ITLFile.tlv bytes to FILE instead of "
	"listing\n"
	"               them\n"
	"  --json       the listing (or what was written) as JSON\n";

/* Opens the store read-write, or read-only when this user may not write
 * it; other failures go through pt_cli_store() for its messages. */
static pt_store_t *open_store(pt_cli_t *cli, bool *writable)
{
	*writable = true;
	if (cli->store)
		return cli->store;
	int r = pt_store_open(cli->data_dir, 0, 0, &cli->store);
	if (r == PT_ESYS(EACCES) || r == PT_ESYS(EROFS)) {
		*writable = false;
		r = pt_store_open(cli->data_dir, PT_STORE_READONLY, 0,
				  &cli->store);
	}
	if (r == PT_OK)
		return cli->store;
	return pt_cli_store(cli);
}

static int report_written(pt_cli_t *cli, const char *path, size_t len,
			  const pt_itl_source_info_t *info, bool fresh)
{
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_string(path));
		json_object_set_new(o, "size", json_integer((json_int_t)len));
		json_object_set_new(o, "records",
				    fresh ? json_integer((json_int_t)info->n_records)
					  : json_null());
		json_object_set_new(o, "signer",
				    fresh ? json_string(info->signer)
					  : json_null());
		json_object_set_new(o, "timestamp",
				    fresh ? json_integer(info->timestamp)
					  : json_null());
		json_object_set_new(o, "rebuilt",
				    json_boolean(fresh && info->changed));
		return pt_cli_print_json(o);
	}
	if (!cli->quiet) {
		if (fresh)
			printf("wrote ITLFile.tlv (%zu bytes, %zu records, "
			       "signed by %s) to %s\n",
			       len, info->n_records, info->signer, path);
		else
			printf("wrote ITLFile.tlv (%zu bytes) to %s\n", len,
			       path);
	}
	return PT_EXIT_OK;
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	const char *out = NULL;
	bool helped = false;
	int rc = pt_cli_parse_opt(argc, argv, show_help, "out", &out,
				  &helped);
	if (rc != PT_EXIT_OK || helped)
		return rc;
	if (optind != argc)
		return pt_cli_usage_error("itl show takes no argument ('%s')",
					  argv[optind]);

	bool writable = true;
	pt_store_t *store = open_store(cli, &writable);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_itl_source_info_t info;
	pt_tlv_diag_t d;
	int r = pt_itl_source_refresh(store, cli->data_dir, &info, &d);
	bool fresh = r == PT_OK;
	const char *why = d.text[0] ? d.text : pt_strerror(r);
	uint8_t *bytes = NULL;
	size_t len = 0;
	int g = pt_itl_source_get(store, &bytes, &len);
	if (!fresh && g == PT_ERR_NOT_FOUND)
		return pt_cli_refuse("cannot build the ITL of %s: %s",
				     cli->data_dir, why);
	if (g != PT_OK)
		return pt_cli_refuse("cannot read the stored ITL in %s: %s",
				     cli->data_dir, pt_strerror(g));
	if (!fresh)
		fprintf(stderr,
			"phonetrust: warning: the ITL could not be brought "
			"up to date (%s)%s; showing the stored one\n",
			why, writable ? "" : " (store opened read-only)");

	if (out) {
		r = pt_cli_write_file(out, bytes, len);
		rc = r == PT_OK ? report_written(cli, out, len, &info, fresh)
				: pt_cli_refuse("cannot write %s: %s", out,
						pt_strerror(r));
	} else {
		rc = pt_cli_tlv_print(cli, PT_TLV_ITL_NAME, bytes, len, NULL);
	}
	free(bytes);
	return rc;
}

int pt_cli_itl(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"show", verb_show},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], itl_help);
}
