"""Sign-in throttling: growing locks per account+address, never a lock-out from elsewhere."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lensguard.identity.throttle import PAIR
from tests.api.conftest import PASSWORD, Api, build_api


async def attempt(api: Api, password: str, **headers: str) -> Any:
    return await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": password}, headers=headers
    )


async def test_lock_after_failures_refuses_even_the_right_password(api: Api) -> None:
    await api.add_user("ada", "viewer")
    for _ in range(PAIR.threshold):
        assert (await attempt(api, "wrong password 123")).status_code == 401
    locked = await attempt(api, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    assert locked.json()["type"] == "urn:lensguard:problem:rate-limited"


async def test_failures_from_elsewhere_do_not_lock_the_real_user_out(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(database={"url": sqlite_url})
    async for attacker in build_api(settings, address="203.0.113.66"):
        await attacker.add_user("ada", "viewer")
        for _ in range(PAIR.threshold + 3):
            await attempt(attacker, "guess guess guess")
        assert (await attempt(attacker, PASSWORD)).status_code == 429
        # Same database, another client address: the real user signs in.
        async for user in build_api(settings, address="198.51.100.20"):
            assert (await attempt(user, PASSWORD)).status_code == 200


async def test_success_clears_the_failure_count(api: Api) -> None:
    await api.add_user("ada", "viewer")
    for _ in range(PAIR.threshold - 1):
        await attempt(api, "wrong password 123")
    assert (await attempt(api, PASSWORD)).status_code == 200
    for _ in range(PAIR.threshold - 1):
        await attempt(api, "wrong password 123")
    assert (await attempt(api, PASSWORD)).status_code == 200


@pytest.fixture
async def behind_proxy(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    settings = make_settings(
        database={"url": sqlite_url}, server={"trusted_proxies": ["10.0.0.0/8"]}
    )
    async for api in build_api(settings, address="10.0.0.5"):
        yield api


async def test_forwarded_for_from_a_trusted_proxy_separates_clients(behind_proxy: Api) -> None:
    api = behind_proxy
    await api.add_user("ada", "viewer")
    for _ in range(PAIR.threshold):
        await attempt(api, "wrong password 123", **{"X-Forwarded-For": "203.0.113.66"})
    assert (await attempt(api, PASSWORD, **{"X-Forwarded-For": "203.0.113.66"})).status_code == 429
    assert (await attempt(api, PASSWORD, **{"X-Forwarded-For": "198.51.100.7"})).status_code == 200


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(api: Api) -> None:
    await api.add_user("ada", "viewer")
    for i in range(PAIR.threshold):
        # The attacker rotates a spoofed header; the real peer address still counts.
        await attempt(api, "wrong password 123", **{"X-Forwarded-For": f"192.0.2.{i}"})
    assert (await attempt(api, PASSWORD, **{"X-Forwarded-For": "192.0.2.200"})).status_code == 429
