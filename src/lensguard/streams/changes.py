"""What the streams room tells its observers after it applied a change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lensguard.logs import get_logger

log = get_logger("lensguard.streams")

ChangeKind = Literal["stream", "site", "grant_ended"]


@dataclass(frozen=True)
class StreamChange:
    """One applied change: a device's settings, a site's policy, or a grant ended early."""

    kind: ChangeKind
    device_id: str | None = None
    site: str | None = None
    grant_id: str | None = None


Observer = Callable[[StreamChange], None]


class Observers:
    """Change observers, called in order; one that raises is logged and skipped."""

    def __init__(self) -> None:
        self._observers: tuple[Observer, ...] = ()

    def add(self, observer: Observer) -> Callable[[], None]:
        """Add ``observer``; returns the function that removes it."""
        self._observers = (*self._observers, observer)

        def remove() -> None:
            self._observers = tuple(o for o in self._observers if o is not observer)

        return remove

    def notify(self, change: StreamChange) -> None:
        """Tell every observer; never raises into the change that was applied."""
        for observer in self._observers:
            try:
                observer(change)
            except Exception as exc:
                log.warning("stream_observer_failed", kind=change.kind, error=type(exc).__name__)
