"""Personal fields sealed one by one, found by blind index, moved to a new key by ``rekey``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, update

from lensguard.audit.models import AuditEntry
from lensguard.keyring import rekey
from lensguard.keyring.fields import FieldKeys, FieldUnreadable
from lensguard.keyring.models import FieldKey
from lensguard.store.models import LoginSession, User
from tests.api.conftest import PASSWORD, Api, bearer, build_api

ADA = {"email": "Ada@Example.ORG ", "display_name": "Ada Lovelace", "phone": "+44 1632 960961"}


@pytest.fixture
async def app(make_settings: Any, db_url: str) -> AsyncIterator[Api]:
    settings = make_settings(database={"url": db_url}, limits={"requests_per_minute": 100_000})
    async for api in build_api(settings):
        yield api


async def create(api: Api, token: str, username: str, **profile: Any) -> Any:
    body = {"username": username, "password": PASSWORD, "role": "viewer", **profile}
    return await api.http.post("/api/v1/users", headers=bearer(token), json=body)


async def row_of(api: Api, user_id: str) -> User:
    async with api.identity.db.sessions() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


def stored_bytes(row: Any) -> bytes:
    """Every column of a row as bytes, to look for a value stored in clear."""
    values = (getattr(row, c.key) for c in row.__table__.columns)
    return b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in values)


async def test_fields_are_sealed_at_rest_and_shown_in_clear(app: Api) -> None:
    root = await app.token_for("root", "admin")
    made = await create(app, root, "ada", **ADA)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert (shown["email"], shown["display_name"], shown["phone"]) == (
        "ada@example.org",
        "Ada Lovelace",
        "+441632960961",
    )
    row = await row_of(app, shown["id"])
    raw = stored_bytes(row).lower()
    for clear in (b"ada@example.org", b"lovelace", b"1632960961"):
        assert clear not in raw
    assert row.fields_version == 1 and row.email_index is not None
    assert row.email_sealed is not None and row.email_sealed[:1] == b"\xf1"
    # Read back through the API, and listed.
    read = await app.http.get(f"/api/v1/users/{shown['id']}", headers=bearer(root))
    assert read.json()["email"] == "ada@example.org"
    listed = await app.http.get("/api/v1/users", headers=bearer(root))
    assert {u["username"]: u["email"] for u in listed.json()}["ada"] == "ada@example.org"
    # The audit entry names which fields were set, never their values.
    async with app.identity.db.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "user.create")
            .order_by(AuditEntry.seq.desc())
        )
    assert entry is not None
    assert "lovelace" not in entry.details.lower() and "example.org" not in entry.details
    assert "display_name" in entry.details


async def test_sign_in_by_email_through_the_blind_index(app: Api) -> None:
    root = await app.token_for("root", "admin")
    assert (await create(app, root, "ada", **ADA)).status_code == 201
    tokens = await app.login("  ADA@example.org")
    me = await app.http.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["username"] == "ada"
    for wrong in ("ada@example.com", "nobody@example.org"):
        refused = await app.http.post(
            "/api/v1/auth/login", json={"username": wrong, "password": PASSWORD}
        )
        assert refused.status_code == 401
        assert refused.json()["detail"] == "invalid username or password"
    # A sign-in by address is audited under the account's name, not the address.
    trail = await app.http.get("/api/v1/audit?action=auth.login", headers=bearer(root))
    names = [item["actor_name"] for item in trail.json()["items"]]
    assert "ada" in names and "ada@example.org" not in names


async def test_bad_and_taken_values_are_refused(app: Api) -> None:
    root = await app.token_for("root", "admin")
    assert (await create(app, root, "ada", **ADA)).status_code == 201
    taken = await create(app, root, "ada2", email="ADA@example.org")
    assert taken.status_code == 409
    assert taken.json()["detail"] == "another account already has this e-mail address"
    for bad in ({"email": "not-an-address"}, {"phone": "01632 960961"}, {"display_name": " "}):
        refused = await create(app, root, "bea", **bad)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    too_long = await create(app, root, "bea", email="a" * 250 + "@x.org")
    assert too_long.status_code == 422


async def test_own_profile_changes_and_null_clears(app: Api) -> None:
    token = await app.token_for("ada", "viewer")
    set_ = await app.http.patch(
        "/api/v1/users/me", headers=bearer(token), json={"display_name": "Ada", "phone": None}
    )
    assert set_.status_code == 200, set_.text
    assert (set_.json()["display_name"], set_.json()["phone"]) == ("Ada", None)
    both = await app.http.patch(
        "/api/v1/users/me", headers=bearer(token), json={"email": "ada@example.org"}
    )
    assert (both.json()["display_name"], both.json()["email"]) == ("Ada", "ada@example.org")
    cleared = await app.http.patch("/api/v1/users/me", headers=bearer(token), json={"email": None})
    assert cleared.json()["email"] is None
    row = await row_of(app, cleared.json()["id"])
    assert row.email_index is None and row.email_sealed is None
    assert row.display_name_sealed is not None
    # Unknown fields are refused, not ignored.
    extra = await app.http.patch("/api/v1/users/me", headers=bearer(token), json={"role": "admin"})
    assert extra.status_code == 422


async def test_a_sealed_value_moved_to_another_row_does_not_open(app: Api) -> None:
    root = await app.token_for("root", "admin")
    ada = (await create(app, root, "ada", **ADA)).json()["id"]
    bea = (await create(app, root, "bea")).json()["id"]
    sealed_email = (await row_of(app, ada)).display_name_sealed
    async with app.identity.db.transaction() as session:
        await session.execute(
            update(User).where(User.id == bea).values(display_name_sealed=sealed_email)
        )
    shown = await app.http.get(f"/api/v1/users/{bea}", headers=bearer(root))
    assert shown.status_code == 200
    assert shown.json()["display_name"] is None
    keys = app.identity.fields
    async with app.identity.db.sessions() as session:
        assert sealed_email is not None
        with pytest.raises(FieldUnreadable):
            await keys.open(session, sealed_email, where=f"users.display_name|{bea}")
        with pytest.raises(FieldUnreadable):
            await FieldKeys(b"\x00" * 32).open(
                session, sealed_email, where=f"users.display_name|{ada}"
            )


async def test_session_address_and_browser_are_sealed(app: Api) -> None:
    await app.add_user("ada", "viewer")
    response = await app.http.post(
        "/api/v1/auth/login",
        json={"username": "ada", "password": PASSWORD},
        headers={"user-agent": "Firefox/140"},
    )
    token = response.json()["access_token"]
    async with app.identity.db.sessions() as session:
        login = (await session.scalars(select(LoginSession))).one()
    assert login.client_address is None and login.user_agent is None
    assert b"Firefox" not in (login.user_agent_sealed or b"")
    listed = await app.http.get("/api/v1/sessions", headers=bearer(token))
    (shown,) = listed.json()
    assert (shown["client_address"], shown["user_agent"]) == ("198.51.100.10", "Firefox/140")


async def test_rekey_moves_every_row_and_retires_the_old_key(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = await app.token_for("root", "admin")
    ids = [
        (
            await create(app, root, f"user{i}", email=f"u{i}@example.org", display_name=f"U {i}")
        ).json()["id"]
        for i in range(5)
    ]
    db, services = app.identity.db, app.identity
    # A session from before field encryption: address and browser in clear.
    async with db.transaction() as session:
        legacy = (await session.scalars(select(LoginSession))).first()
        assert legacy is not None
        legacy.client_address_sealed = legacy.user_agent_sealed = None
        legacy.fields_version = None
        legacy.client_address, legacy.user_agent = "203.0.113.9", "Legacy/1"
    # The job is stopped part way (as by kill -9 after its second batch commits) ...
    monkeypatch.setattr(rekey, "BATCH", 2)
    batches: list[int] = []

    def stop_after_two(table: str, done: int, todo: int) -> None:
        batches.append(done)
        if len(batches) == 2:
            raise KeyboardInterrupt

    other = FieldKeys(services.wrap_key)  # the job runs on its own, as the CLI does
    with pytest.raises(KeyboardInterrupt):
        await rekey.rekey(db, other, progress=stop_after_two)
    state = await rekey.status(db)
    assert state["live_versions"] == [1, 2] and state["rows_behind"] > 0
    # ... and the running server still reads rows on both versions meanwhile.
    shown = await app.http.get("/api/v1/users", headers=bearer(root))
    assert sorted(u["email"] for u in shown.json() if u["email"]) == [
        f"u{i}@example.org" for i in range(5)
    ]
    # Run again: it finishes the same move instead of starting another.
    report = await rekey.rekey(db, FieldKeys(services.wrap_key))
    assert (report.version, report.started, report.retired) == (2, False, [1])
    assert report.unreadable == {}
    async with db.sessions() as session:
        old = await session.get(FieldKey, ("data", 1))
        assert old is not None and old.wrapped is None and old.retired_at is not None
        versions = {u.fields_version for u in (await session.scalars(select(User))).all()}
        assert versions <= {2, None}
        moved = await session.get(LoginSession, legacy.id)
        assert moved is not None
        assert (moved.client_address, moved.user_agent, moved.fields_version) == (None, None, 2)
    # The server (which had version 1 in memory) reads version 2 from the database.
    for user_id in ids:
        read = await app.http.get(f"/api/v1/users/{user_id}", headers=bearer(root))
        assert read.json()["email"].endswith("@example.org")
    sessions = await app.http.get(
        "/api/v1/sessions", headers=bearer(root), params={"all_users": "true"}
    )
    assert ("203.0.113.9", "Legacy/1") in {
        (s["client_address"], s["user_agent"]) for s in sessions.json()
    }
    assert (await app.login("u3@example.org"))["access_token"]
    # A later run starts the next version; nothing is left on the old.
    again = await rekey.rekey(db, FieldKeys(services.wrap_key))
    assert (again.version, again.started, again.retired) == (3, True, [2])
