"""A real ``lensguard serve`` process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.harness.ice import host_blocks
from tests.harness.ports import free_port

STRONG_SECRET_BYTES = 48


def strong_secret() -> str:
    """A secret the production checks accept."""
    return secrets.token_urlsafe(STRONG_SECRET_BYTES)


@dataclass
class LiveServer:
    """A running server process: where it listens and what it printed."""

    process: subprocess.Popen[bytes]
    base_url: str
    var_dir: Path
    stdout_path: Path
    stderr_path: Path
    cert_path: Path | None = field(default=None)
    env: dict[str, str] = field(default_factory=dict)
    """The ``LENSGUARD_*`` variables it was started with (its secret key among them)."""

    def output(self) -> str:
        """Everything the process wrote so far, stdout then stderr."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    def client(self, **kwargs: Any) -> httpx.Client:
        verify: Any = True
        if self.cert_path is not None:
            verify = ssl.create_default_context(cafile=str(self.cert_path))
        return httpx.Client(base_url=self.base_url, verify=verify, timeout=10, **kwargs)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write a YAML settings file."""
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def spawn(
    workdir: Path,
    config: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = ("serve",),
) -> subprocess.Popen[bytes]:
    """Start ``python -m lensguard -c <config> <args>`` with output captured to files."""
    config_path = write_config(workdir / "lensguard.yaml", config)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    with (workdir / "stdout.log").open("wb") as out, (workdir / "stderr.log").open("wb") as err:
        # The child keeps its own copies of the descriptors; ours close here.
        return subprocess.Popen(
            [sys.executable, "-m", "lensguard", "-c", str(config_path), *args],
            cwd=workdir,
            env=full_env,
            stdout=out,
            stderr=err,
        )


def start_server(
    workdir: Path,
    config: dict[str, Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    port: int | None = None,
) -> LiveServer:
    """Start a server and wait until ``/healthz`` answers over HTTPS.

    ``port`` (a free one by default) is for configurations that must name the
    server's own address, such as a single sign-on redirect URI.
    """
    port = port or free_port()
    var_dir = workdir / "var"
    merged: dict[str, Any] = {
        "mode": "production",
        "var_dir": str(var_dir),
        "server": {"host": "127.0.0.1", "port": port},
    }
    merged.update(config or {})
    merged["server"] = {**merged.get("server", {}), "port": port}
    # Test peers meet on this machine's own addresses (reserved ranges in a container).
    merged.setdefault("media", {"ice": {"allow_remote_addresses": host_blocks()}})
    process_env = {} if merged["mode"] == "dev" else {"LENSGUARD_SECRET_KEY": strong_secret()}
    process_env.update(env or {})
    process = spawn(workdir, merged, env=process_env)
    tls = merged.get("security", {}).get("encryption", {}).get("enabled", True)
    server = LiveServer(
        process=process,
        base_url=f"{'https' if tls else 'http'}://127.0.0.1:{port}",
        var_dir=var_dir,
        stdout_path=workdir / "stdout.log",
        stderr_path=workdir / "stderr.log",
        cert_path=(var_dir / "tls-cert.pem") if tls else None,
        env=process_env,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()}")
        try:
            with server.client() as client:
                if client.get("/healthz").status_code == 200:
                    return server
        except (httpx.TransportError, FileNotFoundError, OSError):
            pass
        time.sleep(0.2)
    server.stop()
    raise TimeoutError(f"server did not become healthy:\n{server.output()}")
