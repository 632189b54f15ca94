"""Free loopback ports and waiting for them.

Ports come from a band below the kernel's ephemeral range, so an outgoing
connection's source port can never take a port a test chose but has not bound
yet (a server still starting). Under pytest-xdist each worker draws from its own
slice of the band, so two workers never hand out the same port; within a
process ports are handed out in turn, each checked free for TCP and UDP.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

BAND_LOW = 20000
BAND_HIGH = 32768
WORKER_SLICES = 16


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return BAND_HIGH


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = name.removeprefix("gw")
    return int(digits) % WORKER_SLICES if digits.isdigit() else 0


def _candidates() -> Iterator[int]:
    high = min(BAND_HIGH, _ephemeral_low())
    size = (high - BAND_LOW) // WORKER_SLICES
    if size < 64:  # no room below the ephemeral range: let the kernel choose
        return iter(())
    start = BAND_LOW + _worker_index() * size
    # Separate runs on one machine start at different points of the slice.
    offset = (os.getpid() * 97) % size
    return itertools.cycle([start + (offset + i) % size for i in range(size)])


_lock = threading.Lock()
_next = _candidates()


def _is_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _kernel_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port() -> int:
    """A loopback port (TCP and UDP) nobody uses now, not handed out lately by this process."""
    with _lock:
        for port in itertools.islice(_next, 4096):
            if _is_free(port):
                return port
    return _kernel_port()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port: int, *, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until ``host:port`` accepts connections; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout}s")
