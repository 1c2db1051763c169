/* phonetrust tlv show, run as the real binary on files built here. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tlv.h"
#include "pt_test.h"

static char *dir;
static EVP_PKEY *tftp_key, *capf_key, *tvs_key, *rec_key;
static X509 *tftp, *capf, *tvs, *recovery;

static void keys_setup(void)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &tftp_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &capf_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &tvs_key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &rec_key), PT_OK);
	pt_cert_opts_t o = {.org = "Example", .org_unit = "Voice"};
	ck_assert_int_eq(pt_certs_build_service(tftp_key, "pub1", "tftp", &o,
						&tftp),
			 PT_OK);
	ck_assert_int_eq(pt_certs_build_capf(capf_key, NULL, &capf), PT_OK);
	ck_assert_int_eq(pt_certs_build_service(tvs_key, "pub1", "tvs", NULL,
						&tvs),
			 PT_OK);
	ck_assert_int_eq(pt_certs_build_itl_recovery(rec_key, "pub1", NULL,
						     &recovery),
			 PT_OK);
}

static void keys_teardown(void)
{
	X509 *certs[] = {tftp, capf, tvs, recovery};
	EVP_PKEY *keys[] = {tftp_key, capf_key, tvs_key, rec_key};
	for (size_t i = 0; i < 4; i++) {
		X509_free(certs[i]);
		EVP_PKEY_free(keys[i]);
	}
}

static void setup(void)
{
	dir = pt_test_tmpdir();
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

typedef struct built {
	uint8_t *bytes;
	size_t len;
	uint8_t *der[5];
	size_t der_len[5];
} built_t;

/* ITL of a publisher (spec §1): its TFTP certificate as SAST and TFTP,
 * CAPF, TVS (EC), and the recovery SAST. */
static void build_list(built_t *b, const char *file_name,
		       pt_tlv_digest_t digest)
{
	X509 *certs[] = {tftp, tftp, capf, tvs, recovery};
	uint16_t roles[] = {PT_TLV_ROLE_SAST, PT_TLV_ROLE_TFTP,
			    PT_TLV_ROLE_CAPF, PT_TLV_ROLE_TVS,
			    PT_TLV_ROLE_SAST};
	pt_tlv_entry_t e[5];
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(pt_certs_encode_der(certs[i], &b->der[i],
						     &b->der_len[i]),
				 PT_OK);
		e[i] = (pt_tlv_entry_t){.role = roles[i],
					.cert_der = b->der[i],
					.cert_len = b->der_len[i]};
	}
	pt_tlv_build_opts_t o = {.file_name = file_name,
				 .timestamp = 1700000000,
				 .digest = digest};
	pt_tlv_diag_t d;
	int r = pt_tlv_build(e, 5, &o, tftp_key, tftp, &b->bytes, &b->len, &d);
	ck_assert_msg(r == PT_OK, "build: %s", d.text);
}

static void built_clear(built_t *b)
{
	free(b->bytes);
	for (size_t i = 0; i < 5; i++)
		free(b->der[i]);
}

static char *write_bytes(const char *name, const uint8_t *p, size_t n)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
	return path;
}

static void show(pt_run_t *r, int want, const char *path, bool json)
{
	if (json)
		pt_test_run(r, NULL, "cli/phonetrust", "tlv", "show", "--json",
			    path, NULL);
	else
		pt_test_run(r, NULL, "cli/phonetrust", "tlv", "show", path,
			    NULL);
	ck_assert_msg(r->status == want, "exit %d, want %d; stderr: %s",
		      r->status, want, r->err);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static char *sha1_of(const uint8_t *p, size_t n, bool listing)
{
	uint8_t md[20];
	unsigned len = 0;
	ck_assert(EVP_Digest(p, n, md, &len, EVP_sha1(), NULL));
	char *s = calloc(1, 64);
	for (unsigned i = 0; i < len; i++)
		sprintf(s + strlen(s), listing ? (i ? " %02X" : "%02X") : "%02x",
			md[i]);
	return s;
}

START_TEST(show_itl_listing)
{
	built_t b = {0};
	build_list(&b, PT_TLV_ITL_NAME, PT_TLV_DIGEST_SHA1);
	char *path = write_bytes("ITLFile.tlv", b.bytes, b.len);
	pt_tlv_file_t *f = NULL;
	ck_assert_int_eq(pt_tlv_parse(b.bytes, b.len, &f, NULL), PT_OK);

	pt_run_t r;
	show(&r, 0, path, false);
	/* Record 1 exactly as §10 lays it out. */
	const pt_tlv_record_t *rec = &f->records[0];
	char *hash = sha1_of(b.der[0], b.der_len[0], true);
	char *want = NULL;
	ck_assert_int_ge(
		asprintf(&want,
			 "ITL Record #:1\n"
			 "----\n"
			 "BYTEPOS TAG LENGTH VALUE\n"
			 "------- --- ------ -----\n"
			 "1 RECORDLENGTH 2 %u\n"
			 "3 SUBJECTNAME %zu O=Example,OU=Voice,CN=pub1-tftp\n"
			 "5 ISSUERNAME %zu O=Example,OU=Voice,CN=pub1-tftp\n"
			 "6 SERIALNUMBER %zu ",
			 rec->length, strlen(rec->subject) + 1,
			 strlen(rec->issuer) + 1, rec->serial.len),
		0);
	ck_assert_msg(strstr(r.out, want), "no record 1 in:\n%s", r.out);
	free(want);
	ck_assert_int_ge(
		asprintf(&want,
			 "4 FUNCTION 2 System Administrator Security Token\n"
			 "7 PUBLICKEY 270\n"
			 "8 SIGNATURE 256\n"
			 "9 CERTIFICATE %zu %s (SHA1 Hash HEX)\n"
			 "This etoken was used to sign the ITL file.\n",
			 b.der_len[0], hash),
		0);
	ck_assert_msg(strstr(r.out, want), "no record 1 tail in:\n%s", r.out);
	free(want);
	free(hash);
	/* Serial as upper-case pairs joined by ':'. */
	char serial[64] = "";
	for (size_t i = 0; i < rec->serial.len; i++)
		sprintf(serial + strlen(serial), i ? ":%02X" : "%02X",
			rec->serial.data[i]);
	ck_assert_ptr_nonnull(strstr(r.out, serial));

	ck_assert_uint_eq(count(r.out, "Record #:"), 5);
	ck_assert_ptr_nonnull(strstr(r.out, "ITL Record #:5\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "4 FUNCTION 2 TFTP\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "4 FUNCTION 2 CAPF\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "4 FUNCTION 2 TVS\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "7 PUBLICKEY 65\n")); /* P-256 */
	ck_assert_uint_eq(count(r.out, "This etoken was used to sign the ITL "
				       "file.\n"),
			  1);
	ck_assert_uint_eq(count(r.out, "This etoken was not used to sign the "
				       "ITL file.\n"),
			  1);
	/* The header block, and the verdict as the last line. */
	ck_assert_ptr_nonnull(strstr(r.out, "8 DIGESTALGORITHM 1 SHA-1\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "14 FILENAME 12 ITLFile.tlv\n"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "15 TIMESTAMP 4 2023-11-14T22:13:20Z\n"));
	const char *verdict = "The ITL file was verified successfully.\n";
	size_t lo = strlen(r.out), lv = strlen(verdict);
	ck_assert_uint_ge(lo, lv);
	ck_assert_str_eq(r.out + lo - lv, verdict);
	ck_assert_str_eq(r.err, "");
	pt_run_clear(&r);
	pt_tlv_file_destroy(&f);
	free(path);
	built_clear(&b);
}
END_TEST

START_TEST(show_itl_json)
{
	built_t b = {0};
	build_list(&b, PT_TLV_ITL_NAME, PT_TLV_DIGEST_SHA1);
	char *path = write_bytes("ITLFile.tlv", b.bytes, b.len);
	pt_run_t r;
	show(&r, 0, path, true);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, r.out);
	ck_assert(json_is_true(json_object_get(j, "verified")));
	ck_assert(json_is_null(json_object_get(j, "error")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "ITL");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "signer")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")),
			 (json_int_t)b.len);
	json_t *h = json_object_get(j, "header");
	ck_assert_str_eq(json_string_value(json_object_get(h, "digest")),
			 "SHA-1");
	ck_assert_str_eq(json_string_value(json_object_get(h, "file_name")),
			 "ITLFile.tlv");
	ck_assert_int_eq(json_integer_value(json_object_get(h, "modulus_bits")),
			 2048);
	ck_assert_str_eq(json_string_value(json_object_get(h, "signer_name")),
			 "O=Example,OU=Voice,CN=pub1-tftp");
	json_t *recs = json_object_get(j, "records");
	ck_assert_uint_eq(json_array_size(recs), 5);
	static const char *const roles[] = {"sast", "tftp", "capf", "tvs",
					    "sast"};
	for (size_t i = 0; i < 5; i++) {
		json_t *rec = json_array_get(recs, i);
		ck_assert_str_eq(json_string_value(
					 json_object_get(rec, "role_name")),
				 roles[i]);
		ck_assert(json_is_boolean(json_object_get(rec, "signer")));
		ck_assert(json_is_true(json_object_get(rec, "signer")) ==
			  (i == 0));
		char *sha1 = sha1_of(b.der[i], b.der_len[i], false);
		json_t *cert = json_object_get(rec, "certificate");
		ck_assert_str_eq(json_string_value(
					 json_object_get(cert, "sha1")),
				 sha1);
		free(sha1);
		uint8_t md[32];
		ck_assert_int_eq(pt_certs_sha256(b.der[i], b.der_len[i], md),
				 PT_OK);
		ck_assert_uint_eq(strlen(json_string_value(
					  json_object_get(cert, "sha256"))),
				  64);
		ck_assert(json_is_null(json_object_get(rec, "dns_name")));
	}
	json_decref(j);
	pt_run_clear(&r);
	free(path);
	built_clear(&b);
}
END_TEST

/* The kind comes from the file-name item, not from the path. */
START_TEST(show_ctl)
{
	built_t b = {0};
	build_list(&b, PT_TLV_CTL_NAME, PT_TLV_DIGEST_SHA512);
	char *path = write_bytes("list.bin", b.bytes, b.len);
	pt_run_t r;
	show(&r, 0, path, false);
	ck_assert_ptr_nonnull(strstr(r.out, "CTL Record #:1\n"));
	ck_assert_ptr_null(strstr(r.out, "ITL Record"));
	ck_assert_ptr_nonnull(strstr(r.out, "8 DIGESTALGORITHM 1 SHA-512\n"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "This etoken was used to sign the CTL file.\n"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "The CTL file was verified successfully.\n"));
	pt_run_clear(&r);
	free(path);
	built_clear(&b);
}
END_TEST

/* A byte changed in the timestamp: listed, not verified, exit 1. */
START_TEST(show_corrupt_file)
{
	built_t b = {0};
	build_list(&b, PT_TLV_ITL_NAME, PT_TLV_DIGEST_SHA1);
	pt_tlv_file_t *f = NULL;
	ck_assert_int_eq(pt_tlv_parse(b.bytes, b.len, &f, NULL), PT_OK);
	size_t ts = 0;
	for (size_t i = 0; i < f->header.n_items; i++)
		if (f->header.items[i].tag == PT_TLV_H_TIMESTAMP)
			ts = f->header.items[i].offset;
	pt_tlv_file_destroy(&f);
	ck_assert_uint_gt(ts, 0);
	b.bytes[ts + 6] ^= 1;
	char *path = write_bytes("ITLFile.tlv", b.bytes, b.len);

	pt_run_t r;
	show(&r, 1, path, false);
	ck_assert_ptr_nonnull(strstr(r.out, "ITL Record #:5\n"));
	ck_assert_ptr_null(strstr(r.out, "verified successfully"));
	ck_assert_ptr_null(strstr(r.out, "was used to sign"));
	ck_assert_ptr_nonnull(strstr(r.out, "The ITL file was not verified: "));
	ck_assert_ptr_nonnull(strstr(r.err, "not verified"));
	ck_assert_ptr_nonnull(strstr(r.err, "signature does not match"));
	ck_assert_uint_eq(count(r.err, "\n"), 1);
	pt_run_clear(&r);

	show(&r, 1, path, true);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_false(json_object_get(j, "verified")));
	ck_assert(json_is_null(json_object_get(j, "signer")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "error_tag")),
			 PT_TLV_H_SIGNATURE);
	ck_assert_ptr_nonnull(strstr(
		json_string_value(json_object_get(j, "error")), "signature"));
	json_decref(j);
	pt_run_clear(&r);
	free(path);
	built_clear(&b);
}
END_TEST

/* Cut inside the last record: nothing to list, the offset says where. */
START_TEST(show_truncated_file)
{
	built_t b = {0};
	build_list(&b, PT_TLV_ITL_NAME, PT_TLV_DIGEST_SHA1);
	char *path = write_bytes("ITLFile.tlv", b.bytes, b.len - 10);
	pt_run_t r;
	show(&r, 1, path, false);
	ck_assert_str_eq(r.out, "");
	ck_assert_ptr_nonnull(strstr(r.err, "record 5"));
	ck_assert_ptr_nonnull(strstr(r.err, "offset"));
	ck_assert_ptr_nonnull(strstr(r.err, "past the end of the file"));
	pt_run_clear(&r);
	show(&r, 1, path, true);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_false(json_object_get(j, "verified")));
	ck_assert(json_is_integer(json_object_get(j, "error_offset")));
	ck_assert(json_is_null(json_object_get(j, "records")));
	json_decref(j);
	pt_run_clear(&r);
	free(path);
	built_clear(&b);
}
END_TEST

/* A non-secure CTL lists no certificates: only the token given with
 * --cert (PEM or DER) can verify it. */
START_TEST(show_with_outside_certificate)
{
	pt_tlv_build_opts_t o = {.file_name = PT_TLV_CTL_NAME,
				 .timestamp = 1700000000};
	uint8_t *bytes = NULL, *der = NULL;
	size_t n = 0, der_len = 0;
	ck_assert_int_eq(pt_tlv_build(NULL, 0, &o, tftp_key, tftp, &bytes, &n,
				      NULL),
			 PT_OK);
	char *path = write_bytes("CTLFile.tlv", bytes, n);
	ck_assert_int_eq(pt_certs_encode_der(tftp, &der, &der_len), PT_OK);
	char *der_path = write_bytes("token.der", der, der_len);
	char *pem = NULL;
	size_t pem_len = 0;
	ck_assert_int_eq(pt_certs_encode_pem(capf, &pem, &pem_len), PT_OK);
	char *other = write_bytes("other.pem", (const uint8_t *)pem, pem_len);

	pt_run_t r;
	show(&r, 1, path, false);
	ck_assert_ptr_nonnull(strstr(r.err, "no SAST record"));
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", path,
		    "--cert", der_path, NULL);
	ck_assert_msg(r.status == 0, "stderr: %s", r.err);
	ck_assert_ptr_nonnull(
		strstr(r.out, "The CTL file was verified successfully.\n"));
	ck_assert_ptr_null(strstr(r.out, "Record #:"));
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", "--json",
		    "--cert", der_path, path, NULL);
	ck_assert_int_eq(r.status, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_true(json_object_get(j, "verified")));
	ck_assert(json_is_null(json_object_get(j, "signer")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "records")), 0);
	json_decref(j);
	pt_run_clear(&r);
	/* Another certificate (PEM) is refused by its serial. */
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", path,
		    "--cert", other, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "another serial"));
	pt_run_clear(&r);
	/* A key is no certificate; --cert needs a value. */
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", path,
		    "--cert", path, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "not one PEM or DER"));
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", path,
		    "--cert", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);

	/* On a list with records, the token's own record is named. */
	built_t b = {0};
	build_list(&b, PT_TLV_ITL_NAME, PT_TLV_DIGEST_SHA1);
	char *itl = write_bytes("ITLFile.tlv", b.bytes, b.len);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", itl, "--cert",
		    der_path, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(count(r.out, "This etoken was used to sign"), 1);
	pt_run_clear(&r);
	built_clear(&b);
	free(itl);
	free(other);
	free(pem);
	free(der_path);
	free(der);
	free(path);
	free(bytes);
}
END_TEST

START_TEST(show_refusals_and_usage)
{
	pt_run_t r;
	/* Larger than any trust list. */
	size_t n = PT_TLV_FILE_MAX + 1u;
	uint8_t *big = calloc(1, n);
	char *path = write_bytes("big.tlv", big, n);
	free(big);
	show(&r, 1, path, false);
	ck_assert_ptr_nonnull(strstr(r.err, "larger than"));
	pt_run_clear(&r);
	free(path);
	/* Not there, empty, usage. */
	char *missing = NULL;
	ck_assert_int_ge(asprintf(&missing, "%s/none.tlv", dir), 0);
	show(&r, 1, missing, false);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot read"));
	pt_run_clear(&r);
	free(missing);
	path = write_bytes("empty.tlv", (const uint8_t *)"", 0);
	show(&r, 1, path, false);
	ck_assert_ptr_nonnull(strstr(r.err, "fewer than"));
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", path, path,
		    NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", "--bogus",
		    path, NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "frob", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", NULL);
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "show", "--help",
		    NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: phonetrust tlv show"));
	pt_run_clear(&r);
	pt_test_run(&r, NULL, "cli/phonetrust", "tlv", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "show FILE"));
	pt_run_clear(&r);
	free(path);
}
END_TEST

static Suite *cli_tlv_suite(void)
{
	Suite *s = suite_create("cli_tlv");
	TCase *tc = tcase_create("show");
	tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, show_itl_listing);
	tcase_add_test(tc, show_itl_json);
	tcase_add_test(tc, show_ctl);
	tcase_add_test(tc, show_corrupt_file);
	tcase_add_test(tc, show_truncated_file);
	tcase_add_test(tc, show_with_outside_certificate);
	tcase_add_test(tc, show_refusals_and_usage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cli_tlv_suite());
}
