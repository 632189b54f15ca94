"""A provider's back-channel logout closes a live signaling socket of that session.

A real server process; the provider is a forger the test controls (its signing key,
its token endpoint), so the logout token is one a real provider would send.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lensguard.wire.closes import Close
from tests.harness.oidc import ForgingProvider, forging_provider
from tests.harness.ports import free_port
from tests.harness.server import start_server
from tests.harness.world import World, auth, bootstrap_admin, open_peer

pytestmark = pytest.mark.slow
BCL = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def forger() -> Iterator[ForgingProvider]:
    with forging_provider() as provider:
        yield provider


@pytest.fixture
def world(tmp_path: Path, forger: ForgingProvider) -> Iterator[World]:
    port = free_port()
    secret = tmp_path / "client.secret"
    secret.write_text("live-client-secret")
    provider: dict[str, Any] = {
        "name": "idp",
        "issuer": forger.issuer,
        "client_id": "live-client",
        "client_secret_file": str(secret),
        "redirect_uri": f"https://127.0.0.1:{port}/api/v1/auth/oidc/idp/callback",
        "jit_provisioning": True,
        "default_role": "viewer",
    }
    server = start_server(tmp_path, {"security": {"oidc": {"providers": [provider]}}}, port=port)
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


def sign_in(world: World, forger: ForgingProvider, sid: str) -> str:
    with world.http() as client:
        started = client.get("/api/v1/auth/oidc/idp/start")
        assert started.status_code == 302, started.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}
        now = int(time.time())
        forger.id_token = forger.sign(
            {
                "iss": forger.issuer,
                "aud": "live-client",
                "sub": "live-subject",
                "iat": now,
                "exp": now + 300,
                "nonce": query["nonce"],
                "sid": sid,
            }
        )
        done = client.get(
            "/api/v1/auth/oidc/idp/callback", params={"code": "c", "state": query["state"]}
        )
        assert done.status_code == 302, done.text
        code = parse_qs(urlsplit(done.headers["location"]).fragment)["sso_code"][0]
        tokens = client.post("/api/v1/auth/oidc/exchange", json={"login_code": code})
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["access_token"])


async def test_backchannel_logout_closes_the_live_socket(
    world: World, forger: ForgingProvider
) -> None:
    token = sign_in(world, forger, "idp-session-1")
    peer = await open_peer(world, token)
    logout = forger.sign(
        {
            "iss": forger.issuer,
            "aud": "live-client",
            "iat": int(time.time()),
            "jti": "live-logout-1",
            "events": {BCL: {}},
            "sid": "idp-session-1",
        },
        header={"alg": "RS256", "kid": forger.key.kid, "typ": "logout+jwt"},
    )
    with world.http() as client:
        ended = client.post(
            "/api/v1/auth/oidc/idp/backchannel-logout",
            content=f"logout_token={logout}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert ended.status_code == 200, ended.text
        assert ended.json() == {"sessions_ended": 1}
        assert client.get("/api/v1/users/me", headers=auth(token)).status_code == 401
    assert await peer.closed_with() == Close.UNAUTHENTICATED
