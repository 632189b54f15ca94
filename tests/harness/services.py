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
import time
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


@dataclass(frozen=True)
class Cluster:
    """A new, initialised PostgreSQL data directory, owned by the user that will run it."""

    workdir: Path
    data: Path
    run_as: list[str]
    uid: int | None
    """The owner to give files the server must read (None: we are that user)."""
    gid: int | None

    def own(self, *paths: Path) -> None:
        """Give ``paths`` to the server's user (PostgreSQL refuses to run as root)."""
        if self.uid is not None and self.gid is not None:
            for path in paths:
                os.chown(path, self.uid, self.gid)


def init_cluster(prefix: str = "lg-pg-") -> Cluster:
    """``initdb`` in a new temporary directory (trust auth, UTF-8)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    data = workdir / "data"
    run_as: list[str] = []
    uid = gid = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            entry = pwd.getpwnam("nobody")
        uid, gid = entry.pw_uid, entry.pw_gid
        os.chown(workdir, uid, gid)
        os.chmod(workdir, 0o700)
        run_as = ["runuser", "-u", entry.pw_name, "--"]
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
    return Cluster(workdir, data, run_as, uid, gid)


def run_cluster(cluster: Cluster, settings: dict[str, str], url: str) -> Server:
    """Start ``postgres`` on ``cluster`` with ``settings``; ``url`` names its port as ``{port}``."""
    port = free_port()
    options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
    process = subprocess.Popen(
        [
            *cluster.run_as,
            _pg_bin("postgres"),
            "-D",
            str(cluster.data),
            "-p",
            str(port),
            "-k",
            str(cluster.workdir),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(url.format(port=port), process, cluster.workdir)
    try:
        wait_for_port(port, timeout=60)
        wait_until_accepting(port, timeout=60)
    except TimeoutError:
        server.stop()
        raise
    return server


def wait_until_accepting(port: int, *, timeout: float) -> None:
    """Block until PostgreSQL on ``port`` accepts sessions, not only TCP connections.

    The postmaster listens before start-up is over and meanwhile refuses every session
    with "the database system is starting up"; ``pg_isready`` exits 0 only once it
    accepts them.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [_pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "5"],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"PostgreSQL on port {port} did not accept sessions within {timeout}s")


def start_postgres() -> Server:
    """initdb + postgres on a free port in a temporary directory (trust auth, loopback)."""
    settings = {"listen_addresses": "127.0.0.1", "fsync": "on", "max_connections": "200"}
    return run_cluster(init_cluster(), settings, "postgresql://postgres@127.0.0.1:{port}/postgres")


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
