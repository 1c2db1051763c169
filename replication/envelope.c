#include "envelope.h"

#include <string.h>
#include <zmq.h>

#include "lib/errors.h"

int pt_repl_decode(const void *data, size_t len, size_t max,
		   Pt__Envelope **out)
{
	*out = NULL;
	if (len > max)
		return PT_ERR_TOO_LARGE;
	Pt__Envelope *env = pt__envelope__unpack(NULL, len, data);
	if (!env)
		return PT_ERR_MALFORMED;
	if (env->version != PT_REPL_VERSION ||
	    env->body_case == PT__ENVELOPE__BODY__NOT_SET) {
		pt__envelope__free_unpacked(env, NULL);
		return PT_ERR_INVALID;
	}
	*out = env;
	return PT_OK;
}

static int send_flags(void *sock, zmq_msg_t *msg, int flags)
{
	if (zmq_msg_send(msg, sock, flags) >= 0)
		return PT_OK;
	int e = zmq_errno();
	zmq_msg_close(msg);
	return PT_ESYS(e);
}

int pt_repl_send(void *sock, const Pt__Envelope *env, int flags)
{
	zmq_msg_t msg;
	size_t len = pt__envelope__get_packed_size(env);
	if (zmq_msg_init_size(&msg, len) != 0)
		return PT_ERR_NOMEM;
	pt__envelope__pack(env, zmq_msg_data(&msg));
	return send_flags(sock, &msg, flags);
}

int pt_repl_send_to(void *router, const void *id, size_t id_len,
		    const Pt__Envelope *env)
{
	zmq_msg_t msg;
	if (zmq_msg_init_size(&msg, id_len) != 0)
		return PT_ERR_NOMEM;
	memcpy(zmq_msg_data(&msg), id, id_len);
	/* ROUTER drops frames to a vanished peer silently; the subscriber's
	 * timeout and retry cover that. */
	int r = send_flags(router, &msg, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (r != PT_OK)
		return r;
	return pt_repl_send(router, env, ZMQ_DONTWAIT);
}

const char *pt_repl_body_name(Pt__Envelope__BodyCase body)
{
	switch (body) {
	case PT__ENVELOPE__BODY_TRANSACTION: return "transaction";
	case PT__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
	case PT__ENVELOPE__BODY_SYNC_REQUEST: return "sync request";
	case PT__ENVELOPE__BODY_SYNC_BATCH: return "sync batch";
	case PT__ENVELOPE__BODY_SNAPSHOT_OFFER: return "snapshot offer";
	case PT__ENVELOPE__BODY_SNAPSHOT_REQUEST: return "snapshot request";
	case PT__ENVELOPE__BODY_SNAPSHOT_CHUNK: return "snapshot chunk";
	case PT__ENVELOPE__BODY_STATUS: return "status report";
	case PT__ENVELOPE__BODY_JOIN_HELLO: return "join hello";
	case PT__ENVELOPE__BODY_JOIN_CHALLENGE: return "join challenge";
	case PT__ENVELOPE__BODY_JOIN_PROOF: return "join proof";
	case PT__ENVELOPE__BODY_JOIN_RESULT: return "join result";
	case PT__ENVELOPE__BODY_ERROR: return "error";
	default: return "unknown";
	}
}
