#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void bench_sort_ns(uint64_t *lat, size_t n)
{
	if (n > 1)
		qsort(lat, n, sizeof *lat, cmp_u64);
}

double bench_pct_ms(const uint64_t *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)sorted[i] / 1e6;
}

double bench_speed_sign(const char *alg, unsigned procs, unsigned seconds)
{
	char cmd[256], line[512];
	if (procs > 1)
		snprintf(cmd, sizeof cmd,
			 "openssl speed -seconds %u -multi %u %s 2>/dev/null",
			 seconds, procs, alg);
	else
		snprintf(cmd, sizeof cmd,
			 "openssl speed -seconds %u %s 2>/dev/null", seconds,
			 alg);
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	double sign = 0;
	while (fgets(line, sizeof line, p)) {
		/* "rsa 2048 bits 0.000717s 0.000022s 1393.8 46243.8" or
		 * " 256 bits ecdsa (nistp256) 0.0000s 0.0001s 39170.8
		 * 12875.0": sign/s is the number before the last. */
		if (!strstr(line, " bits"))
			continue;
		double nums[16];
		int k = 0;
		char *save = NULL;
		for (char *t = strtok_r(line, " \t\n", &save); t && k < 16;
		     t = strtok_r(NULL, " \t\n", &save)) {
			char *end;
			double v = strtod(t, &end);
			if (end != t && *end == '\0')
				nums[k++] = v;
		}
		if (k >= 2)
			sign = nums[k - 2];
	}
	pclose(p);
	return sign;
}
