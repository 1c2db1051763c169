#include "lib/staticfiles.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"

/* Both files start as an empty document with root; the caller adds to
 * it, then finish() encodes and frees. */
static int start(const char *root_name, xmlDoc **doc, xmlNode **root)
{
	xmlInitParser();
	*doc = xmlNewDoc((const xmlChar *)"1.0");
	if (!*doc)
		return PT_ERR_NOMEM;
	*root = xmlNewDocNode(*doc, NULL, (const xmlChar *)root_name, NULL);
	if (!*root) {
		xmlFreeDoc(*doc);
		*doc = NULL;
		return PT_ERR_NOMEM;
	}
	xmlDocSetRootElement(*doc, *root);
	return PT_OK;
}

int pt_staticfiles_build_default(const pt_staticfiles_default_in_t *in,
				 uint8_t **out, size_t *out_len)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	int r;

	if (!out || !out_len)
		return PT_ERR_INVALID;
	*out = NULL;
	*out_len = 0;
	if (!in)
		return PT_ERR_INVALID;
	if ((r = start("Default", &doc, &root)) != PT_OK)
		return r;
	r = pt_phoneconfig_add_servers(root, in->cms, in->cm_count, in->tvs,
				       in->tvs_count);
	if (r == PT_OK)
		r = pt_phoneconfig_encode(root, out, out_len);
	xmlFreeDoc(doc);
	return r;
}

/* The length of the stem before a ".raw" or ".pcm" suffix, 0 when there
 * is no such suffix or nothing before it. */
static size_t ring_stem_len(const char *name, size_t len)
{
	if (len <= 4)
		return 0;
	const char *suffix = name + len - 4;
	if (strcasecmp(suffix, ".raw") != 0 && strcasecmp(suffix, ".pcm") != 0)
		return 0;
	return len - 4;
}

bool pt_staticfiles_is_ring_tone(const char *name)
{
	if (!name || name[0] == '.')
		return false;
	size_t len = strnlen(name, PT_STATICFILES_RING_NAME_MAX + 1);
	if (len > PT_STATICFILES_RING_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c > 0x7e || c == '/' || c == '\\')
			return false;
	}
	return ring_stem_len(name, len) > 0;
}

/* Copies at most PT_STATICFILES_DISPLAY_MAX bytes of stem (stem_len
 * bytes) into buf, '_' as a space, optionally trimmed; returns the
 * length written. */
static size_t display_copy(const char *stem, size_t stem_len, bool trim,
			   char *buf)
{
	size_t start = 0, n = 0;
	if (trim)
		while (start < stem_len &&
		       (stem[start] == ' ' || stem[start] == '_'))
			start++;
	for (size_t i = start; i < stem_len && n < PT_STATICFILES_DISPLAY_MAX;
	     i++)
		buf[n++] = stem[i] == '_' ? ' ' : stem[i];
	if (trim)
		while (n > 0 && buf[n - 1] == ' ')
			n--;
	buf[n] = '\0';
	return n;
}

int pt_staticfiles_display_name(const char *name, char *buf, size_t len)
{
	if (!pt_staticfiles_is_ring_tone(name) || !buf)
		return PT_ERR_INVALID;
	if (len < PT_STATICFILES_DISPLAY_MAX + 1)
		return PT_ERR_TOO_LARGE;
	size_t stem_len = ring_stem_len(name, strlen(name));
	/* "___.raw" would show as nothing: show the stem as it is. */
	if (display_copy(name, stem_len, true, buf) == 0) {
		size_t n = stem_len < PT_STATICFILES_DISPLAY_MAX
				   ? stem_len
				   : PT_STATICFILES_DISPLAY_MAX;
		memcpy(buf, name, n);
		buf[n] = '\0';
	}
	return PT_OK;
}

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_text(xmlDoc *doc, xmlNode *parent, const char *name,
		    const char *text)
{
	xmlNode *el = xmlNewDocNode(doc, NULL, (const xmlChar *)name, NULL);
	if (!el || !xmlAddChild(parent, el)) {
		xmlFreeNode(el);
		return PT_ERR_NOMEM;
	}
	/* Content given to xmlNewDocNode is read for entity references; a
	 * text node keeps "&" as it is and the encoder escapes it. */
	xmlNode *t = xmlNewDocText(doc, (const xmlChar *)text);
	if (!t || !xmlAddChild(el, t)) {
		xmlFreeNode(t);
		return PT_ERR_NOMEM;
	}
	return PT_OK;
}

static int add_ring(xmlDoc *doc, xmlNode *root, const char *file)
{
	char display[PT_STATICFILES_DISPLAY_MAX + 1];
	int r = pt_staticfiles_display_name(file, display, sizeof display);
	if (r != PT_OK)
		return r;
	xmlNode *ring = xmlNewDocNode(doc, NULL, (const xmlChar *)"Ring", NULL);
	if (!ring || !xmlAddChild(root, ring)) {
		xmlFreeNode(ring);
		return PT_ERR_NOMEM;
	}
	if ((r = add_text(doc, ring, "DisplayName", display)) != PT_OK)
		return r;
	return add_text(doc, ring, "FileName", file);
}

int pt_staticfiles_build_ringlist(const char *const *names, size_t n,
				  uint8_t **out, size_t *out_len)
{
	const char **rings = NULL;
	size_t count = 0;
	xmlDoc *doc = NULL;
	xmlNode *root;
	int r;

	if (!out || !out_len)
		return PT_ERR_INVALID;
	*out = NULL;
	*out_len = 0;
	if (n && !names)
		return PT_ERR_INVALID;
	if (n && !(rings = calloc(n, sizeof *rings)))
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (pt_staticfiles_is_ring_tone(names[i]))
			rings[count++] = names[i];
	if (count)
		qsort(rings, count, sizeof *rings, by_bytes);
	size_t unique = 0;
	for (size_t i = 0; i < count; i++)
		if (unique == 0 || strcmp(rings[unique - 1], rings[i]) != 0)
			rings[unique++] = rings[i];
	if (unique > PT_STATICFILES_RINGS_MAX) {
		r = PT_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = start("CiscoIPPhoneRingList", &doc, &root)) != PT_OK)
		goto out;
	for (size_t i = 0; i < unique && r == PT_OK; i++)
		r = add_ring(doc, root, rings[i]);
	if (r == PT_OK)
		r = pt_phoneconfig_encode(root, out, out_len);
out:
	xmlFreeDoc(doc);
	free(rings);
	return r;
}
