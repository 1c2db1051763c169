/* bench_bootstorm's cluster, made with the real binaries in a work
 * directory, and the peer serving the same files.
 *
 * A publisher (`phonetrust init`), nodes - 1 subscribers joined to it
 * (`init --join`, all at once), mixed mode by `ctl init` with two token
 * files made here, an encrypting SIP profile, the devices imported with
 * `device import --csv` (SIP 8841s, every enc_every-th on the encrypting
 * profile and given an LSC in the store, as a finished CAPF session
 * would), and a 2 MiB file in the static directory.  Subscriber sub1 runs
 * phonetrustd with [tftp] on; the build returns once sub1 holds the
 * publisher's last transaction, its log says every device's files were
 * built ahead, and it has been idle (no refresh running) for two seconds.  The other subscribers never run:
 * their node records put every call manager and TVS into each
 * configuration, as in a real cluster.
 *
 * The peer: in.tftpd (tftpd-hpa) in the foreground, chrooted to a
 * directory holding what sub1 serves, written by `ctl show --out`,
 * `itl show --out` and, for the configurations, by the function behind
 * `config show --out` (node/files/config_source.c) with sub1's keys.
 */
#ifndef PT_BENCH_BS_CLUSTER_H
#define PT_BENCH_BS_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bs_load.h"

#define BS_IN_TFTPD "/usr/sbin/in.tftpd"
#define BS_BIG_NAME "bootstorm-2MB.bin"
#define BS_BIG_BYTES (2u << 20)

typedef struct bs_cluster_opts {
	unsigned devices;
	unsigned nodes;     /* the publisher and nodes - 1 subscribers */
	unsigned workers;   /* sub1's TFTP workers */
	unsigned enc_every; /* 0: no device encrypts */
} bs_cluster_opts_t;

typedef struct bs_daemon {
	const char *name;
	char *conf, *log;
	pid_t pid;
} bs_daemon_t;

typedef struct bs_cluster {
	char bin[PATH_MAX];  /* the build directory */
	char work[PATH_MAX];
	bool keep;           /* the work directory was given: kept */
	char *setup_log;     /* what the commands printed */
	char *pub, *sub;     /* data directories of pub and sub1 */
	char *static_dir;    /* sub1's [tftp] static_dir */
	char *root;          /* the peer's directory */
	char *ctl_path;      /* root/CTLFile.tlv */
	bs_daemon_t pubd, subd;
	uint16_t tftp_port;  /* sub1's, on 127.0.0.1 */
	unsigned n_enc;      /* devices encrypting */
	/* Figures of the build and export. */
	double pub_s, import_s, join_s, catchup_s, build_s, export_s;
	size_t built;        /* files the refresher built ahead */
	uint64_t seq;        /* the publisher's last sequence, sub1 holds it */
	char sample_dev[16]; /* the device also exported by `config show` */
	size_t sample_len;   /* ... and what that gave */
} bs_cluster_t;

/* Device i's name: SEP0A followed by i in 10 hex digits. */
void bs_device_name(unsigned i, char out[16]);
bool bs_device_encrypts(const bs_cluster_opts_t *o, unsigned i);

/* Finds cli/phonetrust and node/phonetrustd under bin, or (bin NULL) in
 * the build directory this program was built in; then makes the work
 * directory: dir (which must not exist; kept at the end) or a new one
 * under $TMPDIR. */
void bs_cluster_init(bs_cluster_t *cl, const char *bin, const char *dir);

/* Builds the cluster and starts pub and sub1 (see above). */
void bs_cluster_build(bs_cluster_t *cl, const bs_cluster_opts_t *o);

/* Writes the peer's directory: CTL, ITL, the 2 MiB file and fs's files
 * (names filled in by the caller; sizes and payload digests filled in
 * here), built on threads threads. */
void bs_cluster_export(bs_cluster_t *cl, bs_fileset_t *fs, unsigned threads);

/* Starts in.tftpd on a free port of 127.0.0.1 serving cl->root; false
 * with why when it cannot run here (not installed, not root, no answer). */
bool bs_tftpd_start(bs_cluster_t *cl, bs_server_t *s, char *why,
		    size_t why_len);
void bs_tftpd_stop(bs_server_t *s);

/* Stops sub1 and pub; false when one did not exit 0 (a line says so). */
bool bs_cluster_stop(bs_cluster_t *cl);

/* Removes the work directory unless it was given or keep_anyway; frees. */
void bs_cluster_clear(bs_cluster_t *cl, bool keep_anyway);

#endif
