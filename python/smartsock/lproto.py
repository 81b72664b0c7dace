"""lproto: the local protocol between a client and smartsockd.

Frames, either way: u32 length (big-endian, counts type + body) | u8 type |
body, exactly as common/lproto.h defines them.  check_header() bounds a
frame before its body is read; decode() parses one whole frame and checks
it was consumed exactly.
"""
import struct

VERSION = 1
HDR_LEN = 5
ID_LEN = 16
MAX_FIXED = 24
MAX_TEXT = 1024                 # REFUSE's text, bounded on its own
MAX_MESSAGE = 0x80000000        # the library's upper bound on max_message_size

# client -> daemon
HELLO = 1
SEND = 2
SEND_TO = 3
CONFIRM = 4
CREDIT = 5
# daemon -> client
WELCOME = 64
REFUSE = 65
DELIVER = 66
DELIVER_REQ = 67
SEND_RESULT = 68
CLOSING = 69

# statuses of REFUSE and SEND_RESULT
OK = 0
ST_UNREACHABLE = 1
ST_TOO_BIG = 2
ST_BAD_VERSION = 3
ST_NO_BUFFER = 4
ST_REFUSED = 5
ST_TOO_MANY = 6

_FIXED = {HELLO: 2, SEND: 0, SEND_TO: ID_LEN, CONFIRM: 8, CREDIT: 4,
          WELCOME: 2 + 4 + ID_LEN, REFUSE: 2 + 4, DELIVER: ID_LEN,
          DELIVER_REQ: 8 + ID_LEN, SEND_RESULT: 4, CLOSING: 0}
_FIXED_SIZE = {HELLO, CONFIRM, CREDIT, WELCOME, SEND_RESULT, CLOSING}


class FrameError(ValueError):
    """A malformed frame: unknown type, bad or oversized length."""


def fixed_len(ftype):
    """Size of the fixed fields before the payload, or -1 (unknown)."""
    return _FIXED.get(ftype, -1)


def check_header(buf, off=0, max_payload=MAX_MESSAGE):
    """Validate the header at buf[off:].  None when fewer than HDR_LEN
    bytes are there, else (type, body_len); FrameError when bad."""
    if len(buf) - off < HDR_LEN:
        return None
    length = int.from_bytes(buf[off:off + 4], "big")
    ftype = buf[off + 4]
    if length < 1:
        raise FrameError("frame length 0")
    fixed = fixed_len(ftype)
    if fixed < 0:
        raise FrameError("unknown frame type %d" % ftype)
    body = length - 1
    if body < fixed:
        raise FrameError("type %d: body of %d bytes, %d needed"
                         % (ftype, body, fixed))
    if ftype in _FIXED_SIZE:
        rest_max = 0
    elif ftype == REFUSE:
        rest_max = MAX_TEXT
    else:
        rest_max = max_payload
    if body - fixed > rest_max:
        raise FrameError("type %d: body of %d bytes is too long"
                         % (ftype, body))
    return ftype, body


def _frame(ftype, body=b""):
    return struct.pack(">IB", len(body) + 1, ftype) + body


def _ident(identity):
    identity = bytes(identity)
    if len(identity) != ID_LEN:
        raise ValueError("an identity is %d bytes" % ID_LEN)
    return identity


def hello(version=VERSION):
    return _frame(HELLO, struct.pack(">H", version))


def send_header(payload_len):
    """Header of a SEND frame (the payload follows it)."""
    return struct.pack(">IB", payload_len + 1, SEND)


def send(payload):
    return send_header(len(payload)) + bytes(payload)


def send_to(identity, payload):
    return _frame(SEND_TO, _ident(identity) + bytes(payload))


def confirm(seq):
    return _frame(CONFIRM, struct.pack(">Q", seq))


def credit(n):
    return _frame(CREDIT, struct.pack(">I", n))


def welcome(max_message_size, identity, version=VERSION):
    return _frame(WELCOME, struct.pack(">HI", version, max_message_size) +
                  _ident(identity))


def refuse(status, text=b"", version=VERSION):
    return _frame(REFUSE, struct.pack(">HI", version, status) + bytes(text))


def deliver(identity, payload):
    return _frame(DELIVER, _ident(identity) + bytes(payload))


def deliver_req(seq, identity, payload):
    return _frame(DELIVER_REQ, struct.pack(">Q", seq) + _ident(identity) +
                  bytes(payload))


def send_result(status):
    return _frame(SEND_RESULT, struct.pack(">I", status))


def closing():
    return _frame(CLOSING)


def parse_body(ftype, body):
    """The fields of a header-checked body, as a tuple per type:
    HELLO (version,), SEND (payload,), SEND_TO (identity, payload),
    CONFIRM (seq,), CREDIT (n,), WELCOME (version, max, identity),
    REFUSE (version, status, text), DELIVER (identity, payload),
    DELIVER_REQ (seq, identity, payload), SEND_RESULT (status,),
    CLOSING ()."""
    body = bytes(body)
    if ftype == HELLO:
        return struct.unpack(">H", body)
    if ftype == SEND:
        return (body,)
    if ftype == SEND_TO or ftype == DELIVER:
        return body[:ID_LEN], body[ID_LEN:]
    if ftype == CONFIRM:
        return struct.unpack(">Q", body)
    if ftype == CREDIT or ftype == SEND_RESULT:
        return struct.unpack(">I", body)
    if ftype == WELCOME:
        v, m = struct.unpack(">HI", body[:6])
        return v, m, body[6:6 + ID_LEN]
    if ftype == REFUSE:
        v, st = struct.unpack(">HI", body[:6])
        return v, st, body[6:]
    if ftype == DELIVER_REQ:
        (seq,) = struct.unpack(">Q", body[:8])
        return seq, body[8:8 + ID_LEN], body[8 + ID_LEN:]
    if ftype == CLOSING:
        return ()
    raise FrameError("unknown frame type %d" % ftype)


def decode(buf, max_payload=MAX_MESSAGE):
    """Decode the first frame of buf: (type, fields, consumed), or None
    when it is not complete yet.  FrameError when it is malformed."""
    h = check_header(buf, 0, max_payload)
    if h is None:
        return None
    ftype, blen = h
    if len(buf) < HDR_LEN + blen:
        return None
    return ftype, parse_body(ftype, buf[HDR_LEN:HDR_LEN + blen]), \
        HDR_LEN + blen
