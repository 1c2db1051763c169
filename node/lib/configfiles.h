/* Which configuration file a phone gets for the name it asks for.
 *
 * Names (the seeds' table of configuration file names, spec
 * encrypted-config.md §1 and §9), MAC = 12 hex digits:
 *   SEP<MAC>.cnf.xml          full configuration in clear
 *   SEP<MAC>.cnf.xml.sgn      signed: full, or minimal when encrypting
 *   SEP<MAC>.cnf.xml.enc.sgn  encrypted full configuration, signed
 *   SIP<MAC>.cnf.enc.sgn      7940/7960 SIP, AES-128 manual key
 *   LD<MAC>.x                 7905/7912 SIP, RC4 256-bit manual key
 * The last two are recognised but never built: their layout is unknown
 * (spec §9).  On input the MAC may be in either case and so may the
 * prefix and suffix (TFTP servers phones grew up with match names without
 * regard to case); the MAC handed back and every name built here is
 * upper-case, as device names are (SEP + upper-case MAC).  Names holding
 * anything else (a directory, "..", a short MAC) are refused.
 *
 * The decision (pt_configfiles_decide) is pure; the rules, decided by the
 * lead:
 *   plain    -> not found in a mixed cluster when encryption is off or
 *               manual-key ("mixed mode serves signed files"); in a
 *               non-secure cluster the full configuration in clear (a
 *               phone without a TFTP certificate in its trust lists asks
 *               for it); the minimal configuration in clear when
 *               encryption is on, in either mode;
 *   .sgn     -> the full configuration signed when encryption is off or
 *               manual-key; the minimal one signed when encryption is on,
 *               with <certHash> filled only when a usable RSA certificate
 *               exists (empty otherwise, so the phone starts a CAPF
 *               session);
 *   .enc.sgn -> the encrypted configuration only when encryption is on
 *               with a usable RSA certificate; otherwise not found (off:
 *               the phone falls back to .sgn; no certificate: CAPF
 *               first; EC key: no key wrapping for EC keys is known;
 *               manual-key: the layout is unknown).
 *   Signed and encrypted files are served in both cluster modes: every
 *   node's ITL lists its TFTP certificate whatever the mode, and a phone
 *   holding such a list asks only for .sgn files (tlv-files.md §1,
 *   signed-files.md §1).  The mode decides only whether a clear full
 *   configuration is served.
 *   Manual-key names (SIP<MAC>.cnf.enc.sgn, LD<MAC>.x): always not found.
 *
 * No I/O and no allocation except where a function says so.
 */
#ifndef PT_LIB_CONFIGFILES_H
#define PT_LIB_CONFIGFILES_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#include "records.pb-c.h"

#define PT_CONFIGFILES_MAC_LEN 12
/* Longest name built here ("SEP" + MAC + ".cnf.xml.enc.sgn") and a NUL. */
#define PT_CONFIGFILES_NAME_MAX 32

typedef enum pt_configfiles_kind {
	PT_CONFIGFILES_PLAIN = 0,  /* SEP<MAC>.cnf.xml */
	PT_CONFIGFILES_SIGNED,     /* SEP<MAC>.cnf.xml.sgn */
	PT_CONFIGFILES_ENCRYPTED,  /* SEP<MAC>.cnf.xml.enc.sgn */
	PT_CONFIGFILES_SIP_MANUAL, /* SIP<MAC>.cnf.enc.sgn */
	PT_CONFIGFILES_LD_MANUAL,  /* LD<MAC>.x */
	PT_CONFIGFILES_KIND_COUNT,
} pt_configfiles_kind_t;

/* A device's configuration encryption as the decision sees it. */
typedef enum pt_configfiles_enc {
	PT_CONFIGFILES_ENC_OFF = 0,  /* profile without encrypted config */
	PT_CONFIGFILES_ENC_RSA,      /* on; LSC (else MIC) has an RSA key */
	PT_CONFIGFILES_ENC_NO_CERT,  /* on; no LSC or MIC yet */
	PT_CONFIGFILES_ENC_EC,       /* on; the certificate's key is not RSA */
	PT_CONFIGFILES_ENC_MANUAL,   /* on for a manual-key model: as off */
	PT_CONFIGFILES_ENC_COUNT,
} pt_configfiles_enc_t;

typedef enum pt_configfiles_form {
	PT_CONFIGFILES_NOT_FOUND = 0,
	PT_CONFIGFILES_FULL_PLAIN,  /* phoneconfig.h bytes as they are */
	PT_CONFIGFILES_FULL_SIGNED, /* the same signed (sgn.h) */
	PT_CONFIGFILES_MIN_PLAIN,   /* minconfig.h bytes as they are */
	PT_CONFIGFILES_MIN_SIGNED,  /* the same signed */
	PT_CONFIGFILES_ENCRYPTED_FULL, /* encconfig.h of the full config */
	PT_CONFIGFILES_FORM_COUNT,
} pt_configfiles_form_t;

typedef struct pt_configfiles_decision {
	pt_configfiles_form_t form;
	/* Minimal forms: fill <certHash> with the MD5 of the phone
	 * certificate (pt_configfiles_phone_cert); false: leave it empty. */
	bool cert_hash;
	/* One line for `config show` and logs (static, never NULL). */
	const char *reason;
} pt_configfiles_decision_t;

/* Parses a requested file name.  On success *kind is set and mac (may be
 * NULL) receives the 12 upper-case hex digits and a NUL.  PT_ERR_INVALID
 * when name is not one of the five configuration names. */
int pt_configfiles_parse_name(const char *name, pt_configfiles_kind_t *kind,
			      char mac[PT_CONFIGFILES_MAC_LEN + 1]);

/* Writes the name of kind for mac (12 hex digits, either case) into buf,
 * upper-case.  PT_ERR_INVALID for a bad kind or MAC, PT_ERR_TOO_LARGE when
 * len is too small (PT_CONFIGFILES_NAME_MAX always suffices). */
int pt_configfiles_build_name(pt_configfiles_kind_t kind, const char *mac,
			      char *buf, size_t len);

/* The MAC of a phone's device name ("SEP" + 12 hex digits, either case),
 * upper-case, into mac.  PT_ERR_INVALID for any other name. */
int pt_configfiles_device_mac(const char *device_name,
			      char mac[PT_CONFIGFILES_MAC_LEN + 1]);

/* True for the models whose configuration encryption uses a manual key
 * (spec §9): 7940 and 7960 on SIP (and 7905/7912 on SIP, which the model
 * table does not list).  A "Cisco " prefix is ignored, as in models.h. */
bool pt_configfiles_manual_key_model(const char *model, Pt__Protocol protocol);

/* The phone certificate configuration encryption uses: the LSC when the
 * device has one, else the MIC (the phone compares <certHash> with its
 * own LSC first).  *out (X509_free) is the caller's.  PT_ERR_NOT_FOUND
 * when the device holds neither; errors of pt_certs_decode_der for a
 * stored certificate that does not decode. */
int pt_configfiles_phone_cert(const Pt__Device *device, X509 **out);

/* The encryption state of a device under its profile: OFF unless the
 * profile has TFTP encrypted config; MANUAL for manual-key models; else
 * by the certificate pt_configfiles_phone_cert picks (RSA, EC for any
 * other key type, NO_CERT when there is none).  Errors as
 * pt_configfiles_phone_cert, PT_ERR_INVALID for NULL arguments. */
int pt_configfiles_encryption(const Pt__Device *device,
			      const Pt__Profile *profile,
			      pt_configfiles_enc_t *out);

/* The decision table above.  PT_ERR_INVALID for an out-of-range kind,
 * mode or state (*out is then untouched). */
int pt_configfiles_decide(pt_configfiles_kind_t kind,
			  Pt__ClusterSecurityMode mode,
			  pt_configfiles_enc_t enc,
			  pt_configfiles_decision_t *out);

/* Static names for output: "plain", "signed", "encrypted", "sip-manual",
 * "ld-manual"; "off", "rsa", "no-cert", "ec", "manual-key"; "not-found",
 * "full-plain", "full-signed", "minimal-plain", "minimal-signed",
 * "encrypted".  "unknown" when out of range. */
const char *pt_configfiles_kind_name(pt_configfiles_kind_t kind);
const char *pt_configfiles_enc_name(pt_configfiles_enc_t enc);
const char *pt_configfiles_form_name(pt_configfiles_form_t form);

#endif
