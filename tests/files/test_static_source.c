/* Static files on a real `phonetrust init` publisher with a real static
 * directory: administrator's files served as they are, XMLDefault.cnf.xml
 * and RingList.xml generated otherwise, signed forms that verify against
 * the node's TFTP certificate and carry the served name with its
 * sub-folder path, symbolic links and names leading out refused, names of
 * other sources left to them, and nothing signed in a non-secure cluster
 * (mixed mode comes from the real `phonetrust ctl init`). */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/static_source.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "lib/sgn.h"
#include "pt_node.h"
#include "pt_test.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

#define STAMP 0x65000000u
#define SECRET "outside the static directory\n"
#define LIST_XML "<CiscoIPPhoneImageList></CiscoIPPhoneImageList>\n"

static char *root, *dir, *stat_dir;
static pt_store_t *store;
static pt_identity_t *id;
static pt_config_keys_t keys;
static X509 *tftp_cert;

static char *path_in(const char *base, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", base, rel), 0);
	return p;
}

static void put_file(const char *rel, const char *text)
{
	char *p = path_in(stat_dir, rel);
	pt_test_write_file(p, text);
	free(p);
}

static void put_link(const char *target, const char *rel)
{
	char *p = path_in(stat_dir, rel);
	ck_assert_int_eq(symlink(target, p), 0);
	free(p);
}

/* The static directory:
 *   Chirp_1.raw, Piano.pcm      ring tones
 *   notes.txt                   no ring tone
 *   firmware.sgn                signed already (served as it is)
 *   Desktops/320x196x4/List.xml a file in a sub-folder
 *   sub/                        a directory
 *   pipe.raw                    a FIFO
 *   escape.raw -> ../secret.txt      links leading out
 *   abs.raw -> /<root>/secret.txt
 *   outdir -> ..
 *   inside.raw -> Chirp_1.raw   links staying inside
 *   inside.xml -> Desktops/320x196x4/List.xml */
static void make_static_dir(void)
{
	stat_dir = path_in(root, "static");
	ck_assert_int_eq(mkdir(stat_dir, 0755), 0);
	char *secret = path_in(root, "secret.txt");
	pt_test_write_file(secret, SECRET);
	put_file("Chirp_1.raw", "chirp chirp");
	put_file("Piano.pcm", "a piano ring tone, long enough for the cap");
	put_file("notes.txt", "not a ring tone");
	put_file("firmware.sgn", "signed by the vendor");
	char *p = path_in(stat_dir, "Desktops");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = path_in(stat_dir, "Desktops/320x196x4");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	put_file("Desktops/320x196x4/List.xml", LIST_XML);
	p = path_in(stat_dir, "sub");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = path_in(stat_dir, "pipe.raw");
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	free(p);
	put_link("../secret.txt", "escape.raw");
	put_link(secret, "abs.raw");
	put_link("..", "outdir");
	put_link("Chirp_1.raw", "inside.raw");
	put_link("Desktops/320x196x4/List.xml", "inside.xml");
	free(secret);
}

static void open_node(void)
{
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_identity_load(dir, &id), PT_OK);
	keys.tftp_key = pt_identity_key(id, PT_IDENTITY_TFTP);
	keys.tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP);
	/* The certificate as a phone's trust list would carry it. */
	char *pem_path = path_in(dir, "certs/tftp.pem");
	size_t n = 0;
	char *pem = pt_test_read_file(pem_path, &n);
	ck_assert_int_eq(pt_certs_decode_pem(pem, n, &tftp_cert), PT_OK);
	free(pem);
	free(pem_path);
}

static void setup_nonsecure(void)
{
	root = pt_test_tmpdir();
	dir = path_in(root, "pub");
	pt_node_init(dir, "pub", "publisher", NULL);
	make_static_dir();
}

/* Mixed mode the way administrators get it: ctl init with two SAST
 * tokens. */
static void setup_mixed(void)
{
	setup_nonsecure();
	pt_node_mixed(dir, "SAST-");
	open_node();
}

static void setup_nonsecure_open(void)
{
	setup_nonsecure();
	open_node();
}

static void teardown(void)
{
	pt_store_destroy(&store);
	pt_identity_destroy(&id);
	X509_free(tftp_cert);
	tftp_cert = NULL;
	memset(&keys, 0, sizeof keys);
	pt_test_rmtree(root);
	free(root);
	free(dir);
	free(stat_dir);
	root = dir = stat_dir = NULL;
}

/* ---- asking ---- */

static int ask_opts(const pt_static_opts_t *o, const pt_config_keys_t *k,
		    const char *name, pt_static_answer_t *ans)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_static_source_build(txn, k, o, name, ans);
	pt_txn_abort(&txn);
	if (r != PT_OK)
		ck_assert_ptr_null(ans->bytes);
	return r;
}

static int ask(const char *name, pt_static_answer_t *ans)
{
	pt_static_opts_t o = {.dir = stat_dir, .timestamp = STAMP};
	return ask_opts(&o, &keys, name, ans);
}

/* Served bytes for name, as a NUL-terminated copy. */
static char *served(const char *name, pt_static_answer_t *ans)
{
	int r = ask(name, ans);
	ck_assert_msg(r == PT_OK, "%s: %d %s", name, r, ans->reason);
	ck_assert_msg(ans->bytes != NULL, "%s not found: %s", name,
		      ans->reason);
	char *s = malloc(ans->len + 1);
	memcpy(s, ans->bytes, ans->len);
	s[ans->len] = '\0';
	return s;
}

static void not_found(const char *name, const char *why)
{
	pt_static_answer_t ans;
	int r = ask(name, &ans);
	ck_assert_msg(r == PT_OK, "%s: %d %s", name, r, ans.reason);
	ck_assert_msg(ans.bytes == NULL, "%s served", name);
	ck_assert_msg(strstr(ans.reason, why) != NULL, "%s: '%s'", name,
		      ans.reason);
}

static void refused(const pt_static_opts_t *o, const char *name, int want)
{
	pt_static_answer_t ans;
	int r = ask_opts(o, &keys, name, &ans);
	ck_assert_msg(r == want, "%s: %d (%s), want %d", name, r, ans.reason,
		      want);
	ck_assert(ans.reason[0] != '\0');
}

/* Parses and verifies a signed answer against the node's TFTP
 * certificate; checks item 14 and 15 and that the payload is plain. */
static void check_signed(const pt_static_answer_t *ans, const char *item14,
			 const char *plain, size_t plain_len,
			 pt_sgn_digest_t digest)
{
	pt_sgn_file_t f;
	pt_sgn_diag_t d;
	ck_assert(ans->is_signed);
	int r = pt_sgn_parse(ans->bytes, ans->len, &f, &d);
	ck_assert_msg(r == PT_OK, "parse: %s at %zu", d.what, d.offset);
	r = pt_sgn_verify(&f, tftp_cert, &d);
	ck_assert_msg(r == PT_OK, "verify: %s", d.what);
	ck_assert_str_eq(f.file_name, item14);
	ck_assert_str_eq(ans->served, item14);
	ck_assert_uint_eq(f.timestamp, STAMP);
	ck_assert_int_eq(f.digest, digest);
	ck_assert_uint_eq(f.payload_len, plain_len);
	ck_assert_mem_eq(f.payload, plain, plain_len);
}

/* ---- mixed cluster ---- */

START_TEST(signed_ringlist)
{
	pt_static_answer_t plain, sig;
	char *xml = served("RingList.xml", &plain);
	ck_assert(plain.generated && !plain.is_signed);
	ck_assert_str_eq(plain.served, "RingList.xml");
	/* Regular ring tones only, a link inside followed; no FIFO, no
	 * link leading out, no other file. */
	ck_assert_ptr_nonnull(strstr(xml, "<FileName>Chirp_1.raw</FileName>"));
	ck_assert_ptr_nonnull(strstr(xml, "<DisplayName>Chirp 1</DisplayName>"));
	ck_assert_ptr_nonnull(strstr(xml, "<FileName>Piano.pcm</FileName>"));
	ck_assert_ptr_nonnull(strstr(xml, "<FileName>inside.raw</FileName>"));
	const char *never[] = {"pipe.raw", "escape.raw", "abs.raw",
			       "notes.txt"};
	for (size_t i = 0; i < 4; i++)
		ck_assert_msg(strstr(xml, never[i]) == NULL, "%s", never[i]);

	free(served("RingList.xml.sgn", &sig));
	check_signed(&sig, "RingList.xml.sgn", xml, strlen(xml), PT_SGN_SHA1);
	ck_assert(sig.generated);
	pt_static_answer_clear(&sig);
	/* Any spelling, the canonical name in the header. */
	char *again = served("ringlist.XML.SGN", &sig);
	check_signed(&sig, "RingList.xml.sgn", xml, strlen(xml), PT_SGN_SHA1);
	free(again);
	pt_static_answer_clear(&sig);
	pt_static_answer_clear(&plain);
	free(xml);
}
END_TEST

START_TEST(signed_default_configuration)
{
	/* A subscriber joins the nodes table: it comes first. */
	Pt__Node n = PT__NODE__INIT;
	char *services[] = {"tftp", "tvs"};
	n.name = "sub1";
	n.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
	n.address = "127.0.0.2";
	n.tvs_port = 2446;
	n.services = services;
	n.n_services = 2;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_node_put(txn, &n), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);

	pt_static_answer_t plain, sig;
	char *xml = served("XMLDefault.cnf.xml", &plain);
	ck_assert(plain.generated);
	char *sub = strstr(xml, "<processNodeName>127.0.0.2</processNodeName>");
	char *pub = strstr(xml, "<processNodeName>127.0.0.1</processNodeName>");
	ck_assert(sub && pub && sub < pub);
	ck_assert_ptr_nonnull(strstr(xml, "<port>2446</port>\n"
					  "        <address>127.0.0.2</address>"));
	ck_assert_ptr_null(strstr(xml, "capf"));
	ck_assert_ptr_null(strstr(xml, "auth"));

	char *s = served("xmldefault.cnf.xml.sgn", &sig);
	check_signed(&sig, "XMLDefault.cnf.xml.sgn", xml, strlen(xml),
		     PT_SGN_SHA1);
	free(s);
	pt_static_answer_clear(&sig);
	pt_static_answer_clear(&plain);
	free(xml);
}
END_TEST

START_TEST(sub_folder_names)
{
	pt_static_answer_t ans;
	char *s = served("Desktops/320x196x4/List.xml", &ans);
	ck_assert_str_eq(s, LIST_XML);
	ck_assert(!ans.generated && !ans.is_signed);
	free(s);
	pt_static_answer_clear(&ans);

	const char *names[] = {"Desktops/320x196x4/List.xml.sgn",
			       "Desktops\\320x196x4\\List.xml.sgn"};
	for (size_t i = 0; i < 2; i++) {
		s = served(names[i], &ans);
		check_signed(&ans, "Desktops/320x196x4/List.xml.sgn", LIST_XML,
			     strlen(LIST_XML), PT_SGN_SHA1);
		ck_assert(!ans.generated);
		free(s);
		pt_static_answer_clear(&ans);
	}
	/* A ring tone signed the same way. */
	s = served("Chirp_1.raw.sgn", &ans);
	check_signed(&ans, "Chirp_1.raw.sgn", "chirp chirp", 11, PT_SGN_SHA1);
	free(s);
	pt_static_answer_clear(&ans);
}
END_TEST

START_TEST(digest_parameter)
{
	pt_txn_t *txn = NULL;
	Pt__Cluster *c = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &c), PT_OK);
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_TFTP_SIGNATURE_ALG, "sha512",
				      NULL),
			 PT_OK);
	ck_assert_int_eq(pt_cluster_put(txn, c), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&c->base);

	pt_static_answer_t ans;
	char *s = served("Desktops/320x196x4/List.xml.sgn", &ans);
	check_signed(&ans, "Desktops/320x196x4/List.xml.sgn", LIST_XML,
		     strlen(LIST_XML), PT_SGN_SHA512);
	ck_assert_ptr_nonnull(strstr(ans.reason, "SHA-512"));
	free(s);
	pt_static_answer_clear(&ans);
}
END_TEST

/* The administrator's copies win over generated ones; files already
 * signed are served as they are. */
START_TEST(administrator_files_win)
{
	const char *mine = "<CiscoIPPhoneRingList><Ring><DisplayName>Mine"
			   "</DisplayName><FileName>Chirp_1.raw</FileName>"
			   "</Ring></CiscoIPPhoneRingList>";
	put_file("RingList.xml", mine);
	put_file("XMLDefault.cnf.xml", "<Default/>");
	pt_static_answer_t ans;
	char *s = served("RingList.xml", &ans);
	ck_assert_str_eq(s, mine);
	ck_assert(!ans.generated);
	free(s);
	pt_static_answer_clear(&ans);
	s = served("RingList.xml.sgn", &ans);
	check_signed(&ans, "RingList.xml.sgn", mine, strlen(mine),
		     PT_SGN_SHA1);
	free(s);
	pt_static_answer_clear(&ans);
	s = served("XMLDefault.cnf.xml", &ans);
	ck_assert_str_eq(s, "<Default/>");
	free(s);
	pt_static_answer_clear(&ans);

	s = served("firmware.sgn", &ans);
	ck_assert_str_eq(s, "signed by the vendor");
	ck_assert(!ans.is_signed);
	free(s);
	pt_static_answer_clear(&ans);
}
END_TEST

START_TEST(links_and_names_leading_out)
{
	pt_static_opts_t o = {.dir = stat_dir, .timestamp = STAMP};
	const char *out[] = {"escape.raw",	   "abs.raw",
			     "outdir/secret.txt",  "escape.raw.sgn",
			     "outdir/secret.txt.sgn"};
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
		refused(&o, out[i], PT_ERR_DENIED);
		o.no_openat2 = true;
		refused(&o, out[i], PT_ERR_DENIED);
		o.no_openat2 = false;
	}
	const char *bad[] = {"../secret.txt", "Desktops/../../secret.txt",
			     "..\\secret.txt", "/etc/passwd", "a//b", "./x",
			     "Desktops/./320x196x4/List.xml", "sub/",
			     "x\ny", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(&o, bad[i], PT_ERR_DENIED);
	refused(&o, "pipe.raw", PT_ERR_DENIED);
	refused(&o, "pipe.raw.sgn", PT_ERR_DENIED);

	/* A link staying inside: followed by openat2, refused by the
	 * part-by-part walk. */
	pt_static_answer_t ans;
	char *s = served("inside.xml", &ans);
	ck_assert_str_eq(s, LIST_XML);
	free(s);
	pt_static_answer_clear(&ans);
	o.no_openat2 = true;
	refused(&o, "inside.xml", PT_ERR_DENIED);
	/* The walk still serves plain paths and sub-folders... */
	ck_assert_int_eq(ask_opts(&o, &keys, "Desktops/320x196x4/List.xml.sgn",
				  &ans),
			 PT_OK);
	ck_assert_ptr_nonnull(ans.bytes);
	pt_static_answer_clear(&ans);
	/* ... and lists no link in the ring list. */
	ck_assert_int_eq(ask_opts(&o, &keys, "RingList.xml", &ans), PT_OK);
	ck_assert_ptr_nonnull(ans.bytes);
	ck_assert_ptr_nonnull(memmem(ans.bytes, ans.len, "Chirp_1.raw", 11));
	ck_assert_ptr_null(memmem(ans.bytes, ans.len, "inside.raw", 10));
	pt_static_answer_clear(&ans);
}
END_TEST

START_TEST(names_of_other_sources)
{
	pt_static_opts_t o = {.dir = stat_dir};
	const char *names[] = {"SEP001122334455.cnf.xml",
			       "sep001122334455.cnf.xml.sgn",
			       "SEP001122334455.cnf.xml.enc.sgn",
			       "SIP001122334455.cnf.enc.sgn",
			       "CTLFile.tlv",
			       "ITLFile.tlv",
			       "itlfile.tlv.sgn",
			       "ITLSEP001122334455.tlv"};
	/* Even when the directory holds a file of that name. */
	put_file("SEP001122334455.cnf.xml", "<device/>");
	put_file("ITLFile.tlv", "stale");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		refused(&o, names[i], PT_ERR_INVALID);
}
END_TEST

START_TEST(not_found_answers)
{
	not_found("nothing.bin", "no 'nothing.bin'");
	not_found("nothing.bin.sgn", "no 'nothing.bin.sgn' nor 'nothing.bin'");
	not_found("sub", "no 'sub'");
	not_found("sub.sgn", "no 'sub.sgn' nor 'sub'");
	not_found(".sgn", "no '.sgn'");

	/* Without a directory: generated files only. */
	pt_static_opts_t none = {.timestamp = STAMP};
	pt_static_answer_t ans;
	ck_assert_int_eq(ask_opts(&none, &keys, "Piano.pcm", &ans), PT_OK);
	ck_assert_ptr_null(ans.bytes);
	ck_assert_ptr_nonnull(strstr(ans.reason, "no static directory"));
	ck_assert_int_eq(ask_opts(&none, &keys, "RingList.xml.sgn", &ans),
			 PT_OK);
	ck_assert_ptr_nonnull(ans.bytes);
	pt_sgn_file_t f;
	ck_assert_int_eq(pt_sgn_parse(ans.bytes, ans.len, &f, NULL), PT_OK);
	const char empty[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<CiscoIPPhoneRingList></CiscoIPPhoneRingList>\n";
	ck_assert_uint_eq(f.payload_len, strlen(empty));
	ck_assert_mem_eq(f.payload, empty, strlen(empty));
	pt_static_answer_clear(&ans);

	/* No key to sign with; a missing directory. */
	pt_static_opts_t o = {.dir = stat_dir};
	ck_assert_int_eq(ask_opts(&o, NULL, "RingList.xml.sgn", &ans),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(ans.reason, "no TFTP key"));
	ck_assert_int_eq(ask_opts(&o, NULL, "RingList.xml", &ans), PT_OK);
	pt_static_answer_clear(&ans);
	char *gone = path_in(root, "gone");
	o.dir = gone;
	ck_assert_int_eq(ask_opts(&o, &keys, "RingList.xml", &ans),
			 PT_ESYS(ENOENT));
	free(gone);
}
END_TEST

START_TEST(size_cap)
{
	pt_static_opts_t o = {.dir = stat_dir, .max_file_size = 11};
	pt_static_answer_t ans;
	ck_assert_int_eq(ask_opts(&o, &keys, "Chirp_1.raw", &ans), PT_OK);
	ck_assert_uint_eq(ans.len, 11);
	pt_static_answer_clear(&ans);
	refused(&o, "Piano.pcm", PT_ERR_DENIED);
	refused(&o, "Piano.pcm.sgn", PT_ERR_DENIED);
}
END_TEST

/* ---- non-secure cluster ---- */

/* The ITL lists the TFTP certificate in both modes, so signed forms are
 * served in a non-secure cluster too. */
START_TEST(nonsecure_signs_too)
{
	const char *names[] = {"RingList.xml.sgn", "XMLDefault.cnf.xml.sgn",
			       "Desktops/320x196x4/List.xml.sgn",
			       "Chirp_1.raw.sgn"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		pt_static_answer_t ans;
		free(served(names[i], &ans));
		ck_assert(ans.is_signed);
		pt_static_answer_clear(&ans);
	}
	not_found("nothing.sgn", "nothing");
	/* Plain forms and files signed already are served. */
	const char *plain[] = {"RingList.xml", "XMLDefault.cnf.xml",
			       "Desktops/320x196x4/List.xml", "firmware.sgn"};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		pt_static_answer_t ans;
		free(served(plain[i], &ans));
		ck_assert(!ans.is_signed);
		pt_static_answer_clear(&ans);
	}
	pt_static_opts_t o = {.dir = stat_dir};
	refused(&o, "escape.raw.sgn", PT_ERR_DENIED);
	refused(&o, "escape.raw", PT_ERR_DENIED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("static_source");
	TCase *tm = tcase_create("mixed");
	tcase_add_checked_fixture(tm, setup_mixed, teardown);
	tcase_set_timeout(tm, 300);
	tcase_add_test(tm, signed_ringlist);
	tcase_add_test(tm, signed_default_configuration);
	tcase_add_test(tm, sub_folder_names);
	tcase_add_test(tm, digest_parameter);
	tcase_add_test(tm, administrator_files_win);
	tcase_add_test(tm, links_and_names_leading_out);
	tcase_add_test(tm, names_of_other_sources);
	tcase_add_test(tm, not_found_answers);
	tcase_add_test(tm, size_cap);
	suite_add_tcase(s, tm);
	TCase *tn = tcase_create("nonsecure");
	tcase_add_checked_fixture(tn, setup_nonsecure_open, teardown);
	tcase_set_timeout(tn, 300);
	tcase_add_test(tn, nonsecure_signs_too);
	suite_add_tcase(s, tn);
	return pt_test_main(s);
}
