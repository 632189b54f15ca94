"""TOTP second factor through HTTP."""

import asyncio
import base64
import time
from typing import Any

import pyotp

from lensguard.api.qr import svg_data_uri
from tests.api.conftest import PASSWORD, Api, bearer, build_api


def next_code(secret: str) -> str:
    """The code of the next 30 s step (the current one may already be consumed)."""
    return str(pyotp.TOTP(secret).at(time.time() + 30))


async def enable_mfa(api: Api, token: str) -> str:
    secret, _codes = await enrol(api, token)
    return secret


async def enrol(api: Api, token: str, **proof: str) -> tuple[str, list[str]]:
    """Enrol (or re-enrol with ``proof``) and confirm; the secret and recovery codes."""
    enrol = await api.http.post(
        "/api/v1/auth/mfa/enrol", headers=bearer(token), json={"password": PASSWORD, **proof}
    )
    assert enrol.status_code == 200, enrol.text
    secret = enrol.json()["secret"]
    assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/")
    confirm = await api.http.post(
        "/api/v1/auth/mfa/confirm", headers=bearer(token), json={"code": pyotp.TOTP(secret).now()}
    )
    assert confirm.status_code == 200, confirm.text
    codes: list[str] = confirm.json()["recovery_codes"]
    assert len(codes) == 10
    return str(secret), codes


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


async def sign_in(api: Api, code: str) -> int:
    body = {"username": "ada", "password": PASSWORD, "code": code}
    return (await api.http.post("/api/v1/auth/login", json=body)).status_code


async def test_mfa_reenrol_needs_current_code_and_password(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    old_secret = await enable_mfa(api, token)
    enrol_url = "/api/v1/auth/mfa/enrol"
    # A stolen access token alone no longer replaces the authenticator.
    no_code = await api.http.post(enrol_url, headers=bearer(token), json={"password": PASSWORD})
    assert no_code.status_code == 401
    assert no_code.json()["type"] == "urn:lensguard:problem:mfa-required"
    no_password = await api.http.post(
        enrol_url, headers=bearer(token), json={"code": next_code(old_secret)}
    )
    assert no_password.status_code == 422
    wrong_password = await api.http.post(
        enrol_url,
        headers=bearer(token),
        json={"password": "not the password 1", "code": next_code(old_secret)},
    )
    assert wrong_password.status_code == 401
    wrong_code = await api.http.post(
        enrol_url, headers=bearer(token), json={"password": PASSWORD, "code": "000000"}
    )
    assert wrong_code.status_code == 401
    # With both, the authenticator is replaced: the old one stops working.
    new_secret, _codes = await enrol(api, token, code=next_code(old_secret))
    assert new_secret != old_secret
    assert await sign_in(api, next_code(old_secret)) == 401
    assert await sign_in(api, next_code(new_secret)) == 200


async def test_mfa_disable_needs_password_and_code(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    secret = await enable_mfa(api, token)
    url = "/api/v1/auth/mfa/disable"
    code_only = await api.http.post(url, headers=bearer(token), json={"code": next_code(secret)})
    assert code_only.status_code == 422
    wrong_password = await api.http.post(
        url, headers=bearer(token), json={"password": "not the password 1", "code": "123456"}
    )
    assert wrong_password.status_code == 401
    off = await api.http.post(
        url, headers=bearer(token), json={"password": PASSWORD, "code": next_code(secret)}
    )
    assert off.status_code == 204, off.text
    plain = await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
    )
    assert plain.status_code == 200


async def test_first_enrolment_needs_the_password(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    refused = await api.http.post(
        "/api/v1/auth/mfa/enrol", headers=bearer(token), json={"password": "not the password 1"}
    )
    assert refused.status_code == 401
    confirm = await api.http.post(
        "/api/v1/auth/mfa/confirm", headers=bearer(token), json={"code": "123456"}
    )
    assert confirm.status_code == 422  # nothing pending: the refused enrolment left no secret


async def test_recovery_code_signs_in_once_and_is_audited(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    token = await api.token_for("ada", "viewer")
    _secret, codes = await enrol(api, token)
    assert await sign_in(api, codes[0].upper()) == 200
    assert await sign_in(api, codes[0]) == 401
    assert await sign_in(api, codes[1]) == 200
    page = await api.http.get("/api/v1/audit?action=auth.recovery_code_use", headers=bearer(admin))
    used = page.json()["items"]
    assert sorted(e["details"]["remaining"] for e in used) == [8, 9]
    stored = await api.http.get("/api/v1/audit?action=auth.mfa_enable", headers=bearer(admin))
    assert not any(code in stored.text for code in codes)


async def test_recovery_code_replaces_a_lost_authenticator(api: Api) -> None:
    token = await api.token_for("ada", "viewer")
    _lost, codes = await enrol(api, token)
    new_secret, new_codes = await enrol(api, token, code=codes[0])
    # The new enrolment issued a new set: the old codes are gone, used or not.
    assert await sign_in(api, codes[1]) == 401
    assert await sign_in(api, new_codes[0]) == 200
    off = await api.http.post(
        "/api/v1/auth/mfa/disable",
        headers=bearer(token),
        json={"password": PASSWORD, "code": new_codes[1]},
    )
    assert off.status_code == 204
    assert new_secret


async def test_one_recovery_code_used_twice_at_once_admits_one(api_both: Api) -> None:
    api = api_both
    token = await api.token_for("ada", "viewer")
    _secret, codes = await enrol(api, token)
    statuses = await asyncio.gather(*(sign_in(api, codes[0]) for _ in range(6)))
    assert sorted(statuses) == [200] + [401] * 5


async def test_enrolment_answers_a_qr_code_of_the_uri_as_an_svg_image(api: Api) -> None:
    token = await api.token_for("qr-reader", "viewer")
    enrol = await api.http.post(
        "/api/v1/auth/mfa/enrol", headers=bearer(token), json={"password": PASSWORD}
    )
    assert enrol.status_code == 200, enrol.text
    body = enrol.json()
    prefix = "data:image/svg+xml;base64,"
    assert body["qr_code"].startswith(prefix)
    svg = base64.b64decode(body["qr_code"].removeprefix(prefix)).decode("utf-8")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg  # an <img> shows only a namespaced SVG
    assert "<script" not in svg and "style=" not in svg
    # The very picture segno draws of the URI: a phone that scans it reads the URI.
    assert body["qr_code"] == svg_data_uri(body["otpauth_uri"])
    assert enrol.headers["cache-control"] == "no-store"
