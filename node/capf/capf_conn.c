/* One CAPF connection on its worker's loop: the handshake handed to the
 * crypto pool, whole messages read and fed to the session machine, its
 * output written one message group per SSL_write, its requests handed
 * to the pools (capf_steps.c), deadlines, the outcome counted and
 * logged.  While a pool holds the connection the loop does not touch it
 * and does not watch its socket; a deadline that passes meanwhile takes
 * effect when the pool hands it back. */
#include <errno.h>
#include <stddef.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capf/capf_internal.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "store/records.h"

static void conn_drive(struct capf_conn *c);
static void step_done(pt_tls_job_t *tj);
static void handshake_done(struct capf_conn *c);

static void set_mask(struct capf_conn *c, unsigned mask)
{
	pt_tls_conn_set_mask(&c->base, mask);
}

/* Hands c to the pool of step; the loop neither touches c nor watches
 * its socket until step_done. */
static void submit(struct capf_conn *c, enum capf_step step)
{
	pt_capf_service_t *svc = c->w->svc;
	set_mask(c, 0);
	capf_step_result_clear(&c->res);
	c->busy = true;
	c->step = step;
	c->job.run = capf_step_run;
	c->job.tj.done = step_done;
	/* LSCs this server signed come with their record: written together
	 * with every other one waiting (one transaction, one fsync). */
	c->job.batch = step == CAPF_STEP_RECORD_ISSUED && c->lsc_rec
			       ? capf_step_record_batch
			       : NULL;
	c->job.tj.w = c->w->tw;
	pt_tls_pool_submit(capf_step_is_crypto(step) ? svc->crypto : svc->storep,
			 &c->job);
}

static void conn_free(struct capf_conn *c, bool notify)
{
	/* close_notify is tried once after END_SESSION; a phone that already
	 * left costs nothing more. */
	pt_tls_conn_close(&c->base, notify);
	pt_capf_server_destroy(&c->sm);
	pt_capf_plan_clear(&c->plan);
	capf_step_result_clear(&c->res);
	free(c->msg);
	free(c->out);
	free(c->lsc);
	if (c->lsc_rec)
		pt_record_free(&c->lsc_rec->base);
	free(c);
}

void capf_conn_abort(struct capf_conn *c)
{
	conn_free(c, false);
}

static const char *name_of(const struct capf_conn *c)
{
	const char *n = c->sm ? pt_capf_server_device_name(c->sm) : "";
	return *n ? n : "(device not named yet)";
}

static const char *state_text(const struct capf_conn *c)
{
	switch (c->state) {
	case CAPF_C_HELLO:
		return "before its TLS handshake began";
	case CAPF_C_HANDSHAKE:
		return "during the TLS handshake";
	case CAPF_C_SESSION:
		return c->have ? "in the middle of a message"
			       : "waiting for its next message";
	default:
		return "while END_SESSION was written";
	}
}

static void on_timeout(pt_tls_conn_t *base)
{
	struct capf_conn *c = (struct capf_conn *)base;
	if (c->busy) {
		c->doomed = true;
		return;
	}
	capf_count(&c->w->svc->timed_out);
	capf_note(c->w, CAPF_R_TIMEOUT, PT_LOG_INFO,
		  "capf: %s %s timed out %s; closed, nothing recorded",
		  c->base.peer, name_of(c), state_text(c));
	conn_free(c, false);
}

/* A new wait for the phone: the idle deadline, within the session's. */
static void arm_wait(struct capf_conn *c)
{
	int64_t now = pt_clock_mono_ms();
	int64_t until = now + (int64_t)pt_capf_service_idle_ms(c->w->svc);
	if (c->session_end_ms && until > c->session_end_ms)
		until = c->session_end_ms;
	pt_tls_conn_arm(&c->base, until > now ? (uint64_t)(until - now) : 0);
}

static void on_io(pt_tls_conn_t *base)
{
	struct capf_conn *c = (struct capf_conn *)base;
	if (c->busy)
		return;
	if (c->state == CAPF_C_HELLO || c->state == CAPF_C_HANDSHAKE) {
		c->state = CAPF_C_HANDSHAKE;
		/* The private-key work of the handshake never runs here.
		 * Once a TLS 1.3 server has sent its flight (its signature
		 * included) only the client's Finished remains: checked
		 * here, sparing a trip to the pool.  Earlier versions may
		 * still need the key (RSA key exchange). */
		if (c->flight_sent && SSL_version(c->base.ssl) == TLS1_3_VERSION) {
			capf_step_result_clear(&c->res);
			capf_step_handshake(c);
			handshake_done(c);
			return;
		}
		submit(c, CAPF_STEP_HANDSHAKE);
		return;
	}
	conn_drive(c);
}

void capf_conn_start(struct capf_worker *w, int fd, const char *peer)
{
	pt_capf_service_t *svc = w->svc;
	struct capf_conn *c = calloc(1, sizeof *c);
	int r = PT_ERR_NOMEM;
	if (!c)
		goto out;
	c->w = w;
	c->want = PT_CAPF_HEADER_LEN;
	c->session_id = atomic_fetch_add_explicit(&svc->next_session, 1,
						  memory_order_relaxed);
	c->base.on_io = on_io;
	c->base.on_deadline = on_timeout;
	/* Nothing else on the accept path: the handshake starts once the
	 * ClientHello can be read. */
	r = pt_tls_conn_open(&c->base, w->tw, fd, peer, svc->ctx,
			     svc->handshake_ms);
out:
	if (r == PT_OK)
		return;
	capf_count(&svc->errors);
	capf_note(w, CAPF_R_ERROR, PT_LOG_ERROR,
		  "capf: cannot take the connection from %s: %s; closed", peer,
		  pt_strerror(r));
	free(c);
	close(fd);
	pt_tls_server_release(svc->engine);
}

/* The handshake step is back from the crypto pool. */
static void handshake_done(struct capf_conn *c)
{
	pt_capf_service_t *svc = c->w->svc;
	if (c->res.ssl_ret == 1) {
		int r = pt_capf_server_new(c->session_id, &c->sm);
		if (r == PT_OK)
			r = pt_capf_server_start(c->sm);
		if (r != PT_OK) {
			capf_count(&svc->errors);
			capf_note(c->w, CAPF_R_ERROR, PT_LOG_ERROR,
				  "capf: cannot start a session for %s: %s; "
				  "closed",
				  c->base.peer, pt_strerror(r));
			conn_free(c, false);
			return;
		}
		c->state = CAPF_C_SESSION;
		c->session_end_ms = pt_clock_mono_ms() + svc->session_ms;
		arm_wait(c);
		conn_drive(c);
		return;
	}
	if (c->res.ssl_err == SSL_ERROR_WANT_READ) {
		c->flight_sent = true;
		set_mask(c, PT_LOOP_READ);
		return;
	}
	if (c->res.ssl_err == SSL_ERROR_WANT_WRITE) {
		set_mask(c, PT_LOOP_WRITE);
		return;
	}
	capf_count(&svc->handshake_failed);
	capf_note(c->w, CAPF_R_HANDSHAKE, PT_LOG_INFO,
		  "capf: TLS handshake with %s failed: %s; closed", c->base.peer,
		  c->res.why);
	conn_free(c, false);
}

/* The peer went away or the socket failed mid-session. */
static void conn_lost(struct capf_conn *c, int ssl_err, const char *doing)
{
	char why[256];
	if (c->finished) {
		/* The outcome is counted; only END_SESSION was lost. */
		conn_free(c, false);
		return;
	}
	capf_ssl_reason(ssl_err, errno, why, sizeof why);
	capf_count(&c->w->svc->dropped);
	capf_note(c->w, CAPF_R_DROPPED, PT_LOG_INFO,
		  "capf: %s %s: %s %s; closed, nothing recorded", c->base.peer,
		  name_of(c), why, doing);
	conn_free(c, false);
}

/* Reads what the next message still lacks.  Returns 1 once it is whole
 * (c->msg, c->have), 0 to wait for the loop, -1 when c is gone. */
static int do_read(struct capf_conn *c)
{
	while (c->have < c->want) {
		uint8_t *dst = c->msg ? c->msg : c->head;
		size_t room = c->want - c->have;
		int e = 0;
		int n = pt_tls_conn_read(&c->base, dst + c->have, room, &e);
		if (n == 0)
			return 0;
		if (n < 0) {
			conn_lost(c, e, c->have ? "in the middle of a message"
						: "before its next message");
			return -1;
		}
		c->have += (size_t)n;
		if (c->msg || c->have < PT_CAPF_HEADER_LEN)
			continue;
		/* The header is in: a stranger's bytes (no 0x55) go to the
		 * machine as they are, which ends the session with reason
		 * 7; otherwise the body it declares follows.  The 16-bit
		 * length caps what is allocated at 64 KiB. */
		pt_capf_header_t h;
		if (pt_capf_header_decode(c->head, c->have, &h) == PT_OK)
			c->want = PT_CAPF_HEADER_LEN + (size_t)h.body_len;
		c->msg = malloc(c->want);
		if (!c->msg) {
			capf_count(&c->w->svc->errors);
			capf_note(c->w, CAPF_R_ERROR, PT_LOG_ERROR,
				  "capf: %s: out of memory; closed", c->base.peer);
			conn_free(c, false);
			return -1;
		}
		memcpy(c->msg, c->head, PT_CAPF_HEADER_LEN);
	}
	return 1;
}

/* Writes the pending output in one SSL_write (one TLS record for a
 * message under 16 KiB, spec §2).  1 when written, 0 to wait, -1 when c
 * is gone. */
static int do_write(struct capf_conn *c)
{
	int e = 0;
	int n = pt_tls_conn_write(&c->base, c->out, c->out_len, &e);
	if (n > 0) {
		free(c->out);
		c->out = NULL;
		c->out_len = 0;
		return 1;
	}
	if (n == 0)
		return 0;
	conn_lost(c, e, "while a message was written to it");
	return -1;
}

/* The session is over: count and log it. */
static void finish(struct capf_conn *c)
{
	pt_capf_service_t *svc = c->w->svc;
	const pt_capf_outcome_t *o = pt_capf_server_outcome(c->sm);
	const char *op = o->op == PT_CAPF_OP_INSTALL  ? "install"
			 : o->op == PT_CAPF_OP_FETCH  ? "troubleshoot"
			 : o->op == PT_CAPF_OP_DELETE ? "delete"
						      : "none";
	const char *why = o->why ? o->why : "";

	switch (o->fail) {
	case PT_CAPF_FAIL_NONE:
		break;
	case PT_CAPF_FAIL_UNKNOWN:
		capf_count(&svc->unknown);
		capf_note(c->w, CAPF_R_UNKNOWN, PT_LOG_INFO,
			  "capf: %s named %s, which is no device or CAPF "
			  "profile: END_SESSION 9",
			  c->base.peer, name_of(c));
		return;
	case PT_CAPF_FAIL_PROTOCOL:
		capf_count(&svc->malformed);
		capf_note(c->w, CAPF_R_MALFORMED, PT_LOG_WARN,
			  "capf: %s %s (session %u): %s: END_SESSION 7, "
			  "nothing recorded",
			  c->base.peer, name_of(c), c->session_id, why);
		return;
	case PT_CAPF_FAIL_AUTH:
		/* Logged when the refusal was decided (its reason is
		 * the store's). */
		capf_count(&svc->auth_failed);
		return;
	case PT_CAPF_FAIL_REFUSED:
		/* Counted and logged where the refusal was decided. */
		return;
	case PT_CAPF_FAIL_PHONE:
	case PT_CAPF_FAIL_SETTINGS:
		if (o->fail == PT_CAPF_FAIL_PHONE)
			capf_count(&svc->phone_failed);
		else
			capf_count(&svc->refused);
		capf_note(c->w, CAPF_R_PHONE, PT_LOG_WARN,
			  "capf: %s %s: %s failed: %s: END_SESSION %u", c->base.peer,
			  name_of(c), op, why, o->end_reason);
		return;
	}
	switch (o->op) {
	case PT_CAPF_OP_NONE:
		capf_count(&svc->nothing);
		pt_log_debug(svc->log, "capf: %s %s: no operation scheduled",
			     c->base.peer, name_of(c));
		return;
	case PT_CAPF_OP_INSTALL:
		if (c->plan.issuer == PT_CAPF_ISSUER_OFFLINE_CA &&
		    c->plan.step == PT_CAPF_STEP_KEY_GENERATE) {
			capf_count(&svc->deferred);
			pt_log_info(svc->log,
				    "capf: %s %s: key received, request kept "
				    "for the offline CA",
				    c->base.peer, name_of(c));
			return;
		}
		capf_count(&svc->installed);
		pt_log_info(svc->log, "capf: %s %s: install done: LSC %s", c->base.peer,
			    name_of(c),
			    c->plan.step == PT_CAPF_STEP_STORE_SIGNED
				    ? "signed by the offline CA delivered"
				    : "issued and stored by the phone");
		return;
	case PT_CAPF_OP_FETCH:
		capf_count(&svc->fetched);
		pt_log_info(svc->log, "capf: %s %s: troubleshoot done: "
				      "certificate fetched",
			    c->base.peer, name_of(c));
		return;
	case PT_CAPF_OP_DELETE:
		capf_count(&svc->deleted);
		pt_log_info(svc->log, "capf: %s %s: delete done: LSC deleted",
			    c->base.peer, name_of(c));
		return;
	}
}

static bool needs_ready_record(const struct capf_conn *c)
{
	const pt_capf_outcome_t *o = pt_capf_server_outcome(c->sm);
	return c->plan.step == PT_CAPF_STEP_STORE_SIGNED && o->completed &&
	       o->fail == PT_CAPF_FAIL_NONE && !c->ready_recorded;
}

/* Hands the machine's open request to the pool that serves it, or
 * answers it at once when nothing needs doing. */
static void request(struct capf_conn *c, pt_capf_server_req_t req)
{
	const pt_capf_outcome_t *o;
	switch (req) {
	case PT_CAPF_SREQ_LOOKUP:
		submit(c, CAPF_STEP_PLAN);
		return;
	case PT_CAPF_SREQ_CHECK_PASSWORD:
		submit(c, CAPF_STEP_CHECK_STRING);
		return;
	case PT_CAPF_SREQ_CHECK_CERT:
		submit(c, CAPF_STEP_CHECK_CERT);
		return;
	case PT_CAPF_SREQ_ISSUE:
		submit(c, c->plan.issuer ==
						 PT_CAPF_ISSUER_OFFLINE_CA
					    ? CAPF_STEP_RECORD_REQUEST
					    : CAPF_STEP_SIGN);
		return;
	case PT_CAPF_SREQ_RECORD_FETCHED:
		submit(c, CAPF_STEP_RECORD_FETCHED);
		return;
	case PT_CAPF_SREQ_RECORD_DELETE:
		submit(c, CAPF_STEP_RECORD_DELETED);
		return;
	case PT_CAPF_SREQ_FAILED:
		o = pt_capf_server_outcome(c->sm);
		/* Protocol errors and strangers write nothing; a failure
		 * the store recorded already is not counted twice; a
		 * certificate issued and recorded stays (spec §8.2). */
		if (!c->looked_up || o->fail == PT_CAPF_FAIL_PROTOCOL ||
		    (o->fail == PT_CAPF_FAIL_AUTH && c->auth_recorded) ||
		    o->completed) {
			pt_capf_server_ack(c->sm);
			conn_drive(c);
		} else if (o->fail == PT_CAPF_FAIL_AUTH) {
			snprintf(c->fail_why, sizeof c->fail_why, "%s",
				 o->why ? o->why : "refused");
			capf_note(c->w, CAPF_R_AUTH, PT_LOG_WARN,
				  "capf: %s %s: authentication failed: %s; "
				  "END_SESSION 7",
				  c->base.peer, name_of(c), c->fail_why);
			submit(c, CAPF_STEP_AUTH_FAILED);
		} else {
			snprintf(c->fail_why, sizeof c->fail_why, "%s",
				 o->why ? o->why : "the operation failed");
			submit(c, CAPF_STEP_RECORD_FAILURE);
		}
		return;
	default:
		return;
	}
}

static void conn_drive(struct capf_conn *c)
{
	for (;;) {
		if (c->out) {
			if (do_write(c) <= 0)
				return;
			continue;
		}
		pt_capf_server_req_t req = pt_capf_server_request(c->sm);
		if (req == PT_CAPF_SREQ_DONE && !c->finished) {
			/* The offline CA's certificate is recorded before
			 * the phone hears END_SESSION. */
			if (needs_ready_record(c)) {
				submit(c, CAPF_STEP_RECORD_ISSUED);
				return;
			}
			finish(c);
			c->finished = true;
		}
		if (pt_capf_server_take_output(c->sm, &c->out, &c->out_len))
			continue;
		if (req == PT_CAPF_SREQ_DONE) {
			conn_free(c, true);
			return;
		}
		if (req != PT_CAPF_SREQ_READ) {
			request(c, req);
			return;
		}
		int r = do_read(c);
		if (r <= 0)
			return;
		r = pt_capf_server_feed(c->sm, c->msg, c->have);
		/* A message may hold the PASSWORD: gone from memory now. */
		OPENSSL_cleanse(c->msg, c->have);
		free(c->msg);
		c->msg = NULL;
		c->have = 0;
		c->want = PT_CAPF_HEADER_LEN;
		if (r != PT_OK) {
			capf_count(&c->w->svc->errors);
			capf_note(c->w, CAPF_R_ERROR, PT_LOG_ERROR,
				  "capf: %s %s: the session cannot go on: %s; "
				  "closed",
				  c->base.peer, name_of(c), pt_strerror(r));
			conn_free(c, false);
			return;
		}
		arm_wait(c);
	}
}

/* ---- answers to the machine's requests, once a step is back ---- */

static void refuse(struct capf_conn *c, const char *why)
{
	if (pt_capf_server_refuse(c->sm, why) != PT_OK) {
		conn_free(c, false);
		return;
	}
	conn_drive(c);
}

static void internal_error(struct capf_conn *c, const char *what)
{
	capf_count(&c->w->svc->errors);
	capf_note(c->w, CAPF_R_ERROR, PT_LOG_ERROR,
		  "capf: %s %s: %s: %s; END_SESSION 7", c->base.peer, name_of(c),
		  what, c->res.why[0] ? c->res.why : pt_strerror(c->res.r));
	refuse(c, "internal error");
}

static void plan_done(struct capf_conn *c)
{
	pt_capf_service_t *svc = c->w->svc;
	const pt_capf_plan_t *p = &c->plan;
	pt_capf_device_t d;

	if (c->res.r == PT_ERR_NOT_FOUND) {
		pt_capf_server_unknown_device(c->sm);
		conn_drive(c);
		return;
	}
	if (c->res.r == PT_ERR_DENIED) {
		c->looked_up = true;
		capf_count(&svc->refused);
		capf_note(c->w, CAPF_R_REFUSED, PT_LOG_INFO,
			  "capf: %s %s: refused: %s; END_SESSION 7", c->base.peer,
			  name_of(c), p->why);
		refuse(c, p->refusal == PT_CAPF_REFUSED_EXPIRED
				  ? "operation expired"
			  : p->refusal == PT_CAPF_REFUSED_THROTTLED
				  ? "too many failed authentications"
				  : "refused by the issuer setting");
		return;
	}
	if (c->res.r != PT_OK) {
		internal_error(c, "cannot look the device up");
		return;
	}
	c->looked_up = true;
	memset(&d, 0, sizeof d);
	switch (p->auth_mode) {
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL:
		d.auth = PT_CAPF_AUTH_NULL;
		break;
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_LSC:
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC:
		d.auth = PT_CAPF_AUTH_CERTIFICATE;
		break;
	default:
		/* An authentication string, also the safe reading of
		 * anything unexpected. */
		d.auth = PT_CAPF_AUTH_PASSWORD;
		break;
	}
	switch (p->step) {
	case PT_CAPF_STEP_NONE:
		d.op = PT_CAPF_OP_NONE;
		break;
	case PT_CAPF_STEP_KEY_GENERATE:
		d.op = PT_CAPF_OP_INSTALL;
		/* Parameters that do not map stay invalid: the machine then
		 * fails the session with a settings failure. */
		if (p->key_type == PT__KEY_TYPE__KEY_TYPE_EC) {
			d.key.key_type = PT_CAPF_KEY_TYPE_EC;
			if (pt_capf_curve_from_bits(p->ec_bits, &d.key.curve) !=
			    PT_OK)
				d.key.curve = 0xff;
		} else {
			d.key.key_type = PT_CAPF_KEY_TYPE_RSA;
			d.key.rsa_bits = p->key_size > UINT16_MAX
						 ? 0
						 : (uint16_t)p->key_size;
		}
		break;
	case PT_CAPF_STEP_STORE_SIGNED:
		d.op = PT_CAPF_OP_INSTALL;
		d.ready_cert = p->signed_der;
		d.ready_cert_len = p->signed_len;
		break;
	case PT_CAPF_STEP_FETCH:
		d.op = PT_CAPF_OP_FETCH;
		break;
	case PT_CAPF_STEP_DELETE:
		d.op = PT_CAPF_OP_DELETE;
		break;
	}
	int r = pt_capf_server_set_device(c->sm, &d);
	if (r != PT_OK) {
		c->res.r = r;
		snprintf(c->res.why, sizeof c->res.why,
			 "the device's CAPF settings cannot run");
		internal_error(c, "cannot start the operation");
		return;
	}
	conn_drive(c);
}

static void check_done(struct capf_conn *c, enum capf_step step)
{
	pt_capf_service_t *svc = c->w->svc;
	if (c->res.r == PT_OK) {
		pt_capf_server_auth_result(c->sm, true);
		conn_drive(c);
		return;
	}
	if (c->res.r == PT_ERR_AUTH && step == CAPF_STEP_CHECK_CERT) {
		/* Recorded against the holder before the phone hears. */
		snprintf(c->fail_why, sizeof c->fail_why, "%s", c->res.why);
		capf_note(c->w, CAPF_R_AUTH, PT_LOG_WARN,
			  "capf: %s %s: certificate authentication refused: "
			  "%s; END_SESSION 7",
			  c->base.peer, name_of(c), c->res.why);
		submit(c, CAPF_STEP_AUTH_FAILED);
		return;
	}
	if (c->res.r == PT_ERR_AUTH) {
		c->auth_recorded = true;
		capf_note(c->w, CAPF_R_AUTH, PT_LOG_WARN,
			  "capf: %s %s: %s; END_SESSION 7", c->base.peer,
			  name_of(c), c->res.why);
		pt_capf_server_auth_result(c->sm, false);
		conn_drive(c);
		return;
	}
	if (c->res.r == PT_ERR_DENIED) {
		capf_count(&svc->refused);
		capf_note(c->w, CAPF_R_REFUSED, PT_LOG_INFO,
			  "capf: %s %s: refused: %s; END_SESSION 7", c->base.peer,
			  name_of(c), c->res.why);
		refuse(c, "too many failed authentications");
		return;
	}
	internal_error(c, "cannot check the credentials");
}

static void auth_failed_done(struct capf_conn *c)
{
	if (c->res.r != PT_OK) {
		capf_count(&c->w->svc->errors);
		capf_note(c->w, CAPF_R_ERROR, PT_LOG_ERROR,
			  "capf: %s %s: cannot record the failed "
			  "authentication: %s",
			  c->base.peer, name_of(c), pt_strerror(c->res.r));
	} else if (c->res.flag) {
		capf_note(c->w, CAPF_R_AUTH, PT_LOG_WARN,
			  "capf: %s %s: too many failed authentications: "
			  "refused without checking for %d minutes",
			  c->base.peer, name_of(c),
			  PT_CAPF_AUTH_WINDOW_SECONDS / 60);
	}
	c->auth_recorded = true;
	if (pt_capf_server_request(c->sm) == PT_CAPF_SREQ_FAILED)
		pt_capf_server_ack(c->sm);
	else
		pt_capf_server_auth_result(c->sm, false);
	conn_drive(c);
}

static void issued_done(struct capf_conn *c, enum capf_step step)
{
	if (c->res.r != PT_OK) {
		internal_error(c, step == CAPF_STEP_SIGN
					  ? "cannot sign the LSC"
					  : "cannot record the LSC");
		return;
	}
	if (step == CAPF_STEP_SIGN) {
		/* Recorded before the phone sees it (spec §8.2). */
		c->lsc = c->res.der;
		c->lsc_len = c->res.der_len;
		c->lsc_rec = c->res.rec;
		c->res.der = NULL;
		c->res.rec = NULL;
		submit(c, CAPF_STEP_RECORD_ISSUED);
		return;
	}
	if (c->plan.step == PT_CAPF_STEP_STORE_SIGNED) {
		c->ready_recorded = true;
		conn_drive(c);
		return;
	}
	int r = pt_capf_server_issued(c->sm, c->lsc, c->lsc_len);
	if (r != PT_OK) {
		c->res.r = r;
		internal_error(c, "cannot send the LSC");
		return;
	}
	conn_drive(c);
}

static void step_done(pt_tls_job_t *tj)
{
	struct capf_conn *c = (struct capf_conn *)((char *)tj -
						   offsetof(struct capf_conn,
							    job.tj));
	enum capf_step step = (enum capf_step)c->step;
	c->busy = false;
	if (c->doomed) {
		capf_count(&c->w->svc->timed_out);
		capf_note(c->w, CAPF_R_TIMEOUT, PT_LOG_INFO,
			  "capf: %s %s timed out while the server worked on "
			  "it; closed",
			  c->base.peer, name_of(c));
		conn_free(c, false);
		return;
	}
	if (step == CAPF_STEP_HANDSHAKE) {
		handshake_done(c);
		return;
	}
	/* The server's work does not count against the phone's idle
	 * time. */
	arm_wait(c);
	switch (step) {
	case CAPF_STEP_HANDSHAKE:
		break;
	case CAPF_STEP_PLAN:
		plan_done(c);
		break;
	case CAPF_STEP_CHECK_STRING:
	case CAPF_STEP_CHECK_CERT:
		check_done(c, step);
		break;
	case CAPF_STEP_AUTH_FAILED:
		auth_failed_done(c);
		break;
	case CAPF_STEP_SIGN:
	case CAPF_STEP_RECORD_ISSUED:
		issued_done(c, step);
		break;
	case CAPF_STEP_RECORD_REQUEST:
		if (c->res.r != PT_OK) {
			internal_error(c, "cannot keep the request for the "
					  "offline CA");
			return;
		}
		pt_capf_server_issue_deferred(c->sm);
		conn_drive(c);
		break;
	case CAPF_STEP_RECORD_FETCHED:
	case CAPF_STEP_RECORD_DELETED:
		if (c->res.r != PT_OK) {
			internal_error(c, "cannot record the outcome");
			return;
		}
		pt_capf_server_recorded(c->sm);
		conn_drive(c);
		break;
	case CAPF_STEP_RECORD_FAILURE:
		if (c->res.r != PT_OK) {
			capf_count(&c->w->svc->errors);
			capf_note(c->w, CAPF_R_ERROR, PT_LOG_ERROR,
				  "capf: %s %s: cannot record the failure: %s",
				  c->base.peer, name_of(c), pt_strerror(c->res.r));
		}
		pt_capf_server_ack(c->sm);
		conn_drive(c);
		break;
	}
}
