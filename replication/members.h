/* Joined nodes by CurveZMQ key: the nodes table is the one list of who may
 * replicate.  A removed node's key is found no more. */
#ifndef PT_REPLICATION_MEMBERS_H
#define PT_REPLICATION_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* True when a node record carries key; its name is copied into name (may
 * be NULL). */
bool pt_repl_member_find(pt_store_t *store, const uint8_t key[32], char *name,
			 size_t name_len);

/* Parses the 64-hex-digit User-Id our ZAP handler gives a connection. */
int pt_repl_member_key_parse(const char *user_id, uint8_t key[32]);
void pt_repl_member_key_format(const uint8_t key[32], char out[65]);

#endif
