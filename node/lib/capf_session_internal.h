/* Shared by the two CAPF machines (capf_session.c, capf_session_phone.c):
 * the queue of whole messages waiting to be written. */
#ifndef PT_LIB_CAPF_SESSION_INTERNAL_H
#define PT_LIB_CAPF_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/capf_msg.h"

typedef struct pt_capf_out {
	uint8_t *buf; /* malloc'd, NULL when empty */
	size_t len;
} pt_capf_out_t;

/* Builds m as `from` sends it and appends it.  Errors of
 * pt_capf_msg_build, PT_ERR_NOMEM. */
int pt_capf_out_put(pt_capf_out_t *o, const pt_capf_msg_t *m,
		    pt_capf_from_t from);

/* Hands the queued bytes over (malloc'd) and empties the queue. */
bool pt_capf_out_take(pt_capf_out_t *o, uint8_t **msg, size_t *len);

void pt_capf_out_clear(pt_capf_out_t *o);

/* A DER copy in a new malloc'd buffer (NULL on failure). */
uint8_t *pt_capf_dup(const uint8_t *p, size_t len);

#endif
