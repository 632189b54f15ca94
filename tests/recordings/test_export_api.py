"""Evidence export over the API on real encrypted recordings, checked offline afterwards.

Every test runs on SQLite and PostgreSQL, with the local store and with S3 (moto).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import jwt
import pytest
from sqlalchemy import select

from lensguard.api.jwks import EVIDENCE_CACHE_SECONDS
from lensguard.audit.models import AuditEntry
from lensguard.clock import ManualClock
from lensguard.identity.signing_keys import public_key_from_jwk
from lensguard.identity.tokens import InvalidToken
from lensguard.monitor.event import SecurityEvent
from lensguard.recordings import index
from lensguard.recordings.bundle import CLIP, CUSTODY, MANIFEST
from lensguard.recordings.bundle_check import check_bundle
from lensguard.recordings.evidence_keys import EvidenceKeys
from lensguard.recordings.export import STORE_PREFIX
from lensguard.recordings.lease import FileLease
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.schedule import job_for
from lensguard.recordings.settings import RetentionSettings
from lensguard.recordings.store import SegmentNotFound
from lensguard.severity import Severity
from tests.api.conftest import Api, bearer
from tests.recordings.playback_support import add_device, playback_app, span
from tests.recordings.recorded import FPS, segments_of
from tests.recordings.vp8 import encode

EXPORTS = "/api/v1/recordings/exports"
REASON = "case 2026-1204: request from the site's security lead"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.process)])
async def api(
    request: pytest.FixtureRequest, make_settings: Any, db_url: str, manual_clock: ManualClock
) -> AsyncIterator[Api]:
    async for value in playback_app(request, make_settings, db_url, manual_clock, request.param):
        yield value


async def audited(api: Api, action: str) -> list[dict[str, Any]]:
    async with api.identity.db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.details).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        return [json.loads(d) for d in rows.scalars().all()]


async def setup(api: Api) -> tuple[str, str, list[RecordingSegment]]:
    """A device with 4 s of real VP8 recorded through the app's EncryptedSink, sealed."""
    admin = await api.token_for("ada", "admin")
    device = await add_device(api, admin, "gate", "dock")
    frames = encode(4 * FPS, keyframes=(0, 30, 60, 90), size=(160, 120))
    start = api.identity.clock.now() - timedelta(hours=1)
    sink = api.identity.recordings.sink(device)
    for segment in segments_of(frames, per=FPS, start=start):
        await sink.segment(segment)
    assert await sink.close() is not None and sink.written == 4
    async with api.identity.db.sessions() as session:
        rows = list(await index.segments_of(session, sink.recording_id))
    return admin, device, rows


async def export(api: Api, token: str, device: str, rows: list[RecordingSegment]) -> Any:
    body = {"device_id": device, **span(rows[1].started_at, rows[-1].ended_at), "reason": REASON}
    return await api.http.post(EXPORTS, headers=bearer(token), json=body)


async def test_an_export_downloads_as_a_bundle_that_verifies_with_the_jwks(api: Api) -> None:
    admin, device, rows = await setup(api)
    viewed = await api.http.post(
        "/api/v1/recordings/playbacks",
        headers=bearer(admin),
        json={"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)},
    )
    assert viewed.status_code == 201
    created = await export(api, admin, device, rows)
    assert created.status_code == 201, created.text
    made = created.json()
    download = await api.http.get(f"{EXPORTS}/{made['id']}", headers=bearer(admin))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    bundle = download.content
    assert hashlib.sha256(bundle).hexdigest() == made["sha256"] and len(bundle) == made["bytes"]

    jwks = (await api.http.get("/.well-known/jwks.json")).json()["keys"]
    (evidence,) = [k for k in jwks if k["kid"] == made["kid"]]
    assert (evidence["use"], evidence["alg"], evidence["crv"], evidence["kty"]) == (
        "sig",
        "EdDSA",
        "Ed25519",
        "OKP",
    )
    keys = {k["kid"]: public_key_from_jwk(k) for k in jwks}
    report = check_bundle(bundle, keys=keys)
    assert report.ok, report.problems

    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        custody = json.loads(archive.read(CUSTODY))
        clip = archive.read(CLIP)
    assert manifest["device_id"] == device and manifest["reason"] == REASON
    assert manifest["exporter"]["name"] == "ada"
    assert [s["id"] for s in manifest["segments"]] == [r.id for r in rows[1:]]
    assert [s["stored_sha256"] for s in manifest["segments"]] == [r.digest for r in rows[1:]]
    (recording,) = manifest["recordings"]
    assert recording["anchor"]["head"] == index.link(rows[-1])
    actions = [e["action"] for e in custody["entries"]]
    assert actions == ["recording.anchored", "recording.viewed"]
    with av.open(io.BytesIO(clip), "r") as container:
        assert len(list(container.decode(video=0))) == manifest["clip"]["frames"]

    (exported,) = await audited(api, "recording.exported")
    assert exported["export_id"] == made["id"] and exported["bundle_sha256"] == made["sha256"]
    assert exported["reason"] == REASON
    assert exported["start"] == rows[1].started_at.isoformat()
    (downloaded,) = await audited(api, "recording.export_downloaded")
    assert downloaded["export_id"] == made["id"]
    listing = await api.http.get(
        "/api/v1/recordings/access", headers=bearer(admin), params={"device_id": device}
    )
    assert listing.status_code == 200, listing.text
    (listed,) = [i for i in listing.json()["items"] if i["action"] == "exported"]
    assert listed["actor"]["name"] == "ada" and listed["start"] is not None

    # A second export's custody record holds the first export.
    again = await export(api, admin, device, rows)
    second = await api.http.get(f"{EXPORTS}/{again.json()['id']}", headers=bearer(admin))
    with zipfile.ZipFile(io.BytesIO(second.content)) as archive:
        later = json.loads(archive.read(CUSTODY))["entries"]
    assert [e["action"] for e in later][-2:] == [
        "recording.exported",
        "recording.export_downloaded",
    ]


async def test_foreign_unknown_too_long_and_empty_ranges_are_refused(api: Api) -> None:
    admin, device, rows = await setup(api)
    yard_admin = await api.token_for("yan", "admin", sites=["yard"])
    operator = await api.token_for("olly", "operator")
    made = (await export(api, admin, device, rows)).json()

    foreign = await export(api, yard_admin, device, rows)
    unknown = await export(api, admin, "0" * 32, rows)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"] == unknown.json()["detail"]
    assert (await export(api, operator, device, rows)).status_code == 403  # no recording_export
    hidden = await api.http.get(f"{EXPORTS}/{made['id']}", headers=bearer(yard_admin))
    missing = await api.http.get(f"{EXPORTS}/{'f' * 32}", headers=bearer(admin))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]

    start = rows[0].started_at
    too_long = {"device_id": device, **span(start, start + timedelta(hours=2, seconds=1))}
    response = await api.http.post(
        EXPORTS, headers=bearer(admin), json=too_long | {"reason": REASON}
    )
    assert response.status_code == 422
    empty = {"device_id": device, **span(start - timedelta(hours=1), start)}
    response = await api.http.post(EXPORTS, headers=bearer(admin), json=empty | {"reason": REASON})
    assert response.status_code == 404
    assert response.json()["detail"] == "nothing is recorded in that range"
    no_reason = {"device_id": device, **span(start, rows[-1].ended_at)}
    assert (await api.http.post(EXPORTS, headers=bearer(admin), json=no_reason)).status_code == 422
    assert len(await audited(api, "recording.exported")) == 1


async def test_a_tampered_segment_or_bundle_is_refused_and_reported(api: Api) -> None:
    admin, device, rows = await setup(api)
    events: list[SecurityEvent] = []
    api.identity.events.subscribe(events.append, name="test")
    made = (await export(api, admin, device, rows)).json()
    store = api.identity.recordings.store

    stored = bytearray(await store.get(rows[2].id))
    stored[-20] ^= 0x01
    await store.put(rows[2].id, bytes(stored))
    refused = await export(api, admin, device, rows)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith(":recording-integrity")

    bundle = bytearray(await store.get(STORE_PREFIX + made["id"]))
    bundle[-20] ^= 0x01
    await store.put(STORE_PREFIX + made["id"], bytes(bundle))
    broken = await api.http.get(f"{EXPORTS}/{made['id']}", headers=bearer(admin))
    assert broken.status_code == 409

    tampered = [e for e in events if e.type == "recording.tampered"]
    assert [e.severity for e in tampered] == [Severity.HIGH, Severity.HIGH]
    assert tampered[0].fields["segment_id"] == rows[2].id
    assert tampered[1].fields["export_id"] == made["id"]
    assert len(await audited(api, "recording.tampered")) == 2
    assert len(await audited(api, "recording.exported")) == 1


async def test_tokens_never_verify_with_the_evidence_key(
    api: Api, manual_clock: ManualClock
) -> None:
    admin = await api.token_for("ada", "admin")
    keys = EvidenceKeys(api.identity.db, wrap_key=api.identity.wrap_key)
    signer = await keys.signing_key(api.identity.clock.now())
    header = jwt.get_unverified_header(admin)
    claims = jwt.decode(admin, options={"verify_signature": False})
    forged = jwt.encode(
        claims, signer.private_key, algorithm="EdDSA", headers={**header, "kid": signer.kid}
    )
    with pytest.raises(InvalidToken):
        await api.identity.tokens.verify_access(forged)
    assert (await api.http.get("/api/v1/users/me", headers=bearer(forged))).status_code == 401
    assert (await api.http.get("/api/v1/users/me", headers=bearer(admin))).status_code == 200
    # The key survives a restart (it is stored, wrapped) and rotation keeps the old one listed.
    again = await EvidenceKeys(api.identity.db, wrap_key=api.identity.wrap_key).signing_key(
        api.identity.clock.now()
    )
    assert again.kid == signer.kid

    async def listed() -> set[str]:
        jwks = (await api.http.get("/.well-known/jwks.json")).json()["keys"]
        return {k["kid"] for k in jwks}

    assert signer.kid in await listed()
    rotated = await keys.rotate(api.identity.clock.now())
    assert rotated not in await listed()  # served from the app's few-second cache
    await manual_clock.advance(EVIDENCE_CACHE_SECONDS)
    assert {signer.kid, rotated} <= await listed()
    assert (await keys.signing_key(api.identity.clock.now())).kid == rotated


async def test_an_expired_export_is_a_404_like_one_never_made(
    api: Api, manual_clock: ManualClock, tmp_path: Path
) -> None:
    admin, device, rows = await setup(api)
    made = (await export(api, admin, device, rows)).json()
    url = f"{EXPORTS}/{made['id']}"
    assert (await api.http.get(url, headers=bearer(admin))).status_code == 200
    days = RetentionSettings().days.export
    later = ManualClock(start=manual_clock.time() + (days + 1) * 86_400)
    vault = api.identity.recordings
    report = await job_for(vault, clock=later, lease=FileLease(tmp_path / "l")).run()
    assert report.bundles == 1

    expired = await api.http.get(url, headers=bearer(admin))
    missing = await api.http.get(f"{EXPORTS}/{'f' * 32}", headers=bearer(admin))
    assert expired.status_code == missing.status_code == 404
    assert expired.json()["detail"] == missing.json()["detail"]
    with pytest.raises(SegmentNotFound):
        await vault.store.get(STORE_PREFIX + made["id"])
    (gone,) = await audited(api, "recording.export_expired")
    assert gone["bundle_sha256"] == made["sha256"]
