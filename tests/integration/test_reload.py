"""Reload (SIGHUP) applies only the difference: while messages flow on an
unchanged socket, a reload removes one socket, adds one, changes another
in place (new heartbeat and an added endpoint, its connection kept) and
restarts one whose identity changed.  The unchanged socket loses nothing
and never reconnects.  A broken file changes nothing."""
import os
import signal
import subprocess
import threading
import time

from harness import (Daemon, cat_timeout, check, collect, free_port, passed,
                     patience, send_lines, sock, step, wait_peers)

ID_KEEP = "1e" * 16
ID_CHG = "c0" * 16
ID_RST = "7a" * 16
ports = {k: free_port() for k in ("keep", "chg", "chg2", "rst", "gone",
                                  "new")}
b = Daemon({"keep": sock(bind="127.0.0.1:%d" % ports["keep"]),
            "chg": sock(bind="127.0.0.1:%d" % ports["chg"]),
            "chg2": sock(bind="127.0.0.1:%d" % ports["chg2"]),
            "rst": sock(bind="127.0.0.1:%d" % ports["rst"])})


def a_sockets(reloaded):
    s = {"keep": sock(connect="127.0.0.1:%d" % ports["keep"],
                      identity=ID_KEEP),
         "chg": sock(connect="127.0.0.1:%d" % ports["chg"], identity=ID_CHG),
         "rst": sock(connect="127.0.0.1:%d" % ports["rst"], identity=ID_RST)}
    if not reloaded:
        s["gone"] = sock(bind="127.0.0.1:%d" % ports["gone"])
        return s
    s["new"] = sock(bind="127.0.0.1:%d" % ports["new"])
    s["chg"] = sock(connect=["127.0.0.1:%d" % ports["chg"],
                             "127.0.0.1:%d" % ports["chg2"]],
                    identity=ID_CHG, heartbeat_interval="700ms")
    s["rst"] = sock(connect="127.0.0.1:%d" % ports["rst"],
                    identity="7b" * 16)
    return s


a = Daemon(a_sockets(False))
wait_peers(b, "keep", [ID_KEEP])
wait_peers(b, "chg", [ID_CHG])
wait_peers(b, "rst", [ID_RST])

step("traffic on keep while A reloads")
N = 400
recv = b.cat_bg("recv", "keep", "-n", str(N), "--timeout", cat_timeout(20))
feeder = a.cat_bg("send", "keep", stdin=subprocess.PIPE)


def feed():
    for i in range(N):
        feeder.stdin.write(b"k%d\n" % i)
        feeder.stdin.flush()
        time.sleep(0.005)
    feeder.stdin.close()


t = threading.Thread(target=feed)
t.start()
time.sleep(0.5)

# Rewrite A's config and reload it.
fresh = Daemon(a_sockets(True), start=False)
with open(fresh.conf) as f:
    text = f.read().replace(fresh.runtime, a.runtime)
with open(a.conf, "w") as f:
    f.write(text)
r = a.ctl("reload")                     # the same as SIGHUP
check(r.returncode == 0 and b"added new" in r.stdout,
      "smartsockctl reload: %r" % (r,))
a.wait_log("reload: generation 2")
t.join(patience(30))
check(feeder.wait(patience(30)) == 0, "the sender on keep failed")
got = collect(recv)
check(got == ["k%d" % i for i in range(N)],
      "keep lost or reordered messages across the reload: %d of %d" %
      (len(got), N))

log = a.log_text()
step("what the reload did")
check(not any(("socket keep: peer" in l and " down" in l)
              for l in log.splitlines()), "keep reconnected:\n" + log)
check(not any(("socket chg: peer" in l and " down" in l)
              for l in log.splitlines()), "chg's connection was dropped:\n" +
      log)
check("removed gone" in log and "added new" in log and
      "restarted rst (identity changed)" in log and
      "changed chg (connect, heartbeat_interval)" in log,
      "reload summary:\n" + log)
check(not os.path.exists(a.sock_path("gone")), "gone's socket file stayed")
check(os.path.exists(a.sock_path("new")), "new's socket file is missing")
wait_peers(b, "chg2", [ID_CHG])         # the endpoint the reload added
wait_peers(b, "rst", ["7b" * 16])       # the restarted socket's identity
r = a.cat("recv", "new", "--timeout", "0.2")
check(r.returncode == 1, "new socket does not serve: %r" % (r,))

step("the changed socket still carries messages")
send_lines(a, "chg", ["after-reload"])
r = b.cat("recv", "chg", "-n", "1", "--timeout", "10")
check(r.stdout == b"after-reload\n", "chg after reload: %r" % (r,))

st = a.ctl_json("status")
check(st["daemon"]["generation"] == 2 and
      st["daemon"]["last_reload_error"] is None and
      sorted(x["name"] for x in st["sockets"]) ==
      ["chg", "keep", "new", "rst"], "status after reload: %r" % st)

step("a broken file changes nothing")
with open(a.conf, "a") as f:
    f.write("[socket broken]\nbind = not-an-endpoint\n")
a.proc.send_signal(signal.SIGHUP)
a.wait_log("reload refused")
check("generation 3" not in a.log_text(), "a broken reload was applied")
st = a.ctl_json("status")
check(st["daemon"]["generation"] == 2 and
      (a.conf + ":") in (st["daemon"]["last_reload_error"] or ""),
      "status after a refused reload: %r" % st["daemon"])
send_lines(a, "keep", ["still-here"])
r = b.cat("recv", "keep", "-n", "1", "--timeout", "10")
check(r.stdout == b"still-here\n", "keep after a refused reload: %r" % (r,))

step("a bind a reload cannot open is shown failed, the rest applies")
s2 = a_sockets(True)
s2["new"] = sock(bind=["127.0.0.1:%d" % ports["new"],
                       "127.0.0.1:%d" % ports["keep"]])    # B holds it
fresh = Daemon(s2, start=False)
with open(fresh.conf) as f:
    text = f.read().replace(fresh.runtime, a.runtime)
with open(a.conf, "w") as f:
    f.write(text)
r = a.ctl("reload")
check(r.returncode == 1, "reload with a failing bind: %r" % (r,))
st = a.ctl_json("status")
eps = [e for x in st["sockets"] if x["name"] == "new"
       for e in x["endpoints"]]
check(st["daemon"]["generation"] == 3 and
      [e["state"] for e in eps] == ["listening", "failed"] and
      "in use" in (eps[1]["last_error"] or ""),
      "status of a failed bind: %r" % eps)

check(a.stop() == 0 and b.stop() == 0, "daemons did not stop cleanly")

step("an identity change that would discard queued messages is refused")
port = free_port()                      # nobody listens: messages wait
q = Daemon({"q": sock(connect="127.0.0.1:%d" % port, identity="5a" * 16),
            "bye": sock(connect="127.0.0.1:%d" % port)})
send_lines(q, "q", ["held-1", "held-2"])
send_lines(q, "bye", ["dropped-1"])
q.write_conf({"q": sock(connect="127.0.0.1:%d" % port, identity="5b" * 16),
              "bye": sock(connect="127.0.0.1:%d" % port)})
r = q.ctl("reload")
err = r.stderr.decode()
check(r.returncode == 1 and "changing identity of socket q would discard "
      "the 2 messages it holds (2 waiting for a peer" in err,
      "reload changing a busy socket's identity: %r" % (r,))
check(q.status_of("q")["identity"] == "5a" * 16 and
      q.status_of("q")["queued_to_send"] == 2, "the refused reload changed q")
step("a removed socket: the reload names what it discards")
q.write_conf({"q": sock(connect="127.0.0.1:%d" % port, identity="5a" * 16)})
r = q.ctl("reload")
check(r.returncode == 0 and
      b"removed bye (1 message it held discarded)" in r.stdout,
      "reload removing a socket with a queue: %r" % (r,))
step("doubtful settings are warned about with what they do")
q.write_conf({"q": sock(connect="127.0.0.1:%d" % port, identity="5a" * 16,
                        heartbeat_interval="1ms", heartbeat_timeout="3s",
                        peer_buffer="2G")},
             daemon={"max_memory": "1G"})
r = q.ctl("reload")
check(r.returncode == 0, "reload with doubtful settings: %r" % (r,))
q.wait_log("heartbeat_interval 1ms: 1000 heartbeats a second")
q.wait_log("peer_buffer 2G can never fill: the daemon's max_memory (1G)")
check(q.stop() == 0, "daemon (busy identity) did not stop cleanly")
passed("reload")
