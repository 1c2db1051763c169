#include "bench_node.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

pid_t bench_node_start(const char *conf, const char *log, double wait_s)
{
	char *daemon = bench_path("%s/node/phonetrustd", bench_build_dir());
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		bench_redirect(log);
		execl(daemon, daemon, "--config", conf, (char *)NULL);
		_exit(127);
	}
	free(daemon);
	bench_track(pid);
	uint64_t t0 = bench_now_ns();
	while (bench_since_s(t0) < wait_s) {
		char *text = (char *)bench_read_all(log, NULL);
		bool ready = text && strstr(text, "ready:");
		free(text);
		if (ready)
			return pid;
		if (!bench_alive(pid)) {
			bench_untrack(pid);
			bench_die("phonetrustd exited at start; see %s", log);
		}
		usleep(20000);
	}
	bench_die("phonetrustd not ready after %.0f s; see %s", wait_s, log);
}

void bench_node_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	bench_untrack(*pid);
	*pid = 0;
}

void bench_node_print_line(const char *log, const char *prefix)
{
	char *text = (char *)bench_read_all(log, NULL);
	const char *line = text ? strstr(text, prefix) : NULL;
	if (line) {
		const char *end = strchr(line, '\n');
		printf("server: %.*s\n",
		       end ? (int)(end - line) : (int)strlen(line), line);
	}
	free(text);
}
