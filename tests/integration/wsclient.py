"""A small WebSocket client (RFC 6455) in Python's standard library, for
the integration tests of smartsockd's WebSocket bind ports.

WSConn is one TCP (or TLS) connection.  Before upgrade() it writes raw
bytes (hostile requests, a raw aiomsg peer on the same port); after it,
it speaks WebSocket: it builds masked frames (or, on request, unmasked,
text, fragmented, control, reserved-bit or oversized ones), writes any
byte string split at chosen positions into separate TCP segments, and
reads the daemon's frames, checking each against the RFC (unmasked, no
reserved bits, control frames short and whole, continuations only inside
a message).  The payloads of binary messages are one aiomsg byte stream:
read_frame() takes aiomsg frames out of it, whatever the WebSocket frame
boundaries (with harness.split_frame, as harness.RawPeer does).  Pings
from the daemon are answered, pongs and close frames are recorded; a
close frame is answered once.

Everything is bounded: each read has a timeout, and a violation of the
RFC by the daemon raises ProtocolError.
"""
import base64
import hashlib
import os
import socket
import struct
import time

from harness import split_frame

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
HEAD_MAX = 65536        # a 101 (or an error) head longer than this is wrong


class ProtocolError(Exception):
    """The daemon broke RFC 6455 (or HTTP) in what it sent."""


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_of(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    digest = hashlib.sha1(key.encode() + GUID).digest()
    return base64.b64encode(digest).decode()


def request(host="127.0.0.1", port=80, key=None, path="/", origin=None,
            version="13", extra=(), omit=(), http="HTTP/1.1"):
    """An upgrade request's bytes.  extra: (name, value) pairs added;
    omit: header names (lower case) left out."""
    headers = [("Host", "%s:%d" % (host, port)), ("Upgrade", "websocket"),
               ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", key if key is not None else new_key()),
               ("Sec-WebSocket-Version", version)]
    if origin is not None:
        headers.append(("Origin", origin))
    headers = [(n, v) for n, v in headers if n.lower() not in omit]
    headers += list(extra)
    lines = ["GET %s %s" % (path, http)] + ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def encode(opcode, payload=b"", fin=True, mask=True, mask_key=None, rsv=0,
           length=None):
    """One WebSocket frame.  length: the length field to declare instead
    of len(payload) (an oversized frame need not carry its payload)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack(">BB", b0, m | n)
    elif n < 65536:
        head = struct.pack(">BBH", b0, m | 126, n)
    else:
        head = struct.pack(">BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    k = mask_key if mask_key is not None else os.urandom(4)
    return head + k + xor(payload, k)


def xor(data, k):
    if not data:
        return b""
    n = len(data)
    kk = (k * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(kk, "big")).to_bytes(
        n, "big")


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def split_at(data, cuts):
    """data cut at the given offsets (out-of-range ones ignored)."""
    out, last = [], 0
    for c in sorted(set(c for c in cuts if 0 < c < len(data))):
        out.append(data[last:c])
        last = c
    out.append(data[last:])
    return out


class WSConn:
    def __init__(self, port, host="127.0.0.1", ssl_context=None,
                 server_hostname=None, timeout=10.0):
        self.host, self.port = host, port
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            s = ssl_context.wrap_socket(s, server_hostname=server_hostname
                                        or host)
        self.s = s
        self.buf = b""          # bytes read and not yet parsed
        self.stream = b""       # the aiomsg stream: binary payloads
        self.in_message = None  # opcode of the daemon's unfinished message
        self.pings, self.pongs = [], []
        self.close_code = None  # the daemon's close frame: code (or 1005)
        self.close_reason = b""
        self.close_sent = False
        self.answer_close = True
        self.answer_ping = True
        self.frames = []        # (fin, opcode, payload length) received
        self.eof = False
        self.status, self.headers = None, {}

    # --- bytes -------------------------------------------------------------
    def send_raw(self, data, cuts=(), pause=0.03):
        """Write data, as separate TCP segments at the given offsets
        (pause seconds between them).  False if the daemon had closed."""
        try:
            for i, piece in enumerate(split_at(data, cuts)):
                if i:
                    time.sleep(pause)
                self.s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return False
        except OSError as e:        # an SSL error after the peer closed
            if "EOF" in str(e) or "reset" in str(e).lower() or \
                    "broken pipe" in str(e).lower():
                return False
            raise
        return True

    def _fill(self, deadline):
        """Read some bytes into buf; False at EOF (or reset); raises
        socket.timeout at the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.s.settimeout(left)
        try:
            chunk = self.s.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except OSError as e:
            if isinstance(e, socket.timeout):
                raise
            chunk = b""         # SSL: unexpected EOF and the like
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_raw(self, timeout=1.0):
        """Every byte that arrives within timeout (stops at EOF)."""
        end = time.monotonic() + timeout
        try:
            while self._fill(end):
                pass
        except socket.timeout:
            pass
        out, self.buf = self.buf, b""
        return out

    def eof_within(self, timeout=10.0):
        """Read (and keep in buf) whatever comes until the daemon closes:
        True if it does within timeout.  For connections that never
        became WebSocket ones (an HTTP error, a refused first byte)."""
        end = time.monotonic() + timeout
        try:
            while self._fill(end):
                pass
        except socket.timeout:
            return False
        return True

    # --- HTTP ----------------------------------------------------------------
    def http_response(self, timeout=10.0):
        """(status, {lower-case name: value}) of the daemon's answer, or
        (None, {}) when it closes first.  Bytes after the head stay in buf
        (the daemon's first WebSocket frames may follow at once)."""
        end = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_MAX:
                raise ProtocolError("HTTP head over %d bytes" % HEAD_MAX)
            if not self._fill(end):
                if self.buf:
                    raise ProtocolError("closed inside an HTTP head: %r" %
                                        self.buf[:200])
                return None, {}
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or \
                not parts[1].isdigit():
            raise ProtocolError("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or name != name.strip() or not name:
                raise ProtocolError("bad header line %r" % line)
            name = name.lower()
            value = value.strip()
            headers[name] = headers[name] + ", " + value \
                if name in headers else value
        self.status, self.headers = int(parts[1]), headers
        return self.status, headers

    def upgrade(self, path="/", origin=None, key=None, extra=(), cuts=(),
                timeout=10.0):
        """The opening handshake; raises ProtocolError unless the answer
        is a correct 101 that negotiates no subprotocol and no extension.
        cuts: split the request into TCP segments there."""
        key = key or new_key()
        self.send_raw(request(self.host, self.port, key, path, origin,
                              extra=extra), cuts)
        status, h = self.http_response(timeout)
        if status != 101:
            raise ProtocolError("upgrade answered %r %r" % (status, h))
        tokens = [t.strip().lower()
                  for t in h.get("connection", "").split(",")]
        if h.get("upgrade", "").lower() != "websocket" or \
                "upgrade" not in tokens:
            raise ProtocolError("101 without Upgrade/Connection: %r" % h)
        if h.get("sec-websocket-accept") != accept_of(key):
            raise ProtocolError("Sec-WebSocket-Accept %r, not %r" %
                                (h.get("sec-websocket-accept"),
                                 accept_of(key)))
        for name in ("sec-websocket-extensions", "sec-websocket-protocol"):
            if name in h:
                raise ProtocolError("%s negotiated: %r" % (name, h[name]))
        return h

    # --- WebSocket: the daemon's frames ----------------------------------
    def _parse_frame(self):
        """One whole frame off buf, or None if buf holds less."""
        b = self.buf
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack(">H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack(">Q", b[2:10])[0], 10
        if b1 & 0x80:
            raise ProtocolError("the daemon sent a masked frame")
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, b[off:off + n]

    def _handle(self, fin, rsv, op, payload):
        self.frames.append((fin, op, len(payload)))
        if rsv:
            raise ProtocolError("reserved bits %d set (no extension)" % rsv)
        if op >= 8:
            if not fin or len(payload) > 125:
                raise ProtocolError("control frame %d fin=%s len %d" %
                                    (op, fin, len(payload)))
            if op == PING:
                self.pings.append(payload)
                if self.answer_ping and not self.close_sent:
                    self.send_frame(PONG, payload)
            elif op == PONG:
                self.pongs.append(payload)
            elif op == CLOSE:
                if len(payload) == 1:
                    raise ProtocolError("close frame of 1 byte")
                self.close_code = struct.unpack(">H", payload[:2])[0] \
                    if payload else 1005
                self.close_reason = payload[2:]
                if self.answer_close and not self.close_sent:
                    self.send_close(self.close_code if payload else None)
            else:
                raise ProtocolError("unknown control opcode %d" % op)
            return
        if self.close_code is not None:
            raise ProtocolError("data frame after a close frame")
        if op == CONT:
            if self.in_message is None:
                raise ProtocolError("continuation outside a message")
        elif op in (BINARY, TEXT):
            if self.in_message is not None:
                raise ProtocolError("new message inside a fragmented one")
            if op == TEXT:
                raise ProtocolError("the daemon sent a text frame")
            self.in_message = op
        else:
            raise ProtocolError("unknown data opcode %d" % op)
        self.stream += payload
        if fin:
            self.in_message = None

    def pump(self, deadline):
        """Handle every whole frame in buf, reading once if there is none.
        False at EOF; raises socket.timeout at the deadline."""
        f = self._parse_frame()
        if f is None:
            if not self._fill(deadline):
                if self.buf:
                    f = self._parse_frame()
                    if f is None:
                        raise ProtocolError("closed inside a frame")
                else:
                    return False
            else:
                return True
        while f is not None:
            self._handle(*f)
            f = self._parse_frame()
        return True

    def read_frame(self, timeout=10.0):
        """(type, body) of the next aiomsg frame; None at EOF."""
        end = time.monotonic() + timeout
        while True:
            f, self.stream = split_frame(self.stream)
            if f is not None:
                return f
            if not self.pump(end):
                return None

    def read_until(self, ftype, timeout=10.0):
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                f = self.read_frame(max(0.01, end - time.monotonic()))
                if f is None:
                    return None
                if f[0] == ftype:
                    return f
        except socket.timeout:
            pass
        return None

    def wait_for(self, pred, timeout=10.0):
        """Pump frames until pred() holds; False at EOF or timeout."""
        end = time.monotonic() + timeout
        try:
            while not pred():
                if not self.pump(end):
                    return pred()
        except socket.timeout:
            return False
        return True

    def closed(self, timeout=10.0):
        """True when the daemon closes the TCP connection within timeout
        (frames on the way are handled, a close frame answered)."""
        end = time.monotonic() + timeout
        try:
            while self.pump(end):
                pass
        except socket.timeout:
            return False
        return True

    # --- WebSocket: frames to the daemon ---------------------------------
    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0,
                   length=None, cuts=(), pause=0.03):
        return self.send_raw(encode(opcode, payload, fin, mask, rsv=rsv,
                                    length=length), cuts, pause)

    def send_close(self, code=1000, reason=b""):
        self.close_sent = True
        return self.send_frame(CLOSE, close_payload(code, reason)
                               if code is not None else b"")

    def send(self, data):
        """aiomsg bytes as one binary message (RawPeer's interface)."""
        return self.send_frame(BINARY, data)

    def send_messages(self, data, pieces):
        """aiomsg bytes as several binary messages, cut at the offsets in
        pieces, all in one write."""
        return self.send_raw(b"".join(encode(BINARY, p)
                                      for p in split_at(data, pieces)))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
