/* The boot of a simulated phone: what a phone fetches over TFTP and what
 * it does with each file (DESIGN.md "Files served to phones", tlv-files.md
 * §1, signed-files.md §1, encrypted-config.md §1).
 *
 *   1. With a state directory, the lists installed by an earlier boot
 *      (CTLFile.tlv, ITLFile.tlv there) are installed first, so a list
 *      fetched now must be signed by one of their SAST certificates.
 *   2. CTLFile.tlv.  CTLSEP<MAC>.tlv is not asked for: it adds
 *      certificates to the CTL for one phone, and how a phone merges it
 *      is not described anywhere.
 *   3. ITLSEP<MAC>.tlv, which replaces ITLFile.tlv for one phone
 *      (tlv-files.md §1), so it is asked for first; ITLFile.tlv when the
 *      server has none.
 *   A list the server does not have is no failure (a non-secure cluster
 *   may have no CTL; the phone keeps what it holds); a list that does not
 *   verify under the trust rule is.
 *   4. SEP<MAC>.cnf.xml, or .sgn when a list holds a TFTP certificate;
 *      a signed file must verify and name itself (item 14).
 *   5. When it says <encrConfig>true</encrConfig> (and is not itself the
 *      full configuration), <certHash> must be the MD5 of the phone's
 *      certificate, else a phone would start a CAPF session instead; then
 *      SEP<MAC>.cnf.xml.enc.sgn, verified and decrypted with the key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/configfiles.h"
#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/seal.h"
#include "lib/sgn.h"
#include "lib/tlv.h"
#include "phone.h"

const char *pt_phone_result_name(pt_phone_result_t r)
{
	static const char *const names[] = {
		"fetched",  "installed", "unchanged", "not-found",
		"verified", "decrypted", "refused",   "failed",
	};
	if ((unsigned)r < sizeof names / sizeof names[0])
		return names[r];
	return "unknown";
}

int pt_phone_mac_parse(const char *text, char mac[13])
{
	if (!text)
		return PT_ERR_INVALID;
	if (strncasecmp(text, "SEP", 3) == 0)
		return pt_configfiles_device_mac(text, mac);
	if (strlen(text) != 12)
		return PT_ERR_INVALID;
	for (size_t i = 0; i < 12; i++) {
		char ch = text[i];
		if (ch >= 'a' && ch <= 'f')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F')))
			return PT_ERR_INVALID;
		mac[i] = ch;
	}
	mac[12] = '\0';
	return PT_OK;
}

static int fail_step(pt_phone_boot_t *b, const char *step, int err,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_step(pt_phone_boot_t *b, const char *step, int err,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->error, sizeof b->error, fmt, ap);
	va_end(ap);
	b->failed_step = step;
	return err != PT_OK ? err : PT_ERR_INVALID;
}

static pt_phone_file_t *add_file(pt_phone_boot_t *b, const char *name)
{
	/* The sequence asks for at most six files. */
	pt_phone_file_t *f = &b->files[b->n_files < PT_PHONE_FILES_MAX
						? b->n_files++
						: PT_PHONE_FILES_MAX - 1];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	return f;
}

/* Fetches name into *fetch and records it as *out.  PT_ERR_NOT_FOUND
 * for the server's "file not found"; other errors mark the file failed. */
static int fetch(pt_phone_boot_t *b, const char *name, pt_phone_fetch_t *fetch,
		 pt_phone_file_t **out)
{
	pt_phone_file_t *f = add_file(b, name);
	int r = pt_phone_tftp_fetch(b->server, name, &b->tftp, fetch);
	f->elapsed_us = fetch->elapsed_us;
	f->retransmits = fetch->retransmits;
	f->duplicates = fetch->duplicates;
	f->oack = fetch->oack;
	f->blksize = fetch->blksize;
	f->windowsize = fetch->windowsize;
	*out = f;
	if (r == PT_OK) {
		f->transferred = true;
		f->bytes = fetch->len;
		f->result = PT_PHONE_FETCHED;
		return PT_OK;
	}
	if (fetch->server_error == PT_TFTP_E_NOT_FOUND) {
		f->result = PT_PHONE_NOT_FOUND;
		snprintf(f->detail, sizeof f->detail, "%s", fetch->why);
		return PT_ERR_NOT_FOUND;
	}
	f->result = PT_PHONE_FAILED;
	snprintf(f->detail, sizeof f->detail, "%s", fetch->why);
	return r;
}

/* ---- the state directory ---- */

static void state_path(const pt_phone_boot_t *b, const char *file,
		       const char *suffix, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s%s", b->state_dir, file, suffix);
}

/* Replaces the kept copy in one step (write aside, then rename), so an
 * interrupted boot leaves the old list or the new one. */
static int save_list(pt_phone_boot_t *b, const char *file,
		     const uint8_t *data, size_t len)
{
	char tmp[4200], dst[4200];
	if (!b->state_dir)
		return PT_OK;
	if (mkdir(b->state_dir, 0700) != 0 && errno != EEXIST)
		return PT_ESYS(errno);
	state_path(b, file, ".new", tmp, sizeof tmp);
	state_path(b, file, "", dst, sizeof dst);
	int r = pt_cli_write_file(tmp, data, len);
	if (r == PT_OK && rename(tmp, dst) != 0)
		r = PT_ESYS(errno);
	if (r != PT_OK)
		unlink(tmp);
	return r;
}

static int load_state(pt_phone_boot_t *b)
{
	static const char *const files[] = {PT_TLV_CTL_NAME, PT_TLV_ITL_NAME};
	char path[4200];
	if (!b->state_dir)
		return PT_OK;
	for (size_t i = 0; i < 2; i++) {
		uint8_t *data = NULL;
		size_t len = 0;
		pt_phone_diag_t d = {{0}};
		state_path(b, files[i], "", path, sizeof path);
		int r = pt_cli_read_file(path, PT_TLV_FILE_MAX, &data, &len);
		if (r == PT_ESYS(ENOENT))
			continue;
		if (r != PT_OK)
			return fail_step(b, "state", r, "cannot read %s: %s",
					 path, pt_strerror(r));
		/* The phone's own copy, installed before: trusted as it is. */
		r = i == 0 ? pt_phone_trust_put_ctl(b->trust, data, len, NULL,
						    0, &d)
			   : pt_phone_trust_put_itl(b->trust, data, len, NULL,
						    0, &d);
		free(data);
		if (r != PT_OK)
			return fail_step(b, "state", r, "%s: %s", path,
					 d.text);
		if (i == 0)
			b->ctl_from = "state";
		else
			b->itl_from = "state";
	}
	return PT_OK;
}

/* ---- trust lists ---- */

/* Fetch-only: what tlv-files.md §1 makes a phone ask for signed files,
 * read from the list without checking its signature. */
static int note_list(pt_phone_boot_t *b, bool ctl, pt_phone_file_t *f,
		     const uint8_t *data, size_t len)
{
	pt_tlv_file_t *t = NULL;
	pt_tlv_diag_t d = {0};
	int r = pt_tlv_parse(data, len, &t, &d);
	if (r != PT_OK) {
		f->result = PT_PHONE_REFUSED;
		snprintf(f->detail, sizeof f->detail, "%s", d.text);
		return fail_step(b, ctl ? "ctl" : "itl", r, "%s: %s", f->name,
				 d.text);
	}
	for (size_t i = 0; i < t->n_records; i++) {
		const pt_tlv_record_t *rec = &t->records[i];
		if ((rec->role == PT_TLV_ROLE_TFTP ||
		     rec->role == PT_TLV_ROLE_CCM_TFTP) &&
		    rec->cert.len > 0)
			b->lists_want_signed = true;
	}
	pt_tlv_file_destroy(&t);
	snprintf(f->detail, sizeof f->detail, "not checked (fetch only)");
	return PT_OK;
}

static int install_list(pt_phone_boot_t *b, bool ctl, pt_phone_file_t *f,
			const uint8_t *data, size_t len)
{
	if (b->fetch_only)
		return note_list(b, ctl, f, data, len);

	const char *step = ctl ? "ctl" : "itl";
	const pt_tlv_file_t *old = ctl ? pt_phone_trust_peek_ctl(b->trust)
				       : pt_phone_trust_peek_itl(b->trust);
	pt_phone_diag_t d = {{0}};
	int r;

	if (old && old->raw_len == len && memcmp(old->raw, data, len) == 0) {
		f->result = PT_PHONE_UNCHANGED;
		snprintf(f->detail, sizeof f->detail,
			 "the same bytes as the installed list");
		return PT_OK;
	}
	/* As phone_trust.h decides: no list, or one without records (a
	 * non-secure CTL), leaves nothing to check a new one with. */
	bool first = !old || old->n_records == 0;
	r = ctl ? pt_phone_trust_put_ctl(b->trust, data, len, NULL, 0, &d)
		: pt_phone_trust_put_itl(b->trust, data, len, NULL, 0, &d);
	if (r != PT_OK) {
		f->result = PT_PHONE_REFUSED;
		snprintf(f->detail, sizeof f->detail, "%s", d.text);
		return fail_step(b, step, r, "%s refused: %s", f->name,
				 d.text);
	}
	const pt_tlv_file_t *now = ctl ? pt_phone_trust_peek_ctl(b->trust)
				       : pt_phone_trust_peek_itl(b->trust);
	f->result = PT_PHONE_INSTALLED;
	snprintf(f->detail, sizeof f->detail, "%s; signed by %s",
		 first ? "trusted on first use"
		       : "signed by a SAST certificate of the installed list",
		 now->header.signer_name ? now->header.signer_name : "?");
	if (ctl)
		b->ctl_from = "tftp";
	else
		b->itl_from = "tftp";
	r = save_list(b, ctl ? PT_TLV_CTL_NAME : PT_TLV_ITL_NAME, data, len);
	if (r != PT_OK)
		return fail_step(b, "state", r, "cannot keep the %s in %s: %s",
				 ctl ? "CTL" : "ITL", b->state_dir,
				 pt_strerror(r));
	return PT_OK;
}

static int boot_ctl(pt_phone_boot_t *b)
{
	pt_phone_fetch_t got;
	pt_phone_file_t *f;
	int r = fetch(b, PT_TLV_CTL_NAME, &got, &f);
	if (r == PT_ERR_NOT_FOUND) {
		snprintf(f->detail, sizeof f->detail,
			 "the server has no CTL; the phone keeps %s",
			 pt_phone_trust_peek_ctl(b->trust) ? "its own"
							   : "none");
		r = PT_OK;
	} else if (r != PT_OK) {
		r = fail_step(b, "ctl", r, "%s: %s", f->name, got.why);
	} else {
		r = install_list(b, true, f, got.data, got.len);
	}
	pt_phone_fetch_clear(&got);
	return r;
}

static int boot_itl(pt_phone_boot_t *b)
{
	char name[48];
	pt_phone_fetch_t got;
	pt_phone_file_t *f;
	snprintf(name, sizeof name, "ITLSEP%s.tlv", b->mac);
	int r = fetch(b, name, &got, &f);
	if (r == PT_ERR_NOT_FOUND) {
		snprintf(f->detail, sizeof f->detail,
			 "no per-phone ITL; asking for %s", PT_TLV_ITL_NAME);
		pt_phone_fetch_clear(&got);
		r = fetch(b, PT_TLV_ITL_NAME, &got, &f);
	}
	if (r == PT_ERR_NOT_FOUND) {
		snprintf(f->detail, sizeof f->detail,
			 "the server has no ITL; the phone keeps %s",
			 pt_phone_trust_peek_itl(b->trust) ? "its own"
							   : "none");
		r = PT_OK;
	} else if (r != PT_OK) {
		r = fail_step(b, "itl", r, "%s: %s", f->name, got.why);
	} else {
		r = install_list(b, false, f, got.data, got.len);
	}
	pt_phone_fetch_clear(&got);
	return r;
}

/* ---- configuration ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int boot_encrypted(pt_phone_boot_t *b)
{
	char name[PT_CONFIGFILES_NAME_MAX];
	char hash[PT_ENCCONFIG_CERT_HASH_LEN + 1];
	pt_phone_fetch_t got;
	pt_phone_file_t *f;
	int r;

	pt_configfiles_build_name(PT_CONFIGFILES_ENCRYPTED, b->mac, name,
				  sizeof name);
	if (!b->cert || !b->key) {
		if (b->need_decrypt)
			return fail_step(b, "encryption", PT_ERR_INVALID,
					 "the configuration is encrypted "
					 "(encrConfig true) and the phone has "
					 "no certificate and key (--key)");
		if (!b->config.cert_hash[0])
			return PT_OK;
		/* A keyless phone of a storm still asks for the file, as
		 * the real one would, but cannot open it. */
		r = fetch(b, name, &got, &f);
		if (r == PT_OK)
			snprintf(f->detail, sizeof f->detail,
				 "not opened: the simulated phone has no key");
		else
			r = fail_step(b, "encrypted-config", r, "%s: %s",
				      name, got.why);
		pt_phone_fetch_clear(&got);
		return r;
	}
	if ((r = pt_encconfig_cert_hash(b->cert, hash)) != PT_OK)
		return fail_step(b, "encryption", r,
				 "cannot hash the phone certificate: %s",
				 pt_strerror(r));
	if (!b->config.cert_hash[0])
		return fail_step(b, "encryption", PT_ERR_DENIED,
				 "the configuration is encrypted but its "
				 "certHash is empty: the server holds no "
				 "certificate of this phone (a phone would "
				 "start a CAPF session)");
	if (strcasecmp(b->config.cert_hash, hash) != 0)
		return fail_step(b, "encryption", PT_ERR_DENIED,
				 "certHash %s is not the MD5 of this phone's "
				 "certificate (%s): the file is encrypted for "
				 "another certificate (a phone would start a "
				 "CAPF session)",
				 b->config.cert_hash, hash);
	r = fetch(b, name, &got, &f);
	if (r != PT_OK) {
		r = fail_step(b, "encrypted-config", r, "%s: %s", name,
			      got.why);
		goto out;
	}
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	pt_phone_diag_t d = {{0}};
	r = pt_phone_trust_open_encconfig(b->trust, got.data, got.len, name,
					  b->key, &plain, &plain_len, &d);
	if (r != PT_OK) {
		f->result = PT_PHONE_REFUSED;
		snprintf(f->detail, sizeof f->detail, "%s", d.text);
		r = fail_step(b, "encrypted-config", r, "%s: %s", name,
			      d.text);
		goto out;
	}
	f->result = PT_PHONE_DECRYPTED;
	r = pt_phone_config_parse(plain, plain_len, &b->config);
	pt_seal_wipe(plain, plain_len);
	free(plain);
	if (r != PT_OK) {
		r = fail_step(b, "encrypted-config", r,
			      "%s holds no phone configuration: %s", name,
			      pt_strerror(r));
		goto out;
	}
	b->decrypted = true;
	snprintf(f->detail, sizeof f->detail,
		 "decrypted with the key of the certificate %s", hash);
out:
	pt_phone_fetch_clear(&got);
	return r;
}

static int boot_config(pt_phone_boot_t *b)
{
	char base[PT_CONFIGFILES_NAME_MAX];
	char *name = NULL;
	pt_phone_fetch_t got = {0};
	pt_phone_file_t *f;
	const uint8_t *payload;
	size_t payload_len;
	int r;

	pt_configfiles_build_name(PT_CONFIGFILES_PLAIN, b->mac, base,
				  sizeof base);
	if (b->fetch_only) {
		if (asprintf(&name, "%s%s", base,
			     b->lists_want_signed ? ".sgn" : "") < 0)
			return fail_step(b, "config", PT_ERR_NOMEM,
					 "out of memory");
	} else if ((r = pt_phone_trust_request_name(b->trust, base, &name)) !=
		   PT_OK) {
		return fail_step(b, "config", r, "%s", pt_strerror(r));
	}
	r = fetch(b, name, &got, &f);
	if (r == PT_ERR_NOT_FOUND) {
		r = fail_step(b, "config", r, "the server has no %s%s", name,
			      ends_with(name, ".sgn")
				      ? " (a phone whose CTL or ITL holds a "
					"TFTP certificate asks for the signed "
					"file only)"
				      : "");
		goto out;
	}
	if (r != PT_OK) {
		r = fail_step(b, "config", r, "%s: %s", name, got.why);
		goto out;
	}
	payload = got.data;
	payload_len = got.len;
	if (b->fetch_only && ends_with(name, ".sgn")) {
		pt_sgn_diag_t d = {0};
		r = pt_sgn_strip(got.data, got.len, &payload, &payload_len, &d);
		if (r != PT_OK) {
			f->result = PT_PHONE_REFUSED;
			r = fail_step(b, "config", r,
				      "%s is no signed file: %s at offset %zu",
				      name, d.what, d.offset);
			goto out;
		}
	} else if (ends_with(name, ".sgn")) {
		pt_phone_diag_t d = {{0}};
		r = pt_phone_trust_verify_sgn(b->trust, got.data, got.len,
					      name, &payload, &payload_len,
					      &d);
		if (r != PT_OK) {
			f->result = PT_PHONE_REFUSED;
			snprintf(f->detail, sizeof f->detail, "%s", d.text);
			r = fail_step(b, "config", r, "%s", d.text);
			goto out;
		}
		f->result = PT_PHONE_VERIFIED;
		b->config_signed = true;
	}
	if ((r = pt_phone_config_parse(payload, payload_len, &b->config)) !=
	    PT_OK) {
		f->result = PT_PHONE_REFUSED;
		snprintf(f->detail, sizeof f->detail,
			 "not a phone configuration");
		r = fail_step(b, "config", r,
			      "%s holds no phone configuration: %s", name,
			      pt_strerror(r));
		goto out;
	}
	b->have_config = true;
	b->encrypted = strcasecmp(b->config.encr_config, "true") == 0;
	if (b->encrypted && strcasecmp(b->config.full_config, "true") != 0)
		r = boot_encrypted(b);
out:
	pt_phone_fetch_clear(&got);
	free(name);
	return r;
}

int pt_phone_boot_run(pt_phone_boot_t *b)
{
	int r;
	if ((r = pt_phone_trust_new(&b->trust)) != PT_OK)
		return fail_step(b, "state", r, "%s", pt_strerror(r));
	if ((r = load_state(b)) != PT_OK)
		return r;
	if (b->fetch_ctl && (r = boot_ctl(b)) != PT_OK)
		return r;
	if (b->fetch_itl && (r = boot_itl(b)) != PT_OK)
		return r;
	if (b->fetch_config && (r = boot_config(b)) != PT_OK)
		return r;
	return PT_OK;
}

void pt_phone_boot_clear(pt_phone_boot_t *b)
{
	pt_phone_trust_destroy(&b->trust);
	b->n_files = 0;
	b->failed_step = NULL;
	b->error[0] = '\0';
}
