"""WebSocket close codes of /v1/signal (documented in docs/signaling.md)."""

POLICY_VIOLATION = 1008
"""Malformed or oversized frame, flood, candidate overrun, forbidden Origin."""
UNSUPPORTED_DATA = 1003
"""A binary frame: the protocol is JSON text frames only."""
TRY_AGAIN_LATER = 1013
"""The per-address request rate limit refused the connection."""
INTERNAL_ERROR = 1011
"""A server fault; the client may reconnect with backoff."""
UNAUTHENTICATED = 4401
"""No valid credential within the auth timeout, or the session was revoked."""
ACCESS_CHANGED = 4403
"""The principal's role or scope no longer allows what this connection was doing."""
