/*
 * ctlproto: the control protocol between smartsockctl (or any script) and
 * smartsockd, on <runtime_dir>/control.sock.  smartsockctl(8) documents it
 * for operators; this header is what both ends build from.
 *
 * One request per connection, one line each way:
 *
 *   client -> daemon   "smartsock-control 1 COMMAND[ ARG]\n"
 *   daemon -> client   one JSON object, then "\n", then the daemon closes.
 *
 * The request is printable ASCII, words separated by one or more blanks,
 * at most CTL_LINE_MAX bytes with its newline, and must arrive within
 * CTL_TIMEOUT_MS of connecting; anything else is refused or closed.  Every
 * answer holds "version": CTL_VERSION and either "ok": true and the
 * command's data, or "ok": false and "error": a reason for a person.  A
 * request of another version is refused with a reason naming ours.
 */
#ifndef SMARTSOCK_CTLPROTO_H
#define SMARTSOCK_CTLPROTO_H

#define CTL_MAGIC "smartsock-control"
#define CTL_VERSION 1
#define CTL_LINE_MAX 4096
#define CTL_TIMEOUT_MS 5000
/* An answer larger than this is refused by smartsockctl. */
#define CTL_ANSWER_MAX (64 * 1024 * 1024)

/* The socket file in runtime_dir; no smart socket may take this name. */
#define CTL_SOCKET_NAME "control"
#define CTL_SOCKET_FILE CTL_SOCKET_NAME ".sock"

#endif
