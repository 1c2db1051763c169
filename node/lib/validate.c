#include "lib/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return PT_ERR_INVALID;
}

static int ok(const char **why)
{
	if (why)
		*why = NULL;
	return PT_OK;
}

int pt_device_name_is_phone(const char *name)
{
	if (strncmp(name, "SEP", 3) != 0 || strlen(name) != 15)
		return 0;
	for (const char *p = name + 3; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return 0;
	return 1;
}

int pt_validate_device_name(const char *name, const char **why)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return fail(why, "device name is empty");
	if (n > PT_DEVICE_NAME_MAX)
		return fail(why, "device name is longer than 50 characters");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return fail(why, "device name may hold only A-Z a-z "
					 "0-9 . _ -");
	}
	if (strncmp(name, "SEP", 3) == 0 && !pt_device_name_is_phone(name))
		return fail(why, "phone names are SEP followed by 12 hex "
				 "digits");
	return ok(why);
}

/* Counts UTF-8 code points; refuses malformed sequences and control
 * characters. */
static int utf8_length(const char *s, size_t *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t count = 0;
	while (*p) {
		unsigned char c = *p;
		size_t extra;
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c < 0x80)
			extra = 0;
		else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
			extra = 1;
		else if ((c & 0xf0) == 0xe0)
			extra = 2;
		else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
			extra = 3;
		else
			return -1;
		p++;
		for (size_t i = 0; i < extra; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return -1;
		count++;
	}
	*out = count;
	return 0;
}

int pt_validate_description(const char *s, const char **why)
{
	size_t n;
	if (!s)
		return ok(why);
	if (utf8_length(s, &n) != 0)
		return fail(why, "description must be UTF-8 text without "
				 "control characters");
	if (n > PT_DESCRIPTION_MAX)
		return fail(why, "description is longer than 128 characters");
	return ok(why);
}

int pt_validate_profile_name(const char *name, const char **why)
{
	size_t n;
	if (!name || !*name)
		return fail(why, "profile name is empty");
	if (utf8_length(name, &n) != 0)
		return fail(why, "profile name must be UTF-8 text without "
				 "control characters");
	if (n > PT_PROFILE_NAME_MAX)
		return fail(why, "profile name is longer than 128 characters");
	if (isspace((unsigned char)name[0]) ||
	    isspace((unsigned char)name[strlen(name) - 1]))
		return fail(why, "profile name starts or ends with a blank");
	return ok(why);
}

int pt_validate_auth_string(const char *s, const char **why)
{
	size_t n = s ? strlen(s) : 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return fail(why, "authentication string must be 4 to "
					 "10 digits (0-9 only)");
	if (n < PT_AUTH_STRING_MIN || n > PT_AUTH_STRING_MAX)
		return fail(why, "authentication string must be 4 to 10 "
				 "digits long");
	return ok(why);
}

int pt_validate_key_size(uint32_t bits, const char **why)
{
	switch (bits) {
	case 512:
	case 1024:
	case 2048:
	case 3072:
	case 4096:
		return ok(why);
	default:
		return fail(why, "key size must be 512, 1024, 2048, 3072 or "
				 "4096 bits");
	}
}

int pt_validate_ec_bits(uint32_t bits, const char **why)
{
	if (bits == 256 || bits == 384 || bits == 521)
		return ok(why);
	return fail(why, "EC key size must be 256, 384 or 521 bits");
}

int pt_validate_node_name(const char *name, const char **why)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 63)
		return fail(why, "node name must be 1 to 63 characters");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return fail(why, "node name may hold only A-Z a-z "
					 "0-9 . _ -");
	}
	return ok(why);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : mdays[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int pt_time_parse_utc(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec;
	size_t n = s ? strlen(s) : 0;
	if (n < 20)
		return PT_ERR_INVALID;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return PT_ERR_INVALID;
	const char *zone = s + 19;
	if (strcmp(zone, "Z") != 0 && strcmp(zone, "z") != 0 &&
	    strcmp(zone, "+00:00") != 0)
		return PT_ERR_INVALID;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return PT_ERR_INVALID;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return PT_OK;
}

char *pt_time_format_utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (len)
			buf[0] = '\0';
	}
	return buf;
}

int pt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s || strlen(s) > 20)
		return PT_ERR_INVALID;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return PT_ERR_INVALID;
		uint64_t next = v * 10 + (uint64_t)(*p - '0');
		if (next / 10 != v)
			return PT_ERR_INVALID;
		v = next;
	}
	if (v < min || v > max)
		return PT_ERR_INVALID;
	*out = v;
	return PT_OK;
}
