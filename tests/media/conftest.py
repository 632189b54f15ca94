"""Media test fixtures."""

from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Any]]:
    """Viewers and devices a test opened, closed after it (newest first)."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        await item.close() if hasattr(item, "close") else await item.stop()
