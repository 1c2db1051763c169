/* phonetrust phone boot and storm against a real TFTP server: tftpd-hpa
 * (in.tftpd in the foreground on a free loopback port) serving the exact
 * bytes a real publisher hands out (ctl show, itl show, config show
 * --out), in mixed mode with two SAST tokens.
 *
 * in.tftpd always calls setgroups() when it drops to its --user, which
 * only root may do; as another user the cases that need it say so and
 * pass without running. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "pt_testtoken.h"
#include "store/records.h"
#include "store/store.h"

#define IN_TFTPD "/usr/sbin/in.tftpd"
#define DIGEST_PW "Dig3st-s3cret"
#define PLAIN_MAC "001122334455"
#define ENC_MAC "0011223344AA"
#define PLAIN "SEP" PLAIN_MAC
#define ENC "SEP" ENC_MAC

static char *tmp, *pub, *srv;
static char server[64];
static pid_t tftpd = -1, daemon_pid = -1;

static char *path_in(const char *dir, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, rel), 0);
	return p;
}

static int run(pt_run_t *r, const char *dir, const char *const *args)
{
	return pt_node_cli(r, dir, args);
}

static void ok_in(const char *dir, const char *const *args)
{
	pt_node_cli_ok(dir, args);
}

/* `phone boot --tftp SERVER --mac MAC` plus extra arguments. */
static int boot(pt_run_t *r, const char *mac, const char *const *extra)
{
	const char *args[32] = {"phone", "boot", "--tftp", server, "--mac",
				mac};
	size_t n = 6;
	for (; extra && *extra && n < 31; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	return run(r, NULL, args);
}

static void no_secret(const pt_run_t *r)
{
	ck_assert_msg(!strstr(r->out, DIGEST_PW), "password printed: %s",
		      r->out);
	ck_assert_msg(!strstr(r->err, DIGEST_PW), "password printed: %s",
		      r->err);
}

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, text);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *file_entry(json_t *j, const char *name)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(j, "files"), i, f)
		if (strcmp(jstr(f, "name"), name) == 0)
			return f;
	ck_abort_msg("no file %s in the report", name);
	return NULL;
}

static void write_bytes(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* A PEM token file (certificate, then key) for key and a new
 * certificate named cn; *cert_out (may be NULL) gets the certificate. */
static char *key_file(const char *name, EVP_PKEY *key, const char *cn,
		      uint32_t serial, X509 **cert_out)
{
	X509 *x = pt_testcert(key, cn, serial);
	uint8_t *b = NULL;
	size_t n = 0;
	pt_testtoken_pem(key, x, NULL, &b, &n);
	char *path = path_in(tmp, name);
	pt_testtoken_write(path, b, n);
	free(b);
	if (cert_out)
		*cert_out = x;
	else
		X509_free(x);
	return path;
}

/* A publisher in dir in mixed mode, its CTL signed by two new tokens
 * named <prefix>-SAST-A and -B. */
static void make_publisher(const char *dir, const char *prefix)
{
	char cn[64];
	snprintf(cn, sizeof cn, "%s-SAST-", prefix);
	pt_node_init(dir, "pub", "publisher", NULL);
	pt_node_mixed(dir, cn);
}

/* Writes what the publisher serves for name into the TFTP directory. */
static void export(const char *dir, const char *const *args,
		   const char *name)
{
	char *out = path_in(srv, name);
	const char *a[16];
	size_t n = 0;
	for (; *args; args++)
		a[n++] = *args;
	a[n++] = "--out";
	a[n++] = out;
	a[n] = NULL;
	ok_in(dir, a);
	free(out);
}

static bool tftpd_possible(void)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "note: in.tftpd needs root (setgroups); case "
			"skipped\n");
	return false;
}

/* A free UDP port on loopback (bound, read, released). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* True once something answers a request on port (any answer: the file
 * asked for does not exist). */
static bool answers(int port)
{
	static const char rrq[] = "\0\1probe-none\0octet";
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	sendto(fd, rrq, sizeof rrq, 0, (struct sockaddr *)&a, sizeof a);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	bool got = poll(&p, 1, 100) == 1;
	close(fd);
	return got;
}

static void start_tftpd(void)
{
	char *map = path_in(tmp, "tftpd.map");
	char rule[4200], addr[32];
	/* Phones ask for relative names; without --secure (chroot) the
	 * server wants absolute ones, so a remap rule prefixes them. */
	snprintf(rule, sizeof rule, "r ^([^/]) %s/\\1\n", srv);
	pt_test_write_file(map, rule);
	int port = free_port();
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	tftpd = fork();
	ck_assert_int_ge(tftpd, 0);
	if (tftpd == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execl(IN_TFTPD, "in.tftpd", "--foreground", "--address", addr,
		      "--user", "root", "--map-file", map, srv, (char *)NULL);
		_exit(127);
	}
	free(map);
	for (int i = 0; i < 50; i++)
		if (answers(port))
			return;
	ck_abort_msg("in.tftpd did not come up on %s", addr);
}

/* A free TCP port on loopback. */
static int free_tcp_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* phonetrustd serving the TFTP directory from its static_dir (the files
 * a publisher exported), on a store of its own; server names it. */
/* The publisher itself serves TFTP: its files come from its store (the
 * file cache), not from exported copies. */
static void start_phonetrustd(void)
{
	char *data = strdup(pub), *conf = path_in(tmp, "node.ini");
	char *log = path_in(tmp, "node.log"), *text = NULL;
	int port = free_port();
	ck_assert_int_ge(asprintf(&text,
				  "[node]\n"
				  "name = pub\n"
				  "role = publisher\n"
				  "data_dir = %s\n"
				  "[ports]\n"
				  "replication_stream = %d\n"
				  "replication_sync = %d\n"
				  "[tftp]\n"
				  "enabled = yes\n"
				  "port = %d\n"
				  "workers = 2\n"
				  "per_client_max = 0\n"
				  "per_client_rate = 0\n",
				  data, free_tcp_port(), free_tcp_port(), port),
			 0);
	pt_test_write_file(conf, text);
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	const char *bin = pt_test_bin("node/phonetrustd");
	daemon_pid = fork();
	ck_assert_int_ge(daemon_pid, 0);
	if (daemon_pid == 0) {
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(out, 1);
		dup2(out, 2);
		execl(bin, bin, "--config", conf, (char *)NULL);
		_exit(127);
	}
	bool up = false;
	for (int i = 0; i < 100 && !up; i++)
		up = answers(port);
	if (!up) {
		char *t = pt_test_read_file(log, NULL);
		ck_abort_msg("phonetrustd did not serve TFTP:\n%s", t);
	}
	free(text);
	free(data);
	free(conf);
	free(log);
}

static EVP_PKEY *phone_key;
static char *phone_pem;

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in(tmp, "pub");
	srv = path_in(tmp, "srv");
	ck_assert_int_eq(mkdir(srv, 0755), 0);
	char *dpw = path_in(tmp, "digest");
	pt_test_write_file(dpw, DIGEST_PW "\n");
	make_publisher(pub, "pub");
	pt_node_add_enc_profile(pub);
	pt_node_add_device(pub, PLAIN,
			   "Cisco 8841 - Standard SIP Non-Secure Profile",
			   "alice", dpw);
	pt_node_add_device(pub, ENC, PT_NODE_ENC_PROFILE, "bob", dpw);
	free(dpw);
	X509 *lsc = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &phone_key), PT_OK);
	phone_pem = key_file("phone.pem", phone_key, ENC "-LSC", 0x77, &lsc);
	pt_node_give_lsc(pub, ENC, lsc);
	X509_free(lsc);

	export(pub, (const char *[]){"ctl", "show", NULL}, "CTLFile.tlv");
	export(pub, (const char *[]){"itl", "show", NULL}, "ITLFile.tlv");
	export(pub, (const char *[]){"config", "show", PLAIN, "--form",
				     "signed", NULL},
	       PLAIN ".cnf.xml.sgn");
	export(pub, (const char *[]){"config", "show", ENC, "--form", "signed",
				     NULL},
	       ENC ".cnf.xml.sgn");
	export(pub, (const char *[]){"config", "show", ENC, "--form",
				     "encrypted", NULL},
	       ENC ".cnf.xml.enc.sgn");
	if (geteuid() == 0)
		start_tftpd();
}

static void teardown(void)
{
	if (tftpd > 0) {
		kill(tftpd, SIGTERM);
		waitpid(tftpd, NULL, 0);
		tftpd = -1;
	}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
	}
	EVP_PKEY_free(phone_key);
	phone_key = NULL;
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
	free(srv);
	free(phone_pem);
}

START_TEST(plain_phone_boots_and_verifies)
{
	if (!tftpd_possible())
		return;
	pt_run_t r;
	ck_assert_msg(boot(&r, PLAIN_MAC, NULL) == 0, "%s%s", r.out, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, ": booted"));
	ck_assert_ptr_nonnull(strstr(r.out, "trusted on first use"));
	ck_assert_ptr_nonnull(strstr(r.out, "signed by CN=pub-SAST-A"));
	ck_assert_ptr_nonnull(strstr(r.out, "configuration: signed, not "
					    "encrypted"));
	ck_assert_ptr_nonnull(strstr(r.out, "alice"));
	ck_assert_ptr_nonnull(strstr(r.out, "********"));
	no_secret(&r);
	pt_run_clear(&r);

	ck_assert_int_eq(boot(&r, "sep" PLAIN_MAC, (const char *[]){"--json",
								  NULL}),
			 0);
	no_secret(&r);
	json_t *j = parse_json(r.out);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_str_eq(jstr(j, "phone"), PLAIN);
	ck_assert_str_eq(jstr(file_entry(j, "CTLFile.tlv"), "result"),
			 "installed");
	ck_assert_str_eq(jstr(file_entry(j, "ITLSEP" PLAIN_MAC ".tlv"),
			      "result"),
			 "not-found");
	ck_assert_str_eq(jstr(file_entry(j, "ITLFile.tlv"), "result"),
			 "installed");
	json_t *cfg = file_entry(j, PLAIN ".cnf.xml.sgn");
	ck_assert_str_eq(jstr(cfg, "result"), "verified");
	ck_assert(json_is_true(json_object_get(cfg, "oack")));
	ck_assert_int_eq(json_integer_value(json_object_get(cfg, "blksize")),
			 1428);
	json_t *ctl = json_object_get(j, "ctl");
	ck_assert_str_eq(jstr(ctl, "signer"), "CN=pub-SAST-A");
	ck_assert_uint_eq(json_array_size(json_object_get(ctl, "records")), 4);
	json_t *c = json_object_get(j, "config");
	ck_assert(json_is_true(json_object_get(c, "signed")));
	ck_assert(json_is_false(json_object_get(c, "encrypted")));
	ck_assert_str_eq(jstr(c, "device_security_mode"), "1");
	ck_assert_str_eq(jstr(c, "auth_name"), "alice");
	ck_assert_str_eq(jstr(c, "auth_password"), "********");
	ck_assert_uint_eq(json_array_size(json_object_get(c, "tvs")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(c, "capf")), 1);
	json_decref(j);
	pt_run_clear(&r);

	/* No options at all but windowsize, which tftpd-hpa does not know:
	 * it ignores the options and sends DATA 1 straight away. */
	ck_assert_int_eq(boot(&r, PLAIN_MAC,
			      (const char *[]){"--json", "--blksize", "0",
					       "--no-tsize", "--windowsize",
					       "8", NULL}),
			 0);
	j = parse_json(r.out);
	cfg = file_entry(j, "CTLFile.tlv");
	ck_assert(json_is_false(json_object_get(cfg, "oack")));
	ck_assert_int_eq(json_integer_value(json_object_get(cfg, "blksize")),
			 512);
	json_decref(j);
	pt_run_clear(&r);
}
END_TEST

START_TEST(encrypted_phone_decrypts_with_its_key)
{
	if (!tftpd_possible())
		return;
	pt_run_t r;
	ck_assert_msg(boot(&r, ENC_MAC,
			   (const char *[]){"--key", phone_pem, "--json",
					    NULL}) == 0,
		      "%s%s", r.out, r.err);
	no_secret(&r);
	json_t *j = parse_json(r.out);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	/* The minimal file first, then the encrypted one. */
	ck_assert_str_eq(jstr(file_entry(j, ENC ".cnf.xml.sgn"), "result"),
			 "verified");
	ck_assert_str_eq(jstr(file_entry(j, ENC ".cnf.xml.enc.sgn"),
			      "result"),
			 "decrypted");
	json_t *c = json_object_get(j, "config");
	ck_assert(json_is_true(json_object_get(c, "encrypted")));
	ck_assert(json_is_true(json_object_get(c, "decrypted")));
	/* What the report shows is the full configuration. */
	ck_assert_str_eq(jstr(c, "full_config"), "true");
	ck_assert_str_eq(jstr(c, "device_security_mode"), "3");
	ck_assert_str_eq(jstr(c, "security_mode"), "encrypted");
	ck_assert_str_eq(jstr(c, "auth_name"), "bob");
	ck_assert_str_eq(jstr(c, "auth_password"), "********");
	ck_assert_uint_eq(strlen(jstr(c, "cert_hash")), 32);
	json_decref(j);
	pt_run_clear(&r);

	ck_assert_int_eq(boot(&r, ENC_MAC,
			      (const char *[]){"--key", phone_pem, NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(r.out, "encrypted (decrypted)"));
	ck_assert_ptr_nonnull(strstr(r.out, "3 (encrypted)"));
	no_secret(&r);
	pt_run_clear(&r);
}
END_TEST

START_TEST(encrypted_phone_without_the_right_key_fails)
{
	if (!tftpd_possible())
		return;
	pt_run_t r;
	EVP_PKEY *other = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &other), PT_OK);
	char *other_pem = key_file("other.pem", other, ENC "-OTHER", 0x78,
				   NULL);
	EVP_PKEY_free(other);

	ck_assert_int_eq(boot(&r, ENC_MAC,
			      (const char *[]){"--key", other_pem, NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.out, "FAILED at step encryption"));
	ck_assert_ptr_nonnull(strstr(r.err, "step encryption failed"));
	ck_assert_ptr_nonnull(strstr(r.err, "certHash"));
	ck_assert_ptr_nonnull(strstr(r.err, "CAPF"));
	no_secret(&r);
	pt_run_clear(&r);

	/* No key at all. */
	ck_assert_int_eq(boot(&r, ENC_MAC, (const char *[]){"--json", NULL}),
			 1);
	json_t *j = parse_json(r.out);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert_str_eq(jstr(j, "failed_step"), "encryption");
	ck_assert_ptr_nonnull(strstr(jstr(j, "error"), "--key"));
	json_decref(j);
	no_secret(&r);
	pt_run_clear(&r);

	/* A key file that holds no key. */
	char *junk = path_in(tmp, "junk.pem");
	pt_test_write_file(junk, "not a key\n");
	ck_assert_int_eq(boot(&r, ENC_MAC, (const char *[]){"--key", junk,
							    NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "--key"));
	pt_run_clear(&r);
	free(junk);
	free(other_pem);

	/* The right key, but the encrypted file was altered. */
	char *enc = path_in(srv, ENC ".cnf.xml.enc.sgn");
	size_t len = 0;
	uint8_t *b = (uint8_t *)pt_test_read_file(enc, &len);
	b[len - 1] ^= 0x01;
	write_bytes(enc, b, len);
	free(b);
	free(enc);
	ck_assert_int_eq(boot(&r, ENC_MAC,
			      (const char *[]){"--key", phone_pem, NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "step encrypted-config failed"));
	no_secret(&r);
	pt_run_clear(&r);
}
END_TEST

START_TEST(tampered_or_missing_config_refused)
{
	if (!tftpd_possible())
		return;
	pt_run_t r;
	char *sgn = path_in(srv, PLAIN ".cnf.xml.sgn");
	size_t len = 0;
	uint8_t *orig = (uint8_t *)pt_test_read_file(sgn, &len);
	uint8_t *b = malloc(len);
	memcpy(b, orig, len);
	/* One byte of the payload (the configuration itself). */
	b[len - 20] ^= 0x01;
	write_bytes(sgn, b, len);
	ck_assert_int_eq(boot(&r, PLAIN_MAC, NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.out, "refused"));
	ck_assert_ptr_nonnull(strstr(r.err, "step config failed"));
	ck_assert_ptr_nonnull(strstr(r.err, "signed file refused"));
	pt_run_clear(&r);

	/* Another phone's genuine file under this phone's name. */
	char *other = path_in(srv, ENC ".cnf.xml.sgn");
	size_t olen = 0;
	uint8_t *ob = (uint8_t *)pt_test_read_file(other, &olen);
	write_bytes(sgn, ob, olen);
	free(ob);
	free(other);
	ck_assert_int_eq(boot(&r, PLAIN_MAC, NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "file name item"));
	pt_run_clear(&r);

	/* The server has no configuration for the phone. */
	ck_assert_int_eq(unlink(sgn), 0);
	ck_assert_int_eq(boot(&r, PLAIN_MAC, NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "step config failed"));
	ck_assert_ptr_nonnull(strstr(r.err, "has no " PLAIN ".cnf.xml.sgn"));
	pt_run_clear(&r);

	/* Back to the genuine bytes: boots again. */
	write_bytes(sgn, orig, len);
	ck_assert_int_eq(boot(&r, PLAIN_MAC, NULL), 0);
	pt_run_clear(&r);
	free(orig);
	free(b);
	free(sgn);
}
END_TEST

START_TEST(phone_without_lists_asks_for_the_plain_file)
{
	if (!tftpd_possible())
		return;
	/* A server with no trust lists: the phone has no TFTP certificate,
	 * so it asks for SEP<MAC>.cnf.xml and takes it unsigned. */
	char *ctl = path_in(srv, "CTLFile.tlv"), *itl = path_in(srv,
							       "ITLFile.tlv");
	char *sgn = path_in(srv, PLAIN ".cnf.xml.sgn");
	char *plain = path_in(srv, PLAIN ".cnf.xml");
	ck_assert_int_eq(unlink(ctl), 0);
	ck_assert_int_eq(unlink(itl), 0);
	size_t len = 0, plen = 0;
	uint8_t *b = (uint8_t *)pt_test_read_file(sgn, &len);
	const uint8_t *payload = NULL;
	ck_assert_int_eq(pt_sgn_strip(b, len, &payload, &plen, NULL), PT_OK);
	write_bytes(plain, payload, plen);
	free(b);

	pt_run_t r;
	ck_assert_msg(boot(&r, PLAIN_MAC, (const char *[]){"--json", NULL}) ==
			      0,
		      "%s%s", r.out, r.err);
	no_secret(&r);
	json_t *j = parse_json(r.out);
	ck_assert_str_eq(jstr(file_entry(j, "CTLFile.tlv"), "result"),
			 "not-found");
	ck_assert_str_eq(jstr(file_entry(j, "ITLFile.tlv"), "result"),
			 "not-found");
	ck_assert_str_eq(jstr(file_entry(j, PLAIN ".cnf.xml"), "result"),
			 "fetched");
	ck_assert(json_is_null(json_object_get(j, "ctl")));
	json_t *c = json_object_get(j, "config");
	ck_assert(json_is_false(json_object_get(c, "signed")));
	ck_assert_str_eq(jstr(c, "auth_password"), "********");
	json_decref(j);
	pt_run_clear(&r);

	/* Something that is no configuration at all. */
	pt_test_write_file(plain, "<html>not a phone's</html>\n");
	ck_assert_int_eq(boot(&r, PLAIN_MAC, NULL), 1);
	ck_assert_ptr_nonnull(strstr(r.err, "no phone configuration"));
	pt_run_clear(&r);
	free(ctl);
	free(itl);
	free(sgn);
	free(plain);
}
END_TEST

START_TEST(state_refuses_a_ctl_of_unknown_tokens)
{
	if (!tftpd_possible())
		return;
	pt_run_t r;
	char *state = path_in(tmp, "phone-state");
	char *kept = path_in(state, "CTLFile.tlv");
	ck_assert_int_eq(boot(&r, PLAIN_MAC,
			      (const char *[]){"--state", state, NULL}),
			 0);
	pt_run_clear(&r);
	size_t kept_len = 0;
	char *kept_ctl = pt_test_read_file(kept, &kept_len);
	char *kept_itl_path = path_in(state, "ITLFile.tlv");
	ck_assert_int_eq(access(kept_itl_path, R_OK), 0);
	free(kept_itl_path);

	/* The same lists again: nothing to install. */
	ck_assert_int_eq(boot(&r, PLAIN_MAC,
			      (const char *[]){"--state", state, "--json",
					       NULL}),
			 0);
	json_t *j = parse_json(r.out);
	ck_assert_str_eq(jstr(file_entry(j, "CTLFile.tlv"), "result"),
			 "unchanged");
	json_decref(j);
	pt_run_clear(&r);

	/* Another cluster's CTL, signed by tokens this phone never saw. */
	char *pub2 = path_in(tmp, "pub2");
	make_publisher(pub2, "rogue");
	export(pub2, (const char *[]){"ctl", "show", NULL}, "CTLFile.tlv");
	ck_assert_int_eq(boot(&r, PLAIN_MAC,
			      (const char *[]){"--state", state, NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "step ctl failed"));
	ck_assert_ptr_nonnull(strstr(r.out, "refused"));
	pt_run_clear(&r);
	/* The kept CTL is the old one. */
	size_t now_len = 0;
	char *now_ctl = pt_test_read_file(kept, &now_len);
	ck_assert_uint_eq(now_len, kept_len);
	ck_assert_mem_eq(now_ctl, kept_ctl, kept_len);
	free(now_ctl);

	/* A factory-fresh phone trusts it on first use. */
	ck_assert_int_eq(boot(&r, PLAIN_MAC, NULL), 0);
	ck_assert_ptr_nonnull(strstr(r.out, "CN=rogue-SAST-A"));
	pt_run_clear(&r);
	free(pub2);
	free(kept_ctl);
	free(kept);
	free(state);
}
END_TEST

START_TEST(storm_against_tftpd_hpa)
{
	if (!tftpd_possible())
		return;
	pt_run_t r;
	ck_assert_msg(run(&r, pub,
			  (const char *[]){"phone", "storm", "--tftp", server,
					   "--phones", "24", "--concurrency",
					   "6", "--macs-from-store", "--json",
					   NULL}) == 0,
		      "%s%s", r.out, r.err);
	json_t *j = parse_json(r.out);
#define NUM(key) json_number_value(json_object_get(j, key))
	ck_assert_int_eq(NUM("phones"), 24);
	ck_assert_int_eq(NUM("phones_failed"), 0);
	ck_assert_int_eq(NUM("failed_transfers"), 0);
	/* Each phone: CTL, ITL (after the ITLSEP miss), its .sgn; the
	 * encrypted one also its .enc.sgn.  Phones take the store's two
	 * devices in turn. */
	ck_assert_int_eq(NUM("transfers"), 12 * 3 + 12 * 4);
	ck_assert_int_eq(NUM("not_found"), 24);
	ck_assert_int_gt(NUM("bytes"), 12 * 4 * 1000);
	ck_assert(NUM("transfers_per_second") > 0);
	ck_assert(NUM("mb_per_second") > 0);
	json_t *lat = json_object_get(j, "latency_ms");
	double p50 = json_number_value(json_object_get(lat, "p50"));
	double p99 = json_number_value(json_object_get(lat, "p99"));
	double max = json_number_value(json_object_get(lat, "max"));
	ck_assert(p50 > 0 && p50 <= p99 && p99 <= max);
	ck_assert(json_is_null(json_object_get(j, "first_failure")));
#undef NUM
	json_decref(j);
	pt_run_clear(&r);

	/* Generated MACs, trust lists only, as a table. */
	ck_assert_int_eq(run(&r, NULL,
			     (const char *[]){"phone", "storm", "--tftp",
					      server, "--phones", "10",
					      "--concurrency", "4",
					      "--mac-prefix", "00BB",
					      "--files", "ctl,itl", NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(r.out, "phones failed          0"));
	ck_assert_ptr_nonnull(strstr(r.out, "transfers              20"));
	ck_assert_ptr_nonnull(strstr(r.out, "transfers/s"));
	pt_run_clear(&r);

	/* Generated MACs have no configuration on this server: every phone
	 * fails at that step, and the storm says so. */
	ck_assert_int_eq(run(&r, NULL,
			     (const char *[]){"phone", "storm", "--tftp",
					      server, "--phones", "3",
					      "--concurrency", "3", "--files",
					      "config", NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.out, "phones failed          3"));
	ck_assert_ptr_nonnull(strstr(r.err, "step config"));
	pt_run_clear(&r);
}
END_TEST

START_TEST(usage_errors_and_a_silent_server)
{
	pt_run_t r;
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "boot",
							"--mac", PLAIN_MAC,
							NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "boot",
							"--tftp",
							"127.0.0.1:69",
							"--mac", "0011", NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "boot",
							"--tftp", "localhost",
							"--mac", PLAIN_MAC,
							NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "boot",
							"--tftp",
							"127.0.0.1:0",
							"--mac", PLAIN_MAC,
							NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "boot",
							"--tftp",
							"127.0.0.1:69",
							"--mac", PLAIN_MAC,
							"--blksize", "7",
							NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "storm",
							"--tftp",
							"127.0.0.1:69",
							"--phones", "0", NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL,
			     (const char *[]){"phone", "storm", "--tftp",
					      "127.0.0.1:69", "--phones", "1",
					      "--macs-from-store",
					      "--mac-prefix", "00", NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL,
			     (const char *[]){"phone", "storm", "--tftp",
					      "127.0.0.1:69", "--phones", "1",
					      "--files", "ctl,firmware", NULL}),
			 2);
	pt_run_clear(&r);
	ck_assert_int_eq(run(&r, NULL, (const char *[]){"phone", "boot",
							"--help", NULL}),
			 0);
	ck_assert_ptr_nonnull(strstr(r.out, "ITLSEP<MAC>.tlv"));
	pt_run_clear(&r);

	/* Nobody on the port: one resend after a second, then the step
	 * fails with the reason. */
	char silent[32];
	snprintf(silent, sizeof silent, "127.0.0.1:%d", free_port());
	ck_assert_int_eq(run(&r, NULL,
			     (const char *[]){"phone", "boot", "--tftp",
					      silent, "--mac", PLAIN_MAC,
					      "--timeout", "1", "--retries",
					      "1", NULL}),
			 1);
	ck_assert_ptr_nonnull(strstr(r.err, "step ctl failed"));
	ck_assert_ptr_nonnull(strstr(r.err, "no answer"));
	pt_run_clear(&r);
}
END_TEST

START_TEST(against_phonetrustd)
{
	/* Windows (RFC 7440) and small blocks, which tftpd-hpa does not
	 * offer: the encrypted file takes several windows. */
	start_phonetrustd();
	pt_run_t r;
	ck_assert_msg(boot(&r, PLAIN_MAC,
			   (const char *[]){"--windowsize", "8", "--json",
					    NULL}) == 0,
		      "%s%s", r.out, r.err);
	json_t *j = parse_json(r.out);
	json_t *f = file_entry(j, "CTLFile.tlv");
	ck_assert(json_is_true(json_object_get(f, "oack")));
	ck_assert_int_eq(json_integer_value(json_object_get(f, "windowsize")),
			 8);
	ck_assert_str_eq(jstr(file_entry(j, PLAIN ".cnf.xml.sgn"), "result"),
			 "verified");
	json_decref(j);
	pt_run_clear(&r);

	ck_assert_msg(boot(&r, ENC_MAC,
			   (const char *[]){"--key", phone_pem, "--blksize",
					    "64", "--windowsize", "4", "--json",
					    NULL}) == 0,
		      "%s%s", r.out, r.err);
	no_secret(&r);
	j = parse_json(r.out);
	f = file_entry(j, ENC ".cnf.xml.enc.sgn");
	ck_assert_str_eq(jstr(f, "result"), "decrypted");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "blksize")),
			 64);
	ck_assert_int_gt(json_integer_value(json_object_get(f, "bytes")),
			 8 * 64);
	json_decref(j);
	pt_run_clear(&r);

	/* A storm, checked and fetch-only: the same transfers. */
	for (int only = 0; only < 2; only++) {
		const char *args[] = {"phone", "storm", "--tftp", server,
				      "--phones", "40", "--concurrency", "8",
				      "--macs-from-store", "--windowsize", "4",
				      "--json", only ? "--fetch-only" : NULL,
				      NULL};
		ck_assert_msg(run(&r, pub, args) == 0, "%s%s", r.out, r.err);
		j = parse_json(r.out);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
								    "transfers")),
				 20 * 3 + 20 * 4);
		ck_assert_int_eq(json_integer_value(json_object_get(
					 j, "phones_failed")),
				 0);
		ck_assert_int_eq(json_integer_value(json_object_get(
					 j, "failed_transfers")),
				 0);
		ck_assert(json_boolean_value(json_object_get(j, "checked")) ==
			  !only);
		json_decref(j);
		pt_run_clear(&r);
	}
}
END_TEST

static Suite *phone_suite(void)
{
	Suite *s = suite_create("cli_phone");
	TCase *tc = tcase_create("phone");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, plain_phone_boots_and_verifies);
	tcase_add_test(tc, encrypted_phone_decrypts_with_its_key);
	tcase_add_test(tc, encrypted_phone_without_the_right_key_fails);
	tcase_add_test(tc, tampered_or_missing_config_refused);
	tcase_add_test(tc, phone_without_lists_asks_for_the_plain_file);
	tcase_add_test(tc, state_refuses_a_ctl_of_unknown_tokens);
	tcase_add_test(tc, storm_against_tftpd_hpa);
	tcase_add_test(tc, usage_errors_and_a_silent_server);
	tcase_add_test(tc, against_phonetrustd);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(phone_suite());
}
