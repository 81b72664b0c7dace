"""Node's `ws` package (tests/integration/ws-node, installed by
scripts/install-deps with `npm ci`) as an aiomsg peer on a WebSocket bind
port: client.js sends its HELLO with its first DATA in one message, more
DATA one per message, three in one message, one cut over two messages and
one of 100000 bytes, a DATA_REQ that must be ACKed, and HEARTBEATs; the
daemon sends it DATA (one of 200000 bytes) that it must parse out of the
WebSocket messages; nothing is negotiated (ws offers permessage-deflate);
its close is answered.  Skipped (77) without node or the ws module."""
import hashlib
import os
import shutil
import subprocess

from harness import (SRC, Daemon, check, collect, finish, free_port, passed,
                     send_lines, skip, sock, spawn, step, wait_peers)

WSDIR = os.path.join(SRC, "tests", "integration", "ws-node")
SCRIPT = os.path.join(WSDIR, "client.js")
NODE = shutil.which("node") or shutil.which("nodejs")
if NODE is None:
    skip("node is not installed")
if not os.path.exists(os.path.join(WSDIR, "node_modules", "ws",
                                   "package.json")):
    skip("the ws module is not installed (npm ci --prefix %s)" % WSDIR)

port = free_port()
d = Daemon({"web": sock(bind="127.0.0.1:%d" % port, websocket="on",
                        heartbeat_timeout="10s")})
IDENT = "6e" * 16
N_OUT = 8                       # node-0 .. node-6 and 100000 x "N"
TO_NODE = ["to-node-%d" % i for i in range(5)] + ["B" * 200000, "last"]

step("node's ws client connects and exchanges HELLOs")
recv = d.cat_bg("recv", "web", "-n", str(N_OUT + 1), "--identity",
                "--timeout", "20")
node = spawn([NODE, SCRIPT, str(port), IDENT, str(N_OUT), str(len(TO_NODE))],
             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=WSDIR)
wait_peers(d, "web", [IDENT])
pe = d.ctl_json("peers", "web")["peers"]
check(len(pe) == 1 and pe[0].get("transport") == "websocket",
      "node's connection in peers: %r" % pe)

step("daemon -> node, and node -> daemon")
send_lines(d, "web", TO_NODE)
lines, err = finish(node, "node client.js", timeout=30)
print("\n".join(l[:100] for l in lines))


def shown(payload):
    b = payload.encode()
    if len(b) > 64:
        return "data big %d %s" % (len(b), hashlib.sha256(b).hexdigest())
    return "data " + payload


check(lines[0] == "open extensions= protocol=",
      "something was negotiated: %r" % lines[0])
check(lines[1] == "hello " + d.status_of("web")["identity"],
      "node's view of the daemon's HELLO: %r" % lines[1])
check([l for l in lines if l.startswith("data ")] ==
      [shown(m) for m in TO_NODE], "what node received: %r" %
      [l[:60] for l in lines])
check("ack ok" in lines, "node's DATA_REQ was not ACKed: %r" % lines)
check(lines[-1] in ("close 1000", "close 1005"),
      "node's close was not answered with a close frame: %r" % lines[-1])
got = collect(recv)
want = ["node-%d" % i for i in range(N_OUT - 1)] + ["node-alo", "N" * 100000]
check([g.split("\t", 1)[0] for g in got] == [IDENT] * len(want),
      "identities from node: %r" % [g[:40] for g in got])
check([g.split("\t", 1)[1] for g in got] == want,
      "what the daemon received from node: %r" % [g[33:60] for g in got])
c = d.status_of("web")["counters"]
check(c.get("websocket.upgrades") == 1 and c.get("websocket.errors") == 0 and
      c.get("websocket.refused") == 0, "counters: %r" % c)
check(d.stop() == 0, "daemon did not stop cleanly")
passed("ws node")
