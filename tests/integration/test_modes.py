"""Two smartsockd daemons on loopback exchanging messages in every send
mode (round-robin, publish, send-to-identity, echo replies) and both
delivery modes (at-most-once, at-least-once in both directions)."""

from harness import (passed, Daemon, cat_timeout, check, collect, free_port,
                     send_lines, sock, step, wait_apps, wait_peers)

ID_W1 = "11" * 16
ID_W2 = "22" * 16
ID_A = "aa" * 16


def nothing_more(d, name, wait="700ms"):
    """No further message waits on socket name (within `wait`)."""
    r = d.cat("recv", name, "-n", "1", "--timeout", wait)
    check(r.returncode == 1 and r.stdout == b"",
          "unexpected extra message on %s: rc %d, %r %r" %
          (name, r.returncode, r.stdout, r.stderr))


def recv_all(proc, what, timeout=30):
    """Lines of a `recv -n COUNT` run, which must get them all."""
    lines = collect(proc, timeout)
    check(proc.returncode == 0, "%s: recv exit %d after %d lines" %
          (what, proc.returncode, len(lines)))
    return lines


def no_losses(d, what):
    """A daemon stopped with SIGTERM reported no unacknowledged message."""
    log = d.log_text()
    check("gave up on a message" not in log,
          "%s gave up on messages (no ACK came back):\n%s" % (what, log))
    check("not delivered to any peer at shutdown" not in log and
          "not acknowledged yet at shutdown" not in log,
          "%s still held unacknowledged messages:\n%s" % (what, log))


def pair(a_keys, b_keys=None):
    """Daemon A binds `work`; daemon B's w1 and w2 both connect to it."""
    port = free_port()
    a = Daemon({"work": sock(bind="127.0.0.1:%d" % port, identity=ID_A,
                             **a_keys)})
    b_keys = b_keys or {}
    b = Daemon({
        "w1": sock(connect="127.0.0.1:%d" % port, identity=ID_W1,
                   **b_keys.get("w1", {})),
        "w2": sock(connect="127.0.0.1:%d" % port, identity=ID_W2,
                   **b_keys.get("w2", {})),
    })
    wait_peers(a, "work", [ID_W1, ID_W2])
    wait_peers(b, "w1", [ID_A])
    wait_peers(b, "w2", [ID_A])
    return a, b


# --- round-robin, at-most-once -----------------------------------------------
step("round-robin at-most-once")
a, b = pair({"send_mode": "roundrobin"})
r1 = b.cat_bg("recv", "w1", "-n", "5", "--timeout", "10")
r2 = b.cat_bg("recv", "w2", "-n", "5", "--timeout", "10")
msgs = ["rr%d" % i for i in range(10)]
send_lines(a, "work", msgs)
l1, l2 = collect(r1), collect(r2)
check(r1.returncode == 0 and r2.returncode == 0,
      "round-robin: w1 got %r (rc %d), w2 got %r (rc %d)" %
      (l1, r1.returncode, l2, r2.returncode))
check(len(l1) == 5 and len(l2) == 5, "round-robin split %r / %r" % (l1, l2))
check(sorted(l1 + l2) == sorted(msgs), "round-robin lost or duplicated: %r %r"
      % (l1, l2))
# One connection each, so each receiver sees its share in order.
check(l1 == sorted(l1, key=lambda s: int(s[2:])) and
      l2 == sorted(l2, key=lambda s: int(s[2:])),
      "round-robin out of order: %r %r" % (l1, l2))
nothing_more(b, "w1")
nothing_more(b, "w2")

# --- send-to-identity --------------------------------------------------------
step("send-to-identity")
r = a.cat("send", "work", "--to", ID_W2, "only-w2-a", "only-w2-b")
check(r.returncode == 0, "send --to w2 failed: %r" % r.stderr)
r = b.cat("recv", "w2", "-n", "2", "--identity", "--timeout", "10")
check(r.returncode == 0 and r.stdout.decode().splitlines() ==
      [ID_A + "\tonly-w2-a", ID_A + "\tonly-w2-b"],
      "w2 did not get its targeted messages: %r %r" % (r.stdout, r.stderr))
nothing_more(b, "w1")
nothing_more(b, "w2")
unknown = "33" * 16
r = a.cat("send", "work", "--to", unknown, "nobody")
err = r.stderr.decode().lower()
check(r.returncode != 0, "send --to an unknown identity succeeded")
check("not connected" in err or "is connected" in err or
      "no route to host" in err,
      "send --to an unknown identity: unexpected error text %r" % err)
nothing_more(b, "w1", "300ms")
nothing_more(b, "w2", "300ms")

# --- echo: B sends, an app on A answers each sender ---------------------------
step("echo / reply path")
# Messages that reach a socket are shared round-robin among the apps
# attached to it, and an at-most-once one handed to `smartsock-cat send`
# is lost when it detaches.  So the pings are sent while A has no app (A
# keeps them), and the echo app starts only once B's sender has detached
# and its receiver is attached.
N = 20
send_lines(b, "w1", ["ping%d" % i for i in range(N)])
recv = b.cat_bg("recv", "w1", "-n", str(N), "--identity", "--timeout", "10")
wait_apps(b, "w1", 1)
echo = a.cat_bg("echo", "work", "-n", str(N))
lines = collect(recv)
check(recv.returncode == 0 and lines == [ID_A + "\tping%d" % i
                                          for i in range(N)],
      "echo replies: rc %d, %r\n--- A:\n%s--- B:\n%s" %
      (recv.returncode, lines, a.log_text(), b.log_text()))
collect(echo, 10)
check(echo.returncode == 0, "echo app exit %d" % echo.returncode)
nothing_more(b, "w1", "300ms")
nothing_more(b, "w2", "300ms")   # replies went to the sender only
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")

# --- publish, at-most-once -----------------------------------------------------
step("publish at-most-once")
a, b = pair({"send_mode": "publish"})
r1 = b.cat_bg("recv", "w1", "-n", "10", "--timeout", "10")
r2 = b.cat_bg("recv", "w2", "-n", "10", "--timeout", "10")
msgs = ["pub%d" % i for i in range(10)]
send_lines(a, "work", msgs)
l1, l2 = collect(r1), collect(r2)
check(l1 == msgs, "publish: w1 got %r (rc %d)" % (l1, r1.returncode))
check(l2 == msgs, "publish: w2 got %r (rc %d)" % (l2, r2.returncode))
nothing_more(b, "w1")
nothing_more(b, "w2")
# --to overrides the send mode.
r = a.cat("send", "work", "--to", ID_W1, "to-w1")
check(r.returncode == 0, "send --to w1 (publish socket) failed: %r" % r.stderr)
r = b.cat("recv", "w1", "-n", "1", "--timeout", "10")
check(r.stdout == b"to-w1\n", "publish socket, --to w1: %r %r" %
      (r.stdout, r.stderr))
nothing_more(b, "w2")
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")

# --- at-least-once, both directions ---------------------------------------------
step("round-robin at-least-once, bind side sends")
# A sends at-least-once; B's w1 sends at-least-once too (reverse direction).
a, b = pair({"send_mode": "roundrobin", "delivery": "at-least-once"},
            {"w1": {"delivery": "at-least-once"}})
N = 200
# Each recv takes its half (a duplicate among them would leave a message
# out); then 2 s of silence, 4 resend_timeouts, show no duplicate after.
r1 = b.cat_bg("recv", "w1", "-n", str(N // 2), "--timeout", cat_timeout(10))
r2 = b.cat_bg("recv", "w2", "-n", str(N // 2), "--timeout", cat_timeout(10))
msgs = ["alo%d" % i for i in range(N)]
send_lines(a, "work", msgs)
l1, l2 = recv_all(r1, "w1"), recv_all(r2, "w2")
nothing_more(b, "w1", "2s")
nothing_more(b, "w2", "2s")
dups = len(l1 + l2) - len(set(l1 + l2))
check(sorted(set(l1 + l2)) == sorted(msgs),
      "at-least-once lost %r" % sorted(set(msgs) - set(l1 + l2)))
check(dups == 0, "at-least-once: %d duplicates (ACKs not flowing back?)"
      % dups)
check(len(l1) == N // 2 and len(l2) == N // 2,
      "at-least-once round-robin split %d / %d" % (len(l1), len(l2)))

step("at-least-once, connect side sends")
ra = a.cat_bg("recv", "work", "-n", str(N), "--identity", "--timeout",
              cat_timeout(10))
msgs = ["rev%d" % i for i in range(N)]
send_lines(b, "w1", msgs)
la = recv_all(ra, "work")
nothing_more(a, "work", "2s")
check(all(l.startswith(ID_W1 + "\t") for l in la),
      "reverse at-least-once: not all from w1: %r" % la[:5])
got = [l.split("\t", 1)[1] for l in la]
check(sorted(set(got)) == sorted(msgs),
      "reverse at-least-once lost %r" % sorted(set(msgs) - set(got)))
check(len(got) == N, "reverse at-least-once: %d duplicates" % (len(got) - N))

check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")
no_losses(a, "daemon A (bind, at-least-once)")
no_losses(b, "daemon B (connect, at-least-once)")
step("done")
passed("send and delivery modes")
