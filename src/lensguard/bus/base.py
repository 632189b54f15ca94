"""What a bus is: named channels carrying small JSON messages, fire-and-forget.

Delivery is at-most-once to the subscribers listening at publish time, like Redis
pub/sub: signaling is interactive and retried by its peers, so a message to nobody
is simply dropped. Each subscription has a bounded queue; a subscriber that falls
behind loses its oldest messages (counted) rather than slowing the publisher.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

MAX_MESSAGE_BYTES = 128 * 1024
QUEUE_SIZE = 1024


class BusError(RuntimeError):
    """Raised when the bus cannot publish or subscribe (e.g. Redis unreachable)."""


def encode(message: dict[str, Any]) -> bytes:
    """Compact JSON; refuses messages larger than the bus carries."""
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"bus message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return data


def decode(data: bytes | str) -> dict[str, Any]:
    """Parse a bus message; raises ValueError for anything but a JSON object."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("bus messages are JSON objects")
    return value


class Subscription(Protocol):
    """Messages arriving on the subscribed channels, until closed."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def close(self) -> None:
        """Stop listening and release resources."""
        ...


class Bus(Protocol):
    """Publish to and subscribe to named channels."""

    async def publish(self, channel: str, message: dict[str, Any]) -> int:
        """Send ``message``; the number of local/remote receivers when known (else -1)."""
        ...

    async def subscribe(self, *channels: str) -> Subscription:
        """Start listening; messages published after this returns are delivered."""
        ...

    async def close(self) -> None:
        """Close every subscription and connection."""
        ...
