"""TOTP second factor through HTTP."""

import asyncio
import time
from typing import Any

import pyotp

from tests.api.conftest import PASSWORD, Api, bearer, build_api


def next_code(secret: str) -> str:
    """The code of the next 30 s step (the current one may already be consumed)."""
    return str(pyotp.TOTP(secret).at(time.time() + 30))


async def enable_mfa(api: Api, token: str) -> str:
    enrol = await api.http.post("/api/v1/auth/mfa/enrol", headers=bearer(token))
    assert enrol.status_code == 200
    secret = enrol.json()["secret"]
    assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/")
    confirm = await api.http.post(
        "/api/v1/auth/mfa/confirm", headers=bearer(token), json={"code": pyotp.TOTP(secret).now()}
    )
    assert confirm.status_code == 204, confirm.text
    return str(secret)


async def test_enrolled_user_needs_a_code(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    secret = await enable_mfa(api, token)
    no_code = await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
    )
    assert no_code.status_code == 401
    assert no_code.json()["type"] == "urn:lensguard:problem:mfa-required"
    wrong = await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD, "code": "000000"}
    )
    assert wrong.status_code == 401
    # The confirm step consumed the current step; the next one is accepted (drift ±1).
    ok = await api.http.post(
        "/api/v1/auth/login",
        json={"username": "ada", "password": PASSWORD, "code": next_code(secret)},
    )
    assert ok.status_code == 200, ok.text


async def test_a_code_is_never_accepted_twice(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    secret = await enable_mfa(api, token)
    code = next_code(secret)
    body = {"username": "ada", "password": PASSWORD, "code": code}
    assert (await api.http.post("/api/v1/auth/login", json=body)).status_code == 200
    assert (await api.http.post("/api/v1/auth/login", json=body)).status_code == 401


async def test_admin_without_mfa_is_restricted_until_enrolled(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        security={"authentication": {"mfa_required_for": ["admin"]}},
    )
    async for api in build_api(settings):
        token = await api.token_for("root", "admin")
        me = (await api.http.get("/api/v1/users/me", headers=bearer(token))).json()
        assert me["restrictions"] == ["mfa_enrolment"]
        assert (await api.http.get("/api/v1/users", headers=bearer(token))).status_code == 403
        await enable_mfa(api, token)
        assert (await api.http.get("/api/v1/users", headers=bearer(token))).status_code == 200


async def test_concurrent_sign_ins_with_one_code_admit_one(api_both: Api) -> None:
    api = api_both
    token = await api.token_for("ada", "viewer")
    secret = await enable_mfa(api, token)
    body = {"username": "ada", "password": PASSWORD, "code": next_code(secret)}

    async def sign_in() -> int:
        return (await api.http.post("/api/v1/auth/login", json=body)).status_code

    statuses = await asyncio.gather(*(sign_in() for _ in range(8)))
    assert sorted(statuses) == [200] + [401] * 7
