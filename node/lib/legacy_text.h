/* Streaming reader of the legacy CAPF 1.0 text conventions
 * (../shared/spec/legacy-capf.md, "Text conventions"), shared by CAPF.phone
 * and CAPF.cfg.  Pure: the caller pushes bytes in chunks of any size, split
 * anywhere (inside a CR LF, a BOM or a line), and receives one event per
 * physical line through a callback.  Memory is bounded by the longest line
 * (PT_LEGACY_LINE_MAX), never by the file.
 *
 * Rules: a UTF-8 BOM is skipped only at the very start; lines end in LF
 * with an optional CR before it; a last line without an ending is a whole
 * line; blank lines and lines whose first non-blank character is ';' or '#'
 * are PT_LEGACY_EV_OTHER; "[NAME]" (blanks and a ';'/'#' comment may follow
 * the ']') starts a section; "Key=Value" sets a key, blanks around both
 * trimmed, and a value ends where " ;" (blank then semicolon) starts a
 * comment.  Text is Windows-1252 and is handed out as UTF-8.
 */
#ifndef PT_LIB_LEGACY_TEXT_H
#define PT_LIB_LEGACY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest line accepted, in file bytes without the line ending.  A longer
 * line is reported as an error event (reason "line-too-long") and skipped;
 * the rest of the file is read normally. */
#define PT_LEGACY_LINE_MAX (64u * 1024u)

/* Stable reason codes of error events (also used by legacy_phone). */
#define PT_LEGACY_R_LINE_TOO_LONG "line-too-long"
#define PT_LEGACY_R_NUL "nul-byte"  /* a NUL byte inside a line */
#define PT_LEGACY_R_SYNTAX "syntax" /* neither [NAME], Key=Value, comment
                                     * nor blank */

typedef enum pt_legacy_event_kind {
	PT_LEGACY_EV_SECTION = 1, /* "[NAME]": name */
	PT_LEGACY_EV_KEY = 2,     /* "Key=Value": key, value */
	PT_LEGACY_EV_OTHER = 3,   /* blank or comment line */
	PT_LEGACY_EV_ERROR = 4,   /* unreadable line: reason, why */
} pt_legacy_event_kind_t;

/* One physical line.  Every pointer is borrowed and valid only during the
 * callback. */
typedef struct pt_legacy_event {
	pt_legacy_event_kind_t kind;
	uint32_t line;       /* 1-based physical line number */
	const char *name;    /* SECTION: text between the brackets, UTF-8 */
	const char *key;     /* KEY: as written (compare case-insensitively) */
	const char *value;   /* KEY: trimmed, comment removed, UTF-8; "" if
	                      * empty */
	const char *reason;  /* ERROR: one of PT_LEGACY_R_* (static) */
	const char *why;     /* ERROR: a human sentence (static) */
	/* The line exactly as in the file (Windows-1252), line ending
	 * included, BOM excluded: what a quarantine file reproduces.  For a
	 * line longer than PT_LEGACY_LINE_MAX only its first
	 * PT_LEGACY_LINE_MAX bytes, and raw_truncated is set. */
	const uint8_t *raw;
	size_t raw_len;
	bool raw_truncated;
} pt_legacy_event_t;

/* Called once per line, in order.  A non-zero return stops the reader:
 * the feed or finish call in progress returns that value, and the reader
 * refuses further input with it. */
typedef int (*pt_legacy_text_cb)(void *arg, const pt_legacy_event_t *ev);

typedef struct pt_legacy_text pt_legacy_text_t;

/* A new reader delivering events to cb(arg, ...).  PT_ERR_NOMEM. */
int pt_legacy_text_new(pt_legacy_text_cb cb, void *arg,
		       pt_legacy_text_t **out);
void pt_legacy_text_destroy(pt_legacy_text_t **t);

/* Pushes len bytes (borrowed; any split point).  Events for every line
 * completed by these bytes are delivered before it returns.  Returns
 * PT_OK, PT_ERR_NOMEM, or the callback's non-zero value. */
int pt_legacy_text_feed(pt_legacy_text_t *t, const void *data, size_t len);

/* End of input: delivers the last line if it had no ending.  Further feeds
 * are refused (PT_ERR_INVALID).  Same returns as feed. */
int pt_legacy_text_finish(pt_legacy_text_t *t);

/* Lines seen so far (the number of the last line delivered). */
uint32_t pt_legacy_text_lines(const pt_legacy_text_t *t);

/* Converts len bytes of Windows-1252 into NUL-terminated UTF-8 at out,
 * which must hold 3 * len + 1 bytes.  Returns the UTF-8 length.  The five
 * bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) become
 * the C1 control characters of the same value (see legacy_text.c). */
size_t pt_legacy_text_decode_cp1252(const uint8_t *in, size_t len, char *out);

#endif
