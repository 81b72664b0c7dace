"""What Socket and AsyncSocket share: the handle's settings and what it
can tell about its state without waiting.  The subclasses drive the
operations of _core.Core, blocking or on an event loop."""
import errno
from typing import Optional

from . import _core


class Handle:
    def __init__(self, name_or_path, runtime_dir, timeout, reconnect):
        self.path = _core.resolve(name_or_path, runtime_dir)
        self._timeout = None
        self.settimeout(timeout)
        self._reconnect = bool(reconnect)
        self._core = None

    def _connect_once(self):
        """The first connection, or None while the daemon's listen queue
        is full (the caller tries again until the open timeout)."""
        try:
            return _core.connect_unix(self.path)
        except BlockingIOError:
            return None

    def _new_core(self, sock):
        """The handle's state on its first connection, HELLO queued."""
        core = _core.Core(self.path)
        core.reconnect = self._reconnect
        core.attach_sock(sock)
        return core

    @staticmethod
    def _open_timed_out():
        return TimeoutError(errno.ETIMEDOUT,
                            "smartsockd did not answer in time")

    def _close_wait(self):
        """How long close() may wait to flush."""
        t = self._timeout
        return _core.CLOSE_WAIT if t is None or t > _core.CLOSE_WAIT else t

    # -- settings ------------------------------------------------------
    def settimeout(self, timeout: Optional[float]) -> None:
        """Seconds each call may wait: None for ever, 0 never."""
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be None or >= 0")
        self._timeout = timeout

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def set_reconnect(self, on: bool) -> None:
        """Attach again when the daemon goes away (True, the default), or
        not (calls then fail with Disconnected, once the messages already
        read are taken)."""
        self._reconnect = bool(on)
        if self._core is not None:
            self._core.set_reconnect(on)

    # -- state ---------------------------------------------------------
    def events(self) -> int:
        """EVENT_ATTACHED (attached now), EVENT_LOST (the daemon went
        away or is stopping) and EVENT_BACK (attached again) since the
        last call, as bits; does only what needs no waiting (a due
        attempt to re-attach, reading).  reason() says why when not
        attached."""
        if self._core is None:
            return 0
        return self._core.take_events()

    def reason(self) -> Optional[OSError]:
        """Why the handle cannot send now, as an exception (NotAttached,
        DaemonStopping, Disconnected, ConnectionRefusedError...), or None
        while attached."""
        return self._core.reason() if self._core is not None else None

    @property
    def attached(self) -> bool:
        return self._core is not None and self._core.sendable()

    @property
    def identity(self) -> Optional[bytes]:
        """The identity (16 bytes) the smart socket presents to peers,
        from the latest attach."""
        return self._core.identity if self._core is not None else None

    @property
    def max_message_size(self) -> int:
        return self._core.max_msg if self._core is not None else 0
