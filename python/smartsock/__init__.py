"""smartsock: a pure-Python client of smartsockd.

Socket (blocking) and AsyncSocket (asyncio) attach to a smart socket that
smartsockd owns and send and receive whole messages through it over the
local protocol (smartsock.lproto), as libsmartsock does.
"""
from ._sync import Socket
from ._async import AsyncSocket
from ._core import EVENT_ATTACHED, EVENT_BACK, EVENT_LOST, RETRY_MAX
from .errors import (AccessDenied, DaemonStopping, Disconnected,
                     MessageTooBig, NoBufferError, NotAttached,
                     ProtocolError, SmartsockError, TooManyClients,
                     UnreachableError)
from . import lproto

IDENTITY_LEN = lproto.ID_LEN

__all__ = ["Socket", "AsyncSocket", "SmartsockError", "ProtocolError",
           "AccessDenied", "TooManyClients", "UnreachableError",
           "MessageTooBig", "NoBufferError", "DaemonStopping",
           "Disconnected", "NotAttached", "EVENT_ATTACHED", "EVENT_LOST",
           "EVENT_BACK", "RETRY_MAX", "IDENTITY_LEN", "lproto"]
__version__ = "0.1.0"
