/*
 * tcp_thr: raw TCP loopback throughput with large writes, the ceiling any
 * TCP messaging layer can reach for big messages.
 *
 *   tcp_thr recv PORT SIZE COUNT           listens on 127.0.0.1:PORT, accepts
 *                                          one connection, reads COUNT frames
 *   tcp_thr send HOST PORT SIZE COUNT      connects (retrying for 10 s) and
 *                                          streams COUNT frames
 *
 * A frame is a 4-byte big-endian length and SIZE payload bytes, as aiomsg
 * frames are.  The sender writes prebuilt runs of whole frames, at least
 * 256 KiB per write() (one frame per write when a frame is larger), so it
 * makes no per-message syscall and no per-message copy.  The receiver reads
 * 256 KiB at a time and walks the frames, checking each length; it prints
 * "tcp-thr-recv: COUNT x SIZE B in S s: N msg/s, M MB/s", timed from the
 * end of the first frame to the end of the last (COUNT - 1 frames in that
 * time, as smartsock-perf's thr-recv counts).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define CHUNK (256 * 1024)

static void
die(const char *what)
{
	fprintf(stderr, "tcp_thr: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
do_recv(unsigned port, size_t size, unsigned long long count)
{
	struct sockaddr_in sin;
	unsigned char *buf, hdr[4];
	unsigned long long done = 0;
	size_t hdr_have = 0, body_left = 0;
	uint64_t t0 = 0;
	int one = 1, lfd, fd;
	ssize_t n;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (listen(lfd, 1) == -1)
		die("listen");
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		die("accept");
	close(lfd);
	if ((buf = malloc(CHUNK)) == NULL)
		die("malloc");
	while (done < count) {
		unsigned char *p, *end;

		if ((n = read(fd, buf, CHUNK)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fprintf(stderr, "tcp_thr: connection ended after %llu "
			    "frames\n", done);
			return 1;
		}
		p = buf;
		end = buf + n;
		while (p < end && done < count) {
			if (body_left > 0) {
				size_t take = (size_t)(end - p) < body_left ?
				    (size_t)(end - p) : body_left;
				p += take;
				body_left -= take;
				if (body_left == 0 && ++done == 1)
					t0 = bench_now_ns();
				continue;
			}
			hdr[hdr_have++] = *p++;
			if (hdr_have < 4)
				continue;
			hdr_have = 0;
			if (((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
			    (size_t)hdr[2] << 8 | hdr[3]) != size) {
				fprintf(stderr, "tcp_thr: frame %llu has a bad "
				    "length\n", done);
				return 1;
			}
			if ((body_left = size) == 0 && ++done == 1)
				t0 = bench_now_ns();
		}
	}
	bench_print_thr("tcp-thr-recv", count, size, bench_now_ns() - t0);
	free(buf);
	close(fd);
	return 0;
}

static int
do_send(const char *host, const char *port, size_t size,
    unsigned long long count)
{
	struct addrinfo hints, *res;
	unsigned char *run, *p;
	size_t frame = size + 4, per_run, i;
	uint64_t deadline = bench_now_ns() + 10000000000ull;
	unsigned long long left = count;
	int fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "tcp_thr: %s: %s\n", host, gai_strerror(rc));
		return 1;
	}
	for (;;) {
		if ((fd = socket(res->ai_family, SOCK_STREAM, 0)) == -1)
			die("socket");
		if (connect(fd, res->ai_addr, res->ai_addrlen) == 0)
			break;
		if (errno != ECONNREFUSED || bench_now_ns() > deadline)
			die("connect");
		close(fd);
		usleep(10000);
	}
	freeaddrinfo(res);

	/* Whole frames, at least CHUNK bytes of them (or one big frame). */
	per_run = frame >= CHUNK ? 1 : (CHUNK + frame - 1) / frame;
	if ((run = malloc(per_run * frame)) == NULL)
		die("malloc");
	memset(run, 'x', per_run * frame);
	for (i = 0, p = run; i < per_run; i++, p += frame) {
		p[0] = (unsigned char)(size >> 24);
		p[1] = (unsigned char)(size >> 16);
		p[2] = (unsigned char)(size >> 8);
		p[3] = (unsigned char)size;
	}
	while (left > 0) {
		size_t nf = left < per_run ? (size_t)left : per_run;
		size_t len = nf * frame, off = 0;

		while (off < len) {
			ssize_t n = write(fd, run + off, len - off);

			if (n == -1) {
				if (errno == EINTR)
					continue;
				die("write");
			}
			off += (size_t)n;
		}
		left -= nf;
	}
	/* Wait for the receiver to close: everything was read. */
	shutdown(fd, SHUT_WR);
	while (read(fd, run, per_run * frame < 4096 ? per_run * frame : 4096) > 0)
		;
	close(fd);
	free(run);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "recv") == 0)
		return do_recv((unsigned)bench_arg(argv[2], "PORT", 1, 65535),
		    (size_t)bench_arg(argv[3], "SIZE", 0, 0xffffffffu),
		    bench_arg(argv[4], "COUNT", 1, 1ull << 40));
	if (argc == 6 && strcmp(argv[1], "send") == 0) {
		bench_arg(argv[3], "PORT", 1, 65535);
		return do_send(argv[2], argv[3],
		    (size_t)bench_arg(argv[4], "SIZE", 0, 0xffffffffu),
		    bench_arg(argv[5], "COUNT", 1, 1ull << 40));
	}
	fprintf(stderr, "usage: tcp_thr recv PORT SIZE COUNT\n"
	    "       tcp_thr send HOST PORT SIZE COUNT\n");
	return 2;
}
