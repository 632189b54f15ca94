"""Single sign-on: login round trip through a provider vs password login; logout latency.

Same run, same in-process app on a migrated SQLite database:
(a) a password sign-in (``POST /api/v1/auth/login``, argon2id) against a full sign-in
    through ``oidc-provider-mock`` running as its own process (start, the provider's
    sign-in form, callback with code redemption and ID-token validation, exchange of
    the one-time login code);
(b) back-channel logout: from the provider's POST of a signed logout token until the
    session's access token is refused, p50/p99 over 100 trials (a provider this bench
    controls signs the logout tokens);
(c) the same against a real server process with a live signaling socket of the session:
    from the POST until the socket is closed (4401), p50/p99 over 100 trials.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from tests.harness.oidc import ForgingProvider, MockProvider, forging_provider, mock_provider
from tests.harness.ports import free_port
from tests.harness.server import start_server, strong_secret
from tests.harness.world import World, bootstrap_admin, open_peer

from lensguard.app import create_app
from lensguard.identity import accounts
from lensguard.services import Services
from lensguard.settings import load_settings
from lensguard.store import migrate
from lensguard.wire.closes import Close

BASE = "https://testserver"
PASSWORD = "correct horse battery staple 42"
LOGINS = 20
LOGOUTS = 100
BCL = "http://schemas.openid.net/event/backchannel-logout"


def _settings(tmp: Path, mock: MockProvider, forger: ForgingProvider) -> Any:
    (tmp / "mock.secret").write_text(mock.client_secret)
    (tmp / "forger.secret").write_text("forger-secret")
    url = f"sqlite+aiosqlite:///{tmp / 'lensguard.db'}"
    migrate.upgrade(url)

    def provider(name: str, issuer: str, client_id: str) -> dict[str, Any]:
        return {
            "name": name,
            "issuer": issuer,
            "client_id": client_id,
            "client_secret_file": str(tmp / f"{name}.secret"),
            "redirect_uri": f"{BASE}/api/v1/auth/oidc/{name}/callback",
            "jit_provisioning": True,
            "default_role": "viewer",
        }

    return load_settings(
        None,
        mode="production",
        var_dir=str(tmp / "var"),
        secret_key=strong_secret(),
        database={"url": url},
        limits={"requests_per_minute": 1_000_000},
        threats={"responses": {"monitor_only": True}},
        security={
            "oidc": {
                "starts_per_minute": 10_000,
                "providers": [
                    provider("mock", mock.issuer, mock.client_id),
                    provider("forger", forger.issuer, "bench-client"),
                ],
            }
        },
    )


async def _oidc_login(http: httpx.AsyncClient, browser: httpx.AsyncClient, sub: str) -> None:
    started = await http.get("/api/v1/auth/oidc/mock/start")
    answer = await browser.post(started.headers["location"], data={"sub": sub})
    back = urlsplit(answer.headers["location"])
    done = await http.get(f"{back.path}?{back.query}")
    code = parse_qs(urlsplit(done.headers["location"]).fragment)["sso_code"][0]
    tokens = await http.post("/api/v1/auth/oidc/exchange", json={"login_code": code})
    assert tokens.status_code == 200, tokens.text


async def _forged_login(http: httpx.AsyncClient, forger: ForgingProvider, sid: str) -> str:
    started = await http.get("/api/v1/auth/oidc/forger/start")
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}
    now = int(time.time())
    forger.id_token = forger.sign(
        {
            "iss": forger.issuer,
            "aud": "bench-client",
            "sub": "bench-subject",
            "iat": now,
            "exp": now + 300,
            "nonce": query["nonce"],
            "sid": sid,
        }
    )
    done = await http.get(
        "/api/v1/auth/oidc/forger/callback", params={"code": "c", "state": query["state"]}
    )
    code = parse_qs(urlsplit(done.headers["location"]).fragment)["sso_code"][0]
    tokens = await http.post("/api/v1/auth/oidc/exchange", json={"login_code": code})
    return str(tokens.json()["access_token"])


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


async def _run(settings: Any, forger: ForgingProvider) -> None:
    app = create_app(settings)
    services: Services = app.state.services
    transport = httpx.ASGITransport(app=app, client=("198.51.100.10", 4000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE) as http,
        httpx.AsyncClient() as browser,
    ):
        await accounts.create_account(
            services,
            username="bench",
            password=PASSWORD,
            role="viewer",
            sites=None,
            devices=None,
            by=None,
        )
        password, oidc = [], []
        for i in range(LOGINS):
            started = time.perf_counter()
            answer = await http.post(
                "/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}
            )
            password.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
            started = time.perf_counter()
            await _oidc_login(http, browser, f"user{i}")
            oidc.append(time.perf_counter() - started)
        print(f"password login round trip: {_ms(password)}")
        print(f"oidc login round trip (provider process): {_ms(oidc)}")
        ratio = statistics.median(oidc) / statistics.median(password)
        print(f"ratio oidc/password (p50): {ratio:.2f}x")
        closed = []
        for i in range(LOGOUTS):
            token = await _forged_login(http, forger, f"sid-{i}")
            logout = jwt.encode(
                {"alg": "RS256", "kid": forger.key.kid, "typ": "logout+jwt"},
                {
                    "iss": forger.issuer,
                    "aud": "bench-client",
                    "iat": int(time.time()),
                    "jti": f"bench-{i}",
                    "events": {BCL: {}},
                    "sid": f"sid-{i}",
                },
                forger.key,
            )
            started = time.perf_counter()
            ended = await http.post(
                "/api/v1/auth/oidc/forger/backchannel-logout",
                content=f"logout_token={logout}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            refused = await http.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
            )
            closed.append(time.perf_counter() - started)
            assert ended.json() == {"sessions_ended": 1}, ended.text
            assert refused.status_code == 401
        print(f"back-channel logout -> session refused ({LOGOUTS} trials): {_ms(closed)}")


def _live_settings(tmp: Path, forger: ForgingProvider, port: int) -> dict[str, Any]:
    (tmp / "live.secret").write_text("live-secret")
    return {
        "limits": {"requests_per_minute": 1_000_000},
        "security": {
            "oidc": {
                "starts_per_minute": 10_000,
                "providers": [
                    {
                        "name": "live",
                        "issuer": forger.issuer,
                        "client_id": "bench-client",
                        "client_secret_file": str(tmp / "live.secret"),
                        "redirect_uri": f"https://127.0.0.1:{port}/api/v1/auth/oidc/live/callback",
                        "jit_provisioning": True,
                        "default_role": "viewer",
                    }
                ],
            }
        },
    }


async def _live(world: World, forger: ForgingProvider) -> None:
    closed = []
    async with httpx.AsyncClient(base_url=world.server.base_url, verify=world.ssl()) as http:
        for i in range(LOGOUTS):
            started = await http.get("/api/v1/auth/oidc/live/start")
            query = parse_qs(urlsplit(started.headers["location"]).query)
            now = int(time.time())
            forger.id_token = forger.sign(
                {
                    "iss": forger.issuer,
                    "aud": "bench-client",
                    "sub": "live-subject",
                    "iat": now,
                    "exp": now + 300,
                    "nonce": query["nonce"][0],
                    "sid": f"live-{i}",
                }
            )
            done = await http.get(
                "/api/v1/auth/oidc/live/callback", params={"code": "c", "state": query["state"][0]}
            )
            code = parse_qs(urlsplit(done.headers["location"]).fragment)["sso_code"][0]
            tokens = await http.post("/api/v1/auth/oidc/exchange", json={"login_code": code})
            peer = await open_peer(world, str(tokens.json()["access_token"]))
            logout = forger.sign(
                {
                    "iss": forger.issuer,
                    "aud": "bench-client",
                    "iat": int(time.time()),
                    "jti": f"live-{i}",
                    "events": {BCL: {}},
                    "sid": f"live-{i}",
                },
                header={"alg": "RS256", "kid": forger.key.kid, "typ": "logout+jwt"},
            )
            began = time.perf_counter()
            posted = asyncio.create_task(
                http.post(
                    "/api/v1/auth/oidc/live/backchannel-logout",
                    content=f"logout_token={logout}",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            )
            code_seen = await peer.closed_with()
            closed.append(time.perf_counter() - began)
            assert code_seen == Close.UNAUTHENTICATED, code_seen
            assert (await posted).json() == {"sessions_ended": 1}
    print(f"back-channel logout -> live socket closed, server process ({LOGOUTS}): {_ms(closed)}")


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock_provider([f"{BASE}/api/v1/auth/oidc/mock/callback"]) as mock,
        forging_provider() as forger,
    ):
        # Migrations run their own event loop: before ours starts.
        asyncio.run(_run(_settings(Path(tmp), mock, forger), forger))
        port = free_port()
        live = Path(tmp) / "live"
        live.mkdir()
        server = start_server(live, _live_settings(live, forger, port), port=port)
        try:
            asyncio.run(_live(World(server, bootstrap_admin(server)), forger))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
