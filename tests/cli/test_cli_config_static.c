/* phonetrust config static against a real publisher (init, then ctl init
 * with two tokens for mixed mode) and a real static directory: the exact
 * bytes, written or printed; signed forms checked the way a phone checks
 * them, with the CTL and ITL the node hands out; refusals with exit 1 or
 * 2 and the store left as it was. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/phone_trust.h"
#include "pt_fixture.h"
#include "pt_node.h"
#include "pt_test.h"

#define LIST_XML "<CiscoIPPhoneImageList></CiscoIPPhoneImageList>\n"
#define RINGLIST                                                        \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                  \
	"<CiscoIPPhoneRingList>\n"                                      \
	"  <Ring>\n"                                                    \
	"    <DisplayName>Chirp 1</DisplayName>\n"                      \
	"    <FileName>Chirp_1.raw</FileName>\n"                        \
	"  </Ring>\n"                                                   \
	"  <Ring>\n"                                                    \
	"    <DisplayName>Piano</DisplayName>\n"                        \
	"    <FileName>Piano.pcm</FileName>\n"                          \
	"  </Ring>\n"                                                   \
	"</CiscoIPPhoneRingList>\n"

static char *tmp, *pub, *sdir;

static char *path_in(const char *base, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", base, rel), 0);
	return p;
}

/* Runs phonetrust --data pub ARGS...; returns the exit status. */
static int cli(pt_run_t *r, const char *const *args)
{
	return pt_node_cli(r, pub, args);
}

static void ok(const char *const *args)
{
	pt_node_cli_ok(pub, args);
}

/* Exit status want and needle on stderr. */
static void fails(int want, const char *needle, const char *const *args)
{
	pt_run_t r;
	int st = cli(&r, args);
	ck_assert_msg(st == want, "%s: exit %d, want %d: %s", args[2], st,
		      want, r.err);
	ck_assert_msg(strstr(r.err, needle), "'%s' not in: %s", needle, r.err);
	ck_assert_str_eq(r.out, "");
	pt_run_clear(&r);
}

/* The bytes of `config static NAME --dir DIR --out FILE`. */
static uint8_t *fetch(const char *name, const char *dir, size_t *len)
{
	char *out = path_in(tmp, "fetched");
	remove(out);
	pt_run_t r;
	int st = dir ? cli(&r, (const char *[]){"config", "static", name,
						"--dir", dir, "--out", out,
						NULL})
		     : cli(&r, (const char *[]){"config", "static", name,
						"--out", out, NULL});
	ck_assert_msg(st == 0, "%s: %s", name, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "wrote "));
	pt_run_clear(&r);
	uint8_t *bytes = (uint8_t *)pt_test_read_file(out, len);
	free(out);
	return bytes;
}

static void mkdir_in(const char *rel)
{
	char *p = path_in(sdir, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
}

static void put_file(const char *rel, const char *text)
{
	char *p = path_in(sdir, rel);
	pt_test_write_file(p, text);
	free(p);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in(tmp, "pub");
	sdir = path_in(tmp, "static");
	pt_node_init(pub, "pub", "publisher", NULL);
	ck_assert_int_eq(mkdir(sdir, 0755), 0);
	put_file("Chirp_1.raw", "chirp chirp");
	put_file("Piano.pcm", "piano");
	put_file("notes.txt", "no ring tone");
	put_file("firmware.sgn", "signed by the vendor");
	mkdir_in("Desktops");
	mkdir_in("Desktops/320x196x4");
	put_file("Desktops/320x196x4/List.xml", LIST_XML);
	char *secret = path_in(tmp, "secret.txt"),
	     *link = path_in(sdir, "escape.raw");
	pt_test_write_file(secret, "outside\n");
	ck_assert_int_eq(symlink(secret, link), 0);
	free(secret);
	free(link);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
	free(sdir);
}

static void go_mixed(void)
{
	pt_node_mixed(pub, "SAST-");
}

/* A phone that fetched and installed this node's CTL and ITL. */
static pt_phone_trust_t *phone_with_lists(void)
{
	pt_phone_trust_t *pt = NULL;
	pt_phone_diag_t d;
	size_t len = 0;
	ck_assert_int_eq(pt_phone_trust_new(&pt), PT_OK);
	char *ctl = path_in(tmp, "CTLFile.tlv"),
	     *itl = path_in(tmp, "ITLFile.tlv");
	ok((const char *[]){"ctl", "show", "--out", ctl, NULL});
	ok((const char *[]){"itl", "show", "--out", itl, NULL});
	uint8_t *b = (uint8_t *)pt_test_read_file(ctl, &len);
	ck_assert_msg(pt_phone_trust_put_ctl(pt, b, len, NULL, 0, &d) == PT_OK,
		      "%s", d.text);
	free(b);
	b = (uint8_t *)pt_test_read_file(itl, &len);
	ck_assert_msg(pt_phone_trust_put_itl(pt, b, len, NULL, 0, &d) == PT_OK,
		      "%s", d.text);
	free(b);
	free(ctl);
	free(itl);
	ck_assert(pt_phone_trust_wants_signed(pt));
	return pt;
}

START_TEST(nonsecure_plain_bytes)
{
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);

	/* Standard output that is no terminal gets the exact bytes. */
	pt_run_t r;
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "static",
						  "RingList.xml", "--dir",
						  sdir, NULL}),
			 0);
	ck_assert_str_eq(r.out, RINGLIST);
	pt_run_clear(&r);
	size_t len = 0;
	uint8_t *b = fetch("RingList.xml", sdir, &len);
	ck_assert_uint_eq(len, strlen(RINGLIST));
	ck_assert_mem_eq(b, RINGLIST, len);
	free(b);
	b = fetch("firmware.sgn", sdir, &len);
	ck_assert_uint_eq(len, 20);
	ck_assert_mem_eq(b, "signed by the vendor", 20);
	free(b);
	b = fetch("XMLDefault.cnf.xml", NULL, &len);
	ck_assert_ptr_nonnull(
		memmem(b, len, "<processNodeName>127.0.0.1</processNodeName>",
		       44));
	free(b);

	/* --json describes instead of printing the bytes. */
	const char *backslashed = "Desktops\\320x196x4\\List.xml";
	ck_assert_int_eq(cli(&r, (const char *[]){"--json", "config", "static",
						  backslashed, "--dir", sdir,
						  NULL}),
			 0);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "%s: %s", e.text, r.out);
	ck_assert(json_is_true(json_object_get(j, "served")));
	ck_assert(json_is_false(json_object_get(j, "signed")));
	ck_assert(json_is_false(json_object_get(j, "generated")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "served_name")),
			 "Desktops/320x196x4/List.xml");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")),
			 (json_int_t)strlen(LIST_XML));
	json_decref(j);
	pt_run_clear(&r);

	/* A non-secure cluster signs too (phones hold the node's ITL). */
	pt_run_t rs;
	ck_assert_int_eq(cli(&rs, (const char *[]){"--json", "config",
						   "static", "RingList.xml.sgn",
						   "--dir", sdir, NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(rs.out, "\"signed\": true"));
	pt_run_clear(&rs);
	pt_fixture_assert_unchanged(pub, &before);
}
END_TEST

START_TEST(refusals)
{
	pt_fixture_state_t before;
	pt_fixture_state(pub, &before);
	fails(1, "another source",
	      (const char *[]){"config", "static", "SEP001122334455.cnf.xml",
			       "--dir", sdir, NULL});
	fails(1, "another source",
	      (const char *[]){"config", "static", "ITLFile.tlv", NULL});
	fails(1, "access violation",
	      (const char *[]){"config", "static", "../secret.txt", "--dir",
			       sdir, NULL});
	fails(1, "access violation",
	      (const char *[]){"config", "static", "escape.raw", "--dir", sdir,
			       NULL});
	fails(1, "File not found",
	      (const char *[]){"config", "static", "missing.bin", "--dir",
			       sdir, NULL});
	fails(1, "File not found",
	      (const char *[]){"config", "static", "Piano.pcm", NULL});
	fails(1, "cannot open the static directory",
	      (const char *[]){"config", "static", "Piano.pcm", "--dir",
			       "/nonexistent/static", NULL});
	fails(2, "exactly one file name",
	      (const char *[]){"config", "static", NULL});
	fails(2, "exactly one file name",
	      (const char *[]){"config", "static", "a", "b", NULL});
	fails(2, "unknown option",
	      (const char *[]){"config", "static", "a", "--bogus", NULL});
	fails(2, "unknown option",
	      (const char *[]){"config", "static", "a", "--dir", NULL});
	pt_fixture_assert_unchanged(pub, &before);

	pt_run_t r;
	ck_assert_int_eq(cli(&r, (const char *[]){"config", "static", "--help",
						  NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(r.out, "config static NAME"));
	pt_run_clear(&r);
}
END_TEST

/* Each signed form verified by a phone holding the node's CTL and ITL,
 * item 14 the served name, the payload the plain form's bytes. */
START_TEST(mixed_signed_as_a_phone_checks)
{
	go_mixed();
	pt_phone_trust_t *pt = phone_with_lists();
	static const struct {
		const char *request, *item14, *plain;
	} cases[] = {
		{"RingList.xml.sgn", "RingList.xml.sgn", "RingList.xml"},
		{"xmldefault.cnf.xml.sgn", "XMLDefault.cnf.xml.sgn",
		 "XMLDefault.cnf.xml"},
		{"Desktops\\320x196x4\\List.xml.sgn",
		 "Desktops/320x196x4/List.xml.sgn",
		 "Desktops/320x196x4/List.xml"},
		{"Chirp_1.raw.sgn", "Chirp_1.raw.sgn", "Chirp_1.raw"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = 0, plain_len = 0, payload_len = 0;
		uint8_t *sgn = fetch(cases[i].request, sdir, &len);
		uint8_t *plain = fetch(cases[i].plain, sdir, &plain_len);
		const uint8_t *payload = NULL;
		pt_phone_diag_t d;
		int r = pt_phone_trust_verify_sgn(pt, sgn, len, cases[i].item14,
						  &payload, &payload_len, &d);
		ck_assert_msg(r == PT_OK, "%s: %s", cases[i].request, d.text);
		ck_assert_uint_eq(payload_len, plain_len);
		ck_assert_mem_eq(payload, plain, plain_len);
		/* Another name in item 14 is what a strict phone refuses. */
		ck_assert_int_eq(pt_phone_trust_verify_sgn(pt, sgn, len,
							   "Other.xml.sgn",
							   &payload,
							   &payload_len, &d),
				 PT_ERR_DENIED);
		free(sgn);
		free(plain);
	}
	/* Plain forms stay available; files signed already are not signed
	 * again. */
	size_t len = 0;
	uint8_t *b = fetch("firmware.sgn", sdir, &len);
	ck_assert_mem_eq(b, "signed by the vendor", 20);
	free(b);

	pt_run_t r;
	ck_assert_int_eq(cli(&r, (const char *[]){"--json", "config", "static",
						  "RingList.xml.sgn", NULL}),
			 0);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "%s: %s", e.text, r.out);
	ck_assert(json_is_true(json_object_get(j, "signed")));
	ck_assert(json_is_true(json_object_get(j, "generated")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "served_name")),
			 "RingList.xml.sgn");
	json_decref(j);
	pt_run_clear(&r);
	pt_phone_trust_destroy(&pt);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_config_static");
	TCase *tc = tcase_create("static");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, nonsecure_plain_bytes);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, mixed_signed_as_a_phone_checks);
	suite_add_tcase(s, tc);
	return pt_test_main(s);
}
