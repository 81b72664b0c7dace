/*
 * fake_daemon.h: the daemon side of a *.session script (the format is in
 * tests/lproto-vectors/README.md): what smartsockd says on the local socket,
 * reduced to the script's `c` and `d` lines, to play against a real client.
 *
 * daemon_play() accepts the client and walks those lines in order: `c HEX`
 * reads exactly these bytes, `c eof` the client's end of stream, `d HEX`
 * writes, `d close` closes, `d accept` takes the client's next connection
 * (it re-attaches).  It stops at the first line that fails, and no
 * wait (for the client to connect, send, take bytes or end) lasts longer
 * than IO_WAIT_MS.  Failures go to a struct report as file:line; nothing
 * asserts, prints or exits, so it can run in a forked child.
 */
#ifndef SMARTSOCK_FAKE_DAEMON_H
#define SMARTSOCK_FAKE_DAEMON_H

#include <stddef.h>

#include "vecfile.h"

#define IO_WAIT_MS 5000         /* README: the daemon side's bound */

/*
 * Play the `c` and `d` lines of lines[0..n) on the client's connections
 * accepted from lfd (a listening socket, its to close at the end; a
 * connection is closed by `d close`, `d accept` or the end).  Every line that is
 * neither is skipped.  Failures, and a last line other than `c eof` or
 * `d close`, are added to r.
 */
void daemon_play(const struct vline *lines, size_t n, int lfd,
    struct report *r);

#endif
