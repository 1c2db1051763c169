#include "capf_opts.h"

#include <string.h>

#include "lib/device_csv.h"
#include "lib/errors.h"

bool pt_capf_opts_take(pt_capf_opts_t *o, int c, const char *arg)
{
	switch (c) {
	case PT_CAPF_OPT_OPERATION: o->in.operation = arg; return true;
	case PT_CAPF_OPT_AUTH_MODE: o->in.auth_mode = arg; return true;
	case PT_CAPF_OPT_AUTH_STRING: o->in.auth_string = arg; return true;
	case PT_CAPF_OPT_GENERATE: o->generate = true; return true;
	case PT_CAPF_OPT_KEY_SIZE: o->in.key_size = arg; return true;
	case PT_CAPF_OPT_EC_CURVE: o->in.ec_curve = arg; return true;
	case PT_CAPF_OPT_COMPLETES_BY: o->in.completes_by = arg; return true;
	default: return false;
	}
}

int pt_capf_opts_check(const pt_capf_opts_t *o)
{
	if (o->generate && o->in.auth_string)
		return pt_cli_usage_error("give --auth-string or "
					  "--generate-string, not both");
	if (o->in.key_size && o->in.ec_curve)
		return pt_cli_usage_error("give --key-size (RSA) or --ec-curve "
					  "(EC), not both");
	return PT_EXIT_OK;
}

int pt_capf_opts_prepare(pt_cli_t *cli, pt_capf_opts_t *o,
			 const pt_data_key_t **key)
{
	*key = NULL;
	if (o->generate) {
		if (pt_device_auth_string_generate(o->generated,
						   PT_AUTH_STRING_GENERATED) !=
		    PT_OK)
			return pt_cli_refuse("cannot generate an "
					     "authentication string");
		o->in.auth_string = o->generated;
	}
	/* An empty string removes one: nothing to seal, no key needed. */
	if (o->in.auth_string && *o->in.auth_string &&
	    !(*key = pt_cli_data_key(cli)))
		return PT_EXIT_REFUSED;
	return PT_EXIT_OK;
}

void pt_capf_opts_device_input(const pt_capf_opts_t *o, const char *name,
			       pt_device_input_t *in)
{
	pt_device_error_t err;
	*in = (pt_device_input_t){.name = name,
				  .operation = o->in.operation,
				  .auth_mode = o->in.auth_mode,
				  .auth_string = o->in.auth_string,
				  .completes_by = o->in.completes_by};
	/* Without a key type the only conflict is size with curve, which
	 * pt_capf_opts_check() turned away as a usage error. */
	(void)pt_device_csv_key_input(NULL, o->in.key_size, o->in.ec_curve, in,
				      &err);
}

void pt_capf_opts_clear(pt_capf_opts_t *o)
{
	pt_seal_wipe(o->generated, sizeof o->generated);
}
