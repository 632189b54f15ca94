"""The anomaly rule: the IsolationForest baseline over each closed feature window.

Windows close together at each window boundary (``threats.features``) and are scored in
one batch on a worker thread, so the loop never waits on the forest. A window scoring at
or above the threshold is an ``anomaly`` naming the source and the window's events.
The open windows are this node's own (not in Redis): in cluster mode each node judges
the traffic it serves.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from lensguard.ip import parse_address
from lensguard.threats.features import FEATURES, Aggregator, Row
from lensguard.threats.model import AnomalyModel
from lensguard.threats.observation import Observation
from lensguard.threats.rule import Finding
from lensguard.threats.windows import Windows


class Anomaly:
    """Feature windows the model scores at or above ``threshold`` (``anomaly``)."""

    name: ClassVar[str] = "anomaly"
    kinds: ClassVar[tuple[str, ...]] = ("anomaly",)
    types: ClassVar[frozenset[str]] = frozenset()  # every event counts in its window

    def __init__(self, model: AnomalyModel, *, threshold: float, in_thread: bool = True) -> None:
        self.model = model
        self.threshold = threshold
        self.in_thread = in_thread
        self.aggregator = Aggregator(model.trained.window_seconds)
        self.scored = 0

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        return await self.judge(self.aggregator.add(event))

    async def finish(self) -> list[Finding]:
        """Score the windows still open (the end of a replay)."""
        return await self.judge(self.aggregator.flush())

    async def judge(self, rows: list[Row]) -> list[Finding]:
        if not rows:
            return []
        if self.in_thread:
            scores = await asyncio.to_thread(self.model.scores, rows)
        else:
            scores = self.model.scores(rows)
        self.scored += len(rows)
        found = []
        for row, score in zip(rows, scores, strict=True):
            if score < self.threshold:
                continue
            address = row.subject if parse_address(row.subject) is not None else None
            principal = None if address else row.subject
            details = {
                "window_start": row.start,
                "features": {k: round(v, 3) for k, v in zip(FEATURES, row.values, strict=True)},
            }
            found.append(Finding("anomaly", score, address, principal, row.event_ids, details))
        return found
