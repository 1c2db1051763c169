/* The two clocks phonetrust reads: monotonic milliseconds for intervals and
 * deadlines, wall-clock microseconds for what is recorded (commit times,
 * last contact) and compared across nodes. */
#ifndef PT_LIB_CLOCK_H
#define PT_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t pt_clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t pt_clock_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
