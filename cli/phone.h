/* The phone simulator (`phonetrust phone boot|storm`): parts shared by
 * cli/phone*.c.
 *
 *   phone_tftp.c    fetches one file over TFTP into memory (blocking,
 *                   poll-based, one UDP socket per fetch) around the pure
 *                   client in lib/tftp_client.h
 *   phone_config.c  reads what a phone looks at in its configuration
 *   phone_boot.c    the boot sequence: trust lists, configuration,
 *                   encrypted configuration
 *   phone.c         the noun and `boot`; phone_storm.c `storm`
 */
#ifndef PT_CLI_PHONE_H
#define PT_CLI_PHONE_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cli.h"
#include "lib/phone_trust.h"
#include "lib/tftp_client.h"

/* ---- TFTP fetch (phone_tftp.c) ---- */

typedef struct pt_phone_server {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[96]; /* as given, for messages */
} pt_phone_server_t;

/* Resolves "HOST:PORT" ("[v6]:PORT" for IPv6 addresses; PORT is
 * required).  PT_ERR_INVALID with a reason in why (why_len bytes). */
int pt_phone_server_parse(const char *hostport, pt_phone_server_t *out,
			  char *why, size_t why_len);

typedef struct pt_phone_fetch {
	uint8_t *data;       /* the file (malloc'd; wiped by clear) */
	size_t len;
	int err;             /* PT_OK or why it failed */
	int server_error;    /* the server's ERROR code, or -1 */
	char why[224];       /* one line when err != PT_OK */
	int64_t elapsed_us;  /* request to last ACK */
	bool oack;
	uint32_t blksize, windowsize;
	uint64_t retransmits;  /* our packets sent again */
	uint64_t duplicates;   /* server packets received again */
	uint64_t out_of_order;
	uint64_t foreign;      /* datagrams from another port, refused */
} pt_phone_fetch_t;

/* Fetches name from server into out (cleared first).  The request goes
 * to the server's port; the transfer follows the port of the first
 * answer from the server's address, and datagrams from any other port
 * get ERROR 5 (unknown transfer ID).  Returns out->err: PT_OK,
 * PT_ERR_NOT_FOUND for the server's "file not found", the client's other
 * errors (lib/tftp_client.h), or a system error. */
int pt_phone_tftp_fetch(const pt_phone_server_t *server, const char *name,
			const pt_tftp_client_opts_t *opts,
			pt_phone_fetch_t *out);

/* Wipes and frees out->data; out may be reused. */
void pt_phone_fetch_clear(pt_phone_fetch_t *out);

/* ---- configuration (phone_config.c) ---- */

#define PT_PHONE_SERVERS_MAX 8

typedef struct pt_phone_endpoint {
	char host[128];
	char port[8];
} pt_phone_endpoint_t;

/* What a phone reads from SEP<MAC>.cnf.xml (full or minimal): text of the
 * elements, "" when absent.  No secret is kept: authPassword and any
 * other element whose name holds "password" are only counted. */
typedef struct pt_phone_config {
	char full_config[8];
	char device_name[32];
	char protocol[8];
	char security_mode[8];
	char transport[8];
	char capf_auth_mode[8];
	char cert_hash[40];
	char encr_config[8];
	char load_information[64];
	pt_phone_endpoint_t capf[PT_PHONE_SERVERS_MAX];
	size_t n_capf;
	pt_phone_endpoint_t tvs[PT_PHONE_SERVERS_MAX];
	size_t n_tvs;
	char auth_name[64];
	size_t secrets; /* password elements seen (values not kept) */
} pt_phone_config_t;

/* Reads a configuration (len bytes, untrusted): well-formed UTF-8 XML, no
 * DOCTYPE or entity declaration, root <device>.  PT_ERR_MALFORMED
 * otherwise, PT_ERR_TOO_LARGE above 4 MiB. */
int pt_phone_config_parse(const uint8_t *xml, size_t len,
			  pt_phone_config_t *out);

/* Text of security mode and transport codes ("encrypted", "TLS", ...),
 * or NULL for an unknown code. */
const char *pt_phone_config_mode_name(const char *code);
const char *pt_phone_config_transport_name(const char *code);

/* ---- the boot sequence (phone_boot.c) ---- */

#define PT_PHONE_FILES_MAX 8

typedef enum pt_phone_result {
	PT_PHONE_FETCHED = 0,  /* fetched, not checked further */
	PT_PHONE_INSTALLED,    /* trust list installed */
	PT_PHONE_UNCHANGED,    /* trust list equal to the installed one */
	PT_PHONE_NOT_FOUND,    /* the server has no such file */
	PT_PHONE_VERIFIED,     /* signature checked */
	PT_PHONE_DECRYPTED,    /* signature checked and decrypted */
	PT_PHONE_REFUSED,      /* fetched but refused */
	PT_PHONE_FAILED,       /* the transfer failed */
} pt_phone_result_t;

/* One file the phone asked for. */
typedef struct pt_phone_file {
	char name[48];
	pt_phone_result_t result;
	size_t bytes;
	int64_t elapsed_us;
	bool transferred;      /* a TFTP transfer completed */
	bool oack;
	uint32_t blksize, windowsize;
	uint64_t retransmits, duplicates;
	char detail[480];      /* why refused or failed; how installed */
} pt_phone_file_t;

typedef struct pt_phone_boot {
	/* Inputs (borrowed). */
	const pt_phone_server_t *server;
	char mac[13];            /* 12 upper-case hex digits */
	EVP_PKEY *key;           /* the phone's key, or NULL */
	X509 *cert;              /* its LSC or MIC, or NULL */
	const char *state_dir;   /* kept trust lists, or NULL */
	pt_tftp_client_opts_t tftp;
	bool fetch_ctl, fetch_itl, fetch_config;
	/* Without a key an encrypted configuration cannot be opened: true
	 * makes that a failure (phone boot), false fetches the .enc.sgn
	 * file without opening it (a storm of keyless phones). */
	bool need_decrypt;
	/* Fetch without checking (a load generator whose own CPU must not
	 * be the limit): lists are only parsed to learn whether they hold a
	 * TFTP certificate, a .sgn is only stripped, nothing is installed. */
	bool fetch_only;

	/* Results. */
	pt_phone_trust_t *trust;
	const char *ctl_from;    /* "state", "tftp" or NULL: none */
	const char *itl_from;
	bool lists_want_signed;  /* fetch_only: a list has a TFTP cert */
	pt_phone_file_t files[PT_PHONE_FILES_MAX];
	size_t n_files;
	bool have_config;
	bool config_signed;
	bool encrypted;          /* the configuration says encrConfig */
	bool decrypted;
	pt_phone_config_t config; /* the full one when decrypted */
	const char *failed_step; /* NULL when every step succeeded */
	char error[512];
} pt_phone_boot_t;

/* Runs the boot of b (inputs set, results zero).  Returns PT_OK, or the
 * error of b->failed_step with b->error filled. */
int pt_phone_boot_run(pt_phone_boot_t *b);

/* Frees the results; the inputs are left alone. */
void pt_phone_boot_clear(pt_phone_boot_t *b);

/* "fetched", "installed", ... */
const char *pt_phone_result_name(pt_phone_result_t r);

/* A MAC from the command line: 12 hex digits or SEP + 12, either case,
 * into 12 upper-case digits.  PT_ERR_INVALID otherwise. */
int pt_phone_mac_parse(const char *text, char mac[13]);

/* TFTP tuning options shared by boot and storm: --blksize, --windowsize,
 * --timeout, --retries, --no-tsize (PT_PHONE_TFTP_LONGOPTS).  The default
 * case of their option loops: returns PT_EXIT_OK when opt was one of them
 * (and stored), else the usage error (printed) for a bad value, or for an
 * unknown option or a missing value (argv[optind - 1]). */
int pt_phone_tftp_option(int opt, const char *arg, char **argv,
			 pt_tftp_client_opts_t *opts);

/* What a simulated phone asks for unless told otherwise: blksize 1428
 * and tsize. */
void pt_phone_tftp_defaults(pt_tftp_client_opts_t *opts);

/* getopt_long values of the options above. */
enum {
	PT_PHONE_OPT_BLKSIZE = 0x100,
	PT_PHONE_OPT_WINDOWSIZE,
	PT_PHONE_OPT_TIMEOUT,
	PT_PHONE_OPT_RETRIES,
	PT_PHONE_OPT_NO_TSIZE,
};

/* Their entries in a struct option table. */
#define PT_PHONE_TFTP_LONGOPTS                                                 \
	{"blksize", required_argument, NULL, PT_PHONE_OPT_BLKSIZE},            \
	{"windowsize", required_argument, NULL, PT_PHONE_OPT_WINDOWSIZE},      \
	{"timeout", required_argument, NULL, PT_PHONE_OPT_TIMEOUT},            \
	{"retries", required_argument, NULL, PT_PHONE_OPT_RETRIES},            \
	{"no-tsize", no_argument, NULL, PT_PHONE_OPT_NO_TSIZE}

/* Prints value (ownership taken) as pt_cli_print_json does, with reals
 * (milliseconds, rates) to 10 significant digits instead of 17. */
int pt_phone_print_json(json_t *value);

/* The boot verb and storm (phone.c, phone_storm.c). */
int pt_cli_phone_storm(pt_cli_t *cli, int argc, char **argv);

#endif
