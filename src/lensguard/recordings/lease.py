"""One retention job at a time, cluster-wide: a Redis lease, or a file lock on one host.

With Redis (cluster mode) the lease is a key set only if absent, with a TTL, holding
a random token: it is renewed while the job works and deleted only by its holder,
so a node that dies mid-run frees it after the TTL. Without Redis (embedded mode,
one server process) an exclusive ``flock`` on ``<var_dir>/retention.lock`` keeps
the server and ``lensguard recordings retention`` from running at once; the kernel
drops it when the process dies, kill -9 included.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from pathlib import Path
from typing import Protocol

from redis.asyncio import Redis

from lensguard.private import FILE_MODE

LEASE_KEY = "lg:recordings:retention"

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease(Protocol):
    """Held by one job at a time."""

    async def acquire(self) -> bool:
        """Take the lease; False when someone else holds it."""

    async def renew(self) -> bool:
        """Extend a held lease; False when it was lost (expired and taken)."""

    async def release(self) -> None:
        """Give the lease up (harmless when not held)."""


class RedisLease:
    """A lease every node sees: ``SET key token NX EX ttl``."""

    def __init__(self, redis: Redis, *, ttl: int, key: str = LEASE_KEY) -> None:
        self._redis, self._ttl, self._key = redis, ttl, key
        self._token: str | None = None
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        token = secrets.token_hex(16)
        if await self._redis.set(self._key, token, nx=True, ex=self._ttl):
            self._token = token
            return True
        return False

    async def renew(self) -> bool:
        if self._token is None:
            return False
        return bool(await self._renew(keys=[self._key], args=[self._token, self._ttl]))

    async def release(self) -> None:
        if self._token is not None:
            await self._release(keys=[self._key], args=[self._token])
            self._token = None


class FileLease:
    """An exclusive, non-blocking ``flock`` on one file: one process of one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def renew(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
