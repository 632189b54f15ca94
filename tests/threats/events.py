"""Events for the threat tests, built through the documented JSON schema."""

from __future__ import annotations

import itertools
from typing import Any

from lensguard.threats.observation import Observation, from_json

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
_serial = itertools.count()


def event(name: str, at: float, **fields: Any) -> Observation:
    """An observation of ``name`` at ``T0 + at`` seconds with ``fields``."""
    return from_json({"id": f"ev{next(_serial)}", "name": name, "time": T0 + at, "fields": fields})
