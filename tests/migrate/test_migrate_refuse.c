/* migrate legacy at its edges: refusals that leave the store as it was
 * (a subscriber, a directory without CAPF.phone, one given twice, an
 * unusable TimeZoneOffset, a missing directory); the report's listing of
 * unknown files and its masking of auth strings; a device an
 * administrator added keeps its record; an LSC this cluster's CAPF
 * recorded is never replaced by a legacy one. */
#include "files/capf_store.h"
#include "lib/params.h"
#include "migrate_util.h"
#include "pt_testcert.h"

static char *tmp, *fixture, *node;

static void setup(void)
{
	tmp = pt_test_tmpdir();
	fixture = mg_fmt("%s/legacy", tmp);
	node = mg_fmt("%s/pub", tmp);
	mg_generate(fixture, 400, 1, 0.2, 0.2, 31);
	mg_node(node);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(fixture);
	free(node);
	free(tmp);
}

static void run_cli(pt_run_t *r, const char *data, const char *const *args)
{
	char *argv[32];
	int n = 0;
	argv[n++] = "phonetrust";
	argv[n++] = "--data";
	argv[n++] = (char *)data;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pt_test_runv(r, NULL, pt_test_bin("cli/phonetrust"), argv);
}

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void refused(const char *const *args, const char *text)
{
	pt_fixture_state_t before;
	pt_run_t r;
	pt_fixture_state(node, &before);
	run_cli(&r, node, args);
	ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.err, text), "stderr: %s", r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(node, &before);
	char *a = mg_fmt("%s/legacy-archive", node);
	struct stat st;
	ck_assert_int_ne(stat(a, &st), 0);
	free(a);
}

START_TEST(refusals_change_nothing)
{
	char *pub = mg_fmt("%s/publisher", fixture);
	char *empty = mg_fmt("%s/empty", tmp);
	char *badtz = mg_fmt("%s/badtz", tmp);
	char *missing = mg_fmt("%s/missing", tmp);
	ck_assert_int_eq(mkdir(empty, 0700), 0);
	char *cmd = mg_fmt("cp -r '%s' '%s' && printf '[Service]\\r\\n"
			   "TimeZoneOffset=+2500\\r\\n' > '%s/CAPF.cfg'",
			   pub, badtz, badtz);
	sh(cmd);
	free(cmd);

	refused((const char *const[]){"migrate", "legacy", pub, empty, NULL},
		"CAPF.phone");
	refused((const char *const[]){"migrate", "legacy", pub, pub, NULL},
		"same directory");
	refused((const char *const[]){"migrate", "legacy", badtz, NULL},
		"TimeZoneOffset");
	refused((const char *const[]){"migrate", "legacy", missing, NULL},
		"cannot open");
	pt_run_t r;
	run_cli(&r, node, (const char *const[]){"migrate", "legacy", NULL});
	ck_assert_int_eq(r.status, 2);
	pt_run_clear(&r);

	/* A subscriber's tables are the publisher's copy. */
	char *sub = mg_fmt("%s/sub", tmp);
	pt_node_init(sub, "sub1", "subscriber", NULL);
	pt_fixture_state_t before;
	pt_fixture_state(sub, &before);
	run_cli(&r, sub, (const char *const[]){"migrate", "legacy", pub, NULL});
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "subscriber"), "%s", r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(sub, &before);
	free(sub);
	free(pub);
	free(empty);
	free(badtz);
	free(missing);
}
END_TEST

START_TEST(report_lists_unknown_files_and_masks_auth_strings)
{
	char *pub = mg_fmt("%s/publisher", fixture);
	char *report = mg_fmt("%s/rep", tmp);
	char *cmd = mg_fmt("echo hello > '%s/notes.txt' && mkdir '%s/old'",
			   pub, pub);
	sh(cmd);
	free(cmd);
	pt_run_t r;
	mg_migrate(&r, node, fixture, 1, "--report", report, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);

	json_t *rep = mg_report(report);
	json_t *unknown = json_object_get(rep, "unknown_files");
	ck_assert_uint_eq(json_array_size(unknown), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(unknown, 0), "name")),
			 "notes.txt");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(unknown, 1), "name")),
			 "old");
	ck_assert_int_gt(mg_count(rep, "quarantined"), 0);
	json_decref(rep);

	/* Every AuthString line of the quarantine file is masked. */
	char *qpath = mg_fmt("%s.quarantine", report);
	size_t len = 0;
	char *q = pt_test_read_file(qpath, &len);
	size_t auth_lines = 0, masked = 0;
	for (char *line = q; line && *line;) {
		char *eol = strchr(line, '\n');
		if (strncasecmp(line, "AuthString=", 11) == 0) {
			auth_lines++;
			char c = line[11];
			ck_assert_msg(c == '\r' || c == '\n' || c == '*',
				      "clear auth string in %s", qpath);
			masked += c == '*';
		}
		line = eol ? eol + 1 : NULL;
	}
	ck_assert_uint_gt(auth_lines, 0);
	ck_assert_uint_gt(masked, 0);
	ck_assert(strstr(q, "masked"));
	free(q);
	free(qpath);

	/* The CSV has the header and one row per JSON line. */
	char *cpath = mg_fmt("%s.csv", report);
	char *csv = pt_test_read_file(cpath, &len);
	ck_assert(strncmp(csv, "action,device,directory,file,first_line,"
			       "last_line,reason\r\n",
			  58) == 0);
	free(csv);
	free(cpath);

	/* CAPF's existing-certificate mode trusts the legacy CAPF
	 * certificates beside the cluster's own. */
	pt_store_t *store = NULL;
	pt_capf_trust_t *trust = NULL;
	ck_assert_int_eq(pt_store_open(node, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_capf_store_trust_load(store, &trust), PT_OK);
	ck_assert_uint_eq(trust->n, 3);
	pt_capf_trust_destroy(&trust);
	pt_store_destroy(&store);

	/* The archive holds the four known kinds of file, 0600. */
	char *arch = mg_fmt("test \"$(ls '%s/legacy-archive' | wc -l)\" -ge 4 "
			    "&& test -z \"$(find '%s/legacy-archive' -type f "
			    "! -perm 600)\"",
			    node, node);
	sh(arch);
	free(arch);
	free(pub);
	free(report);
}
END_TEST

/* The name of an expected device with an LSC. */
static char *device_with_lsc(void)
{
	char *path = mg_fmt("%s/expected.json", fixture);
	json_t *e = json_load_file(path, 0, NULL);
	ck_assert_ptr_nonnull(e);
	free(path);
	const char *name;
	json_t *d;
	char *found = NULL;
	json_object_foreach(json_object_get(e, "devices"), name, d)
	{
		if (!found && json_is_string(json_object_get(d, "lsc_sha1")))
			found = strdup(name);
	}
	json_decref(e);
	ck_assert_ptr_nonnull(found);
	return found;
}

START_TEST(administrator_device_keeps_its_record)
{
	char *name = device_with_lsc();
	pt_run_t r;
	run_cli(&r, node,
		(const char *const[]){"device", "add", name, "--model", "8841",
				      "--protocol", "sip", "--description",
				      "added by hand", NULL});
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	char *report = mg_fmt("%s/rep", tmp);
	mg_migrate(&r, node, fixture, 1, "--report", report, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	Pt__Device *d = pt_fixture_device(node, name);
	ck_assert_str_eq(d->description, "added by hand");
	ck_assert_str_eq(d->model, "8841");
	ck_assert_ptr_null(d->legacy);
	ck_assert_ptr_null(d->lsc);
	/* Nothing lost: the legacy LSC is in the history. */
	ck_assert_uint_eq(d->n_history, 1);
	ck_assert_str_eq(d->history[0]->source, "legacy-migration");
	pt__device__free_unpacked(d, NULL);
	json_t *rep = mg_report(report);
	size_t i;
	json_t *l;
	int seen = 0;
	json_array_foreach(json_object_get(rep, "devices"), i, l)
	{
		const char *dev = json_string_value(json_object_get(l, "device"));
		if (!dev || strcmp(dev, name))
			continue;
		seen = 1;
		ck_assert_str_eq(json_string_value(json_object_get(l, "action")),
				 "updated");
		ck_assert(strstr(json_string_value(json_object_get(l, "reason")),
				 "newer"));
	}
	ck_assert(seen);
	json_decref(rep);

	pt_fixture_state_t before;
	pt_fixture_state(node, &before);
	mg_migrate(&r, node, fixture, 1, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(node, &before);
	free(report);
	free(name);
}
END_TEST

START_TEST(capf_issued_lsc_is_never_replaced)
{
	char *name = device_with_lsc();
	pt_run_t r;
	mg_migrate(&r, node, fixture, 1, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);

	EVP_PKEY *key = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	X509 *cert = pt_testcert(key, name, 77);
	pt_node_give_lsc(node, name, cert);
	uint8_t *der = NULL;
	size_t der_len = 0;
	ck_assert_int_eq(pt_certs_encode_der(cert, &der, &der_len), PT_OK);

	mg_migrate(&r, node, fixture, 1, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	Pt__Device *d = pt_fixture_device(node, name);
	ck_assert_uint_eq(d->lsc->der.len, der_len);
	ck_assert_mem_eq(d->lsc->der.data, der, der_len);
	ck_assert_uint_ge(d->n_history, 1);
	int legacy_kept = 0;
	for (size_t i = 0; i < d->n_history; i++)
		legacy_kept |= !strcmp(d->history[i]->source,
				       "legacy-migration");
	ck_assert(legacy_kept);
	pt__device__free_unpacked(d, NULL);

	pt_fixture_state_t before;
	pt_fixture_state(node, &before);
	mg_migrate(&r, node, fixture, 1, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(node, &before);
	free(der);
	X509_free(cert);
	EVP_PKEY_free(key);
	free(name);
}
END_TEST


/* The setting of key (in PREFIX.json's "settings"), or NULL. */
static json_t *setting(json_t *rep, const char *key)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(rep, "settings"), i, s)
	{
		const char *k = json_string_value(json_object_get(s, "key"));
		if (k && !strcmp(k, key))
			return s;
	}
	return NULL;
}

START_TEST(settings_map_to_parameters_and_the_publisher_wins)
{
	char *cmd = mg_fmt(
		"cd '%s' && sed -i -e 's/^PhonePort=.*/PhonePort=3805\r/' "
		"-e 's/^OperationExpiresDays=.*/OperationExpiresDays=20\r/' "
		"-e 's/^CertificateIssuer=.*/CertificateIssuer=Keon\r/' "
		"publisher/CAPF.cfg && printf 'CAAddress=ca.example\r\n' >> "
		"publisher/CAPF.cfg && sed -i 's/^PhonePort=.*/PhonePort=3806\r/' "
		"subscriber1/CAPF.cfg",
		fixture);
	sh(cmd);
	free(cmd);
	char *report = mg_fmt("%s/rep", tmp);
	pt_run_t r;
	mg_migrate(&r, node, fixture, 1, "--report", report, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);

	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_store_open(node, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_OK);
	ck_assert_int_eq(pt_param_int(cl, PT_PARAM_CAPF_PHONE_PORT), 3805);
	ck_assert_int_eq(pt_param_int(cl, PT_PARAM_CAPF_OP_EXPIRES_DAYS), 20);
	ck_assert_str_eq(pt_param_value(cl, PT_PARAM_CAPF_ISSUER), "online-ca");
	pt_record_free(&cl->base);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);

	json_t *rep = mg_report(report);
	ck_assert_str_eq(json_string_value(json_object_get(
				 setting(rep, "PhonePort"), "status")),
			 "set");
	ck_assert_str_eq(json_string_value(json_object_get(
				 setting(rep, "CAAddress"), "status")),
			 "not mapped");
	ck_assert_str_eq(json_string_value(json_object_get(
				 setting(rep, "MaxKeyGenMinutes"), "status")),
			 "not mapped");
	json_t *diff = json_object_get(rep, "setting_differences");
	int port_diff = 0;
	size_t i;
	json_t *d;
	json_array_foreach(diff, i, d)
	{
		if (strcmp(json_string_value(json_object_get(d, "key")),
			   "PhonePort"))
			continue;
		port_diff = 1;
		ck_assert(strstr(json_string_value(json_object_get(d, "kept")),
				 "publisher"));
	}
	ck_assert(port_diff);
	json_decref(rep);

	pt_fixture_state_t before;
	pt_fixture_state(node, &before);
	mg_migrate(&r, node, fixture, 1, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(node, &before);
	free(report);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate_refuse");
	TCase *tc = tcase_create("edges");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, report_lists_unknown_files_and_masks_auth_strings);
	tcase_add_test(tc, administrator_device_keeps_its_record);
	tcase_add_test(tc, capf_issued_lsc_is_never_replaced);
	tcase_add_test(tc, settings_map_to_parameters_and_the_publisher_wins);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
