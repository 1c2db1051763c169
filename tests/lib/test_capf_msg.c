/* CAPF message codec: the known answers of spec §12 byte for byte, the
 * encodings of §4, and every refusal (§2, §4.3). */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "capf_vectors.h"
#include "lib/capf_msg.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testcert.h"

static uint8_t *buf;
/* A stand-in for a 721-byte certificate: the codec never decodes it. */
static uint8_t der721[721];

static void setup(void)
{
	buf = malloc(PT_CAPF_MSG_MAX + 64);
	ck_assert_ptr_nonnull(buf);
	der721[0] = 0x30;
	der721[1] = 0x82;
	der721[2] = 0x02;
	der721[3] = 0xcd;
	for (size_t i = 4; i < sizeof der721; i++)
		der721[i] = (uint8_t)(i * 7);
}

static void teardown(void)
{
	free(buf);
}

#define CHECK_BYTES(len, vec)                                                 \
	do {                                                                  \
		ck_assert_uint_eq((len), sizeof(vec));                        \
		ck_assert_mem_eq(buf, (vec), sizeof(vec));                    \
	} while (0)

START_TEST(server_messages_known_answers)
{
	size_t len = 0;
	ck_assert_int_eq(pt_capf_auth_request_build(1, buf, PT_CAPF_MSG_MAX,
						    &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_auth_request);

	pt_capf_keyspec_t rsa = {PT_CAPF_KEY_TYPE_RSA, 2048, 0};
	ck_assert_int_eq(pt_capf_key_gen_request_build(1, &rsa, buf,
						       PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_key_gen_rsa2048);

	pt_capf_keyspec_t ec = {PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P256};
	ck_assert_int_eq(pt_capf_key_gen_request_build(1, &ec, buf,
						       PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_key_gen_p256);

	ck_assert_int_eq(pt_capf_store_request_build(1, der721, sizeof der721,
						     buf, PT_CAPF_MSG_MAX,
						     &len),
			 PT_OK);
	ck_assert_uint_eq(len, sizeof capf_vec_store_head_721 + 721);
	ck_assert_mem_eq(buf, capf_vec_store_head_721,
			 sizeof capf_vec_store_head_721);
	ck_assert_mem_eq(buf + 20, der721, 721);

	ck_assert_int_eq(pt_capf_empty_build(PT_CAPF_CMD_FETCH_CERTIFICATE_REQUEST,
					     1, buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_fetch_request);
	ck_assert_int_eq(pt_capf_empty_build(PT_CAPF_CMD_DELETE_CERTIFICATE_REQUEST,
					     1, buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_delete_request);

	struct {
		uint8_t reason;
		const uint8_t *vec;
	} ends[] = {{0, capf_vec_end_no_action},
		    {1, capf_vec_end_ok},
		    {7, capf_vec_end_invalid},
		    {9, capf_vec_end_unknown}};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(pt_capf_end_session_build(1, ends[i].reason,
							   buf, PT_CAPF_MSG_MAX,
							   &len),
				 PT_OK);
		ck_assert_uint_eq(len, 12);
		ck_assert_mem_eq(buf, ends[i].vec, 12);
	}
}
END_TEST

START_TEST(phone_messages_known_answers)
{
	size_t len = 0;
	pt_capf_credentials_t c = {.device_name = CAPF_VEC_DEVICE};
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_auth_response_null);
	c.password = "123456";
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_auth_response_password);

	ck_assert_int_eq(pt_capf_empty_build(PT_CAPF_CMD_REQUEST_IN_PROGRESS, 1,
					     buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_request_in_progress);

	ck_assert_int_eq(pt_capf_key_gen_response_build(
				 1, CAPF_VEC_P256_SPKI, CAPF_VEC_P256_SPKI_LEN,
				 buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_key_gen_response_p256);

	ck_assert_int_eq(pt_capf_fetch_response_build(1, der721, sizeof der721,
						      buf, PT_CAPF_MSG_MAX,
						      &len),
			 PT_OK);
	ck_assert_uint_eq(len, sizeof capf_vec_fetch_head_721 + 721);
	ck_assert_mem_eq(buf, capf_vec_fetch_head_721,
			 sizeof capf_vec_fetch_head_721);
	ck_assert_mem_eq(buf + 20, der721, 721);

	ck_assert_int_eq(pt_capf_reason_build(
				 PT_CAPF_CMD_STORE_CERTIFICATE_RESPONSE, 1, 1,
				 buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_store_response_ok);
	ck_assert_int_eq(pt_capf_reason_build(
				 PT_CAPF_CMD_FETCH_CERTIFICATE_RESPONSE, 1, 7,
				 buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_fetch_response_none);
	ck_assert_int_eq(pt_capf_reason_build(
				 PT_CAPF_CMD_DELETE_CERTIFICATE_RESPONSE, 1, 1,
				 buf, PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	CHECK_BYTES(len, capf_vec_delete_response_ok);
}
END_TEST

/* The structure line of §12 for certificate credentials, with SUDI. */
START_TEST(certificate_credentials_layout)
{
	static uint8_t sig1[256], sig2[256], ssig1[128], ssig2[128];
	memset(sig1, 0x11, sizeof sig1);
	memset(sig2, 0x22, sizeof sig2);
	memset(ssig1, 0x33, sizeof ssig1);
	memset(ssig2, 0x44, sizeof ssig2);
	const uint8_t sudi[40] = {0x30, 0x26};
	pt_capf_credentials_t c = {
		.device_name = CAPF_VEC_DEVICE,
		.cert = der721, .cert_len = 721,
		.sig_sha1 = sig1, .sig_sha1_len = 256,
		.sig_sha512 = sig2, .sig_sha512_len = 256,
		.sudi_cert = sudi, .sudi_cert_len = sizeof sudi,
		.sudi_sig_sha1 = ssig1, .sudi_sig_sha1_len = 128,
		.sudi_sig_sha512 = ssig2, .sudi_sig_sha512_len = 128,
	};
	size_t len = 0;
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	size_t body = 4 + (3 + 726) + (3 + 256) + 4 + 4 + 19 +
		      (3 + 3 + 40 + 3 + 128 + 3 + 128) + (3 + 3 + 256);
	ck_assert_uint_eq(len, 8 + body);
	const uint8_t head[] = {0x55, 0x02, 0, 0, 0, 1, (uint8_t)(body >> 8),
				(uint8_t)body, 0x01, 0x00, 0x01, 0x01,
				0x04, 0x02, 0xd6, 0x01, 0x02, 0xd3, 0x00, 0x01};
	ck_assert_mem_eq(buf, head, sizeof head);
	size_t at = sizeof head + 721;
	const uint8_t sd[] = {0x06, 0x01, 0x00, 0x11};
	ck_assert_mem_eq(buf + at, sd, sizeof sd);
	at += 3 + 256;
	const uint8_t mid[] = {0x07, 0x00, 0x01, 0x03, 0x0b, 0x00, 0x01, 0x00,
			       0x0d, 0x00, 0x10, 'S', 'E', 'P'};
	ck_assert_mem_eq(buf + at, mid, sizeof mid);
	at += 4 + 4 + 19;
	const uint8_t su[] = {0x10, 0x01, 0x31, 0x00, 0x00, 0x28, 0x30, 0x26};
	ck_assert_mem_eq(buf + at, su, sizeof su);
	at += 3 + 3 + 40;
	const uint8_t su2[] = {0x01, 0x00, 0x80, 0x33};
	ck_assert_mem_eq(buf + at, su2, sizeof su2);
	at += 3 + 128;
	const uint8_t su3[] = {0x03, 0x00, 0x80, 0x44};
	ck_assert_mem_eq(buf + at, su3, sizeof su3);
	at += 3 + 128;
	const uint8_t sha2[] = {0x14, 0x01, 0x03, 0x03, 0x01, 0x00, 0x22};
	ck_assert_mem_eq(buf + at, sha2, sizeof sha2);
	ck_assert_uint_eq(at + 3 + 3 + 256, len);

	/* And the server reads it all back. */
	pt_capf_msg_t m;
	const char *why = "unset";
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, &m,
					   &why),
			 PT_OK);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(m.command, PT_CAPF_CMD_AUTH_RESPONSE);
	ck_assert_uint_eq(m.session_id, 1);
	ck_assert_uint_eq(m.reason, 1);
	ck_assert_uint_eq(m.version, 3);
	ck_assert_ptr_eq(m.cert, buf + 20);
	ck_assert_uint_eq(m.cert_len, 721);
	ck_assert_uint_eq(m.signed_data_len, 256);
	ck_assert_uint_eq(m.signed_data[0], 0x11);
	ck_assert_str_eq(m.device_name, CAPF_VEC_DEVICE);
	ck_assert_uint_eq(m.device_name_len, 15);
	ck_assert_str_eq(m.password, "");
	ck_assert_uint_eq(m.password_len, 0);
	ck_assert(pt_capf_msg_has(&m, PT_CAPF_TAG_SUDI_DATA));
	ck_assert_uint_eq(m.sudi.cert_marker, 0);
	ck_assert_uint_eq(m.sudi.cert_len, 40);
	ck_assert_uint_eq(m.sudi.sha1_marker, 1);
	ck_assert_uint_eq(m.sudi.sig_sha1_len, 128);
	ck_assert_uint_eq(m.sudi.sha2_hash_id, 3);
	ck_assert_uint_eq(m.sudi.sig_sha512[0], 0x44);
	ck_assert_uint_eq(m.sha2_hash_id, 3);
	ck_assert_uint_eq(m.sha2_signed_data_len, 256);
	ck_assert_uint_eq(m.sha2_signed_data[255], 0x22);

	/* Half-given credentials are refused. */
	c.sig_sha512 = NULL;
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	c.sig_sha512 = sig2;
	c.sudi_sig_sha1_len = 0;
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	c.device_name = "";
	c.sudi_cert = NULL;
	ck_assert_int_eq(pt_capf_auth_response_build(1, &c, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
}
END_TEST

/* Every §12 vector parses on the side that receives it. */
START_TEST(vectors_parse)
{
	pt_capf_msg_t m;
	const char *why = NULL;

	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_auth_request,
					   sizeof capf_vec_auth_request,
					   PT_CAPF_FROM_SERVER, &m, &why),
			 PT_OK);
	ck_assert_uint_eq(m.command, 1);
	ck_assert_uint_eq(m.version, 3);
	ck_assert(pt_capf_msg_has(&m, PT_CAPF_TAG_AUTH_TYPE));
	ck_assert_uint_eq(m.auth_type, 0);
	ck_assert_uint_eq(m.tags, (1u << 7) | (1u << 8));

	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_auth_response_password,
					   sizeof capf_vec_auth_response_password,
					   PT_CAPF_FROM_PHONE, &m, &why),
			 PT_OK);
	ck_assert_str_eq(m.password, "123456");
	ck_assert_uint_eq(m.password_len, 6);
	ck_assert_str_eq(m.device_name, CAPF_VEC_DEVICE);

	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_key_gen_rsa2048,
					   sizeof capf_vec_key_gen_rsa2048,
					   PT_CAPF_FROM_SERVER, &m, &why),
			 PT_OK);
	ck_assert_uint_eq(m.key_size, 2048);
	ck_assert_uint_eq(m.key_type, 0);
	ck_assert(!pt_capf_msg_has(&m, PT_CAPF_TAG_CURVE));

	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_key_gen_p256,
					   sizeof capf_vec_key_gen_p256,
					   PT_CAPF_FROM_SERVER, &m, &why),
			 PT_OK);
	ck_assert_uint_eq(m.key_type, 1);
	ck_assert_uint_eq(m.curve, 0);
	ck_assert(!pt_capf_msg_has(&m, PT_CAPF_TAG_KEY_SIZE));

	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_request_in_progress,
					   sizeof capf_vec_request_in_progress,
					   PT_CAPF_FROM_PHONE, &m, &why),
			 PT_OK);
	ck_assert_uint_eq(m.command, 17);
	ck_assert_uint_eq(m.tags, 0);

	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_key_gen_response_p256,
					   sizeof capf_vec_key_gen_response_p256,
					   PT_CAPF_FROM_PHONE, &m, &why),
			 PT_OK);
	ck_assert_uint_eq(m.public_key_len, 0x5b);
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(pt_capf_public_key_decode(m.public_key,
						   m.public_key_len, &k),
			 PT_OK);
	pt_capf_keyspec_t p256 = {PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P256};
	ck_assert_int_eq(pt_capf_keyspec_match(&p256, k), PT_OK);
	EVP_PKEY_free(k);

	size_t len;
	ck_assert_int_eq(pt_capf_store_request_build(1, der721, 721, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_SERVER, &m,
					   &why),
			 PT_OK);
	ck_assert_uint_eq(m.cert_type, 1);
	ck_assert_ptr_eq(m.cert, buf + 20);
	ck_assert_uint_eq(m.cert_len, 721);
	/* The store request never reaches a server. */
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, &m,
					   &why),
			 PT_OK);
	buf[1] = 0x0c;
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, &m,
					   &why),
			 PT_OK);

	const uint8_t *to_server[] = {capf_vec_store_response_ok,
				      capf_vec_fetch_response_none,
				      capf_vec_delete_response_ok};
	const uint8_t reasons[] = {1, 7, 1};
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(pt_capf_msg_parse(to_server[i], 12,
						   PT_CAPF_FROM_PHONE, &m,
						   &why),
				 PT_OK);
		ck_assert_uint_eq(m.reason, reasons[i]);
	}
	const uint8_t *ends[] = {capf_vec_end_no_action, capf_vec_end_ok,
				 capf_vec_end_invalid, capf_vec_end_unknown};
	const uint8_t end_reasons[] = {0, 1, 7, 9};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(pt_capf_msg_parse(ends[i], 12,
						   PT_CAPF_FROM_SERVER, &m,
						   &why),
				 PT_OK);
		ck_assert_uint_eq(m.command, 15);
		ck_assert_uint_eq(m.reason, end_reasons[i]);
	}
	ck_assert_int_eq(pt_capf_msg_parse(capf_vec_fetch_request, 8,
					   PT_CAPF_FROM_SERVER, &m, &why),
			 PT_OK);
	ck_assert_uint_eq(m.command, 11);
}
END_TEST

START_TEST(header_refused)
{
	pt_capf_msg_t m;
	pt_capf_header_t h;
	const char *why = NULL;
	uint8_t msg[16];

	memcpy(msg, capf_vec_auth_request, 16);
	ck_assert_int_eq(pt_capf_header_decode(msg, 16, &h), PT_OK);
	ck_assert_uint_eq(h.command, 1);
	ck_assert_uint_eq(h.session_id, 1);
	ck_assert_uint_eq(h.body_len, 8);
	for (size_t n = 0; n < 8; n++) {
		ck_assert_int_eq(pt_capf_header_decode(msg, n, &h),
				 PT_ERR_INCOMPLETE);
		ck_assert_int_eq(pt_capf_msg_parse(msg, n, PT_CAPF_FROM_SERVER,
						   &m, &why),
				 PT_ERR_INCOMPLETE);
	}
	/* Truncated body: every length between header and whole. */
	for (size_t n = 8; n < 16; n++)
		ck_assert_int_eq(pt_capf_msg_parse(msg, n, PT_CAPF_FROM_SERVER,
						   &m, &why),
				 PT_ERR_INCOMPLETE);
	/* Bytes after the declared body. */
	uint8_t longer[17];
	memcpy(longer, msg, 16);
	longer[16] = 0;
	ck_assert_int_eq(pt_capf_msg_parse(longer, 17, PT_CAPF_FROM_SERVER, &m,
					   &why),
			 PT_ERR_TRAILING);

	/* Wrong protocol id: the TVS one, zero, and a neighbour. */
	const uint8_t ids[] = {0x57, 0x00, 0x54, 0x56, 0xff};
	for (size_t i = 0; i < sizeof ids; i++) {
		msg[0] = ids[i];
		ck_assert_int_eq(pt_capf_header_decode(msg, 16, &h),
				 PT_ERR_MALFORMED);
		ck_assert_int_eq(pt_capf_msg_parse(msg, 16, PT_CAPF_FROM_SERVER,
						   &m, &why),
				 PT_ERR_MALFORMED);
		ck_assert_ptr_nonnull(why);
	}
	/* A body length of zero with elements following is trailing. */
	memcpy(msg, capf_vec_auth_request, 16);
	msg[7] = 0;
	ck_assert_int_eq(pt_capf_msg_parse(msg, 16, PT_CAPF_FROM_SERVER, &m,
					   &why),
			 PT_ERR_TRAILING);
}
END_TEST

static int parse_raw(pt_capf_from_t from, const pt_capf_elem_t *e, size_t n,
		     pt_capf_msg_t *m)
{
	size_t len;
	const char *why = NULL;
	ck_assert_int_eq(pt_capf_msg_build_raw(2, 1, e, n, buf,
					       PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	int r = pt_capf_msg_parse(buf, len, from, m, &why);
	if (r != PT_OK)
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(tags_by_side)
{
	static const uint8_t one[] = {3};
	pt_capf_msg_t m;
	const uint8_t from_phone[] = {1, 2, 3, 4, 6, 7, 9, 11, 13, 16, 20};
	const uint8_t from_server[] = {1, 2, 3, 4, 7, 8, 10, 17, 18};

	for (unsigned tag = 0; tag < 256; tag++) {
		bool ok_phone = memchr(from_phone, (int)tag, sizeof from_phone);
		bool ok_server = memchr(from_server, (int)tag,
					sizeof from_server);
		/* A value every accepted tag can take: pick by tag. */
		static const uint8_t cert[] = {1, 0, 3, 0, 1, 0x30};
		static const uint8_t key_size[] = {8, 0};
		static const uint8_t sudi[] = {0, 0, 1, 0x30, 1, 0, 1, 9,
					       3, 0, 1, 9};
		static const uint8_t sha2[] = {3, 0, 1, 9};
		static const uint8_t text[] = {'a', 0};
		pt_capf_elem_t e = {(uint8_t)tag, one, 1};
		if (tag == 4)
			e = (pt_capf_elem_t){4, cert, sizeof cert};
		else if (tag == 10)
			e = (pt_capf_elem_t){10, key_size, 2};
		else if (tag == 16)
			e = (pt_capf_elem_t){16, sudi, sizeof sudi};
		else if (tag == 20)
			e = (pt_capf_elem_t){20, sha2, sizeof sha2};
		else if (tag == 11 || tag == 13)
			e = (pt_capf_elem_t){(uint8_t)tag, text, 2};
		ck_assert_msg((parse_raw(PT_CAPF_FROM_PHONE, &e, 1, &m) ==
			       PT_OK) == ok_phone,
			      "tag %u from the phone", tag);
		ck_assert(pt_capf_msg_has(&m, tag) == ok_phone);
		ck_assert_msg((parse_raw(PT_CAPF_FROM_SERVER, &e, 1, &m) ==
			       PT_OK) == ok_server,
			      "tag %u from the server", tag);
		ck_assert(pt_capf_msg_has(&m, tag) == ok_server);
	}
}
END_TEST

START_TEST(elements_refused)
{
	pt_capf_msg_t m;
	static const uint8_t two[] = {3, 3};
	static const uint8_t no_term[] = {'1', '2'};
	static const uint8_t nul_inside[] = {'1', 0, '2', 0};
	static const uint8_t cert_short[] = {1, 0, 2, 0};
	static const uint8_t cert_bad_len[] = {1, 0, 4, 0, 1, 0x30};
	static const uint8_t cert_empty[] = {1, 0, 2, 0, 1};
	static const uint8_t sudi_trailing[] = {0, 0, 1, 0x30, 1, 0, 1, 9,
						3, 0, 1, 9, 0};
	static const uint8_t sudi_short[] = {0, 0, 1, 0x30, 1, 0, 1, 9,
					     3, 0, 2, 9};
	static const uint8_t sha2_trailing[] = {3, 0, 1, 9, 9};
	static const uint8_t sha2_short[] = {3, 0, 2, 9};
	struct {
		pt_capf_from_t from;
		pt_capf_elem_t e;
	} bad[] = {
		{PT_CAPF_FROM_PHONE, {1, two, 0}},
		{PT_CAPF_FROM_PHONE, {3, two, 2}},
		{PT_CAPF_FROM_PHONE, {7, two, 2}},
		{PT_CAPF_FROM_PHONE, {7, two, 0}},
		{PT_CAPF_FROM_SERVER, {8, two, 2}},
		{PT_CAPF_FROM_SERVER, {10, two, 1}},
		{PT_CAPF_FROM_SERVER, {10, sudi_trailing, 3}},
		{PT_CAPF_FROM_SERVER, {17, two, 2}},
		{PT_CAPF_FROM_SERVER, {18, two, 0}},
		{PT_CAPF_FROM_PHONE, {6, two, 0}},
		{PT_CAPF_FROM_PHONE, {9, two, 0}},
		{PT_CAPF_FROM_PHONE, {11, no_term, 2}},
		{PT_CAPF_FROM_PHONE, {11, no_term, 0}},
		{PT_CAPF_FROM_PHONE, {13, nul_inside, 4}},
		{PT_CAPF_FROM_PHONE, {13, no_term, 0}},
		{PT_CAPF_FROM_PHONE, {4, cert_short, 4}},
		{PT_CAPF_FROM_PHONE, {4, cert_bad_len, 6}},
		{PT_CAPF_FROM_SERVER, {4, cert_empty, 5}},
		{PT_CAPF_FROM_PHONE, {16, sudi_trailing, 13}},
		{PT_CAPF_FROM_PHONE, {16, sudi_short, 12}},
		{PT_CAPF_FROM_PHONE, {16, sudi_short, 0}},
		{PT_CAPF_FROM_PHONE, {20, sha2_trailing, 5}},
		{PT_CAPF_FROM_PHONE, {20, sha2_short, 4}},
		{PT_CAPF_FROM_PHONE, {20, sha2_short, 2}},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(parse_raw(bad[i].from, &bad[i].e, 1, &m) ==
				      PT_ERR_MALFORMED,
			      "case %zu", i);

	/* REASON: the first byte is read whatever follows (§4.1). */
	static const uint8_t reason2[] = {7, 1};
	pt_capf_elem_t r = {1, reason2, 2};
	ck_assert_int_eq(parse_raw(PT_CAPF_FROM_PHONE, &r, 1, &m), PT_OK);
	ck_assert_uint_eq(m.reason, 7);
	/* The wrapper's other bytes are not judged (A4). */
	static const uint8_t cert_odd[] = {9, 0, 3, 7, 2, 0x30};
	pt_capf_elem_t c = {4, cert_odd, 6};
	ck_assert_int_eq(parse_raw(PT_CAPF_FROM_PHONE, &c, 1, &m), PT_OK);
	ck_assert_uint_eq(m.cert_len, 1);
	ck_assert_uint_eq(m.cert[0], 0x30);
	/* REASON_INFO is kept whole. */
	pt_capf_elem_t ri = {2, no_term, 2};
	ck_assert_int_eq(parse_raw(PT_CAPF_FROM_SERVER, &ri, 1, &m), PT_OK);
	ck_assert_uint_eq(m.reason_info_len, 2);
}
END_TEST

START_TEST(overrun_and_repeat)
{
	pt_capf_msg_t m;
	const char *why = NULL;
	/* An element whose length runs past the body, by one byte and by
	 * 65535; and a tag with no length at all. */
	uint8_t msg[] = {0x55, 0x02, 0, 0, 0, 1, 0, 5, 0x01, 0x00, 0x03, 0x01,
			 0x01};
	ck_assert_int_eq(pt_capf_msg_parse(msg, sizeof msg, PT_CAPF_FROM_PHONE,
					   &m, &why),
			 PT_ERR_MALFORMED);
	ck_assert_str_eq(why, "element runs past the end of the body");
	msg[9] = 0xff;
	msg[10] = 0xff;
	ck_assert_int_eq(pt_capf_msg_parse(msg, sizeof msg, PT_CAPF_FROM_PHONE,
					   &m, &why),
			 PT_ERR_MALFORMED);
	uint8_t lone[] = {0x55, 0x02, 0, 0, 0, 1, 0, 2, 0x01, 0x00};
	ck_assert_int_eq(pt_capf_msg_parse(lone, sizeof lone,
					   PT_CAPF_FROM_PHONE, &m, &why),
			 PT_ERR_MALFORMED);
	/* The body length cuts an element that the buffer holds whole. */
	uint8_t cut[] = {0x55, 0x0f, 0, 0, 0, 1, 0, 3, 0x01, 0x00, 0x01, 0x07};
	ck_assert_int_eq(pt_capf_msg_parse(cut, 11, PT_CAPF_FROM_SERVER, &m,
					   &why),
			 PT_ERR_MALFORMED);

	/* A repeated tag replaces the earlier element. */
	static const uint8_t n1[] = {'A', 0}, n2[] = {'B', 'C', 0};
	static const uint8_t v3[] = {3}, v4[] = {4};
	pt_capf_elem_t e[] = {{13, n1, 2}, {7, v4, 1}, {13, n2, 3}, {7, v3, 1}};
	ck_assert_int_eq(parse_raw(PT_CAPF_FROM_PHONE, e, 4, &m), PT_OK);
	ck_assert_str_eq(m.device_name, "BC");
	ck_assert_uint_eq(m.version, 3);
	/* Order does not matter to a receiver. */
	pt_capf_elem_t rev[] = {{7, v3, 1}, {13, n1, 2}, {1, v3, 1}};
	ck_assert_int_eq(parse_raw(PT_CAPF_FROM_PHONE, rev, 3, &m), PT_OK);
	ck_assert_str_eq(m.device_name, "A");
	ck_assert_uint_eq(m.reason, 3);
}
END_TEST

START_TEST(oversized)
{
	size_t len;
	uint8_t *big = calloc(1, 70000);
	ck_assert_ptr_nonnull(big);
	/* One element over 65535 bytes, and a body over 65535 in total. */
	pt_capf_elem_t e1 = {6, big, 65536};
	ck_assert_int_eq(pt_capf_msg_build_raw(2, 1, &e1, 1, buf,
					       PT_CAPF_MSG_MAX, &len),
			 PT_ERR_TOO_LARGE);
	pt_capf_elem_t e2[] = {{6, big, 65532}, {7, big, 1}};
	ck_assert_int_eq(pt_capf_msg_build_raw(2, 1, e2, 2, buf,
					       PT_CAPF_MSG_MAX, &len),
			 PT_ERR_TOO_LARGE);
	/* The largest body fits exactly. */
	pt_capf_elem_t e3 = {6, big, 65532};
	ck_assert_int_eq(pt_capf_msg_build_raw(2, 1, &e3, 1, buf,
					       PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	ck_assert_uint_eq(len, PT_CAPF_MSG_MAX);
	pt_capf_msg_t m;
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, &m,
					   NULL),
			 PT_OK);
	ck_assert_uint_eq(m.signed_data_len, 65532);
	/* A buffer one byte short. */
	ck_assert_int_eq(pt_capf_msg_build_raw(2, 1, &e3, 1, buf,
					       PT_CAPF_MSG_MAX - 1, &len),
			 PT_ERR_TOO_LARGE);

	/* Structured builders: a certificate too large for the body. */
	ck_assert_int_eq(pt_capf_store_request_build(1, big, 65528, buf,
						     PT_CAPF_MSG_MAX, &len),
			 PT_ERR_TOO_LARGE);
	ck_assert_int_eq(pt_capf_fetch_response_build(1, big,
						      PT_CAPF_CERT_DER_MAX - 4,
						      buf, PT_CAPF_MSG_MAX,
						      &len),
			 PT_OK);
	ck_assert_uint_eq(len, PT_CAPF_MSG_MAX);
	ck_assert_int_eq(pt_capf_fetch_response_build(1, big,
						      PT_CAPF_CERT_DER_MAX - 3,
						      buf, PT_CAPF_MSG_MAX,
						      &len),
			 PT_ERR_TOO_LARGE);
	ck_assert_int_eq(pt_capf_fetch_response_build(1, big, 100, buf, 110,
						      &len),
			 PT_ERR_TOO_LARGE);
	free(big);
}
END_TEST

START_TEST(builder_rules)
{
	pt_capf_msg_t m;
	size_t len;
	memset(&m, 0, sizeof m);
	m.command = 2;
	m.session_id = 0xdeadbeef;
	/* A server never sends DEVICE_NAME; a phone never sends AUTH_TYPE;
	 * nobody sends REASON_INFO. */
	m.device_name = "x";
	m.device_name_len = 1;
	pt_capf_msg_set(&m, PT_CAPF_TAG_DEVICE_NAME);
	ck_assert_int_eq(pt_capf_msg_build(&m, PT_CAPF_FROM_SERVER, buf,
					   PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	ck_assert_uint_eq(pt_capf_msg_size(&m, PT_CAPF_FROM_SERVER), 0);
	ck_assert_int_eq(pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf,
					   PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	ck_assert_uint_eq(pt_capf_msg_size(&m, PT_CAPF_FROM_PHONE), len);
	const uint8_t want[] = {0x55, 2, 0xde, 0xad, 0xbe, 0xef, 0, 5,
				13, 0, 2, 'x', 0};
	ck_assert_uint_eq(len, sizeof want);
	ck_assert_mem_eq(buf, want, sizeof want);
	pt_capf_msg_set(&m, PT_CAPF_TAG_AUTH_TYPE);
	ck_assert_int_eq(pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf,
					   PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	m.tags = 0;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON_INFO);
	ck_assert_int_eq(pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf,
					   PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	/* A string holding NUL cannot be sent. */
	m.tags = 0;
	m.password = "1\0002";
	m.password_len = 3;
	pt_capf_msg_set(&m, PT_CAPF_TAG_PASSWORD);
	ck_assert_int_eq(pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf,
					   PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	/* A key generation request for a size or curve the protocol lacks. */
	pt_capf_keyspec_t k = {PT_CAPF_KEY_TYPE_RSA, 1536, 0};
	ck_assert_int_eq(pt_capf_key_gen_request_build(1, &k, buf,
						       PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	k = (pt_capf_keyspec_t){PT_CAPF_KEY_TYPE_EC, 0, 3};
	ck_assert_int_eq(pt_capf_key_gen_request_build(1, &k, buf,
						       PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	k = (pt_capf_keyspec_t){2, 2048, 0};
	ck_assert_int_eq(pt_capf_key_gen_request_build(1, &k, buf,
						       PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_key_gen_response_build(1, NULL, 0, buf,
							PT_CAPF_MSG_MAX, &len),
			 PT_ERR_INVALID);
	ck_assert_str_eq(pt_capf_cmd_name(17), "REQUEST_IN_PROGRESS");
	ck_assert_ptr_null(pt_capf_cmd_name(0));
	ck_assert_ptr_null(pt_capf_cmd_name(24));
}
END_TEST

START_TEST(public_keys)
{
	EVP_PKEY *rsa = NULL, *ec = NULL, *ed = NULL, *k = NULL;
	uint8_t *der = NULL;
	size_t len = 0;

	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rsa), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC384, &ec), PT_OK);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(ed);

	/* SPKI round trip. */
	ck_assert_int_eq(pt_capf_public_key_encode(rsa, &der, &len), PT_OK);
	ck_assert_int_eq(pt_capf_public_key_decode(der, len, &k), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, rsa), 1);
	EVP_PKEY_free(k);
	k = NULL;
	/* Trailing and truncated bytes. */
	uint8_t *more = malloc(len + 1);
	memcpy(more, der, len);
	more[len] = 0;
	ck_assert_int_eq(pt_capf_public_key_decode(more, len + 1, &k),
			 PT_ERR_MALFORMED);
	ck_assert_ptr_null(k);
	ck_assert_int_eq(pt_capf_public_key_decode(more, len - 1, &k),
			 PT_ERR_MALFORMED);
	free(more);
	free(der);

	/* The bare PKCS#1 RSAPublicKey the reference also loads. */
	unsigned char *p1 = NULL;
	int n = i2d_PublicKey(rsa, &p1);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pt_capf_public_key_decode(p1, (size_t)n, &k), PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k, rsa), 1);
	EVP_PKEY_free(k);
	k = NULL;
	OPENSSL_free(p1);

	ck_assert_int_eq(pt_capf_public_key_encode(ec, &der, &len), PT_OK);
	ck_assert_int_eq(pt_capf_public_key_decode(der, len, &k), PT_OK);
	pt_capf_keyspec_t s384 = {PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P384};
	pt_capf_keyspec_t s256 = {PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P256};
	pt_capf_keyspec_t r2048 = {PT_CAPF_KEY_TYPE_RSA, 2048, 0};
	pt_capf_keyspec_t r1024 = {PT_CAPF_KEY_TYPE_RSA, 1024, 0};
	ck_assert_int_eq(pt_capf_keyspec_match(&s384, k), PT_OK);
	ck_assert_int_eq(pt_capf_keyspec_match(&s256, k), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_keyspec_match(&r2048, k), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_keyspec_match(&r2048, rsa), PT_OK);
	ck_assert_int_eq(pt_capf_keyspec_match(&r1024, rsa), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_keyspec_match(&s256, rsa), PT_ERR_INVALID);
	EVP_PKEY_free(k);
	k = NULL;
	free(der);

	/* Neither RSA nor EC. */
	ck_assert_int_eq(pt_capf_public_key_encode(ed, &der, &len), PT_OK);
	ck_assert_int_eq(pt_capf_public_key_decode(der, len, &k),
			 PT_ERR_UNSUPPORTED);
	ck_assert_ptr_null(k);
	free(der);
	ck_assert_int_eq(pt_capf_public_key_decode((const uint8_t *)"junk", 4,
						   &k),
			 PT_ERR_MALFORMED);
	ck_assert_int_eq(pt_capf_public_key_decode(NULL, 0, &k),
			 PT_ERR_MALFORMED);

	uint8_t c;
	ck_assert_int_eq(pt_capf_curve_from_bits(521, &c), PT_OK);
	ck_assert_uint_eq(c, PT_CAPF_CURVE_P521);
	ck_assert_str_eq(pt_capf_curve_name(c), "secp521r1");
	ck_assert_str_eq(pt_capf_curve_group(c), "P-521");
	ck_assert_int_eq(pt_capf_curve_from_bits(255, &c), PT_ERR_INVALID);
	ck_assert_ptr_null(pt_capf_curve_name(3));

	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}
END_TEST

/* Whatever a phone builds, a server parses back to the same fields. */
START_TEST(round_trip)
{
	static const uint8_t sig[] = {1, 2, 3};
	pt_capf_msg_t m, back;
	size_t len;
	memset(&m, 0, sizeof m);
	m.command = 4;
	m.session_id = 77;
	m.reason = 7;
	m.cert_type = 2;
	m.cert = der721;
	m.cert_len = 721;
	m.signed_data = sig;
	m.signed_data_len = 3;
	m.version = 9;
	m.public_key = sig;
	m.public_key_len = 2;
	m.password = "9876";
	m.password_len = 4;
	m.device_name = "CTI-app.1";
	m.device_name_len = 9;
	m.sha2_hash_id = 2;
	m.sha2_signed_data = sig;
	m.sha2_signed_data_len = 1;
	m.sudi = (pt_capf_sudi_t){5, sig, 3, 6, sig, 0, 7, sig, 2};
	m.tags = (1u << 1) | (1u << 3) | (1u << 4) | (1u << 6) | (1u << 7) |
		 (1u << 9) | (1u << 11) | (1u << 13) | (1u << 16) | (1u << 20);
	ck_assert_int_eq(pt_capf_msg_build(&m, PT_CAPF_FROM_PHONE, buf,
					   PT_CAPF_MSG_MAX, &len),
			 PT_OK);
	ck_assert_int_eq(pt_capf_msg_parse(buf, len, PT_CAPF_FROM_PHONE, &back,
					   NULL),
			 PT_OK);
	ck_assert_uint_eq(back.tags, m.tags);
	ck_assert_uint_eq(back.session_id, 77);
	ck_assert_uint_eq(back.reason, 7);
	ck_assert_uint_eq(back.cert_type, 2);
	ck_assert_mem_eq(back.cert, der721, 721);
	ck_assert_uint_eq(back.version, 9);
	ck_assert_uint_eq(back.public_key_len, 2);
	ck_assert_str_eq(back.password, "9876");
	ck_assert_str_eq(back.device_name, "CTI-app.1");
	ck_assert_uint_eq(back.sha2_hash_id, 2);
	ck_assert_uint_eq(back.sha2_signed_data_len, 1);
	ck_assert_uint_eq(back.sudi.cert_marker, 5);
	ck_assert_uint_eq(back.sudi.sha1_marker, 6);
	ck_assert_uint_eq(back.sudi.sig_sha1_len, 0);
	ck_assert_uint_eq(back.sudi.sha2_hash_id, 7);
	ck_assert_uint_eq(back.sudi.sig_sha512_len, 2);
	/* The phone's order: 1 3 4 6 7 11 13 16 9 20. */
	size_t at = 8;
	const uint8_t order[] = {1, 3, 4, 6, 7, 11, 13, 16, 9, 20};
	for (size_t i = 0; i < sizeof order; i++) {
		ck_assert_uint_eq(buf[at], order[i]);
		at += 3 + ((size_t)buf[at + 1] << 8 | buf[at + 2]);
	}
	ck_assert_uint_eq(at, len);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_msg");
	TCase *tc = tcase_create("known_answers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, server_messages_known_answers);
	tcase_add_test(tc, phone_messages_known_answers);
	tcase_add_test(tc, certificate_credentials_layout);
	tcase_add_test(tc, vectors_parse);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, header_refused);
	tcase_add_test(tc, tags_by_side);
	tcase_add_test(tc, elements_refused);
	tcase_add_test(tc, overrun_and_repeat);
	tcase_add_test(tc, oversized);
	tcase_add_test(tc, builder_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, public_keys);
	tcase_add_test(tc, round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
