"""Erasure over the API: four eyes, what goes, the chain still verifies, the certificate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from lensguard.audit.models import AuditEntry, AuditSubjectKey
from lensguard.privacy.erasure import certificate_statement
from lensguard.store.models import ApiKey, LoginSession, User
from tests.api.conftest import PASSWORD, Api, bearer, build_api

BASE = "/api/v1/privacy/erasures"
REASON = {"reason": "subject request 2026-118 by e-mail"}


async def test_a_second_officer_erases_and_the_chain_still_verifies(api_both: Api) -> None:
    api = api_both
    root = await api.token_for("root", "admin")
    olga = await api.token_for("olga", "admin")
    vera = await api.token_for("vera", "viewer")
    key = await api.http.post(
        "/api/v1/api-keys", headers=bearer(vera), json={"name": "nas", "scopes": ["account_self"]}
    )
    assert key.status_code == 201
    vera_id = (await api.http.get("/api/v1/users/me", headers=bearer(vera))).json()["id"]
    vera_ref = api.identity.audit.actor_ref("user", vera_id)
    seen = await api.http.get("/api/v1/audit?actor=vera", headers=bearer(root))
    assert seen.json()["items"] and all(i["actor_name"] == "vera" for i in seen.json()["items"])
    async with api.identity.db.sessions() as session:
        assert await session.get(AuditSubjectKey, vera_ref) is not None

    asked = await api.http.post(BASE, headers=bearer(root), json={"user": "vera", **REASON})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert asked.json()["state"] == "pending" and asked.json()["certificate"] is None
    again = await api.http.post(BASE, headers=bearer(root), json={"user": vera_id, **REASON})
    assert again.status_code == 409 and request_id in again.json()["detail"]
    own = await api.http.post(f"{BASE}/{request_id}/approve", headers=bearer(root))
    assert own.status_code == 403 and "four eyes" in own.json()["detail"]

    done = await api.http.post(f"{BASE}/{request_id}/approve", headers=bearer(olga))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["state"] == "done"
    certificate = body["certificate"]
    assert certificate["subject"]["user_id"] == vera_id
    assert certificate["erased"]["api_keys"] == 1 and certificate["erased"]["audit_entries"] > 0
    public = api.identity.audit.checkpoint_public_key
    public.verify(bytes.fromhex(certificate["signature"]), certificate_statement(certificate))

    # The account is gone as a person: no name in the audit log, no sessions or keys,
    # no sign-in.
    async with api.identity.db.sessions() as session:
        user = await session.get(User, vera_id)
        assert user is not None and user.username.startswith("erased-") and user.disabled
        assert user.totp_secret is None and list(user.sites) == []
        assert not list(
            await session.scalars(select(LoginSession).where(LoginSession.user_id == vera_id))
        )
        assert not list(
            await session.scalars(select(ApiKey).where(ApiKey.owner_user_id == vera_id))
        )
        # Her subject key is shredded: her sealed audit fields open nowhere any more.
        assert await session.get(AuditSubjectKey, vera_ref) is None
        named = list(
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor_type).where(
                    AuditEntry.actor_name == "vera"
                )
            )
        )
    assert named == []
    found = await api.http.get("/api/v1/audit?actor=vera", headers=bearer(root))
    assert found.json()["items"] == []
    login = await api.http.post(
        "/api/v1/auth/login", json={"username": "vera", "password": PASSWORD}
    )
    assert login.status_code == 401
    assert (await api.http.get("/api/v1/users/me", headers=bearer(vera))).status_code == 401
    report = await api.identity.audit.verify(api.identity.db)
    assert report.ok, report.reason
    verified = (await api.http.get("/api/v1/audit/verify", headers=bearer(root))).json()
    assert verified["ok"] and verified["erased"] == report.erased > 0
    page = await api.http.get("/api/v1/audit?limit=500", headers=bearer(root))
    hers = [i for i in page.json()["items"] if i["actor_ref"] == vera_ref]
    assert hers and all(i["personal_erased"] for i in hers)
    assert {(i["actor_id"], i["actor_name"], i["source_address"]) for i in hers} == {
        (None, None, None)
    }

    same = await api.http.post(f"{BASE}/{request_id}/approve", headers=bearer(olga))
    assert same.json()["certificate"] == certificate  # done once; approving again changes nothing
    trail = await api.http.get("/api/v1/audit?action=privacy.erasure", headers=bearer(root))
    assert len(trail.json()["items"]) == 1
    read = await api.http.get(f"{BASE}/{request_id}", headers=bearer(root))
    assert read.json()["certificate"] == certificate


async def test_refusals(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        privacy={"erasure_four_eyes": False},
    )
    async for api in build_api(settings):
        root = await api.token_for("root", "admin")
        operator = await api.token_for("otto", "operator")
        asked = await api.http.post(BASE, headers=bearer(root), json={"user": "root", **REASON})
        refused = await api.http.post(f"{BASE}/{asked.json()['id']}/approve", headers=bearer(root))
        assert (
            refused.status_code == 409 and "last enabled administrator" in refused.json()["detail"]
        )
        assert (await api.http.get("/api/v1/users/me", headers=bearer(root))).status_code == 200

        unknown = await api.http.post(BASE, headers=bearer(root), json={"user": "nobody", **REASON})
        assert unknown.status_code == 404
        short = await api.http.post(
            BASE, headers=bearer(root), json={"user": "otto", "reason": "x"}
        )
        assert short.status_code == 422
        assert (await api.http.get(f"{BASE}/missing", headers=bearer(root))).status_code == 404
        for method, path in (("POST", BASE), ("GET", f"{BASE}/x"), ("POST", f"{BASE}/x/approve")):
            answer = await api.http.request(
                method, path, headers=bearer(operator), json={"user": "root", **REASON}
            )
            assert answer.status_code == 403, path
        # With four eyes off, one officer may ask and approve.
        otto = await api.http.post(BASE, headers=bearer(root), json={"user": "otto", **REASON})
        done = await api.http.post(f"{BASE}/{otto.json()['id']}/approve", headers=bearer(root))
        assert done.status_code == 200 and done.json()["state"] == "done"
