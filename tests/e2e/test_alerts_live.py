"""A real server sends alerts and SIEM batches for real security events."""

from pathlib import Path

import pytest

from lensguard.monitor.alerts.signing import HEADER, verify
from tests.harness.server import start_server
from tests.harness.world import auth, tmp_world
from tests.monitor.receivers import HttpReceiver

pytestmark = pytest.mark.slow
SECRET = "an alert webhook secret of 32+ chars!!"


async def test_failed_sign_in_reaches_webhook_and_siem(tmp_path: Path) -> None:
    async with HttpReceiver() as hook, HttpReceiver() as siem:
        server = start_server(
            tmp_path,
            {
                "security": {
                    "monitoring": {
                        "alert_threshold": "medium",
                        "alerts": {
                            "webhooks": [
                                {"url": hook.url, "secret": SECRET, "allow_private": True}
                            ],
                            "siem": {
                                "http": {"url": siem.url, "secret": SECRET, "allow_private": True},
                                "batch_size": 10,
                            },
                        },
                    }
                }
            },
        )
        try:
            with server.client() as client:
                client.post(
                    "/api/v1/auth/login", json={"username": "mallory", "password": "x" * 12}
                )
            await hook.wait_until(
                lambda: any(r.json().get("name") == "auth.login_failed" for r in hook.requests),
                within=20,
            )
            await siem.wait_until(lambda: bool(siem.requests), within=20)
        finally:
            server.stop()
    alert = next(r for r in hook.requests if r.json().get("name") == "auth.login_failed")
    assert verify(SECRET.encode(), alert.body, alert.headers[HEADER.lower()])
    assert alert.json()["fields"]["username"] == "mallory"
    batch = siem.requests[0].json()
    events = batch["events"] if isinstance(batch, dict) else batch
    assert all("seq" in e for e in events)


async def test_a_break_glass_grant_raises_a_high_alert(tmp_path: Path) -> None:
    async with HttpReceiver() as hook:
        world = tmp_world(
            tmp_path,
            {
                "security": {
                    "monitoring": {
                        "alert_threshold": "high",
                        "alerts": {
                            "webhooks": [{"url": hook.url, "secret": SECRET, "allow_private": True}]
                        },
                    }
                }
            },
        )
        try:
            device_id, _ = world.device("gate-cam", "gate")
            investigator = world.user("inspector", "investigator")
            with world.http() as client:
                client.put(
                    "/api/v1/sites/gate/policy",
                    headers=auth(world.admin),
                    json={"redact_faces": True},
                ).raise_for_status()
                granted = client.post(
                    f"/api/v1/streams/{device_id}/break-glass",
                    headers=auth(investigator),
                    json={"reason": "theft report 12 at the gate", "minutes": 10},
                )
                assert granted.status_code == 201, granted.text
            await hook.wait_until(
                lambda: any(
                    r.json().get("name") == "redaction.override_granted" for r in hook.requests
                ),
                within=20,
            )
        finally:
            world.server.stop()
    alert = next(r for r in hook.requests if r.json().get("name") == "redaction.override_granted")
    assert verify(SECRET.encode(), alert.body, alert.headers[HEADER.lower()])
    assert alert.json()["severity"] == "high"
    assert alert.json()["fields"]["grant_id"] == granted.json()["id"]
    assert alert.json()["fields"]["device_id"] == device_id
    # Below the threshold, nothing else was sent (the policy change is a LOW event).
    assert {r.json().get("name") for r in hook.requests} == {"redaction.override_granted"}
