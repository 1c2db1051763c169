#include "store/records.h"

#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "store/upgrade.h"

int pt_record_decode(const uint8_t *val, size_t val_len,
		     const ProtobufCMessageDescriptor *desc,
		     ProtobufCMessage **out)
{
	*out = protobuf_c_message_unpack(desc, NULL, val_len, val);
	return *out ? PT_OK : PT_ERR_CORRUPT;
}

int pt_record_get(pt_txn_t *txn, pt_table_t table, const void *key,
		  size_t key_len, const ProtobufCMessageDescriptor *desc,
		  ProtobufCMessage **out)
{
	const uint8_t *val;
	size_t len;
	*out = NULL;
	int r = pt_txn_get(txn, table, key, key_len, &val, &len);
	if (r != PT_OK)
		return r;
	return pt_record_decode(val, len, desc, out);
}

int pt_record_put(pt_txn_t *txn, pt_table_t table, const void *key,
		  size_t key_len, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t stackbuf[4096];
	uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
	if (!buf)
		return PT_ERR_NOMEM;
	protobuf_c_message_pack(msg, buf);
	/* The store keeps the schema's invariants whoever writes: a record
	 * that breaks them goes through the same step an upgrade uses. */
	uint8_t *fixed = NULL;
	size_t fixed_len = 0;
	int r = PT_OK;
	if (!pt_upgrade_record_ok(table, msg))
		r = pt_upgrade_record(table, 1, PT_SCHEMA_VERSION, buf, len,
				      &fixed, &fixed_len);
	if (r == PT_OK)
		r = pt_txn_put(txn, table, key, key_len, fixed ? fixed : buf,
			       fixed ? fixed_len : len);
	free(fixed);
	if (buf != stackbuf)
		free(buf);
	return r;
}

void pt_record_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static int get_named(pt_txn_t *txn, pt_table_t table, const char *name,
		     const ProtobufCMessageDescriptor *desc,
		     ProtobufCMessage **out)
{
	return pt_record_get(txn, table, name, strlen(name), desc, out);
}

int pt_device_get(pt_txn_t *txn, const char *name, Pt__Device **out)
{
	return get_named(txn, PT_TABLE_DEVICES, name, &pt__device__descriptor,
			 (ProtobufCMessage **)out);
}

int pt_device_put(pt_txn_t *txn, const Pt__Device *dev)
{
	return pt_record_put(txn, PT_TABLE_DEVICES, dev->name,
			     strlen(dev->name), &dev->base);
}

int pt_device_del(pt_txn_t *txn, const char *name)
{
	return pt_txn_del(txn, PT_TABLE_DEVICES, name, strlen(name));
}

int pt_profile_get(pt_txn_t *txn, const char *name, Pt__Profile **out)
{
	return get_named(txn, PT_TABLE_PROFILES, name, &pt__profile__descriptor,
			 (ProtobufCMessage **)out);
}

int pt_profile_put(pt_txn_t *txn, const Pt__Profile *profile)
{
	return pt_record_put(txn, PT_TABLE_PROFILES, profile->name,
			     strlen(profile->name), &profile->base);
}

int pt_profile_del(pt_txn_t *txn, const char *name)
{
	return pt_txn_del(txn, PT_TABLE_PROFILES, name, strlen(name));
}

int pt_node_get(pt_txn_t *txn, const char *name, Pt__Node **out)
{
	return get_named(txn, PT_TABLE_NODES, name, &pt__node__descriptor,
			 (ProtobufCMessage **)out);
}

int pt_node_put(pt_txn_t *txn, const Pt__Node *node)
{
	return pt_record_put(txn, PT_TABLE_NODES, node->name,
			     strlen(node->name), &node->base);
}

int pt_trust_get(pt_txn_t *txn, const uint8_t sha256[32],
		 Pt__TrustEntry **out)
{
	return pt_record_get(txn, PT_TABLE_TRUST, sha256, 32,
			     &pt__trust_entry__descriptor,
			     (ProtobufCMessage **)out);
}

int pt_trust_put(pt_txn_t *txn, const Pt__TrustEntry *entry)
{
	if (entry->sha256.len != 32)
		return PT_ERR_INVALID;
	return pt_record_put(txn, PT_TABLE_TRUST, entry->sha256.data, 32,
			     &entry->base);
}

int pt_cluster_get(pt_txn_t *txn, Pt__Cluster **out)
{
	return get_named(txn, PT_TABLE_CLUSTER, PT_CLUSTER_KEY,
			 &pt__cluster__descriptor, (ProtobufCMessage **)out);
}

int pt_cluster_put(pt_txn_t *txn, const Pt__Cluster *cluster)
{
	return pt_record_put(txn, PT_TABLE_CLUSTER, PT_CLUSTER_KEY,
			     strlen(PT_CLUSTER_KEY), &cluster->base);
}

struct record_list {
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage **items;
	size_t n, cap;
};

static int list_visit(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct record_list *l = ctx;
	(void)key;
	(void)key_len;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		ProtobufCMessage **p = realloc(l->items, cap * sizeof *p);
		if (!p)
			return PT_ERR_NOMEM;
		l->items = p;
		l->cap = cap;
	}
	ProtobufCMessage *m = NULL;
	int r = pt_record_decode(val, val_len, l->desc, &m);
	if (r != PT_OK)
		return r;
	l->items[l->n++] = m;
	return PT_OK;
}

int pt_record_list(pt_txn_t *txn, pt_table_t table,
		   const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage ***out, size_t *n)
{
	struct record_list l = {.desc = desc};
	int r = pt_txn_foreach(txn, table, list_visit, &l);
	if (r != PT_OK) {
		pt_record_list_free(l.items, l.n);
		*out = NULL;
		*n = 0;
		return r;
	}
	*out = l.items;
	*n = l.n;
	return PT_OK;
}

void pt_record_list_free(ProtobufCMessage **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pt_record_free(list[i]);
	free(list);
}
