"""Exceptions of the smartsock package.  All are OSError subclasses with
the errno the C library reports for the same case; the ones that have a
built-in counterpart also derive from it (PermissionError, TimeoutError,
ConnectionError...)."""
import errno as _errno


class SmartsockError(OSError):
    """Base of the package's own errors."""


class ProtocolError(SmartsockError):
    """Malformed data or another local protocol version (EPROTO)."""

    def __init__(self, text="protocol error with smartsockd"):
        super().__init__(_errno.EPROTO, text)


class AccessDenied(SmartsockError, PermissionError):
    """The daemon refused the attach (allow_users / allow_groups)."""


class TooManyClients(SmartsockError):
    """max_clients applications are attached (EUSERS)."""


class UnreachableError(SmartsockError):
    """send(identity=...): no peer with that identity (EHOSTUNREACH)."""


class MessageTooBig(SmartsockError):
    """Over the daemon's max_message_size (EMSGSIZE)."""


class NoBufferError(SmartsockError):
    """send buffer full with overflow = drop-new (ENOBUFS)."""


class DaemonStopping(SmartsockError, ConnectionError):
    """The daemon sent CLOSING: nothing new can be sent on this
    connection (ESHUTDOWN; Socket.reason() while it stops)."""


class NotAttached(SmartsockError, ConnectionError):
    """Not attached to smartsockd within the timeout: the daemon is away
    and the handle is re-attaching (ENOTCONN; nothing was sent)."""


class Disconnected(SmartsockError, ConnectionError):
    """The daemon closed the connection (EPIPE / ECONNRESET)."""


def status_error(status, text=None):
    """The exception for a REFUSE / SEND_RESULT status."""
    from . import lproto
    if status == lproto.ST_UNREACHABLE:
        return UnreachableError(_errno.EHOSTUNREACH,
                                "no peer with that identity is connected")
    if status == lproto.ST_TOO_BIG:
        return MessageTooBig(_errno.EMSGSIZE, "message larger than the "
                             "daemon's max_message_size")
    if status == lproto.ST_BAD_VERSION:
        return ProtocolError(text or "smartsockd speaks another local "
                             "protocol version")
    if status == lproto.ST_NO_BUFFER:
        return NoBufferError(_errno.ENOBUFS, "send buffer full, message "
                             "dropped")
    if status == lproto.ST_REFUSED:
        return AccessDenied(_errno.EACCES, text or
                            "access to the smart socket denied")
    if status == lproto.ST_TOO_MANY:
        return TooManyClients(_errno.EUSERS, text or "too many applications "
                              "attached to the smart socket")
    return ConnectionRefusedError(_errno.ECONNREFUSED,
                                  text or "refused (status %d)" % status)
