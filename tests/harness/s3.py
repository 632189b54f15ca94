"""A real S3-compatible server for tests: moto's server mode as its own process."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.harness.ports import free_port, wait_for_port
from tests.harness.services import Server

ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # moto accepts any credentials


def _moto_command() -> list[str]:
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is not installed; run `make setup` (dev extra)")
    return [found]


def start_moto() -> Server:
    """``moto_server`` on a free loopback port; state lives in its memory only."""
    port = free_port()
    process = subprocess.Popen(
        [*_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        wait_for_port(port, timeout=60)
    except TimeoutError:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def moto() -> Iterator[Server]:
    """An S3 endpoint for the session, stopped at the end."""
    server = start_moto()
    try:
        yield server
    finally:
        server.stop()
