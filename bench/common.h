/*
 * Helpers shared by the bench programs (zmq_thr, zmq_lat, zmq_proxy,
 * tcp_thr): argument parsing, libzmq endpoint arguments, a monotonic clock,
 * and the two result lines every tool of the
 * bench prints, so that one regular expression in bench/run parses them all:
 *
 *   PREFIX: COUNT x SIZE B in SECONDS s: MSGS msg/s, MBS MB/s
 *   PREFIX: COUNT x SIZE B round trips: p50 X us, p99 Y us, max Z us
 *
 * MB is 10^6 bytes.  Header-only: each program is one .c file compiled alone.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A whole number in [min, max], or exit 2 naming the argument. */
static inline unsigned long long
bench_arg(const char *s, const char *what, unsigned long long min,
    unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v < min || v > max) {
		fprintf(stderr, "bad %s: %s (%llu..%llu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

/*
 * An endpoint argument of the libzmq programs: "@EP" binds, ">EP" connects
 * (CZMQ's convention), a bare EP binds when dflt_bind is set.  Returns EP
 * without its prefix and sets *binds.
 */
static inline const char *
bench_endpoint(const char *arg, int dflt_bind, int *binds)
{
	*binds = dflt_bind;
	if (arg[0] == '@' || arg[0] == '>') {
		*binds = arg[0] == '@';
		arg++;
	}
	return arg;
}

#ifdef ZMQ_VERSION      /* included after <zmq.h> */
/* Binds or connects s as bench_endpoint() says: zmq_bind's or zmq_connect's
 * result. */
static inline int
bench_zmq_attach(void *s, const char *arg, int dflt_bind)
{
	int binds;
	const char *ep = bench_endpoint(arg, dflt_bind, &binds);

	return binds ? zmq_bind(s, ep) : zmq_connect(s, ep);
}
#endif

/*
 * elapsed_ns runs from the first message to the last, so count - 1 messages
 * lie in it (as smartsock-perf's thr-recv counts).
 */
static inline void
bench_print_thr(const char *prefix, unsigned long long count, size_t size,
    uint64_t elapsed_ns)
{
	double s = (double)elapsed_ns / 1e9, n = (double)(count - 1);

	if (s <= 0)
		s = 1e-9;
	printf("%s: %llu x %zu B in %.6f s: %.0f msg/s, %.2f MB/s\n", prefix,
	    count, size, s, n / s, n * (double)size / s / 1e6);
	fflush(stdout);
}

static int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sorts samples (ns) in place and prints the latency line in microseconds;
 * p50 is sorted[n / 2] and p99 sorted[n * 99 / 100], as in smartsock-perf.
 */
static inline void
bench_print_lat(const char *prefix, uint64_t *ns, size_t n, size_t size)
{
	qsort(ns, n, sizeof(*ns), bench_cmp_u64);
	printf("%s: %zu x %zu B round trips: p50 %.1f us, p99 %.1f us, "
	    "max %.1f us\n", prefix, n, size, ns[n / 2] / 1e3,
	    ns[n * 99 / 100] / 1e3, ns[n - 1] / 1e3);
	fflush(stdout);
}

#endif
