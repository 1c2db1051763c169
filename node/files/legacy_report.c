#include "files/legacy_report.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/errors.h"

enum { F_CSV, F_JSON, F_QUAR, F_COUNT };
static const char *const suffix[F_COUNT] = {".csv", ".json", ".quarantine"};

struct pt_legacy_report {
	char *final[F_COUNT];
	char *tmp[F_COUNT];
	FILE *f[F_COUNT];
	uint64_t lines;
	int err; /* first write error, kept until close */
	uint8_t *mask_buf;
	size_t mask_cap;
};

static const char csv_header[] =
	"action,device,directory,file,first_line,last_line,reason\r\n";

static const char quarantine_header[] =
	"# phonetrust migrate legacy: quarantined records\n"
	"#\n"
	"# Each entry names the source file, the lines and the reason, then\n"
	"# reproduces the record's lines verbatim, as bytes of the original\n"
	"# file (Windows-1252), with one exception: the value of every\n"
	"# AuthString key is masked as " PT_LEGACY_MASK
	".  The clear strings stay only\n"
	"# in the original and in its archived copy under legacy-archive/.\n"
	"# Nothing of these records was imported; fix them in the source and\n"
	"# run the migration again.\n";

void pt_legacy_report_destroy(pt_legacy_report_t **rp)
{
	if (!rp || !*rp)
		return;
	pt_legacy_report_t *r = *rp;
	for (int i = 0; i < F_COUNT; i++) {
		if (r->f[i])
			fclose(r->f[i]);
		if (r->tmp[i])
			unlink(r->tmp[i]);
		free(r->tmp[i]);
		free(r->final[i]);
	}
	free(r->mask_buf);
	free(r);
	*rp = NULL;
}

int pt_legacy_report_open(const char *prefix, pt_legacy_report_t **out)
{
	pt_legacy_report_t *r = calloc(1, sizeof *r);
	int ret = PT_ERR_NOMEM;
	*out = NULL;
	if (!r)
		return PT_ERR_NOMEM;
	for (int i = 0; i < F_COUNT; i++) {
		if (asprintf(&r->final[i], "%s%s", prefix, suffix[i]) < 0) {
			r->final[i] = NULL;
			goto fail;
		}
		if (asprintf(&r->tmp[i], "%s%s.tmp", prefix, suffix[i]) < 0) {
			r->tmp[i] = NULL;
			goto fail;
		}
		int fd = open(r->tmp[i],
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || !(r->f[i] = fdopen(fd, "w"))) {
			ret = PT_ESYS(errno);
			if (fd >= 0)
				close(fd);
			goto fail;
		}
	}
	fputs(csv_header, r->f[F_CSV]);
	fputs("{\n\"devices\": [", r->f[F_JSON]);
	fputs(quarantine_header, r->f[F_QUAR]);
	*out = r;
	return PT_OK;
fail:
	pt_legacy_report_destroy(&r);
	return ret;
}

static void csv_field(FILE *f, const char *s, bool last)
{
	csv_fwrite(f, s, strlen(s));
	fputs(last ? "\r\n" : ",", f);
}

int pt_legacy_report_line(pt_legacy_report_t *r, const pt_legacy_line_t *l)
{
	char first[16], last[16];
	const char *action = pt_legacy_action_name(l->action);
	snprintf(first, sizeof first, "%u", l->first_line);
	snprintf(last, sizeof last, "%u", l->last_line);
	FILE *c = r->f[F_CSV];
	csv_field(c, action, false);
	csv_field(c, l->device ? l->device : "", false);
	csv_field(c, l->directory, false);
	csv_field(c, l->file, false);
	csv_field(c, first, false);
	csv_field(c, last, false);
	csv_field(c, l->reason ? l->reason : "", true);

	json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:i, s:i, s:s}", "action",
			      action, "device", l->device, "directory",
			      l->directory, "file", l->file, "first_line",
			      (json_int_t)l->first_line, "last_line",
			      (json_int_t)l->last_line, "reason",
			      l->reason ? l->reason : "");
	if (o && l->code)
		json_object_set_new(o, "code", json_string(l->code));
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)
		       : NULL;
	json_decref(o);
	if (!text)
		return r->err = PT_ERR_NOMEM;
	fprintf(r->f[F_JSON], "%s\n%s", r->lines ? "," : "", text);
	free(text);
	r->lines++;
	if (ferror(c) || ferror(r->f[F_JSON]))
		r->err = PT_ESYS(EIO);
	return r->err;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

size_t pt_legacy_mask_auth(const uint8_t *raw, size_t len, uint8_t *out)
{
	static const char key[] = "authstring";
	const char *p = (const char *)raw, *end = p + len;
	size_t w = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol + 1 : end;
		const char *k = skip_blanks(p, line_end);
		const char *eq = NULL;
		if ((size_t)(line_end - k) > sizeof key - 1 &&
		    strncasecmp(k, key, sizeof key - 1) == 0) {
			const char *q = skip_blanks(k + sizeof key - 1,
						    line_end);
			if (q < line_end && *q == '=')
				eq = q;
		}
		if (!eq) {
			memcpy(out + w, p, (size_t)(line_end - p));
			w += (size_t)(line_end - p);
			p = line_end;
			continue;
		}
		/* Keep the key, '=' and blanks after it; the value ends at
		 * the line end, a CR, or a " ;" comment. */
		const char *v = skip_blanks(eq + 1, line_end);
		const char *ve = v;
		while (ve < line_end && *ve != '\r' && *ve != '\n' &&
		       !(ve[0] == ' ' && ve + 1 < line_end && ve[1] == ';'))
			ve++;
		memcpy(out + w, p, (size_t)(v - p));
		w += (size_t)(v - p);
		if (ve > v) {
			memcpy(out + w, PT_LEGACY_MASK,
			       sizeof PT_LEGACY_MASK - 1);
			w += sizeof PT_LEGACY_MASK - 1;
		}
		memcpy(out + w, ve, (size_t)(line_end - ve));
		w += (size_t)(line_end - ve);
		p = line_end;
	}
	return w;
}

int pt_legacy_report_quarantine(pt_legacy_report_t *r, const char *directory,
				const char *file,
				const pt_legacy_quarantine_t *q)
{
	char reason[PT_LEGACY_REASON_MAX + 64];
	snprintf(reason, sizeof reason, "%s: %s", q->reason,
		 q->why ? q->why : "");
	pt_legacy_line_t l = {
		.action = PT_LEGACY_QUARANTINED,
		.device = q->section,
		.directory = directory,
		.file = file,
		.first_line = q->first_line,
		.last_line = q->last_line,
		.code = q->reason,
		.reason = reason,
	};
	int ret = pt_legacy_report_line(r, &l);
	if (ret != PT_OK)
		return ret;

	size_t lines = 1;
	for (size_t i = 0; i < q->raw_len; i++)
		lines += q->raw[i] == '\n';
	size_t need = q->raw_len + lines * (sizeof PT_LEGACY_MASK - 1) + 1;
	if (need > r->mask_cap) {
		uint8_t *grown = realloc(r->mask_buf, need);
		if (!grown)
			return r->err = PT_ERR_NOMEM;
		r->mask_buf = grown;
		r->mask_cap = need;
	}
	size_t n = pt_legacy_mask_auth(q->raw, q->raw_len, r->mask_buf);
	FILE *f = r->f[F_QUAR];
	fprintf(f, "\n== %s/%s lines %u-%u: %s\n", directory, file,
		q->first_line, q->last_line, reason);
	fwrite(r->mask_buf, 1, n, f);
	if (n && r->mask_buf[n - 1] != '\n')
		fputc('\n', f);
	if (q->raw_truncated)
		fputs("[... the record is longer; the rest is not shown]\n", f);
	pt_seal_wipe(r->mask_buf, n);
	if (ferror(f))
		r->err = PT_ESYS(EIO);
	return r->err;
}

static int finish_file(FILE **f)
{
	int r = PT_OK;
	if (fflush(*f) != 0 || fsync(fileno(*f)) != 0)
		r = PT_ESYS(errno);
	if (fclose(*f) != 0 && r == PT_OK)
		r = PT_ESYS(errno);
	*f = NULL;
	return r;
}

int pt_legacy_report_close(pt_legacy_report_t **rp, json_t *summary)
{
	pt_legacy_report_t *r = *rp;
	int ret = r->err;
	FILE *j = r->f[F_JSON];
	fputs(r->lines ? "\n]" : "]", j);
	const char *key;
	json_t *value;
	json_object_foreach(summary, key, value) {
		json_t *k = json_string(key);
		char *kt = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
		char *vt = json_dumps(value, JSON_ENCODE_ANY | JSON_INDENT(1) |
						     JSON_ENSURE_ASCII);
		if (kt && vt)
			fprintf(j, ",\n%s: %s", kt, vt);
		else
			ret = PT_ERR_NOMEM;
		free(kt);
		free(vt);
		json_decref(k);
	}
	fputs("\n}\n", j);
	for (int i = 0; i < F_COUNT; i++) {
		int fr = finish_file(&r->f[i]);
		if (ret == PT_OK)
			ret = fr;
	}
	for (int i = 0; ret == PT_OK && i < F_COUNT; i++) {
		if (rename(r->tmp[i], r->final[i]) != 0)
			ret = PT_ESYS(errno);
		else {
			free(r->tmp[i]);
			r->tmp[i] = NULL;
		}
	}
	pt_legacy_report_destroy(rp);
	return ret;
}
