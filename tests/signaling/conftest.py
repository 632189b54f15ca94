"""Signaling test fixtures; the helpers live in tests/harness/world.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.harness.world import (
    ADMIN_PASSWORD,
    PASSWORD,
    Peer,
    World,
    auth,
    bootstrap_admin,
    open_peer,
    tmp_world,
)

__all__ = [
    "ADMIN_PASSWORD",
    "PASSWORD",
    "Peer",
    "World",
    "auth",
    "bootstrap_admin",
    "open_peer",
    "tmp_world",
]


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    """Peers opened in a test are closed after it."""
    opened: list[Peer] = []
    yield opened
    for peer in opened:
        await peer.ws.close()
