"""What an operator meets in the first hour, each as it should be:
- smartsockd -c RELATIVE without -f: it detaches (cwd /) and still reloads
  the same file; the status shows its absolute path; before detaching it
  says on stderr when syslog cannot be reached;
- smartsockctl -c and smartsock-cat -c reach the daemon while the file has
  an error elsewhere (reload reports that error, the old config serves);
- options anywhere: smartsockctl status --json, smartsock-cat send --to ID
  SOCKET MSG;
- a connect endpoint logs each change of its failure's cause, so the last
  line about it is its current cause;
- smartsock-cat without -c or -S says which runtime directory it searched
  and how to name another;
- every log line carries its severity: timestamped in a file, sd-daemon
  <N> prefixes when stderr is the journal ($JOURNAL_STREAM), and log_level
  (reloadable) keeps less severe lines out;
- "1 socket", not "1 sockets"."""
import atexit
import json
import os
import re
import signal
import socket
import subprocess
import time

from harness import (CAT, CTL, SMARTSOCKD, Daemon, DEADLINE, check, fail,
                     free_port, passed, sock, spawn, step, tmpdir, wait_for,
                     wait_peers)

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} "
                     r"smartsockd\[\d+\]: (fatal|error|warning|info|debug): ")


def run(args, **kw):
    kw.setdefault("timeout", 30)
    return subprocess.run(args, capture_output=True, **kw)


def text(r):
    return (r.stdout + r.stderr).decode(errors="replace")


# --- a relative -c, without -f ---------------------------------------------
step("smartsockd -c rel.conf without -f: detaches, reloads the same file")
top = tmpdir()
with open(os.path.join(top, "rel.conf"), "w") as f:
    f.write("[daemon]\nruntime_dir = run\n\n[socket one]\nbind = "
            "127.0.0.1:%d\n" % free_port())
env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
r = run([SMARTSOCKD, "-c", "rel.conf"], cwd=top, env=env)
check(r.returncode == 0, "smartsockd without -f: %r" % (r,))
rt = os.path.join(top, "run")
st = json.loads(run([CTL, "-S", rt, "--json", "status"]).stdout)
pid = st["daemon"]["pid"]
atexit.register(lambda: os.kill(pid, signal.SIGKILL)
                if os.path.exists("/proc/%d" % pid) else None)
check(st["daemon"]["config"] == os.path.join(os.path.realpath(top),
                                             "rel.conf") or
      st["daemon"]["config"] == os.path.join(top, "rel.conf"),
      "the config path in status is not absolute: %r" % st["daemon"])
# What syslog(3) would do with the log: smartsockd warned before detaching
# exactly when nothing listens on /dev/log.
probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    probe.connect("/dev/log")
    syslog_up = True
except OSError:
    syslog_up = False
probe.close()
warned = "syslog cannot be reached (/dev/log" in r.stderr.decode()
check(warned != syslog_up, "syslog %s, the warning %s: %r" %
      ("reachable" if syslog_up else "unreachable",
       "given" if warned else "not given", r.stderr))
with open(os.path.join(top, "rel.conf"), "a") as f:
    f.write("\n[socket two]\nbind = 127.0.0.1:%d\n" % free_port())
r = run([CTL, "-S", rt, "reload"])
check(r.returncode == 0 and b"added two" in r.stdout,
      "reload of a daemon started with a relative -c: %r" % (r,))
os.kill(pid, signal.SIGHUP)
wait_for(lambda: json.loads(run([CTL, "-S", rt, "--json", "status"]).stdout)
         ["daemon"]["generation"] == 3, DEADLINE, "a reload on SIGHUP")
check(json.loads(run([CTL, "-S", rt, "--json", "status"]).stdout)
      ["daemon"]["last_reload_error"] is None, "SIGHUP reload failed")
os.kill(pid, signal.SIGTERM)
wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
         open("/proc/%d/stat" % pid).read().split()[2] == "Z", DEADLINE,
         "the detached daemon to stop")

# --- -c with an error elsewhere in the file; options anywhere ---------------
step("smartsockctl -c and smartsock-cat -c with an error in the file")
pa = free_port()
d = Daemon({"in": sock(bind="127.0.0.1:%d" % pa, identity="a1" * 16),
            "out": sock(connect="127.0.0.1:%d" % pa, identity="b1" * 16)})
wait_peers(d, "in", ["b1" * 16])
with open(d.conf, "a") as f:
    f.write("\n[socket broken]\nbind = nowhere\n")
nlines = sum(1 for _ in open(d.conf))
r = run([CTL, "status", "-c", d.conf, "--json"])
check(r.returncode == 0 and json.loads(r.stdout)["ok"],
      "smartsockctl status -c FILE --json, FILE with an error: %r" % (r,))
recv = spawn([CAT, "recv", "in", "-n", "1", "--identity", "-c", d.conf,
              "--timeout", "30"], stdout=subprocess.PIPE,
             stderr=subprocess.PIPE)
wait_for(lambda: re.search(r"socket in: application \d+ .*attached",
                           d.log_text()), DEADLINE, "the receiver attached")
r = run([CAT, "send", "--to", "a1" * 16, "-c", d.conf, "out", "hello"])
check(r.returncode == 0, "smartsock-cat send --to ID -c FILE SOCKET MSG: "
      "%r" % (r,))
out, err = recv.communicate(timeout=DEADLINE)
check(recv.returncode == 0 and out == b"b1" * 16 + b"\thello\n",
      "the receiver got %r %r" % (out, err))
r = run([CTL, "reload", "-c", d.conf])
check(r.returncode == 1 and ("%s:%d:" % (d.conf, nlines)).encode() in
      r.stderr, "reload of the broken file: %r" % (r,))
r = run([CAT, "recv", "--to", "a1" * 16, "-S", d.runtime, "in"])
check(r.returncode == 2 and b"--to is not an option of recv" in r.stderr,
      "recv --to: %r" % (r,))

# --- where smartsock-cat looked ----------------------------------------------
step("smartsock-cat without -c or -S names the directory it searched")
noenv = {k: v for k, v in os.environ.items()
         if k != "SMARTSOCK_RUNTIME_DIR"}
r = run([CAT, "send", "no-such-socket", "x"], env=noenv)
err = r.stderr.decode()
check(r.returncode == 1 and "no socket no-such-socket in " in err and
      "(the default runtime directory)" in err and "-S DIR" in err and
      "-c FILE" in err, "smartsock-cat with no such socket: %r" % err)
r = run([CAT, "send", "no-such-socket", "x"],
        env=dict(noenv, SMARTSOCK_RUNTIME_DIR=d.runtime))
err = r.stderr.decode()
check(r.returncode == 1 and "%s/no-such-socket.sock" % d.runtime in err and
      "no socket no-such-socket in %s ($SMARTSOCK_RUNTIME_DIR)" % d.runtime
      in err, "smartsock-cat with $SMARTSOCK_RUNTIME_DIR: %r" % err)

# --- severities in a file ----------------------------------------------------
step("every line of a log file has a timestamp and a severity")
bad = [l for l in d.log_text().splitlines() if not STAMPED.match(l)]
check(not bad, "log lines without timestamp and severity: %r" % bad[:5])
check(re.search(r" error: reload refused, the running configuration stays:",
                d.log_text()), "the refused reload is not an error:\n" +
      d.log_text())
d.stop()

# --- a connector's causes ----------------------------------------------------
step("a connect endpoint logs each change of its failure's cause")
port = free_port()
c = Daemon({"c": sock(connect="127.0.0.1:%d" % port, reconnect_delay="50ms",
                      reconnect_max_delay="200ms")}, verbose=False)
warn = "warning: socket c: connect to 127.0.0.1:%d failed" % port
c.wait_log(warn, DEADLINE)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
ls.settimeout(DEADLINE)
for _ in range(3):              # accepted, and closed before any HELLO
    conn, _ = ls.accept()
    conn.close()
ls.close()


def causes():
    """The cause of each warning about the connector, in order."""
    return [re.sub(r"^( \(\d+ in a row\), now)?: ", "",
                   l.split(warn, 1)[1]).split("; retrying")[0]
            for l in c.log_text().splitlines() if warn in l]


wait_for(lambda: len(causes()) >= 3 and "refused" in causes()[-1], DEADLINE,
         "the connector's causes logged")
got = causes()
check("refused" in got[0] and
      any("closed" in x or "reset" in x for x in got[1:-1]),
      "the causes logged: %r" % got)
check(all(a != b for a, b in zip(got, got[1:])),
      "the same cause logged twice in a row: %r" % got)
c.stop()

# --- the journal -------------------------------------------------------------
step("stderr is the journal: <N> prefixes; log_level is reloaded")
j = Daemon({"j": sock(bind="127.0.0.1:%d" % free_port())}, start=False,
           verbose=False)
# The journal's stream is recognised by its device and inode.
open(j.logpath, "ab").close()
stj = os.stat(j.logpath)
j.env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (stj.st_dev, stj.st_ino))
j.start()
lines = j.log_text().splitlines()
check(lines and all(re.match(r"^<[2-7]>\S", l) for l in lines),
      "lines without an sd-daemon prefix: %r" %
      [l for l in lines if not re.match(r"^<[2-7]>", l)][:5])
check(any(l.startswith("<6>smartsockd ") and " running with " in l
          for l in lines), "no <6> running line: %r" % lines)
j.write_conf(j.sockets, daemon={"log_level": "warning"})
r = run([CTL, "-S", j.runtime, "reload"])
check(r.returncode == 0, "reload to log_level warning: %r" % (r,))
mark = len(j.log_text().splitlines())
r = run([CAT, "-S", j.runtime, "send", "j", "x"])
check(r.returncode == 0, "send: %r" % (r,))
j.write_conf(j.sockets, daemon={"log_level": "bogus"})
r = run([CTL, "-S", j.runtime, "reload"])
check(r.returncode == 1, "a bad log_level was not refused: %r" % (r,))
j.wait_log("<3>reload refused", DEADLINE)
after = j.log_text().splitlines()[mark:]
check(not any(l.startswith("<6>") for l in after),
      "info lines at log_level warning: %r" % after)
j.write_conf(j.sockets)
r = run([CTL, "-S", j.runtime, "reload"])
check(r.returncode == 0, "reload back to info: %r" % (r,))
j.wait_log("<6>reload: generation 3", DEADLINE)
check(re.search(r"running with .*\(1 socket, ", j.log_text()),
      "'1 socket' in the running line:\n" + j.log_text())
j.stop()
r = run([SMARTSOCKD, "-t", "-c", j.conf])
check(r.returncode == 0 and b"(1 socket)" in r.stdout, "-t: %r" % (r,))

# --- a sender waiting on its input, when the daemon stops -------------------
step("smartsock-cat send waiting on stdin ends its stream when the daemon "
     "stops")
w = Daemon({"w": sock(bind="127.0.0.1:%d" % free_port())})
sender = spawn([CAT, "-S", w.runtime, "send", "w"], stdin=subprocess.PIPE,
               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
sender.stdin.write(b"one\n")
sender.stdin.flush()
wait_for(lambda: re.search(r"socket w: application \d+ .*attached",
                           w.log_text()), DEADLINE, "the sender attached")
w.stop()
check("not finished" not in w.log_text(), "the daemon waited out its grace "
      "for a sender idle on stdin:\n" + w.log_text())
sender.stdin.close()
try:
    rc = sender.wait(DEADLINE)
except subprocess.TimeoutExpired:
    rc = None
check(rc == 0, "the sender, its input ended with no daemon to reach: exit "
      "%r, %r" % (rc, sender.stderr.read() if rc is not None else ""))

passed("test_operator")
