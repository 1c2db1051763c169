#include "zap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/throttle.h"
#include "members.h"

#define ZAP_FRAMES 7

struct pt_zap {
	void *sock;
	int (*authorize)(void *, const uint8_t[32]);
	void *authorize_ctx;
	pt_log_t *log;
	pt_throttle_t refusals; /* a refused client redials continuously */
};

int pt_zap_new(void *ctx, int (*authorize)(void *, const uint8_t[32]),
	       void *authorize_ctx, pt_log_t *log, pt_zap_t **out)
{
	pt_zap_t *zap = calloc(1, sizeof *zap);
	*out = NULL;
	if (!zap)
		return PT_ERR_NOMEM;
	zap->authorize = authorize;
	zap->authorize_ctx = authorize_ctx;
	zap->log = log;
	zap->refusals.interval_ms = 10000;
	zap->sock = zmq_socket(ctx, ZMQ_REP);
	int linger = 0;
	if (!zap->sock ||
	    zmq_setsockopt(zap->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
	    zmq_bind(zap->sock, "inproc://zeromq.zap.01") != 0) {
		int r = PT_ESYS(zmq_errno());
		pt_zap_destroy(&zap);
		return r;
	}
	*out = zap;
	return PT_OK;
}

void pt_zap_destroy(pt_zap_t **zap)
{
	if (!zap || !*zap)
		return;
	if ((*zap)->sock)
		zmq_close((*zap)->sock);
	free(*zap);
	*zap = NULL;
}

void *pt_zap_socket(pt_zap_t *zap)
{
	return zap->sock;
}

static void send_str(void *sock, const void *data, size_t len, bool more)
{
	zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0);
}

static bool frame_is(const zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);
	return zmq_msg_size((zmq_msg_t *)m) == n &&
	       memcmp(zmq_msg_data((zmq_msg_t *)m), s, n) == 0;
}

void pt_zap_handle(pt_zap_t *zap)
{
	zmq_msg_t f[ZAP_FRAMES + 1];
	int n = 0;
	bool more = true;
	/* Frames: version, request id, domain, address, identity,
	 * mechanism, credentials (the CURVE client key).  Anything else is
	 * read to its end and refused. */
	while (more && n <= ZAP_FRAMES) {
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], zap->sock, 0) < 0) {
			zmq_msg_close(&f[n]);
			break;
		}
		more = zmq_msg_more(&f[n]);
		n++;
	}
	while (more) {
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		more = zmq_msg_recv(&extra, zap->sock, 0) >= 0 &&
		       zmq_msg_more(&extra);
		zmq_msg_close(&extra);
	}

	const char *status = "400", *text = "refused";
	char user[65] = "";
	if (n == ZAP_FRAMES && frame_is(&f[0], "1.0") &&
	    frame_is(&f[5], "CURVE") && zmq_msg_size(&f[6]) == 32) {
		const uint8_t *key = zmq_msg_data(&f[6]);
		bool member = zap->authorize &&
			      zap->authorize(zap->authorize_ctx, key);
		pt_repl_member_key_format(key, user);
		if (frame_is(&f[2], PT_ZAP_DOMAIN_STREAM)) {
			if (member) {
				status = "200";
				text = "OK";
			} else {
				char addr[64] = "?";
				size_t len = zmq_msg_size(&f[3]);
				if (len < sizeof addr) {
					memcpy(addr, zmq_msg_data(&f[3]), len);
					addr[len] = '\0';
				}
				unsigned count;
				if (pt_throttle_pass(&zap->refusals,
						     pt_clock_mono_ms(), &count))
					pt_log_warn(zap->log,
						    "replication: refused %u "
						    "stream connection(s) from "
						    "keys of no joined node (the "
						    "latest from %s)",
						    count, addr);
			}
		} else if (frame_is(&f[2], PT_ZAP_DOMAIN_SYNC)) {
			status = "200";
			text = "OK";
		}
	}
	if (n >= 2) {
		send_str(zap->sock, "1.0", 3, true);
		send_str(zap->sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
			 true);
		send_str(zap->sock, status, 3, true);
		send_str(zap->sock, text, strlen(text), true);
		send_str(zap->sock, user, strlen(user), true);
		send_str(zap->sock, "", 0, false);
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}
