#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/minconfig.h"
#include "lib/phoneconfig.h"
#include "lib/profiles.h"
#include "pt_test.h"

static const char hash[] = "e04644442dd42c6a56560615a57a7442";

/* The constructed result of spec/encrypted-config.md §6. */
static const char spec_example[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<device>\n"
	"  <fullConfig>false</fullConfig>\n"
	"  <ipAddressMode>0</ipAddressMode>\n"
	"  <loadInformation>sip88xx.14-2-1-0001-1</loadInformation>\n"
	"  <capfAuthMode>0</capfAuthMode>\n"
	"  <capfList>\n"
	"    <capf>\n"
	"      <phonePort>3804</phonePort>\n"
	"      <processNodeName>capf.example</processNodeName>\n"
	"    </capf>\n"
	"  </capfList>\n"
	"  <certHash>e04644442dd42c6a56560615a57a7442</certHash>\n"
	"  <encrConfig>true</encrConfig>\n"
	"</device>\n";

/* A full configuration as a call manager might write it: attributes on
 * the root, other indentation, comments, secrets in several places, the
 * copied elements spread among the rest. */
static const char full_example[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
	"<!-- generated -->\r\n"
	"<device xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
	"xsi:type=\"axl:XIPPhone\" ctiid=\"94\" secret=\"RootAttrSecret\">\r\n"
	"\t<fullConfig>true</fullConfig>\r\n"
	"\t<deviceProtocol>SIP</deviceProtocol>\r\n"
	"\t<sshUserId>admin</sshUserId>\r\n"
	"\t<sshPassword>SshSecret</sshPassword>\r\n"
	"\t<ipAddressMode>0</ipAddressMode>\r\n"
	"\t<sipProfile>\r\n"
	"\t\t<sipLines><line button=\"1\"><authName>alice</authName>"
	"<authPassword>DigestSecret</authPassword></line></sipLines>\r\n"
	"\t</sipProfile>\r\n"
	"\t<commonProfile><phonePassword>PhoneSecret</phonePassword>"
	"</commonProfile>\r\n"
	"\t<loadInformation>sip88xx.14-2-1-0001-1</loadInformation>\r\n"
	"\t<vendorConfig><webAccess>1</webAccess></vendorConfig>\r\n"
	"\t<deviceSecurityMode>3</deviceSecurityMode>\r\n"
	"\t<capfAuthMode>0</capfAuthMode>\r\n"
	"\t<!-- the CAPF server -->\r\n"
	"\t<capfList>\r\n"
	"\t\t<capf>\r\n"
	"\t\t\t<phonePort>3804</phonePort>\r\n"
	"\t\t\t<processNodeName>capf.example</processNodeName>\r\n"
	"\t\t</capf>\r\n"
	"\t</capfList>\r\n"
	"\t<certHash>00000000000000000000000000000000</certHash>\r\n"
	"\t<encrConfig>false</encrConfig>\r\n"
	"</device>\r\n";

static const char *const secrets[] = {"RootAttrSecret", "SshSecret",
				      "DigestSecret", "PhoneSecret", "alice",
				      "admin"};

static char *minimal(const char *full, size_t len, const char *h)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	int r = pt_minconfig_build((const uint8_t *)full, len, h, &out,
				   &out_len);
	ck_assert_msg(r == PT_OK, "%s for:\n%.300s", pt_strerror(r), full);
	ck_assert_uint_eq(strlen((char *)out), out_len);
	return (char *)out;
}

static char *minimal_s(const char *full, const char *h)
{
	return minimal(full, strlen(full), h);
}

static int refuse(const void *full, size_t len)
{
	uint8_t *out = (uint8_t *)"x";
	size_t out_len = 9;
	int r = pt_minconfig_build(full, len, hash, &out, &out_len);
	ck_assert_int_ne(r, PT_OK);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(out_len, 0);
	return r;
}

static int refuse_s(const char *full)
{
	return refuse(full, strlen(full));
}

START_TEST(spec_example_byte_for_byte)
{
	char *m = minimal_s(full_example, hash);
	ck_assert_str_eq(m, spec_example);
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		ck_assert_msg(!strstr(m, secrets[i]), "%s", secrets[i]);
	/* The minimal configuration of the minimal one is itself. */
	char *again = minimal_s(m, hash);
	ck_assert_str_eq(again, m);
	free(again);
	free(m);
}
END_TEST

START_TEST(from_our_full_config)
{
	Pt__Device dev;
	Pt__Profile prof;
	Pt__Hardening hard;
	pt__device__init(&dev);
	pt__hardening__init(&hard);
	pt_profile_init(&prof, PT__PROTOCOL__PROTOCOL_SIP);
	dev.name = "SEP00AABBCCDDEE";
	dev.description = "Reception desk";
	dev.model = "8841";
	dev.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	dev.digest_user = "frontdesk";
	dev.hardening = &hard;
	hard.web_access = PT__TOGGLE__TOGGLE_DISABLED;
	prof.tftp_encrypted_config = true;
	prof.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_LSC;
	const char pw[] = "Xq9!digest&pw";
	pt_phoneconfig_cm_t cm = {"pub", "192.0.2.1", 0, 0, 0};
	pt_phoneconfig_tvs_t tvs = {"192.0.2.2", 0};
	pt_phoneconfig_in_t in = {
		.device = &dev,
		.profile = &prof,
		.capf_host = "192.0.2.1",
		.cms = &cm,
		.cm_count = 1,
		.tvs = &tvs,
		.tvs_count = 1,
		.load_information = "sip88xx.14-2-1-0001-1",
		.digest_password = pw,
		.digest_password_len = strlen(pw),
	};
	uint8_t *full = NULL;
	size_t full_len = 0;
	ck_assert_int_eq(pt_phoneconfig_build(&in, &full, &full_len), PT_OK);
	ck_assert_ptr_nonnull(strstr((char *)full, "Xq9!digest&amp;pw"));
	/* What the encrypted-file builder accepts as a configuration. */
	ck_assert_int_eq(pt_encconfig_check_config(full, full_len), PT_OK);

	char *m = minimal((char *)full, full_len, "");
	ck_assert_str_eq(m, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<device>\n"
			    "  <fullConfig>false</fullConfig>\n"
			    "  <ipAddressMode>0</ipAddressMode>\n"
			    "  <loadInformation>sip88xx.14-2-1-0001-1"
			    "</loadInformation>\n"
			    "  <capfAuthMode>3</capfAuthMode>\n"
			    "  <capfList>\n"
			    "    <capf>\n"
			    "      <phonePort>3804</phonePort>\n"
			    "      <processNodeName>192.0.2.1</processNodeName>\n"
			    "    </capf>\n"
			    "  </capfList>\n"
			    "  <certHash></certHash>\n"
			    "  <encrConfig>true</encrConfig>\n"
			    "</device>\n");
	ck_assert_ptr_null(strstr(m, "Xq9"));
	ck_assert_ptr_null(strstr(m, "frontdesk"));
	ck_assert_ptr_null(strstr(m, "Reception"));
	ck_assert_int_eq(pt_encconfig_check_config((uint8_t *)m, strlen(m)),
			 PT_OK);
	free(m);
	free(full);
}
END_TEST

START_TEST(copies_keep_order_attributes_and_text)
{
	static const char full[] =
		"<device xmlns=\"urn:default\" xmlns:p=\"urn:p\">"
		"<capfList><capf><phonePort>3804</phonePort>"
		"<processNodeName/></capf>"
		"<capf p:x=\"1\" y=\"a&amp;b&quot;\">\n  "
		"<processNodeName><![CDATA[<cdata> & co]]></processNodeName>"
		"<!-- c --><?pi x?></capf></capfList>"
		"<loadInformation special=\"false\">  spaced &lt;load&gt; "
		"</loadInformation>"
		"<p:capfAuthMode>9</p:capfAuthMode>"
		"<other><ipAddressMode>7</ipAddressMode></other>"
		"<ipAddressMode>1</ipAddressMode>"
		"<loadInformation>caf\xc3\xa9</loadInformation>"
		"<capfAuthMode>4</capfAuthMode>"
		"</device>";
	char *m = minimal_s(full, NULL);
	ck_assert_str_eq(
		m, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<device>\n"
		   "  <fullConfig>false</fullConfig>\n"
		   "  <capfList>\n"
		   "    <capf>\n"
		   "      <phonePort>3804</phonePort>\n"
		   "      <processNodeName></processNodeName>\n"
		   "    </capf>\n"
		   "    <capf y=\"a&amp;b&quot;\">\n"
		   "      <processNodeName>&lt;cdata&gt; &amp; co"
		   "</processNodeName>\n"
		   "    </capf>\n"
		   "  </capfList>\n"
		   "  <loadInformation special=\"false\">  spaced "
		   "&lt;load&gt; </loadInformation>\n"
		   "  <ipAddressMode>1</ipAddressMode>\n"
		   "  <loadInformation>caf\xc3\xa9</loadInformation>\n"
		   "  <capfAuthMode>4</capfAuthMode>\n"
		   "  <certHash></certHash>\n"
		   "  <encrConfig>true</encrConfig>\n"
		   "</device>\n");
	free(m);

	/* Nothing to copy at all. */
	m = minimal_s("<device/>", hash);
	ck_assert_str_eq(m, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<device>\n"
			    "  <fullConfig>false</fullConfig>\n"
			    "  <certHash>e04644442dd42c6a56560615a57a7442"
			    "</certHash>\n"
			    "  <encrConfig>true</encrConfig>\n"
			    "</device>\n");
	free(m);
}
END_TEST

START_TEST(declared_encoding_ignored)
{
	/* UTF-8 bytes under a Latin-1 declaration: read as UTF-8. */
	char *m = minimal_s("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
			    "<device><loadInformation>\xc3\xa9"
			    "</loadInformation></device>",
			    hash);
	ck_assert_ptr_nonnull(strstr(m, "<loadInformation>\xc3\xa9<"));
	free(m);
	/* A lone Latin-1 byte is not UTF-8. */
	ck_assert_int_eq(refuse_s("<?xml version=\"1.0\" "
				  "encoding=\"ISO-8859-1\"?>"
				  "<device><loadInformation>\xe9"
				  "</loadInformation></device>"),
			 PT_ERR_MALFORMED);
	/* A byte-order mark is fine. */
	m = minimal_s("\xef\xbb\xbf<device><ipAddressMode>2</ipAddressMode>"
		      "</device>",
		      hash);
	ck_assert_ptr_nonnull(strstr(m, "<ipAddressMode>2<"));
	free(m);
}
END_TEST

START_TEST(cert_hash_argument)
{
	static const char *const bad[] = {
		"E04644442DD42C6A56560615A57A7442", "e04644442dd42c6a56560615a57a744",
		"e04644442dd42c6a56560615a57a74421", "g04644442dd42c6a56560615a57a7442",
		"e0464444 dd42c6a56560615a57a7442"};
	uint8_t *out;
	size_t len;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		out = (uint8_t *)"x";
		ck_assert_int_eq(pt_minconfig_build((const uint8_t *)"<device/>",
						    9, bad[i], &out, &len),
				 PT_ERR_INVALID);
		ck_assert_ptr_null(out);
	}
	ck_assert_int_eq(pt_minconfig_build(NULL, 0, hash, &out, &len),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_minconfig_build((const uint8_t *)"<device/>", 9,
					    hash, NULL, &len),
			 PT_ERR_INVALID);
	char *a = minimal_s("<device/>", NULL);
	char *b = minimal_s("<device/>", "");
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, "<certHash></certHash>"));
	free(a);
	free(b);
}
END_TEST

/* Runs f with stderr sent to a scratch file; returns what it wrote. */
static size_t stderr_bytes_during(void (*f)(void))
{
	char *dir = pt_test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/stderr", dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	f();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	size_t len = 0;
	free(pt_test_read_file(path, &len));
	pt_test_rmtree(dir);
	free(dir);
	return len;
}

static void refuse_hostile(void)
{
	static const char *const malformed[] = {
		/* Entities and DTDs, internal and external. */
		"<!DOCTYPE device [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
		"<device><loadInformation>&c;</loadInformation></device>",
		"<?xml version=\"1.0\"?><!DOCTYPE device [<!ENTITY x SYSTEM "
		"\"file:///etc/passwd\">]><device><loadInformation>&x;"
		"</loadInformation></device>",
		"<!DOCTYPE device SYSTEM \"http://192.0.2.9/d.dtd\"><device/>",
		"<device><!-- <!ENTITY a \"b\"> --></device>",
		"<device><loadInformation>&undeclared;</loadInformation>"
		"</device>",
		/* Not <device>. */
		"<config><ipAddressMode>0</ipAddressMode></config>",
		"<Device/>",
		"<x:device xmlns:x=\"urn:x\"/>",
		/* Not well-formed. */
		"<device>",
		"<device><capfList></device>",
		"<device/><device/>",
		"<device/>trailing",
		"just text",
		"<device><a b=\"1\" b=\"2\"/></device>",
		"<device>\xff\xfe</device>",
		"   ",
	};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
		ck_assert_msg(refuse_s(malformed[i]) == PT_ERR_MALFORMED,
			      "%s", malformed[i]);
	ck_assert_int_eq(refuse("", 0), PT_ERR_MALFORMED);
	ck_assert_int_eq(refuse("<device>\0</device>", 18), PT_ERR_MALFORMED);
	/* UTF-16 with its byte-order mark. */
	static const char utf16[] = "\xff\xfe<\0d\0e\0v\0i\0c\0e\0/\0>\0";
	ck_assert_int_eq(refuse(utf16, sizeof utf16 - 1), PT_ERR_MALFORMED);
}

START_TEST(hostile_input_refused_quietly)
{
	/* libxml2 reports nothing on stderr (node/lib does not log). */
	ck_assert_uint_eq(stderr_bytes_during(refuse_hostile), 0);
}
END_TEST

START_TEST(size_cap)
{
	size_t n = PT_MINCONFIG_INPUT_MAX;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	static const char head[] = "<device><!--";
	static const char tail[] = "--><ipAddressMode>1</ipAddressMode>"
				   "</device>";
	memcpy(big, head, strlen(head));
	memset(big + strlen(head), 'c', n - strlen(head) - strlen(tail));
	memcpy(big + n - strlen(tail), tail, strlen(tail));
	char *m = minimal(big, n, hash);
	ck_assert_ptr_nonnull(strstr(m, "<ipAddressMode>1<"));
	free(m);
	big[n] = ' ';
	ck_assert_int_eq(refuse(big, n + 1), PT_ERR_TOO_LARGE);
	free(big);
}
END_TEST

START_TEST(nesting_limits)
{
	char buf[8192];
	for (int depth = 100; depth <= 400; depth += 300) {
		size_t pos = 0;
		pos += (size_t)sprintf(buf + pos, "<device><capfList>");
		for (int i = 0; i < depth; i++)
			pos += (size_t)sprintf(buf + pos, "<a>");
		for (int i = 0; i < depth; i++)
			pos += (size_t)sprintf(buf + pos, "</a>");
		sprintf(buf + pos, "</capfList></device>");
		if (depth == 100) {
			char *m = minimal_s(buf, hash);
			free(m);
		} else {
			ck_assert_int_eq(refuse_s(buf), PT_ERR_MALFORMED);
		}
	}
	/* Between our copy limit and libxml2's. */
	size_t pos = 0;
	pos += (size_t)sprintf(buf + pos, "<device><capfList>");
	for (int i = 0; i < 200; i++)
		pos += (size_t)sprintf(buf + pos, "<a>");
	for (int i = 0; i < 200; i++)
		pos += (size_t)sprintf(buf + pos, "</a>");
	sprintf(buf + pos, "</capfList></device>");
	ck_assert_int_eq(refuse_s(buf), PT_ERR_MALFORMED);
}
END_TEST

START_TEST(xinclude_not_processed)
{
	char *m = minimal_s(
		"<device><capfList><xi:include "
		"xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
		"href=\"/etc/passwd\" parse=\"text\"/></capfList></device>",
		hash);
	ck_assert_ptr_null(strstr(m, "root:"));
	ck_assert_ptr_nonnull(strstr(m, "href=\"/etc/passwd\""));
	free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("minconfig");
	TCase *tc = tcase_create("minconfig");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, spec_example_byte_for_byte);
	tcase_add_test(tc, from_our_full_config);
	tcase_add_test(tc, copies_keep_order_attributes_and_text);
	tcase_add_test(tc, declared_encoding_ignored);
	tcase_add_test(tc, cert_hash_argument);
	tcase_add_test(tc, hostile_input_refused_quietly);
	tcase_add_test(tc, size_cap);
	tcase_add_test(tc, nesting_limits);
	tcase_add_test(tc, xinclude_not_processed);
	suite_add_tcase(s, tc);
	return pt_test_main(s);
}
