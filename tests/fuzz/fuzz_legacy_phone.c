/* CAPF.phone files come from old servers, copied by hand: the streaming
 * parser must survive any bytes, deliver the same records and quarantine
 * entries however the input is cut into chunks, and hand out only records
 * that keep its promises.  The first byte of the input seeds the chunk
 * sizes; the rest is the file. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "lib/legacy_phone.h"
#include "lib/validate.h"
#include "records.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A running FNV-1a hash of everything delivered: two parses agree when
 * their hashes and counts do. */
typedef struct seen {
	uint64_t h;
	size_t n;
} seen_t;

static void mix(seen_t *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		s->h = (s->h ^ b[i]) * 1099511628211ULL;
}

static void mix_str(seen_t *s, const char *str)
{
	mix(s, str, strlen(str) + 1);
}

static int on_record(void *arg, pt_legacy_phone_t **rp)
{
	seen_t *s = arg;
	const pt_legacy_phone_t *r = *rp;

	/* What a record promises. */
	if (pt_validate_device_name(r->name, NULL) != PT_OK ||
	    pt_validate_description(r->description, NULL) != PT_OK ||
	    !*r->model || r->first_line > r->last_line ||
	    r->raw_len > PT_LEGACY_PHONE_RAW_MAX ||
	    (r->protocol != PT__PROTOCOL__PROTOCOL_SCCP &&
	     r->protocol != PT__PROTOCOL__PROTOCOL_SIP) ||
	    (r->key_size != 0 && r->key_size != 512 && r->key_size != 1024 &&
	     r->key_size != 2048) ||
	    (*r->auth_string &&
	     pt_validate_auth_string(r->auth_string, NULL) != PT_OK) ||
	    (r->auth_mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING &&
	     !*r->auth_string))
		abort();
	if (r->lsc_der) {
		Pt__Certificate *c = NULL;
		int rc = pt_legacy_certs_record(r->lsc_der, r->lsc_der_len, &c);
		if (rc != PT_OK && rc != PT_ERR_NOMEM)
			abort();
		if (c)
			protobuf_c_message_free_unpacked(&c->base, NULL);
		mix(s, r->lsc_sha256, 32);
	}
	mix_str(s, r->name);
	mix_str(s, r->description);
	mix_str(s, r->model);
	mix_str(s, r->auth_string);
	mix_str(s, r->status_text);
	mix(s, &r->last_updated, sizeof r->last_updated);
	mix(s, &r->completes_by, sizeof r->completes_by);
	mix(s, &r->first_line, sizeof r->first_line);
	mix(s, &r->last_line, sizeof r->last_line);
	mix(s, r->raw, r->raw_len);
	for (size_t i = 0; i < r->nextras; i++) {
		mix_str(s, r->extras[i].key);
		mix_str(s, r->extras[i].value);
	}
	s->n++;
	return 0;
}

static int on_quarantine(void *arg, const pt_legacy_quarantine_t *q)
{
	seen_t *s = arg;
	if (!q->reason || !q->why || q->first_line > q->last_line ||
	    q->raw_len > PT_LEGACY_PHONE_RAW_MAX)
		abort();
	mix_str(s, q->section ? q->section : "");
	mix_str(s, q->reason);
	mix_str(s, q->why);
	mix(s, &q->first_line, sizeof q->first_line);
	mix(s, &q->last_line, sizeof q->last_line);
	mix(s, q->raw, q->raw_len);
	s->n++;
	return 0;
}

static void run(const uint8_t *data, size_t size, uint32_t seed, seen_t *s)
{
	pt_legacy_phone_opts_t o = {.tz_offset_minutes = 330};
	pt_legacy_phone_cbs_t cbs = {on_record, on_quarantine, s};
	pt_legacy_phone_parser_t *p = NULL;

	s->h = 1469598103934665603ULL;
	s->n = 0;
	if (pt_legacy_phone_parser_new(&o, &cbs, &p) != PT_OK)
		abort();
	for (size_t off = 0; off < size;) {
		size_t n = size - off;
		if (seed) {
			/* xorshift: chunk sizes of 0 to 63 bytes */
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			if (n > (seed & 63))
				n = seed & 63;
		}
		if (pt_legacy_phone_parser_feed(p, data + off, n) != PT_OK)
			abort();
		off += n;
	}
	if (pt_legacy_phone_parser_finish(p) != PT_OK)
		abort();
	pt_legacy_phone_parser_destroy(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	seen_t whole, cut;

	if (size < 1)
		return 0;
	uint32_t seed = 0x9e3779b9u * (uint32_t)(data[0] + 1);
	run(data + 1, size - 1, 0, &whole);
	run(data + 1, size - 1, seed, &cut);
	if (whole.h != cut.h || whole.n != cut.n)
		abort();
	return 0;
}
