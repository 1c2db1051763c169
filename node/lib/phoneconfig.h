/* The full phone configuration, SEP<MAC>.cnf.xml (spec
 * encrypted-config.md §8, signed-files.md §1), from a device, its
 * security profile and facts about the cluster.
 *
 * Elements, in this order, under a root <device> without attributes:
 *   fullConfig           true
 *   deviceName           the device name (SEP + MAC)         \ for people
 *   description          the device description (may be "")  | and config
 *   model                the device model (may be "")        / show only
 *   deviceProtocol       SCCP or SIP
 *   ipAddressMode        0 IPv4, 1 IPv6, 2 both
 *   devicePool/callManagerGroup/members/member priority="N"/callManager
 *                        with name (when given), ports (ethernetPhonePort,
 *                        sipPort, securedSipPort) and processNodeName,
 *                        one member per call-manager entry, in order
 *   TVS/members/member priority="N" with port and address, in order
 *   sipProfile (SIP)     voipControlPort (the profile's SIP phone port),
 *                        then sipLines/line button="1" with authName and
 *                        authPassword when digest credentials go in
 *   loadInformation      the firmware load name, empty unless given
 *   vendorConfig         phone hardening (below); absent when every
 *                        setting is the phone's default
 *   deviceSecurityMode   1 non-secure, 2 authenticated, 3 encrypted
 *   transportLayerProtocol  1 TCP, 2 UDP, 3 TLS (see phoneconfig.c for
 *                        TCP+UDP and for SCCP)
 *   capfAuthMode         1 string, 2 null string, 3 existing certificate
 *                        (LSC first), 4 MIC: the device's, else the
 *                        profile's
 *   capfList/capf        phonePort and processNodeName
 *   certHash             MD5 of the certificate the file is encrypted for,
 *                        empty otherwise
 *   encrConfig           true when encrypting, false otherwise
 *
 * Output: `<?xml version="1.0" encoding="UTF-8"?>`, a line feed, the
 * tree with one element per line and two spaces of indent per level, a
 * final line feed.  Empty elements are written as <x></x>.  Text is
 * escaped (&amp; &lt; &gt; and CR as &#13;; in attributes also &quot;);
 * the same inputs always give the same bytes.  The tree is built with
 * libxml2 and written by pt_phoneconfig_encode (also used by
 * minconfig.c), which does not depend on libxml2's serialiser settings or
 * version, so caches can compare bytes across upgrades.
 *
 * Secrets: digest credentials are written when the device is SIP, has a
 * digest user, and its profile does not exclude them.  The caller passes
 * the unsealed password; it is not kept, and every copy made here is
 * wiped before it is freed.  The output then holds the password: wipe it
 * (pt_seal_wipe) before freeing.
 *
 * Pure code: no I/O, no logging.  Multi-threaded programs call
 * xmlInitParser() once before using this module from several threads.
 */
#ifndef PT_LIB_PHONECONFIG_H
#define PT_LIB_PHONECONFIG_H

#include <libxml/tree.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "records.pb-c.h"

#define PT_PHONECONFIG_CAPF_PORT 3804u
#define PT_PHONECONFIG_TVS_PORT 2445u
#define PT_PHONECONFIG_SCCP_PORT 2000u
#define PT_PHONECONFIG_SIP_PORT 5060u
#define PT_PHONECONFIG_SIP_TLS_PORT 5061u
/* Sanity caps on the lists (phones use the first few entries). */
#define PT_PHONECONFIG_SERVERS_MAX 64u
/* Host names, node names and load names longer than this are refused. */
#define PT_PHONECONFIG_TEXT_MAX 255u
#define PT_PHONECONFIG_PASSWORD_MAX 128u

/* One member of the call-manager group. */
typedef struct pt_phoneconfig_cm {
	const char *name;      /* <name>, or NULL/"" for none */
	const char *host;      /* <processNodeName>: address or host name */
	uint32_t sccp_port;    /* 0 = PT_PHONECONFIG_SCCP_PORT */
	uint32_t sip_port;     /* 0 = PT_PHONECONFIG_SIP_PORT */
	uint32_t sip_tls_port; /* 0 = PT_PHONECONFIG_SIP_TLS_PORT */
} pt_phoneconfig_cm_t;

/* One TVS member. */
typedef struct pt_phoneconfig_tvs {
	const char *host; /* <address> */
	uint32_t port;    /* 0 = PT_PHONECONFIG_TVS_PORT */
} pt_phoneconfig_tvs_t;

/* The server lists every configuration a phone gets carries (its own
 * file and XMLDefault.cnf.xml), from the nodes table: every node is a call
 * manager, the nodes running "tvs" are TVS members, subscribers first
 * (the publisher is busy with CAPF and replication), each group in the
 * order given (the nodes table's name order). */
typedef struct pt_phoneconfig_servers {
	pt_phoneconfig_cm_t *cms;
	size_t cm_count;
	pt_phoneconfig_tvs_t *tvs;
	size_t tvs_count;
	const char *publisher; /* its address (the CAPF host), NULL if none */
} pt_phoneconfig_servers_t;

/* Fills s from n nodes; the strings are borrowed from nodes, which must
 * outlive s.  PT_ERR_NOMEM (s then holds nothing to free). */
int pt_phoneconfig_servers_init(pt_phoneconfig_servers_t *s,
				Pt__Node *const *nodes, size_t n);

/* Frees the lists; s may be reused. */
void pt_phoneconfig_servers_clear(pt_phoneconfig_servers_t *s);

/* Everything a configuration is built from; all borrowed. */
typedef struct pt_phoneconfig_in {
	/* name (a phone: SEP + 12 hex digits), description, model,
	 * protocol, capf.auth_mode, hardening, digest_user. */
	const Pt__Device *device;
	/* protocol (must match the device's), security_mode, transport,
	 * auth_mode, exclude_digest_credentials, sip_phone_port. */
	const Pt__Profile *profile;
	const char *capf_host; /* the publisher's address */
	uint32_t capf_port;    /* 0 = PT_PHONECONFIG_CAPF_PORT */
	const pt_phoneconfig_cm_t *cms; /* in priority order */
	size_t cm_count;
	const pt_phoneconfig_tvs_t *tvs; /* in priority order */
	size_t tvs_count;
	/* The certificate (LSC, else MIC) the file is being encrypted for
	 * (configfiles.h pt_configfiles_phone_cert): its MD5 goes into
	 * <certHash> and <encrConfig> is true.  NULL when the file is not
	 * encrypted: <certHash> empty, <encrConfig> false. */
	X509 *encrypt_for;
	const char *load_information; /* NULL or "" = empty element */
	uint32_t ip_address_mode;     /* 0, 1 or 2 */
	/* The unsealed digest password (not NUL-terminated; len bytes), or
	 * NULL for none.  Used only when credentials go in. */
	const char *digest_password;
	size_t digest_password_len;
} pt_phoneconfig_in_t;

/* Builds the configuration into *out (malloc'd, *out_len bytes, followed
 * by a NUL not counted), the caller's.  PT_ERR_INVALID when an input is
 * missing or out of range: a device that is not a phone, an unknown
 * protocol or one differing from the profile's, no CAPF host, a host,
 * name or text that is not UTF-8 text without control characters or is
 * too long, no authentication mode in device or profile, an IP address
 * mode above 2, more than PT_PHONECONFIG_SERVERS_MAX entries, a port
 * above 65535.  PT_ERR_CRYPTO when the certificate hash fails,
 * PT_ERR_NOMEM. */
int pt_phoneconfig_build(const pt_phoneconfig_in_t *in, uint8_t **out,
			 size_t *out_len);

/* The cluster-wide server lists written exactly as pt_phoneconfig_build
 * writes them, for files that are not a device's (staticfiles.h):
 * appends <callManagerGroup> (the element pt_phoneconfig_build puts under
 * <devicePool>) and <TVS> to parent, an element of a libxml2 document.
 * Entries are checked as pt_phoneconfig_build checks them (empty lists
 * allowed): PT_ERR_INVALID, leaving parent untouched; PT_ERR_NOMEM, after
 * which parent may hold part of the lists (free the document). */
int pt_phoneconfig_add_servers(xmlNode *parent,
			       const pt_phoneconfig_cm_t *cms, size_t cm_count,
			       const pt_phoneconfig_tvs_t *tvs,
			       size_t tvs_count);

/* Writes the document rooted at root as described above: elements,
 * their attributes (in stored order) and text (text and CDATA nodes, as
 * text); comments and processing instructions are left out.  An element
 * whose children include text is written on one line with its children
 * inline, so no whitespace is added to mixed content.  *out (malloc'd,
 * NUL after *out_len bytes) is the caller's.  PT_ERR_INVALID for a NULL
 * root or a tree deeper than 256 levels, PT_ERR_NOMEM. */
int pt_phoneconfig_encode(const xmlNode *root, uint8_t **out,
			  size_t *out_len);

/* Parses len bytes of a configuration file that came from elsewhere with
 * libxml2: no network, no DTD loading or validation, no entity
 * substitution, no XInclude, messages silenced, the encoding fixed to
 * UTF-8 whatever the declaration says.  Empty input, a NUL byte, and a
 * DOCTYPE or ENTITY declaration are refused before libxml2 sees them.
 * The caller caps len.  On success *doc is the caller's (free it with
 * pt_phoneconfig_free_doc).  PT_ERR_MALFORMED (also for a document that
 * is not well-formed or has a DTD), PT_ERR_NOMEM. */
int pt_phoneconfig_read(const uint8_t *xml, size_t len, xmlDoc **doc);

/* Overwrites the text of every text node and attribute of doc (which
 * may hold secrets) and frees it; NULL is accepted. */
void pt_phoneconfig_free_doc(xmlDoc *doc);

#endif
