"""smartsockd SIGKILLed under its applications: every smartsock-cat
attached to it (receiving, echoing, sending, and sending while blocked on a
full send buffer) ends by itself with exit 1 and a message that says the
daemon went away, after printing what had already reached it; one that
starts while the dead daemon's socket file is still there is told the
daemon is not accepting.  A restarted daemon replaces the stale socket and
serves again.

(Covered elsewhere: the restart replacing stale application sockets and a
second daemon refused on a live runtime dir, test_restart.py; the same for
control.sock, test_control.py.)"""
import subprocess
import threading
import time

from harness import (DATA, HELLO, Daemon, RawPeer, check, fail, frame,
                     free_port, hello, passed, patience, sock, step,
                     wait_apps, wait_for)

GONE = (b"smartsockd closed the connection", b"connection to smartsockd reset")

port = free_port()
d = Daemon({"k": sock(bind="127.0.0.1:%d" % port),
            # Nobody ever connects: what is sent stays queued, and past 10
            # messages a sender waits.
            "blk": sock(bind="127.0.0.1:%d" % free_port(), send_buffer="10",
                        overflow="block")})

step("applications attached: recv, echo, send, a blocked send")
recv = d.cat_bg("-x", "recv", "k", "-n", "10")
wait_apps(d, "k", 1)
peer = RawPeer(port)
peer.send(hello(b"\x4b" * 16))
f = peer.read_frame()
check(f is not None and f[0] == HELLO, "no HELLO from the daemon: %r" % (f,))
peer.send(b"".join(frame(bytes((DATA,)) + b"m%d" % i) for i in range(3)))
# All three handed to recv before the kill.
wait_for(lambda: d.status_of("k")["counters"]["messages.in"] == 3 and
         d.status_of("k")["waiting_for_app"] == 0, 10,
         "the three messages to reach recv")
echo = d.cat_bg("-x", "echo", "k")
send = d.cat_bg("-x", "send", "k", stdin=subprocess.PIPE)
wait_apps(d, "k", 3)
# More than the Unix socket's buffer holds (about 200 KiB), so that the
# sender really waits in smartsock_send() once the daemon stops reading.
blocked = d.cat_bg("-x", "send", "blk", stdin=subprocess.PIPE)


def feed_blocked():
    try:
        for i in range(400):
            blocked.stdin.write(b"%04d" % i + b"b" * 4000 + b"\n")
        blocked.stdin.close()
    except (BrokenPipeError, ValueError):
        pass        # it ended, as it must once the daemon is gone


feeder = threading.Thread(target=feed_blocked, daemon=True)
feeder.start()
wait_for(lambda: d.status_of("blk")["queued_to_send"] == 10, 10,
         "the blocked sender to fill the send buffer")
time.sleep(0.3)
check(blocked.poll() is None and feeder.is_alive(),
      "the blocked sender is not blocked (exit %r)" % blocked.returncode)

step("SIGKILL")
t0 = time.monotonic()
d.kill()


def ended(p, what, stdin=None):
    """Exit status, stdout and stderr of an attached smartsock-cat that
    must end by itself once the daemon is gone; stdin, if given, is
    written to it first (all of it, or until it exits)."""
    try:
        if stdin is not None:
            p.stdin.write(stdin)
            p.stdin.close()
    except BrokenPipeError:
        pass        # it exited before reading it all
    try:
        p.wait(patience(10))
    except subprocess.TimeoutExpired:
        p.kill()
        fail("%s kept running after the daemon was killed" % what)
    return p.returncode, p.stdout.read(), p.stderr.read()


rc, out, err = ended(recv, "recv")
check(rc == 1 and out == b"m0\nm1\nm2\n" and any(g in err for g in GONE),
      "recv: exit %d, stdout %r, stderr %r" % (rc, out, err))
rc, out, err = ended(echo, "echo")
check(rc == 1 and any(g in err for g in GONE),
      "echo: exit %d, stderr %r" % (rc, err))
# A sender notices at its next message (not killed by SIGPIPE).
rc, out, err = ended(send, "send", b"".join(b"s%d\n" % i for i in range(100)))
check(rc == 1 and any(g in err for g in GONE),
      "send: exit %d, stderr %r" % (rc, err))
rc, out, err = ended(blocked, "the blocked send")
feeder.join(10)
check(rc == 1 and any(g in err for g in GONE),
      "blocked send: exit %d, stderr %r" % (rc, err))
step("every application ended with a message in %.1f s" %
     (time.monotonic() - t0))
peer.close()

step("a stale socket file: not accepting")
r = d.cat("recv", "k", "--timeout", "2")
check(r.returncode == 1 and b"smartsockd is not accepting on this socket"
      in r.stderr and d.sock_path("k").encode() in r.stderr,
      "recv on the stale socket: %r" % (r,))
r = d.cat("send", "k", "x")
check(r.returncode == 1 and b"smartsockd is not accepting on this socket"
      in r.stderr, "send on the stale socket: %r" % (r,))

step("restarted: the stale sockets are replaced, messages flow")
d.start()
check(d.log_text().count("replacing stale") >= 2,
      "stale sockets not replaced:\n" + d.log_text())
peer = RawPeer(port)
peer.send(hello(b"\x4b" * 16) + frame(bytes((DATA,)) + b"again"))
r = d.cat("recv", "k", "-n", "1", "--timeout", "10")
check(r.returncode == 0 and r.stdout == b"again\n",
      "after the restart: %r" % (r,))
peer.close()
check(d.stop() == 0, "the restarted daemon did not stop cleanly")
passed("daemon kill")
