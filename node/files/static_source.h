/* Static files a phone receives for the name it asks for: the files of
 * the TFTP static directory, the default configuration and the ring list
 * (lib/staticfiles.h), and the signed form (.sgn) of each.
 *
 * For a request name (through pt_tftp_name_check; '\' read as '/'):
 *   1. Names other sources build are not this source's: configuration
 *      names (lib/configfiles.h, files/config_source.h) and trust lists
 *      (CTLFile.tlv, ITLFile.tlv, ITLSEP<MAC>.tlv, CTLSEP<MAC>.tlv), with
 *      or without ".sgn"; an administrator's copy never shadows them.
 *   2. A regular file of that name under the static directory is served
 *      as it is, in any cluster mode: an administrator's XMLDefault.cnf.xml
 *      or RingList.xml, firmware (whose images come signed already as
 *      .sgn), ring tones, backgrounds in sub-folders.
 *   3. XMLDefault.cnf.xml (any case) is generated from the nodes table:
 *      call managers and TVS members as device files list them
 *      (subscribers first, then the publisher, each in name order);
 *      RingList.xml from the ring tone files (*.raw, *.pcm) at the top
 *      of the static directory, an empty list without one.
 *   4. <name>.sgn for a <name> of 2 or 3: those bytes signed with the
 *      node's TFTP key, in either cluster mode (the ITL lists the TFTP
 *      certificate in both, so phones ask for .sgn) (lib/sgn.h), digest from the
 *      tftp_file_signature_algorithm parameter, item 14 the served name
 *      with its sub-folder path ("Desktops/320x196x4/List.xml.sgn";
 *      generated files under their canonical spelling).
 *   5. Anything else: not found.
 * Plain forms are served in both modes: none of these files holds a
 * secret.
 *
 * Files are opened below the directory with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS): a symbolic link staying inside is followed,
 * one leading out is refused.  Where openat2 is missing or filtered the
 * path is walked one part at a time with O_NOFOLLOW, refusing every
 * symbolic link.  Only regular files up to the size cap are served.
 *
 * Reads only: the caller's transaction may be read-only.  No global
 * state: threads may call this concurrently, each with its own
 * transaction.
 */
#ifndef PT_FILES_STATIC_SOURCE_H
#define PT_FILES_STATIC_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files/config_source.h"
#include "lib/tftp_packet.h"
#include "store/store.h"

/* Files above this size are refused (the signed-file format's cap). */
#define PT_STATIC_SOURCE_FILE_MAX (256ull << 20)

typedef struct pt_static_opts {
	const char *dir;        /* the TFTP static directory; NULL: none */
	uint32_t timestamp;     /* item 15 of signed forms; 0 = now */
	uint64_t max_file_size; /* 0 = PT_STATIC_SOURCE_FILE_MAX */
	/* Test hook: walk paths part by part even where openat2 works. */
	bool no_openat2;
} pt_static_opts_t;

typedef struct pt_static_answer {
	/* The served bytes (malloc'd; free with pt_static_answer_clear),
	 * NULL when not found. */
	uint8_t *bytes;
	size_t len;
	/* The name served: '/' as separator; the canonical spelling for
	 * generated files; item 14 of a signed form. */
	char served[PT_TFTP_NAME_MAX + 1];
	bool generated; /* built here, not read from the directory */
	bool is_signed; /* signed here */
	/* What was served ("RingList.xml generated from 3 ring tones in
	 * DIR, signed"), or why not found / refused.  May name paths: for
	 * logs and the administrator, not for phones. */
	char reason[256];
} pt_static_answer_t;

/* Builds the answer for name.  opts may be NULL (no directory, current
 * time).  keys may be NULL or hold no TFTP key: signed forms are then
 * refused (PT_ERR_NOT_FOUND); data_key is not used.  Returns
 *   PT_OK             ans->bytes set, or NULL with ans->reason when the
 *                     phone gets File not found;
 *   PT_ERR_INVALID    a name another source serves (the caller tries the
 *                     next source), or a NULL argument;
 *   PT_ERR_DENIED     a name or path that would leave the directory (a
 *                     symbolic link leading out, a '.' or empty part), a
 *                     file that is not regular or not readable, or one
 *                     above the size cap (an access violation for TFTP);
 *   PT_ERR_NOT_FOUND  the cluster record is missing (signing), or no
 *                     TFTP key to sign with;
 *   other errors      the directory cannot be read (PT_ESYS), a stored
 *                     record does not decode (PT_ERR_CORRUPT), a builder
 *                     fails; ans->reason says why. */
int pt_static_source_build(pt_txn_t *txn, const pt_config_keys_t *keys,
			   const pt_static_opts_t *opts, const char *name,
			   pt_static_answer_t *ans);

/* Frees ans->bytes; the struct may be reused. */
void pt_static_answer_clear(pt_static_answer_t *ans);

#endif
