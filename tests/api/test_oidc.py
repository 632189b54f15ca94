"""Single sign-on: a real ``oidc-provider-mock`` process, and a forger for bad tokens.

Every refusal must be a problem+json answer and an audit row with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from lensguard.audit.models import AuditEntry
from lensguard.store.models import User
from tests.api.conftest import PASSWORD, Api, bearer, build_api
from tests.harness.oidc import ForgingProvider, MockProvider, forging_provider, mock_provider

BASE = "https://testserver"
CALLBACK = "/api/v1/auth/oidc/{name}/callback"
BCL = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with mock_provider([BASE + CALLBACK.format(name="mock")]) as provider:
        yield provider


@pytest.fixture(scope="module")
def forger() -> Iterator[ForgingProvider]:
    with forging_provider() as provider:
        yield provider


def provider_settings(
    name: str, issuer: str, client_id: str, secret_file: Path, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "issuer": issuer,
        "client_id": client_id,
        "client_secret_file": str(secret_file),
        "redirect_uri": BASE + CALLBACK.format(name=name),
        **extra,
    }


@pytest.fixture
async def api(
    make_settings: Any,
    sqlite_url: str,
    tmp_path: Path,
    mock: MockProvider,
    forger: ForgingProvider,
) -> AsyncIterator[Api]:
    mock_secret = tmp_path / "mock.secret"
    mock_secret.write_text(mock.client_secret)
    forger_secret = tmp_path / "forger.secret"
    forger_secret.write_text("forger-client-secret")
    oidc = {
        "providers": [
            provider_settings(
                "mock",
                mock.issuer,
                mock.client_id,
                mock_secret,
                label="Mock IdP",
                jit_provisioning=True,
                rules=[
                    {"claim": "groups", "value": "lg-operators", "role": "operator"},
                    {"claim": "groups", "value": "lg-viewers", "role": "viewer", "sites": ["a"]},
                ],
            ),
            provider_settings(
                "forger",
                forger.issuer,
                "lensguard-client",
                forger_secret,
                jit_provisioning=True,
                default_role="viewer",
                rules=[{"claim": "groups", "value": "lg-admins", "role": "admin"}],
                jwks_refetch_seconds=3600,
                trust_amr_mfa=True,
                link_by_verified_email=True,
            ),
        ]
    }
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        security={"oidc": oidc, "authentication": {"mfa_required_for": ["admin"]}},
    )
    async for value in build_api(settings):
        yield value


async def audited(api: Api, action: str) -> list[tuple[str, str]]:
    """(outcome, details) of every audit row of ``action``."""
    async with api.identity.db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.outcome, AuditEntry.details).where(AuditEntry.action == action)
        )
        return [(r[0], r[1]) for r in rows]


async def start(api: Api, name: str, next_path: str | None = None) -> dict[str, str]:
    params = {"next": next_path} if next_path is not None else {}
    response = await api.http.get(f"/api/v1/auth/oidc/{name}/start", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert "lg_oidc" in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]
    assert "samesite=lax" in response.headers["set-cookie"].lower()
    return {"location": location, **query}


async def at_mock(mock: MockProvider, location: str, sub: str, claims: dict[str, Any]) -> str:
    """Sign in as ``sub`` at the mock's page; the callback path and query it redirects to."""
    async with httpx.AsyncClient() as browser:
        put = await browser.put(f"{mock.issuer}/users/{sub}", json=claims)
        assert put.status_code == 204
        answer = await browser.post(location, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == BASE
    return f"{back.path}?{back.query}"


async def finish(api: Api, callback: str) -> dict[str, Any]:
    response = await api.http.get(callback)
    assert response.status_code == 302, response.text
    fragment = urlsplit(response.headers["location"]).fragment
    login_code = parse_qs(fragment)["sso_code"][0]
    exchanged = await api.http.post("/api/v1/auth/oidc/exchange", json={"login_code": login_code})
    assert exchanged.status_code == 200, exchanged.text
    body: dict[str, Any] = exchanged.json()
    return body


async def sign_in_mock(api: Api, mock: MockProvider, sub: str, groups: list[str]) -> dict[str, Any]:
    flow = await start(api, "mock")
    claims = {"email": f"{sub}@example.org", "email_verified": True, "groups": groups}
    return await finish(api, await at_mock(mock, flow["location"], sub, claims))


async def test_providers_are_listed_for_the_console(api: Api) -> None:
    response = await api.http.get("/api/v1/auth/oidc/providers")
    assert response.status_code == 200
    names = {p["name"]: p["label"] for p in response.json()["providers"]}
    assert names == {"mock": "Mock IdP", "forger": "forger"}


async def test_sign_in_through_the_provider_creates_the_account_by_the_rules(
    api: Api, mock: MockProvider
) -> None:
    tokens = await sign_in_mock(api, mock, "alice", ["lg-operators"])
    me = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "operator"
    successes = [d for o, d in await audited(api, "auth.login") if o == "success"]
    assert any("oidc" in d for d in successes)
    async with api.identity.db.sessions() as session:
        user = await session.get(User, me.json()["id"])
    assert user is not None
    assert user.password_login is False
    # The password route refuses an SSO-only account even with the right password.
    refused = await api.http.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "x" * 12}
    )
    assert refused.status_code == 401


async def test_mapping_is_evaluated_again_at_every_sign_in(api: Api, mock: MockProvider) -> None:
    first = await sign_in_mock(api, mock, "bob", ["lg-operators"])
    again = await sign_in_mock(api, mock, "bob", ["lg-viewers"])
    me = await api.http.get("/api/v1/users/me", headers=bearer(again["access_token"]))
    assert me.json()["role"] == "viewer"
    assert me.json()["sites"] == ["a"]
    # Every request re-reads the account: the older session lost operator too.
    old = await api.http.get("/api/v1/users/me", headers=bearer(first["access_token"]))
    assert old.json()["role"] == "viewer"
    flow = await start(api, "mock")
    callback = await at_mock(mock, flow["location"], "bob", {"groups": ["other"]})
    response = await api.http.get(callback)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any("no_rule_matched" in d for _, d in await audited(api, "auth.oidc_callback"))


async def test_missing_and_wrong_state_are_refused(api: Api, mock: MockProvider) -> None:
    flow = await start(api, "mock")
    callback = await at_mock(mock, flow["location"], "carol", {"groups": ["lg-viewers"]})
    wrong = callback.replace(flow["state"], "x" * 43)
    response = await api.http.get(wrong)
    assert response.status_code == 401
    assert response.json()["type"].endswith("sso-refused")
    api.http.cookies.clear()
    response = await api.http.get(callback)
    assert response.status_code == 401
    reasons = " ".join(d for _, d in await audited(api, "auth.oidc_callback"))
    assert "state_mismatch" in reasons
    assert "no_state" in reasons


async def test_a_replayed_answer_and_a_replayed_code_are_refused(
    api: Api, mock: MockProvider
) -> None:
    flow = await start(api, "mock")
    callback = await at_mock(mock, flow["location"], "dave", {"groups": ["lg-viewers"]})
    kept = str(api.http.cookies.get("lg_oidc"))
    await finish(api, callback)
    # Without the cookie (the callback cleared it) and with it put back: refused both ways.
    assert (await api.http.get(callback)).status_code == 401
    api.http.cookies.set("lg_oidc", kept, domain="testserver.local", path="/api/v1/auth/oidc/")
    replayed = await api.http.get(callback)
    assert replayed.status_code == 401
    # The same code with a fresh state: the provider refuses to redeem it twice.
    fresh = await start(api, "mock")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    again = await api.http.get(
        CALLBACK.format(name="mock"), params={"code": code, "state": fresh["state"]}
    )
    assert again.status_code == 401
    reasons = " ".join(d for _, d in await audited(api, "auth.oidc_callback"))
    assert "state_replayed" in reasons
    assert "code_refused" in reasons


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "evil", "/a#b"]
)
async def test_next_must_be_a_path_on_this_site(api: Api, target: str) -> None:
    response = await api.http.get("/api/v1/auth/oidc/mock/start", params={"next": target})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any("open_redirect" in d for _, d in await audited(api, "auth.oidc_start"))


async def test_next_path_is_where_the_console_lands(api: Api, mock: MockProvider) -> None:
    flow = await start(api, "mock", "/streams?device=1")
    callback = await at_mock(mock, flow["location"], "erin", {"groups": ["lg-viewers"]})
    response = await api.http.get(callback)
    location = urlsplit(response.headers["location"])
    assert (location.netloc, location.path, location.query) == ("", "/streams", "device=1")


async def test_login_code_is_single_use_and_bound_to_the_browser(
    api: Api, mock: MockProvider
) -> None:
    flow = await start(api, "mock")
    callback = await at_mock(mock, flow["location"], "frank", {"groups": ["lg-viewers"]})
    response = await api.http.get(callback)
    login_code = parse_qs(urlsplit(response.headers["location"]).fragment)["sso_code"][0]
    binding = api.http.cookies.get("lg_oidc_bind")
    api.http.cookies.clear()
    other = await api.http.post("/api/v1/auth/oidc/exchange", json={"login_code": login_code})
    assert other.status_code == 401
    api.http.cookies.set("lg_oidc_bind", str(binding), domain="testserver.local")
    first = await api.http.post("/api/v1/auth/oidc/exchange", json={"login_code": login_code})
    assert first.status_code == 200, first.text
    second = await api.http.post("/api/v1/auth/oidc/exchange", json={"login_code": login_code})
    assert second.status_code == 401


async def test_an_unregistered_redirect_uri_is_refused(
    make_settings: Any, sqlite_url: str, tmp_path: Path, mock: MockProvider
) -> None:
    secret = tmp_path / "s"
    secret.write_text(mock.client_secret)
    unregistered = provider_settings(
        "mock", mock.issuer, mock.client_id, secret, default_role="viewer"
    )
    unregistered["redirect_uri"] = "https://elsewhere.example/api/v1/auth/oidc/mock/callback"
    settings = make_settings(
        database={"url": sqlite_url}, security={"oidc": {"providers": [unregistered]}}
    )
    async for api in build_api(settings):
        flow = await start(api, "mock")
        async with httpx.AsyncClient() as browser:
            page = await browser.get(flow["location"])
        assert page.status_code == 400  # the provider refuses the redirect URI
        # Coming back to another host than the registered redirect URI is refused too.
        response = await api.http.get(
            CALLBACK.format(name="mock"), params={"code": "c", "state": flow["state"]}
        )
        assert response.status_code == 401
        assert any("redirect_uri" in d for _, d in await audited(api, "auth.oidc_callback"))


# ------------------------------------------------------------------ forged ID tokens


def id_claims(forger: ForgingProvider, flow_nonce: str, **override: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": forger.issuer,
        "aud": "lensguard-client",
        "sub": "forged-subject",
        "iat": now,
        "exp": now + 300,
        "nonce": flow_nonce,
        "sid": "provider-session-1",
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


async def forged_callback(
    api: Api, forger: ForgingProvider, token: str | None = None, **over: Any
) -> httpx.Response:
    flow = await start(api, "forger")
    forger.id_token = token or forger.sign(id_claims(forger, flow["nonce"], **over))
    return await api.http.get(
        CALLBACK.format(name="forger"), params={"code": "any", "state": flow["state"]}
    )


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}."


async def test_the_forger_can_sign_in_with_a_correct_token(
    api: Api, forger: ForgingProvider
) -> None:
    response = await forged_callback(api, forger)
    assert response.status_code == 302, response.text


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"aud": "someone-else"}, "id_token_audience"),
        ({"aud": ["lensguard-client", "other"]}, "id_token_azp"),
        ({"azp": "other"}, "id_token_azp"),
        ({"exp": -3600}, "id_token_expired"),  # times: seconds from now
        ({"iat": 3600}, "id_token_issued_in_future"),
        ({"iat": -7200, "exp": 300}, "id_token_too_old"),
        ({"iss": "https://other-issuer.example"}, "id_token_issuer"),
        ({"nonce": "not-the-nonce"}, "id_token_nonce"),
        ({"nonce": None}, "id_token_nonce"),
    ],
)
async def test_bad_id_token_claims_are_refused(
    api: Api, forger: ForgingProvider, override: dict[str, Any], reason: str
) -> None:
    now = int(time.time())
    override = {k: now + v if k in ("exp", "iat") else v for k, v in override.items()}
    response = await forged_callback(api, forger, **override)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(reason in d for _, d in await audited(api, "auth.oidc_callback"))


async def test_alg_none_hs256_with_the_public_key_and_strange_keys_are_refused(
    api: Api, forger: ForgingProvider
) -> None:
    flow = await start(api, "forger")
    claims = id_claims(forger, flow["nonce"])
    forger.id_token = unsigned(claims, {"alg": "none", "kid": forger.key.kid})
    state = {"code": "any", "state": flow["state"]}
    assert (await api.http.get(CALLBACK.format(name="forger"), params=state)).status_code == 401
    # HS256 keyed with the provider's public key: the classic key-confusion forgery.
    public_pem = forger.key.as_pem(private=False)
    head = unsigned(claims, {"alg": "HS256", "kid": forger.key.kid})[:-1]
    mac = hmac.new(public_pem, head.encode(), hashlib.sha256).digest()
    hs = head + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    stranger = RSAKey.generate_key(2048, parameters={"kid": str(forger.key.kid)})
    for token in (
        hs,
        jwt.encode({"alg": "RS256", "kid": forger.key.kid}, claims, stranger),
        jwt.encode({"alg": "RS256", "kid": "unknown-kid"}, claims, stranger),
    ):
        response = await forged_callback(api, forger, token)
        assert response.status_code == 401, response.text
    reasons = " ".join(d for _, d in await audited(api, "auth.oidc_callback"))
    for reason in ("id_token_algorithm", "id_token_bad_signature", "id_token_unknown_kid"):
        assert reason in reasons


async def test_an_unknown_kid_refetches_the_jwks_once_then_waits(
    api: Api, forger: ForgingProvider
) -> None:
    assert (await forged_callback(api, forger)).status_code == 302  # keys cached
    before = forger.jwks_fetches
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rotated-in"})
    for _ in range(3):
        flow = await start(api, "forger")
        token = jwt.encode(
            {"alg": "RS256", "kid": "rotated-in"}, id_claims(forger, flow["nonce"]), stranger
        )
        forger.id_token = token
        response = await api.http.get(
            CALLBACK.format(name="forger"), params={"code": "c", "state": flow["state"]}
        )
        assert response.status_code == 401
    assert forger.jwks_fetches == before + 1


async def test_an_iss_parameter_from_another_issuer_is_a_mix_up(
    api: Api, forger: ForgingProvider
) -> None:
    flow = await start(api, "forger")
    forger.id_token = forger.sign(id_claims(forger, flow["nonce"]))
    response = await api.http.get(
        CALLBACK.format(name="forger"),
        params={"code": "c", "state": flow["state"], "iss": "https://attacker.example"},
    )
    assert response.status_code == 401
    assert any("iss_mismatch" in d for _, d in await audited(api, "auth.oidc_callback"))


# ------------------------------------------------------------------ logout


async def forged_sign_in(
    api: Api, forger: ForgingProvider, sid: str, **claims: Any
) -> dict[str, Any]:
    flow = await start(api, "forger")
    forger.id_token = forger.sign(id_claims(forger, flow["nonce"], sid=sid, **claims))
    return await finish(api, f"{CALLBACK.format(name='forger')}?code=c&state={flow['state']}")


async def forged_code(api: Api, forger: ForgingProvider, **claims: Any) -> str:
    """A login code from a forged sign-in (not yet exchanged)."""
    flow = await start(api, "forger")
    forger.id_token = forger.sign(id_claims(forger, flow["nonce"], **claims))
    done = await api.http.get(
        CALLBACK.format(name="forger"), params={"code": "c", "state": flow["state"]}
    )
    assert done.status_code == 302, done.text
    return parse_qs(urlsplit(done.headers["location"]).fragment)["sso_code"][0]


# ------------------------------------------------------------------ accounts and MFA


async def test_trusted_amr_counts_as_the_admins_second_factor(
    api: Api, forger: ForgingProvider
) -> None:
    trusted = await forged_sign_in(
        api, forger, "s-a", sub="adm-1", groups=["lg-admins"], amr=["pwd", "mfa"]
    )
    assert trusted["restrictions"] == []
    listed = await api.http.get("/api/v1/users", headers=bearer(trusted["access_token"]))
    assert listed.status_code == 200, listed.text
    refreshed = await api.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": trusted["refresh_token"]}
    )
    assert refreshed.json()["restrictions"] == []
    again = await api.http.get("/api/v1/users", headers=bearer(refreshed.json()["access_token"]))
    assert again.status_code == 200
    # Without amr the admin still has to enrol a local authenticator first.
    untrusted = await forged_sign_in(api, forger, "s-b", sub="adm-1", groups=["lg-admins"])
    assert untrusted["restrictions"] == ["mfa_enrolment"]
    denied = await api.http.get("/api/v1/users", headers=bearer(untrusted["access_token"]))
    assert denied.status_code == 403


async def test_linking_by_email_needs_email_verified_and_local_totp_still_applies(
    api: Api, forger: ForgingProvider
) -> None:
    token = await api.token_for("local-op", "operator")
    patched = await api.http.patch(
        "/api/v1/users/me", headers=bearer(token), json={"email": "op@example.org"}
    )
    assert patched.status_code == 200, patched.text
    local_id = patched.json()["id"]
    secret = (
        await api.http.post(
            "/api/v1/auth/mfa/enrol", headers=bearer(token), json={"password": PASSWORD}
        )
    ).json()["secret"]
    confirm = await api.http.post(
        "/api/v1/auth/mfa/confirm", headers=bearer(token), json={"code": pyotp.TOTP(secret).now()}
    )
    assert confirm.status_code == 200, confirm.text
    # Not verified: a new account (JIT), never the local one.
    unverified = await forged_sign_in(
        api, forger, "s-c", sub="op-unverified", email="op@example.org", email_verified=False
    )
    me = await api.http.get("/api/v1/users/me", headers=bearer(unverified["access_token"]))
    assert me.json()["id"] != local_id
    # Verified: linked to the local account, whose own TOTP is then required.
    login_code = await forged_code(
        api, forger, sub="op-verified", email="op@example.org", email_verified=True
    )
    without = await api.http.post("/api/v1/auth/oidc/exchange", json={"login_code": login_code})
    assert without.status_code == 401
    assert without.json()["type"].endswith("mfa-required")
    code = str(pyotp.TOTP(secret).at(time.time() + 30))
    with_code = await api.http.post(
        "/api/v1/auth/oidc/exchange", json={"login_code": login_code, "code": code}
    )
    assert with_code.status_code == 200, with_code.text
    me = await api.http.get("/api/v1/users/me", headers=bearer(with_code.json()["access_token"]))
    assert me.json()["id"] == local_id
    # The link is by (issuer, subject) from now on: the e-mail no longer matters.
    login_code = await forged_code(api, forger, sub="op-verified", email="changed@example.org")
    exchanged = await api.http.post(
        "/api/v1/auth/oidc/exchange",
        json={"login_code": login_code, "code": confirm.json()["recovery_codes"][0]},
    )
    assert exchanged.status_code == 200, exchanged.text


def logout_claims(forger: ForgingProvider, **override: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": forger.issuer,
        "aud": "lensguard-client",
        "iat": int(time.time()),
        "jti": f"jti-{time.monotonic_ns()}",
        "events": {BCL: {}},
        "sid": "provider-session-9",
    }
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


async def post_logout(api: Api, token: str) -> httpx.Response:
    return await api.http.post(
        "/api/v1/auth/oidc/forger/backchannel-logout",
        content=f"logout_token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_backchannel_logout_ends_the_provider_session(
    api: Api, forger: ForgingProvider
) -> None:
    tokens = await forged_sign_in(api, forger, "provider-session-9")
    other = await forged_sign_in(api, forger, "provider-session-10")
    me = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    token = forger.sign(
        logout_claims(forger), header={"alg": "RS256", "kid": forger.key.kid, "typ": "logout+jwt"}
    )
    response = await post_logout(api, token)
    assert response.status_code == 200, response.text
    assert response.json() == {"sessions_ended": 1}
    gone = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401
    kept = await api.http.get("/api/v1/users/me", headers=bearer(other["access_token"]))
    assert kept.status_code == 200
    refresh = await api.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert (await post_logout(api, token)).status_code == 400  # the same jti again


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"events": None}, "events"),
        ({"events": {"http://example.org/other": {}}}, "events"),
        ({"nonce": "n"}, "nonce"),
        ({"sid": None}, "no_subject"),
        ({"aud": "other"}, "audience"),
    ],
)
async def test_bad_logout_tokens_are_refused(
    api: Api, forger: ForgingProvider, override: dict[str, Any], reason: str
) -> None:
    response = await post_logout(api, forger.sign(logout_claims(forger, **override)))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(reason in d for _, d in await audited(api, "auth.oidc_backchannel_logout"))


async def test_a_logout_token_with_a_bad_signature_is_refused(
    api: Api, forger: ForgingProvider
) -> None:
    tokens = await forged_sign_in(api, forger, "provider-session-11")
    stranger = RSAKey.generate_key(2048, parameters={"kid": str(forger.key.kid)})
    token = jwt.encode(
        {"alg": "RS256", "kid": forger.key.kid},
        logout_claims(forger, sid="provider-session-11"),
        stranger,
    )
    assert (await post_logout(api, token)).status_code == 400
    me = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert any("bad_signature" in d for _, d in await audited(api, "auth.oidc_backchannel_logout"))


async def test_rp_initiated_logout_gives_the_end_session_url(
    api: Api, forger: ForgingProvider
) -> None:
    tokens = await forged_sign_in(api, forger, "provider-session-12")
    response = await api.http.post(
        "/api/v1/auth/oidc/logout", headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 200, response.text
    url = response.json()["end_session_url"]
    assert url.startswith(f"{forger.issuer}/logout?")
    assert "client_id=lensguard-client" in url
    gone = await api.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401


async def test_admins_list_and_unlink_identities(api: Api, forger: ForgingProvider) -> None:
    boss = await forged_sign_in(
        api, forger, "s-boss", sub="boss", groups=["lg-admins"], amr=["mfa"]
    )
    person = await forged_sign_in(api, forger, "s-person", sub="person-1")
    person_id = (
        await api.http.get("/api/v1/users/me", headers=bearer(person["access_token"]))
    ).json()["id"]
    path = f"/api/v1/users/{person_id}/identities"
    viewer = await api.http.get(path, headers=bearer(person["access_token"]))
    assert viewer.status_code == 403
    listed = await api.http.get(path, headers=bearer(boss["access_token"]))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["password_login"] is False
    [link] = body["identities"]
    assert (link["provider"], link["subject"]) == ("forger", "person-1")
    switched = await api.http.put(
        f"/api/v1/users/{person_id}/password-login",
        headers=bearer(boss["access_token"]),
        json={"enabled": True},
    )
    assert switched.status_code == 204
    gone = await api.http.delete(f"{path}/{link['id']}", headers=bearer(boss["access_token"]))
    assert gone.status_code == 204
    after = await api.http.get(path, headers=bearer(boss["access_token"]))
    assert after.json() == {"password_login": True, "identities": []}
    missing = await api.http.delete(f"{path}/{link['id']}", headers=bearer(boss["access_token"]))
    assert missing.status_code == 404
    # Unlinked: the same provider identity is a stranger now (JIT makes a new account).
    again = await forged_sign_in(api, forger, "s-person-2", sub="person-1")
    me = await api.http.get("/api/v1/users/me", headers=bearer(again["access_token"]))
    assert me.json()["id"] != person_id
    assert [o for o, _ in await audited(api, "user.identity_unlink")] == ["success"]
