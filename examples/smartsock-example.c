/*
 * The program of the EXAMPLES section of smartsock(3), built by make check
 * so that it keeps compiling; tests/man/lint-man checks that the page shows
 * exactly what follows this comment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <smartsock.h>

int
main(int argc, char *argv[])
{
	const char *name = argc > 1 ? argv[1] : "echo";
	uint8_t id[SMARTSOCK_IDENTITY_LEN];
	smartsock *s;
	ssize_t n;
	size_t cap;
	char *buf;

	if ((s = smartsock_open(name)) == NULL) {
		fprintf(stderr, "%s: %s\n", name,
		    smartsock_strerror(errno));
		return 1;
	}
	/* A buffer this large never truncates a message. */
	cap = smartsock_max_message_size(s);
	if ((buf = malloc(cap)) == NULL) {
		fprintf(stderr, "%s: %s\n", name,
		    smartsock_strerror(errno));
		smartsock_close(s);
		return 1;
	}
	for (;;) {
		if ((n = smartsock_recv_identity(s, id, buf, cap)) == -1)
			break;
		/* The sender may be gone or full: serve the others. */
		if (smartsock_send_to(s, id, buf, (size_t)n) == -1 &&
		    errno != EHOSTUNREACH && errno != ENOBUFS)
			break;
	}
	fprintf(stderr, "%s: %s\n", name, smartsock_strerror(errno));
	free(buf);
	smartsock_close(s);
	return 1;
}
