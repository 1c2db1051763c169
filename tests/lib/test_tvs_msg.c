/* TVS message codec: the known answers of spec §10 byte for byte, and
 * every refusal of §2, §4 and §6. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tvs_msg.h"
#include "pt_test.h"
#include "pt_testcert.h"

#define SPEC_CERT PT_SOURCE_DIR "/tests/data/tvs/spec-cert-672.der"
#define DEVICE "CP-7841-SEP001122334455"

static uint8_t *spec_cert;
static size_t spec_cert_len;
/* A message buffer with room for the largest message and some. */
static uint8_t *buf;

static void setup(void)
{
	spec_cert = (uint8_t *)pt_test_read_file(SPEC_CERT, &spec_cert_len);
	ck_assert_uint_eq(spec_cert_len, 672);
	buf = malloc(PT_TVS_MSG_MAX + 64);
	ck_assert_ptr_nonnull(buf);
}

static void teardown(void)
{
	free(spec_cert);
	free(buf);
}

/* DEVICE_NAME value as compatible clients send it. */
static size_t name_value(uint8_t *v, uint8_t prefix, const char *name)
{
	v[0] = prefix;
	memcpy(v + 1, name, strlen(name));
	return 1 + strlen(name);
}

static int parse_elems(uint8_t command, const pt_tvs_elem_t *e, size_t n,
		       pt_tvs_request_t *req, const char **why)
{
	size_t len;
	ck_assert_int_eq(pt_tvs_msg_build(command, 7, e, n, buf,
					  PT_TVS_MSG_MAX, &len),
			 PT_OK);
	return pt_tvs_request_parse(buf, len, req, why);
}

START_TEST(request_known_answer)
{
	static const uint8_t head[] = {
		0x57, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0xbe,
		0x01, 0x00, 0x18, 0x01, 0x43, 0x50, 0x2d, 0x37, 0x38, 0x34,
		0x31, 0x2d, 0x53, 0x45, 0x50, 0x30, 0x30, 0x31, 0x31, 0x32,
		0x32, 0x33, 0x33, 0x34, 0x34, 0x35, 0x35, 0x02, 0x02, 0xa0,
		0x30, 0x82, 0x02, 0x9c};
	size_t len = 0;
	ck_assert_int_eq(pt_tvs_request_build(1, DEVICE, spec_cert,
					      spec_cert_len, buf,
					      PT_TVS_MSG_MAX, &len),
			 PT_OK);
	ck_assert_uint_eq(len, 10 + 702);
	ck_assert_mem_eq(buf, head, sizeof head);
	ck_assert_mem_eq(buf + 40, spec_cert, spec_cert_len);

	pt_tvs_request_t req;
	const char *why = "unset";
	ck_assert_int_eq(pt_tvs_request_parse(buf, len, &req, &why), PT_OK);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(req.session_id, 1);
	ck_assert_uint_eq(req.device_prefix, 1);
	ck_assert_str_eq(req.device_name, DEVICE);
	ck_assert_ptr_eq(req.cert, buf + 40);
	ck_assert_uint_eq(req.cert_len, 672);
	/* The lookup key: SHA-256 over exactly the carried bytes. */
	static const uint8_t sha[32] = {
		0x20, 0x7d, 0x26, 0x75, 0x33, 0x19, 0xad, 0x18,
		0x48, 0x82, 0xc1, 0x32, 0xfe, 0xfb, 0x7b, 0x17,
		0x6d, 0xec, 0x07, 0xae, 0x19, 0x47, 0xf7, 0x70,
		0xd8, 0x0e, 0x78, 0x1e, 0xec, 0x73, 0x6d, 0x7f};
	ck_assert_mem_eq(req.sha256, sha, 32);
	ck_assert_int_gt(req.not_after, req.not_before);
}
END_TEST

START_TEST(response_known_answers)
{
	static const uint8_t valid[] = {
		0x57, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x10,
		0x07, 0x00, 0x01, 0x00,
		0x08, 0x00, 0x02, 0x01, 0x03,
		0x09, 0x00, 0x04, 0x00, 0x01, 0x51, 0x80};
	static const uint8_t invalid[] = {
		0x57, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x04,
		0x07, 0x00, 0x01, 0x01};
	uint8_t out[PT_TVS_RESPONSE_MAX];
	size_t len = 0;

	pt_tvs_verdict_t v = {.status = PT_TVS_STATUS_VALID,
			      .roles = {PT_TVS_ROLE_CCM, PT_TVS_ROLE_TFTP},
			      .n_roles = 2,
			      .has_ttl = true,
			      .ttl = 86400};
	ck_assert_int_eq(pt_tvs_response_build(1, &v, out, sizeof out, &len),
			 PT_OK);
	ck_assert_uint_eq(len, sizeof valid);
	ck_assert_mem_eq(out, valid, sizeof valid);

	/* INVALID carries the status alone, whatever else v holds. */
	v.status = PT_TVS_STATUS_INVALID;
	ck_assert_int_eq(pt_tvs_response_build(1, &v, out, sizeof out, &len),
			 PT_OK);
	ck_assert_uint_eq(len, sizeof invalid);
	ck_assert_mem_eq(out, invalid, sizeof invalid);

	pt_tvs_response_t r;
	const char *why = NULL;
	ck_assert_int_eq(pt_tvs_response_parse(valid, sizeof valid, 1, &r,
					       &why),
			 PT_OK);
	ck_assert_uint_eq(r.status, 0);
	ck_assert(r.has_roles && r.n_roles == 2);
	ck_assert_uint_eq(r.roles[0], 1);
	ck_assert_uint_eq(r.roles[1], 3);
	ck_assert(r.has_ttl && r.ttl == 86400);
	ck_assert_int_eq(pt_tvs_response_parse(invalid, sizeof invalid, 1, &r,
					       &why),
			 PT_OK);
	ck_assert_uint_eq(r.status, 1);
	ck_assert(!r.has_roles && !r.has_ttl);

	/* A valid answer without a TTL and with no roles. */
	v = (pt_tvs_verdict_t){.status = PT_TVS_STATUS_VALID};
	ck_assert_int_eq(pt_tvs_response_build(9, &v, out, sizeof out, &len),
			 PT_OK);
	ck_assert_uint_eq(len, 10 + 4 + 3);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 9, &r, &why), PT_OK);
	ck_assert(r.has_roles && r.n_roles == 0 && !r.has_ttl);

	/* Every role code fits the advertised maximum. */
	v = (pt_tvs_verdict_t){.status = 0,
			       .roles = {0, 1, 2, 3, 4, 7, 21},
			       .n_roles = 7,
			       .has_ttl = true,
			       .ttl = 1};
	ck_assert_int_eq(pt_tvs_response_build(2, &v, out, sizeof out, &len),
			 PT_OK);
	ck_assert_uint_le(len, PT_TVS_RESPONSE_MAX);
	ck_assert_int_eq(pt_tvs_response_build(2, &v, out, len - 1, &len),
			 PT_ERR_TOO_LARGE);
	v.status = 2;
	ck_assert_int_eq(pt_tvs_response_build(2, &v, out, sizeof out, &len),
			 PT_ERR_INVALID);
	v.status = 0;
	v.n_roles = PT_TVS_ROLES_MAX + 1;
	ck_assert_int_eq(pt_tvs_response_build(2, &v, out, sizeof out, &len),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(header_and_framing_refused)
{
	pt_tvs_request_t req;
	const char *why = NULL;
	size_t len;
	ck_assert_int_eq(pt_tvs_request_build(5, DEVICE, spec_cert,
					      spec_cert_len, buf,
					      PT_TVS_MSG_MAX, &len),
			 PT_OK);

	for (size_t cut = 0; cut < len; cut += (cut < 50 ? 1 : 97)) {
		int r = pt_tvs_request_parse(buf, cut, &req, &why);
		ck_assert_msg(r == PT_ERR_INCOMPLETE, "cut %zu: %d", cut, r);
		ck_assert_ptr_nonnull(why);
	}
	buf[len] = 0;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len + 1, &req, &why),
			 PT_ERR_TRAILING);

	buf[0] = 0x58;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len, &req, &why),
			 PT_ERR_MALFORMED);
	buf[0] = 0x57;
	buf[1] = 2;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len, &req, &why),
			 PT_ERR_MALFORMED);
	buf[1] = 0;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len, &req, &why),
			 PT_ERR_MALFORMED);
	buf[1] = 1;
	/* Reserved is ignored on receipt. */
	buf[3] = 0xff;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len, &req, &why), PT_OK);

	pt_tvs_header_t h;
	ck_assert_int_eq(pt_tvs_header_decode(buf, 9, &h), PT_ERR_INCOMPLETE);
	ck_assert_int_eq(pt_tvs_header_decode(buf, 10, &h), PT_OK);
	ck_assert_uint_eq(h.session_id, 5);
	ck_assert_uint_eq(h.body_len, len - 10);
	ck_assert_uint_eq(h.reserved, 0xff);

	/* A certificate element that claims more than the body holds. */
	buf[38] = 0x02;
	buf[39] = 0xa1;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len, &req, &why),
			 PT_ERR_MALFORMED);
	/* A lone tag byte at the end of the body. */
	buf[38] = 0x02;
	buf[39] = 0xa0;
	buf[8] = (uint8_t)((len - 10 + 1) >> 8);
	buf[9] = (uint8_t)(len - 10 + 1);
	buf[len] = 0x01;
	ck_assert_int_eq(pt_tvs_request_parse(buf, len + 1, &req, &why),
			 PT_ERR_MALFORMED);
}
END_TEST

START_TEST(commands_and_tags_refused)
{
	uint8_t name[32];
	size_t nl = name_value(name, 1, DEVICE);
	pt_tvs_elem_t e[3] = {
		{PT_TVS_TAG_DEVICE_NAME, name, nl},
		{PT_TVS_TAG_CERTIFICATE, spec_cert, spec_cert_len},
		{0, NULL, 0},
	};
	pt_tvs_request_t req;
	const char *why = NULL;

	ck_assert_int_eq(parse_elems(1, e, 2, &req, &why), PT_OK);
	for (unsigned c = 0; c < 256; c++) {
		if (c == 1)
			continue;
		ck_assert_int_eq(parse_elems((uint8_t)c, e, 2, &req, &why),
				 PT_ERR_UNSUPPORTED);
	}
	/* Any tag but 1 and 2 ends the exchange, response tags included. */
	for (unsigned t = 0; t < 256; t++) {
		if (t == 1 || t == 2)
			continue;
		e[2] = (pt_tvs_elem_t){(uint8_t)t, (const uint8_t *)"\0", 1};
		int r = parse_elems(1, e, 3, &req, &why);
		ck_assert_msg(r == PT_ERR_MALFORMED, "tag %u: %d", t, r);
		ck_assert_str_eq(why, "unknown element tag");
	}
	/* Order is irrelevant. */
	pt_tvs_elem_t swapped[2] = {e[1], e[0]};
	ck_assert_int_eq(parse_elems(1, swapped, 2, &req, &why), PT_OK);
	ck_assert_str_eq(req.device_name, DEVICE);
	/* Missing elements. */
	ck_assert_int_eq(parse_elems(1, &e[1], 1, &req, &why),
			 PT_ERR_MALFORMED);
	ck_assert_str_eq(why, "no DEVICE_NAME");
	ck_assert_int_eq(parse_elems(1, &e[0], 1, &req, &why),
			 PT_ERR_MALFORMED);
	ck_assert_str_eq(why, "no CERTIFICATE");
	ck_assert_int_eq(parse_elems(1, NULL, 0, &req, &why),
			 PT_ERR_MALFORMED);
}
END_TEST

START_TEST(repeated_tag_replaces)
{
	uint8_t good[32], bad[32];
	size_t gl = name_value(good, 1, DEVICE);
	size_t bl = name_value(bad, 1, "CP-7841-SEP00112233445");
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	pt_tvs_request_t req;
	const char *why = NULL;

	pt_tvs_elem_t e1[3] = {{1, bad, bl}, {2, spec_cert, spec_cert_len},
			       {1, good, gl}};
	ck_assert_int_eq(parse_elems(1, e1, 3, &req, &why), PT_OK);
	pt_tvs_elem_t e2[3] = {{1, good, gl}, {2, spec_cert, spec_cert_len},
			       {1, bad, bl}};
	ck_assert_int_eq(parse_elems(1, e2, 3, &req, &why), PT_ERR_MALFORMED);
	pt_tvs_elem_t e3[3] = {{2, junk, sizeof junk}, {1, good, gl},
			       {2, spec_cert, spec_cert_len}};
	ck_assert_int_eq(parse_elems(1, e3, 3, &req, &why), PT_OK);
	ck_assert_uint_eq(req.cert_len, 672);
	pt_tvs_elem_t e4[3] = {{2, spec_cert, spec_cert_len}, {1, good, gl},
			       {2, junk, sizeof junk}};
	ck_assert_int_eq(parse_elems(1, e4, 3, &req, &why), PT_ERR_MALFORMED);
}
END_TEST

START_TEST(device_names)
{
	static const char *const ok[] = {
		"CP-7841-SEP001122334455", "CP-0000-SEP000000000000",
		"CP-9999-SEPABCDEF012345"};
	static const char *const no[] = {
		"", "CP-7841-SEP00112233445", "CP-7841-SEP0011223344556",
		"CP-7841-SEP00112233445a", "cp-7841-SEP001122334455",
		"CP-784-SEP0011223344556", "CP-78410-SEP00112233445",
		"CP-7841-sep001122334455", "CP_7841-SEP001122334455",
		"CP-7841-SEP00112233445G", "CP-78a1-SEP001122334455",
		"SEP001122334455", "CP-7841-SEP0011 2233445"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		ck_assert_msg(pt_tvs_device_name_ok(ok[i], strlen(ok[i])), "%s",
			      ok[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!pt_tvs_device_name_ok(no[i], strlen(no[i])),
			      "%s", no[i]);
	ck_assert(!pt_tvs_device_name_ok("CP-7841-SEP001122334455\0",
					 24));

	/* The prefix byte is not looked at; its absence is. */
	uint8_t v[40];
	pt_tvs_request_t req;
	const char *why = NULL;
	for (unsigned p = 0; p < 256; p += 51) {
		size_t nl = name_value(v, (uint8_t)p, DEVICE);
		pt_tvs_elem_t e[2] = {{1, v, nl}, {2, spec_cert, spec_cert_len}};
		ck_assert_int_eq(parse_elems(1, e, 2, &req, &why), PT_OK);
		ck_assert_uint_eq(req.device_prefix, p);
	}
	pt_tvs_elem_t e[2] = {{1, (const uint8_t *)DEVICE, strlen(DEVICE)},
			      {2, spec_cert, spec_cert_len}};
	ck_assert_int_eq(parse_elems(1, e, 2, &req, &why), PT_ERR_MALFORMED);
	e[0].len = 0;
	ck_assert_int_eq(parse_elems(1, e, 2, &req, &why), PT_ERR_MALFORMED);

	size_t len;
	ck_assert_int_eq(pt_tvs_request_build(1, "CP-1-SEP001122334455",
					      spec_cert, spec_cert_len, buf,
					      PT_TVS_MSG_MAX, &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_tvs_request_build(1, PT_TVS_DEFAULT_DEVICE,
					      spec_cert, spec_cert_len, buf,
					      PT_TVS_MSG_MAX, &len),
			 PT_OK);
}
END_TEST

START_TEST(certificates_refused)
{
	uint8_t name[32];
	size_t nl = name_value(name, 1, DEVICE);
	pt_tvs_request_t req;
	const char *why = NULL;
	uint8_t *padded = malloc(spec_cert_len + 1);
	ck_assert_ptr_nonnull(padded);
	memcpy(padded, spec_cert, spec_cert_len);
	padded[spec_cert_len] = 0;

	struct {
		const uint8_t *der;
		size_t len;
	} bad[] = {
		{spec_cert, 0},
		{spec_cert, 100},
		{spec_cert, spec_cert_len - 1},
		{padded, spec_cert_len + 1},
		{(const uint8_t *)"not a certificate", 17},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pt_tvs_elem_t e[2] = {{1, name, nl}, {2, bad[i].der, bad[i].len}};
		ck_assert_msg(parse_elems(1, e, 2, &req, &why) ==
				      PT_ERR_MALFORMED,
			      "case %zu", i);
	}
	free(padded);

	/* A certificate as large as the body allows still parses. */
	EVP_PKEY *key = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	X509 *x = pt_testcert(key, "tvs-codec", 77);
	uint8_t *der = NULL;
	size_t der_len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &der_len), PT_OK);
	pt_tvs_elem_t e[2] = {{1, name, nl}, {2, der, der_len}};
	ck_assert_int_eq(parse_elems(1, e, 2, &req, &why), PT_OK);
	uint8_t sha[32];
	ck_assert_int_eq(pt_certs_sha256(der, der_len, sha), PT_OK);
	ck_assert_mem_eq(req.sha256, sha, 32);
	free(der);
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(response_refused)
{
	static const uint8_t st0[] = {0};
	static const uint8_t st2[] = {0, 0};
	static const uint8_t ttl3[] = {0, 1, 2};
	static const uint8_t ttl4[] = {0, 0, 0, 60};
	pt_tvs_response_t r;
	const char *why = NULL;
	size_t len;
	uint8_t out[256];

	pt_tvs_elem_t ok[3] = {{7, st0, 1}, {8, (const uint8_t *)"\x15", 1},
			       {9, ttl4, 4}};
	ck_assert_int_eq(pt_tvs_msg_build(2, 42, ok, 3, out, sizeof out, &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 42, &r, &why), PT_OK);
	ck_assert_uint_eq(r.ttl, 60);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 43, &r, &why),
			 PT_ERR_AUTH);
	ck_assert_int_eq(pt_tvs_response_parse(out, len - 1, 42, &r, &why),
			 PT_ERR_INCOMPLETE);
	ck_assert_int_eq(pt_tvs_msg_build(1, 42, ok, 3, out, sizeof out, &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 42, &r, &why),
			 PT_ERR_UNSUPPORTED);

	pt_tvs_elem_t nostatus[1] = {{9, ttl4, 4}};
	ck_assert_int_eq(pt_tvs_msg_build(2, 1, nostatus, 1, out, sizeof out,
					  &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 1, &r, &why),
			 PT_ERR_MALFORMED);
	pt_tvs_elem_t longstatus[1] = {{7, st2, 2}};
	ck_assert_int_eq(pt_tvs_msg_build(2, 1, longstatus, 1, out, sizeof out,
					  &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 1, &r, &why),
			 PT_ERR_MALFORMED);
	pt_tvs_elem_t shortttl[2] = {{7, st0, 1}, {9, ttl3, 3}};
	ck_assert_int_eq(pt_tvs_msg_build(2, 1, shortttl, 2, out, sizeof out,
					  &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 1, &r, &why),
			 PT_ERR_MALFORMED);
	pt_tvs_elem_t reqtag[2] = {{7, st0, 1}, {2, st0, 1}};
	ck_assert_int_eq(pt_tvs_msg_build(2, 1, reqtag, 2, out, sizeof out,
					  &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 1, &r, &why),
			 PT_ERR_MALFORMED);
	/* A later STATUS replaces an earlier one; unknown codes pass through
	 * for the caller to treat as invalid. */
	static const uint8_t st5[] = {5};
	pt_tvs_elem_t twice[2] = {{7, st0, 1}, {7, st5, 1}};
	ck_assert_int_eq(pt_tvs_msg_build(2, 1, twice, 2, out, sizeof out,
					  &len),
			 PT_OK);
	ck_assert_int_eq(pt_tvs_response_parse(out, len, 1, &r, &why), PT_OK);
	ck_assert_uint_eq(r.status, 5);
}
END_TEST

START_TEST(builder_limits)
{
	uint8_t *big = calloc(1, PT_TVS_BODY_MAX + 1);
	ck_assert_ptr_nonnull(big);
	pt_tvs_elem_t e[2] = {{2, big, PT_TVS_BODY_MAX - 3}, {1, big, 0}};
	ck_assert_uint_eq(pt_tvs_msg_size(e, 1), PT_TVS_MSG_MAX);
	ck_assert_uint_eq(pt_tvs_msg_size(e, 2), 0);
	e[0].len = PT_TVS_BODY_MAX + 1;
	ck_assert_uint_eq(pt_tvs_msg_size(e, 1), 0);
	size_t len;
	ck_assert_int_eq(pt_tvs_msg_build(1, 1, e, 1, buf, PT_TVS_MSG_MAX,
					  &len),
			 PT_ERR_TOO_LARGE);
	e[0].len = PT_TVS_BODY_MAX - 3;
	ck_assert_int_eq(pt_tvs_msg_build(1, 1, e, 1, buf, PT_TVS_MSG_MAX,
					  &len),
			 PT_OK);
	ck_assert_uint_eq(len, PT_TVS_MSG_MAX);
	ck_assert_int_eq(pt_tvs_msg_build(1, 1, e, 1, buf, PT_TVS_MSG_MAX - 1,
					  &len),
			 PT_ERR_TOO_LARGE);
	/* The largest body parses as far as its certificate. */
	pt_tvs_request_t req;
	const char *why = NULL;
	ck_assert_int_eq(pt_tvs_request_parse(buf, PT_TVS_MSG_MAX, &req, &why),
			 PT_ERR_MALFORMED);
	ck_assert_str_eq(why, "no DEVICE_NAME");
	free(big);

	ck_assert_str_eq(pt_tvs_role_name(2), "CCM+TFTP");
	ck_assert_str_eq(pt_tvs_role_name(21), "TVS");
	ck_assert_str_eq(pt_tvs_role_name(7), "APP-SERVER");
	ck_assert_ptr_null(pt_tvs_role_name(5));
	ck_assert_ptr_null(pt_tvs_role_name(20));
}
END_TEST

static Suite *tvs_msg_suite(void)
{
	Suite *s = suite_create("tvs_msg");
	TCase *tc = tcase_create("codec");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_known_answer);
	tcase_add_test(tc, response_known_answers);
	tcase_add_test(tc, header_and_framing_refused);
	tcase_add_test(tc, commands_and_tags_refused);
	tcase_add_test(tc, repeated_tag_replaces);
	tcase_add_test(tc, device_names);
	tcase_add_test(tc, certificates_refused);
	tcase_add_test(tc, response_refused);
	tcase_add_test(tc, builder_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(tvs_msg_suite());
}
