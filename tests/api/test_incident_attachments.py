"""Evidence files of an incident over the API: kept encrypted, audited, served as they came.

Each upload runs through the real app (body limits, permissions, the content checks)
onto the real segment store; each refusal is a problem document and keeps nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from lensguard.clock import ManualClock
from lensguard.incidents.attachments import store_key
from lensguard.incidents.models import IncidentAttachment
from lensguard.keyring import rekey
from lensguard.keyring.fields import FieldKeys
from lensguard.rotation.engine import Rotation
from lensguard.store.db import Database
from tests.api.conftest import Api, bearer, build_api
from tests.api.test_incidents_api import audit_actions, open_one
from tests.harness.server import strong_secret

BASE = "/api/v1/incidents"
LIMITS = {"requests_per_minute": 100_000}
PNG = b"\x89PNG\r\n\x1a\n" + b"EVIDENCE-PIXELS" * 20
LOG = "10:02 sign-in refused for rövér-7 from 203.0.113.9\n".encode()


@pytest.fixture
async def api(make_settings: Any, db_url: str, manual_clock: ManualClock) -> AsyncIterator[Api]:
    settings = make_settings(
        database={"url": db_url},
        limits=LIMITS,
        incidents={"attachment_max_bytes": 4096, "attachments_per_incident": 3},
    )
    async for value in build_api(settings, clock=manual_clock):
        yield value


async def upload(
    api: Api, token: str, incident_id: str, name: str, content: Any, kind: str | None = None
) -> Any:
    headers = bearer(token) | {"Content-Type": kind or "application/octet-stream"}
    return await api.http.post(
        f"{BASE}/{incident_id}/attachments", params={"name": name}, headers=headers, content=content
    )


async def stored_objects(api: Api) -> list[str]:
    names = await api.identity.recordings.store.list()
    return [name for name in names if name.startswith("incident-")]


async def incident(api: Api, token: str) -> str:
    opened = await open_one(api, token, kind="unclassified", title="odd sign-ins", severity="high")
    return str(opened["id"])


async def test_a_file_is_kept_encrypted_in_the_timeline_and_served_as_it_came(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)

    added = await upload(api, admin, incident_id, "door camera.png", PNG, "image/png")
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (body["name"], body["media_type"], body["size"]) == (
        "door camera.png",
        "image/png",
        len(PNG),
    )
    stored = await api.identity.recordings.store.get(store_key(body["id"]))
    assert b"EVIDENCE-PIXELS" not in stored and len(stored) > len(PNG)

    listed = await api.http.get(f"{BASE}/{incident_id}/attachments", headers=bearer(admin))
    assert [a["id"] for a in listed.json()] == [body["id"]]
    timeline = await api.http.get(f"{BASE}/{incident_id}/timeline", headers=bearer(admin))
    (entry,) = [e for e in timeline.json() if e["kind"] == "attachment"]
    assert (
        entry["body"]["sha256"] == body["sha256"] and entry["body"]["attachment_id"] == body["id"]
    )
    (audited,) = await audit_actions(api, admin, "incident.attachment")
    assert audited["details"]["sha256"] == body["sha256"] and audited["resource_id"] == incident_id
    # The name may name a person: sealed in its row, repeated nowhere in clear.
    assert "door camera" not in timeline.text and "door camera" not in str(audited)
    async with api.identity.db.sessions() as session:
        row = await session.get(IncidentAttachment, body["id"])
    assert row is not None and row.name is None and row.fields_version is not None
    assert row.name_sealed is not None and b"door camera" not in row.name_sealed

    got = await api.http.get(
        f"{BASE}/{incident_id}/attachments/{body['id']}", headers=bearer(admin)
    )
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"door_camera.png\"; filename*=UTF-8''door%20camera.png"
    )
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in got.headers["cache-control"]
    (read,) = await audit_actions(api, admin, "incident.attachment_downloaded")
    assert read["details"]["attachment_id"] == body["id"] and read["actor_name"] == "root"


async def test_text_is_served_as_plain_text_under_its_own_name(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)
    added = await upload(api, admin, incident_id, "Tür-Log.txt", LOG, "text/plain; charset=utf-8")
    assert added.status_code == 201, added.text
    got = await api.http.get(
        f"{BASE}/{incident_id}/attachments/{added.json()['id']}", headers=bearer(admin)
    )
    assert got.content == LOG and got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["content-disposition"].endswith(quote("Tür-Log.txt", safe=""))


REFUSALS = [
    ("tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 40, None, 415, "ELF executable"),
    ("photo.png", b"%PDF-1.7\n", None, 415, "holds a PDF document"),
    ("door.png", PNG, "application/pdf", 415, "sent as application/pdf"),
    ("index.html", b"<script>alert(1)</script>", "text/html", 415, "(.html)"),
    ("../../etc/cron.d/x", LOG, None, 415, "file name must be"),
    ("empty.log", b"", None, 415, "is empty"),
    ("big.log", b"a" * 4097, None, 413, "attachments are limited to 4,096 bytes"),
]


@pytest.mark.parametrize(
    ("name", "content", "kind", "status", "says"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_what_is_not_kept_is_refused_and_leaves_nothing(
    api: Api, name: str, content: bytes, kind: str | None, status: int, says: str
) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)
    refused = await upload(api, admin, incident_id, name, content, kind)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert says in refused.json()["detail"] and "Traceback" not in refused.text
    listed = await api.http.get(f"{BASE}/{incident_id}/attachments", headers=bearer(admin))
    assert listed.json() == [] and await stored_objects(api) == []
    assert await audit_actions(api, admin, "incident.attachment") == []


async def test_a_chunked_upload_over_the_limit_is_refused_before_the_route(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"b" * 1000

    refused = await upload(api, admin, incident_id, "stream.log", chunks())
    assert refused.status_code == 413, refused.text
    assert await stored_objects(api) == []
    fitting = await upload(api, admin, incident_id, "ok.log", chunks_of(b"c" * 1000, 4))
    assert fitting.status_code == 201, fitting.text


def chunks_of(piece: bytes, count: int) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield piece

    return gen()


async def test_an_incident_holds_at_most_its_limit_of_files(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)
    for n in range(3):
        added = await upload(api, admin, incident_id, f"log-{n}.txt", LOG)
        assert added.status_code == 201, added.text
    over = await upload(api, admin, incident_id, "log-3.txt", LOG)
    assert over.status_code == 409 and "holds 3 attachments already" in over.json()["detail"]
    assert len(await stored_objects(api)) == 3
    other = await incident(api, admin)
    assert (await upload(api, admin, other, "log.txt", LOG)).status_code == 201


async def test_only_security_managers_reach_attachments_and_ids_stay_in_their_incident(
    api: Api,
) -> None:
    admin = await api.token_for("root", "admin")
    operator = await api.token_for("olga", "operator")
    incident_id = await incident(api, admin)
    other = await incident(api, admin)
    added = (await upload(api, admin, incident_id, "a.log", LOG)).json()

    assert (await upload(api, operator, incident_id, "b.log", LOG)).status_code == 403
    path = f"{BASE}/{incident_id}/attachments/{added['id']}"
    assert (await api.http.get(path, headers=bearer(operator))).status_code == 403
    assert (await api.http.get(path)).status_code == 401
    unauthenticated = await api.http.post(
        f"{BASE}/{incident_id}/attachments", params={"name": "c.log"}, content=LOG
    )
    assert unauthenticated.status_code == 401
    elsewhere = f"{BASE}/{other}/attachments/{added['id']}"
    assert (await api.http.get(elsewhere, headers=bearer(admin))).status_code == 404
    missing = await upload(api, admin, "no-such-incident", "a.log", LOG)
    assert missing.status_code == 404
    assert len(await stored_objects(api)) == 1


async def test_only_the_upload_route_takes_a_body_that_is_not_json(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    refused = await api.http.post(
        BASE,
        headers=bearer(admin) | {"Content-Type": "application/octet-stream"},
        content=b'{"kind": "unclassified", "title": "x", "severity": "low"}',
    )
    assert refused.status_code == 415


async def test_a_file_altered_in_the_store_is_reported_and_never_served(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)
    added = (await upload(api, admin, incident_id, "door.png", PNG)).json()
    store = api.identity.recordings.store
    stored = bytearray(await store.get(store_key(added["id"])))
    stored[-5] ^= 0x01
    await store.put(store_key(added["id"]), bytes(stored))

    got = await api.http.get(
        f"{BASE}/{incident_id}/attachments/{added['id']}", headers=bearer(admin)
    )
    assert got.status_code == 409 and PNG not in got.content
    assert got.headers["content-type"] == "application/problem+json"
    (reported,) = await audit_actions(api, admin, "incident.attachment_tampered")
    assert reported["details"]["attachment_id"] == added["id"] and reported["outcome"] == "failure"
    assert await audit_actions(api, admin, "incident.attachment_downloaded") == []

    await store.delete(store_key(added["id"]))
    gone = await api.http.get(
        f"{BASE}/{incident_id}/attachments/{added['id']}", headers=bearer(admin)
    )
    assert gone.status_code == 409


async def test_attachments_survive_a_master_secret_rotation(
    make_settings: Any, db_url: str, manual_clock: ManualClock
) -> None:
    old, new = strong_secret(), strong_secret()
    settings = make_settings(database={"url": db_url}, limits=LIMITS, secret_key=old)
    async for api in build_api(settings, clock=manual_clock):
        admin = await api.token_for("ada", "admin")
        incident_id = await incident(api, admin)
        added = (await upload(api, admin, incident_id, "door.png", PNG)).json()

    db = Database(db_url)
    try:
        report = await Rotation(db, old=old, new=new).run()
        assert report.moved > 0
    finally:
        await db.dispose()

    settings = make_settings(database={"url": db_url}, limits=LIMITS, secret_key=new)
    async for api in build_api(settings, clock=manual_clock):
        token = (await api.login("ada"))["access_token"]
        path = f"{BASE}/{incident_id}/attachments/{added['id']}"
        got = await api.http.get(path, headers=bearer(token))
        assert got.status_code == 200, got.text
        assert got.content == PNG


async def test_names_are_resealed_by_rekey_and_an_old_clear_name_is_sealed(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    incident_id = await incident(api, admin)
    first = (await upload(api, admin, incident_id, "Tür 1.log", LOG)).json()
    legacy = (await upload(api, admin, incident_id, "old.log", LOG)).json()
    db = api.identity.db
    async with db.transaction() as session:  # a row as written before migration 0028
        row = await session.get(IncidentAttachment, legacy["id"])
        assert row is not None
        row.name, row.name_sealed, row.fields_version = "old.log", None, None

    report = await rekey.rekey(db, FieldKeys(api.identity.wrap_key))
    assert report.resealed["incident_attachments"] == 2 and report.retired == [1]
    listed = await api.http.get(f"{BASE}/{incident_id}/attachments", headers=bearer(admin))
    assert sorted(a["name"] for a in listed.json()) == ["Tür 1.log", "old.log"]
    async with db.sessions() as session:
        moved = await session.get(IncidentAttachment, legacy["id"])
        kept = await session.get(IncidentAttachment, first["id"])
    assert moved is not None and kept is not None
    assert (moved.name, moved.fields_version, kept.fields_version) == (None, 2, 2)


async def test_rekey_refuses_a_sealed_table_it_does_not_know(api: Api) -> None:
    db = api.identity.db
    async with db.transaction() as session:
        await session.execute(
            text("CREATE TABLE stray_sealed (id VARCHAR(32) PRIMARY KEY, fields_version INTEGER)")
        )
    before = await rekey.status(db)
    with pytest.raises(rekey.UnregisteredTable, match="stray_sealed"):
        await rekey.rekey(db, FieldKeys(api.identity.wrap_key))
    assert await rekey.status(db) == before
