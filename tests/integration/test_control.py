"""The control socket and smartsockctl: status and peers after real
traffic between two daemons (counters equal what was sent), the JSON and
its documented fields, refusals (unknown socket, bad requests, wrong
version, over-long lines, idle clients) with the daemon serving on, exit
codes (0 ok, 1 refused, 2 unreachable, 3 usage), control_mode and
control_group, a second daemon refused by a live control.sock and a stale
one replaced after SIGKILL, and a refused reload visible in status."""
import grp
import json
import os
import re
import socket
import stat
import subprocess
import time

from harness import (CTL, SRC, Daemon, check, fail, free_port,
                     passed, patience, send_lines, sock, step, tmpdir,
                     wait_for, wait_peers)

ID_A = "a0" * 16        # A's jobs (bind)
ID_B = "b0" * 16        # B's jobs (connect)
ID_B_ALO = "b1" * 16
N = 25


def counters_named_in_stats_h():
    """Every dotted counter name, read from the one list in stats.h."""
    with open(os.path.join(SRC, "daemon", "stats.h")) as f:
        text = f.read()
    names = re.findall(r'X\(\w+,\s*"([a-z_.]+)"', text)
    check(len(names) > 10, "cannot read the counters from stats.h")
    return names


def socket_of(status, name):
    for s in status["sockets"]:
        if s["name"] == name:
            return s
    fail("no socket %s in status: %r" % (name, status))


def counter(d, name, key):
    return socket_of(d.ctl_json("status"), name)["counters"][key]


def raw_request(path, data, shut=False, timeout=15.0):
    """Send bytes to control.sock; everything it answers until it closes,
    and how long that took (timeout: stretched by patience())."""
    timeout = patience(timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    t0 = time.monotonic()
    out = b""
    try:
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        fail("control.sock kept a client open past %.0f s (sent %r)" %
             (timeout, data[:60]))
    finally:
        s.close()
    return out, time.monotonic() - t0


def refusal(out, what):
    """The one JSON line of a refusal; returns its reason."""
    check(out.endswith(b"\n") and out.count(b"\n") == 1,
          "%s: not one line: %r" % (what, out))
    doc = json.loads(out.decode())
    check(doc.get("version") == 1 and doc.get("ok") is False and
          isinstance(doc.get("error"), str) and doc["error"],
          "%s: not a refusal: %r" % (what, doc))
    return doc["error"]


def still_serving(d, what):
    r = d.ctl("status")
    check(r.returncode == 0 and b"socket jobs" in r.stdout,
          "after %s the daemon does not answer status: %r" % (what, r))


# --- two daemons with traffic -------------------------------------------------
port = free_port()
dead = free_port()
while dead == port:
    dead = free_port()
alo_port = free_port()
while alo_port in (port, dead):
    alo_port = free_port()
user_group = grp.getgrgid(os.getgid()).gr_name
t_started = time.time()         # before either daemon started
a = Daemon({"jobs": sock(bind="127.0.0.1:%d" % port, identity=ID_A),
            "alo": sock(bind="127.0.0.1:%d" % alo_port,
                        delivery="at-least-once")},
           daemon={"control_mode": "0600", "control_group": user_group})
b = Daemon({"jobs": sock(connect="127.0.0.1:%d" % port, identity=ID_B),
            "alo": sock(connect="127.0.0.1:%d" % alo_port,
                        identity=ID_B_ALO, delivery="at-least-once",
                        resend_timeout="1m"),
            "nowhere": sock(connect="127.0.0.1:%d" % dead)})
wait_peers(a, "jobs", [ID_B])
wait_peers(a, "alo", [ID_B_ALO])

step("control_mode and control_group on control.sock")
st = os.stat(os.path.join(a.runtime, "control.sock"))
check(stat.S_ISSOCK(st.st_mode), "control.sock is not a socket")
check(stat.S_IMODE(st.st_mode) == 0o600, "control_mode 0600: got %o" %
      stat.S_IMODE(st.st_mode))
check(st.st_gid == os.getgid(), "control_group: gid %d" % st.st_gid)
st = os.stat(os.path.join(b.runtime, "control.sock"))
check(stat.S_IMODE(st.st_mode) == 0o660, "default mode: got %o" %
      stat.S_IMODE(st.st_mode))

step("%d messages B -> A, then status" % N)
payloads = ["job-%02d" % i for i in range(N)]
send_lines(b, "jobs", payloads)
r = a.cat("recv", "jobs", "-n", str(N), "--timeout", "20")
check(r.returncode == 0 and r.stdout.decode().splitlines() == payloads,
      "recv on A: %r" % (r,))
nbytes = sum(len(p) for p in payloads)
wait_for(lambda: counter(b, "jobs", "messages.out") == N, 10,
         "B's messages.out to reach %d" % N)

sa = a.ctl_json("status")
sb = b.ctl_json("status")
for doc, d in ((sa, a), (sb, b)):
    check(doc["version"] == 1 and doc["ok"] is True, "envelope: %r" % doc)
    dm = doc["daemon"]
    for key in ("version", "pid", "uptime_s", "started", "config",
                "generation", "last_reload_error"):
        check(key in dm, "daemon.%s missing: %r" % (key, dm))
    check(dm["pid"] == d.proc.pid, "pid %r, not %d" % (dm["pid"], d.proc.pid))
    check(dm["config"] == d.conf, "config %r" % dm["config"])
    check(dm["generation"] == 1 and dm["last_reload_error"] is None,
          "generation / last_reload_error: %r" % dm)
    # Seconds, rounded either way.
    check(t_started - 1 <= dm["started"] <= time.time() + 1 and
          0 <= dm["uptime_s"] <= time.time() - t_started + 1,
          "started / uptime_s: %r (the test started the daemons at %d)" %
          (dm, t_started))
    check(isinstance(dm["version"], str) and dm["version"],
          "version: %r" % dm)

names = counters_named_in_stats_h()
for s in sa["sockets"] + sb["sockets"]:
    for key in ("name", "send_mode", "delivery", "overflow", "identity",
                "endpoints", "peers", "applications", "queued_to_send",
                "awaiting_ack", "waiting_for_app", "counters"):
        check(key in s, "socket %s: %s missing" % (s.get("name"), key))
    check(sorted(s["counters"]) == sorted(names),
          "socket %s: counters %r, stats.h has %r" %
          (s["name"], sorted(s["counters"]), sorted(names)))
    for ep in s["endpoints"]:
        check(sorted(ep) == sorted(["kind", "name", "state", "ever_connected",
                                    "retry_in_ms", "failures",
                                    "last_error"]),
              "endpoint fields: %r" % ep)

ja, jb = socket_of(sa, "jobs"), socket_of(sb, "jobs")
check(ja["identity"] == ID_A and jb["identity"] == ID_B, "identities")
check(ja["send_mode"] == "roundrobin" and ja["delivery"] == "at-most-once"
      and ja["overflow"] == "block", "modes: %r" % ja)
check(ja["counters"]["messages.in"] == N and
      ja["counters"]["bytes.in"] == nbytes,
      "A's counters: %r" % ja["counters"])
check(jb["counters"]["messages.out"] == N and
      jb["counters"]["bytes.out"] == nbytes,
      "B's counters: %r" % jb["counters"])
check(ja["counters"]["connections.accepted"] >= 1 and
      jb["counters"]["connections.connected"] >= 1, "connection counters")
check(ja["counters"]["apps.attached"] >= 1, "apps.attached on A")
check(ja["peers"] == 1 and jb["peers"] == 1, "peers: %d %d" %
      (ja["peers"], jb["peers"]))
check(ja["endpoints"] == [{"kind": "bind", "name": "127.0.0.1:%d" % port,
                           "state": "listening", "ever_connected": False,
                           "retry_in_ms": 0, "failures": 0,
                           "last_error": None}],
      "A's endpoints: %r" % ja["endpoints"])
ep = jb["endpoints"][0]
check(ep["kind"] == "connect" and ep["name"] == "127.0.0.1:%d" % port and
      ep["state"] == "connected" and ep["ever_connected"] is True,
      "B's endpoint: %r" % ep)

step("queues: waiting for an application, to send, awaiting ACK")
send_lines(b, "jobs", ["wait-%d" % i for i in range(3)])
wait_for(lambda: socket_of(a.ctl_json("status"), "jobs")
         ["waiting_for_app"] == 3, 10, "A's waiting_for_app to be 3")
send_lines(b, "nowhere", ["q1", "q2", "q3", "q4"])
nw = socket_of(b.ctl_json("status"), "nowhere")
check(nw["queued_to_send"] == 4, "B's queued_to_send: %r" % nw)
ep = nw["endpoints"][0]
check(ep["state"] in ("backing off", "connecting") and
      ep["ever_connected"] is False and ep["last_error"],
      "a connect endpoint nobody answers: %r" % ep)
wait_for(lambda: socket_of(b.ctl_json("status"), "nowhere")["endpoints"][0]
         ["failures"] >= 1, 10, "failures on a dead endpoint")
send_lines(b, "alo", ["ack-me-%d" % i for i in range(5)])
# Nobody takes them on A, so none is acknowledged.
wait_for(lambda: socket_of(b.ctl_json("status"), "alo")["awaiting_ack"] == 5,
         10, "B's awaiting_ack to be 5")

step("every counter and field is documented in smartsockctl(8)")
with open(os.path.join(SRC, "man", "smartsockctl.8")) as f:
    man = f.read()
documented = set(re.findall(r"^\.It Li (\S+)", man, re.M))
documented |= set(re.findall(r"^\.It Li \S+ , (\S+)", man, re.M))
documented |= set(re.findall(r"^\.It Li \S+ , \S+ , (\S+)", man, re.M))
fields = set(names) | {"version", "ok", "error", "daemon", "sockets"}
for doc in (sa, socket_of(sa, "jobs"), sa["daemon"],
            socket_of(sa, "jobs")["endpoints"][0]):
    fields |= set(doc)
fields |= set(a.ctl_json("peers", "jobs")["peers"][0])
missing = sorted(fields - documented)
check(not missing, "not in man/smartsockctl.8: %r" % missing)

step("human status")
r = b.ctl()
out = r.stdout.decode()
check(r.returncode == 0 and r.stderr == b"", "status: %r" % (r,))
for want in ("smartsockd ", "pid %d" % b.proc.pid, "socket jobs:",
             "socket nowhere:", "127.0.0.1:%d" % port, "connected",
             "never connected", "4 to send", "5 awaiting ACK",
             "messages.out", ID_B):
    check(want in out, "status lacks %r:\n%s" % (want, out))
for line in out.splitlines():
    check(len(line) <= 80, "status line over 80 columns: %r" % line)
r = a.ctl("status")
check(r.returncode == 0 and "3 waiting for an application" in r.stdout.decode(),
      "A's status: %r" % r.stdout)

step("--json prints one line of JSON, as the daemon sent it")
r = a.ctl("--json")
check(r.returncode == 0 and r.stdout.endswith(b"\n") and
      r.stdout.count(b"\n") == 1, "--json: %r" % r.stdout[:200])
check(json.loads(r.stdout.decode())["sockets"][0]["name"] == "jobs",
      "--json defaults to status")

step("peers")
pa = a.ctl_json("peers", "jobs")
pb = b.ctl_json("peers", "jobs")
check(pa["ok"] is True and pa["socket"] == "jobs" and len(pa["peers"]) == 1,
      "A's peers: %r" % pa)
p = pa["peers"][0]
for key in ("identity", "address", "direction", "state", "transport", "since",
            "last_received_s_ago", "last_sent_s_ago", "queued_bytes",
            "messages_in", "messages_out", "bytes_in", "bytes_out", "drops",
            "awaiting_replies"):
    check(key in p, "peer field %s missing: %r" % (key, p))
check(p["identity"] == ID_B and p["direction"] == "accepted" and
      p["state"] == "active" and p["address"].startswith("127.0.0.1:"),
      "A's peer: %r" % p)
check(p["messages_in"] == N + 3 and p["bytes_in"] == nbytes + 3 * 6,
      "A's peer counts: %r" % p)
# Heartbeats every 500 ms both ways: a minute of silence is a dead peer.
check(t_started - 1 <= p["since"] <= time.time() + 1 and
      p["last_received_s_ago"] < 60 and p["last_sent_s_ago"] < 60,
      "A's peer times: %r" % p)
q = pb["peers"][0]
check(q["identity"] == ID_A and q["direction"] == "connected" and
      q["address"] == "127.0.0.1:%d" % port and q["messages_out"] == N + 3
      and q["bytes_out"] == nbytes + 18 and q["queued_bytes"] == 0 and
      q["drops"] == 0, "B's peer: %r" % q)
# Each side sees the other's port.
check(p["address"] != "127.0.0.1:%d" % port, "accepted address: %r" % p)
r = a.ctl("peers", "jobs")
out = r.stdout.decode()
check(r.returncode == 0 and ID_B in out and p["address"] in out and
      " in " in out, "human peers on A: %r" % (r,))
for line in out.splitlines():
    check(len(line) <= 80, "peers line over 80 columns: %r" % line)
r = b.ctl("peers", "nowhere")
check(r.returncode == 0 and b"0 connections" in r.stdout,
      "peers of a socket with none: %r" % (r,))

step("refusals: exit 1 with the daemon's reason")
r = a.ctl("peers", "nope")
check(r.returncode == 1 and b"no socket named 'nope'" in r.stderr,
      "peers of an unknown socket: %r" % (r,))
doc = a.ctl_json("peers", "nope")
check(doc == {"version": 1, "ok": False, "error": "no socket named 'nope'"},
      "--json refusal: %r" % doc)

step("usage errors: exit 3")
for args in (["peers"], ["peers", "a", "b"], ["fly"], ["status", "x"],
             ["--bogus"], ["peers", "a b"]):
    r = a.ctl(*args)
    check(r.returncode == 3 and r.stderr, "%r: %r" % (args, r))
r = subprocess.run([CTL, "--help"], capture_output=True, timeout=10)
check(r.returncode == 0 and b"peers SOCKET" in r.stdout, "--help: %r" % (r,))

step("-c FILE and SMARTSOCK_RUNTIME_DIR find the daemon too")
r = subprocess.run([CTL, "-c", a.conf, "peers", "jobs"], capture_output=True,
                   timeout=30)
check(r.returncode == 0 and ID_B.encode() in r.stdout, "-c: %r" % (r,))
env = dict(os.environ, SMARTSOCK_RUNTIME_DIR=b.runtime)
r = subprocess.run([CTL, "--json"], capture_output=True, timeout=30, env=env)
check(r.returncode == 0 and json.loads(r.stdout.decode())["daemon"]["pid"]
      == b.proc.pid, "SMARTSOCK_RUNTIME_DIR: %r" % (r,))

step("no daemon: exit 2, naming the path and why")
nowhere = os.path.join(tmpdir(), "none")
r = subprocess.run([CTL, "-S", nowhere, "status"], capture_output=True,
                   timeout=30)
err = r.stderr.decode()
check(r.returncode == 2 and os.path.join(nowhere, "control.sock") in err and
      "No such file or directory" in err, "no daemon: %r" % (r,))
r = subprocess.run([CTL, "-c", nowhere + ".conf"], capture_output=True,
                   timeout=30)
check(r.returncode == 2 and b"cannot open" in r.stderr,
      "-c with a missing file: %r" % (r,))

step("hostile clients on control.sock; the daemon keeps serving")
path = os.path.join(a.runtime, "control.sock")
why = refusal(raw_request(path, b"GET / HTTP/1.0\r\n\r\n")[0], "garbage")
check("not a control request" in why, "garbage: %r" % why)
still_serving(a, "garbage")
why = refusal(raw_request(path, b"smartsock-control 2 status\n")[0],
              "version 2")
check("version 2 is not supported" in why and "version 1" in why,
      "wrong version: %r" % why)
why = refusal(raw_request(path, b"smartsock-control 1 launch\n")[0],
              "unknown command")
check("unknown command 'launch': expected status, peers or reload" in why,
      "unknown command: %r" % why)
refusal(raw_request(path, b"smartsock-control 1 status \x00\xff\n")[0],
        "binary")
out, _ = raw_request(path, b"x" * 100000)
check("longer than 4096 bytes" in refusal(out, "over-long line"),
      "over-long line: %r" % out[:200])
still_serving(a, "an over-long line")
out, _ = raw_request(path, b"smartsock-control 1 sta", shut=True)
check("no newline" in refusal(out, "half a line, then EOF"),
      "incomplete request: %r" % out)
idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
idle.connect(path)
still_serving(a, "an idle client connecting")
# Refused by the daemon's deadline for a request (its reason says so), not
# left open until ours.
out, took = raw_request(path, b"smartsock-control 1 st", timeout=30)
check("no complete request within" in refusal(out, "idle client"),
      "an idle client: %r after %.1f s" % (out, took))
idle.close()
flood = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(40)]
for s in flood:
    s.connect(path)
r = a.ctl("status")
check(r.returncode == 1 and b"too many control clients" in r.stderr,
      "status with 40 idle clients: %r" % (r,))
for s in flood:
    s.close()
wait_for(lambda: a.ctl("status").returncode == 0, 15,
         "the daemon to serve again after 40 idle clients")
check(a.proc.poll() is None, "the daemon died on hostile clients")

step("reload refused: exit 1 with the reason, kept in status")
with open(a.conf) as f:
    good_conf = f.read()
with open(a.conf, "a") as f:
    f.write("\n[socket broken]\nbind = nonsense\n")
r = a.ctl("reload")
check(r.returncode == 1 and b"reload refused: " in r.stderr,
      "reload of a broken file: %r" % (r,))
doc = a.ctl_json("reload")
check(doc["ok"] is False and doc["error"], "--json reload refused: %r" % doc)
st = a.ctl_json("status")
check(st["daemon"]["last_reload_error"] == doc["error"] and
      st["daemon"]["generation"] == 1,
      "status after a refused reload: %r" % st["daemon"])
check("reload error" in a.ctl("status").stdout.decode(),
      "human status does not show the reload error")
with open(a.conf, "w") as f:
    f.write(good_conf)
still_serving(a, "a refused reload")

step("a second daemon on the same runtime dir: refused, control.sock live")
r = a.start_second("other")
err = r.stderr.decode()
check(r.returncode == 1 and "another daemon is serving" in err and
      "control.sock" in err, "second daemon: %r" % (r,))
check(a.ctl_json("status")["daemon"]["pid"] == a.proc.pid,
      "the first daemon lost its control socket")

step("a stale control.sock after SIGKILL: exit 2, then replaced")
a.kill()
check(os.path.exists(path), "no stale control.sock after SIGKILL")
r = a.ctl("status")
check(r.returncode == 2 and path.encode() in r.stderr and
      b"Connection refused" in r.stderr, "stale socket: %r" % (r,))
a.start()
check("control: replacing stale %s" % path in a.log_text(),
      "stale control.sock not replaced:\n" + a.log_text())
check(a.ctl_json("status")["daemon"]["pid"] == a.proc.pid,
      "the restarted daemon does not answer")

step("SIGTERM removes control.sock")
check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")
check(not os.path.exists(path), "control.sock left after SIGTERM")
step("done")
passed("control")
