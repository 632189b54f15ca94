"""Owner-only files and directories: everything lensguard keeps under ``var_dir``.

``var_dir`` holds the database, keys, the dev secret, journals and queues. New files
are created 0600 and directories 0700 by explicit mode, whatever the umask; start-up
also tightens what an older version (or a hand-made copy) left wider.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700
_FLAGS = {"w": os.O_WRONLY | os.O_TRUNC, "a": os.O_WRONLY | os.O_APPEND, "x": os.O_WRONLY}


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (missing parents are made too)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path, DIR_MODE)
    return path


def open_private(
    path: Path, mode: str = "w", *, encoding: str | None = "utf-8", tighten: bool = True
) -> IO[Any]:
    """Open ``path`` for writing (``w``, ``a``, ``x`` with optional ``b``), created 0600.

    ``tighten`` also narrows an existing file to 0600; pass False for a file outside
    ``var_dir`` that an operator may have widened on purpose (a log shipper's copy).
    """
    base = mode.replace("b", "")
    flags = _FLAGS[base] | os.O_CREAT | (os.O_EXCL if base == "x" else 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        if tighten:
            _tighten_fd(fd)  # O_CREAT's mode does not apply to an existing file
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path``'s content with ``data``; the file is 0600."""
    with open_private(path, "wb") as out:
        out.write(data)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 when missing, else narrow it to 0600.

    For files a library creates on first open (SQLite): made by us first, they are
    private from the start, and SQLite gives its -wal, -shm and -journal files the
    database file's own mode.
    """
    open_private(path, "a", encoding=None, tighten=True).close()


def tighten_tree(root: Path) -> None:
    """Narrow ``root`` and everything under it to 0700 (directories) and 0600 (files)."""
    if not root.is_dir():
        return
    _tighten(root, DIR_MODE)
    for parent, dirs, files in os.walk(root):
        for name in dirs:
            _tighten(Path(parent, name), DIR_MODE)
        for name in files:
            _tighten(Path(parent, name), FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    # Links are not followed (they may point anywhere) and other users' files are not
    # ours to change; only group and other bits are ever removed.
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)


def _tighten_fd(fd: int) -> None:
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & FILE_MODE)
