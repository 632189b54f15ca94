"""A data subject's export over the API: what it holds, what it withholds, its bounds."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from lensguard.audit import AuditEvent
from tests.api.conftest import Api, bearer, build_api

PATH = "/api/v1/privacy/exports"


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


async def test_the_export_holds_the_subjects_rows_and_no_secrets(api_both: Api) -> None:
    api = api_both
    root = await api.token_for("root", "admin")
    vera = await api.token_for("vera", "viewer")
    await api.token_for("otto", "operator")  # someone else, who must not appear
    key = await api.http.post(
        "/api/v1/api-keys",
        headers=bearer(vera),
        json={"name": "nas", "scopes": ["account_self", "camera_view"]},
    )
    assert key.status_code == 201, key.text
    vera_id = (await api.http.get("/api/v1/users/me", headers=bearer(vera))).json()["id"]
    opened = await api.http.post(
        "/api/v1/incidents",
        headers=bearer(root),
        json={"kind": "unclassified", "title": "odd logins", "principal": "vera"},
    )
    assert opened.status_code == 201
    users = (await api.http.get("/api/v1/users", headers=bearer(root))).json()
    root_id = next(u["id"] for u in users if u["username"] == "root")
    # Personal details are sealed under whom each entry is about (docs/audit.md): hers are
    # opened for her; root's address in an entry of hers about root is not, though root's
    # key opens root's name on the entries root wrote about her.
    notes: list[tuple[tuple[str, str], str, dict[str, Any]]] = [  # actor, about whom, details
        ((vera_id, "vera"), vera_id, {"address": "203.0.113.77", "n": 0}),
        ((vera_id, "vera"), root_id, {"address": "203.0.113.88", "n": 1}),
        ((root_id, "root"), vera_id, {"n": 2}),
    ]
    async with api.identity.db.transaction() as tx:
        await api.identity.audit.append_many(
            tx,
            [
                AuditEvent(
                    action="user.note",
                    outcome="success",
                    actor_type="user",
                    actor_id=actor_id,
                    actor_name=actor_name,
                    resource_type="user",
                    resource_id=whom,
                    details=details,
                )
                for (actor_id, actor_name), whom, details in notes
            ],
        )

    answer = await api.http.post(PATH, headers=bearer(root), json={"user": "vera"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["x-content-sha256"] == hashlib.sha256(answer.content).hexdigest()
    files = unzip(answer.content)
    manifest = json.loads(files["manifest.json"])
    assert manifest["schema"] == "lensguard-subject-export/1"
    assert manifest["subject"] == {"id": vera_id, "username": "vera"}
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
        assert len(lines(files[entry["name"]])) == entry["rows"]

    (account,) = lines(files["tables/users.jsonl"])
    assert account["username"] == "vera" and "password_hash" not in account
    assert "totp_secret" not in account and "password_hash" in manifest["withheld"]["users"]
    (session,) = lines(files["tables/login_sessions.jsonl"])
    assert session["user_id"] == vera_id and session["client_address"] == "198.51.100.10"
    (api_key,) = lines(files["tables/api_keys.jsonl"])
    assert api_key["name"] == "nas" and "secret_hash" not in api_key
    (incident,) = lines(files["tables/incidents.jsonl"])
    assert incident["title"] == "odd logins"
    audit = lines(files["audit.jsonl"])
    actions = {row["action"] for row in audit}
    assert {"auth.login", "apikey.create", "user.create"} <= actions
    assert all(row["actor_id"] == vera_id or row["resource_id"] == vera_id for row in audit)
    assert isinstance(audit[0]["details"], dict)
    # Her sealed name and address are opened for her; the ciphertext is not exported.
    logins = [row for row in audit if row["action"] == "auth.login" and row["actor_id"] == vera_id]
    assert logins and all(row["actor_name"] == "vera" for row in logins)
    assert all(row["source_address"] is not None for row in logins)
    assert not any("actor_name_sealed" in row or "actor_name_index" in row for row in audit)
    assert not any("details_sealed" in row for row in audit)
    exported = sorted((r["details"] for r in audit if r["action"] == "user.note"), key=str)
    assert exported == [{"address": "203.0.113.77", "n": 0}, {"n": 1}, {"n": 2}]
    everything = b"".join(files.values())
    assert b"otto" not in everything and key.json()["key"].encode() not in everything
    assert b"203.0.113.88" not in everything

    trail = await api.http.get("/api/v1/audit?action=privacy.export", headers=bearer(root))
    (logged,) = trail.json()["items"]
    assert logged["resource_id"] == vera_id and logged["actor_name"] == "root"
    assert logged["details"]["sha256"] == answer.headers["x-content-sha256"]
    assert not list((api.identity.settings.var_dir / "tmp").iterdir())  # removed once sent


async def test_unknown_subjects_other_roles_and_bad_bodies_are_refused(api: Api) -> None:
    root = await api.token_for("root", "admin")
    operator = await api.token_for("otto", "operator")
    site_admin = await api.token_for("sam", "admin", sites=["dock"])
    missing = await api.http.post(PATH, headers=bearer(root), json={"user": "nobody"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    for token in (operator, site_admin):
        refused = await api.http.post(PATH, headers=bearer(token), json={"user": "root"})
        assert refused.status_code == 403
    for body in ({}, {"user": ""}, {"user": "x" * 65}, {"user": "root", "all": True}):
        assert (await api.http.post(PATH, headers=bearer(root), json=body)).status_code == 422


async def test_an_export_over_the_bound_is_refused_naming_it(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(
        database={"url": sqlite_url},
        limits={"requests_per_minute": 100_000},
        privacy={"export_max_bytes": 1024**2},
    )
    async for api in build_api(settings):
        root = await api.token_for("root", "admin")
        vera_id = await api.add_user("vera", "viewer")
        services = api.identity
        events = [
            AuditEvent(
                action="stream.view_start",
                outcome="success",
                actor_type="user",
                actor_id=vera_id,
                actor_name="vera",
                details={"note": "x" * 3000, "n": n},
            )
            for n in range(400)
        ]
        async with services.db.transaction() as session:
            await services.audit.append_many(session, events)
        refused = await api.http.post(PATH, headers=bearer(root), json={"user": vera_id})
        assert refused.status_code == 409, refused.text
        assert "1048576 bytes (privacy.export_max_bytes)" in refused.json()["detail"]
        assert not list((services.settings.var_dir / "tmp").iterdir())
