/* Shared frame of the phonetrust command line.
 *
 * Each noun lives in its own file and exports
 *     int pt_cli_<noun>(pt_cli_t *cli, int argc, char **argv);
 * where argv[0] is the noun and argv[1] the verb (if any); a verb handler
 * typically runs getopt_long over (argc - 1, argv + 1) so that getopt sees
 * the verb as its program name.  Global options (--data, --json, --quiet)
 * have already been removed from argv.  Exit codes: 0 success, 1 refused request
 * (one-line reason on stderr, store unchanged), 2 usage error.
 */
#ifndef PT_CLI_CLI_H
#define PT_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "lib/errors.h"
#include "lib/names.h"
#include "lib/seal.h"
#include "store/store.h"

enum { PT_EXIT_OK = 0, PT_EXIT_REFUSED = 1, PT_EXIT_USAGE = 2 };

typedef struct pt_cli {
	const char *data_dir; /* --data, $PHONETRUST_DATA or the default */
	bool json;            /* --json given (before or after the verb) */
	bool quiet;
	pt_store_t *store;    /* opened on demand by pt_cli_store() */
	bool have_key;
	pt_data_key_t key;    /* loaded on demand by pt_cli_data_key() */
} pt_cli_t;

typedef int (*pt_cli_noun_fn)(pt_cli_t *cli, int argc, char **argv);

/* Opens the node's store (read-write) if not yet open.  On failure prints
 * why and returns NULL. */
pt_store_t *pt_cli_store(pt_cli_t *cli);

/* Opens the store if needed and begins a read transaction in *txn (the
 * caller aborts it).  On failure prints why and returns PT_EXIT_REFUSED. */
int pt_cli_read_txn(pt_cli_t *cli, pt_txn_t **txn);

/* Loads the cluster data key (for sealing/opening secrets).  On failure
 * prints why and returns NULL. */
const pt_data_key_t *pt_cli_data_key(pt_cli_t *cli);

/* Prints "phonetrust: <message>" on stderr and returns PT_EXIT_REFUSED. */
int pt_cli_refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "phonetrust: <message>" (and a hint to use --help) on stderr and
 * returns PT_EXIT_USAGE. */
int pt_cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A noun's verbs.  A NULL run marks a verb still to come (a weak symbol
 * another file may supply) and is treated as unknown. */
typedef struct pt_cli_verb {
	const char *name;
	pt_cli_noun_fn run;
} pt_cli_verb_t;

/* Runs verb argv[1] of noun argv[0] with (argc - 1, argv + 1).  No verb
 * prints help on stderr (exit 2); -h, --help or help print it on stdout
 * (exit 0); an unknown verb is a usage error. */
int pt_cli_dispatch(pt_cli_t *cli, int argc, char **argv,
		    const pt_cli_verb_t *verbs, size_t n_verbs,
		    const char *help);

/* Prints JSON (takes ownership of value) on stdout, indented, newline. */
int pt_cli_print_json(json_t *value);

/* True when argv holds -h or --help. */
bool pt_cli_wants_help(int argc, char **argv);

/* Human tables: collect rows, then print with columns aligned.  Cells are
 * copied. */
typedef struct pt_table_out pt_table_out_t;
pt_table_out_t *pt_table_out_new(int ncols, const char *const *headers);
int pt_table_out_add(pt_table_out_t *t, const char *const *cells);
void pt_table_out_print(const pt_table_out_t *t, FILE *out);
void pt_table_out_destroy(pt_table_out_t **t);

/* A list verb's rows: objects of a JSON array with --json, else a table.
 * The visitor adds to whichever is set and counts its rows in n. */
typedef struct pt_cli_list {
	json_t *array;
	pt_table_out_t *table;
	size_t n;
} pt_cli_list_t;

/* Runs a list verb over table in one read transaction: sets up list
 * (cleared here when done), calls visit(ctx, ...) for each record, then
 * prints the JSON array, the table, or "<empty> in <data dir>" when no
 * row was added.  Refuses with "cannot list <what>: <why>". */
int pt_cli_list(pt_cli_t *cli, pt_table_t table, int ncols,
		const char *const *headers, pt_txn_visit_fn visit, void *ctx,
		pt_cli_list_t *list, const char *what, const char *empty);

/* Copies node-local metadata entry name (node_meta.h) as text into buf;
 * "" when the entry is absent.  Errors of the store. */
int pt_cli_meta_text(pt_txn_t *txn, const char *name, char *buf,
		     size_t len);

/* A JSON array of the names of n trust purposes (NULL when out of
 * memory; the caller owns the reference). */
json_t *pt_cli_purposes_json(const Pt__TrustPurpose *p, size_t n);

/* Writes len bytes to path (created 0644 or truncated), the whole of
 * them or an error. */
int pt_cli_write_file(const char *path, const void *data, size_t len);

/* Reads the whole of path, at most max bytes, into a new buffer (*out,
 * the caller frees it, wiped first when it holds secrets).  Returns
 * PT_ERR_TOO_LARGE beyond max bytes, PT_ESYS(errno) when it cannot be
 * opened or read, PT_ERR_NOMEM; *out stays NULL on failure. */
int pt_cli_read_file(const char *path, size_t max, uint8_t **out,
		     size_t *len);

/* Options of a verb that takes --help and one option name with a value
 * (*value, left alone when not given).  Returns PT_EXIT_OK with optind at
 * the first argument, or with *helped once help is printed on stdout; or
 * a usage error. */
int pt_cli_parse_opt(int argc, char **argv, const char *help,
		     const char *name, const char **value, bool *helped);

/* Hex encoding into a new string (caller frees). */
char *pt_cli_hex(const uint8_t *data, size_t len);

/* Nouns (defined in cli/<noun>.c). */
int pt_cli_init(pt_cli_t *cli, int argc, char **argv);
int pt_cli_device(pt_cli_t *cli, int argc, char **argv);
int pt_cli_profile(pt_cli_t *cli, int argc, char **argv);
int pt_cli_cluster(pt_cli_t *cli, int argc, char **argv);
int pt_cli_capf(pt_cli_t *cli, int argc, char **argv);
int pt_cli_store_noun(pt_cli_t *cli, int argc, char **argv);
int pt_cli_node(pt_cli_t *cli, int argc, char **argv);
int pt_cli_ctl(pt_cli_t *cli, int argc, char **argv);
int pt_cli_config(pt_cli_t *cli, int argc, char **argv);
int pt_cli_itl(pt_cli_t *cli, int argc, char **argv);
int pt_cli_tlv(pt_cli_t *cli, int argc, char **argv);
int pt_cli_trust(pt_cli_t *cli, int argc, char **argv);
int pt_cli_migrate(pt_cli_t *cli, int argc, char **argv);
int pt_cli_phone(pt_cli_t *cli, int argc, char **argv);

#endif
