"""Hostile and unusual input on a bind port and on an application socket:
the daemon closes only the offending connection and keeps serving everyone
else.  Also replays the recorded aiomsg Python session byte for byte."""
import socket
import struct
import threading

from harness import (passed, ACK, DATA, DATA_REQ, HEARTBEAT, HELLO, Daemon, RawPeer,
                     check, collect, frame, free_port, hello, patience)

port = free_port()
d = Daemon({"in": {"bind": "127.0.0.1:%d" % port,
                   "heartbeat_interval": "300ms",
                   "heartbeat_timeout": "1500ms"}},
           daemon={"max_message_size": "1K"})

# A well-behaved peer that must survive everything below.
good = RawPeer(port)
good.send(hello(b"\x01" * 16))
f = good.read_frame()
check(f is not None and f[0] == HELLO and len(f[1]) == 17 and f[1][0] == 1,
      "daemon HELLO malformed: %r" % (f,))
# It says HEARTBEAT as a live peer does, until the test wants it silent:
# however long the steps take, heartbeat_timeout is not what they test.
quiet = threading.Event()


def beat():
    while not quiet.wait(0.3):
        try:
            good.send(frame(bytes((HEARTBEAT,))))
        except OSError:
            return


beater = threading.Thread(target=beat, daemon=True)
beater.start()

recv = d.cat_bg("recv", "in", "-n", "5", "--identity", "--timeout", "20")

# 1. HELLO pipelined with DATA frames, an unknown type and an empty
#    envelope, all in one write.
p = RawPeer(port)
p.send(hello(b"\x02" * 16) + frame(bytes((DATA,)) + b"pipelined-1") +
       frame(bytes((0x42,)) + b"unknown type") + frame(b"") +
       frame(bytes((DATA,)) + b"pipelined-2"))
check(p.read_frame()[0] == HELLO, "no HELLO for the pipelined peer")

# 2. Garbage before any HELLO: closed.
g = RawPeer(port)
g.send(b"GET / HTTP/1.0\r\n\r\n")
check(g.closed(), "garbage peer not closed")

# 3. Another protocol version: closed.
v = RawPeer(port)
v.send(hello(b"\x03" * 16, version=2))
check(v.closed(), "version-2 peer not closed")

# 4. A duplicate identity: the new connection is closed, the old one stays.
dup = RawPeer(port)
dup.send(hello(b"\x01" * 16))
check(dup.closed(), "duplicate identity not closed")

# 5. An oversized frame: that connection closes.
big = RawPeer(port)
big.send(hello(b"\x04" * 16))
big.read_frame()
big.send(struct.pack(">I", 1 << 30) + b"\x03")
check(big.closed(), "oversized frame not closed")
# A DATA payload 1..16 bytes over max_message_size (the frame bound has
# room for a DATA_REQ's msg_id): refused too, never delivered.
for extra in (1, 16):
    over = RawPeer(port)
    over.send(hello(bytes((0x40 + extra,)) * 16))
    over.read_frame()
    over.send(frame(bytes((DATA,)) + b"o" * (1024 + extra)))
    check(over.closed(), "DATA %d bytes over the limit not closed" % extra)

# 6. Short DATA_REQ / ACK bodies are skipped, not fatal.
odd = RawPeer(port)
odd.send(hello(b"\x05" * 16) + frame(bytes((DATA_REQ,)) + b"short") +
         frame(bytes((ACK,)) + b"x") + frame(bytes((DATA,)) + b"after-odd"))

# The good peer still works, including at-least-once with a resend of the
# same msg_id before the application took it: delivered once, ACKed once.
msg_id = bytes(range(16))
# (One write, so both copies are decoded before any application runs.)
good.send(frame(bytes((DATA_REQ,)) + msg_id + b"alo-1") * 2 +
          frame(bytes((DATA,)) + b"good-last"))

lines = collect(recv)
payloads = sorted(l.split("\t", 1)[1] for l in lines)
check(payloads == sorted(["pipelined-1", "pipelined-2", "after-odd",
                          "alo-1", "good-last"]),
      "unexpected deliveries %r" % lines)
check(any(l.startswith("01" * 16 + "\t") for l in lines),
      "identity prefix missing: %r" % lines)

a = good.read_until(ACK, timeout=10)
check(a is not None and a[1] == msg_id, "no ACK for the DATA_REQ: %r" % (a,))

# Heartbeats: an idle connection gets HEARTBEATs, and is torn down after
# heartbeat_timeout of silence from its side.
quiet.set()
beater.join(patience(5))
hb = good.read_until(HEARTBEAT, timeout=5)
check(hb is not None, "no HEARTBEAT from the daemon")
check(good.closed(timeout=20), "silent peer not torn down")
d.wait_log("(heartbeat_timeout)")

# Hostile application clients: garbage, a wrong version, an oversized frame.
for junk in (b"\xff\xff\xff\xff\x01", b"\x00\x00\x00\x03\x01\x00\x09",
             b"\x00\x00\x00\x00", b"\x00\x00\x10\x00\x02" + b"x" * 4096):
    c = socket.socket(socket.AF_UNIX)
    c.connect(d.sock_path("in"))
    c.sendall(junk)
    c.settimeout(patience(5))
    try:
        while c.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    c.close()

# The daemon is alive and the recorded aiomsg session replays cleanly:
# HELLO + three DATA_REQs (session A), ACKs after the app takes them.
replay = RawPeer(port)
replay.send(bytes.fromhex(
    "000000120101ffeeddccbbaa99887766554433221100"
    "00000018044de03bddb72944eab3ae80f20bbf903468656c6c6f2d30"
    "0000001804ae677e1f989947fc95a9aea269dc67f468656c6c6f2d31"
    "0000001804985b9e61e5464163ae5d80187302f26368656c6c6f2d32"))
check(replay.read_frame()[0] == HELLO, "no HELLO on replay")
r = d.cat("recv", "in", "-n", "3", "--timeout", "10")
check(r.stdout.decode().split() == ["hello-0", "hello-1", "hello-2"],
      "replay payloads: %r %r" % (r.stdout, r.stderr))
acks = [replay.read_until(ACK) for _ in range(3)]
check([a[1].hex() if a else None for a in acks] ==
      ["4de03bddb72944eab3ae80f20bbf9034", "ae677e1f989947fc95a9aea269dc67f4",
       "985b9e61e5464163ae5d80187302f263"], "replay ACKs %r" % acks)

check(d.stop() == 0, "daemon did not stop cleanly")
passed("hostile input")
