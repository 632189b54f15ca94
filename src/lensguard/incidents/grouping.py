"""``IncidentGrouper``: files every detection under an incident, on a task of its own."""

from __future__ import annotations

from lensguard.incidents.book import IncidentBook
from lensguard.threats.detection import Detection, DetectionPublisher
from lensguard.threats.inbox import Inbox

QUEUE_SIZE = 1_000


class IncidentGrouper:
    """Subscribes to the detections; ``book.record`` each one, in order."""

    def __init__(self, book: IncidentBook, *, maxsize: int = QUEUE_SIZE) -> None:
        self.book = book
        self._inbox: Inbox[Detection] = Inbox(book.record, name="incidents", maxsize=maxsize)

    @property
    def dropped(self) -> int:
        return self._inbox.dropped

    def start(self, detections: DetectionPublisher) -> None:
        self._inbox.attach(detections)

    async def stop(self) -> None:
        await self._inbox.stop()

    async def drained(self) -> None:
        await self._inbox.drained()
