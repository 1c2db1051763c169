/* Typed access to the store's protobuf-c records.
 *
 * Getters decode into a message the caller owns and frees with
 * pt_record_free() (protobuf_c_message_free_unpacked).  Putters encode the
 * caller's message (borrowed) and write it through pt_txn_put, so every
 * record write reaches the changelog.  A Device or CapfUserProfile that
 * breaks the schema's certificate-list invariant (store/cert_history.h:
 * history oldest first without duplicate DERs, every sha256 filled) is
 * stored in its normalized form; the caller's message is not changed.
 *
 * A decoded message is freed field by field with free(): any string, bytes
 * or sub-message a caller stores into one must come from malloc/strdup (or
 * be protobuf_c_empty_string), never a literal or a stack buffer.
 */
#ifndef PT_STORE_RECORDS_H
#define PT_STORE_RECORDS_H

#include <protobuf-c/protobuf-c.h>

#include "records.pb-c.h"
#include "store/store.h"

/* Generic forms.  *out receives a newly allocated message or stays NULL;
 * PT_ERR_NOT_FOUND when the key is absent, PT_ERR_CORRUPT when the stored
 * bytes do not decode as desc. */
int pt_record_get(pt_txn_t *txn, pt_table_t table, const void *key,
		  size_t key_len, const ProtobufCMessageDescriptor *desc,
		  ProtobufCMessage **out);
int pt_record_put(pt_txn_t *txn, pt_table_t table, const void *key,
		  size_t key_len, const ProtobufCMessage *msg);
void pt_record_free(ProtobufCMessage *msg);

/* Decodes a record value (e.g. one handed to a pt_txn_foreach visitor). */
int pt_record_decode(const uint8_t *val, size_t val_len,
		     const ProtobufCMessageDescriptor *desc,
		     ProtobufCMessage **out);

/* Every record of a small table (nodes, trust), decoded, in key order:
 * *out is a malloc'd array of *n messages (NULL when empty).  Free with
 * pt_record_list_free.  PT_ERR_CORRUPT when a record does not decode. */
int pt_record_list(pt_txn_t *txn, pt_table_t table,
		   const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage ***out, size_t *n);
void pt_record_list_free(ProtobufCMessage **list, size_t n);

/* Per-table helpers keyed by name. */
int pt_device_get(pt_txn_t *txn, const char *name, Pt__Device **out);
int pt_device_put(pt_txn_t *txn, const Pt__Device *dev);
int pt_device_del(pt_txn_t *txn, const char *name);

int pt_profile_get(pt_txn_t *txn, const char *name, Pt__Profile **out);
int pt_profile_put(pt_txn_t *txn, const Pt__Profile *profile);
int pt_profile_del(pt_txn_t *txn, const char *name);

int pt_node_get(pt_txn_t *txn, const char *name, Pt__Node **out);
int pt_node_put(pt_txn_t *txn, const Pt__Node *node);

int pt_trust_get(pt_txn_t *txn, const uint8_t sha256[32],
		 Pt__TrustEntry **out);
int pt_trust_put(pt_txn_t *txn, const Pt__TrustEntry *entry);

/* The cluster record.  PT_ERR_NOT_FOUND before `phonetrust init`. */
int pt_cluster_get(pt_txn_t *txn, Pt__Cluster **out);
int pt_cluster_put(pt_txn_t *txn, const Pt__Cluster *cluster);

#endif
