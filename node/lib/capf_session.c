/* The server side of a CAPF conversation (§6.2, §8) and what both
 * machines share. */
#include "lib/capf_session.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_lsc.h"
#include "lib/capf_session_internal.h"
#include "lib/certs.h"
#include "lib/errors.h"

int pt_capf_out_put(pt_capf_out_t *o, const pt_capf_msg_t *m,
		    pt_capf_from_t from)
{
	size_t n = pt_capf_msg_size(m, from), len = 0;
	if (n == 0)
		return PT_ERR_INVALID;
	uint8_t *grown = realloc(o->buf, o->len + n);
	if (!grown)
		return PT_ERR_NOMEM;
	o->buf = grown;
	int r = pt_capf_msg_build(m, from, o->buf + o->len, n, &len);
	if (r != PT_OK)
		return r;
	o->len += len;
	return PT_OK;
}

bool pt_capf_out_take(pt_capf_out_t *o, uint8_t **msg, size_t *len)
{
	*msg = o->buf;
	*len = o->len;
	o->buf = NULL;
	o->len = 0;
	return *msg != NULL;
}

void pt_capf_out_clear(pt_capf_out_t *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = 0;
}

uint8_t *pt_capf_dup(const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (copy && len)
		memcpy(copy, p, len);
	return copy;
}

const char *pt_capf_fail_name(pt_capf_fail_t fail)
{
	switch (fail) {
	case PT_CAPF_FAIL_NONE:
		return "none";
	case PT_CAPF_FAIL_PROTOCOL:
		return "protocol";
	case PT_CAPF_FAIL_AUTH:
		return "auth";
	case PT_CAPF_FAIL_PHONE:
		return "phone";
	case PT_CAPF_FAIL_SETTINGS:
		return "settings";
	case PT_CAPF_FAIL_REFUSED:
		return "refused";
	case PT_CAPF_FAIL_UNKNOWN:
		return "unknown-device";
	default:
		return "unknown";
	}
}

enum sstate {
	ST_NEW,
	ST_AUTH,    /* waiting for AUTH_RESPONSE */
	ST_LOOKUP,
	ST_CHECK,
	ST_KEY,     /* waiting for KEY_GENERATE_RESPONSE */
	ST_ISSUE,
	ST_STORE,   /* waiting for STORE_CERTIFICATE_RESPONSE */
	ST_FETCH,   /* waiting for FETCH_CERTIFICATE_RESPONSE */
	ST_RECORD_FETCHED,
	ST_DELETE,  /* waiting for DELETE_CERTIFICATE_RESPONSE */
	ST_RECORD_DELETE,
	ST_FAILED,
	ST_DONE,
};

struct pt_capf_server {
	uint32_t session_id;
	enum sstate state;
	pt_capf_server_req_t req;
	pt_capf_out_t out;
	/* The AUTH_RESPONSE, copied and parsed again so that its views
	 * outlive the caller's buffer; wiped once authentication ends. */
	uint8_t *auth_buf;
	size_t auth_len;
	pt_capf_msg_t auth;
	char name[PT_CAPF_DEVICE_NAME_MAX + 1];
	pt_capf_device_t dev;
	uint8_t *ready_cert;
	bool in_progress_seen;
	EVP_PKEY *key;
	uint8_t *key_der;
	size_t key_der_len;
	uint8_t *cert;
	size_t cert_len;
	pt_capf_outcome_t outcome;
	uint8_t end_after_ack;
};

int pt_capf_server_new(uint32_t session_id, pt_capf_server_t **out)
{
	pt_capf_server_t *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s)
		return PT_ERR_NOMEM;
	s->session_id = session_id;
	s->state = ST_NEW;
	s->req = PT_CAPF_SREQ_READ;
	*out = s;
	return PT_OK;
}

static void wipe_auth(pt_capf_server_t *s)
{
	if (s->auth_buf) {
		OPENSSL_cleanse(s->auth_buf, s->auth_len);
		free(s->auth_buf);
	}
	s->auth_buf = NULL;
	s->auth_len = 0;
	memset(&s->auth, 0, sizeof s->auth);
}

void pt_capf_server_destroy(pt_capf_server_t **sp)
{
	if (!sp || !*sp)
		return;
	pt_capf_server_t *s = *sp;
	wipe_auth(s);
	pt_capf_out_clear(&s->out);
	free(s->ready_cert);
	EVP_PKEY_free(s->key);
	free(s->key_der);
	free(s->cert);
	free(s);
	*sp = NULL;
}

static int put(pt_capf_server_t *s, const pt_capf_msg_t *m)
{
	return pt_capf_out_put(&s->out, m, PT_CAPF_FROM_SERVER);
}

static void msg_init(const pt_capf_server_t *s, pt_capf_msg_t *m,
		     uint8_t command)
{
	memset(m, 0, sizeof *m);
	m->command = command;
	m->session_id = s->session_id;
}

/* Queues END_SESSION and finishes.  Out of memory, the machine is DONE
 * with nothing to send: the caller closes. */
static int end(pt_capf_server_t *s, uint8_t reason)
{
	pt_capf_msg_t m;
	msg_init(s, &m, PT_CAPF_CMD_END_SESSION);
	m.reason = reason;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	wipe_auth(s);
	s->state = ST_DONE;
	s->req = PT_CAPF_SREQ_DONE;
	s->outcome.end_reason = reason;
	return put(s, &m);
}

/* The caller hears of the failure before END_SESSION goes out. */
static int failed(pt_capf_server_t *s, pt_capf_fail_t kind, const char *why,
		  uint8_t reason)
{
	wipe_auth(s);
	s->outcome.fail = kind;
	s->outcome.why = why;
	s->end_after_ack = reason;
	s->state = ST_FAILED;
	s->req = PT_CAPF_SREQ_FAILED;
	return PT_OK;
}

static int protocol(pt_capf_server_t *s, const char *why)
{
	return failed(s, PT_CAPF_FAIL_PROTOCOL, why,
		      PT_CAPF_REASON_INVALID_ELEMENT);
}

/* Waits for the phone's next message in state st. */
static int wait_for(pt_capf_server_t *s, enum sstate st)
{
	s->state = st;
	s->req = PT_CAPF_SREQ_READ;
	return PT_OK;
}

static int ask(pt_capf_server_t *s, enum sstate st, pt_capf_server_req_t req)
{
	s->state = st;
	s->req = req;
	return PT_OK;
}

int pt_capf_server_start(pt_capf_server_t *s)
{
	pt_capf_msg_t m;
	if (s->state != ST_NEW)
		return PT_ERR_INVALID;
	msg_init(s, &m, PT_CAPF_CMD_AUTH_REQUEST);
	m.version = PT_CAPF_VERSION;
	m.auth_type = PT_CAPF_AUTH_TYPE_NONE;
	pt_capf_msg_set(&m, PT_CAPF_TAG_VERSION);
	pt_capf_msg_set(&m, PT_CAPF_TAG_AUTH_TYPE);
	int r = put(s, &m);
	if (r != PT_OK)
		return r;
	return wait_for(s, ST_AUTH);
}

pt_capf_server_req_t pt_capf_server_request(const pt_capf_server_t *s)
{
	return s->req;
}

bool pt_capf_server_take_output(pt_capf_server_t *s, uint8_t **msg,
				size_t *len)
{
	return pt_capf_out_take(&s->out, msg, len);
}

/* File-name safe and within the LSC's CN bound (§10). */
static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > PT_CAPF_DEVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* §6.2 step 1. */
static int on_auth(pt_capf_server_t *s, const uint8_t *msg, size_t len,
		   const pt_capf_msg_t *m)
{
	if (m->command != PT_CAPF_CMD_AUTH_RESPONSE)
		return protocol(s, "expected AUTH_RESPONSE");
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_VERSION) ||
	    m->version != PT_CAPF_VERSION)
		return protocol(s, "VERSION is not 3");
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_DEVICE_NAME) ||
	    m->device_name_len == 0)
		return protocol(s, "no DEVICE_NAME");
	if (!name_ok(m->device_name, m->device_name_len))
		return protocol(s, "DEVICE_NAME is not 1-64 of A-Z a-z 0-9 "
				   ". _ -");
	memcpy(s->name, m->device_name, m->device_name_len);
	s->name[m->device_name_len] = '\0';

	if (!(s->auth_buf = pt_capf_dup(msg, len)))
		return PT_ERR_NOMEM;
	s->auth_len = len;
	/* Cannot fail: the same bytes parsed a moment ago. */
	if (pt_capf_msg_parse(s->auth_buf, len, PT_CAPF_FROM_PHONE, &s->auth,
			      NULL) != PT_OK)
		return protocol(s, "AUTH_RESPONSE does not parse");
	return ask(s, ST_LOOKUP, PT_CAPF_SREQ_LOOKUP);
}

/* STORE_CERTIFICATE_REQUEST: CERTIFICATE_TYPE 1 and the wrapped DER. */
static void store_request(const pt_capf_server_t *s, pt_capf_msg_t *m,
			  const uint8_t *der, size_t len)
{
	msg_init(s, m, PT_CAPF_CMD_STORE_CERTIFICATE_REQUEST);
	m->cert_type = PT_CAPF_CERT_TYPE_LSC;
	m->cert = der;
	m->cert_len = len;
	pt_capf_msg_set(m, PT_CAPF_TAG_CERTIFICATE_TYPE);
	pt_capf_msg_set(m, PT_CAPF_TAG_CERTIFICATE);
}

/* §8.2-§8.5 after authentication. */
static int run_op(pt_capf_server_t *s)
{
	pt_capf_msg_t m;
	int r;

	wipe_auth(s);
	switch (s->dev.op) {
	case PT_CAPF_OP_NONE:
		s->outcome.completed = true;
		return end(s, PT_CAPF_REASON_NO_ACTION);
	case PT_CAPF_OP_INSTALL:
		if (s->ready_cert) {
			store_request(s, &m, s->ready_cert,
				      s->dev.ready_cert_len);
			if ((r = put(s, &m)) != PT_OK)
				return r;
			return wait_for(s, ST_STORE);
		}
		if (!pt_capf_keyspec_valid(&s->dev.key))
			return failed(s, PT_CAPF_FAIL_SETTINGS,
				      "install without a valid key size or "
				      "curve",
				      PT_CAPF_REASON_INVALID_ELEMENT);
		msg_init(s, &m, PT_CAPF_CMD_KEY_GENERATE_REQUEST);
		m.key_type = s->dev.key.key_type;
		pt_capf_msg_set(&m, PT_CAPF_TAG_KEY_TYPE);
		if (m.key_type == PT_CAPF_KEY_TYPE_RSA) {
			m.key_size = s->dev.key.rsa_bits;
			pt_capf_msg_set(&m, PT_CAPF_TAG_KEY_SIZE);
		} else {
			m.curve = s->dev.key.curve;
			pt_capf_msg_set(&m, PT_CAPF_TAG_CURVE);
		}
		if ((r = put(s, &m)) != PT_OK)
			return r;
		return wait_for(s, ST_KEY);
	case PT_CAPF_OP_FETCH:
		msg_init(s, &m, PT_CAPF_CMD_FETCH_CERTIFICATE_REQUEST);
		if ((r = put(s, &m)) != PT_OK)
			return r;
		return wait_for(s, ST_FETCH);
	case PT_CAPF_OP_DELETE:
		msg_init(s, &m, PT_CAPF_CMD_DELETE_CERTIFICATE_REQUEST);
		if ((r = put(s, &m)) != PT_OK)
			return r;
		return wait_for(s, ST_DELETE);
	}
	return PT_ERR_INVALID;
}

static int on_key(pt_capf_server_t *s, const pt_capf_msg_t *m)
{
	if (m->command == PT_CAPF_CMD_REQUEST_IN_PROGRESS) {
		/* §7: one is tolerated while the phone generates its key. */
		if (s->in_progress_seen)
			return protocol(s, "second REQUEST_IN_PROGRESS");
		if (m->tags != 0)
			return protocol(s, "REQUEST_IN_PROGRESS with a body");
		s->in_progress_seen = true;
		return wait_for(s, ST_KEY);
	}
	if (m->command != PT_CAPF_CMD_KEY_GENERATE_RESPONSE)
		return protocol(s, "expected KEY_GENERATE_RESPONSE");
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_PUBLIC_KEY))
		return failed(s, PT_CAPF_FAIL_PHONE,
			      "the phone could not generate its key",
			      PT_CAPF_REASON_INVALID_ELEMENT);
	EVP_PKEY *key = NULL;
	int r = pt_capf_lsc_decode_public(m->public_key, m->public_key_len,
					  &key);
	if (r == PT_ERR_NOMEM)
		goto out;
	if (r != PT_OK) {
		r = protocol(s, "PUBLIC_KEY is not an RSA or EC public key");
		goto out;
	}
	if (pt_capf_keyspec_match(&s->dev.key, key) != PT_OK) {
		r = failed(s, PT_CAPF_FAIL_PHONE,
			   "PUBLIC_KEY is not the type and size asked for",
			   PT_CAPF_REASON_INVALID_ELEMENT);
		goto out;
	}
	if (!(s->key_der = pt_capf_dup(m->public_key, m->public_key_len))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	s->key_der_len = m->public_key_len;
	s->key = key;
	key = NULL;
	r = ask(s, ST_ISSUE, PT_CAPF_SREQ_ISSUE);
out:
	EVP_PKEY_free(key);
	return r;
}

static int on_store(pt_capf_server_t *s, const pt_capf_msg_t *m)
{
	if (m->command != PT_CAPF_CMD_STORE_CERTIFICATE_RESPONSE)
		return protocol(s, "expected STORE_CERTIFICATE_RESPONSE");
	if (pt_capf_msg_has(m, PT_CAPF_TAG_REASON) &&
	    m->reason == PT_CAPF_REASON_UPDATE_CERTIFICATE) {
		s->outcome.completed = true;
		return end(s, PT_CAPF_REASON_UPDATE_CERTIFICATE);
	}
	/* §8.2 step 8: reason 1 whatever the phone said; the record, if
	 * written at issue, stays. */
	return failed(s, PT_CAPF_FAIL_PHONE,
		      "the phone did not store the certificate",
		      PT_CAPF_REASON_UPDATE_CERTIFICATE);
}

static int on_fetch(pt_capf_server_t *s, const pt_capf_msg_t *m)
{
	X509 *x = NULL;

	if (m->command != PT_CAPF_CMD_FETCH_CERTIFICATE_RESPONSE)
		return protocol(s, "expected FETCH_CERTIFICATE_RESPONSE");
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_REASON) ||
	    m->reason != PT_CAPF_REASON_UPDATE_CERTIFICATE)
		return failed(s, PT_CAPF_FAIL_PHONE,
			      "the phone has no certificate to fetch",
			      PT_CAPF_REASON_NO_ACTION);
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_CERTIFICATE) ||
	    pt_certs_decode_der(m->cert, m->cert_len, &x) != PT_OK)
		return protocol(s, "FETCH_CERTIFICATE_RESPONSE without one "
				   "DER certificate");
	X509_free(x);
	if (!(s->cert = pt_capf_dup(m->cert, m->cert_len)))
		return PT_ERR_NOMEM;
	s->cert_len = m->cert_len;
	return ask(s, ST_RECORD_FETCHED, PT_CAPF_SREQ_RECORD_FETCHED);
}

static int on_delete(pt_capf_server_t *s, const pt_capf_msg_t *m)
{
	if (m->command != PT_CAPF_CMD_DELETE_CERTIFICATE_RESPONSE)
		return protocol(s, "expected DELETE_CERTIFICATE_RESPONSE");
	if (pt_capf_msg_has(m, PT_CAPF_TAG_REASON) &&
	    m->reason == PT_CAPF_REASON_UPDATE_CERTIFICATE)
		return ask(s, ST_RECORD_DELETE, PT_CAPF_SREQ_RECORD_DELETE);
	return failed(s, PT_CAPF_FAIL_PHONE,
		      "the phone had no certificate to delete",
		      PT_CAPF_REASON_UPDATE_CERTIFICATE);
}

int pt_capf_server_feed(pt_capf_server_t *s, const uint8_t *msg, size_t len)
{
	pt_capf_msg_t m;
	const char *why = NULL;

	if (s->req != PT_CAPF_SREQ_READ || s->state == ST_NEW)
		return PT_ERR_INVALID;
	if (pt_capf_msg_parse(msg, len, PT_CAPF_FROM_PHONE, &m, &why) !=
	    PT_OK)
		return protocol(s, why);
	if (m.session_id != s->session_id)
		return protocol(s, "session id differs from ours");
	switch (s->state) {
	case ST_AUTH:
		return on_auth(s, msg, len, &m);
	case ST_KEY:
		return on_key(s, &m);
	case ST_STORE:
		return on_store(s, &m);
	case ST_FETCH:
		return on_fetch(s, &m);
	case ST_DELETE:
		return on_delete(s, &m);
	default:
		return PT_ERR_INVALID;
	}
}

int pt_capf_server_set_device(pt_capf_server_t *s, const pt_capf_device_t *d)
{
	if (s->state != ST_LOOKUP || !d || d->auth > PT_CAPF_AUTH_CERTIFICATE ||
	    d->op > PT_CAPF_OP_DELETE ||
	    (d->ready_cert && (d->ready_cert_len == 0 ||
			       d->ready_cert_len > PT_CAPF_STORE_DER_MAX)))
		return PT_ERR_INVALID;
	if (d->ready_cert && d->op == PT_CAPF_OP_INSTALL) {
		if (!(s->ready_cert = pt_capf_dup(d->ready_cert,
						  d->ready_cert_len)))
			return PT_ERR_NOMEM;
	}
	s->dev = *d;
	s->dev.ready_cert = s->ready_cert;
	if (!s->ready_cert)
		s->dev.ready_cert_len = 0;
	s->outcome.op = d->op;

	switch (d->auth) {
	case PT_CAPF_AUTH_NULL:
		/* Extra credentials are ignored (§6.2). */
		return run_op(s);
	case PT_CAPF_AUTH_PASSWORD:
		if (!pt_capf_msg_has(&s->auth, PT_CAPF_TAG_PASSWORD))
			return failed(s, PT_CAPF_FAIL_AUTH, "no PASSWORD",
				      PT_CAPF_REASON_INVALID_ELEMENT);
		return ask(s, ST_CHECK, PT_CAPF_SREQ_CHECK_PASSWORD);
	case PT_CAPF_AUTH_CERTIFICATE:
		if (!pt_capf_msg_has(&s->auth, PT_CAPF_TAG_CERTIFICATE) ||
		    !pt_capf_msg_has(&s->auth, PT_CAPF_TAG_SIGNED_DATA) ||
		    !pt_capf_msg_has(&s->auth, PT_CAPF_TAG_SHA2_SIGNED_DATA))
			return failed(s, PT_CAPF_FAIL_AUTH,
				      "CERTIFICATE, SIGNED_DATA and "
				      "SHA2_SIGNED_DATA are all required",
				      PT_CAPF_REASON_INVALID_ELEMENT);
		return ask(s, ST_CHECK, PT_CAPF_SREQ_CHECK_CERT);
	}
	return PT_ERR_INVALID;
}

int pt_capf_server_unknown_device(pt_capf_server_t *s)
{
	if (s->state != ST_LOOKUP)
		return PT_ERR_INVALID;
	s->outcome.fail = PT_CAPF_FAIL_UNKNOWN;
	s->outcome.why = "device not known";
	return end(s, PT_CAPF_REASON_UNKNOWN_DEVICE);
}

int pt_capf_server_auth_result(pt_capf_server_t *s, bool ok)
{
	if (s->state != ST_CHECK)
		return PT_ERR_INVALID;
	if (ok)
		return run_op(s);
	return failed(s, PT_CAPF_FAIL_AUTH,
		      s->req == PT_CAPF_SREQ_CHECK_PASSWORD
			      ? "wrong authentication string"
			      : "certificate authentication refused",
		      PT_CAPF_REASON_INVALID_ELEMENT);
}

int pt_capf_server_issued(pt_capf_server_t *s, const uint8_t *der,
			  size_t len)
{
	pt_capf_msg_t m;
	uint8_t *copy = NULL;
	int r;

	if (s->state != ST_ISSUE || !der || len == 0)
		return PT_ERR_INVALID;
	if (len > PT_CAPF_STORE_DER_MAX)
		return PT_ERR_TOO_LARGE;
	r = PT_ERR_NOMEM;
	if (!(copy = pt_capf_dup(der, len)))
		goto out;
	store_request(s, &m, copy, len);
	if ((r = put(s, &m)) != PT_OK)
		goto out;
	s->cert = copy;
	s->cert_len = len;
	copy = NULL;
	s->outcome.completed = true;
	r = wait_for(s, ST_STORE);
out:
	free(copy);
	return r;
}

int pt_capf_server_issue_deferred(pt_capf_server_t *s)
{
	if (s->state != ST_ISSUE)
		return PT_ERR_INVALID;
	return end(s, PT_CAPF_REASON_NO_ACTION);
}

int pt_capf_server_recorded(pt_capf_server_t *s)
{
	if (s->state == ST_RECORD_FETCHED) {
		s->outcome.completed = true;
		return end(s, PT_CAPF_REASON_NO_ACTION);
	}
	if (s->state == ST_RECORD_DELETE) {
		s->outcome.completed = true;
		return end(s, PT_CAPF_REASON_UPDATE_CERTIFICATE);
	}
	return PT_ERR_INVALID;
}

int pt_capf_server_ack(pt_capf_server_t *s)
{
	if (s->state != ST_FAILED)
		return PT_ERR_INVALID;
	return end(s, s->end_after_ack);
}

int pt_capf_server_refuse(pt_capf_server_t *s, const char *why)
{
	if (s->state == ST_NEW || s->state == ST_FAILED ||
	    s->state == ST_DONE)
		return PT_ERR_INVALID;
	s->outcome.fail = PT_CAPF_FAIL_REFUSED;
	s->outcome.why = why ? why : "refused";
	return end(s, PT_CAPF_REASON_INVALID_ELEMENT);
}

uint32_t pt_capf_server_session_id(const pt_capf_server_t *s)
{
	return s->session_id;
}

const char *pt_capf_server_device_name(const pt_capf_server_t *s)
{
	return s->name;
}

const pt_capf_msg_t *pt_capf_server_auth_msg(const pt_capf_server_t *s)
{
	return s->state == ST_CHECK ? &s->auth : NULL;
}

const char *pt_capf_server_password(const pt_capf_server_t *s)
{
	if (s->req != PT_CAPF_SREQ_CHECK_PASSWORD)
		return NULL;
	return s->auth.password;
}

EVP_PKEY *pt_capf_server_public_key(const pt_capf_server_t *s)
{
	return s->key;
}

void pt_capf_server_public_key_der(const pt_capf_server_t *s,
				   const uint8_t **der, size_t *len)
{
	*der = s->key_der;
	*len = s->key_der_len;
}

void pt_capf_server_cert(const pt_capf_server_t *s, const uint8_t **der,
			 size_t *len)
{
	*der = s->cert;
	*len = s->cert_len;
}

const pt_capf_outcome_t *pt_capf_server_outcome(const pt_capf_server_t *s)
{
	return &s->outcome;
}
