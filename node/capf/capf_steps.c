/* What each request of the session machine costs, run on a pool thread:
 * the handshake's private-key work, certificate checks and LSC signing
 * on the crypto pool; lookups and every store write on the store pool.
 * A step reads what its connection holds (the machine is left alone by
 * the loop while a pool holds the connection) and leaves its result in
 * c->res; the loop decides what follows (capf_conn.c). */
#include <errno.h>
#include <openssl/err.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capf/capf_internal.h"
#include "lib/capf_auth.h"
#include "lib/capf_lsc.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "store/records.h"

void capf_ssl_reason(int ssl_err, int sys_errno, char *buf, size_t len)
{
	pt_tls_reason(ssl_err, sys_errno, "the peer", buf, len);
}

void capf_step_result_clear(struct capf_step_result *res)
{
	free(res->der);
	if (res->rec)
		pt_record_free(&res->rec->base);
	memset(res, 0, sizeof *res);
}

bool capf_step_is_crypto(enum capf_step step)
{
	return step == CAPF_STEP_HANDSHAKE || step == CAPF_STEP_CHECK_CERT ||
	       step == CAPF_STEP_SIGN;
}

void capf_step_handshake(struct capf_conn *c)
{
	struct capf_step_result *res = &c->res;
	ERR_clear_error();
	errno = 0;
	res->ssl_ret = SSL_do_handshake(c->base.ssl);
	if (res->ssl_ret == 1)
		return;
	res->ssl_err = SSL_get_error(c->base.ssl, res->ssl_ret);
	if (res->ssl_err != SSL_ERROR_WANT_READ &&
	    res->ssl_err != SSL_ERROR_WANT_WRITE)
		capf_ssl_reason(res->ssl_err, errno, res->why, sizeof res->why);
}

static void check_cert(struct capf_conn *c, const char *name)
{
	pt_capf_service_t *svc = c->w->svc;
	struct capf_step_result *res = &c->res;
	pt_capf_trust_t *trust = NULL;
	pt_capf_auth_result_t ar;
	const char *why = NULL;

	const pt_capf_msg_t *m = pt_capf_server_auth_msg(c->sm);
	if (!m) {
		res->r = PT_ERR_INVALID;
		return;
	}
	/* Loaded for every check: a manufacturer CA the administrator
	 * trusts a moment ago counts at once. */
	res->r = pt_capf_store_trust_load(svc->store, &trust);
	if (res->r != PT_OK) {
		snprintf(res->why, sizeof res->why,
			 "cannot load the CAPF trust set: %s",
			 pt_strerror(res->r));
		return;
	}
	res->r = pt_capf_auth_check(m, c->session_id, trust->certs, trust->n,
				    &ar, &why);
	if (res->r == PT_OK)
		pt_capf_auth_result_clear(&ar);
	else
		snprintf(res->why, sizeof res->why, "%s (device %s)",
			 why ? why : pt_strerror(res->r), name);
	pt_capf_trust_destroy(&trust);
}

static void sign(struct capf_conn *c, const char *name, int64_t now)
{
	pt_capf_service_t *svc = c->w->svc;
	struct capf_step_result *res = &c->res;
	X509 *lsc = NULL;
	pt_capf_lsc_req_t req = {
		.name = name,
		.key = pt_capf_server_public_key(c->sm),
		.now = now,
		.days = c->plan.validity_days,
	};
	if (!req.key) {
		res->r = PT_ERR_INVALID;
		return;
	}
	res->r = pt_capf_lsc_build(svc->key, svc->cert, &req, &lsc);
	if (res->r == PT_OK)
		res->r = pt_certs_encode_der(lsc, &res->der, &res->der_len);
	/* The store record is read from the certificate in hand, here:
	 * the store pool only encodes and writes. */
	if (res->r == PT_OK)
		res->r = pt_certs_record(lsc, res->der, res->der_len,
					 &res->rec);
	X509_free(lsc);
}

static void record_issued(struct capf_conn *c, const char *name, int64_t now)
{
	struct capf_step_result *res = &c->res;
	bool offline = c->plan.step == PT_CAPF_STEP_STORE_SIGNED;
	const uint8_t *der = offline ? c->plan.signed_der : c->lsc;
	size_t len = offline ? c->plan.signed_len : c->lsc_len;
	if (!der) {
		res->r = PT_ERR_INVALID;
		return;
	}
	res->r = pt_capf_store_record_issued(c->w->svc->store, name, der, len,
					     offline ? "offline-ca" : "capf",
					     now, res->why, sizeof res->why);
}

static struct capf_conn *conn_of(pt_tls_work_t *job)
{
	return (struct capf_conn *)((char *)job -
				    offsetof(struct capf_conn, job));
}

void capf_step_record_batch(pt_tls_work_t **jobs, size_t n)
{
	pt_capf_issued_t items[PT_TLS_BATCH_MAX];
	int64_t now = (int64_t)time(NULL);
	pt_store_t *store = NULL;
	size_t k = 0;

	for (size_t i = 0; i < n && i < PT_TLS_BATCH_MAX; i++) {
		struct capf_conn *c = conn_of(jobs[i]);
		store = c->w->svc->store;
		items[k++] = (pt_capf_issued_t){
			.name = pt_capf_server_device_name(c->sm),
			.cert = c->lsc_rec,
			.source = "capf",
			.now = now,
		};
	}
	if (k)
		pt_capf_store_record_issued_many(store, items, k);
	for (size_t i = 0; i < k; i++) {
		struct capf_conn *c = conn_of(jobs[i]);
		c->res.r = items[i].r;
		snprintf(c->res.why, sizeof c->res.why, "%s", items[i].why);
	}
}

void capf_step_run(pt_tls_work_t *job)
{
	struct capf_conn *c = conn_of(job);
	pt_capf_service_t *svc = c->w->svc;
	struct capf_step_result *res = &c->res;
	int64_t now = (int64_t)time(NULL);
	const char *name = c->sm ? pt_capf_server_device_name(c->sm) : "";
	const pt_capf_msg_t *m;
	const uint8_t *der;
	size_t len;

	switch ((enum capf_step)c->step) {
	case CAPF_STEP_HANDSHAKE:
		capf_step_handshake(c);
		break;
	case CAPF_STEP_PLAN:
		res->r = pt_capf_store_plan(svc->store, name, now, &c->plan);
		break;
	case CAPF_STEP_CHECK_STRING:
		m = pt_capf_server_auth_msg(c->sm);
		if (!m || !m->password) {
			res->r = PT_ERR_INVALID;
			break;
		}
		res->r = pt_capf_store_check_string(
			svc->store, svc->data_key, name, m->password,
			m->password_len, now, res->why, sizeof res->why);
		break;
	case CAPF_STEP_CHECK_CERT:
		check_cert(c, name);
		break;
	case CAPF_STEP_AUTH_FAILED:
		res->r = pt_capf_store_auth_failed(svc->store, name, c->fail_why,
						   now, &res->flag);
		break;
	case CAPF_STEP_SIGN:
		sign(c, name, now);
		break;
	case CAPF_STEP_RECORD_ISSUED:
		record_issued(c, name, now);
		break;
	case CAPF_STEP_RECORD_REQUEST:
		res->r = pt_capf_store_record_request(
			svc->store, svc->key, svc->cert, name,
			pt_capf_server_public_key(c->sm), now, res->why,
			sizeof res->why);
		break;
	case CAPF_STEP_RECORD_FETCHED:
		pt_capf_server_cert(c->sm, &der, &len);
		res->r = der ? pt_capf_store_record_fetched(svc->store, name,
							    der, len, now,
							    res->why,
							    sizeof res->why)
			     : PT_ERR_INVALID;
		break;
	case CAPF_STEP_RECORD_DELETED:
		res->r = pt_capf_store_record_deleted(svc->store, name, now,
						      res->why,
						      sizeof res->why);
		break;
	case CAPF_STEP_RECORD_FAILURE:
		res->r = pt_capf_store_record_failure(svc->store, name,
						      c->fail_why, now);
		break;
	}
}
