"""The bind daemon dies (SIGKILL) and comes back while the connect side
keeps sending: at-least-once loses nothing, at-most-once messages queued
while it was down arrive in order.  Also the life cycle of the Unix
sockets: SIGTERM removes them, a second daemon on a live runtime dir
refuses to start, a stale one left by SIGKILL is replaced."""
import os
import re
import subprocess
import threading
import time

from harness import (passed, sock, step, Daemon, cat_timeout, check, collect,
                     fail, free_port, patience, send_lines, wait_for)

ID_ALO = "a1" * 16      # B's at-least-once socket
ID_AMO = "a0" * 16      # B's at-most-once socket




def count(d, pattern):
    return len(re.findall(pattern, d.log_text()))


def wait_count(d, pattern, n, what, timeout=10.0):
    end = time.monotonic() + patience(timeout)
    while time.monotonic() < end:
        if count(d, pattern) >= n:
            return
        time.sleep(0.02)
    fail("timed out waiting for %s:\n%s" % (what, d.log_text()))


def up(name, ident):
    return r"socket %s: peer %s \([^)]*\) up" % (re.escape(name), ident)


def down(name):
    return r"socket %s: peer [0-9a-f]{32} \([^)]*\) down" % re.escape(name)


port = free_port()
amo_port = free_port()
while amo_port == port:
    amo_port = free_port()
a = Daemon({"alo": sock(bind="127.0.0.1:%d" % port),
            "amo": sock(bind="127.0.0.1:%d" % amo_port)})
b = Daemon({"alo": sock(connect="127.0.0.1:%d" % port, identity=ID_ALO,
                        delivery="at-least-once", max_retries="unlimited"),
            "amo": sock(connect="127.0.0.1:%d" % amo_port, identity=ID_AMO)})
wait_count(a, up("alo", ID_ALO), 1, "B's alo up on A")
wait_count(a, up("amo", ID_AMO), 1, "B's amo up on A")

# --- at-least-once across a SIGKILL of the receiving daemon ---------------------
step("at-least-once across SIGKILL + restart of the bind daemon")
N = 300
# The first app takes 60 and leaves; what arrives after that waits in A
# unacknowledged when A dies, so B must send it again after the restart.
FIRST = 60
recv1 = a.cat_bg("recv", "alo", "-n", str(FIRST), "--timeout",
                 cat_timeout(20))
sender = b.cat_bg("send", "alo", stdin=subprocess.PIPE)
fed = [0]
feed_error = []


def feed():
    try:
        for i in range(N):
            sender.stdin.write(b"%d\n" % i)
            sender.stdin.flush()
            fed[0] = i + 1
            time.sleep(0.01)
        sender.stdin.close()
    except (BrokenPipeError, OSError) as e:
        feed_error.append(e)


feeder = threading.Thread(target=feed, daemon=True)
feeder.start()
end = time.monotonic() + patience(20)
while fed[0] < N // 3 and time.monotonic() < end:
    time.sleep(0.01)
check(fed[0] >= N // 3, "the feeder is stuck at %d" % fed[0])
l1 = collect(recv1, 20)
check(recv1.returncode == 0, "first recv: exit %d" % recv1.returncode)
downs = count(b, down("alo"))
a.kill()
step("killed A after %d of %d were fed" % (fed[0], N))
wait_count(b, down("alo"), downs + 1, "B to see A's alo go down")
time.sleep(0.3)                          # B sends into the void meanwhile
ups = count(a, up("alo", ID_ALO))
a.start()
check("replacing stale" in a.log_text(),
      "the restarted daemon did not replace its stale socket:\n" + a.log_text())
step("restarted A after %d were fed" % fed[0])
# The second application takes everything that comes, until every id has
# arrived and B holds nothing unacknowledged (a duplicate may come; how
# long after is not this test's to guess).
recv2 = a.cat_bg("recv", "alo")
l2 = []
reader = threading.Thread(target=lambda: l2.extend(
    l.decode().rstrip("\n") for l in recv2.stdout), daemon=True)
reader.start()
feeder.join(patience(30))
check(not feeder.is_alive(), "the feeder did not finish")
check(not feed_error, "feeding smartsock-cat send failed: %r" % feed_error)
try:
    sender.wait(patience(10))
except subprocess.TimeoutExpired:
    fail("smartsock-cat send did not finish")
check(sender.returncode == 0, "smartsock-cat send exit %d: %r" %
      (sender.returncode, sender.stderr.read()))
wait_count(a, up("alo", ID_ALO), ups + 1, "B's alo up on the restarted A")
want = [str(i) for i in range(N)]
end = time.monotonic() + patience(40)
while not set(want) <= set(l1 + l2) and time.monotonic() < end:
    time.sleep(0.05)
wait_for(lambda: (lambda s: s["queued_to_send"] == 0 and
                  s["awaiting_ack"] == 0)(b.status_of("alo")), 20,
         "B's alo to have everything acknowledged")
recv2.terminate()
recv2.wait(patience(10))
reader.join(patience(10))
got = l1 + l2
missing = sorted(set(want) - set(got), key=int)
dups = len(got) - len(set(got))
print("at-least-once: first recv %d, second recv %d, %d duplicates" %
      (len(l1), len(l2), dups))
check(not (set(got) - set(want)), "unexpected payloads %r" %
      sorted(set(got) - set(want)))
check(not missing, "at-least-once lost %d messages across the restart: %r"
      % (len(missing), missing))
check(len(l1) > 0, "nothing arrived before the kill")

# --- at-most-once queued while the bind daemon is down -------------------------
step("at-most-once queued while A is down")
downs = count(b, down("amo"))
a.kill()
wait_count(b, down("amo"), downs + 1, "B to see A's amo go down")
queued = ["queued%d" % i for i in range(20)]
send_lines(b, "amo", queued)
time.sleep(0.3)
ups = count(a, up("amo", ID_AMO))
a.start()
wait_count(a, up("amo", ID_AMO), ups + 1, "B's amo up on the restarted A")
r = a.cat("recv", "amo", "-n", str(len(queued)), "--timeout", "10")
check(r.returncode == 0 and r.stdout.decode().splitlines() == queued,
      "queued at-most-once messages: rc %d, %r %r" %
      (r.returncode, r.stdout, r.stderr))
r = a.cat("recv", "amo", "-n", "1", "--timeout", "700ms")
check(r.returncode == 1 and r.stdout == b"",
      "extra message after the queued ones: %r" % r.stdout)

# --- SIGTERM, a second daemon, a stale socket -----------------------------------
step("SIGTERM removes the Unix sockets")
paths = [a.sock_path(n) for n in ("alo", "amo")]
check(a.stop() == 0, "SIGTERM: nonzero exit")
check(not any(os.path.exists(p) for p in paths),
      "Unix sockets left after SIGTERM: %r" % os.listdir(a.runtime))
check("stopping on SIGTERM" in a.log_text(), "no 'stopping' log line")

step("a second daemon on a live runtime dir refuses to start")
c = Daemon({"one": sock(bind="127.0.0.1:%d" % free_port())})
# Same runtime dir and socket name, another port: only the Unix socket
# conflicts.
r = c.start_second("one")
err = r.stderr.decode()
check(r.returncode == 1, "second daemon exit %d (want 1): %s" %
      (r.returncode, err))
check("another daemon" in err, "second daemon's message: %r" % err)
check(os.path.exists(c.sock_path("one")),
      "the refused daemon removed the live daemon's socket")
r = c.cat("recv", "one", "-n", "1", "--timeout", "200ms")
check(r.returncode == 1 and b"no message" in r.stderr,     # attached
      "the first daemon does not serve its socket any more: %r" % r.stderr)

step("a stale socket left by SIGKILL is replaced")
c.kill()
check(os.path.exists(c.sock_path("one")), "no stale socket after SIGKILL")
c.start()
check("replacing stale" in c.log_text(), "stale socket not replaced:\n" +
      c.log_text())
r = c.cat("recv", "one", "-n", "1", "--timeout", "200ms")
check(r.returncode == 1 and b"no message" in r.stderr,
      "the restarted daemon does not serve its socket: %r" % r.stderr)
check(c.stop() == 0, "restarted daemon did not stop cleanly")
check(not os.path.exists(c.sock_path("one")), "socket left after SIGTERM")
check(b.stop() == 0, "daemon B did not stop cleanly")
step("done")
passed("restart")
