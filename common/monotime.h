/*
 * monotime: milliseconds of CLOCK_MONOTONIC, for deadlines and timing in
 * the library, the tools and the tests (the daemon has log.h's coarse
 * now_ms()).
 */
#ifndef SMARTSOCK_MONOTIME_H
#define SMARTSOCK_MONOTIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
