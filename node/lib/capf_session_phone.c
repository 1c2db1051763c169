/* The phone side of a CAPF conversation (§8), for the simulator and the
 * tests: what a compatible client sends and accepts. */
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_auth.h"
#include "lib/capf_session.h"
#include "lib/capf_session_internal.h"
#include "lib/certs.h"
#include "lib/der.h"
#include "lib/errors.h"
#include "lib/rbuf.h"

enum pstate {
	P_AUTH,       /* waiting for AUTH_REQUEST */
	P_OP,         /* waiting for the operation or END_SESSION */
	P_KEYGEN,     /* GENERATE_KEY open */
	P_STORE_WAIT, /* key sent: waiting for STORE_CERTIFICATE_REQUEST */
	P_STORE,      /* STORE_CERT open */
	P_DELETE,     /* DELETE_CERT open */
	P_END,        /* answered: waiting for END_SESSION */
	P_DONE,
};

struct pt_capf_phone {
	pt_capf_phone_config_t cfg;
	uint32_t session_id;
	enum pstate state;
	pt_capf_phone_req_t req;
	pt_capf_out_t out;
	pt_capf_keyspec_t spec;
	EVP_PKEY *key;      /* generated in this session */
	uint8_t *spki;      /* key's SubjectPublicKeyInfo, as sent */
	size_t spki_len;
	uint8_t *cert;
	size_t cert_len;
	EVP_PKEY *cert_key; /* key or cfg.pending_key (borrowed) */
	pt_capf_phone_outcome_t outcome;
};

int pt_capf_keyspec_generate(const pt_capf_keyspec_t *k, EVP_PKEY **out)
{
	*out = NULL;
	if (!pt_capf_keyspec_valid(k))
		return PT_ERR_INVALID;
	if (k->key_type == PT_CAPF_KEY_TYPE_RSA)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
					 (size_t)k->rsa_bits);
	else
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
					 pt_capf_curve_group(k->curve));
	return *out ? PT_OK : PT_ERR_CRYPTO;
}

int pt_capf_phone_new(const pt_capf_phone_config_t *cfg,
		      pt_capf_phone_t **out)
{
	*out = NULL;
	if (!cfg || !cfg->device_name)
		return PT_ERR_INVALID;
	size_t n = strlen(cfg->device_name);
	if (n == 0 || n > PT_CAPF_DEVICE_NAME_MAX ||
	    (!cfg->auth_cert != !cfg->auth_key) ||
	    (cfg->auth_cert && cfg->auth_cert_len == 0) ||
	    (!cfg->sudi_cert != !cfg->sudi_key) ||
	    (cfg->sudi_cert && (!cfg->auth_cert || cfg->sudi_cert_len == 0)))
		return PT_ERR_INVALID;
	pt_capf_phone_t *p = calloc(1, sizeof *p);
	if (!p)
		return PT_ERR_NOMEM;
	p->cfg = *cfg;
	p->state = P_AUTH;
	p->req = PT_CAPF_PREQ_READ;
	*out = p;
	return PT_OK;
}

void pt_capf_phone_destroy(pt_capf_phone_t **pp)
{
	if (!pp || !*pp)
		return;
	pt_capf_phone_t *p = *pp;
	pt_capf_out_clear(&p->out);
	EVP_PKEY_free(p->key);
	free(p->spki);
	free(p->cert);
	free(p);
	*pp = NULL;
}

pt_capf_phone_req_t pt_capf_phone_request(const pt_capf_phone_t *p)
{
	return p->req;
}

bool pt_capf_phone_take_output(pt_capf_phone_t *p, uint8_t **msg,
			       size_t *len)
{
	return pt_capf_out_take(&p->out, msg, len);
}

static int put(pt_capf_phone_t *p, const pt_capf_msg_t *m)
{
	return pt_capf_out_put(&p->out, m, PT_CAPF_FROM_PHONE);
}

/* A response carrying REASON alone. */
static int put_reason(pt_capf_phone_t *p, uint8_t command, uint8_t reason)
{
	pt_capf_msg_t m;
	memset(&m, 0, sizeof m);
	m.command = command;
	m.session_id = p->session_id;
	m.reason = reason;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	return put(p, &m);
}

static int put_empty(pt_capf_phone_t *p, uint8_t command)
{
	pt_capf_msg_t m;
	memset(&m, 0, sizeof m);
	m.command = command;
	m.session_id = p->session_id;
	return put(p, &m);
}

/* The phone gives up without a reply. */
static int broken(pt_capf_phone_t *p, const char *why)
{
	p->outcome.why = why;
	p->state = P_DONE;
	p->req = PT_CAPF_PREQ_DONE;
	return PT_OK;
}

static int go(pt_capf_phone_t *p, enum pstate st, pt_capf_phone_req_t req)
{
	p->state = st;
	p->req = req;
	return PT_OK;
}

static int answer_auth(pt_capf_phone_t *p)
{
	pt_capf_sigs_t sigs = {0}, sudi = {0};
	pt_capf_credentials_t c = {
		.device_name = p->cfg.device_name,
		.password = p->cfg.password,
	};
	pt_capf_msg_t m;
	int r;

	if (p->cfg.auth_cert) {
		r = pt_capf_auth_sign(p->cfg.auth_key, p->cfg.device_name,
				      p->cfg.auth_cert, p->cfg.auth_cert_len,
				      p->cfg.sign_flags, &sigs);
		if (r != PT_OK) {
			r = r == PT_ERR_NOMEM
				    ? r
				    : broken(p, "cannot sign with the "
						"certificate's key");
			goto out;
		}
		c.cert = p->cfg.auth_cert;
		c.cert_len = p->cfg.auth_cert_len;
		c.sig_sha1 = sigs.sha1;
		c.sig_sha1_len = sigs.sha1_len;
		c.sig_sha512 = sigs.sha512;
		c.sig_sha512_len = sigs.sha512_len;
	}
	if (p->cfg.sudi_cert) {
		r = pt_capf_sudi_sign(p->cfg.sudi_key, p->session_id,
				      p->cfg.sudi_cert, p->cfg.sudi_cert_len,
				      p->cfg.sign_flags, &sudi);
		if (r != PT_OK) {
			r = r == PT_ERR_NOMEM
				    ? r
				    : broken(p, "cannot sign with the SUDI "
						"key");
			goto out;
		}
		c.sudi_cert = p->cfg.sudi_cert;
		c.sudi_cert_len = p->cfg.sudi_cert_len;
		c.sudi_sig_sha1 = sudi.sha1;
		c.sudi_sig_sha1_len = sudi.sha1_len;
		c.sudi_sig_sha512 = sudi.sha512;
		c.sudi_sig_sha512_len = sudi.sha512_len;
	}
	if ((r = pt_capf_auth_response_init(p->session_id, &c, &m)) != PT_OK ||
	    (r = put(p, &m)) != PT_OK) {
		if (r != PT_ERR_NOMEM)
			r = broken(p, "credentials do not fit a message");
		goto out;
	}
	r = go(p, P_OP, PT_CAPF_PREQ_READ);
out:
	pt_capf_sigs_clear(&sigs);
	pt_capf_sigs_clear(&sudi);
	return r;
}

static int on_auth_request(pt_capf_phone_t *p, const pt_capf_msg_t *m)
{
	if (m->command != PT_CAPF_CMD_AUTH_REQUEST)
		return broken(p, "expected AUTH_REQUEST");
	if (!pt_capf_msg_has(m, PT_CAPF_TAG_VERSION) ||
	    m->version != PT_CAPF_VERSION)
		return broken(p, "AUTH_REQUEST VERSION is not 3");
	p->session_id = m->session_id;
	return answer_auth(p);
}

/* §8.2 step 3 as the phone reads it. */
static bool read_keyspec(const pt_capf_msg_t *m, pt_capf_keyspec_t *k)
{
	memset(k, 0, sizeof *k);
	bool has_type = pt_capf_msg_has(m, PT_CAPF_TAG_KEY_TYPE);
	if ((!has_type || m->key_type == PT_CAPF_KEY_TYPE_RSA) &&
	    pt_capf_msg_has(m, PT_CAPF_TAG_KEY_SIZE)) {
		k->key_type = PT_CAPF_KEY_TYPE_RSA;
		k->rsa_bits = m->key_size;
	} else if (has_type && m->key_type == PT_CAPF_KEY_TYPE_EC &&
		   pt_capf_msg_has(m, PT_CAPF_TAG_CURVE)) {
		k->key_type = PT_CAPF_KEY_TYPE_EC;
		k->curve = m->curve;
	} else {
		return false;
	}
	return pt_capf_keyspec_valid(k);
}

static int on_key_request(pt_capf_phone_t *p, const pt_capf_msg_t *m)
{
	int r;
	p->outcome.op = PT_CAPF_OP_INSTALL;
	if (!p->cfg.no_in_progress &&
	    (r = put_empty(p, PT_CAPF_CMD_REQUEST_IN_PROGRESS)) != PT_OK)
		return r;
	if (!read_keyspec(m, &p->spec)) {
		if ((r = put_reason(p, PT_CAPF_CMD_KEY_GENERATE_RESPONSE,
				    PT_CAPF_REASON_INVALID_ELEMENT)) != PT_OK)
			return r;
		return go(p, P_END, PT_CAPF_PREQ_READ);
	}
	return go(p, P_KEYGEN, PT_CAPF_PREQ_GENERATE_KEY);
}

/* The SubjectPublicKeyInfo of a DER certificate, found by walking it
 * (Certificate, TBSCertificate, optional [0] version, serial, signature
 * algorithm, issuer, validity, subject); false when it is not there. */
static bool cert_spki(const uint8_t *der, size_t len, pt_der_t *spki)
{
	pt_rbuf_t rb;
	pt_der_t cert, tbs, skip;
	pt_rbuf_init(&rb, der, len);
	if (pt_der_expect(&rb, PT_DER_SEQUENCE, &cert) != PT_OK ||
	    pt_rbuf_remaining(&rb) != 0 ||
	    pt_der_expect(&cert.body, PT_DER_SEQUENCE, &tbs) != PT_OK)
		return false;
	if (pt_der_peek_is(&tbs.body, 0xa0) &&
	    pt_der_get(&tbs.body, &skip) != PT_OK)
		return false;
	if (pt_der_expect(&tbs.body, PT_DER_INTEGER, &skip) != PT_OK)
		return false;
	for (int i = 0; i < 4; i++)
		if (pt_der_expect(&tbs.body, PT_DER_SEQUENCE, &skip) != PT_OK)
			return false;
	return pt_der_expect(&tbs.body, PT_DER_SEQUENCE, spki) == PT_OK;
}

/* Whether cert holds key: the SPKI bytes this phone sent, compared
 * without decoding; any other encoding of the same key still counts,
 * through the decoder. */
static bool cert_holds(const pt_capf_phone_t *p, const uint8_t *cert,
		       size_t cert_len, EVP_PKEY *key)
{
	pt_der_t spki;
	if (key == p->key && p->spki && cert_spki(cert, cert_len, &spki) &&
	    spki.whole_len == p->spki_len &&
	    memcmp(spki.whole, p->spki, p->spki_len) == 0)
		return true;
	X509 *x = NULL;
	bool ok = pt_certs_decode_der(cert, cert_len, &x) == PT_OK &&
		  EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1;
	X509_free(x);
	return ok;
}

static int on_store_request(pt_capf_phone_t *p, const pt_capf_msg_t *m)
{
	EVP_PKEY *key = p->key ? p->key : p->cfg.pending_key;
	int r;

	p->outcome.op = PT_CAPF_OP_INSTALL;
	if (pt_capf_msg_has(m, PT_CAPF_TAG_CERTIFICATE) && key &&
	    cert_holds(p, m->cert, m->cert_len, key)) {
		if (!(p->cert = pt_capf_dup(m->cert, m->cert_len)))
			return PT_ERR_NOMEM;
		p->cert_len = m->cert_len;
		p->cert_key = key;
		return go(p, P_STORE, PT_CAPF_PREQ_STORE_CERT);
	}
	/* Not a certificate for a key this phone holds. */
	if ((r = put_reason(p, PT_CAPF_CMD_STORE_CERTIFICATE_RESPONSE,
			    PT_CAPF_REASON_INVALID_ELEMENT)) != PT_OK)
		return r;
	return go(p, P_END, PT_CAPF_PREQ_READ);
}

static int on_fetch_request(pt_capf_phone_t *p)
{
	pt_capf_msg_t m;
	int r;

	p->outcome.op = PT_CAPF_OP_FETCH;
	if (!p->cfg.current_cert) {
		r = put_reason(p, PT_CAPF_CMD_FETCH_CERTIFICATE_RESPONSE,
			       PT_CAPF_REASON_INVALID_ELEMENT);
		if (r != PT_OK)
			return r;
		return go(p, P_END, PT_CAPF_PREQ_READ);
	}
	memset(&m, 0, sizeof m);
	m.command = PT_CAPF_CMD_FETCH_CERTIFICATE_RESPONSE;
	m.session_id = p->session_id;
	m.reason = PT_CAPF_REASON_UPDATE_CERTIFICATE;
	m.cert = p->cfg.current_cert;
	m.cert_len = p->cfg.current_cert_len;
	pt_capf_msg_set(&m, PT_CAPF_TAG_REASON);
	pt_capf_msg_set(&m, PT_CAPF_TAG_CERTIFICATE);
	r = put(p, &m);
	if (r == PT_ERR_NOMEM)
		return r;
	if (r != PT_OK)
		return broken(p, "current certificate does not fit a message");
	p->outcome.done = true;
	return go(p, P_END, PT_CAPF_PREQ_READ);
}

static int on_end(pt_capf_phone_t *p, const pt_capf_msg_t *m)
{
	p->outcome.ended = true;
	p->outcome.has_end_reason = pt_capf_msg_has(m, PT_CAPF_TAG_REASON);
	p->outcome.end_reason = m->reason;
	return go(p, P_DONE, PT_CAPF_PREQ_DONE);
}

int pt_capf_phone_feed(pt_capf_phone_t *p, const uint8_t *msg, size_t len)
{
	pt_capf_msg_t m;
	const char *why = NULL;

	if (p->req != PT_CAPF_PREQ_READ)
		return PT_ERR_INVALID;
	if (pt_capf_msg_parse(msg, len, PT_CAPF_FROM_SERVER, &m, &why) !=
	    PT_OK)
		return broken(p, why);
	if (p->state == P_AUTH)
		return on_auth_request(p, &m);
	if (m.session_id != p->session_id)
		return broken(p, "session id differs from AUTH_REQUEST's");
	if (m.command == PT_CAPF_CMD_END_SESSION)
		return on_end(p, &m);
	switch (p->state) {
	case P_OP:
		switch (m.command) {
		case PT_CAPF_CMD_KEY_GENERATE_REQUEST:
			return on_key_request(p, &m);
		case PT_CAPF_CMD_STORE_CERTIFICATE_REQUEST:
			return on_store_request(p, &m);
		case PT_CAPF_CMD_FETCH_CERTIFICATE_REQUEST:
			return on_fetch_request(p);
		case PT_CAPF_CMD_DELETE_CERTIFICATE_REQUEST:
			p->outcome.op = PT_CAPF_OP_DELETE;
			return go(p, P_DELETE, PT_CAPF_PREQ_DELETE_CERT);
		default:
			return broken(p, "unexpected command after "
					 "authentication");
		}
	case P_STORE_WAIT:
		if (m.command == PT_CAPF_CMD_STORE_CERTIFICATE_REQUEST)
			return on_store_request(p, &m);
		return broken(p, "expected STORE_CERTIFICATE_REQUEST");
	case P_END:
		return broken(p, "expected END_SESSION");
	default:
		return PT_ERR_INVALID;
	}
}

int pt_capf_phone_set_key_spki(pt_capf_phone_t *p, EVP_PKEY *key,
			       const uint8_t *spki, size_t spki_len)
{
	uint8_t *der = NULL;
	pt_capf_msg_t m;
	int r;

	if (p->state != P_KEYGEN || !key || !spki || !spki_len ||
	    pt_capf_keyspec_match(&p->spec, key) != PT_OK)
		return PT_ERR_INVALID;
	r = PT_ERR_NOMEM;
	if (!(der = pt_capf_dup(spki, spki_len)))
		goto out;
	memset(&m, 0, sizeof m);
	m.command = PT_CAPF_CMD_KEY_GENERATE_RESPONSE;
	m.session_id = p->session_id;
	m.public_key = der;
	m.public_key_len = spki_len;
	pt_capf_msg_set(&m, PT_CAPF_TAG_PUBLIC_KEY);
	r = PT_ERR_CRYPTO;
	if (!EVP_PKEY_up_ref(key))
		goto out;
	if ((r = put(p, &m)) != PT_OK) {
		EVP_PKEY_free(key);
		goto out;
	}
	p->key = key;
	p->spki = der;
	p->spki_len = spki_len;
	der = NULL;
	r = go(p, P_STORE_WAIT, PT_CAPF_PREQ_READ);
out:
	free(der);
	return r;
}

int pt_capf_phone_set_key(pt_capf_phone_t *p, EVP_PKEY *key)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	int r;

	if (p->state != P_KEYGEN || !key ||
	    pt_capf_keyspec_match(&p->spec, key) != PT_OK)
		return PT_ERR_INVALID;
	if ((r = pt_capf_public_key_encode(key, &der, &der_len)) != PT_OK)
		goto out;
	r = pt_capf_phone_set_key_spki(p, key, der, der_len);
out:
	free(der);
	return r;
}

int pt_capf_phone_key_failed(pt_capf_phone_t *p)
{
	if (p->state != P_KEYGEN)
		return PT_ERR_INVALID;
	int r = put_reason(p, PT_CAPF_CMD_KEY_GENERATE_RESPONSE,
			   PT_CAPF_REASON_INVALID_ELEMENT);
	if (r != PT_OK)
		return r;
	return go(p, P_END, PT_CAPF_PREQ_READ);
}

int pt_capf_phone_stored(pt_capf_phone_t *p, bool ok)
{
	if (p->state != P_STORE)
		return PT_ERR_INVALID;
	int r = put_reason(p, PT_CAPF_CMD_STORE_CERTIFICATE_RESPONSE,
			   ok ? PT_CAPF_REASON_UPDATE_CERTIFICATE
			      : PT_CAPF_REASON_INVALID_ELEMENT);
	if (r != PT_OK)
		return r;
	p->outcome.done = ok;
	return go(p, P_END, PT_CAPF_PREQ_READ);
}

int pt_capf_phone_deleted(pt_capf_phone_t *p, bool ok)
{
	if (p->state != P_DELETE)
		return PT_ERR_INVALID;
	int r = put_reason(p, PT_CAPF_CMD_DELETE_CERTIFICATE_RESPONSE,
			   ok ? PT_CAPF_REASON_UPDATE_CERTIFICATE
			      : PT_CAPF_REASON_INVALID_ELEMENT);
	if (r != PT_OK)
		return r;
	p->outcome.done = ok;
	return go(p, P_END, PT_CAPF_PREQ_READ);
}

uint32_t pt_capf_phone_session_id(const pt_capf_phone_t *p)
{
	return p->session_id;
}

const pt_capf_keyspec_t *pt_capf_phone_keyspec(const pt_capf_phone_t *p)
{
	return &p->spec;
}

void pt_capf_phone_cert(const pt_capf_phone_t *p, const uint8_t **der,
			size_t *len)
{
	*der = p->cert;
	*len = p->cert_len;
}

EVP_PKEY *pt_capf_phone_cert_key(const pt_capf_phone_t *p)
{
	return p->cert_key;
}

const pt_capf_phone_outcome_t *pt_capf_phone_outcome(const pt_capf_phone_t *p)
{
	return &p->outcome;
}
