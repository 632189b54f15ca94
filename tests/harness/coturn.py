"""A real coturn (``turnserver``) on free loopback ports, started and stopped by tests."""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.ports import free_port, wait_for_port
from tests.harness.server import strong_secret

TURNSERVER = "/usr/bin/turnserver"


def turnserver() -> str:
    """The coturn binary, or a clear error saying how to install it."""
    found = shutil.which("turnserver") or (TURNSERVER if Path(TURNSERVER).exists() else None)
    if found is None:
        raise RuntimeError("coturn is not installed; run `make test` or `apt-get install coturn`")
    return found


def relay_port_range() -> tuple[int, int]:
    """A random 200-port block for relay allocations, so parallel coturns rarely collide."""
    low = random.randrange(40_000, 60_000, 200)
    return low, low + 199


@dataclass
class Coturn:
    """A running turnserver: where it listens and what it logged."""

    process: subprocess.Popen[bytes]
    port: int
    secret: str
    realm: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _private_files(workdir: Path) -> list[str]:
    # Keep coturn's pid file and (unused) user database out of /var.
    return [f"--pidfile={workdir / 'turnserver.pid'}", f"--userdb={workdir / 'turndb'}"]


def spawn(
    workdir: Path, args: list[str], port: int, *, timeout: float = 15.0
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start turnserver with ``args``, logging to a file; wait until ``port`` accepts TCP."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "turnserver.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [turnserver(), *args, *_private_files(workdir), "--log-file=stdout"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=timeout)
    except TimeoutError:
        process.kill()
        process.wait()
        output = log_path.read_text(errors="replace")
        raise RuntimeError(f"turnserver did not start:\n{output}") from None
    return process, log_path


def start_coturn(
    workdir: Path, *, secret: str | None = None, realm: str = "lensguard.test"
) -> Coturn:
    """A test coturn with REST-API secrets that (unlike production) relays on loopback."""
    secret = secret or strong_secret()
    port = free_port()
    low, high = relay_port_range()
    args = [
        "-n",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={realm}",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--fingerprint",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        f"--min-port={low}",
        f"--max-port={high}",
        # Both test peers live on loopback; production configs deny it (lensguard turn config).
        "--allow-loopback-peers",
        "--verbose",
    ]
    process, log_path = spawn(workdir, args, port)
    return Coturn(process=process, port=port, secret=secret, realm=realm, log_path=log_path)


@contextmanager
def coturn(workdir: Path, **kwargs: str) -> Iterator[Coturn]:
    """A coturn for the duration of the block."""
    server = start_coturn(workdir, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def run_config(workdir: Path, config: Path, port: int, *, settle: float = 1.5) -> str:
    """Start turnserver on ``config``, let it run ``settle`` seconds, stop it; its output.

    Raises RuntimeError when it exits early or never listens on ``port``.
    """
    process, log_path = spawn(workdir, ["-c", str(config)], port)
    try:
        time.sleep(settle)
        if process.poll() is not None:
            raise RuntimeError(
                f"turnserver exited with {process.returncode}:\n{log_path.read_text()}"
            )
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
    return log_path.read_text(errors="replace")
