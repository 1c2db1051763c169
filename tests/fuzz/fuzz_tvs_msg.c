/* TVS messages come from any host that reaches port 2445 (requests) or
 * from a server a phone was pointed at (responses): both parsers must
 * survive any bytes, and what they accept must build back to a message
 * that parses the same. */
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/tvs_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const uint8_t *data, size_t size)
{
	pt_tvs_request_t req;
	const char *why = NULL;
	int r = pt_tvs_request_parse(data, size, &req, &why);
	if (r != PT_OK) {
		if (!why)
			abort();
		return;
	}
	if (!pt_tvs_device_name_ok(req.device_name, strlen(req.device_name)) ||
	    req.cert < data || req.cert + req.cert_len > data + size)
		abort();
	uint8_t *again = malloc(PT_TVS_MSG_MAX);
	size_t len = 0;
	if (!again)
		return;
	if (pt_tvs_request_build(req.session_id, req.device_name, req.cert,
				 req.cert_len, again, PT_TVS_MSG_MAX,
				 &len) != PT_OK)
		abort();
	pt_tvs_request_t back;
	if (pt_tvs_request_parse(again, len, &back, &why) != PT_OK ||
	    back.session_id != req.session_id ||
	    strcmp(back.device_name, req.device_name) != 0 ||
	    back.cert_len != req.cert_len ||
	    memcmp(back.sha256, req.sha256, 32) != 0 ||
	    back.not_after != req.not_after)
		abort();
	free(again);
}

static void check_response(const uint8_t *data, size_t size)
{
	pt_tvs_header_t h;
	if (pt_tvs_header_decode(data, size, &h) != PT_OK)
		return;
	pt_tvs_response_t resp;
	const char *why = NULL;
	if (pt_tvs_response_parse(data, size, h.session_id, &resp, &why) !=
	    PT_OK)
		return;
	if (resp.status > PT_TVS_STATUS_INVALID ||
	    resp.n_roles > PT_TVS_ROLES_MAX ||
	    (resp.status == PT_TVS_STATUS_VALID && !resp.has_roles))
		return;
	pt_tvs_verdict_t v = {.status = resp.status,
			      .n_roles = resp.n_roles,
			      .has_ttl = resp.has_ttl,
			      .ttl = resp.ttl};
	if (resp.n_roles)
		memcpy(v.roles, resp.roles, resp.n_roles);
	uint8_t out[PT_TVS_RESPONSE_MAX];
	size_t len;
	if (pt_tvs_response_build(h.session_id, &v, out, sizeof out, &len) !=
	    PT_OK)
		abort();
	pt_tvs_response_t back;
	if (pt_tvs_response_parse(out, len, h.session_id, &back, &why) !=
		    PT_OK ||
	    back.status != resp.status)
		abort();
	if (resp.status == PT_TVS_STATUS_VALID &&
	    (back.n_roles != resp.n_roles ||
	     (resp.n_roles && memcmp(back.roles, resp.roles, resp.n_roles)) ||
	     back.has_ttl != resp.has_ttl || back.ttl != resp.ttl))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request(data, size);
	check_response(data, size);
	return 0;
}
