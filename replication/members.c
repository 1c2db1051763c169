#include "members.h"

#include <stdio.h>
#include <string.h>

#include "lib/errors.h"
#include "store/records.h"

struct find_ctx {
	const uint8_t *key;
	char *name;
	size_t name_len;
	bool found;
};

static int visit(void *ctx, const uint8_t *key, size_t key_len,
		 const uint8_t *val, size_t val_len)
{
	struct find_ctx *f = ctx;
	(void)key;
	(void)key_len;
	Pt__Node *node = NULL;
	if (pt_record_decode(val, val_len, &pt__node__descriptor,
			     (ProtobufCMessage **)&node) != PT_OK)
		return 0; /* a record we cannot read grants nothing */
	if (node->curve_public_key.len == 32 &&
	    memcmp(node->curve_public_key.data, f->key, 32) == 0) {
		f->found = true;
		if (f->name)
			snprintf(f->name, f->name_len, "%s", node->name);
	}
	pt_record_free(&node->base);
	return f->found ? 1 : 0;
}

bool pt_repl_member_find(pt_store_t *store, const uint8_t key[32], char *name,
			 size_t name_len)
{
	struct find_ctx f = {key, name, name_len, false};
	pt_txn_t *txn = NULL;
	if (pt_txn_begin(store, false, NULL, &txn) != PT_OK)
		return false;
	pt_txn_foreach(txn, PT_TABLE_NODES, visit, &f);
	pt_txn_abort(&txn);
	return f.found;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int pt_repl_member_key_parse(const char *user_id, uint8_t key[32])
{
	if (!user_id || strlen(user_id) != 64)
		return PT_ERR_INVALID;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(user_id[2 * i]), lo = hexval(user_id[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return PT_ERR_INVALID;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return PT_OK;
}

void pt_repl_member_key_format(const uint8_t key[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[64] = '\0';
}
