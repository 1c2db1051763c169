#include "lib/minconfig.h"

#include <libxml/tree.h>
#include <stdbool.h>
#include <string.h>

#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/phoneconfig.h"
#include "lib/seal.h"

/* Below libxml2's own nesting limit, so a refusal here is ours. */
#define COPY_DEPTH_MAX 128u

static const char *const copied[] = {"ipAddressMode", "loadInformation",
				     "capfAuthMode", "capfList"};

static bool hash_ok(const char *h)
{
	if (strlen(h) != PT_ENCCONFIG_CERT_HASH_LEN)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool unprefixed(const xmlNs *ns)
{
	return !ns || !ns->prefix;
}

static bool blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (!strchr(" \t\r\n", *s))
			return false;
	return true;
}

static int add_text(xmlDoc *doc, xmlNode *parent, const xmlChar *text)
{
	xmlNode *t = xmlNewDocText(doc, text);

	if (!t || !xmlAddChild(parent, t)) {
		xmlFreeNode(t);
		return PT_ERR_NOMEM;
	}
	return PT_OK;
}

static int copy_attrs(xmlNode *dst, const xmlNode *src)
{
	for (const xmlAttr *a = src->properties; a; a = a->next) {
		xmlChar *v;
		xmlAttr *made;

		if (!unprefixed(a->ns))
			continue;
		if (!(v = xmlNodeGetContent((const xmlNode *)a)))
			return PT_ERR_NOMEM;
		made = xmlNewProp(dst, a->name, v);
		pt_seal_wipe(v, (size_t)xmlStrlen(v));
		xmlFree(v);
		if (!made)
			return PT_ERR_NOMEM;
	}
	return PT_OK;
}

/* Copies element src (from the parsed input) under dst_parent. */
static int copy_element(xmlDoc *doc, xmlNode *dst_parent, const xmlNode *src,
			unsigned depth)
{
	bool has_elem = false;
	xmlNode *el;
	int r;

	if (depth > COPY_DEPTH_MAX)
		return PT_ERR_MALFORMED;
	el = xmlNewDocNode(doc, NULL, src->name, NULL);
	if (!el || !xmlAddChild(dst_parent, el)) {
		xmlFreeNode(el);
		return PT_ERR_NOMEM;
	}
	if ((r = copy_attrs(el, src)) != PT_OK)
		return r;
	for (const xmlNode *c = src->children; c; c = c->next)
		has_elem |= c->type == XML_ELEMENT_NODE;
	for (const xmlNode *c = src->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE)
			r = copy_element(doc, el, c, depth + 1);
		else if ((c->type == XML_TEXT_NODE ||
			  c->type == XML_CDATA_SECTION_NODE) &&
			 !(has_elem && blank(c->content)))
			r = add_text(doc, el, c->content);
		else
			r = PT_OK;
		if (r != PT_OK)
			return r;
	}
	return PT_OK;
}

static int add_leaf(xmlDoc *doc, xmlNode *parent, const char *name,
		    const char *text)
{
	xmlNode *el = xmlNewDocNode(doc, NULL, (const xmlChar *)name, NULL);

	if (!el || !xmlAddChild(parent, el)) {
		xmlFreeNode(el);
		return PT_ERR_NOMEM;
	}
	return *text ? add_text(doc, el, (const xmlChar *)text) : PT_OK;
}

static bool is_copied(const xmlNode *n)
{
	if (n->type != XML_ELEMENT_NODE || !unprefixed(n->ns))
		return false;
	for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
		if (xmlStrEqual(n->name, (const xmlChar *)copied[i]))
			return true;
	return false;
}

static int build_minimal(const xmlNode *src_root, const char *hash,
			 uint8_t **out, size_t *out_len)
{
	xmlDoc *doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNode *root = NULL;
	int r = PT_ERR_NOMEM;

	if (!doc ||
	    !(root = xmlNewDocNode(doc, NULL, (const xmlChar *)"device", NULL)))
		goto out;
	xmlDocSetRootElement(doc, root);
	if ((r = add_leaf(doc, root, "fullConfig", "false")) != PT_OK)
		goto out;
	for (const xmlNode *c = src_root->children; c; c = c->next)
		if (is_copied(c) &&
		    (r = copy_element(doc, root, c, 1)) != PT_OK)
			goto out;
	if ((r = add_leaf(doc, root, "certHash", hash)) != PT_OK ||
	    (r = add_leaf(doc, root, "encrConfig", "true")) != PT_OK)
		goto out;
	r = pt_phoneconfig_encode(root, out, out_len);
out:
	pt_phoneconfig_free_doc(doc);
	return r;
}

int pt_minconfig_build(const uint8_t *full, size_t len, const char *cert_hash,
		       uint8_t **out, size_t *out_len)
{
	xmlDoc *doc = NULL;
	const xmlNode *root;
	int r;

	if (!out || !out_len)
		return PT_ERR_INVALID;
	*out = NULL;
	*out_len = 0;
	if (!full || (cert_hash && *cert_hash && !hash_ok(cert_hash)))
		return PT_ERR_INVALID;
	if (len > PT_MINCONFIG_INPUT_MAX)
		return PT_ERR_TOO_LARGE;
	if ((r = pt_phoneconfig_read(full, len, &doc)) != PT_OK)
		return r;
	root = xmlDocGetRootElement(doc);
	if (!root || !xmlStrEqual(root->name, (const xmlChar *)"device") ||
	    !unprefixed(root->ns))
		r = PT_ERR_MALFORMED;
	else
		r = build_minimal(root, cert_hash ? cert_hash : "", out,
				  out_len);
	pt_phoneconfig_free_doc(doc);
	return r;
}
