"""``secret rotate`` moves the evidence signing keys and the bundles' data keys too.

A real bundle exported through the app under the old secret is downloaded, byte for
byte, from an app holding only the new secret, and the evidence key keeps its kid.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from lensguard.clock import ManualClock
from lensguard.protect.subkeys import Purpose, derive
from lensguard.recordings.evidence_keys import EvidenceKeys
from lensguard.rotation.engine import Rotation
from lensguard.store.db import Database
from tests.api.conftest import bearer, build_api
from tests.harness.server import strong_secret
from tests.recordings.playback_support import add_device, record, span

EXPORTS = "/api/v1/recordings/exports"


async def test_bundles_and_the_evidence_key_survive_a_secret_rotation(
    make_settings: Any, db_url: str, tmp_path: Path, manual_clock: ManualClock
) -> None:
    old, new = strong_secret(), strong_secret()
    limits = {"requests_per_minute": 100_000}
    settings = make_settings(database={"url": db_url}, limits=limits, secret_key=old)
    async for api in build_api(settings, clock=manual_clock):
        admin = await api.token_for("ada", "admin")
        device = await add_device(api, admin, "gate", "dock")
        rows = await record(api, device, manual_clock.now() - timedelta(hours=1), 2)
        body = {"device_id": device, **span(rows[0].started_at, rows[-1].ended_at)}
        made = await api.http.post(
            EXPORTS, headers=bearer(admin), json=body | {"reason": "rotation test"}
        )
        assert made.status_code == 201, made.text
        before = await api.http.get(f"{EXPORTS}/{made.json()['id']}", headers=bearer(admin))
        assert before.status_code == 200

    db = Database(db_url)
    try:
        report = await Rotation(db, old=old, new=new).run()
        assert report.moved > 0
        signer = await EvidenceKeys(db, wrap_key=derive(new, Purpose.WRAP)).signing_key(
            manual_clock.now()
        )
        assert signer.kid == made.json()["kid"]
    finally:
        await db.dispose()

    settings = make_settings(database={"url": db_url}, limits=limits, secret_key=new)
    async for api in build_api(settings, clock=manual_clock):
        token = (await api.login("ada"))["access_token"]
        after = await api.http.get(f"{EXPORTS}/{made.json()['id']}", headers=bearer(token))
        assert after.status_code == 200, after.text
        assert after.content == before.content
