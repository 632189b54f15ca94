"""``lensguard token inspect``: claims, key and verdict of a real token; refusals clearly."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from lensguard.app import create_app
from lensguard.bootstrap import resolve_secrets
from lensguard.identity import accounts
from lensguard.settings import load_settings
from tests.api.conftest import PASSWORD
from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


def test_inspect_shows_the_claims_and_follows_revocation(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    settings = resolve_secrets(load_settings(tmp_path / "lensguard.yaml"))

    Run = subprocess.CompletedProcess[str]

    async def scenario() -> tuple[str, Run, Run, Run]:
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app, client=("198.51.100.10", 4000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://testserver") as http,
        ):
            await accounts.create_account(
                app.state.services,
                username="ada",
                password=PASSWORD,
                role="operator",
                sites=["*"],
                devices=["*"],
                by=None,
            )
            login = await http.post(
                "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
            )
            token = login.json()["access_token"]
            live = await asyncio.to_thread(lensguard, tmp_path, "token", "inspect", stdin=token)
            as_json = await asyncio.to_thread(
                lensguard, tmp_path, "token", "inspect", "--json", stdin=f"Bearer {token}\n"
            )
            out = await http.post(
                "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
            )
            assert out.status_code == 204
            ended = await asyncio.to_thread(lensguard, tmp_path, "token", "inspect", stdin=token)
            return str(token), live, as_json, ended

    token, live, as_json, ended = asyncio.run(scenario())
    assert live.returncode == 0, live.stderr
    assert "ACCEPTED" in live.stdout and "signing now" in live.stdout
    assert token not in live.stdout + live.stderr
    report = json.loads(as_json.stdout)
    assert report["accepted"] is True and report["claims"]["knd"] == "user"
    assert report["header"]["alg"] == "EdDSA" and report["revoked"] is False
    assert ended.returncode == 1 and "REFUSED: revoked" in ended.stdout

    garbage = lensguard(tmp_path, "token", "inspect", stdin="not-a-token")
    assert garbage.returncode == 2 and "three dot-separated parts" in garbage.stderr
    forged = token.rsplit(".", 1)[0] + ".AAAA"
    bad = lensguard(tmp_path, "token", "inspect", stdin=forged)
    assert bad.returncode == 1 and "REFUSED" in bad.stdout
