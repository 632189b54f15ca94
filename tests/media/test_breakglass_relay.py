"""Site redaction and break-glass, end to end through a real server and relay.

One viewer keeps the redacted picture while an investigator with an open grant sees
the face; the grant, its reason, the viewing and its length land in the audit log,
and ending the grant takes the raw picture away without a reconnect.
"""

import asyncio
import uuid
from typing import Any

import pytest

from tests.harness.device import FakeDevice
from tests.harness.world import World, auth, open_peer
from tests.media.test_redaction_relay import (
    FACE_HIDDEN,
    FACE_SHOWN,
    CapturingViewer,
    PhotoTrack,
    face_detail,
)

pytestmark = pytest.mark.slow


async def settles(viewer: CapturingViewer, check: Any, what: str) -> None:
    for _ in range(150):
        await asyncio.sleep(0.2)
        if viewer.last is not None and check(face_detail(viewer.last)):
            return
    detail = None if viewer.last is None else face_detail(viewer.last)
    raise AssertionError(f"{what}: face detail stayed at {detail}")


def audit_entries(world: World, action: str, device_id: str) -> list[dict[str, Any]]:
    with world.http() as client:
        page = client.get(
            "/api/v1/audit",
            params={"action": action, "resource_id": device_id, "limit": 100},
            headers=auth(world.admin),
        )
        assert page.status_code == 200, page.text
        return list(page.json()["items"])


def metric(world: World, series: str) -> float:
    with world.http() as client:
        page = client.get("/metrics", headers=auth(world.admin))
        assert page.status_code == 200, page.text
    for line in page.text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")


async def test_break_glass_shows_the_face_to_its_holder_only_and_is_audited(
    world: World, cleanup: list[Any]
) -> None:
    site = f"bg-{uuid.uuid4().hex[:6]}"
    device_id, credential = world.device(f"bg-{uuid.uuid4().hex[:8]}", site)
    device = await FakeDevice.start(world, credential)
    device.track = PhotoTrack()
    cleanup.append(device)
    with world.http() as client:
        policy = client.put(
            f"/api/v1/sites/{site}/policy",
            headers=auth(world.admin),
            json={"redact_faces": True},
        )
        assert policy.status_code == 200, policy.text
        assert policy.json() | {"recording": None} == {
            "site": site,
            "redact_faces": True,
            "ai_models": [],
            "devices": 1,
            "recording": None,
        }
        # The device cannot lower its site's floor.
        lowered = client.put(
            f"/api/v1/streams/{device_id}", headers=auth(world.admin), json={"redact_faces": False}
        )
        assert lowered.status_code == 200

    viewer_token = world.user(f"bgv-{uuid.uuid4().hex[:6]}", "viewer")
    viewer = CapturingViewer(await open_peer(world, viewer_token))
    cleanup.append(viewer)
    await viewer.watch(device_id)
    await settles(viewer, lambda d: d < FACE_HIDDEN, "the site policy redacts")

    # Peer to peer would bypass the relay's redaction: refused.
    direct = await open_peer(world, viewer_token)
    await direct.send({"type": "subscribe", "device_id": device_id, "mode": "direct"})
    assert (await direct.recv("error", wait=10))["code"] == "redacted"
    # A viewer's role has no break-glass permission.
    await direct.send({"type": "subscribe", "device_id": device_id, "unredacted": True})
    assert (await direct.recv("error", wait=10))["code"] == "forbidden"
    await direct.ws.close()

    investigator = world.user(f"bgi-{uuid.uuid4().hex[:6]}", "investigator")
    probe = await open_peer(world, investigator)
    await probe.send({"type": "subscribe", "device_id": device_id, "unredacted": True})
    assert (await probe.recv("error", wait=10))["code"] == "no_grant"
    await probe.ws.close()

    with world.http() as client:
        path = f"/api/v1/streams/{device_id}/break-glass"
        vague = client.post(path, headers=auth(investigator), json={"reason": "because"})
        assert vague.status_code == 422
        assert "reason" in vague.text
        too_long = client.post(
            path, headers=auth(investigator), json={"reason": "x" * 20, "minutes": 600}
        )
        assert too_long.status_code == 422 and "minutes" in too_long.text
        # Separation of duties: an admin's role does not include break-glass.
        by_admin = client.post(path, headers=auth(world.admin), json={"reason": "a" * 12})
        assert by_admin.status_code == 403
        reason = "incident 4711: identify the intruder at dock 3"
        granted = client.post(
            path, headers=auth(investigator), json={"reason": reason, "minutes": 5}
        )
        assert granted.status_code == 201, granted.text
        grant = granted.json()
        assert grant["device_id"] == device_id and grant["reason"] == reason
        listed = client.get(path, headers=auth(investigator)).json()
        assert [g["id"] for g in listed] == [grant["id"]]

    unredacted = CapturingViewer(await open_peer(world, investigator))
    cleanup.append(unredacted)
    await unredacted.peer.send(
        {"type": "subscribe", "device_id": device_id, "mode": "relay", "unredacted": True}
    )
    got: dict[str, dict[str, Any]] = {}
    while len(got) < 2:  # both arrive, in either order
        message = await unredacted.peer.recv(wait=20)
        if message["type"] in ("redaction", "subscribed"):
            got[message["type"]] = message
    assert got["redaction"]["unredacted"] is True
    assert got["redaction"]["grant_id"] == grant["id"]
    peer_id = got["subscribed"]["peer"]
    await unredacted.offer_to(peer_id)
    await settles(unredacted, lambda d: d > FACE_SHOWN, "break-glass shows the face")
    # At the same time, everyone else still gets the redacted picture.
    seen = viewer.frames
    await viewer.frames_at_least(seen + 15)
    assert viewer.last is not None and face_detail(viewer.last) < FACE_HIDDEN

    assert metric(world, "lensguard_unredacted_viewers") == 1
    assert metric(world, 'lensguard_processing_frames_total{outcome="processed"}') > 10

    grants = audit_entries(world, "redaction.override.grant", device_id)
    assert len(grants) == 1
    assert grants[0]["details"]["reason"] == reason
    assert grants[0]["details"]["grant_id"] == grant["id"]
    assert grants[0]["details"]["redaction_from"] == "site"
    starts = audit_entries(world, "redaction.override.view_start", device_id)
    assert [e["outcome"] for e in starts].count("success") == 1
    assert [e["outcome"] for e in starts].count("denied") == 1  # the viewer's attempt

    await asyncio.sleep(1.0)
    with world.http() as client:
        ended = client.delete(
            f"/api/v1/streams/{device_id}/break-glass/{grant['id']}", headers=auth(investigator)
        )
        assert ended.status_code == 204
    closing = await unredacted.peer.recv("redaction", wait=20)
    assert closing["unredacted"] is False and closing["reason"] == "ended"
    await settles(unredacted, lambda d: d < FACE_HIDDEN, "the ended grant redacts again")

    assert metric(world, "lensguard_unredacted_viewers") == 0
    stops = audit_entries(world, "redaction.override.view_stop", device_id)
    assert len(stops) == 1 and stops[0]["details"]["grant_id"] == grant["id"]
    assert stops[0]["details"]["seconds"] >= 1.0
    assert stops[0]["actor_id"] == grants[0]["actor_id"]
    assert audit_entries(world, "redaction.override.end", device_id)
    # The ended grant opens nothing any more.
    again = await open_peer(world, investigator)
    await again.send({"type": "subscribe", "device_id": device_id, "unredacted": True})
    assert (await again.recv("error", wait=10))["code"] == "no_grant"
    await again.ws.close()


async def test_break_glass_needs_a_redacted_stream(world: World, cleanup: list[Any]) -> None:
    device_id, _ = world.device(f"bgn-{uuid.uuid4().hex[:8]}", f"bgn-{uuid.uuid4().hex[:6]}")
    investigator = world.user(f"bgn-{uuid.uuid4().hex[:6]}", "investigator")
    with world.http() as client:
        refused = client.post(
            f"/api/v1/streams/{device_id}/break-glass",
            headers=auth(investigator),
            json={"reason": "checking the loading bay"},
        )
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "not redacted" in refused.json()["detail"]
        missing = client.post(
            "/api/v1/streams/nosuchdevice/break-glass",
            headers=auth(investigator),
            json={"reason": "checking the loading bay"},
        )
        assert missing.status_code == 404
