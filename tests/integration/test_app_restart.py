"""Applications that outlive a daemon restart (issue 8).

The applications here are restart-app (tests/integration/restart-app.c)
and smartsock-cat; they are started once and never restarted while their
daemons are.

  gap       what the library's calls do while the daemon is away: poll()
            wakes for LOST, a send with a zero timeout fails at once with
            ENOTCONN, a recv with a timeout fails with EAGAIN, a send with
            a timeout blocks until the daemon is back and succeeds (it has
            not returned when the daemon starts again), an
            epoll loop wakes for BACK, smartsock_fd() and the configured
            identity stay the same; the SIGTERMed daemon does not wait
            out its grace period for the application (it logs when it
            does).
  load      a sending application on daemon A (connected to B) and a
            receiving one on B, at-least-once, about 2000 messages/s:
            SIGTERM restarts of A, of B, of both (A down, then B, then
            both up), twice; a SIGKILL of B; then a SIGKILL of A.  Both
            carry on after each, with LOST and BACK once per restart of
            their own daemon; every id arrives (duplicates counted and
            shown) except, for the SIGKILL of A, ids that A had not read
            when it died.
  cat       smartsock-cat recv without -x rides out a SIGTERM and a
            SIGKILL, saying so once each way on stderr.
"""
import os
import re
import signal
import subprocess
import time

from harness import (BUILD, Daemon, check, fail, free_port, passed,
                     patience, sock, spawn, step, tmpdir, wait_for,
                     wait_peers)

APP = os.path.join(BUILD, "tests", "integration", "restart-app")
ID_IN = "1a" * 16
ID_OUT = "2b" * 16
ID_A = "3c" * 16
ID_B = "4d" * 16

if not os.access(APP, os.X_OK):
    fail("%s is not built (check_PROGRAMS in Makefile.am)" % APP)


class Lines:
    """The stdout of a process, read line by line with a deadline."""

    def __init__(self, p):
        self.p = p
        self.buf = b""

    def expect(self, prefix, timeout=30.0):
        end = time.monotonic() + patience(timeout)
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or self.p.poll() is not None and not self._more(fd, 0):
                fail("waiting for %r from restart-app: got %r, exit %r, "
                     "stderr %r" % (prefix, self.buf, self.p.poll(),
                                    self.p.stderr.read() if self.p.poll()
                                    is not None else b""))
            self._more(fd, min(left, 0.2))
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode()
        check(line.startswith(prefix), "restart-app said %r, not %r" %
              (line, prefix))
        return line

    def nothing_yet(self):
        """No line printed so far (it does not wait)."""
        while self._more(self.p.stdout.fileno(), 0):
            pass
        return b"\n" not in self.buf

    def _more(self, fd, timeout):
        import select
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return False
        chunk = os.read(fd, 4096)
        self.buf += chunk
        return bool(chunk)


def stop_timed(d, sig=signal.SIGTERM):
    t0 = time.monotonic()
    d.stop(sig)
    return time.monotonic() - t0


# --- gap ---------------------------------------------------------------------
step("gap: one daemon, OUT connected to IN")
port = free_port()
d = Daemon({"gin": sock(bind="127.0.0.1:%d" % port, identity=ID_IN,
                        delivery="at-least-once"),
            "gout": sock(connect="127.0.0.1:%d" % port, identity=ID_OUT,
                         delivery="at-least-once")})
wait_peers(d, "gin", [ID_OUT])
app = spawn([APP, "gap", d.sock_path("gin"), d.sock_path("gout")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out = Lines(app)
out.expect("ready")
took = stop_timed(d)
step("SIGTERM: stopped in %.2f s" % took)
# Had the application not ended its stream after CLOSING, the daemon would
# have waited out its grace period and said so.
check("not finished" not in d.log_text(), "the daemon waited for the "
      "application (it did not end its stream after CLOSING):\n" +
      d.log_text())
out.expect("lost")
out.expect("send0 ENOTCONN")
out.expect("recv300 EAGAIN")
out.expect("blocking")
time.sleep(0.7)
check(out.nothing_yet(), "the send returned while the daemon was away: %r" %
      out.buf)
d.start()
line = out.expect("send ok after ")
ms = int(re.search(r"after (\d+) ms", line).group(1))
step("the blocked send returned after %d ms, once the daemon was back" % ms)
out.expect("back")
out.expect("fd same")
out.expect("identity same")
out.expect("done")
check(app.wait(patience(10)) == 0, "restart-app gap exit %r" %
      app.returncode)
check(d.stop() == 0, "gap daemon stop")

# --- load ----------------------------------------------------------------------
step("load: sender on A -> B -> receiver, at-least-once")
pb = free_port()
alo = {"delivery": "at-least-once", "max_retries": "unlimited"}
a = Daemon({"out": sock(connect="127.0.0.1:%d" % pb, identity=ID_A, **alo)})
b = Daemon({"in": sock(bind="127.0.0.1:%d" % pb, identity=ID_B, **alo)})
wait_peers(b, "in", [ID_A])
wdir = tmpdir()
recv_out = open(os.path.join(wdir, "recv.out"), "wb")
recv_err = open(os.path.join(wdir, "recv.err"), "wb")
send_err = open(os.path.join(wdir, "send.err"), "wb")
receiver = spawn([APP, "recv", b.sock_path("in")], stdout=recv_out,
                 stderr=recv_err)
sender = spawn([APP, "send", a.sock_path("out"), "100"],
               stdout=subprocess.PIPE, stderr=send_err)


def received():
    """Ids received so far, in order, duplicates included."""
    with open(os.path.join(wdir, "recv.out"), "rb") as f:
        lines = f.read().decode().splitlines()
    return [int(x) for x in lines if x and not x.startswith("#")]


def carry_on(what, more=2000, timeout=30.0):
    """Both applications alive, and `more` new ids arriving."""
    target = max(received() + [0]) + more
    wait_for(lambda: max(received() + [0]) >= target or
             sender.poll() is not None or receiver.poll() is not None,
             timeout, "%d more messages after %s" % (more, what))
    if sender.poll() is not None:
        fail("the sender exited after %s: %r" % (what, sender.communicate()))
    check(receiver.poll() is None, "the receiver exited after %s" % what)
    step("%s: both carry on (%d received, up to id %d)" %
         (what, len(received()), max(received())))


def restart(d, what, sig=signal.SIGTERM):
    took = stop_timed(d, sig)
    time.sleep(0.2)
    d.start()
    step("%s restarted (stopped in %.2f s)" % (what, took))


restarts_a = restarts_b = 0
carry_on("start")
restart(a, "A")
restarts_a += 1
carry_on("SIGTERM of A")
restart(b, "B")
restarts_b += 1
carry_on("SIGTERM of B")
for i in range(2):
    stop_timed(a)
    stop_timed(b)
    time.sleep(0.2)
    b.start()
    a.start()
    restarts_a += 1
    restarts_b += 1
    carry_on("SIGTERM of both (%d)" % (i + 1))
restart(b, "B", signal.SIGKILL)
restarts_b += 1
carry_on("SIGKILL of B")
before_kill = max(received())
restart(a, "A", signal.SIGKILL)
restarts_a += 1
carry_on("SIGKILL of A")

sender.send_signal(signal.SIGUSR1)
try:
    out, _ = sender.communicate(timeout=patience(30))
except subprocess.TimeoutExpired:
    fail("the sender did not stop")
m = re.match(r"sent (\d+) lost (\d+) back (\d+) fd (\w+)", out.decode())
check(sender.returncode == 0 and m, "sender: exit %d, %r" %
      (sender.returncode, out))
nsent, slost, sback, sfd = int(m.group(1)), int(m.group(2)), \
    int(m.group(3)), m.group(4)
with open(os.path.join(wdir, "send.err")) as f:
    backs = [int(x) for x in re.findall(r"back at (\d+)", f.read())]
# Ids the killed A may have taken with it: sent after the receiver's last
# id before the kill, before the sender was back on the new A.
kill_window = (before_kill, backs[-1] if backs else nsent)
step("sender: %d sent, LOST %d, BACK %d; may be lost with A: ids %d-%d" %
     (nsent, slost, sback, kill_window[0], kill_window[1]))


def missing():
    got = set(received())
    return [i for i in range(nsent) if i not in got]


wait_for(lambda: all(kill_window[0] < i < kill_window[1] for i in missing()),
         60, "every id outside the SIGKILL window to arrive")
receiver.send_signal(signal.SIGUSR1)
check(receiver.wait(patience(30)) == 0, "receiver exit %r" % receiver.returncode)
recv_out.close()
with open(os.path.join(wdir, "recv.out")) as f:
    summary = [l for l in f.read().splitlines() if l.startswith("#")]
m = re.match(r"# received (\d+) lost (\d+) back (\d+) fd (\w+)",
             summary[-1] if summary else "")
check(m, "no summary from the receiver: %r" % summary)
rlost, rback, rfd = int(m.group(2)), int(m.group(3)), m.group(4)
got = received()
dups = sorted(i for i in set(got) if got.count(i) > 1) if len(got) < 200000 \
    else []
lost = missing()
step("receiver: %d messages, %d distinct, %d duplicated ids (%s), LOST %d, "
     "BACK %d" % (len(got), len(set(got)), len(dups),
                  " ".join(map(str, dups[:20])) +
                  (" ..." if len(dups) > 20 else ""), rlost, rback))
step("lost with the SIGKILLed A: %d ids %s" %
     (len(lost), " ".join(map(str, lost[:20])) +
      (" ..." if len(lost) > 20 else "")))
check(not (set(got) - set(range(nsent))), "ids never sent arrived")
check(sfd == "same" and rfd == "same", "smartsock_fd() changed")
check(slost == restarts_a and sback == restarts_a,
      "the sender saw LOST %d, BACK %d for %d restarts of A" %
      (slost, sback, restarts_a))
check(rlost == restarts_b and rback == restarts_b,
      "the receiver saw LOST %d, BACK %d for %d restarts of B" %
      (rlost, rback, restarts_b))
check(a.stop() == 0 and b.stop() == 0, "A and B stop")

# --- cat ---------------------------------------------------------------------
step("cat: smartsock-cat recv and send without -x")
port = free_port()
c = Daemon({"cin": sock(bind="127.0.0.1:%d" % port, identity=ID_IN),
            "cout": sock(connect="127.0.0.1:%d" % port, identity=ID_OUT)})
wait_peers(c, "cin", [ID_OUT])
crecv = c.cat_bg("recv", "cin", "-n", "3")
csend = c.cat_bg("send", "cout", stdin=subprocess.PIPE)
got = Lines(crecv)
for i, (what, sig) in enumerate((("SIGTERM", signal.SIGTERM),
                                 ("SIGKILL", signal.SIGKILL), (None, None))):
    csend.stdin.write(b"c%d\n" % i)
    csend.stdin.flush()
    got.expect("c%d" % i)
    if sig is None:
        break
    took = stop_timed(c, sig)
    time.sleep(0.3)
    check(crecv.poll() is None and csend.poll() is None,
          "smartsock-cat exited on the %s of its daemon" % what)
    c.start()
    wait_peers(c, "cin", [ID_OUT])
    step("%s: stopped in %.2f s, restarted" % (what, took))
csend.stdin.close()
for p, what in ((csend, "send"), (crecv, "recv")):
    try:
        p.wait(patience(20))
    except subprocess.TimeoutExpired:
        fail("smartsock-cat %s did not finish" % what)
    err = p.stderr.read().decode()
    step("smartsock-cat %s: exit %d, stderr %r" % (what, p.returncode, err))
    check(p.returncode == 0, "smartsock-cat %s exit %d" % (what, p.returncode))
    check(err.count("detached from smartsockd") == 2 and
          err.count("attached again") == 2,
          "smartsock-cat %s did not say detached and attached again twice" %
          what)
check(c.stop() == 0, "cat daemon stop")

passed("app restart")
