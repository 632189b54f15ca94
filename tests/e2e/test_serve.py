"""A real ``lensguard serve`` process: TLS, start-up refusal, first admin, logs."""

import os
import re
import signal
import ssl
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest

from tests.harness.ports import free_port
from tests.harness.server import spawn, start_server, strong_secret

pytestmark = pytest.mark.slow


def run_to_exit(workdir: Path, config: dict[str, object], env: dict[str, str]) -> tuple[int, str]:
    process = spawn(workdir, config, env=env)
    code = process.wait(timeout=60)
    output = (workdir / "stdout.log").read_text() + (workdir / "stderr.log").read_text()
    return code, output


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(None, "not set"), ("changeme", "well-known default"), ("tooshort", "shorter than 32")],
)
def test_refuses_to_start_with_weak_secret_outside_dev(
    tmp_path: Path, secret: str | None, reason: str
) -> None:
    env = {"LENSGUARD_SECRET_KEY": secret} if secret else {}
    config: dict[str, object] = {
        "mode": "production",
        "var_dir": str(tmp_path / "var"),
        "server": {"port": free_port()},
    }
    code, output = run_to_exit(tmp_path, config, env)
    assert code == 2
    assert reason in output
    assert "lensguard secret generate" in output
    assert "Traceback" not in output
    assert not (tmp_path / "var" / "lensguard.db").exists()


def test_serves_https_with_tls12_minimum_and_generated_certificate(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        assert server.cert_path is not None and server.cert_path.exists()
        key_mode = os.stat(server.var_dir / "tls-key.pem").st_mode & 0o777
        assert key_mode == 0o600
        with server.client() as client:  # verifies against the generated cert: SAN 127.0.0.1
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").json()["checks"] == {"database": "ok"}
        fingerprint = re.search(r"SHA-256 fingerprint: ([0-9A-F:]{95})", server.output())
        assert fingerprint is not None

        port = int(server.base_url.rsplit(":", 1)[1])
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with pytest.raises((ssl.SSLError, httpx.ConnectError)), httpx.Client(verify=old) as legacy:
            legacy.get(f"https://127.0.0.1:{port}/healthz")
        modern = ssl.create_default_context(cafile=str(server.cert_path))
        modern.maximum_version = ssl.TLSVersion.TLSv1_2
        with httpx.Client(verify=modern) as tls12:
            assert tls12.get(f"https://localhost:{port}/healthz").status_code == 200
    finally:
        # uvicorn shuts down gracefully, then re-raises SIGTERM.
        assert server.stop() in (0, -signal.SIGTERM)


def test_first_start_prints_one_time_password_once(tmp_path: Path) -> None:
    config = {"mode": "dev"}
    first = start_server(tmp_path, config)
    first.stop()
    out1 = first.output()
    match = re.search(r"one-time password: (\S+)", out1)
    assert match is not None
    password = match.group(1)
    assert len(password) >= 20
    # The password is printed for the person, never logged.
    assert password not in first.stderr_path.read_text()
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600

    second = start_server(tmp_path, config)
    second.stop()
    out2 = second.output()
    assert "one-time password" not in out2
    assert "TLS certificate (loaded)" in out2


def test_readyz_reports_unreachable_redis(tmp_path: Path) -> None:
    dead = free_port()
    server = start_server(
        tmp_path,
        {"redis": {"url": f"redis://127.0.0.1:{dead}/0"}, "limits": {"requests_per_minute": 100}},
    )
    try:
        with server.client() as client:
            response = client.get("/readyz")
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}
    assert body["detail"] == "unreachable: redis"
    assert "rate_limit_store_unavailable" in server.output()


def test_secret_never_appears_in_logs(tmp_path: Path) -> None:
    secret = strong_secret()
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"
    server = start_server(tmp_path, env={"LENSGUARD_SECRET_KEY": secret})
    try:
        with server.client() as client:
            client.get("/healthz", headers={"Authorization": f"Bearer {jwt}"})
            client.get(f"/nope?token={jwt}&password=hunter2hunter2")
            client.post("/healthz", content=b"password=hunter2hunter2")
    finally:
        server.stop()
    logs = server.output()
    assert "GET /nope" in logs  # the access log did record the request
    for leaked in (secret, jwt, "hunter2hunter2"):
        assert leaked not in logs


def test_cli_help_explains() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lensguard", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("serve", "db", "admin", "config"):
        assert command in result.stdout
