"""Kill -9 a server under audited load: every acknowledged action keeps its audit entry."""

import asyncio
import os
import re
import signal
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.server import LiveServer, start_server, strong_secret
from tests.harness.world import ADMIN_PASSWORD, auth, bootstrap_admin

pytestmark = pytest.mark.slow


async def hammer(
    server: LiveServer, admin: str, acknowledged: list[str], stop: asyncio.Event
) -> None:
    assert server.cert_path is not None
    ctx = ssl.create_default_context(cafile=str(server.cert_path))
    async with httpx.AsyncClient(base_url=server.base_url, verify=ctx, timeout=5) as client:
        n = 0
        while not stop.is_set():
            n += 1
            name = f"load{n:05d}"
            try:
                response = await client.post(
                    "/api/v1/users",
                    headers=auth(admin),
                    json={"username": name, "password": "a load test passphrase", "role": "viewer"},
                )
            except httpx.HTTPError:
                return  # the server died mid-request: not acknowledged
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])


async def test_sigkill_on_sqlite_loses_no_acknowledged_audit_entry(tmp_path: Path) -> None:
    await crash_and_check(tmp_path, {"limits": {"requests_per_minute": 1_000_000}})


async def test_sigkill_on_postgres_loses_no_acknowledged_audit_entry(
    tmp_path: Path, pg_url: str
) -> None:
    config = {"limits": {"requests_per_minute": 1_000_000}, "database": {"url": pg_url}}
    await crash_and_check(tmp_path, config)


async def crash_and_check(tmp_path: Path, config: dict[str, Any]) -> None:
    env = {"LENSGUARD_SECRET_KEY": strong_secret()}
    server = start_server(tmp_path, config, env=env)
    admin = bootstrap_admin(server)
    acknowledged: list[str] = []
    stop = asyncio.Event()
    workers = [asyncio.create_task(hammer(server, admin, acknowledged, stop)) for _ in range(4)]
    while len(acknowledged) < 20:
        await asyncio.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    stop.set()
    await asyncio.gather(*workers)

    port = int(server.base_url.rsplit(":", 1)[1])
    config["server"] = {"port": port}
    restarted = start_server(tmp_path, config, env=env)
    try:
        with restarted.client() as client:
            tokens = client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()
            headers = auth(tokens["access_token"])
            verified = client.get("/api/v1/audit/verify", headers=headers).json()
            created: set[str] = set()
            after = None
            while True:
                query = "/api/v1/audit?action=user.create&limit=500"
                page = client.get(query + (f"&after_seq={after}" if after else ""), headers=headers)
                body = page.json()
                created |= {e["resource_id"] for e in body["items"]}
                after = body["next_after_seq"]
                if after is None:
                    break
    finally:
        restarted.stop()
    assert verified["ok"] is True, verified
    missing = set(acknowledged) - created
    assert not missing, f"{len(missing)} acknowledged actions have no audit entry"
    assert re.fullmatch(r"[0-9a-f]{32}", acknowledged[0])
