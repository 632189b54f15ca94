"""WebSocket close codes of /v1/signal: the protocol's table (``lensguard.wire.closes``)."""

from lensguard.wire.closes import Close

NORMAL = Close.NORMAL
GOING_AWAY = Close.GOING_AWAY
POLICY_VIOLATION = Close.POLICY_VIOLATION
UNSUPPORTED_DATA = Close.UNSUPPORTED_DATA
TRY_AGAIN_LATER = Close.TRY_AGAIN_LATER
INTERNAL_ERROR = Close.INTERNAL_ERROR
UNAUTHENTICATED = Close.UNAUTHENTICATED
ACCESS_CHANGED = Close.ACCESS_CHANGED
