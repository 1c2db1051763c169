#include "bs_util.h"

#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* Two "Udp:" lines: the names, then the values. */
bs_udp_t bs_udp_read(void)
{
	bs_udp_t c = {0};
	uint8_t *text = bench_read_all("/proc/net/snmp", NULL);
	char *names = text ? strstr((char *)text, "\nUdp: ") : NULL;
	char *values = names ? strstr(names + 1, "\nUdp: ") : NULL;
	if (!values) {
		free(text);
		return c;
	}
	char *nl = strchr(names + 1, '\n');
	if (nl)
		*nl = '\0';
	nl = strchr(values + 1, '\n');
	if (nl)
		*nl = '\0';
	char *sn = NULL, *sv = NULL;
	char *n = strtok_r(names + 6, " ", &sn);
	char *v = strtok_r(values + 6, " ", &sv);
	for (; n && v; n = strtok_r(NULL, " ", &sn),
		       v = strtok_r(NULL, " ", &sv)) {
		if (strcmp(n, "RcvbufErrors") == 0)
			c.rcvbuf_errors = atoll(v);
		else if (strcmp(n, "InErrors") == 0)
			c.in_errors = atoll(v);
	}
	c.ok = true;
	free(text);
	return c;
}
