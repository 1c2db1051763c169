/* The configuration file a phone receives for the name it asks for,
 * assembled from the store, the node's TFTP key and the cluster data key.
 *
 * One request name (SEP<MAC>.cnf.xml, .sgn, .enc.sgn, or a manual-key
 * name) goes through lib/configfiles.h: the device (SEP + MAC) and its
 * profile give the encryption state, the cluster its mode, and the
 * decision table the form; then the bytes are built:
 *   full config   lib/phoneconfig.h from the device, its profile, the
 *                 publisher's address and CAPF port, the nodes (call
 *                 managers and TVS, subscribers first, by name) and the
 *                 unsealed digest password;
 *   minimal       lib/minconfig.h from that full config;
 *   signed forms  lib/sgn.h with the node's TFTP key, digest from the
 *                 tftp_file_signature_algorithm parameter;
 *   encrypted     lib/encconfig.h for the phone's LSC (else MIC), with a
 *                 fresh AES key on every build.
 * A refusal of the table ("not found") is an answer with a reason, not an
 * error: the TFTP server answers it with File not found and `config show`
 * prints the reason.
 *
 * Reads only: the caller's transaction may be read-only.  Thread-safe as
 * long as each thread uses its own transaction (keys are only read).
 */
#ifndef PT_FILES_CONFIG_SOURCE_H
#define PT_FILES_CONFIG_SOURCE_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/configfiles.h"
#include "lib/seal.h"
#include "store/store.h"

/* What signing and unsealing need; borrowed.  data_key may be NULL: a
 * device whose file needs its digest password is then refused. */
typedef struct pt_config_keys {
	EVP_PKEY *tftp_key;
	X509 *tftp_cert;
	const pt_data_key_t *data_key;
} pt_config_keys_t;

typedef struct pt_config_answer {
	pt_configfiles_kind_t kind;
	pt_configfiles_enc_t enc;
	pt_configfiles_decision_t decision;
	char device[PT_CONFIGFILES_MAC_LEN + 4]; /* SEP<MAC> */
	/* The served bytes (malloc'd), NULL when not found.  A full
	 * configuration in clear holds secrets: free with
	 * pt_config_answer_clear, which wipes them. */
	uint8_t *bytes;
	size_t len;
	/* Why not found: the table's reason, or "no device SEP..." etc. */
	char reason[256];
} pt_config_answer_t;

/* Builds the answer for name.  timestamp (Unix seconds, 0 = now) goes
 * into signed headers.  PT_OK with ans->bytes NULL and ans->reason set
 * when the phone gets File not found (unknown name or device, a device
 * that is no phone, the decision table).  Errors: PT_ERR_INVALID for a
 * name that is no configuration name (the caller tries other sources),
 * PT_ERR_NOT_FOUND when the cluster record is missing, PT_ERR_AUTH when
 * a digest password does not open with data_key (or none is given),
 * PT_ERR_CORRUPT for a stored certificate or record that does not
 * decode, and the builders' errors; ans->reason then says why. */
int pt_config_source_build(pt_txn_t *txn, const pt_config_keys_t *keys,
			   const char *name, uint32_t timestamp,
			   pt_config_answer_t *ans);

/* Wipes and frees ans->bytes; the struct may be reused. */
void pt_config_answer_clear(pt_config_answer_t *ans);

#endif
