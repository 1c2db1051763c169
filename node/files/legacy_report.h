/* Reports of a legacy migration: PREFIX.csv and PREFIX.json (one line per
 * device or quarantined record: action, device, source directory, file
 * and lines, reason; the JSON adds the counts and the run's findings) and
 * PREFIX.quarantine (each quarantined record's source, lines, reason and
 * verbatim text).
 *
 * Lines are streamed to the files as they come, so memory does not grow
 * with the input; each file is written under a temporary name and renamed
 * into place by pt_legacy_report_close(), so a killed run leaves the
 * previous reports (or none), never half of one.  Quoting is libcsv's
 * (CSV) and jansson's (JSON).  No auth string reaches a report: records
 * carry none, and quarantined text has every AuthString value masked.
 */
#ifndef PT_FILES_LEGACY_REPORT_H
#define PT_FILES_LEGACY_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files/legacy_device.h"
#include "lib/legacy_phone.h"

typedef struct pt_legacy_report pt_legacy_report_t;

/* What replaces a masked AuthString value. */
#define PT_LEGACY_MASK "********"

/* Opens PREFIX.csv, PREFIX.json and PREFIX.quarantine (temporary names;
 * mode 0600: reports name every device).  PT_ESYS(errno) when they
 * cannot be created. */
int pt_legacy_report_open(const char *prefix, pt_legacy_report_t **out);

/* Removes the temporary files of a report not closed; NULL accepted. */
void pt_legacy_report_destroy(pt_legacy_report_t **r);

typedef struct pt_legacy_line {
	pt_legacy_action_t action;
	const char *device;    /* the device or section name; NULL for a
	                        * line outside any section */
	const char *directory; /* as given */
	const char *file;
	uint32_t first_line, last_line;
	const char *code;      /* quarantined: the PT_LEGACY_R_* code */
	const char *reason;
} pt_legacy_line_t;

/* One line of the CSV and JSON device lists. */
int pt_legacy_report_line(pt_legacy_report_t *r, const pt_legacy_line_t *l);

/* A quarantined record: its line in the lists and its entry, with the
 * verbatim text masked, in the quarantine file. */
int pt_legacy_report_quarantine(pt_legacy_report_t *r, const char *directory,
				const char *file,
				const pt_legacy_quarantine_t *q);

/* Writes summary's members (counts, settings, files, ...; borrowed) after
 * the device list, flushes and syncs each file and renames it into
 * place.  The report is freed whatever the result. */
int pt_legacy_report_close(pt_legacy_report_t **r, json_t *summary);

/* Copies raw (len bytes of one or more lines) to out with the value of
 * every AuthString key masked; out must hold len + as many
 * PT_LEGACY_MASK as there are lines.  Returns the bytes written. */
size_t pt_legacy_mask_auth(const uint8_t *raw, size_t len, uint8_t *out);

#endif
