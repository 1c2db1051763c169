/* What the simulated phone reads from its configuration file: the
 * security elements of encrypted-config.md §8, CAPF and TVS servers.  The
 * file came over the network: pt_phoneconfig_read() parses it with no
 * network, DTD or entity features and its messages silenced. */
#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/phoneconfig.h"
#include "phone.h"

#define CONFIG_MAX (4u * 1024u * 1024u)
/* Nesting a phone configuration never reaches; deeper is refused. */
#define DEPTH_MAX 64

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE &&
	       xmlStrEqual(n->name, (const xmlChar *)name);
}

static const xmlNode *child(const xmlNode *parent, const char *name)
{
	for (const xmlNode *c = parent ? parent->children : NULL; c;
	     c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The element's text, trimmed and cut to fit; "" for none.  Control
 * characters become '?' so the text is safe to print. */
static void text_of(const xmlNode *el, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	if (!el)
		return;
	xmlChar *t = xmlNodeGetContent(el);
	if (!t)
		return;
	const char *s = (const char *)t, *end = s + strlen(s);
	while (s < end && blank(*s))
		s++;
	while (end > s && blank(end[-1]))
		end--;
	for (; s < end && n + 1 < cap; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[n] = '\0';
	xmlFree(t);
}

static bool secret_name(const xmlChar *name)
{
	return name && strcasestr((const char *)name, "password") != NULL;
}

/* Counts password elements anywhere below el; their text is never
 * copied out of the document. */
static size_t count_secrets(const xmlNode *el, int depth)
{
	size_t n = 0;
	if (depth > DEPTH_MAX)
		return 0;
	for (const xmlNode *c = el->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (secret_name(c->name))
			n++;
		n += count_secrets(c, depth + 1);
	}
	return n;
}

static bool too_deep(const xmlNode *el, int depth)
{
	if (depth > DEPTH_MAX)
		return true;
	for (const xmlNode *c = el->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && too_deep(c, depth + 1))
			return true;
	return false;
}

static void read_capf(const xmlNode *list, pt_phone_config_t *out)
{
	for (const xmlNode *c = list ? list->children : NULL; c; c = c->next) {
		if (!is(c, "capf") || out->n_capf == PT_PHONE_SERVERS_MAX)
			continue;
		pt_phone_endpoint_t *e = &out->capf[out->n_capf++];
		text_of(child(c, "processNodeName"), e->host, sizeof e->host);
		text_of(child(c, "phonePort"), e->port, sizeof e->port);
	}
}

static void read_tvs(const xmlNode *tvs, pt_phone_config_t *out)
{
	const xmlNode *members = child(tvs, "members");
	for (const xmlNode *c = members ? members->children : NULL; c;
	     c = c->next) {
		if (!is(c, "member") || out->n_tvs == PT_PHONE_SERVERS_MAX)
			continue;
		pt_phone_endpoint_t *e = &out->tvs[out->n_tvs++];
		text_of(child(c, "address"), e->host, sizeof e->host);
		text_of(child(c, "port"), e->port, sizeof e->port);
	}
}

static void read_root(const xmlNode *root, pt_phone_config_t *out)
{
	text_of(child(root, "fullConfig"), out->full_config,
		sizeof out->full_config);
	text_of(child(root, "deviceName"), out->device_name,
		sizeof out->device_name);
	text_of(child(root, "deviceProtocol"), out->protocol,
		sizeof out->protocol);
	text_of(child(root, "deviceSecurityMode"), out->security_mode,
		sizeof out->security_mode);
	text_of(child(root, "transportLayerProtocol"), out->transport,
		sizeof out->transport);
	text_of(child(root, "capfAuthMode"), out->capf_auth_mode,
		sizeof out->capf_auth_mode);
	text_of(child(root, "certHash"), out->cert_hash,
		sizeof out->cert_hash);
	text_of(child(root, "encrConfig"), out->encr_config,
		sizeof out->encr_config);
	text_of(child(root, "loadInformation"), out->load_information,
		sizeof out->load_information);
	read_capf(child(root, "capfList"), out);
	read_tvs(child(root, "TVS"), out);
	const xmlNode *line =
		child(child(child(root, "sipProfile"), "sipLines"), "line");
	text_of(child(line, "authName"), out->auth_name,
		sizeof out->auth_name);
	out->secrets = count_secrets(root, 0);
}

int pt_phone_config_parse(const uint8_t *xml, size_t len,
			  pt_phone_config_t *out)
{
	xmlDoc *doc = NULL;
	memset(out, 0, sizeof *out);
	if (len > CONFIG_MAX)
		return PT_ERR_TOO_LARGE;
	int r = pt_phoneconfig_read(xml, len, &doc);
	if (r != PT_OK)
		return r;
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (!is(root, "device") || too_deep(root, 0)) {
		r = PT_ERR_MALFORMED;
	} else {
		read_root(root, out);
	}
	/* The document may hold passwords: overwritten before freed. */
	pt_phoneconfig_free_doc(doc);
	return r;
}

const char *pt_phone_config_mode_name(const char *code)
{
	static const char *const names[] = {"non-secure", "authenticated",
					    "encrypted"};
	if (code && code[0] >= '1' && code[0] <= '3' && !code[1])
		return names[code[0] - '1'];
	return NULL;
}

const char *pt_phone_config_transport_name(const char *code)
{
	static const char *const names[] = {"TCP", "UDP", "TLS"};
	if (code && code[0] >= '1' && code[0] <= '3' && !code[1])
		return names[code[0] - '1'];
	return NULL;
}
