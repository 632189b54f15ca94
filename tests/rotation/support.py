"""A populated deployment to rotate: users with TOTP, keys, tokens, recordings, audit."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from lensguard.audit.models import AuditSubjectKey
from lensguard.keyring.kept import load_purpose_keys
from lensguard.protect.subkeys import Purpose
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.segments import write_segment
from lensguard.recordings.store import LocalStore
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.store.models import SigningKey, User
from tests.api.conftest import PASSWORD, Api, bearer, build_api
from tests.api.test_mfa import enrol

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SEGMENTS = 5


@dataclass
class Deployment:
    """What the first secret protected, and what must still work under the next one."""

    settings: Settings
    store: LocalStore
    totp_secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)
    api_key: str = ""
    refresh_token: str = ""
    access_token: str = ""
    segments: dict[str, bytes] = field(default_factory=dict)
    raw_segments: dict[str, bytes] = field(default_factory=dict)
    """A site's ``record_raw`` segments: data keys under the raw stream's own KEKs."""

    @property
    def url(self) -> str:
        return self.settings.database_url

    @property
    def secret(self) -> str:
        assert self.settings.secret_key is not None
        return self.settings.secret_key.get_secret_value()

    def under(self, secret: str) -> Settings:
        """The same settings with another master secret."""
        return self.settings.model_copy(update={"secret_key": SecretStr(secret)})

    async def apps(self, secret: str) -> AsyncIterator[Api]:
        async for api in build_api(self.under(secret)):
            yield api


async def populate(settings: Settings, tmp_path: Path) -> Deployment:
    """Sign in, enrol TOTP, make an API key and a pending enrolment, record segments."""
    deployment = Deployment(settings, LocalStore(tmp_path / "recordings"))
    async for api in build_api(settings):
        admin = await api.token_for("root", "admin")
        deployment.access_token = admin
        deployment.refresh_token = (await api.login("root"))["refresh_token"]
        ada = await api.token_for("ada", "operator")
        deployment.totp_secret, deployment.recovery_codes = await enrol(api, ada)
        # Sealed personal fields: a field data key and the blind-index key to move.
        profile = {"email": "ada@example.org", "display_name": "Ada Lovelace"}
        changed = await api.http.patch("/api/v1/users/me", headers=bearer(ada), json=profile)
        assert changed.status_code == 200, changed.text
        created = await api.http.post(
            "/api/v1/api-keys",
            headers=bearer(ada),
            json={"name": "ci", "scopes": ["camera_view", "account_self"]},
        )
        assert created.status_code == 201, created.text
        deployment.api_key = created.json()["key"]
        bob = await api.token_for("bob", "viewer")
        pending = await api.http.post(
            "/api/v1/auth/mfa/enrol", headers=bearer(bob), json={"password": PASSWORD}
        )
        assert pending.status_code == 200, pending.text
        await api.identity.tokens.rotate()  # a retired key besides the active one
    db = Database(settings.database_url)
    try:
        ring = KeyRing.from_secret(deployment.secret)
        for i in range(SEGMENTS):
            plaintext = os.urandom(3000)
            row = await write_segment(
                db,
                deployment.store,
                ring,
                recording_id="r" * 32,
                device_id="d" * 32,
                stream="processed",
                started_at=START + timedelta(seconds=4 * i),
                ended_at=START + timedelta(seconds=4 * (i + 1)),
                plaintext=plaintext,
            )
            deployment.segments[row.id] = plaintext
        raw_ring = KeyRing.from_secret(deployment.secret, purpose=Purpose.RECORDING_RAW_KEK)
        for i in range(2):
            plaintext = os.urandom(3000)
            row = await write_segment(
                db,
                deployment.store,
                raw_ring,
                recording_id="q" * 32,
                device_id="d" * 32,
                stream="raw",
                started_at=START + timedelta(seconds=4 * i),
                ended_at=START + timedelta(seconds=4 * (i + 1)),
                plaintext=plaintext,
            )
            deployment.raw_segments[row.id] = plaintext
    finally:
        await db.dispose()
    return deployment


async def wrapped_blobs(url: str) -> dict[str, Any]:
    """Every wrapped value stored, by row: to show what a refused rotation left alone."""
    db = Database(url)
    try:
        async with db.sessions() as session:
            blobs: dict[str, Any] = {}
            for key in (await session.execute(select(SigningKey))).scalars():
                blobs[f"kid:{key.kid}"] = key.private_key_wrapped
            for user in (await session.execute(select(User))).scalars():
                blobs[f"user:{user.id}"] = (user.totp_secret, user.totp_pending)
            for seg in (await session.execute(select(RecordingSegment))).scalars():
                blobs[f"seg:{seg.id}"] = seg.wrapped_key
            for subject in (await session.execute(select(AuditSubjectKey))).scalars():
                blobs[f"subject:{subject.subject}"] = subject.wrapped
            return blobs
    finally:
        await db.dispose()


def audit_keys(url: str, secret: str) -> Any:
    return load_purpose_keys(url, secret)
