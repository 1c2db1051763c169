/* Validation of administrator-supplied values.  Pure functions: each
 * returns PT_OK or PT_ERR_INVALID and, when why is not NULL, points *why at
 * a static sentence suitable for a one-line error message.
 */
#ifndef PT_LIB_VALIDATE_H
#define PT_LIB_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PT_DEVICE_NAME_MAX 50
#define PT_DESCRIPTION_MAX 128
#define PT_PROFILE_NAME_MAX 128
#define PT_AUTH_STRING_MIN 4
#define PT_AUTH_STRING_MAX 10

/* Phones are SEP + 12 hex digits; other devices (CTI ports, applications)
 * use 1-50 characters from A-Z a-z 0-9 . _ - */
int pt_validate_device_name(const char *name, const char **why);
/* True for SEP followed by 12 hex digits. */
int pt_device_name_is_phone(const char *name);

/* Up to 128 characters (UTF-8 code points), no control characters. */
int pt_validate_description(const char *s, const char **why);

/* 1-128 characters, printable, no leading or trailing blank. */
int pt_validate_profile_name(const char *name, const char **why);

/* 4 to 10 decimal digits. */
int pt_validate_auth_string(const char *s, const char **why);

/* RSA sizes the CAPF protocol can request: 512, 1024, 2048, 3072, 4096. */
int pt_validate_key_size(uint32_t bits, const char **why);

/* EC curve sizes: 256, 384, 521. */
int pt_validate_ec_bits(uint32_t bits, const char **why);

/* Node names: 1-63 characters from a-z A-Z 0-9 - _ . */
int pt_validate_node_name(const char *name, const char **why);

/* Parses ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" (also "...+00:00" and a space
 * in place of T) into seconds since the epoch. */
int pt_time_parse_utc(const char *s, int64_t *out);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes).
 * Returns buf. */
char *pt_time_format_utc(int64_t t, char *buf, size_t len);

/* Parses a decimal integer with no sign, blanks or trailing text that fits
 * in [min, max]. */
int pt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
