#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/configfiles.h"
#include "lib/errors.h"
#include "lib/profiles.h"
#include "pt_test.h"
#include "pt_testcert.h"

#define NS PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE
#define MIXED PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED

/* ---- names ---- */

START_TEST(names_accepted)
{
	static const struct {
		const char *name;
		pt_configfiles_kind_t kind;
		const char *mac;
	} ok[] = {
		{"SEP001122334455.cnf.xml", PT_CONFIGFILES_PLAIN,
		 "001122334455"},
		{"SEPaabbccddeeff.cnf.xml.sgn", PT_CONFIGFILES_SIGNED,
		 "AABBCCDDEEFF"},
		{"sep00AaBbCcDdEe.CNF.XML.ENC.SGN", PT_CONFIGFILES_ENCRYPTED,
		 "00AABBCCDDEE"},
		{"SEP001122334455.cnf.xml.enc.sgn", PT_CONFIGFILES_ENCRYPTED,
		 "001122334455"},
		{"SIP001122334455.cnf.enc.sgn", PT_CONFIGFILES_SIP_MANUAL,
		 "001122334455"},
		{"LD0011223344FF.x", PT_CONFIGFILES_LD_MANUAL, "0011223344FF"},
		{"ld0011223344ff.X", PT_CONFIGFILES_LD_MANUAL, "0011223344FF"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		pt_configfiles_kind_t kind = PT_CONFIGFILES_KIND_COUNT;
		char mac[PT_CONFIGFILES_MAC_LEN + 1] = "";
		ck_assert_msg(pt_configfiles_parse_name(ok[i].name, &kind,
							mac) == PT_OK,
			      "%s", ok[i].name);
		ck_assert_int_eq(kind, ok[i].kind);
		ck_assert_str_eq(mac, ok[i].mac);
		/* The MAC is optional. */
		ck_assert_int_eq(pt_configfiles_parse_name(ok[i].name, &kind,
							   NULL),
				 PT_OK);
	}
}
END_TEST

START_TEST(names_refused)
{
	static const char *const bad[] = {
		"SEP12.cnf.xml",
		"SEP0011223344556.cnf.xml",
		"SEP00112233445.cnf.xml",
		"SEP00112233445G.cnf.xml",
		"SEP+01122334455.cnf.xml",
		"SEP 01122334455.cnf.xml",
		"/SEP001122334455.cnf.xml",
		"../SEP001122334455.cnf.xml",
		"dir/SEP001122334455.cnf.xml",
		"C:\\SEP001122334455.cnf.xml",
		"SEP001122334455.cnf.xml/",
		"SEP001122334455.cnf.xml/../x",
		"SEP001122334455.cnf.xml.sgn.sgn",
		"SEP001122334455.cnf",
		"SEP001122334455.cnf.xml ",
		" SEP001122334455.cnf.xml",
		"SEP001122334455.cnf.xml.sha512",
		"SEP001122334455.cnf.enc.sgn",
		"SIP001122334455.cnf.xml",
		"SIP001122334455.cnf.xml.enc.sgn",
		"LD001122334455.cnf.xml",
		"SEP001122334455.x",
		"LD001122334455.x.sgn",
		"ITLSEP001122334455.tlv",
		"CTLFile.tlv",
		"SEPDefault.cnf.xml",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pt_configfiles_kind_t kind = PT_CONFIGFILES_LD_MANUAL;
		char mac[PT_CONFIGFILES_MAC_LEN + 1] = "untouched";
		ck_assert_msg(pt_configfiles_parse_name(bad[i], &kind, mac) ==
				      PT_ERR_INVALID,
			      "%s", bad[i]);
		ck_assert_int_eq(kind, PT_CONFIGFILES_LD_MANUAL);
		ck_assert_str_eq(mac, "untouched");
	}
	pt_configfiles_kind_t kind;
	ck_assert_int_eq(pt_configfiles_parse_name(NULL, &kind, NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(
		pt_configfiles_parse_name("SEP001122334455.cnf.xml", NULL, NULL),
		PT_ERR_INVALID);
}
END_TEST

START_TEST(names_built)
{
	static const char *const want[] = {
		"SEPAABBCCDDEEFF.cnf.xml", "SEPAABBCCDDEEFF.cnf.xml.sgn",
		"SEPAABBCCDDEEFF.cnf.xml.enc.sgn",
		"SIPAABBCCDDEEFF.cnf.enc.sgn", "LDAABBCCDDEEFF.x"};
	char buf[PT_CONFIGFILES_NAME_MAX];
	for (int k = 0; k < PT_CONFIGFILES_KIND_COUNT; k++) {
		ck_assert_int_eq(pt_configfiles_build_name(
					 (pt_configfiles_kind_t)k,
					 "aabbccDDEEFF", buf, sizeof buf),
				 PT_OK);
		ck_assert_str_eq(buf, want[k]);
		/* ... and each reads back as what it is. */
		pt_configfiles_kind_t kind;
		char mac[PT_CONFIGFILES_MAC_LEN + 1];
		ck_assert_int_eq(pt_configfiles_parse_name(buf, &kind, mac),
				 PT_OK);
		ck_assert_int_eq(kind, k);
		ck_assert_str_eq(mac, "AABBCCDDEEFF");
	}
	/* The longest name fits the constant exactly. */
	ck_assert_uint_eq(strlen(want[PT_CONFIGFILES_ENCRYPTED]) + 1,
			  PT_CONFIGFILES_NAME_MAX);
	ck_assert_int_eq(pt_configfiles_build_name(PT_CONFIGFILES_ENCRYPTED,
						   "AABBCCDDEEFF", buf,
						   PT_CONFIGFILES_NAME_MAX - 1),
			 PT_ERR_TOO_LARGE);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(pt_configfiles_build_name(PT_CONFIGFILES_PLAIN,
						   "AABBCCDDEEF", buf,
						   sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_build_name(PT_CONFIGFILES_PLAIN,
						   "AABBCCDDEEFF0", buf,
						   sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_build_name(PT_CONFIGFILES_PLAIN,
						   "AABBCCDDEEFG", buf,
						   sizeof buf),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_build_name(PT_CONFIGFILES_KIND_COUNT,
						   "AABBCCDDEEFF", buf,
						   sizeof buf),
			 PT_ERR_INVALID);

	char mac[PT_CONFIGFILES_MAC_LEN + 1];
	ck_assert_int_eq(pt_configfiles_device_mac("SEP00aabbccddee", mac),
			 PT_OK);
	ck_assert_str_eq(mac, "00AABBCCDDEE");
	ck_assert_int_eq(pt_configfiles_device_mac("CTIPort1", mac),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_device_mac("SEP00aabbccdde", mac),
			 PT_ERR_INVALID);
}
END_TEST

/* ---- the decision table ---- */

typedef struct row {
	pt_configfiles_kind_t kind;
	Pt__ClusterSecurityMode mode;
	pt_configfiles_enc_t enc;
	pt_configfiles_form_t form;
	bool cert_hash;
	const char *reason_has; /* a word the reason must hold */
} row_t;

#define OFF PT_CONFIGFILES_ENC_OFF
#define RSA PT_CONFIGFILES_ENC_RSA
#define NOCERT PT_CONFIGFILES_ENC_NO_CERT
#define EC PT_CONFIGFILES_ENC_EC
#define MANUAL PT_CONFIGFILES_ENC_MANUAL
#define PLAIN PT_CONFIGFILES_PLAIN
#define SGN PT_CONFIGFILES_SIGNED
#define ENC PT_CONFIGFILES_ENCRYPTED
#define SIPM PT_CONFIGFILES_SIP_MANUAL
#define LDM PT_CONFIGFILES_LD_MANUAL
#define NF PT_CONFIGFILES_NOT_FOUND

static const row_t table[] = {
	/* Non-secure cluster: a plain request gets the full file in clear
	 * unless the profile encrypts; signed and encrypted requests are
	 * answered as in mixed mode (the ITL lists the TFTP certificate in
	 * both modes). */
	{PLAIN, NS, OFF, PT_CONFIGFILES_FULL_PLAIN, false, "in clear"},
	{PLAIN, NS, RSA, PT_CONFIGFILES_MIN_PLAIN, true, "minimal"},
	{PLAIN, NS, NOCERT, PT_CONFIGFILES_MIN_PLAIN, false, "CAPF"},
	{PLAIN, NS, EC, PT_CONFIGFILES_MIN_PLAIN, false, "EC key"},
	{PLAIN, NS, MANUAL, PT_CONFIGFILES_FULL_PLAIN, false, "layout"},
	{SGN, NS, OFF, PT_CONFIGFILES_FULL_SIGNED, false, "full"},
	{SGN, NS, RSA, PT_CONFIGFILES_MIN_SIGNED, true, ".enc.sgn"},
	{SGN, NS, NOCERT, PT_CONFIGFILES_MIN_SIGNED, false, "CAPF"},
	{SGN, NS, EC, PT_CONFIGFILES_MIN_SIGNED, false, "EC key"},
	{SGN, NS, MANUAL, PT_CONFIGFILES_FULL_SIGNED, false, "layout"},
	{ENC, NS, OFF, NF, false, "falls back to .sgn"},
	{ENC, NS, RSA, PT_CONFIGFILES_ENCRYPTED_FULL, false, "RSA"},
	{ENC, NS, NOCERT, NF, false, "CAPF first"},
	{ENC, NS, EC, NF, false, "no key wrapping for EC keys"},
	{ENC, NS, MANUAL, NF, false, "layout is unknown"},
	/* Mixed cluster, plain request. */
	{PLAIN, MIXED, OFF, NF, false, "mixed mode serves signed files"},
	{PLAIN, MIXED, RSA, PT_CONFIGFILES_MIN_PLAIN, true, "minimal"},
	{PLAIN, MIXED, NOCERT, PT_CONFIGFILES_MIN_PLAIN, false, "CAPF"},
	{PLAIN, MIXED, EC, PT_CONFIGFILES_MIN_PLAIN, false, "EC key"},
	{PLAIN, MIXED, MANUAL, NF, false, "mixed mode serves signed files"},
	/* Mixed cluster, .sgn. */
	{SGN, MIXED, OFF, PT_CONFIGFILES_FULL_SIGNED, false, "full"},
	{SGN, MIXED, RSA, PT_CONFIGFILES_MIN_SIGNED, true, ".enc.sgn"},
	{SGN, MIXED, NOCERT, PT_CONFIGFILES_MIN_SIGNED, false, "CAPF"},
	{SGN, MIXED, EC, PT_CONFIGFILES_MIN_SIGNED, false, "EC key"},
	{SGN, MIXED, MANUAL, PT_CONFIGFILES_FULL_SIGNED, false, "layout"},
	/* Mixed cluster, .enc.sgn. */
	{ENC, MIXED, OFF, NF, false, "falls back to .sgn"},
	{ENC, MIXED, RSA, PT_CONFIGFILES_ENCRYPTED_FULL, false, "RSA"},
	{ENC, MIXED, NOCERT, NF, false, "CAPF first"},
	{ENC, MIXED, EC, NF, false, "no key wrapping for EC keys"},
	{ENC, MIXED, MANUAL, NF, false, "layout is unknown"},
	/* Manual-key names: never built. */
	{SIPM, NS, OFF, NF, false, "layout is unknown"},
	{SIPM, NS, MANUAL, NF, false, "layout is unknown"},
	{SIPM, MIXED, OFF, NF, false, "layout is unknown"},
	{SIPM, MIXED, RSA, NF, false, "layout is unknown"},
	{SIPM, MIXED, NOCERT, NF, false, "layout is unknown"},
	{SIPM, MIXED, EC, NF, false, "layout is unknown"},
	{SIPM, MIXED, MANUAL, NF, false, "layout is unknown"},
	{LDM, NS, RSA, NF, false, "layout is unknown"},
	{LDM, NS, EC, NF, false, "layout is unknown"},
	{LDM, NS, NOCERT, NF, false, "layout is unknown"},
	{LDM, MIXED, OFF, NF, false, "layout is unknown"},
	{LDM, MIXED, RSA, NF, false, "layout is unknown"},
	{LDM, MIXED, NOCERT, NF, false, "layout is unknown"},
	{LDM, MIXED, EC, NF, false, "layout is unknown"},
	{LDM, MIXED, MANUAL, NF, false, "layout is unknown"},
	{SIPM, NS, RSA, NF, false, "layout is unknown"},
	{SIPM, NS, NOCERT, NF, false, "layout is unknown"},
	{SIPM, NS, EC, NF, false, "layout is unknown"},
	{LDM, NS, OFF, NF, false, "layout is unknown"},
	{LDM, NS, MANUAL, NF, false, "layout is unknown"},
};

START_TEST(decision_row)
{
	const row_t *r = &table[_i];
	pt_configfiles_decision_t d = {PT_CONFIGFILES_FORM_COUNT, true, NULL};
	ck_assert_int_eq(pt_configfiles_decide(r->kind, r->mode, r->enc, &d),
			 PT_OK);
	ck_assert_msg(d.form == r->form, "row %d: %s, want %s", _i,
		      pt_configfiles_form_name(d.form),
		      pt_configfiles_form_name(r->form));
	ck_assert_int_eq(d.cert_hash, r->cert_hash);
	ck_assert_ptr_nonnull(d.reason);
	ck_assert_msg(strstr(d.reason, r->reason_has), "row %d: %s", _i,
		      d.reason);
	/* One line. */
	ck_assert_ptr_null(strchr(d.reason, '\n'));
}
END_TEST

START_TEST(decision_table_complete)
{
	/* Every combination appears exactly once in the table above. */
	int seen[PT_CONFIGFILES_KIND_COUNT][2][PT_CONFIGFILES_ENC_COUNT] = {0};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		seen[table[i].kind][table[i].mode][table[i].enc]++;
	for (int k = 0; k < PT_CONFIGFILES_KIND_COUNT; k++)
		for (int m = 0; m < 2; m++)
			for (int e = 0; e < PT_CONFIGFILES_ENC_COUNT; e++)
				ck_assert_msg(seen[k][m][e] == 1,
					      "%d %d %d: %d", k, m, e,
					      seen[k][m][e]);

	pt_configfiles_decision_t d = {PT_CONFIGFILES_FULL_SIGNED, true, "x"};
	ck_assert_int_eq(pt_configfiles_decide(PT_CONFIGFILES_KIND_COUNT, NS,
					       OFF, &d),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_decide(PLAIN, (Pt__ClusterSecurityMode)2,
					       OFF, &d),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_decide(PLAIN, NS,
					       PT_CONFIGFILES_ENC_COUNT, &d),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_decide(PLAIN, NS, OFF, NULL),
			 PT_ERR_INVALID);
	ck_assert_int_eq(d.form, PT_CONFIGFILES_FULL_SIGNED);
	ck_assert_str_eq(d.reason, "x");

	ck_assert_str_eq(pt_configfiles_kind_name(LDM), "ld-manual");
	ck_assert_str_eq(pt_configfiles_enc_name(MANUAL), "manual-key");
	ck_assert_str_eq(pt_configfiles_form_name(
				 PT_CONFIGFILES_ENCRYPTED_FULL),
			 "encrypted");
	ck_assert_str_eq(pt_configfiles_form_name(PT_CONFIGFILES_FORM_COUNT),
			 "unknown");
	ck_assert_str_eq(pt_configfiles_enc_name((pt_configfiles_enc_t)-1),
			 "unknown");
	ck_assert_str_eq(pt_configfiles_kind_name(PT_CONFIGFILES_KIND_COUNT),
			 "unknown");
}
END_TEST

/* ---- the encryption state of real devices ---- */

static EVP_PKEY *rsa_key, *ec_key;
static uint8_t *rsa_der, *ec_der;
static size_t rsa_der_len, ec_der_len;

static uint8_t *der_of(EVP_PKEY *key, const char *cn, size_t *len)
{
	X509 *x = pt_testcert(key, cn, 5);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	ck_assert_int_gt(n, 0);
	uint8_t *copy = malloc((size_t)n);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	*len = (size_t)n;
	return copy;
}

static void certs_setup(void)
{
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(rsa_key);
	ck_assert_ptr_nonnull(ec_key);
	rsa_der = der_of(rsa_key, "SEP001122334455", &rsa_der_len);
	ec_der = der_of(ec_key, "SEP001122334455", &ec_der_len);
}

static void certs_teardown(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	free(rsa_der);
	free(ec_der);
}

static void set_cert(Pt__Certificate *c, uint8_t *der, size_t len)
{
	pt__certificate__init(c);
	c->der.data = der;
	c->der.len = len;
}

static pt_configfiles_enc_t state(const Pt__Device *d, const Pt__Profile *p)
{
	pt_configfiles_enc_t e = PT_CONFIGFILES_ENC_COUNT;
	ck_assert_int_eq(pt_configfiles_encryption(d, p, &e), PT_OK);
	return e;
}

START_TEST(encryption_state)
{
	Pt__Device d;
	Pt__Profile p;
	Pt__Certificate lsc, mic;
	pt__device__init(&d);
	pt_profile_init(&p, PT__PROTOCOL__PROTOCOL_SIP);
	d.name = "SEP001122334455";
	d.model = "8841";
	d.protocol = PT__PROTOCOL__PROTOCOL_SIP;

	/* Off whatever the certificates. */
	set_cert(&lsc, rsa_der, rsa_der_len);
	d.lsc = &lsc;
	ck_assert_int_eq(state(&d, &p), OFF);

	p.tftp_encrypted_config = true;
	ck_assert_int_eq(state(&d, &p), RSA);
	/* The LSC comes first: an EC LSC hides an RSA MIC. */
	set_cert(&lsc, ec_der, ec_der_len);
	set_cert(&mic, rsa_der, rsa_der_len);
	d.mic = &mic;
	ck_assert_int_eq(state(&d, &p), EC);
	/* No LSC (absent or empty): the MIC. */
	d.lsc = NULL;
	ck_assert_int_eq(state(&d, &p), RSA);
	set_cert(&lsc, NULL, 0);
	d.lsc = &lsc;
	ck_assert_int_eq(state(&d, &p), RSA);
	set_cert(&mic, ec_der, ec_der_len);
	ck_assert_int_eq(state(&d, &p), EC);
	d.mic = NULL;
	ck_assert_int_eq(state(&d, &p), NOCERT);

	/* Manual-key models on SIP only. */
	set_cert(&lsc, rsa_der, rsa_der_len);
	const char *manual[] = {"7940", "7960", "Cisco 7960", "7905", "7912"};
	for (size_t i = 0; i < sizeof manual / sizeof manual[0]; i++) {
		d.model = (char *)manual[i];
		ck_assert_int_eq(state(&d, &p), MANUAL);
	}
	d.protocol = PT__PROTOCOL__PROTOCOL_SCCP;
	ck_assert_int_eq(state(&d, &p), RSA);
	d.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	d.model = "7975";
	ck_assert_int_eq(state(&d, &p), RSA);
	ck_assert(pt_configfiles_manual_key_model("7940",
						  PT__PROTOCOL__PROTOCOL_SIP));
	ck_assert(!pt_configfiles_manual_key_model(
		"7941", PT__PROTOCOL__PROTOCOL_SIP));
	ck_assert(!pt_configfiles_manual_key_model(NULL,
						   PT__PROTOCOL__PROTOCOL_SIP));

	/* A stored certificate that does not decode is an error, not a
	 * state. */
	uint8_t junk[] = {0x30, 0x03, 0x02, 0x01};
	set_cert(&lsc, junk, sizeof junk);
	pt_configfiles_enc_t e = OFF;
	ck_assert_int_lt(pt_configfiles_encryption(&d, &p, &e), 0);
	ck_assert_int_eq(pt_configfiles_encryption(NULL, &p, &e),
			 PT_ERR_INVALID);
}
END_TEST

START_TEST(phone_cert_choice)
{
	Pt__Device d;
	Pt__Certificate lsc, mic;
	X509 *x = (X509 *)1;
	pt__device__init(&d);
	ck_assert_int_eq(pt_configfiles_phone_cert(&d, &x), PT_ERR_NOT_FOUND);
	ck_assert_ptr_null(x);

	set_cert(&lsc, ec_der, ec_der_len);
	set_cert(&mic, rsa_der, rsa_der_len);
	d.mic = &mic;
	ck_assert_int_eq(pt_configfiles_phone_cert(&d, &x), PT_OK);
	ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(x)),
			 EVP_PKEY_RSA);
	X509_free(x);
	d.lsc = &lsc;
	ck_assert_int_eq(pt_configfiles_phone_cert(&d, &x), PT_OK);
	ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(x)),
			 EVP_PKEY_EC);
	X509_free(x);
	ck_assert_int_eq(pt_configfiles_phone_cert(NULL, &x), PT_ERR_INVALID);
	ck_assert_int_eq(pt_configfiles_phone_cert(&d, NULL), PT_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("configfiles");
	TCase *names = tcase_create("names");
	tcase_add_test(names, names_accepted);
	tcase_add_test(names, names_refused);
	tcase_add_test(names, names_built);
	suite_add_tcase(s, names);
	TCase *dec = tcase_create("decide");
	tcase_add_loop_test(dec, decision_row, 0,
			    (int)(sizeof table / sizeof table[0]));
	tcase_add_test(dec, decision_table_complete);
	suite_add_tcase(s, dec);
	TCase *enc = tcase_create("encryption");
	tcase_add_unchecked_fixture(enc, certs_setup, certs_teardown);
	tcase_set_timeout(enc, 120);
	tcase_add_test(enc, encryption_state);
	tcase_add_test(enc, phone_cert_choice);
	suite_add_tcase(s, enc);
	return pt_test_main(s);
}
