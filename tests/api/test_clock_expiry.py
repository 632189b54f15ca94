"""Access tokens, sign-in sessions and API keys end on the app's clock, not the wall's.

The app is built with a ManualClock: an hour or a day passes with one ``advance``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lensguard.clock import ManualClock
from lensguard.identity.tokens import LEEWAY
from tests.api.conftest import Api, bearer, build_api

ACCESS = 300
SESSION = 3_600
DAY = 86_400


@pytest.fixture
async def turned(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> AsyncIterator[tuple[Api, ManualClock]]:
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        security={"authentication": {"token_expiry": ACCESS, "refresh_token_expiry": SESSION}},
    )
    async for api in build_api(settings, clock=manual_clock):
        yield api, manual_clock


async def me(api: Api, credential: str) -> int:
    response = await api.http.get("/api/v1/users/me", headers=bearer(credential))
    return response.status_code


async def refresh(api: Api, token: str) -> httpx.Response:
    return await api.http.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_an_access_token_ends_on_the_clock(turned: tuple[Api, ManualClock]) -> None:
    api, clock = turned
    token = await api.token_for("ada", "viewer")
    await clock.advance(ACCESS + LEEWAY - 1)
    assert await me(api, token) == 200
    await clock.advance(1)
    assert await me(api, token) == 401


async def test_a_sign_in_session_ends_on_the_clock(turned: tuple[Api, ManualClock]) -> None:
    api, clock = turned
    await api.add_user("ada", "viewer")
    first = await api.login("ada")
    await clock.advance(SESSION - 1)
    renewed = await refresh(api, first["refresh_token"])
    assert renewed.status_code == 200
    assert await me(api, renewed.json()["access_token"]) == 200
    await clock.advance(1)  # the session's absolute end: no refresh extends it
    assert (await refresh(api, renewed.json()["refresh_token"])).status_code == 401


async def test_an_api_key_ends_on_the_clock(turned: tuple[Api, ManualClock]) -> None:
    api, clock = turned
    token = await api.token_for("ada", "operator")
    created = await api.http.post(
        "/api/v1/api-keys",
        headers=bearer(token),
        json={"name": "ci", "scopes": ["account_self"], "expires_in_days": 1},
    )
    assert created.status_code == 201
    key = created.json()["key"]
    await clock.advance(DAY - 1)
    assert await me(api, key) == 200
    await clock.advance(1)
    assert await me(api, key) == 401
