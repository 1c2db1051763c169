/* XMLDefault.cnf.xml and RingList.xml builders: exact bytes, the same
 * server lists as device files, nothing device-specific or secret in the
 * default, escaping, determinism whatever the input order, refusals. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/phoneconfig.h"
#include "lib/profiles.h"
#include "lib/staticfiles.h"
#include "pt_test.h"

static const pt_phoneconfig_cm_t cms[] = {
	{"sub1", "10.0.0.2", 0, 0, 0},
	{"pub1", "10.0.0.1", 2001, 5070, 5071},
};
static const pt_phoneconfig_tvs_t tvs[] = {
	{"10.0.0.2", 0},
	{"10.0.0.1", 2446},
};

static char *build_default(const pt_staticfiles_default_in_t *in)
{
	uint8_t *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_staticfiles_build_default(in, &out, &len), PT_OK);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen((char *)out), len);
	return (char *)out;
}

static char *build_rings(const char *const *names, size_t n)
{
	uint8_t *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_staticfiles_build_ringlist(names, n, &out, &len),
			 PT_OK);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen((char *)out), len);
	return (char *)out;
}

/* Parses with libxml2 (no network, no entities): the output must be
 * well-formed XML. */
static xmlDoc *parse(const char *xml)
{
	xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "x.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	ck_assert_msg(doc != NULL, "not well-formed:\n%s", xml);
	return doc;
}

static const char expected_default[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<Default>\n"
	"  <callManagerGroup>\n"
	"    <members>\n"
	"      <member priority=\"0\">\n"
	"        <callManager>\n"
	"          <name>sub1</name>\n"
	"          <ports>\n"
	"            <ethernetPhonePort>2000</ethernetPhonePort>\n"
	"            <sipPort>5060</sipPort>\n"
	"            <securedSipPort>5061</securedSipPort>\n"
	"          </ports>\n"
	"          <processNodeName>10.0.0.2</processNodeName>\n"
	"        </callManager>\n"
	"      </member>\n"
	"      <member priority=\"1\">\n"
	"        <callManager>\n"
	"          <name>pub1</name>\n"
	"          <ports>\n"
	"            <ethernetPhonePort>2001</ethernetPhonePort>\n"
	"            <sipPort>5070</sipPort>\n"
	"            <securedSipPort>5071</securedSipPort>\n"
	"          </ports>\n"
	"          <processNodeName>10.0.0.1</processNodeName>\n"
	"        </callManager>\n"
	"      </member>\n"
	"    </members>\n"
	"  </callManagerGroup>\n"
	"  <TVS>\n"
	"    <members>\n"
	"      <member priority=\"0\">\n"
	"        <port>2445</port>\n"
	"        <address>10.0.0.2</address>\n"
	"      </member>\n"
	"      <member priority=\"1\">\n"
	"        <port>2446</port>\n"
	"        <address>10.0.0.1</address>\n"
	"      </member>\n"
	"    </members>\n"
	"  </TVS>\n"
	"</Default>\n";

START_TEST(default_whole_file)
{
	pt_staticfiles_default_in_t in = {cms, 2, tvs, 2};
	char *xml = build_default(&in);
	ck_assert_str_eq(xml, expected_default);
	char *again = build_default(&in);
	ck_assert_str_eq(xml, again);
	free(xml);
	free(again);
}
END_TEST

/* Lines with their indent removed, from the first line holding from up
 * to the first line holding to after it; caller frees. */
static char *block(const char *xml, const char *from, const char *to)
{
	const char *a = strstr(xml, from);
	ck_assert_ptr_nonnull(a);
	const char *b = strstr(a, to);
	ck_assert_ptr_nonnull(b);
	b += strlen(to);
	char *out = calloc(1, (size_t)(b - a) + 1);
	size_t n = 0;
	bool line_start = false;
	for (const char *p = a; p < b; p++) {
		if (line_start && *p == ' ')
			continue;
		line_start = *p == '\n';
		out[n++] = *p;
	}
	return out;
}

/* The members phones read from the default are those a device file
 * built from the same lists carries. */
START_TEST(default_servers_as_device_files)
{
	Pt__Device dev = PT__DEVICE__INIT;
	Pt__Profile prof;
	pt_profile_init(&prof, PT__PROTOCOL__PROTOCOL_SCCP);
	dev.name = "SEP001122334455";
	dev.protocol = PT__PROTOCOL__PROTOCOL_SCCP;
	pt_phoneconfig_in_t din = {.device = &dev,
				   .profile = &prof,
				   .capf_host = "10.0.0.1",
				   .cms = cms,
				   .cm_count = 2,
				   .tvs = tvs,
				   .tvs_count = 2};
	uint8_t *dbytes = NULL;
	size_t dlen = 0;
	ck_assert_int_eq(pt_phoneconfig_build(&din, &dbytes, &dlen), PT_OK);
	pt_staticfiles_default_in_t in = {cms, 2, tvs, 2};
	char *xml = build_default(&in);

	char *a = block((char *)dbytes, "<callManagerGroup>",
			"</callManagerGroup>");
	char *b = block(xml, "<callManagerGroup>", "</callManagerGroup>");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	a = block((char *)dbytes, "<TVS>", "</TVS>");
	b = block(xml, "<TVS>", "</TVS>");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	free(dbytes);
	free(xml);
}
END_TEST

/* Only the two cluster-wide lists: no device, CAPF, security or
 * credential element, whatever the servers are called. */
START_TEST(default_nothing_device_specific)
{
	pt_staticfiles_default_in_t in = {cms, 2, tvs, 2};
	char *xml = build_default(&in);
	xmlDoc *doc = parse(xml);
	xmlNode *root = xmlDocGetRootElement(doc);
	ck_assert_str_eq((const char *)root->name, "Default");
	ck_assert_ptr_null(root->properties);
	const char *want[] = {"callManagerGroup", "TVS"};
	size_t i = 0;
	for (xmlNode *c = root->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		ck_assert_uint_lt(i, 2);
		ck_assert_str_eq((const char *)c->name, want[i++]);
	}
	ck_assert_uint_eq(i, 2);
	xmlFreeDoc(doc);
	const char *never[] = {"authName",     "authPassword", "sipProfile",
			       "capf",         "certHash",     "encrConfig",
			       "deviceName",   "description",  "vendorConfig",
			       "deviceSecurityMode", "fullConfig", "SEP"};
	for (size_t k = 0; k < sizeof never / sizeof never[0]; k++)
		ck_assert_msg(strstr(xml, never[k]) == NULL, "%s in:\n%s",
			      never[k], xml);
	free(xml);
}
END_TEST

START_TEST(default_empty_lists_and_escaping)
{
	pt_staticfiles_default_in_t none = {NULL, 0, NULL, 0};
	char *xml = build_default(&none);
	ck_assert_str_eq(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			      "<Default>\n"
			      "  <callManagerGroup>\n"
			      "    <members></members>\n"
			      "  </callManagerGroup>\n"
			      "  <TVS>\n"
			      "    <members></members>\n"
			      "  </TVS>\n"
			      "</Default>\n");
	free(xml);

	pt_phoneconfig_cm_t hostile[] = {{"a&b<c>\"", "h&<>.example", 0, 0, 0}};
	pt_phoneconfig_tvs_t hostile_tvs[] = {{"t<&>", 0}};
	pt_staticfiles_default_in_t in = {hostile, 1, hostile_tvs, 1};
	xml = build_default(&in);
	ck_assert_ptr_nonnull(strstr(xml, "<name>a&amp;b&lt;c&gt;\"</name>"));
	ck_assert_ptr_nonnull(strstr(xml, "<processNodeName>h&amp;&lt;&gt;"
					  ".example</processNodeName>"));
	ck_assert_ptr_nonnull(
		strstr(xml, "<address>t&lt;&amp;&gt;</address>"));
	xmlDoc *doc = parse(xml);
	xmlChar *text = xmlNodeGetContent(xmlDocGetRootElement(doc));
	ck_assert_ptr_nonnull(strstr((char *)text, "a&b<c>\""));
	xmlFree(text);
	xmlFreeDoc(doc);
	free(xml);
}
END_TEST

static void default_refused(const pt_staticfiles_default_in_t *in)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 9;
	ck_assert_int_eq(pt_staticfiles_build_default(in, &out, &len),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
}

START_TEST(default_refusals)
{
	default_refused(NULL);
	pt_phoneconfig_cm_t cm[] = {{"n", NULL, 0, 0, 0}};
	pt_staticfiles_default_in_t in = {cm, 1, NULL, 0};
	default_refused(&in); /* no host */
	cm[0].host = "bad\nhost";
	default_refused(&in);
	cm[0].host = "h";
	cm[0].sip_port = 70000;
	default_refused(&in);
	pt_phoneconfig_tvs_t tv[] = {{"", 0}};
	pt_staticfiles_default_in_t in2 = {NULL, 0, tv, 1};
	default_refused(&in2);
	pt_staticfiles_default_in_t in3 = {NULL, 1, NULL, 0};
	default_refused(&in3); /* a count without a list */
	pt_staticfiles_default_in_t in4 = {cms, PT_PHONECONFIG_SERVERS_MAX + 1,
					   NULL, 0};
	default_refused(&in4);
	uint8_t *out = NULL;
	ck_assert_int_eq(pt_staticfiles_build_default(&in2, &out, NULL),
			 PT_ERR_INVALID);
}
END_TEST

/* ---- RingList.xml ---- */

START_TEST(ringlist_whole_file_any_order)
{
	const char *names[] = {"readme.txt", "Piano2.pcm", "Chirp_1.raw",
			       "Desktops",   "Piano2.pcm", "ALARM.RAW"};
	char *xml = build_rings(names, 6);
	ck_assert_str_eq(xml,
			 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<CiscoIPPhoneRingList>\n"
			 "  <Ring>\n"
			 "    <DisplayName>ALARM</DisplayName>\n"
			 "    <FileName>ALARM.RAW</FileName>\n"
			 "  </Ring>\n"
			 "  <Ring>\n"
			 "    <DisplayName>Chirp 1</DisplayName>\n"
			 "    <FileName>Chirp_1.raw</FileName>\n"
			 "  </Ring>\n"
			 "  <Ring>\n"
			 "    <DisplayName>Piano2</DisplayName>\n"
			 "    <FileName>Piano2.pcm</FileName>\n"
			 "  </Ring>\n"
			 "</CiscoIPPhoneRingList>\n");
	/* Every order of the listing gives the same bytes. */
	const char *reversed[] = {"ALARM.RAW", "Piano2.pcm", "Desktops",
				  "Chirp_1.raw", "Piano2.pcm", "readme.txt"};
	char *again = build_rings(reversed, 6);
	ck_assert_str_eq(xml, again);
	free(again);
	free(xml);

	xml = build_rings(NULL, 0);
	ck_assert_str_eq(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			      "<CiscoIPPhoneRingList>"
			      "</CiscoIPPhoneRingList>\n");
	free(xml);
}
END_TEST

START_TEST(ringlist_escaped)
{
	const char *names[] = {"R&B <1>.raw", "say \"hi\".pcm"};
	char *xml = build_rings(names, 2);
	ck_assert_ptr_nonnull(
		strstr(xml, "<FileName>R&amp;B &lt;1&gt;.raw</FileName>"));
	ck_assert_ptr_nonnull(
		strstr(xml, "<DisplayName>R&amp;B &lt;1&gt;</DisplayName>"));
	ck_assert_ptr_nonnull(
		strstr(xml, "<FileName>say \"hi\".pcm</FileName>"));
	xmlDoc *doc = parse(xml);
	xmlNode *ring = xmlDocGetRootElement(doc)->children;
	ck_assert_str_eq((const char *)ring->name, "Ring");
	xmlChar *file = xmlNodeGetContent(ring->children->next);
	ck_assert_str_eq((const char *)file, "R&B <1>.raw");
	xmlFree(file);
	xmlFreeDoc(doc);
	free(xml);
}
END_TEST

START_TEST(ring_tone_names)
{
	const char *yes[] = {"a.raw", "Chirp1.RAW", "x y.pcm", "a.b.pcm",
			     "_.raw"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(pt_staticfiles_is_ring_tone(yes[i]), "%s",
			      yes[i]);
	char long_name[PT_STATICFILES_RING_NAME_MAX + 2];
	memset(long_name, 'a', sizeof long_name);
	strcpy(long_name + PT_STATICFILES_RING_NAME_MAX - 4, ".raw");
	ck_assert(pt_staticfiles_is_ring_tone(long_name));
	memset(long_name, 'a', sizeof long_name);
	strcpy(long_name + PT_STATICFILES_RING_NAME_MAX - 3, ".raw");
	const char *no[] = {NULL, "", ".raw", ".hidden.raw", "a.wav",
			    "a.raw.txt", "dir/a.raw", "dir\\a.raw",
			    "tab\t.raw", "caf\xc3\xa9.raw", "a.ra", "raw",
			    long_name};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!pt_staticfiles_is_ring_tone(no[i]), "%zu", i);

	/* None of those can get into a list. */
	char *xml = build_rings(no + 1, sizeof no / sizeof no[0] - 1);
	ck_assert_ptr_null(strstr(xml, "<Ring>"));
	free(xml);
}
END_TEST

static void display_is(const char *file, const char *want)
{
	char buf[PT_STATICFILES_DISPLAY_MAX + 1];
	ck_assert_int_eq(pt_staticfiles_display_name(file, buf, sizeof buf),
			 PT_OK);
	ck_assert_str_eq(buf, want);
}

START_TEST(display_names)
{
	display_is("Chirp1.raw", "Chirp1");
	display_is("Analog_Synth_1.pcm", "Analog Synth 1");
	display_is("_padded_.raw", "padded");
	display_is("___.raw", "___");
	display_is("a.b.pcm", "a.b");
	display_is("An_extremely_long_ring_tone_name.raw",
		   "An extremely long ring to");
	display_is("abcdefghijklmnopqrstuvwx_z.raw",
		   "abcdefghijklmnopqrstuvwx");
	char small[PT_STATICFILES_DISPLAY_MAX];
	ck_assert_int_eq(pt_staticfiles_display_name("a.raw", small,
						     sizeof small),
			 PT_ERR_TOO_LARGE);
	char buf[PT_STATICFILES_DISPLAY_MAX + 1];
	ck_assert_int_eq(pt_staticfiles_display_name("a.txt", buf, sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_staticfiles_display_name("a.raw", NULL, 40),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(ringlist_caps)
{
	size_t n = PT_STATICFILES_RINGS_MAX + 1;
	char **names = calloc(n + 1, sizeof *names);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_ge(asprintf(&names[i], "r%04zu.raw", i), 0);
	/* The same name twice counts once: exactly at the cap is fine. */
	names[n] = strdup("r0001.raw");
	char *xml = build_rings((const char *const *)names + 1, n);
	ck_assert_ptr_nonnull(strstr(xml, "r0256.raw"));
	ck_assert_ptr_null(strstr(xml, "r0000.raw"));
	free(xml);
	uint8_t *out = (uint8_t *)"x";
	size_t len = 3;
	ck_assert_int_eq(pt_staticfiles_build_ringlist(
				 (const char *const *)names, n, &out, &len),
			 PT_ERR_TOO_LARGE);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(pt_staticfiles_build_ringlist(NULL, 2, &out, &len),
			 PT_ERR_INVALID);
	for (size_t i = 0; i <= n; i++)
		free(names[i]);
	free(names);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("staticfiles");
	TCase *td = tcase_create("default");
	tcase_add_test(td, default_whole_file);
	tcase_add_test(td, default_servers_as_device_files);
	tcase_add_test(td, default_nothing_device_specific);
	tcase_add_test(td, default_empty_lists_and_escaping);
	tcase_add_test(td, default_refusals);
	suite_add_tcase(s, td);
	TCase *tr = tcase_create("ringlist");
	tcase_add_test(tr, ringlist_whole_file_any_order);
	tcase_add_test(tr, ringlist_escaped);
	tcase_add_test(tr, ring_tone_names);
	tcase_add_test(tr, display_names);
	tcase_add_test(tr, ringlist_caps);
	suite_add_tcase(s, tr);
	return pt_test_main(s);
}
