/* Names of node-local metadata entries (pt_txn_meta_get/put): facts about
 * this node that never replicate and stay out of digests. */
#ifndef PT_STORE_NODE_META_H
#define PT_STORE_NODE_META_H

#define PT_META_NODE_NAME "node_name"
#define PT_META_ROLE "role"
/* A joined subscriber: the publisher's CurveZMQ public key (32 bytes),
 * the cluster's name and the URL it joined through. */
#define PT_META_PUBLISHER_CURVE_KEY "publisher_curve_key"
#define PT_META_CLUSTER_NAME "cluster_name"
#define PT_META_JOINED_VIA "joined_via"

#endif
