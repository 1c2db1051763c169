/* Static provisioning files that no device owns: the default
 * configuration and the ring list (signed-files.md §1 lists both among
 * the files phones fetch signed).
 *
 * XMLDefault.cnf.xml is what a phone without a configuration of its own
 * gets (auto-registration, a phone not yet added).  It carries only what
 * is the same for every phone of the cluster:
 *   <Default>            the root default files carry
 *     callManagerGroup   written by pt_phoneconfig_add_servers, so the
 *     TVS                members are byte for byte those of device files
 * and nothing else.  Left to device files: the device's identity
 * (deviceName, description, model), its protocol and sipProfile (digest
 * credentials are secret), deviceSecurityMode and transportLayerProtocol
 * (a profile's: a phone the cluster does not know runs non-secure),
 * capfAuthMode and capfList (a CAPF operation belongs to a device record;
 * an unknown phone has none to run), certHash and encrConfig, the
 * hardening settings (vendorConfig) and loadInformation (per model;
 * phones keep their load).
 *
 * RingList.xml lists the ring tones phones may offer:
 *   <CiscoIPPhoneRingList>
 *     <Ring><DisplayName>..</DisplayName><FileName>..</FileName></Ring>...
 * one Ring per ring tone file, in byte order of the file names.
 *
 * Both are written by pt_phoneconfig_encode (declaration, one element per
 * line, two spaces of indent, escaped text, final line feed): the same
 * inputs give the same bytes.  Pure code: no I/O, no logging.
 */
#ifndef PT_LIB_STATICFILES_H
#define PT_LIB_STATICFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/phoneconfig.h"

#define PT_STATICFILES_DEFAULT_NAME "XMLDefault.cnf.xml"
#define PT_STATICFILES_RINGLIST_NAME "RingList.xml"
/* More ring tones than this is refused: phones page through a handful,
 * and an administrator with a larger set writes RingList.xml by hand. */
#define PT_STATICFILES_RINGS_MAX 256u
/* Longest ring tone file name listed. */
#define PT_STATICFILES_RING_NAME_MAX 255u
/* Phones show at most 25 characters of a ring's display name. */
#define PT_STATICFILES_DISPLAY_MAX 25u

/* The cluster's servers, in priority order (borrowed). */
typedef struct pt_staticfiles_default_in {
	const pt_phoneconfig_cm_t *cms;
	size_t cm_count;
	const pt_phoneconfig_tvs_t *tvs;
	size_t tvs_count;
} pt_staticfiles_default_in_t;

/* Builds XMLDefault.cnf.xml into *out (malloc'd, *out_len bytes followed
 * by a NUL not counted), the caller's; it holds no secret.  Empty lists
 * give empty <members>.  PT_ERR_INVALID for entries pt_phoneconfig_build
 * would refuse, PT_ERR_NOMEM. */
int pt_staticfiles_build_default(const pt_staticfiles_default_in_t *in,
				 uint8_t **out, size_t *out_len);

/* Whether name is a ring tone file RingList.xml lists: a file name (no
 * '/' or '\'), not hidden (no leading '.'), printable ASCII as TFTP names
 * are, at most PT_STATICFILES_RING_NAME_MAX bytes, ending in ".raw" or
 * ".pcm" (any case) after a non-empty stem. */
bool pt_staticfiles_is_ring_tone(const char *name);

/* The display name of a ring tone file: its name without the ".raw" or
 * ".pcm" suffix, '_' written as a space, cut to PT_STATICFILES_DISPLAY_MAX
 * characters and without spaces at either end (the stem itself, cut,
 * when nothing would be left).  buf needs PT_STATICFILES_DISPLAY_MAX + 1
 * bytes.  PT_ERR_INVALID when name is no ring tone, PT_ERR_TOO_LARGE when
 * buf is too small. */
int pt_staticfiles_display_name(const char *name, char *buf, size_t len);

/* Builds RingList.xml from names (borrowed; a directory listing in any
 * order): names that are no ring tone are skipped, duplicates listed once,
 * the rest sorted by bytes.  No ring tone gives an empty list.  *out as
 * above.  PT_ERR_TOO_LARGE for more than PT_STATICFILES_RINGS_MAX ring
 * tones, PT_ERR_INVALID for a NULL list with n > 0, PT_ERR_NOMEM. */
int pt_staticfiles_build_ringlist(const char *const *names, size_t n,
				  uint8_t **out, size_t *out_len);

#endif
