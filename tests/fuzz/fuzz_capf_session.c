/* The CAPF state machines against any sequence of messages: the input is
 * one byte choosing the device's settings and the callers' answers, then
 * messages back to back (each as long as its header says).  Both machines
 * get every message; whatever they answer, whatever they send must parse
 * on the other side, and nothing may crash, leak or hang. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_auth.h"
#include "lib/capf_msg.h"
#include "lib/capf_session.h"
#include "lib/certs.h"
#include "lib/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;
static X509 *cert;
static uint8_t *der;
static size_t der_len;

static void setup(void)
{
	if (key)
		return;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key)
		abort();
	cert = X509_new();
	X509_NAME *n = X509_NAME_new();
	if (!cert || !n ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					(const unsigned char *)"CAPF-00000001",
					-1, -1, 0) ||
	    !X509_set_version(cert, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) ||
	    !X509_set_subject_name(cert, n) || !X509_set_issuer_name(cert, n) ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 86400) ||
	    !X509_set_pubkey(cert, key) || !X509_sign(cert, key, EVP_sha256()))
		abort();
	X509_NAME_free(n);
	if (pt_certs_encode_der(cert, &der, &der_len) != PT_OK)
		abort();
}

/* Every byte a machine sends is whole messages the other side reads. */
static void check_output(uint8_t *out, size_t len, pt_capf_from_t from)
{
	size_t at = 0;
	while (at < len) {
		pt_capf_header_t h;
		pt_capf_msg_t m;
		if (pt_capf_header_decode(out + at, len - at, &h) != PT_OK)
			abort();
		size_t n = 8 + (size_t)h.body_len;
		if (n > len - at ||
		    pt_capf_msg_parse(out + at, n, from, &m, NULL) != PT_OK)
			abort();
		at += n;
	}
	free(out);
}

static void serve(pt_capf_server_t *s, uint8_t knobs)
{
	pt_capf_auth_result_t res;
	static const pt_capf_keyspec_t specs[4] = {
		{PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P256},
		{PT_CAPF_KEY_TYPE_RSA, 2048, 0},
		{PT_CAPF_KEY_TYPE_RSA, 0, 0}, /* A9 */
		{PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P384},
	};
	pt_capf_device_t d = {
		.auth = (pt_capf_auth_mode_t)(knobs % 3),
		.op = (pt_capf_op_t)((knobs >> 2) & 3),
		.key = specs[(knobs >> 4) & 3],
	};
	if (knobs & 0x40) {
		d.ready_cert = der;
		d.ready_cert_len = der_len;
	}
	X509 *trust[1] = {cert};
	uint8_t *out;
	size_t len;
	int r = PT_OK;

	for (int guard = 0; guard < 16; guard++) {
		switch (pt_capf_server_request(s)) {
		case PT_CAPF_SREQ_READ:
		case PT_CAPF_SREQ_DONE:
			if (pt_capf_server_take_output(s, &out, &len))
				check_output(out, len, PT_CAPF_FROM_SERVER);
			return;
		case PT_CAPF_SREQ_LOOKUP:
			r = knobs & 0x80 ? pt_capf_server_unknown_device(s)
					 : pt_capf_server_set_device(s, &d);
			break;
		case PT_CAPF_SREQ_CHECK_PASSWORD:
			r = pt_capf_server_auth_result(
				s, strcmp(pt_capf_server_password(s),
					  "123456") == 0);
			break;
		case PT_CAPF_SREQ_CHECK_CERT:
			r = pt_capf_auth_check(pt_capf_server_auth_msg(s),
					       pt_capf_server_session_id(s),
					       trust, 1, &res, NULL);
			pt_capf_auth_result_clear(&res);
			r = pt_capf_server_auth_result(s, r == PT_OK);
			break;
		case PT_CAPF_SREQ_ISSUE:
			if (!pt_capf_server_public_key(s))
				abort();
			r = knobs & 0x80 ? pt_capf_server_issue_deferred(s)
					 : pt_capf_server_issued(s, der,
								 der_len);
			break;
		case PT_CAPF_SREQ_RECORD_FETCHED:
		case PT_CAPF_SREQ_RECORD_DELETE:
			r = pt_capf_server_recorded(s);
			break;
		case PT_CAPF_SREQ_FAILED:
			if (!pt_capf_server_outcome(s)->why)
				abort();
			r = pt_capf_server_ack(s);
			break;
		}
		if (r != PT_OK)
			abort();
	}
	abort(); /* a request loop that never settles */
}

static void act(pt_capf_phone_t *p, uint8_t knobs)
{
	uint8_t *out;
	size_t len;
	int r = PT_OK;

	for (int guard = 0; guard < 16; guard++) {
		switch (pt_capf_phone_request(p)) {
		case PT_CAPF_PREQ_READ:
		case PT_CAPF_PREQ_DONE:
			if (pt_capf_phone_take_output(p, &out, &len))
				check_output(out, len, PT_CAPF_FROM_PHONE);
			return;
		case PT_CAPF_PREQ_GENERATE_KEY:
			/* Only the key at hand: generating costs too much. */
			r = pt_capf_keyspec_match(pt_capf_phone_keyspec(p),
						  key) == PT_OK
				    ? pt_capf_phone_set_key(p, key)
				    : pt_capf_phone_key_failed(p);
			break;
		case PT_CAPF_PREQ_STORE_CERT:
			if (!pt_capf_phone_cert_key(p))
				abort();
			r = pt_capf_phone_stored(p, knobs & 1);
			break;
		case PT_CAPF_PREQ_DELETE_CERT:
			r = pt_capf_phone_deleted(p, knobs & 2);
			break;
		}
		if (r != PT_OK)
			abort();
	}
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_capf_server_t *s = NULL;
	pt_capf_phone_t *p = NULL;
	uint8_t *out;
	size_t len;

	if (size < 1)
		return 0;
	setup();
	uint8_t knobs = data[0];
	pt_capf_phone_config_t cfg = {
		.device_name = "SEP001122334455",
		.password = knobs & 4 ? "123456" : NULL,
		.auth_cert = knobs & 8 ? der : NULL,
		.auth_cert_len = der_len,
		.auth_key = knobs & 8 ? key : NULL,
		.current_cert = knobs & 16 ? der : NULL,
		.current_cert_len = der_len,
		.pending_key = knobs & 32 ? key : NULL,
	};
	if (pt_capf_server_new(1, &s) != PT_OK ||
	    pt_capf_server_start(s) != PT_OK ||
	    pt_capf_phone_new(&cfg, &p) != PT_OK)
		abort();
	if (pt_capf_server_take_output(s, &out, &len))
		check_output(out, len, PT_CAPF_FROM_SERVER);

	size_t at = 1;
	while (at < size) {
		/* Each message as long as its header says, or the rest. */
		size_t n = size - at;
		if (n >= 8) {
			size_t want = 8 + ((size_t)data[at + 6] << 8 |
					   data[at + 7]);
			if (want < n)
				n = want;
		}
		if (pt_capf_server_request(s) == PT_CAPF_SREQ_READ) {
			if (pt_capf_server_feed(s, data + at, n) != PT_OK)
				abort();
			serve(s, knobs);
		}
		if (pt_capf_phone_request(p) == PT_CAPF_PREQ_READ) {
			if (pt_capf_phone_feed(p, data + at, n) != PT_OK)
				abort();
			act(p, knobs);
		}
		at += n;
	}
	pt_capf_server_destroy(&s);
	pt_capf_phone_destroy(&p);
	ERR_clear_error();
	return 0;
}
