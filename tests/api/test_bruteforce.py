"""Sign-in throttling: growing locks per account+address, never a lock-out from elsewhere."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lensguard.identity.throttle import ACCOUNT, MAX_LOCK, PAIR, LoginThrottle
from lensguard.store.kv import MemoryStore
from tests.api.conftest import PASSWORD, Api, bearer, build_api
from tests.api.test_mfa import enable_mfa, next_code


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
        # Building the second app reads its stored keys synchronously, blocking this
        # loop: let the first app's detectors finish their audit writes first.
        await attacker.identity.threats_settled()
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


async def test_password_change_is_throttled(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    body = {"current_password": "wrong password 123", "new_password": "a new passphrase 42"}
    for _ in range(PAIR.threshold):
        response = await api.http.post("/api/v1/auth/password", headers=bearer(token), json=body)
        assert response.status_code == 401
    right = {"current_password": PASSWORD, "new_password": "a new passphrase 42"}
    locked = await api.http.post("/api/v1/auth/password", headers=bearer(token), json=right)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    # One budget for one secret: sign-in from that address is locked as well.
    assert (await attempt(api, PASSWORD)).status_code == 429


async def test_mfa_disable_is_throttled(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    secret = await enable_mfa(api, token)
    url = "/api/v1/auth/mfa/disable"
    for _ in range(PAIR.threshold):
        wrong = {"password": PASSWORD, "code": "000000"}
        assert (await api.http.post(url, headers=bearer(token), json=wrong)).status_code == 401
    right = {"password": PASSWORD, "code": next_code(secret)}
    assert (await api.http.post(url, headers=bearer(token), json=right)).status_code == 429


async def test_mfa_enrol_is_throttled(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    url = "/api/v1/auth/mfa/enrol"
    for _ in range(PAIR.threshold):
        wrong = {"password": "wrong password 123"}
        assert (await api.http.post(url, headers=bearer(token), json=wrong)).status_code == 401
    right = {"password": PASSWORD}
    assert (await api.http.post(url, headers=bearer(token), json=right)).status_code == 429


async def test_mfa_confirm_is_throttled(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    started = await api.http.post(
        "/api/v1/auth/mfa/enrol", headers=bearer(token), json={"password": PASSWORD}
    )
    secret = started.json()["secret"]
    url = "/api/v1/auth/mfa/confirm"
    for _ in range(PAIR.threshold):
        wrong = {"code": "000000"}
        assert (await api.http.post(url, headers=bearer(token), json=wrong)).status_code == 401
    right = {"code": next_code(secret)}
    assert (await api.http.post(url, headers=bearer(token), json=right)).status_code == 429


async def test_login_mfa_step_is_throttled(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    secret = await enable_mfa(api, token)
    # Wrong TOTP and wrong recovery codes alike spend the budget.
    for code in ["000000", "abcde-12345"] * PAIR.threshold:
        response = await api.http.post(
            "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD, "code": code}
        )
        if response.status_code == 429:
            break
        assert response.status_code == 401
    right = {"username": "ada", "password": PASSWORD, "code": next_code(secret)}
    assert (await api.http.post("/api/v1/auth/login", json=right)).status_code == 429


@pytest.fixture
async def many_addresses(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    """Callers behind a trusted proxy: each X-Forwarded-For is another client address."""
    settings = make_settings(
        database={"url": sqlite_url},
        server={"trusted_proxies": ["10.0.0.0/8"]},
        limits={"requests_per_minute": 100_000},
    )
    async for api in build_api(settings, address="10.0.0.5"):
        yield api


def at(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{n}"}


async def lock_account(api: Api) -> list[int]:
    """The finding's attack: 4 guesses each from 12 addresses, under every pair lock."""
    statuses = []
    for n in range(12):
        for _ in range(PAIR.threshold - 1):
            statuses.append((await attempt(api, "guess guess guess", **at(n))).status_code)
    return statuses


async def test_account_lock_across_addresses(many_addresses: Api) -> None:
    api = many_addresses
    await api.add_user("ada", "viewer")
    statuses = await lock_account(api)
    assert statuses[: ACCOUNT.threshold] == [401] * ACCOUNT.threshold
    assert set(statuses[ACCOUNT.threshold :]) == {429}
    # From an address that never failed, the right password alone is refused too, and
    # the answer is the same lock as for a wrong one: it tells a guesser nothing.
    right = await attempt(api, PASSWORD, **at(200))
    wrong = await attempt(api, "guess guess guess", **at(201))
    assert right.status_code == wrong.status_code == 429
    assert right.json()["type"] == wrong.json()["type"] == "urn:lensguard:problem:account-locked"
    assert int(right.headers["retry-after"]) >= 1


async def test_account_lock_admits_password_with_a_one_time_code(many_addresses: Api) -> None:
    api = many_addresses
    await api.add_user("root", "admin")
    token = (await api.login("root"))["access_token"]
    secret = await enable_mfa(api, token)

    async def sign_in(password: str, code: str | None, n: int) -> int:
        body = {"username": "root", "password": password}
        if code is not None:
            body["code"] = code
        response = await api.http.post("/api/v1/auth/login", json=body, headers=at(n))
        return response.status_code

    for n in range(12):
        for _ in range(PAIR.threshold - 1):
            await sign_in("guess guess guess", None, n)
    assert await sign_in(PASSWORD, None, 200) == 429  # not "mfa-required": no oracle
    assert await sign_in("guess guess guess", next_code(secret), 201) == 429
    assert await sign_in(PASSWORD, "000000", 202) == 429
    assert await sign_in(PASSWORD, next_code(secret), 203) == 200


async def test_account_lock_ends_after_a_bounded_back_off(many_addresses: Api) -> None:
    api = many_addresses
    now = [1000.0]
    throttle = LoginThrottle(MemoryStore(clock=lambda: now[0]))
    throttle.on_address_lock = api.identity.throttle.on_address_lock
    api.identity.throttle = throttle
    await api.add_user("ada", "viewer")
    for n in range(40):
        await attempt(api, "guess guess guess", **at(n))
    assert (await attempt(api, PASSWORD, **at(200))).status_code == 429
    now[0] += MAX_LOCK + 1  # however long the attack went on, the lock ends this long after
    assert (await attempt(api, PASSWORD, **at(200))).status_code == 200
