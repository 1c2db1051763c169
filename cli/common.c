#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store/datakey.h"

pt_store_t *pt_cli_store(pt_cli_t *cli)
{
	if (cli->store)
		return cli->store;
	pt_store_upgrade_report_t rep;
	int r = pt_store_open_report(cli->data_dir, 0, 0, &rep, &cli->store);
	if (r != PT_OK && r != PT_ERR_SCHEMA_NEWER && rep.found &&
	    rep.found < PT_SCHEMA_VERSION) {
		pt_cli_refuse("upgrading the store in %s from schema %u to %u "
			      "failed: %s; the store is as it was%s%s%s",
			      cli->data_dir, rep.found, PT_SCHEMA_VERSION,
			      pt_strerror(r),
			      rep.backup[0] ? " (a backup is in " : "",
			      rep.backup, rep.backup[0] ? ")" : "");
		return NULL;
	}
	if (r == PT_ERR_NOT_FOUND) {
		pt_cli_refuse("no store in %s (run 'phonetrust init' first, or "
			      "name the node's directory with --data)",
			      cli->data_dir);
		return NULL;
	}
	if (r == PT_ERR_SCHEMA_NEWER) {
		pt_cli_refuse("the store in %s was written by a newer "
			      "phonetrust (schema newer than %u); upgrade "
			      "this binary",
			      cli->data_dir, PT_SCHEMA_VERSION);
		return NULL;
	}
	if (r != PT_OK) {
		pt_cli_refuse("cannot open the store in %s: %s", cli->data_dir,
			      pt_strerror(r));
		return NULL;
	}
	if (pt_store_upgraded_from(cli->store))
		fprintf(stderr,
			"phonetrust: upgraded the store in %s from schema %u to "
			"%u; backup of the old store in %s\n",
			cli->data_dir, pt_store_upgraded_from(cli->store),
			pt_store_schema_version(cli->store),
			pt_store_upgrade_backup(cli->store));
	return cli->store;
}

int pt_cli_read_txn(pt_cli_t *cli, pt_txn_t **txn)
{
	*txn = NULL;
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_txn_begin(store, false, NULL, txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the store: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

const pt_data_key_t *pt_cli_data_key(pt_cli_t *cli)
{
	if (cli->have_key)
		return &cli->key;
	int r = pt_datakey_load(cli->data_dir, &cli->key);
	if (r != PT_OK) {
		pt_cli_refuse("cannot load the cluster data key from %s/keys: "
			      "%s",
			      cli->data_dir, pt_strerror(r));
		return NULL;
	}
	cli->have_key = true;
	return &cli->key;
}

int pt_cli_refuse(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("phonetrust: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return PT_EXIT_REFUSED;
}

int pt_cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("phonetrust: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (see --help)\n", stderr);
	va_end(ap);
	return PT_EXIT_USAGE;
}

int pt_cli_print_json(json_t *value)
{
	if (!value)
		return pt_cli_refuse("out of memory building JSON");
	int r = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(value);
	return r == 0 ? PT_EXIT_OK : PT_EXIT_REFUSED;
}

bool pt_cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

int pt_cli_dispatch(pt_cli_t *cli, int argc, char **argv,
		    const pt_cli_verb_t *verbs, size_t n_verbs,
		    const char *help)
{
	if (argc < 2) {
		fputs(help, stderr);
		return PT_EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "help") == 0) {
		fputs(help, stdout);
		return PT_EXIT_OK;
	}
	for (size_t i = 0; i < n_verbs; i++)
		if (verbs[i].run && strcmp(verb, verbs[i].name) == 0)
			return verbs[i].run(cli, argc - 1, argv + 1);
	return pt_cli_usage_error("unknown verb '%s %s'", argv[0], verb);
}

char *pt_cli_hex(const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(len * 2 + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = digits[data[i] >> 4];
		s[2 * i + 1] = digits[data[i] & 15];
	}
	s[len * 2] = '\0';
	return s;
}

int pt_cli_write_file(const char *path, const void *data, size_t len)
{
	const uint8_t *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return PT_ESYS(errno);
	int r = PT_OK;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = PT_ESYS(errno);
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd) != 0 && r == PT_OK)
		r = PT_ESYS(errno);
	return r;
}

int pt_cli_read_file(const char *path, size_t max, uint8_t **out,
		     size_t *len)
{
	/* One byte more than allowed tells a file at the cap from a larger
	 * one. */
	size_t cap = max + 1, n = 0;
	uint8_t *buf = NULL;
	int r = PT_OK;

	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PT_ESYS(errno);
	if (!(buf = malloc(cap))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	while (n < cap) {
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		r = PT_ERR_TOO_LARGE;
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	/* Token files hold keys: what was read does not outlive a
	 * refusal. */
	if (buf)
		pt_seal_wipe(buf, n);
	free(buf);
	close(fd);
	return r;
}

int pt_cli_parse_opt(int argc, char **argv, const char *help,
		     const char *name, const char **value, bool *helped)
{
	const struct option opts[] = {
		{name, required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*helped = false;
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			*helped = true;
			return PT_EXIT_OK;
		}
		if (c != 'v')
			return pt_cli_usage_error("unknown option or missing "
						  "value: %s",
						  argv[optind - 1]);
		*value = optarg;
	}
	return PT_EXIT_OK;
}

int pt_cli_list(pt_cli_t *cli, pt_table_t table, int ncols,
		const char *const *headers, pt_txn_visit_fn visit, void *ctx,
		pt_cli_list_t *list, const char *what, const char *empty)
{
	*list = (pt_cli_list_t){0};
	pt_txn_t *txn = NULL;
	int rc = pt_cli_read_txn(cli, &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	int r;
	if (cli->json)
		list->array = json_array();
	else
		list->table = pt_table_out_new(ncols, headers);
	if (!list->array && !list->table)
		r = PT_ERR_NOMEM;
	else
		r = pt_txn_foreach(txn, table, visit, ctx);
	pt_txn_abort(&txn);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot list %s: %s", what, pt_strerror(r));
	} else if (list->array) {
		rc = pt_cli_print_json(list->array);
		list->array = NULL;
	} else if (list->n == 0) {
		printf("%s in %s\n", empty, cli->data_dir);
	} else {
		pt_table_out_print(list->table, stdout);
	}
	json_decref(list->array);
	list->array = NULL;
	pt_table_out_destroy(&list->table);
	return rc;
}

int pt_cli_meta_text(pt_txn_t *txn, const char *name, char *buf,
		     size_t len)
{
	const uint8_t *val;
	size_t vlen;
	buf[0] = '\0';
	int r = pt_txn_meta_get(txn, name, &val, &vlen);
	if (r == PT_ERR_NOT_FOUND)
		return PT_OK;
	if (r != PT_OK)
		return r;
	snprintf(buf, len, "%.*s", (int)vlen, (const char *)val);
	return PT_OK;
}

json_t *pt_cli_purposes_json(const Pt__TrustPurpose *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(pt_trust_purpose_name(p[i])));
	return a;
}
