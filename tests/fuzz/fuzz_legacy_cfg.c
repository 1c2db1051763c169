/* CAPF.cfg files come from old servers: the parser must survive any bytes
 * and keep its promises about what it sets and reports. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/legacy_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_legacy_cfg_t *c = NULL;
	int r = pt_legacy_cfg_parse(data, size, &c);

	if (r != PT_OK) {
		if (c || (r != PT_ERR_NOMEM && r != PT_ERR_TOO_LARGE))
			abort();
		return 0;
	}
	bool fatal = false;
	for (size_t i = 0; i < c->nissues; i++) {
		const pt_legacy_cfg_issue_t *is = &c->issues[i];
		if (!is->reason || !is->why ||
		    (i && is->line < c->issues[i - 1].line))
			abort();
		fatal |= is->fatal;
	}
	if (fatal != c->fatal || c->nissues > PT_LEGACY_CFG_MAX_ISSUES ||
	    c->nextras > PT_LEGACY_CFG_MAX_EXTRAS ||
	    (c->has_tz && (c->tz_offset_minutes < -14 * 60 ||
			   c->tz_offset_minutes > 14 * 60)) ||
	    (!c->has_tz && c->tz_offset_minutes != 0) ||
	    (c->has_phone_port && c->phone_port == 0) ||
	    (!c->has_phone_port &&
	     c->phone_port != PT_LEGACY_CFG_PHONE_PORT_DEFAULT) ||
	    (c->has_key_size && c->key_size != 512 && c->key_size != 1024 &&
	     c->key_size != 2048) ||
	    (c->has_issuer) != (c->issuer != PT_LEGACY_ISSUER_UNSET))
		abort();
	for (size_t i = 0; i < c->nextras; i++)
		if (!c->extras[i].key || !c->extras[i].value)
			abort();
	pt_legacy_cfg_destroy(&c);

	/* The offset parser alone, on the input as text. */
	char tz[8];
	size_t n = size < sizeof tz - 1 ? size : sizeof tz - 1;
	memcpy(tz, data, n);
	tz[n] = '\0';
	int32_t m;
	if (pt_legacy_cfg_parse_tz(tz, &m) == PT_OK &&
	    (strlen(tz) != 5 || m < -14 * 60 || m > 14 * 60))
		abort();
	return 0;
}
