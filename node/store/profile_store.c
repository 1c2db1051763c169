#include "store/profile_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/errors.h"
#include "lib/profiles.h"
#include "lib/validate.h"
#include "store/records.h"

/* Stops a devices walk early; never escapes this file. */
#define WALK_STOP 1

static int say(int r, char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(int r, char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int store_error(int r, char *why, size_t why_len)
{
	return say(r, why, why_len, "store error: %s", pt_strerror(r));
}

int pt_profiles_seed(pt_txn_t *txn)
{
	size_t n = pt_profile_predefined_count();
	int r = PT_OK;
	for (size_t i = 0; i < n && r == PT_OK; i++) {
		Pt__Profile *p = NULL;
		r = pt_profile_predefined_build(i, &p);
		if (r != PT_OK)
			break;
		const uint8_t *val;
		size_t len;
		r = pt_txn_get(txn, PT_TABLE_PROFILES, p->name, strlen(p->name),
			       &val, &len);
		if (r == PT_ERR_NOT_FOUND)
			r = pt_profile_put(txn, p);
		pt_record_free(&p->base);
	}
	return r;
}

struct usage {
	const char *name;
	size_t name_len;
	bool first_only;
	/* When set, only devices this profile would no longer accept count. */
	const Pt__Profile *check;
	const char *check_why;
	size_t count;
	char *example;
	size_t example_len;
};

static int visit_device(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	struct usage *u = ctx;
	(void)key;
	(void)key_len;
	/* A record that does not even contain the name's bytes cannot refer
	 * to it; skipping the decode keeps scans of large stores cheap. */
	if (!memmem(val, val_len, u->name, u->name_len))
		return PT_OK;
	Pt__Device *dev = NULL;
	int r = pt_record_decode(val, val_len, &pt__device__descriptor,
				 (ProtobufCMessage **)&dev);
	if (r != PT_OK)
		return r;
	bool hit = dev->security_profile &&
		   strcmp(dev->security_profile, u->name) == 0;
	if (hit && u->check) {
		const char *why = NULL;
		hit = pt_profile_accepts(u->check, dev->model, dev->protocol,
					 &why) != PT_OK;
		if (hit && !u->check_why)
			u->check_why = why;
	}
	if (hit) {
		if (u->count == 0 && u->example && u->example_len)
			snprintf(u->example, u->example_len, "%s", dev->name);
		u->count++;
	}
	pt_record_free(&dev->base);
	return u->first_only && u->count ? WALK_STOP : PT_OK;
}

static int walk_usage(pt_txn_t *txn, struct usage *u)
{
	if (u->example && u->example_len)
		u->example[0] = '\0';
	int r = pt_txn_foreach(txn, PT_TABLE_DEVICES, visit_device, u);
	return r == WALK_STOP ? PT_OK : r;
}

int pt_profile_usage(pt_txn_t *txn, const char *name, size_t *count,
		     char *example, size_t example_len)
{
	struct usage u = {.name = name,
			  .name_len = strlen(name),
			  .example = example,
			  .example_len = example_len};
	int r = walk_usage(txn, &u);
	*count = u.count;
	return r;
}

int pt_profile_in_use(pt_txn_t *txn, const char *name, bool *in_use,
		      char *example, size_t example_len)
{
	struct usage u = {.name = name,
			  .name_len = strlen(name),
			  .first_only = true,
			  .example = example,
			  .example_len = example_len};
	int r = walk_usage(txn, &u);
	*in_use = u.count > 0;
	return r;
}

static int exists(pt_txn_t *txn, const char *name, bool *out)
{
	const uint8_t *val;
	size_t len;
	int r = pt_txn_get(txn, PT_TABLE_PROFILES, name, strlen(name), &val,
			   &len);
	*out = r == PT_OK;
	return r == PT_ERR_NOT_FOUND ? PT_OK : r;
}

/* Checks that name may be given to a new or renamed profile. */
static int name_free(pt_txn_t *txn, const char *name, char *why,
		     size_t why_len)
{
	if (pt_profile_name_reserved(name))
		return say(PT_ERR_EXISTS, why, why_len,
			   "'%s' is the name of a predefined profile", name);
	bool taken;
	int r = exists(txn, name, &taken);
	if (r != PT_OK)
		return store_error(r, why, why_len);
	if (taken)
		return say(PT_ERR_EXISTS, why, why_len,
			   "a profile named '%s' exists already", name);
	return PT_OK;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

int pt_profile_store_add(pt_txn_t *txn, const Pt__Profile *profile,
			 char *why, size_t why_len)
{
	const char *reason;
	if (pt_profile_validate(profile, &reason) != PT_OK)
		return say(PT_ERR_INVALID, why, why_len, "profile '%s': %s",
			   profile->name ? profile->name : "", reason);
	int r = name_free(txn, profile->name, why, why_len);
	if (r != PT_OK)
		return r;
	Pt__Profile next = *profile;
	next.predefined = false;
	next.created = next.updated = (int64_t)time(NULL);
	r = pt_profile_put(txn, &next);
	return r == PT_OK ? PT_OK : store_error(r, why, why_len);
}

/* True when next packs to exactly the bytes stored under name. */
static int same_as_stored(pt_txn_t *txn, const char *name,
			  const Pt__Profile *next, bool *same)
{
	const uint8_t *val;
	size_t len;
	*same = false;
	int r = pt_txn_get(txn, PT_TABLE_PROFILES, name, strlen(name), &val,
			   &len);
	if (r != PT_OK)
		return r;
	size_t size = pt__profile__get_packed_size(next);
	if (size != len)
		return PT_OK;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return PT_ERR_NOMEM;
	pt__profile__pack(next, buf);
	*same = memcmp(buf, val, len) == 0;
	free(buf);
	return PT_OK;
}

static int check_devices(pt_txn_t *txn, const char *name,
			 const Pt__Profile *profile, bool renaming, char *why,
			 size_t why_len)
{
	char example[PT_DEVICE_NAME_MAX + 1];
	struct usage u = {.name = name,
			  .name_len = strlen(name),
			  .check = renaming ? NULL : profile,
			  .example = example,
			  .example_len = sizeof example};
	int r = walk_usage(txn, &u);
	if (r != PT_OK)
		return store_error(r, why, why_len);
	if (u.count == 0)
		return PT_OK;
	if (renaming)
		return say(PT_ERR_IN_USE, why, why_len,
			   "profile '%s' is used by %zu device%s (e.g. %s); "
			   "move them to another profile before renaming it",
			   name, u.count, plural(u.count), example);
	return say(PT_ERR_IN_USE, why, why_len,
		   "profile '%s' would no longer suit %zu device%s using it "
		   "(e.g. %s: %s)",
		   name, u.count, plural(u.count), example,
		   u.check_why ? u.check_why : "refused");
}

int pt_profile_store_update(pt_txn_t *txn, const char *name,
			    const Pt__Profile *profile, char *why,
			    size_t why_len)
{
	Pt__Profile *old = NULL;
	int r = pt_profile_get(txn, name, &old);
	if (r == PT_ERR_NOT_FOUND)
		return say(r, why, why_len, "no profile named '%s'", name);
	if (r != PT_OK)
		return store_error(r, why, why_len);

	const char *reason;
	bool renaming = strcmp(profile->name ? profile->name : "", name) != 0;
	if (old->predefined) {
		r = say(PT_ERR_DENIED, why, why_len,
			"profile '%s' is predefined and cannot be changed "
			"(copy it to make your own)",
			name);
	} else if (old->protocol != profile->protocol) {
		r = say(PT_ERR_DENIED, why, why_len,
			"the protocol of profile '%s' cannot change (add a new "
			"profile instead)",
			name);
	} else if (pt_profile_validate(profile, &reason) != PT_OK) {
		r = say(PT_ERR_INVALID, why, why_len, "profile '%s': %s",
			name, reason);
	} else if (renaming) {
		r = name_free(txn, profile->name, why, why_len);
	}
	if (r == PT_OK)
		r = check_devices(txn, name, profile, renaming, why, why_len);
	if (r != PT_OK)
		goto out;

	Pt__Profile next = *profile;
	next.predefined = false;
	next.created = old->created;
	next.updated = old->updated;
	bool same = false;
	if (!renaming) {
		r = same_as_stored(txn, name, &next, &same);
		if (r != PT_OK) {
			r = store_error(r, why, why_len);
			goto out;
		}
	}
	if (same)
		goto out;
	next.updated = (int64_t)time(NULL);
	if (renaming)
		r = pt_profile_del(txn, name);
	if (r == PT_OK)
		r = pt_profile_put(txn, &next);
	if (r != PT_OK)
		r = store_error(r, why, why_len);
out:
	pt_record_free(&old->base);
	return r;
}

int pt_profile_store_delete(pt_txn_t *txn, const char *name, char *why,
			    size_t why_len)
{
	Pt__Profile *old = NULL;
	int r = pt_profile_get(txn, name, &old);
	if (r == PT_ERR_NOT_FOUND)
		return say(r, why, why_len, "no profile named '%s'", name);
	if (r != PT_OK)
		return store_error(r, why, why_len);
	bool predefined = old->predefined;
	pt_record_free(&old->base);
	if (predefined)
		return say(PT_ERR_DENIED, why, why_len,
			   "profile '%s' is predefined and cannot be deleted",
			   name);

	char example[PT_DEVICE_NAME_MAX + 1];
	size_t count;
	r = pt_profile_usage(txn, name, &count, example, sizeof example);
	if (r != PT_OK)
		return store_error(r, why, why_len);
	if (count)
		return say(PT_ERR_IN_USE, why, why_len,
			   "profile '%s' is used by %zu device%s (e.g. %s) and "
			   "cannot be deleted",
			   name, count, plural(count), example);
	r = pt_profile_del(txn, name);
	return r == PT_OK ? PT_OK : store_error(r, why, why_len);
}
