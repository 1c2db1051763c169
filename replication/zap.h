/* ZAP (ZeroMQ authentication protocol, RFC 27) handler for CurveZMQ.
 *
 * Two domains: on the stream only clients whose public key the authorize
 * callback accepts (joined nodes) get in; on the sync socket every CURVE
 * client may connect so a new node can join.  Either way the connection's
 * User-Id is the client's public key in hex, which the publisher looks up
 * in the nodes table for every request: a guest (a key of no node) gets
 * nothing but the join handshake.
 */
#ifndef PT_REPLICATION_ZAP_H
#define PT_REPLICATION_ZAP_H

#include <stdint.h>

#include "net/log.h"

#define PT_ZAP_DOMAIN_STREAM "phonetrust-stream"
#define PT_ZAP_DOMAIN_SYNC "phonetrust-sync"

typedef struct pt_zap pt_zap_t;

/* authorize returns non-zero for a key that may stream.  Binds the
 * handler in ctx; call before binding any CURVE server socket there. */
int pt_zap_new(void *ctx, int (*authorize)(void *, const uint8_t[32]),
	       void *authorize_ctx, pt_log_t *log, pt_zap_t **out);
void pt_zap_destroy(pt_zap_t **zap);

/* The handler's socket, for zmq_poll by the owning actor. */
void *pt_zap_socket(pt_zap_t *zap);

/* Answers one pending request (call when the socket is readable). */
void pt_zap_handle(pt_zap_t *zap);

#endif
