"""Real PostgreSQL and Redis for tests: the running ones when reachable, else throwaway ones.

Set ``LENSGUARD_TEST_PG`` (a ``postgresql://`` admin URL) or ``LENSGUARD_TEST_REDIS``
to point the suite elsewhere; set ``LENSGUARD_TEST_THROWAWAY=1`` to always start
private servers from the installed binaries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.harness.ports import free_port, port_open, wait_for_port


@dataclass
class Server:
    """A reachable server: its URL and, when we started it, how to stop it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _throwaway_forced() -> bool:
    return os.environ.get("LENSGUARD_TEST_THROWAWAY") == "1"


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed; run `make test` (it installs it) "
            "or `apt-get install postgresql`"
        )
    return found


def start_postgres() -> Server:
    """initdb + postgres on a free port in a temporary directory (trust auth, loopback)."""
    workdir = Path(tempfile.mkdtemp(prefix="lg-pg-"))
    data = workdir / "data"
    port = free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            user, entry = "nobody", pwd.getpwnam("nobody")
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
        os.chmod(workdir, 0o700)
        run_as = ["runuser", "-u", user, "--"]
    subprocess.run(
        [
            *run_as,
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process = subprocess.Popen(
        [
            *run_as,
            _pg_bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(workdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=on",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(f"postgresql://postgres@127.0.0.1:{port}/postgres", process, workdir)
    try:
        wait_for_port(port, timeout=60)
    except TimeoutError:
        server.stop()
        raise
    return server


def start_redis() -> Server:
    """redis-server on a free loopback port, nothing persisted."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed; run `make test` (it installs it) "
            "or `apt-get install redis-server`"
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(f"redis://127.0.0.1:{port}/0", process)
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        server.stop()
        raise
    return server


def _pg_reachable(url: str) -> bool:
    import asyncio

    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except Exception:
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@contextlib.contextmanager
def postgres() -> Iterator[Server]:
    """A PostgreSQL admin URL for the session."""
    url = os.environ.get("LENSGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    if not _throwaway_forced() and port_open(5432) and _pg_reachable(url):
        yield Server(url)
        return
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def redis() -> Iterator[Server]:
    """A Redis server of the session's own (one per test process).

    Pub/sub channels are global to a Redis server whatever the database index, so
    two test processes sharing one server would hear each other's revocations and
    presence. Each session (each xdist worker) therefore starts a throwaway
    ``redis-server``; ``LENSGUARD_TEST_REDIS`` names a shared one instead.
    """
    url = os.environ.get("LENSGUARD_TEST_REDIS")
    if url and not _throwaway_forced():
        yield Server(url)
        return
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()
