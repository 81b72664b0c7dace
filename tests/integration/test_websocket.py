"""WebSocket on smartsockd's bind ports (`websocket = on`), driven by the
standard-library client in wsclient.py: a WebSocket peer and a raw aiomsg
peer on one port at once (publish reaches both; peers report their
transport); the aiomsg stream cut and merged at odd places in both
directions (several aiomsg frames in one WebSocket message, one frame over
five messages, fragmented messages with pings between the fragments, frames
cut across TCP segments, the largest message in one frame); at-least-once
both ways; malformed and refused upgrades answered 400 / 426 / 403 and
closed, a request never finished closed in time; the Origin allow list;
protocol errors after the upgrade closed with 1003 / 1002 / 1007 / 1009; a close
from the client answered; first bytes that are neither 0x00 nor 'G'; 'G' on
a socket without websocket; wss with TLS; liveness judged by aiomsg
heartbeats only; the config rule (websocket needs a bind); the counters;
and every socket still serving at the end."""
import base64
import os
import re
import socket
import ssl
import struct
import time

import tlscerts
from harness import (ACK, DATA, DATA_REQ, HEARTBEAT, HELLO, Daemon, RawPeer,
                     check, check_conf, collect, fail, frame, free_port,
                     hello, passed, patience, sock, step, tmpdir, wait_peers)
from wsclient import (BINARY, CLOSE, CONT, PING, PONG, TEXT, WSConn,
                      accept_of, encode, new_key, request)

MAX = 65536                     # [daemon] max_message_size = 64K
HB_TIMEOUT = 3.0                # FAST heartbeat_timeout
ORIGINS = "https://a.example, http://127.0.0.1:8080"

C = tlscerts.make()
names = ("pub", "in", "alo", "orig", "bad", "err", "hb", "plain", "wss")
P = {n: free_port() for n in names}


def addr(port):
    return "127.0.0.1:%d" % port


def ws_sock(name, **k):
    """A websocket socket; a long heartbeat_timeout unless given (steps
    take their time; the sockets that test timing set it short)."""
    k.setdefault("heartbeat_timeout", "10s")
    return sock(bind=addr(P[name]), websocket="on", **k)


d = Daemon({
    "pub": ws_sock("pub", send_mode="publish"),
    "in": ws_sock("in"),
    "alo": ws_sock("alo", delivery="at-least-once"),
    "orig": ws_sock("orig", websocket_origins=ORIGINS),
    "bad": ws_sock("bad", heartbeat_timeout="3s"),
    "err": ws_sock("err"),
    "hb": ws_sock("hb", heartbeat_timeout="3s"),
    "plain": sock(bind=addr(P["plain"])),
    "wss": ws_sock("wss", tls="on", tls_cert=C.server,
                   tls_key=C.server_key),
}, daemon={"max_message_size": "64K"})

_next_id = [0x10]


def new_id():
    _next_id[0] += 1
    return bytes((_next_id[0],)) * 16


UPGRADES = dict.fromkeys(names, 0)     # upgrades made, per socket


def upgraded(name, origin=None, cuts=(), **kw):
    """A WebSocket client past the upgrade."""
    w = WSConn(P[name], **kw)
    w.upgrade(origin=origin, cuts=cuts)
    UPGRADES[name] += 1
    return w


def ws_peer(name, ident, origin=None, **kw):
    """A WebSocket client past the upgrade and the aiomsg HELLO exchange;
    the daemon's HELLO must name the socket's identity."""
    w = upgraded(name, origin, **kw)
    w.send(hello(ident))
    f = w.read_frame()
    check(f is not None and f[0] == HELLO and len(f[1]) == 17 and
          f[1][0] == 1 and f[1][1:].hex() == d.status_of(name)["identity"],
          "%s: the daemon's HELLO over WebSocket: %r" % (name, f))
    return w


def raw_peer(name, ident):
    r = RawPeer(P[name])
    r.send(hello(ident))
    f = r.read_frame()
    check(f is not None and f[0] == HELLO, "%s: no HELLO for a raw peer: %r"
          % (name, f))
    return r


def data(payload):
    return frame(bytes((DATA,)) + payload)


def frames_for(w, seconds):
    """aiomsg frames arriving within seconds: (frames, eof)."""
    out, end = [], time.monotonic() + seconds
    try:
        while True:
            f = w.read_frame(max(0.001, end - time.monotonic()))
            if f is None:
                return out, True
            out.append(f)
    except socket.timeout:
        return out, False


def datas(w, n, timeout=10.0):
    """The payloads of the next n DATA frames (HEARTBEATs skipped)."""
    got = []
    end = time.monotonic() + patience(timeout)
    while len(got) < n:
        f = w.read_until(DATA, max(0.01, end - time.monotonic()))
        if f is None:
            break
        got.append(f[1])
    return got


def counters(name):
    c = d.status_of(name)["counters"]
    for k in ("websocket.upgrades", "websocket.refused", "websocket.errors"):
        if k not in c:
            fail("socket %s has no counter %s: %r" % (name, k, c))
    return (c["websocket.upgrades"], c["websocket.refused"],
            c["websocket.errors"])


def transports(name):
    return {p["identity"]: p.get("transport")
            for p in d.ctl_json("peers", name)["peers"]}


def still_serves(name, tag, ssl_context=None):
    """A raw aiomsg peer and a WebSocket peer both deliver on socket name."""
    recv = d.cat_bg("recv", name, "-n", "2", "--timeout", "10")
    if ssl_context is None:
        r = raw_peer(name, new_id())
        r.send(data(b"raw-" + tag))
    else:
        r = WSConn(P[name], ssl_context=ssl_context)
        r.send_raw(hello(new_id()) + data(b"raw-" + tag))
    w = ws_peer(name, new_id(), ssl_context=ssl_context)
    w.send(data(b"ws-" + tag))
    got = collect(recv)
    check(sorted(got) == sorted(["raw-" + tag.decode(), "ws-" + tag.decode()]),
          "socket %s no longer serves both kinds: %r" % (name, got))
    r.close()
    w.close()


# --- the config rule ---------------------------------------------------------
step("websocket = on needs a bind endpoint")
cdir = tmpdir()
bad_conf = os.path.join(cdir, "connect-only.conf")
with open(bad_conf, "w") as f:
    f.write("[daemon]\nruntime_dir = %s\n\n[socket c]\nconnect = "
            "127.0.0.1:%d\nwebsocket = on\n" % (cdir, free_port()))
r = check_conf(bad_conf)
err = (r.stdout + r.stderr).decode()
check(r.returncode != 0 and "websocket" in err and "connect-only.conf:" in err,
      "websocket on a connect-only socket accepted: %d %r" % (r.returncode,
                                                            err))
good_conf = os.path.join(cdir, "both.conf")
with open(good_conf, "w") as f:
    f.write("[daemon]\nruntime_dir = %s\n\n[socket c]\nbind = 127.0.0.1:%d\n"
            "connect = 127.0.0.1:%d\nwebsocket = on\nwebsocket_origins = %s\n"
            % (cdir, free_port(), free_port(), ORIGINS))
r = check_conf(good_conf)
check(r.returncode == 0, "websocket on a bind + connect socket refused: %r" %
      ((r.stdout + r.stderr).decode(),))

# --- a WebSocket peer and a raw peer on one port -----------------------------
step("publish reaches a WebSocket peer and a raw peer on the same port")
raw = RawPeer(P["pub"])
raw.s.settimeout(0.5)
try:
    early = raw.s.recv(100)
except socket.timeout:
    early = b""
check(early == b"", "a websocket port spoke before the first byte: %r" % early)
ID_W, ID_R = new_id(), new_id()
raw.send(b"\x00")               # the sniffed byte alone, the rest later
time.sleep(0.1)
raw.send(hello(ID_R)[1:])
f = raw.read_frame()
check(f is not None and f[0] == HELLO, "raw peer on a websocket port: %r" %
      (f,))
w = ws_peer("pub", ID_W)
wait_peers(d, "pub", [ID_W.hex(), ID_R.hex()])
tr = transports("pub")
check(tr.get(ID_W.hex()) == "websocket" and tr.get(ID_R.hex()) == "tcp",
      "peers' transport: %r" % tr)
msgs = [b"pub-%d" % i for i in range(40)] + [b"m" * 300, b"L" * MAX,
                                             b"after-large"]
r = d.cat("send", "pub", *[m.decode() for m in msgs])
check(r.returncode == 0, "smartsock-cat send: %r" % (r,))
got_w, got_r = datas(w, len(msgs)), []
while len(got_r) < len(msgs):
    f = raw.read_until(DATA)
    if f is None:
        break
    got_r.append(f[1])
check(got_w == msgs, "the WebSocket peer got %d of %d (%r...)" %
      (len(got_w), len(msgs), [g[:20] for g in got_w[-3:]]))
check(got_r == msgs, "the raw peer got %d of %d" % (len(got_r), len(msgs)))
check(all(op in (BINARY, CONT) for _, op, _ in w.frames if op < 8) and
      any(n > 125 for _, _, n in w.frames),
      "the daemon's frames: %r" % w.frames[:20])

step("WebSocket -> daemon: the stream cut and merged at odd places")
ID_IN = new_id()
expect = [b"m0", b"m1", b"m2", b"m3", b"4" * 1000, b"m5", b"m6", b"m7",
          b"m8", b"M" * MAX, b"F" * 60000, b"m11"]
recv = d.cat_bg("recv", "in", "-n", str(len(expect)), "--identity",
                "--timeout", "20")
# The request itself cut in the middle of the method and of a header.
w = upgraded("in", cuts=(1, 2, 17, 40))
f = w.read_frame()
check(f is not None and f[0] == HELLO and f[1][1:].hex() ==
      d.status_of("in")["identity"], "no HELLO after the upgrade: %r" % (f,))
# HELLO and the first DATA in one message.
w.send(hello(ID_IN) + data(b"m0"))
# Three aiomsg frames in one message, with an empty message and an
# unsolicited pong before it.
w.send_frame(BINARY, b"")
w.send_frame(PONG, b"unasked")
w.send(data(b"m1") + data(b"m2") + data(b"m3"))
# One aiomsg frame over five messages, cut inside its length prefix.
w.send_messages(data(expect[4]), (1, 3, 7, 500))
# A fragmented message holding m5 and the start of m6, pings between its
# fragments, then the rest of m6 in the next message.
s56 = data(b"m5") + data(b"m6")
w.send_frame(BINARY, s56[:3], fin=False)
w.send_frame(PING, b"p1")
w.send_frame(CONT, s56[3:9], fin=False)
w.send_frame(PING, b"p2")
w.send_frame(CONT, s56[9:12], fin=True)
w.send_frame(BINARY, s56[12:])
check(w.wait_for(lambda: len(w.pongs) >= 2, patience(10)) and
      w.pongs == [b"p1", b"p2"], "pongs between fragments: %r" % w.pongs)
# Two WebSocket frames cut across TCP segments: inside the header, the
# mask key, the payload, and between the frames.
two = encode(BINARY, data(b"m7")) + encode(BINARY, data(b"m8"))
w.send_raw(two, cuts=(1, 3, 5, 9, len(two) // 2, len(two) - 1))
# The largest message the daemon takes, in one frame with a 64-bit length.
w.send(data(expect[9]))
# A large message in a fragmented message of uneven fragments.
big = data(expect[10])
cuts = (0, 1, 4, 777, 30000, 59999, len(big))
for i in range(len(cuts) - 1):
    w.send_frame(BINARY if i == 0 else CONT, big[cuts[i]:cuts[i + 1]],
                 fin=i == len(cuts) - 2)
w.send(data(b"m11"))
got = collect(recv)
check([g.split("\t", 1)[0] for g in got] == [ID_IN.hex()] * len(expect),
      "identities: %r" % [g[:40] for g in got])
check([g.split("\t", 1)[1].encode() for g in got] == expect,
      "WebSocket -> daemon: %r" % [g[33:60] for g in got])
r = d.cat("send", "in", "--to", ID_IN.hex(), "back-to-ws")
check(r.returncode == 0, "send --to the WebSocket peer: %r" % (r,))
check(datas(w, 1) == [b"back-to-ws"], "daemon -> WebSocket peer by identity")
check(transports("in").get(ID_IN.hex()) == "websocket", "transport on in")

step("at-least-once over WebSocket, both ways")
ID_A = new_id()
w = ws_peer("alo", ID_A)
wait_peers(d, "alo", [ID_A.hex()])
check(d.cat("send", "alo", "alo-out").returncode == 0, "send on alo")
f = w.read_until(DATA_REQ)
check(f is not None and f[1][16:] == b"alo-out", "no DATA_REQ: %r" % (f,))
mid = f[1][:16]
f = w.read_until(DATA_REQ, patience(5))  # not acked: sent again, same id
check(f is not None and f[1][:16] == mid and f[1][16:] == b"alo-out",
      "no resend of the unacknowledged DATA_REQ: %r" % (f,))
w.send(frame(bytes((ACK,)) + mid))
later, eof = frames_for(w, 2.0)
check(not eof and not any(t == DATA_REQ for t, _ in later),
      "resent after the ACK (or closed): %r" % later)
check(d.counter("alo", "alo.resends") >= 1, "alo.resends")
# The daemon ACKs once the application took the message, which the
# library tells when it takes the next: one more message follows.
recv = d.cat_bg("recv", "alo", "-n", "2", "--timeout", "10")
mid2 = os.urandom(16)
w.send(frame(bytes((DATA_REQ,)) + mid2 + b"alo-in") + data(b"alo-after"))
a = w.read_until(ACK)
check(a is not None and a[1] == mid2, "no ACK for the client's DATA_REQ: %r"
      % (a,))
check(collect(recv) == ["alo-in", "alo-after"],
      "the client's DATA_REQ not delivered")

# --- first bytes ------------------------------------------------------------
step("first bytes other than 0x00 and 'G' are closed, silently")
for first in (b"\x01", b"X", b"\x16\x03\x01\x00\xa5", b"POST / HTTP/1.1\r\n"):
    c = WSConn(P["bad"])
    c.send_raw(first)
    check(c.eof_within(patience(5)) and c.buf == b"",
          "first byte %r: closed %s, got %r" % (first, c.eof, c.buf[:80]))
    c.close()
step("'G' on a socket without websocket is refused as before")
c = WSConn(P["plain"])
c.send_raw(request(port=P["plain"]))
check(c.eof_within(patience(5)) and b"HTTP/" not in c.buf,
      "a plain socket answered an upgrade: %r" % c.buf[:80])
check(d.counter("plain", "websocket.upgrades") == 0, "plain socket upgraded")

# --- upgrades: malformed, variants, refused ---------------------------------
step("malformed upgrade requests: 400 / 426, closed")
KEY = new_key()


def with_header_line(line):
    head = request(port=P["bad"], key=KEY)
    return head[:-2] + line + b"\r\n\r\n"


bad = [
    ("no Upgrade header", request(port=P["bad"], omit=("upgrade",)), (400,)),
    ("Upgrade: h2c", request(port=P["bad"], omit=("upgrade",),
                             extra=[("Upgrade", "h2c")]), (400,)),
    ("no Connection: Upgrade", request(port=P["bad"], omit=("connection",),
                                       extra=[("Connection", "keep-alive")]),
     (400,)),
    ("version 8", request(port=P["bad"], version="8"), (426,)),
    ("no version", request(port=P["bad"], omit=("sec-websocket-version",)),
     (400, 426)),
    ("no key", request(port=P["bad"], omit=("sec-websocket-key",)), (400,)),
    ("a key of 10 bytes", request(port=P["bad"], key=base64.b64encode(
        os.urandom(10)).decode()), (400,)),
    ("a key not base64", request(port=P["bad"], key="!!not*base64!!==xx=="),
     (400,)),
    ("a garbage line", b"GARBAGE\r\n\r\n", (400,)),
    ("another method", request(port=P["bad"]).replace(b"GET ", b"GXT ", 1),
     (400,)),
    ("a header line without a colon", with_header_line(b"no colon here"),
     (400,)),
]
for what, req, statuses in bad:
    c = WSConn(P["bad"])
    c.send_raw(req)
    status, h = c.http_response(patience(5))
    check(status in statuses, "%s: answered %r, not %r" % (what, status,
                                                           statuses))
    if status == 426:
        check("13" in h.get("sec-websocket-version", ""),
              "426 without Sec-WebSocket-Version: 13: %r" % h)
    check(c.eof_within(patience(5)), "%s: not closed after %d" % (what, status))
    c.close()
n_refused = len(bad)

step("a refused upgrade with a HELLO behind it: refused, never up")
# What follows a refused request is not read as aiomsg: the connection
# closes with its refusal and its HELLO never makes it a peer.
PIPED = bytes.fromhex("5e" * 16)
c = WSConn(P["bad"])
c.send_raw(b"GARBAGE\r\n\r\n" + hello(PIPED))
status, h = c.http_response(patience(5))
check(status == 400, "refused + HELLO: answered %r" % (status,))
check(c.eof_within(patience(5)), "refused + HELLO: not closed")
c.close()
d.wait_log("WebSocket upgrade refused", count=1)
check(PIPED.hex() not in d.log_text(),
      "a HELLO behind a refused upgrade made a peer:\n" + d.log_text())
n_refused += 1

step("an oversized request head: refused at once")
# The head never ends: an answer proves the daemon refused it for its size
# (its deadline closes without one, as below).
c = WSConn(P["bad"])
c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n" +
           b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000)
                    for i in range(100)))
status, h = c.http_response(patience(5))
check(status in (400, 431), "oversized head: answered %r" % (status,))
check(c.eof_within(patience(5)), "oversized head: not closed")
n_refused += 1

step("valid upgrades in other shapes are accepted")
variants = [
    # Firefox's Connection, header names in lower case, values mixed.
    [("connection", "keep-alive, Upgrade"), ("upgrade", "WebSocket")],
    # Chrome offers permessage-deflate; nothing may be negotiated.
    [("Sec-WebSocket-Extensions",
      "permessage-deflate; client_max_window_bits"),
     ("Sec-WebSocket-Protocol", "aiomsg"),
     ("User-Agent", "x" * 2000)],
]
for extra in variants:
    key = new_key()
    c = WSConn(P["bad"])
    omit = [n.lower() for n, _ in extra]
    c.send_raw(request(port=P["bad"], key=key, omit=omit, extra=extra),
               cuts=(1, 5, 30))
    status, h = c.http_response(patience(5))
    check(status == 101 and h.get("sec-websocket-accept") == accept_of(key)
          and "sec-websocket-extensions" not in h and
          "sec-websocket-protocol" not in h,
          "upgrade with %r: %r %r" % (extra, status, h))
    c.send(hello(new_id()))
    check(c.read_until(HELLO) is not None, "no HELLO after %r" % extra)
    c.close()
    UPGRADES["bad"] += 1

step("a request never finished is closed in time, even trickled")
c = WSConn(P["bad"])
c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n")
t0 = time.monotonic()
check(c.eof_within(patience(HB_TIMEOUT + 10)),
      "an unfinished request kept open")
check(b"101" not in c.buf, "an unfinished request upgraded: %r" % c.buf)
slow = time.monotonic() - t0
c = WSConn(P["bad"])
t0 = time.monotonic()
c.send_raw(b"GET / HTTP/1.1\r\n")
trickle = None
while time.monotonic() - t0 < patience(HB_TIMEOUT + 10):
    if not c.send_raw(b"X-Slow: 1\r\n") or c.eof_within(0.3):
        trickle = time.monotonic() - t0
        break
check(trickle is not None, "a trickled request kept open %.1f s" %
      (time.monotonic() - t0))
up, refused, errors = counters("bad")
print("note: unfinished request closed after %.1f s, trickled after %.1f s;"
      " refused %d (%d malformed before them)" % (slow, trickle, refused,
                                                  n_refused))
check(up == UPGRADES["bad"] and refused == n_refused + 2 and errors == 0,
      "bad's counters (upgrades, refused, errors) %r, expected %d, %d, 0" %
      ((up, refused, errors), UPGRADES["bad"], n_refused + 2))
d.wait_log("WebSocket upgrade request not finished in time", count=2)

step("the Origin allow list")
for origin in ("http://127.0.0.1:8080", "https://a.example"):
    w = ws_peer("orig", new_id(), origin=origin)
    w.close()
for origin in ("https://evil.example", "https://a.example.evil.example",
               None):
    c = WSConn(P["orig"])
    c.send_raw(request(port=P["orig"], origin=origin))
    status, _ = c.http_response(patience(5))
    check(status == 403 and c.eof_within(patience(5)), "Origin %r: %r" % (origin,
                                                               status))
check(counters("orig") == (UPGRADES["orig"], 3, 0), "orig's counters %r" %
      (counters("orig"),))

# --- after the upgrade ------------------------------------------------------
step("protocol errors after the upgrade: close code, then closed")
errs = [
    ("a text frame", lambda w: w.send_frame(TEXT, b"hello"), 1003),
    ("an unmasked frame", lambda w: w.send_frame(BINARY, data(b"x"),
                                                 mask=False), 1002),
    ("a reserved bit", lambda w: w.send_frame(BINARY, data(b"x"), rsv=4),
     1002),
    ("opcode 3", lambda w: w.send_frame(3, b"x"), 1002),
    ("a ping of 126 bytes", lambda w: w.send_frame(PING, b"p" * 126), 1002),
    ("a fragmented ping", lambda w: w.send_frame(PING, b"p", fin=False),
     1002),
    ("a continuation first", lambda w: w.send_frame(CONT, data(b"x")), 1002),
    ("a new message inside one", lambda w: (
        w.send_frame(BINARY, b"\x00", fin=False),
        w.send_frame(BINARY, b"\x00")), 1002),
    ("a frame of 1 MiB", lambda w: w.send_frame(BINARY, b"", length=1 << 20),
     1009),
    ("a frame of 2^62 bytes", lambda w: w.send_frame(BINARY, b"",
                                                     length=1 << 62), 1009),
    ("a frame just over the limit", lambda w: w.send_frame(
        BINARY, b"", length=MAX + 65536), 1009),
    ("a close reason not UTF-8", lambda w: w.send_frame(
        CLOSE, b"\x03\xe8bye \xc0\xaf"), 1007),
]
# The close code says why: the error, not a timeout.
for what, act, code in errs:
    w = ws_peer("err", new_id())
    act(w)
    check(w.closed(patience(5)), "%s: not closed" % what)
    check(w.close_code == code, "%s: close code %r, not %d" %
          (what, w.close_code, code))
    w.close()

step("a close from the client is answered")
w = ws_peer("err", new_id())
w.send_close(1000, b"bye")
check(w.closed(patience(5)) and w.close_code in (1000, 1005),
      "close answered with %r" % (w.close_code,))
w = upgraded("err")
w.send_close(1001)              # before any aiomsg byte
check(w.closed(patience(5)) and w.close_code is not None, "close before HELLO")
check(counters("err")[2] == len(errs), "websocket.errors on err: %r, not "
      "%d (a clean close is no error)" % (counters("err"), len(errs)))

step("aiomsg errors inside WebSocket close the connection")
w = upgraded("err")
w.send(hello(new_id(), version=2))
check(w.closed(patience(5)), "a version-2 HELLO over WebSocket kept")
w = ws_peer("err", new_id())
w.send(struct.pack(">I", 1 << 30) + b"\x03")
check(w.closed(patience(5)), "an oversized aiomsg frame over WebSocket kept")

# --- wss ---------------------------------------------------------------------
step("wss: WebSocket and raw aiomsg inside TLS on one port")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(C.ca_a)
ID_S, ID_T = new_id(), new_id()
ws = ws_peer("wss", ID_S, ssl_context=ctx)
t = WSConn(P["wss"], ssl_context=ctx)
t.send_raw(hello(ID_T))
end = time.monotonic() + patience(10)
try:
    while len(t.buf) < 6 and t._fill(end):
        pass
except socket.timeout:
    pass
check(t.buf[:6] == b"\x00\x00\x00\x12\x01\x01",
      "no HELLO for a raw TLS peer on a wss port: %r" % t.buf[:20])
wait_peers(d, "wss", [ID_S.hex(), ID_T.hex()])
pe = {p["identity"]: p for p in d.ctl_json("peers", "wss")["peers"]}
check(pe[ID_S.hex()].get("transport") == "websocket" and
      (pe[ID_S.hex()].get("tls") or "").startswith("TLSv1.") and
      pe[ID_T.hex()].get("transport") == "tcp", "wss peers: %r" % pe)
recv = d.cat_bg("recv", "wss", "-n", "1", "--identity", "--timeout", "10")
ws.send_messages(data(b"over-wss"), (2, 6))
check(collect(recv) == [ID_S.hex() + "\tover-wss"], "wss -> daemon")
check(d.cat("send", "wss", "--to", ID_S.hex(), "wss-back").returncode == 0,
      "send on wss")
check(datas(ws, 1) == [b"wss-back"], "daemon -> wss")
c = WSConn(P["wss"])
c.send_raw(request(port=P["wss"]))
check(c.eof_within(patience(10)) and b"HTTP/1.1 101" not in c.buf,
      "plain WebSocket on a TLS port: %r" % c.buf[:60])
# A protocol error over TLS still gets its close frame before the end.
x = ws_peer("wss", new_id(), ssl_context=ctx)
x.send_frame(1, b"text over wss")
check(x.closed(patience(5)) and x.close_code == 1003,
      "a text frame over wss: closed %r with code %r" %
      (x.closed(0.1), x.close_code))
check(counters("wss")[0] == UPGRADES["wss"] and counters("wss")[2] == 1,
      "wss upgrades and errors %r" % (counters("wss"),))

# --- heartbeats -------------------------------------------------------------
step("liveness: aiomsg HEARTBEATs keep a WebSocket peer; WS pings do not")
ID_H, ID_P = new_id(), new_id()
wh, wp = ws_peer("hb", ID_H), ws_peer("hb", ID_P)
# Both from the same moment: wh says HEARTBEAT, wp only pings.  Until wp is
# closed, and then for one more heartbeat_timeout, wh must stay.
t0 = time.monotonic()
end = t0 + patience(2 * HB_TIMEOUT + 20)
got_hb, closed_p, pings, until = 0, None, 0, None
while until is None or time.monotonic() < until:
    check(time.monotonic() < end, "a peer sending only pings still open "
          "after %.0f s (heartbeat_timeout %.0f s)" %
          (time.monotonic() - t0, HB_TIMEOUT))
    wh.send(frame(bytes((HEARTBEAT,))))
    if closed_p is None:
        pings += 1
        wp.send_frame(PING, b"%d" % pings)
    fr, eof = frames_for(wh, 0.25)
    check(not eof, "a peer sending HEARTBEATs was closed after %.1f s" %
          (time.monotonic() - t0))
    got_hb += sum(1 for t, _ in fr if t == HEARTBEAT)
    if closed_p is None:
        _, eof = frames_for(wp, 0.25)
        if eof:
            closed_p = time.monotonic() - t0
            until = time.monotonic() + HB_TIMEOUT + 1
    else:
        time.sleep(0.25)
print("note: the peer sending only pings closed after %.1f s "
      "(heartbeat_timeout %.0f s)" % (closed_p, HB_TIMEOUT))
check(re.search(r"socket hb: peer %s \([^)]*\) down: nothing received for "
                r"\d+ ms \(heartbeat_timeout\)" % ID_P.hex(), d.log_text())
      and not re.search(r"socket hb: peer %s \([^)]*\) down" % ID_H.hex(),
                        d.log_text()),
      "the pinging peer was not closed by heartbeat_timeout, or the "
      "heartbeating one was closed:\n" + d.log_text())
check(len(wp.pongs) >= 3 and wp.pongs == [b"%d" % i for i in
                                          range(1, len(wp.pongs) + 1)],
      "pings not answered in order: %r" % wp.pongs)
check(got_hb >= 5, "only %d HEARTBEATs from the daemon" % got_hb)
check(d.cat("send", "hb", "--to", ID_H.hex(), "alive").returncode == 0,
      "send to the live peer")
check(datas(wh, 1) == [b"alive"], "the heartbeating peer gets no DATA")

# --- every socket still serves ----------------------------------------------
step("every socket still serves raw and WebSocket peers")
for name in ("pub", "in", "alo", "orig", "bad", "err", "hb"):
    if name == "orig":
        continue
    still_serves(name, name.encode())
still_serves("wss", b"wss", ssl_context=ctx)
c = upgraded("orig", origin="https://a.example")
c.send(hello(new_id()) + data(b"orig-last"))
r = d.cat("recv", "orig", "-n", "1", "--timeout", "10")
check(r.stdout == b"orig-last\n", "orig after all: %r" % (r,))
for name in ("pub", "in", "alo", "err", "hb", "wss"):
    check(counters(name) == (UPGRADES[name], 0,
                             len(errs) if name == "err" else
                             1 if name == "wss" else 0),
          "%s's counters (upgrades, refused, errors) %r, not (%d, 0, %d)" %
          (name, counters(name), UPGRADES[name],
           len(errs) if name == "err" else 0))
check(counters("orig") == (UPGRADES["orig"], 3, 0), "orig's counters %r" %
      (counters("orig"),))
check(d.proc.poll() is None, "the daemon died")
check(d.stop() == 0, "daemon did not stop cleanly")
passed("websocket")
