#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/phoneconfig.h"
#include "lib/profiles.h"
#include "pt_test.h"
#include "pt_testcert.h"

/* A device, its profile, the CAPF hardening and the cluster facts: the
 * inputs every test starts from and changes a little. */
typedef struct fixture {
	Pt__Device dev;
	Pt__Profile prof;
	Pt__CapfSettings capf;
	Pt__Hardening hard;
	pt_phoneconfig_cm_t cms[2];
	pt_phoneconfig_tvs_t tvs[2];
	pt_phoneconfig_in_t in;
} fixture_t;

static void fixture_init(fixture_t *f, Pt__Protocol protocol)
{
	memset(f, 0, sizeof *f);
	pt__device__init(&f->dev);
	pt_profile_init(&f->prof, protocol);
	pt__capf_settings__init(&f->capf);
	pt__hardening__init(&f->hard);
	f->dev.name = "SEP001122334455";
	f->dev.description = "Lobby phone";
	f->dev.model = "7975";
	f->dev.protocol = protocol;
	f->dev.capf = &f->capf;
	f->dev.hardening = &f->hard;
	f->cms[0] = (pt_phoneconfig_cm_t){"pub1", "10.0.0.1", 0, 0, 0};
	f->cms[1] = (pt_phoneconfig_cm_t){"sub1", "10.0.0.2", 2001, 5070, 5071};
	f->tvs[0] = (pt_phoneconfig_tvs_t){"10.0.0.2", 0};
	f->tvs[1] = (pt_phoneconfig_tvs_t){"10.0.0.3", 2446};
	f->in.device = &f->dev;
	f->in.profile = &f->prof;
	f->in.capf_host = "10.0.0.1";
	f->in.cms = f->cms;
	f->in.cm_count = 2;
	f->in.tvs = f->tvs;
	f->in.tvs_count = 2;
}

static char *build(const fixture_t *f)
{
	uint8_t *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_phoneconfig_build(&f->in, &out, &len), PT_OK);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen((char *)out), len);
	return (char *)out;
}

static int build_err(const fixture_t *f)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len = 7;
	int r = pt_phoneconfig_build(&f->in, &out, &len);
	ck_assert_int_ne(r, PT_OK);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	return r;
}

static bool has(const char *xml, const char *needle)
{
	return strstr(xml, needle) != NULL;
}

static const char expected_sccp[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<device>\n"
	"  <fullConfig>true</fullConfig>\n"
	"  <deviceName>SEP001122334455</deviceName>\n"
	"  <description>Lobby phone</description>\n"
	"  <model>7975</model>\n"
	"  <deviceProtocol>SCCP</deviceProtocol>\n"
	"  <ipAddressMode>0</ipAddressMode>\n"
	"  <devicePool>\n"
	"    <callManagerGroup>\n"
	"      <members>\n"
	"        <member priority=\"0\">\n"
	"          <callManager>\n"
	"            <name>pub1</name>\n"
	"            <ports>\n"
	"              <ethernetPhonePort>2000</ethernetPhonePort>\n"
	"              <sipPort>5060</sipPort>\n"
	"              <securedSipPort>5061</securedSipPort>\n"
	"            </ports>\n"
	"            <processNodeName>10.0.0.1</processNodeName>\n"
	"          </callManager>\n"
	"        </member>\n"
	"        <member priority=\"1\">\n"
	"          <callManager>\n"
	"            <name>sub1</name>\n"
	"            <ports>\n"
	"              <ethernetPhonePort>2001</ethernetPhonePort>\n"
	"              <sipPort>5070</sipPort>\n"
	"              <securedSipPort>5071</securedSipPort>\n"
	"            </ports>\n"
	"            <processNodeName>10.0.0.2</processNodeName>\n"
	"          </callManager>\n"
	"        </member>\n"
	"      </members>\n"
	"    </callManagerGroup>\n"
	"  </devicePool>\n"
	"  <TVS>\n"
	"    <members>\n"
	"      <member priority=\"0\">\n"
	"        <port>2445</port>\n"
	"        <address>10.0.0.2</address>\n"
	"      </member>\n"
	"      <member priority=\"1\">\n"
	"        <port>2446</port>\n"
	"        <address>10.0.0.3</address>\n"
	"      </member>\n"
	"    </members>\n"
	"  </TVS>\n"
	"  <loadInformation></loadInformation>\n"
	"  <deviceSecurityMode>1</deviceSecurityMode>\n"
	"  <transportLayerProtocol>1</transportLayerProtocol>\n"
	"  <capfAuthMode>2</capfAuthMode>\n"
	"  <capfList>\n"
	"    <capf>\n"
	"      <phonePort>3804</phonePort>\n"
	"      <processNodeName>10.0.0.1</processNodeName>\n"
	"    </capf>\n"
	"  </capfList>\n"
	"  <certHash></certHash>\n"
	"  <encrConfig>false</encrConfig>\n"
	"</device>\n";

START_TEST(sccp_whole_file)
{
	fixture_t f;
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	char *xml = build(&f);
	ck_assert_str_eq(xml, expected_sccp);
	free(xml);
}
END_TEST

START_TEST(deterministic)
{
	fixture_t f;
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.dev.digest_user = "alice";
	f.in.digest_password = "pw";
	f.in.digest_password_len = 2;
	f.hard.web_access = PT__TOGGLE__TOGGLE_DISABLED;
	char *a = build(&f);
	char *b = build(&f);
	ck_assert_str_eq(a, b);
	/* Any change of input changes the bytes. */
	f.tvs[1].port = 2447;
	char *c = build(&f);
	ck_assert_str_ne(a, c);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(sip_credentials_and_ports)
{
	fixture_t f;
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.dev.model = "8841";
	f.dev.digest_user = "alice";
	f.prof.sip_phone_port = 5062;
	const char pw[] = "s3cr&t<pw>";
	f.in.digest_password = pw;
	f.in.digest_password_len = strlen(pw);
	char *xml = build(&f);
	ck_assert(has(xml, "  <deviceProtocol>SIP</deviceProtocol>\n"));
	ck_assert(has(xml, "  <sipProfile>\n"
			   "    <voipControlPort>5062</voipControlPort>\n"
			   "    <sipLines>\n"
			   "      <line button=\"1\">\n"
			   "        <authName>alice</authName>\n"
			   "        <authPassword>s3cr&amp;t&lt;pw&gt;"
			   "</authPassword>\n"
			   "      </line>\n"
			   "    </sipLines>\n"
			   "  </sipProfile>\n"));
	/* The profile default: TCP+UDP, written as TCP. */
	ck_assert(has(xml, "<transportLayerProtocol>1<"));
	free(xml);

	/* Only len bytes of the password are taken. */
	f.in.digest_password_len = 3;
	xml = build(&f);
	ck_assert(has(xml, "<authPassword>s3c</authPassword>"));
	free(xml);

	/* A digest user without a password on record. */
	f.in.digest_password = NULL;
	xml = build(&f);
	ck_assert(has(xml, "<authName>alice</authName>\n"
			   "        <authPassword></authPassword>"));
	free(xml);
}
END_TEST

START_TEST(credentials_left_out)
{
	fixture_t f;
	const char pw[] = "TopSecret42";
	char *xml;

	/* Excluded by the profile. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.dev.digest_user = "alice";
	f.in.digest_password = pw;
	f.in.digest_password_len = strlen(pw);
	f.prof.exclude_digest_credentials = true;
	xml = build(&f);
	ck_assert(!has(xml, pw));
	ck_assert(!has(xml, "alice"));
	ck_assert(!has(xml, "sipLines"));
	ck_assert(has(xml, "<voipControlPort>5060</voipControlPort>"));
	free(xml);

	/* No digest user. */
	f.prof.exclude_digest_credentials = false;
	f.dev.digest_user = "";
	xml = build(&f);
	ck_assert(!has(xml, pw));
	ck_assert(!has(xml, "authName"));
	free(xml);

	/* SCCP phones carry no SIP credentials at all. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.dev.digest_user = "alice";
	f.in.digest_password = pw;
	f.in.digest_password_len = strlen(pw);
	xml = build(&f);
	ck_assert(!has(xml, pw));
	ck_assert(!has(xml, "sipProfile"));
	free(xml);
}
END_TEST

START_TEST(transports_and_modes)
{
	static const struct {
		Pt__Transport t;
		Pt__DeviceSecurityMode m;
		const char *want;
	} sip[] = {
		{PT__TRANSPORT__TRANSPORT_TCP,
		 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE,
		 "<deviceSecurityMode>1</deviceSecurityMode>\n"
		 "  <transportLayerProtocol>1</transportLayerProtocol>"},
		{PT__TRANSPORT__TRANSPORT_UDP,
		 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE,
		 "<deviceSecurityMode>1</deviceSecurityMode>\n"
		 "  <transportLayerProtocol>2</transportLayerProtocol>"},
		{PT__TRANSPORT__TRANSPORT_TCP_UDP,
		 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE,
		 "<deviceSecurityMode>1</deviceSecurityMode>\n"
		 "  <transportLayerProtocol>1</transportLayerProtocol>"},
		{PT__TRANSPORT__TRANSPORT_TLS,
		 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_AUTHENTICATED,
		 "<deviceSecurityMode>2</deviceSecurityMode>\n"
		 "  <transportLayerProtocol>3</transportLayerProtocol>"},
		{PT__TRANSPORT__TRANSPORT_TLS,
		 PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED,
		 "<deviceSecurityMode>3</deviceSecurityMode>\n"
		 "  <transportLayerProtocol>3</transportLayerProtocol>"},
	};
	fixture_t f;
	char *xml;

	for (size_t i = 0; i < sizeof sip / sizeof sip[0]; i++) {
		fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
		f.prof.transport = sip[i].t;
		f.prof.security_mode = sip[i].m;
		xml = build(&f);
		ck_assert_msg(has(xml, sip[i].want), "row %zu:\n%s", i, xml);
		free(xml);
	}

	/* SCCP: TCP, TLS when secure. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.prof.security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED;
	xml = build(&f);
	ck_assert(has(xml, "<deviceSecurityMode>3</deviceSecurityMode>\n"
			   "  <transportLayerProtocol>3<"));
	free(xml);

	f.prof.transport = (Pt__Transport)9; /* ignored for SCCP */
	f.prof.security_mode = (Pt__DeviceSecurityMode)3;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.prof.transport = (Pt__Transport)4;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
}
END_TEST

START_TEST(capf_auth_mode_and_server)
{
	fixture_t f;
	char *xml;

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	/* The profile's mode when the device has none... */
	f.prof.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_LSC;
	xml = build(&f);
	ck_assert(has(xml, "<capfAuthMode>3</capfAuthMode>"));
	free(xml);
	/* ...the device's when set, for each of the four. */
	static const char *const want[] = {
		NULL, "<capfAuthMode>1<", "<capfAuthMode>2<",
		"<capfAuthMode>3<", "<capfAuthMode>4<"};
	for (int m = 1; m <= 4; m++) {
		f.capf.auth_mode = (Pt__CapfAuthMode)m;
		xml = build(&f);
		ck_assert(has(xml, want[m]));
		free(xml);
	}
	/* No CAPF settings record at all. */
	f.dev.capf = NULL;
	xml = build(&f);
	ck_assert(has(xml, "<capfAuthMode>3<"));
	free(xml);
	/* Neither says: refused rather than guessed. */
	f.prof.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.capf_host = "capf.example";
	f.in.capf_port = 3805;
	xml = build(&f);
	ck_assert(has(xml, "  <capfList>\n"
			   "    <capf>\n"
			   "      <phonePort>3805</phonePort>\n"
			   "      <processNodeName>capf.example</processNodeName>\n"
			   "    </capf>\n"
			   "  </capfList>\n"));
	free(xml);
}
END_TEST

START_TEST(hardening_table)
{
	fixture_t f;
	char *xml;

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.hard.pc_port = PT__TOGGLE__TOGGLE_DISABLED;
	f.hard.settings_access = PT__TOGGLE__TOGGLE_DISABLED;
	f.hard.gratuitous_arp = PT__TOGGLE__TOGGLE_DISABLED;
	f.hard.pc_voice_vlan_access = PT__TOGGLE__TOGGLE_DISABLED;
	f.hard.web_access = PT__TOGGLE__TOGGLE_DISABLED;
	xml = build(&f);
	ck_assert(has(xml, "  <loadInformation></loadInformation>\n"
			   "  <vendorConfig>\n"
			   "    <pcPort>1</pcPort>\n"
			   "    <settingsAccess>0</settingsAccess>\n"
			   "    <garp>1</garp>\n"
			   "    <voiceVlanAccess>1</voiceVlanAccess>\n"
			   "    <webAccess>1</webAccess>\n"
			   "  </vendorConfig>\n"
			   "  <deviceSecurityMode>"));
	free(xml);

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.hard.pc_port = PT__TOGGLE__TOGGLE_ENABLED;
	f.hard.settings_access = PT__TOGGLE__TOGGLE_ENABLED;
	f.hard.gratuitous_arp = PT__TOGGLE__TOGGLE_ENABLED;
	f.hard.pc_voice_vlan_access = PT__TOGGLE__TOGGLE_ENABLED;
	f.hard.web_access = PT__TOGGLE__TOGGLE_ENABLED;
	xml = build(&f);
	ck_assert(has(xml, "  <vendorConfig>\n"
			   "    <pcPort>0</pcPort>\n"
			   "    <settingsAccess>1</settingsAccess>\n"
			   "    <garp>0</garp>\n"
			   "    <voiceVlanAccess>0</voiceVlanAccess>\n"
			   "    <webAccess>0</webAccess>\n"
			   "  </vendorConfig>\n"));
	free(xml);

	/* Defaults are left to the phone; one setting alone. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.hard.gratuitous_arp = PT__TOGGLE__TOGGLE_DISABLED;
	xml = build(&f);
	ck_assert(has(xml, "  <vendorConfig>\n"
			   "    <garp>1</garp>\n"
			   "  </vendorConfig>\n"));
	ck_assert(!has(xml, "webAccess"));
	free(xml);

	f.dev.hardening = NULL;
	xml = build(&f);
	ck_assert(!has(xml, "vendorConfig"));
	free(xml);

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.hard.web_access = (Pt__Toggle)3;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
}
END_TEST

/* The text of the only element called name in xml (NULL if none or
 * several); caller frees with xmlFree. */
static xmlChar *only_text(const char *xml, const char *name)
{
	xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), NULL, "UTF-8",
				    XML_PARSE_NONET | XML_PARSE_NOERROR |
					    XML_PARSE_NOWARNING);
	ck_assert_ptr_nonnull(doc);
	xmlNode *found = NULL;
	int count = 0;
	/* Depth-first walk without recursion: the trees here are small. */
	xmlNode *n = xmlDocGetRootElement(doc);
	while (n) {
		if (n->type == XML_ELEMENT_NODE &&
		    xmlStrEqual(n->name, (const xmlChar *)name)) {
			found = n;
			count++;
		}
		if (n->children) {
			n = n->children;
			continue;
		}
		while (n && !n->next)
			n = n->parent && n->parent->type == XML_ELEMENT_NODE
				    ? n->parent
				    : NULL;
		if (n)
			n = n->next;
	}
	xmlChar *text = count == 1 ? xmlNodeGetContent(found) : NULL;
	xmlFreeDoc(doc);
	return text;
}

START_TEST(hostile_text_escaped)
{
	static const char *const hostile[] = {
		"</description><authPassword>x</authPassword><description>",
		"a & b < c > d \"e\" 'f'",
		"<![CDATA[x]]> <!-- c --> <?pi?> &amp; &#38; &lt;",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e",
		"]]>",
	};
	fixture_t f;

	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
		f.dev.description = (char *)hostile[i];
		f.cms[0].name = (char *)hostile[i];
		f.cms[1].name = NULL;
		f.dev.digest_user = (char *)hostile[i];
		f.in.digest_password = hostile[i];
		f.in.digest_password_len = strlen(hostile[i]);
		f.in.load_information = hostile[i];
		char *xml = build(&f);
		/* Reads back as the same text, each in its one element. */
		const char *names[] = {"description", "name", "authName",
				       "authPassword", "loadInformation"};
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
			xmlChar *t = only_text(xml, names[k]);
			ck_assert_msg(t && strcmp((char *)t, hostile[i]) == 0,
				      "%s: %s", names[k], xml);
			xmlFree(t);
		}
		free(xml);
	}

	/* Control characters, broken UTF-8, overlong forms, surrogates. */
	static const char *const refused[] = {
		"line\nbreak", "tab\there", "nul\x01", "del\x7f",
		"bad \xc3", "overlong \xc1\x81", "surrogate \xed\xa0\x80",
		"big \xf4\x90\x80\x80", "nonchar \xef\xbf\xbe",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
		f.in.load_information = refused[i];
		ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
		fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
		f.cms[1].host = refused[i];
		ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
		fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
		f.dev.digest_user = "alice";
		f.in.digest_password = refused[i];
		f.in.digest_password_len = strlen(refused[i]);
		ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	}
	/* A NUL inside the counted password. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.dev.digest_user = "alice";
	f.in.digest_password = "ab\0cd";
	f.in.digest_password_len = 5;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	/* A code point the device rules allow but XML does not. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.dev.description = "not a char \xef\xbf\xbf";
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	/* Descriptions follow the device rules (128 characters). */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	char longdesc[200];
	memset(longdesc, 'd', sizeof longdesc - 1);
	longdesc[sizeof longdesc - 1] = '\0';
	f.dev.description = longdesc;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
}
END_TEST

START_TEST(cert_hash_of_real_certificate)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ck_assert_ptr_nonnull(key);
	X509 *cert = pt_testcert(key, "SEP001122334455", 77);
	unsigned char *der = NULL;
	int der_len = i2d_X509(cert, &der);
	ck_assert_int_gt(der_len, 0);
	unsigned char md[16];
	unsigned int md_len = 0;
	ck_assert(EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_md5(),
			     NULL));
	OPENSSL_free(der);
	char want[128] = "<certHash>";
	for (unsigned i = 0; i < md_len; i++)
		sprintf(want + strlen(want), "%02x", md[i]);
	strcat(want, "</certHash>\n  <encrConfig>true</encrConfig>\n");

	fixture_t f;
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.prof.tftp_encrypted_config = true;
	f.in.encrypt_for = cert;
	char *xml = build(&f);
	ck_assert_msg(has(xml, want), "%s", xml);
	free(xml);

	f.in.encrypt_for = NULL;
	xml = build(&f);
	ck_assert(has(xml, "<certHash></certHash>\n"
			   "  <encrConfig>false</encrConfig>\n</device>\n"));
	free(xml);
	X509_free(cert);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(lists_and_optional_fields)
{
	fixture_t f;
	char *xml;

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.cm_count = 0;
	f.in.tvs_count = 0;
	f.cms[0].name = NULL;
	f.in.load_information = "SCCP75.9-4-2SR3-1S";
	f.in.ip_address_mode = 2;
	f.dev.description = "";
	f.dev.model = "";
	xml = build(&f);
	ck_assert(has(xml, "  <description></description>\n"
			   "  <model></model>\n"));
	ck_assert(has(xml, "  <ipAddressMode>2</ipAddressMode>\n"
			   "  <devicePool>\n"
			   "    <callManagerGroup>\n"
			   "      <members></members>\n"
			   "    </callManagerGroup>\n"
			   "  </devicePool>\n"
			   "  <TVS>\n"
			   "    <members></members>\n"
			   "  </TVS>\n"
			   "  <loadInformation>SCCP75.9-4-2SR3-1S"
			   "</loadInformation>\n"));
	free(xml);

	/* A member without a name has no <name>. */
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.cms[0].name = "";
	f.in.cm_count = 1;
	xml = build(&f);
	ck_assert(has(xml, "<callManager>\n            <ports>"));
	free(xml);
}
END_TEST

START_TEST(refusals)
{
	fixture_t f;
	uint8_t *out;
	size_t len;

	ck_assert_int_eq(pt_phoneconfig_build(NULL, &out, &len),
			 PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	ck_assert_int_eq(pt_phoneconfig_build(&f.in, NULL, &len),
			 PT_ERR_INVALID);

	const char *names[] = {"CTIPort1", "SEP0011223344", "SEP00112233445G",
			       "sep001122334455", ""};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
		f.dev.name = (char *)names[i];
		ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	}

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.dev.protocol = PT__PROTOCOL__PROTOCOL_SIP; /* profile is SCCP */
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.dev.protocol = f.prof.protocol = PT__PROTOCOL__PROTOCOL_UNSPECIFIED;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.capf_host = NULL;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	f.in.capf_host = "";
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.capf_port = 65536;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.cms[1].sip_tls_port = 70000;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.tvs[0].port = 65536;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.tvs[1].host = "";
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.ip_address_mode = 3;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.tvs_count = PT_PHONECONFIG_SERVERS_MAX + 1;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.cms = NULL;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);

	char longhost[PT_PHONECONFIG_TEXT_MAX + 2];
	memset(longhost, 'h', sizeof longhost - 1);
	longhost[sizeof longhost - 1] = '\0';
	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SCCP);
	f.in.capf_host = longhost;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	longhost[PT_PHONECONFIG_TEXT_MAX] = '\0';
	char *xml = build(&f);
	free(xml);

	fixture_init(&f, PT__PROTOCOL__PROTOCOL_SIP);
	f.dev.digest_user = "alice";
	char longpw[PT_PHONECONFIG_PASSWORD_MAX + 1];
	memset(longpw, 'p', sizeof longpw);
	f.in.digest_password = longpw;
	f.in.digest_password_len = sizeof longpw;
	ck_assert_int_eq(build_err(&f), PT_ERR_INVALID);
	f.in.digest_password_len = sizeof longpw - 1;
	xml = build(&f);
	free(xml);
}
END_TEST

START_TEST(encode_mixed_content_and_attributes)
{
	xmlDoc *doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNode *root = xmlNewDocNode(doc, NULL, (const xmlChar *)"device",
				      NULL);
	xmlDocSetRootElement(doc, root);
	xmlNode *a = xmlNewChild(root, NULL, (const xmlChar *)"a", NULL);
	xmlNewProp(a, (const xmlChar *)"q", (const xmlChar *)"<\"&\t\n\r>");
	xmlAddChild(a, xmlNewDocText(doc, (const xmlChar *)"x "));
	xmlNode *b = xmlNewChild(a, NULL, (const xmlChar *)"b", NULL);
	xmlNewChild(b, NULL, (const xmlChar *)"c", NULL);
	xmlAddChild(a, xmlNewDocText(doc, (const xmlChar *)" y\r"));
	xmlAddChild(root, xmlNewDocComment(doc, (const xmlChar *)"gone"));
	xmlNewChild(root, NULL, (const xmlChar *)"e", NULL);

	uint8_t *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_phoneconfig_encode(root, &out, &len), PT_OK);
	ck_assert_str_eq((char *)out,
			 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<device>\n"
			 "  <a q=\"&lt;&quot;&amp;&#9;&#10;&#13;&gt;\">x "
			 "<b><c></c></b> y&#13;</a>\n"
			 "  <e></e>\n"
			 "</device>\n");
	free(out);
	ck_assert_int_eq(pt_phoneconfig_encode(NULL, &out, &len),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(out);

	/* Deeper than the writer's limit. */
	xmlNode *n = root;
	for (int i = 0; i < 300; i++)
		n = xmlNewChild(n, NULL, (const xmlChar *)"d", NULL);
	ck_assert_int_eq(pt_phoneconfig_encode(root, &out, &len),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(out);
	pt_phoneconfig_free_doc(doc);
	pt_phoneconfig_free_doc(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("phoneconfig");
	TCase *tc = tcase_create("build");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sccp_whole_file);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, sip_credentials_and_ports);
	tcase_add_test(tc, credentials_left_out);
	tcase_add_test(tc, transports_and_modes);
	tcase_add_test(tc, capf_auth_mode_and_server);
	tcase_add_test(tc, hardening_table);
	tcase_add_test(tc, hostile_text_escaped);
	tcase_add_test(tc, cert_hash_of_real_certificate);
	tcase_add_test(tc, lists_and_optional_fields);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	TCase *te = tcase_create("encode");
	tcase_add_test(te, encode_mixed_content_and_attributes);
	suite_add_tcase(s, te);
	return pt_test_main(s);
}
