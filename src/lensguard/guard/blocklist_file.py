"""The embedded blocklist made durable: every block and unblock is journaled before it counts.

``FileBlocklist`` keeps ``MemoryBlocklist``'s in-memory lookups (the hot path) and
appends each change as one JSON line to ``<var_dir>/blocklist.jsonl``, flushed and
fsynced before the call returns, so a block the API acknowledged survives a crash or
restart. On start the journal is replayed (expired entries dropped, a torn last line
from a crash skipped: it was never acknowledged) and rewritten compacted, atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from lensguard.guard.blocklist import BlockEntry, MemoryBlocklist, parse_target, target_text
from lensguard.guard.client import Network
from lensguard.logs import get_logger
from lensguard.private import open_private, private_dir

log = get_logger("lensguard.guard")


class FileBlocklist(MemoryBlocklist):
    """``MemoryBlocklist`` whose changes are journaled to ``path`` (JSON Lines, fsynced)."""

    def __init__(
        self,
        path: Path,
        *,
        protected: tuple[Network, ...] = (),
        clock: Callable[[], float] = time.time,
        max_addresses: int = 100_000,
    ) -> None:
        super().__init__(protected=protected, clock=clock, max_addresses=max_addresses)
        self.path = path
        self._replay()

    def _replay(self) -> None:
        live: dict[str, BlockEntry] = {}
        skipped = 0
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    if record["op"] == "block":
                        entry = BlockEntry.from_json(json.dumps(record["entry"]))
                        live[entry.target] = entry
                    elif record["op"] == "unblock":
                        live.pop(str(record["target"]), None)
                except (ValueError, KeyError, TypeError):
                    skipped += 1
        now = self._clock()
        for entry in live.values():
            if not entry.expired(now):
                self._restore(entry)
        if skipped:
            log.warning("blocklist_journal_lines_skipped", count=skipped, path=str(self.path))
        self._compact()

    def _restore(self, entry: BlockEntry) -> None:
        network = parse_target(entry.target)
        if entry.is_range:
            self._ranges[entry.target] = (network, entry)
        else:
            self._addresses[entry.target] = entry

    def _compact(self) -> None:
        private_dir(self.path.parent)
        temporary = self.path.with_suffix(".tmp")
        entries = [*self._addresses.values(), *(e for _, e in self._ranges.values())]
        with open_private(temporary, "w") as out:
            for entry in entries:
                out.write(_line({"op": "block", "entry": json.loads(entry.to_json())}))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        _sync_dir(self.path.parent)

    def _append(self, record: dict[str, object]) -> None:
        with open_private(self.path, "a") as out:
            out.write(_line(record))
            out.flush()
            os.fsync(out.fileno())

    async def block(self, target: str, *, ttl: int | None, reason: str) -> BlockEntry:
        entry = await super().block(target, ttl=ttl, reason=reason)
        self._append({"op": "block", "entry": json.loads(entry.to_json())})
        return entry

    async def unblock(self, target: str) -> bool:
        found = await super().unblock(target)
        if found:
            self._append({"op": "unblock", "target": target_text(parse_target(target))})
        return found


def _line(record: dict[str, object]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def _sync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk too.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
