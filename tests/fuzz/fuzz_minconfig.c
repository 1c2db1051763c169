/* The minimal configuration is built from full-configuration bytes that
 * may come from anywhere (a migrated store, a file an administrator
 * hands in): any bytes must be refused cleanly or give a minimal file
 * that is itself a fixed point (its own minimal configuration).  The
 * same bytes, read as a requested TFTP file name, exercise the
 * configuration-name parser, whose accepted names must build back to
 * themselves. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/configfiles.h"
#include "lib/errors.h"
#include "lib/minconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char hash[] = "e04644442dd42c6a56560615a57a7442";
static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<device>\n"
			   "  <fullConfig>false</fullConfig>\n";
static const char tail[] = "  <encrConfig>true</encrConfig>\n</device>\n";

static void check_minimal(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL, *again = NULL;
	size_t len = 0, again_len = 0;
	int r = pt_minconfig_build(data, size, hash, &out, &len);

	if (r != PT_OK) {
		if (out || len || r >= 0)
			abort();
		return;
	}
	if (len < strlen(decl) + strlen(tail) || out[len] != '\0' ||
	    memcmp(out, decl, strlen(decl)) != 0 ||
	    memcmp(out + len - strlen(tail), tail, strlen(tail)) != 0 ||
	    !strstr((char *)out, "  <certHash>e04644442dd42c6a56560615a57a7442"
				 "</certHash>\n"))
		abort();
	/* Escaping may grow the text past the input cap; below it the
	 * output must be its own minimal configuration. */
	if (len <= PT_MINCONFIG_INPUT_MAX &&
	    (pt_minconfig_build(out, len, hash, &again, &again_len) != PT_OK ||
	     again_len != len || memcmp(again, out, len) != 0))
		abort();
	free(again);
	free(out);
}

static void check_name(const uint8_t *data, size_t size)
{
	char name[64], built[PT_CONFIGFILES_NAME_MAX];
	char mac[PT_CONFIGFILES_MAC_LEN + 1];
	pt_configfiles_kind_t kind;

	if (size >= sizeof name)
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	if (pt_configfiles_parse_name(name, &kind, mac) != PT_OK)
		return;
	if (pt_configfiles_build_name(kind, mac, built, sizeof built) !=
		    PT_OK ||
	    strcasecmp(built, name) != 0 || strlen(mac) != 12)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_minimal(data, size);
	check_name(data, size);
	return 0;
}
