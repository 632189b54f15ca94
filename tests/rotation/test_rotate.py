"""``Rotation``: a populated deployment moved to a new secret, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lensguard.app import create_app
from lensguard.audit import AuditLog, query
from lensguard.errors import ConfigurationError
from lensguard.keyring.models import KeptKey, SecretRotation
from lensguard.protect.subkeys import Purpose
from lensguard.recordings.keys import KeyRing, KeyUnavailable
from lensguard.recordings.segments import read_segment
from lensguard.rotation.engine import Rotation, rotation_status
from lensguard.store.db import Database
from tests.api.conftest import PASSWORD, Api, bearer
from tests.api.test_mfa import next_code
from tests.harness.server import strong_secret
from tests.rotation.support import Deployment, audit_keys, populate, wrapped_blobs


@pytest.fixture
async def deployment(make_settings: Any, db_url: str, tmp_path: Path) -> Deployment:
    settings = make_settings(database={"url": db_url}, limits={"requests_per_minute": 100_000})
    return await populate(settings, tmp_path)


async def rotate(url: str, old: str, new: str, **kwargs: Any) -> Any:
    db = Database(url)
    try:
        return await Rotation(db, old=old, new=new, **kwargs).run()
    finally:
        await db.dispose()


async def check_works_under(deployment: Deployment, secret: str) -> None:
    """Everything the first secret protected works on an app holding only ``secret``."""
    async for api in deployment.apps(secret):
        await check_identity(api, deployment)
    db = Database(deployment.url)
    try:
        async with db.sessions() as session:
            for segment_id, plaintext in deployment.segments.items():
                ring = KeyRing.from_secret(secret)
                assert await read_segment(session, deployment.store, ring, segment_id) == plaintext
            raw_ring = KeyRing.from_secret(secret, purpose=Purpose.RECORDING_RAW_KEK)
            for segment_id, plaintext in deployment.raw_segments.items():
                opened = await read_segment(session, deployment.store, raw_ring, segment_id)
                assert opened == plaintext
        log = AuditLog.from_secret(secret, keys=audit_keys(deployment.url, secret))
        report = await log.verify(db)
        assert report.ok, report.reason
        # Sealed audit fields open under the subject keys the rotation re-wrapped.
        async with db.sessions() as session:
            rows = await query(session, actor="ada", opener=log.opener(), limit=500)
        assert rows and all(row.actor_name == "ada" for row in rows)
        assert any(row.source_address is not None for row in rows)
    finally:
        await db.dispose()


async def check_identity(api: Api, deployment: Deployment) -> None:
    totp = {"code": next_code(deployment.totp_secret)}
    # By e-mail: the blind-index key and the field data key came through the rotation.
    assert (await api.login("Ada@Example.org", PASSWORD, **totp))["access_token"]
    recovery = {"code": deployment.recovery_codes[0]}
    login = await api.http.post(
        "/api/v1/auth/login", json={"username": "ada", "password": PASSWORD, **recovery}
    )
    assert login.status_code == 200, login.text
    me = await api.http.get("/api/v1/users/me", headers=bearer(deployment.api_key))
    assert me.status_code == 200, me.text
    assert (me.json()["email"], me.json()["display_name"]) == ("ada@example.org", "Ada Lovelace")
    old_access = await api.http.get("/api/v1/users/me", headers=bearer(deployment.access_token))
    assert old_access.status_code == 200, old_access.text
    refreshed = await api.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": deployment.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    # New signing keys, seeds and data keys are made under the new secret too.
    assert await api.identity.tokens.rotate()


async def test_a_rotated_deployment_keeps_working_under_the_new_secret_alone(
    deployment: Deployment,
) -> None:
    old, new = deployment.secret, strong_secret()
    report = await rotate(deployment.url, old, new)
    # Two signing keys, two users with seeds (one pending), five data keys, the
    # personal-field data key and blind-index key, and the audit subject keys of root,
    # ada and bob.
    assert (report.moved, report.unreadable, report.resumed) == (16, 0, False)
    await check_works_under(deployment, new)
    with pytest.raises(ConfigurationError, match="not the secret the stored secrets were last"):
        create_app(deployment.under(old))
    db = Database(deployment.url)
    try:
        status = await rotation_status(db, new)
        assert (status.state, status.is_target, status.left_elsewhere) == ("done", True, 0)
        assert (await rotation_status(db, old)).left_elsewhere > 0
        for segment_id in deployment.segments:
            async with db.sessions() as session:
                with pytest.raises(KeyUnavailable):
                    await read_segment(
                        session, deployment.store, KeyRing.from_secret(old), segment_id
                    )
    finally:
        await db.dispose()


async def test_a_crash_part_way_resumes_where_it_stopped(deployment: Deployment) -> None:
    old, new = deployment.secret, strong_secret()
    seen: list[int] = []

    def crash_at_five(kind: str, handled: int) -> None:
        seen.append(handled)
        if handled == 5:
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        await rotate(deployment.url, old, new, batch=2, on_row=crash_at_five)
    assert seen == [1, 2, 3, 4, 5]
    db = Database(deployment.url)
    try:
        status = await rotation_status(db, new)
        assert status.state == "running"
        # The signing keys' and the seeds' batches committed; the first batch of data
        # keys rolled back with the crash.
        assert [kind.opening for kind in status.kinds] == [2, 2, 0, 0, 0, 0, 0, 0]
        async with db.sessions() as session:
            rotation = (await session.execute(select(SecretRotation))).scalar_one()
            assert (rotation.step, rotation.cursor, rotation.moved) == ("recording_keys", None, 4)
    finally:
        await db.dispose()
    for secret in (old, new):
        with pytest.raises(ConfigurationError, match="a secret rotation is unfinished"):
            create_app(deployment.under(secret))
    # Resuming with other secrets is refused; with the same ones it completes.
    with pytest.raises(ConfigurationError, match="unfinished rotation moves between two other"):
        await rotate(deployment.url, old, strong_secret())
    report = await rotate(deployment.url, old, new, batch=2)
    assert (report.moved, report.resumed) == (16, True)
    await check_works_under(deployment, new)


async def test_a_wrong_old_secret_changes_nothing(deployment: Deployment) -> None:
    before = await wrapped_blobs(deployment.url)
    with pytest.raises(ConfigurationError, match="old secret does not open the stored"):
        await rotate(deployment.url, strong_secret(), strong_secret())
    assert await wrapped_blobs(deployment.url) == before
    db = Database(deployment.url)
    try:
        async with db.sessions() as session:
            for table in (SecretRotation, KeptKey):
                count = select(func.count()).select_from(table)
                assert (await session.execute(count)).scalar_one() == 0
    finally:
        await db.dispose()
    with pytest.raises(ConfigurationError, match="the new secret is the old one"):
        await rotate(deployment.url, deployment.secret, deployment.secret)
    # A node given the next secret before the rotation ran stops at start-up.
    with pytest.raises(ConfigurationError, match="differs from the one that wrapped the active"):
        create_app(deployment.under(strong_secret()))


async def test_a_second_rotation_moves_on_and_the_audit_chain_still_verifies(
    deployment: Deployment,
) -> None:
    first, second, third = deployment.secret, strong_secret(), strong_secret()
    await rotate(deployment.url, first, second)
    again = await rotate(deployment.url, first, second)
    assert again.already_done
    with pytest.raises(ConfigurationError, match="not the one the stored secrets were last"):
        await rotate(deployment.url, first, third)
    report = await rotate(deployment.url, second, third)
    assert (report.moved, report.unreadable) == (16, 0)
    await check_works_under(deployment, third)
    for stale in (first, second):
        with pytest.raises(ConfigurationError):
            create_app(deployment.under(stale))
