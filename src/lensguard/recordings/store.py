"""Where encrypted segments are kept: the ``SegmentStore`` seam and the local store.

A store keeps opaque bytes (already encrypted, see ``crypto.py``) under opaque,
path-safe ids; it never sees a key. Two implementations: ``LocalStore`` (files under
``var/recordings``, the default) and ``S3Store`` (``s3.py``, S3-compatible object
storage for clusters).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from lensguard.private import FILE_MODE, private_dir

SEGMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_TEMP_PREFIX = ".partial-"


class SegmentNotFound(LookupError):
    """Raised when no segment is stored under the id asked for."""


def new_segment_id() -> str:
    """A random, opaque, path-safe id for a new segment."""
    return secrets.token_hex(16)


def check_segment_id(segment_id: str) -> str:
    """``segment_id`` when it is path-safe; ValueError otherwise (no input echoed)."""
    if not isinstance(segment_id, str) or not SEGMENT_ID.match(segment_id):
        raise ValueError("a segment id is 1 to 128 letters, digits, '-' or '_'")
    return segment_id


def check_range(start: int, length: int) -> None:
    """Refuse a negative range start or length."""
    if start < 0 or length < 0:
        raise ValueError("a range starts at 0 or later and has a length of 0 or more")


class SegmentStore(Protocol):
    """Stored segment bytes by id. ``put`` never leaves a partial segment under its id."""

    async def put(self, segment_id: str, data: bytes) -> None:
        """Store ``data`` under ``segment_id`` (replacing any segment of that id)."""

    async def get(self, segment_id: str) -> bytes:
        """The whole segment; raises ``SegmentNotFound``."""

    async def get_range(self, segment_id: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``start`` (fewer at the end); ``SegmentNotFound``."""

    async def size(self, segment_id: str) -> int:
        """The stored length in bytes; raises ``SegmentNotFound``."""

    async def delete(self, segment_id: str) -> bool:
        """Remove a segment; False when there was none."""

    async def list(self) -> list[str]:
        """Every stored segment id, sorted."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    """Segments as files under one directory (0700), each file 0600.

    A segment is written to a temporary file in the same directory, flushed to disk
    and renamed into place, then the directory is flushed: after a crash a segment is
    either whole under its id or absent (a leftover ``.partial-*`` file is never
    listed, and ``discard_partials`` removes it).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self) -> Path:
        return private_dir(self.root)

    def _path(self, segment_id: str) -> Path:
        return self.root / check_segment_id(segment_id)

    def _put(self, segment_id: str, data: bytes) -> None:
        final = self._path(segment_id)
        directory = self._dir()
        temp = directory / f"{_TEMP_PREFIX}{segment_id}-{secrets.token_hex(4)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temp, flags, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(directory)

    async def put(self, segment_id: str, data: bytes) -> None:
        """Store ``data`` under ``segment_id`` atomically and durably."""
        await asyncio.to_thread(self._put, segment_id, data)

    def _read(self, segment_id: str, start: int, length: int | None) -> bytes:
        path = self._path(segment_id)
        try:
            with path.open("rb") as source:
                source.seek(start)
                return source.read() if length is None else source.read(length)
        except FileNotFoundError:
            raise SegmentNotFound("no such segment") from None

    async def get(self, segment_id: str) -> bytes:
        """The whole segment."""
        return await asyncio.to_thread(self._read, segment_id, 0, None)

    async def get_range(self, segment_id: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``start``."""
        check_range(start, length)
        return await asyncio.to_thread(self._read, segment_id, start, length)

    async def size(self, segment_id: str) -> int:
        """The stored length in bytes."""
        try:
            return self._path(segment_id).stat().st_size
        except FileNotFoundError:
            raise SegmentNotFound("no such segment") from None

    def _delete(self, segment_id: str) -> bool:
        path = self._path(segment_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(self.root)
        return True

    async def delete(self, segment_id: str) -> bool:
        """Remove a segment; False when there was none."""
        return await asyncio.to_thread(self._delete, segment_id)

    def _names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for entry in os.scandir(self.root):
            if entry.is_file() and SEGMENT_ID.match(entry.name):
                yield entry.name

    async def list(self) -> list[str]:
        """Every stored segment id, sorted (partial files left by a crash excluded)."""
        return sorted(await asyncio.to_thread(lambda: list(self._names())))

    def discard_partials(self) -> int:
        """Remove temporary files a crash left behind; how many there were."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in os.scandir(self.root):
            if entry.name.startswith(_TEMP_PREFIX):
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed
