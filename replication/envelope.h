/* Framing of replication messages: one ZeroMQ frame holds one packed
 * pt.Envelope (proto/replication.proto).
 *
 * Decoding is where untrusted bytes from the network enter: frames are
 * capped in size by the sockets (ZMQ_MAXMSGSIZE) and again here, the
 * envelope must carry version 1 and a known body, and nothing else is
 * trusted until the caller has validated the body's meaning.
 */
#ifndef PT_REPLICATION_ENVELOPE_H
#define PT_REPLICATION_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "replication.pb-c.h"

#define PT_REPL_VERSION 1u
/* Largest frame either side accepts: a sync batch or snapshot chunk is
 * built to stay well below this. */
#define PT_REPL_MAX_FRAME ((size_t)64 << 20)
/* Largest request a publisher accepts from a subscriber. */
#define PT_REPL_MAX_REQUEST ((size_t)1 << 20)

/* Decodes one frame.  PT_ERR_TOO_LARGE over max, PT_ERR_MALFORMED when the
 * bytes are not an envelope, PT_ERR_INVALID for a wrong version or no
 * body.  *out is freed with pt__envelope__free_unpacked. */
int pt_repl_decode(const void *data, size_t len, size_t max,
		   Pt__Envelope **out);

/* Packs env into a new ZeroMQ message and sends it on sock with flags
 * (ZMQ_SNDMORE, ZMQ_DONTWAIT).  Returns PT_OK or a negative error
 * (PT_ESYS(EAGAIN) when the peer's queue is full with ZMQ_DONTWAIT). */
int pt_repl_send(void *sock, const Pt__Envelope *env, int flags);

/* Sends [routing id][envelope] on a ROUTER socket. */
int pt_repl_send_to(void *router, const void *id, size_t id_len,
		    const Pt__Envelope *env);

/* A readable name for a body case, for log lines. */
const char *pt_repl_body_name(Pt__Envelope__BodyCase body);

#endif
