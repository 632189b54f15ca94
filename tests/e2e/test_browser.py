"""The viewer console in real Chromium against a real server and a publishing test device.

The device is an aiortc peer in this process speaking the signaling protocol with its
own credential: it answers the browser's offer with a synthetic video track and records
every control command it receives.
"""

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from playwright.async_api import BrowserContext, Page, Route, expect

from tests.agent.support import running_agent
from tests.harness.browser import chromium
from tests.harness.device import FakeDevice
from tests.harness.server import start_server
from tests.media.peers import PatternTrack
from tests.media.test_redaction_relay import PhotoTrack
from tests.signaling.conftest import PASSWORD, Peer, World, auth, bootstrap_admin, open_peer

pytestmark = pytest.mark.slow
NEW_ADMIN_PASSWORD = "fresh harbour lantern 9 tides"

# Test-only instrumentation, injected before the page's own script: it records the
# page's peer connections so the test can read getStats(). The app exposes nothing.
RECORD_PEERS = """
window.__peers = [];
const NativePeerConnection = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativePeerConnection {
  constructor(...args) { super(...args); window.__peers.push(this); }
};
"""
FRAMES_DECODED = """
async () => {
  const pc = window.__peers[window.__peers.length - 1];
  if (!pc) return -1;
  let frames = -1;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames = r.framesDecoded ?? 0;
  });
  return frames;
}
"""


@dataclass
class PublishingDevice:
    """A publishing device: answers offers with video, records control commands."""

    peer: Peer
    controls: list[dict[str, Any]] = field(default_factory=list)
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, world: World, credential: str) -> "PublishingDevice":
        """Connect as the device, publish, and answer from then on."""
        device = cls(await open_peer(world, credential))
        await device.peer.send({"type": "publish"})
        await device.peer.recv("published")
        device.task = asyncio.create_task(device.run())
        return device

    async def run(self) -> None:
        async for frame in self.peer.ws:
            message = json.loads(frame)
            if message["type"] == "offer":
                await self.answer(message)
            elif message["type"] == "control":
                self.controls.append(message)

    async def answer(self, offer: dict[str, Any]) -> None:
        # No ICE servers: no STUN lookups to time out; host candidates suffice here.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        pc.addTrack(PatternTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        await self.peer.send(
            {"type": "answer", "to": offer["from"], "sdp": pc.localDescription.sdp}
        )

    def from_user(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.controls if c["from"]["name"] == name]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.peer.ws.close()
        for pc in self.pcs:
            await pc.close()


BROWSER_INIT_SCRIPTS = (RECORD_PEERS,)  # pages record their peer connections


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("console"), {"limits": {"requests_per_minute": 100_000}}
    )
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


@pytest.fixture
async def device(world: World) -> AsyncIterator[tuple[str, PublishingDevice]]:
    device_id, credential = world.device("yard-robot", "yard")
    robot = await PublishingDevice.start(world, credential)
    yield device_id, robot
    await robot.close()


async def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def open_device(page: Page, name: str) -> None:
    await expect(page.locator("#console-view")).to_be_visible()
    await page.get_by_role("button", name=re.compile(name)).click()
    await expect(page.locator("#viewer-title")).to_have_text(name)


async def frames_decoded(page: Page) -> int:
    value: int = await page.evaluate(FRAMES_DECODED)
    return value


async def wait_for_frames(page: Page, at_least: int, wait: float = 20.0) -> int:
    deadline = asyncio.get_running_loop().time() + wait
    while (frames := await frames_decoded(page)) < at_least:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {frames} frames decoded after {wait}s")
        await asyncio.sleep(0.2)
    return frames


async def arrives(check: Callable[[], bool], what: str, wait: float = 20.0) -> None:
    """Wait until ``check()`` holds: commands reach the robot when the machine lets them."""
    deadline = asyncio.get_running_loop().time() + wait
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not arrive within {wait}s")
        await asyncio.sleep(0.05)


async def hold(page: Page, button: str, seconds: float) -> None:
    await page.locator(button).hover()
    await page.mouse.down()
    await asyncio.sleep(seconds)
    await page.mouse.up()


async def test_operator_watches_and_drives_while_a_viewer_has_no_pad(
    world: World, browser: BrowserContext, device: tuple[str, PublishingDevice], tmp_path: Path
) -> None:
    _, robot = device
    world.user("e2e-op", "operator")
    world.user("e2e-viewer", "viewer")

    operator = await browser.new_page()
    console_errors: list[str] = []
    operator.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await sign_in(operator, world.server.base_url, "e2e-op", PASSWORD)
    await open_device(operator, "yard-robot")
    first = await wait_for_frames(operator, 5)
    await expect(operator.locator("#viewer-status")).to_have_text("Live")
    later = await wait_for_frames(operator, first + 15)
    assert later > first
    await operator.screenshot(path=str(tmp_path / "console.png"), full_page=True)

    await hold(operator, "#drive-forward", 0.9)
    await arrives(
        lambda: any(c["command"] == "stop" for c in robot.from_user("e2e-op")),
        "the stop after the button was released",
    )
    sent = robot.from_user("e2e-op")
    moves = [c for c in sent if c["command"] == "move"]
    assert len(moves) >= 3, sent  # repeated every 200 ms while held
    assert all(m["args"]["linear"] == 0.5 and m["args"]["angular"] == 0 for m in moves)
    seqs = [c["seq"] for c in sent]
    assert seqs == sorted(set(seqs))
    assert sent[-1]["command"] == "stop"  # released: an explicit stop

    viewer = await browser.new_page()
    await sign_in(viewer, world.server.base_url, "e2e-viewer", PASSWORD)
    await open_device(viewer, "yard-robot")
    await wait_for_frames(viewer, 1)
    # Without basic_control there is no drive pad, and the keys drive nothing.
    await expect(viewer.locator("#drive")).to_be_hidden()
    await viewer.keyboard.down("w")
    await viewer.keyboard.up("w")
    await viewer.screenshot(path=str(tmp_path / "refused.png"))
    await asyncio.sleep(0.5)
    assert robot.from_user("e2e-viewer") == []
    # The CSP forbids inline script and style: a violation would show up here.
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    for page in (operator, viewer):
        await page.close()


async def test_device_list_shows_live_presence(world: World, browser: BrowserContext) -> None:
    live_id, live_credential = world.device("presence-live", "yard")
    world.device("presence-idle", "yard")
    token = world.user("e2e-presence", "operator")
    robot = await open_peer(world, live_credential)
    watcher = await open_peer(world, token)
    page = await browser.new_page()
    try:
        await robot.send({"type": "publish"})
        await robot.recv("published")
        await watcher.send({"type": "subscribe", "device_id": live_id, "mode": "direct"})
        await watcher.recv("subscribed")
        await sign_in(page, world.server.base_url, "e2e-presence", PASSWORD)
        live = page.locator(".device", has_text="presence-live").locator(".presence")
        idle = page.locator(".device", has_text="presence-idle").locator(".presence")
        await expect(live).to_have_text("Online")
        await expect(live).to_have_class("presence online")
        await expect(idle).to_have_text("Offline")

        await robot.ws.close()
        # The server clears presence before it tells the watcher the device left.
        await watcher.recv("leave")
        await page.locator("#devices-refresh").click()
        await expect(live).to_have_text("Offline")
    finally:
        await page.close()
        await watcher.ws.close()
        await robot.ws.close()


async def test_device_cards_show_a_thumbnail_of_the_live_picture(
    world: World, browser: BrowserContext
) -> None:
    _, credential = world.device("thumb-live", "dock")
    world.device("thumb-idle", "dock")
    world.user("e2e-thumbs", "viewer")
    robot = await FakeDevice.start(world, credential)
    page = await browser.new_page()
    try:
        await sign_in(page, world.server.base_url, "e2e-thumbs", PASSWORD)
        picture = page.get_by_role("img", name="Latest picture of thumb-live")
        await expect(picture).to_be_visible(timeout=15_000)
        width = await picture.evaluate("img => img.naturalWidth")
        assert width == 320
        source = await picture.get_attribute("src")
        assert source is not None and source.startswith("blob:")  # fetched with the token
        idle = page.locator(".device", has_text="thumb-idle")
        await expect(idle.locator(".presence")).to_have_text("Offline")
        await expect(idle.locator("img")).to_have_count(0)
    finally:
        await page.close()
        await robot.stop()


async def test_logout_forgets_the_token_and_wrong_password_is_plain(
    world: World, browser: BrowserContext
) -> None:
    world.user("e2e-leaver", "viewer")
    page = await browser.new_page()
    await sign_in(page, world.server.base_url, "e2e-leaver", "not the password at all")
    await expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await sign_in(page, world.server.base_url, "e2e-leaver", PASSWORD)
    await expect(page.locator("#console-view")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    stored = await page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie]"
    )
    assert stored == [0, 0, ""]
    await page.close()


async def test_a_late_answer_for_a_signed_out_session_does_not_replace_signed_out(
    world: World, browser: BrowserContext
) -> None:
    # The device list is held back until the user has signed out; its answer (a 401,
    # the session is gone) must not turn "You are signed out." into "session ended".
    world.user("e2e-hasty", "viewer")
    page = await browser.new_page()
    signed_out, asked = asyncio.Event(), asyncio.Event()

    async def hold_devices(route: Route) -> None:
        asked.set()
        await signed_out.wait()
        await route.continue_()

    await page.route(re.compile(r".*/api/v1/devices(\?.*)?$"), hold_devices)
    await sign_in(page, world.server.base_url, "e2e-hasty", PASSWORD)
    await expect(page.locator("#console-view")).to_be_visible()
    await asyncio.wait_for(asked.wait(), 20)  # the device list is on its way
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    async with page.expect_event("requestfinished", lambda r: "/api/v1/devices" in r.url):
        signed_out.set()
    # Let the page's own handling of that answer run (it is a few tasks behind).
    for _ in range(3):
        await page.evaluate("() => new Promise((done) => setTimeout(done, 50))")
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    await page.close()


async def test_first_admin_must_choose_a_new_password(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        match = re.search(r"Username: (\S+)\s+one-time password: (\S+)", server.output())
        assert match is not None and server.cert_path is not None
        username, once = match.groups()
        async with chromium(tmp_path / "profile", trust=server.cert_path) as ctx:
            page = await ctx.new_page()
            await sign_in(page, server.base_url, username, once)
            await expect(page.locator("#password-view")).to_be_visible()
            for new, repeat, said in [
                (NEW_ADMIN_PASSWORD, "something else entirely", "The two new passwords differ."),
                (f"{username} likes long passwords", None, "must not contain the username"),
                (NEW_ADMIN_PASSWORD, None, "Password changed."),
            ]:
                await page.get_by_label("Current password").fill(once)
                await page.get_by_label("New password (at least 12 characters)").fill(new)
                await page.get_by_label("Repeat the new password").fill(repeat or new)
                await page.get_by_role("button", name="Change password").click()
                await expect(page.get_by_role("alert")).to_contain_text(said)
            await expect(page.locator("#console-view")).to_be_visible()
            await expect(page.locator("#devices-empty")).to_be_visible()
    finally:
        with contextlib.suppress(Exception):
            server.stop()


async def test_console_drives_a_real_agent_through_the_relay(
    world: World, browser: BrowserContext, tmp_path: Path
) -> None:
    world.user("agent-op", "operator")
    async with running_agent(world, tmp_path) as running:
        with world.http() as client:
            devices = client.get("/api/v1/devices", headers=auth(world.admin)).json()
        name = next(d["name"] for d in devices if d["id"] == running.device_id)
        page = await browser.new_page()
        await sign_in(page, world.server.base_url, "agent-op", PASSWORD)
        await open_device(page, name)
        first = await wait_for_frames(page, 5)
        assert await wait_for_frames(page, first + 10) > first
        await hold(page, "#drive-forward", 0.9)
        await arrives(
            lambda: any(c.name == "move" for c in running.robot.commands), "a move at the robot"
        )
        applied = [a for a in running.agent.control.history if a.sender.name == "agent-op"]
        assert any(a.command == "move" and a.args.linear == 0.5 for a in applied), applied
        assert any(c.name == "move" and c.linear == 0.5 for c in running.robot.commands)
        await page.close()


# Mean absolute difference between neighbouring pixels in the astronaut's face region:
# high for a real face, near zero inside the redaction's flat pixel blocks.
FACE_DETAIL = """
() => {
  const video = document.getElementById("video");
  if (!video.videoWidth) return -1;
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 480;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0, 640, 480);
  const { data } = ctx.getImageData(220, 60, 120, 120);
  let sum = 0, n = 0;
  for (let y = 0; y < 120; y++) {
    for (let x = 1; x < 120; x++) {
      const i = (y * 120 + x) * 4;
      sum += Math.abs(data[i + 1] - data[i - 3]);
      n++;
    }
  }
  return sum / n;
}
"""


async def face_detail_settles(page: Page, check: Any, what: str) -> float:
    detail = -1.0
    for _ in range(100):
        detail = float(await page.evaluate(FACE_DETAIL))
        if detail >= 0 and check(detail):
            return detail
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: face detail stayed at {detail}")


async def test_investigator_breaks_glass_in_the_console_and_ends_it(
    world: World, browser: BrowserContext, tmp_path: Path
) -> None:
    device_id, credential = world.device("lobby-cam", "lobby")
    robot = await FakeDevice.start(world, credential)
    robot.track = PhotoTrack()
    with world.http() as client:
        assert (
            client.put(
                "/api/v1/sites/lobby/policy", headers=auth(world.admin), json={"redact_faces": True}
            ).status_code
            == 200
        )
    world.user("e2e-inv", "investigator")
    page = await browser.new_page()
    try:
        await sign_in(page, world.server.base_url, "e2e-inv", PASSWORD)
        await open_device(page, "lobby-cam")
        await wait_for_frames(page, 5)
        await expect(page.locator("#breakglass")).to_be_visible()
        redacted = await face_detail_settles(page, lambda d: d < 2.5, "redacted at first")

        await page.get_by_label("Reason").fill("too short")
        await page.get_by_role("button", name="Open unredacted view").click()
        # The browser's own check refuses it before anything is sent.
        assert await page.locator("#breakglass-reason").evaluate("e => !e.validity.valid")

        await page.get_by_label("Reason").fill("incident 88: check who entered the lobby")
        await page.get_by_label("For how long").select_option("5")
        await page.get_by_role("button", name="Open unredacted view").click()
        await expect(page.locator("#breakglass-until")).to_contain_text("Unredacted view until")
        await wait_for_frames(page, 5)
        visible = await face_detail_settles(
            page, lambda d: d > max(4.0, 2.5 * redacted), "break-glass"
        )
        await page.screenshot(path=str(tmp_path / "breakglass.png"), full_page=True)

        await page.get_by_role("button", name="End now").click()
        await expect(page.get_by_role("alert")).to_have_text(
            "You ended the grant: faces are redacted again."
        )
        await face_detail_settles(page, lambda d: d < visible / 2, "redacted again")
        await expect(page.get_by_role("button", name="Open unredacted view")).to_be_visible()
        with world.http() as client:
            page_json = client.get(
                "/api/v1/audit",
                params={"action": "redaction.override.*", "resource_id": device_id},
                headers=auth(world.admin),
            ).json()
        actions = [e["action"] for e in page_json["items"]]
        assert actions == [
            "redaction.override.grant",
            "redaction.override.view_start",
            "redaction.override.end",
            "redaction.override.view_stop",
        ], actions
    finally:
        await page.close()
        await robot.stop()


async def test_the_detections_overlay_boxes_the_face_the_chain_found(
    world: World, browser: BrowserContext, tmp_path: Path
) -> None:
    _, credential = world.device("porch-cam", "porch")
    robot = await FakeDevice.start(world, credential)
    robot.track = PhotoTrack()
    with world.http() as client:
        policy = client.put(
            "/api/v1/sites/porch/policy", headers=auth(world.admin), json={"redact_faces": True}
        )
        assert policy.status_code == 200
    world.user("e2e-porch", "viewer")
    page = await browser.new_page()
    try:
        await sign_in(page, world.server.base_url, "e2e-porch", PASSWORD)
        await open_device(page, "porch-cam")
        await wait_for_frames(page, 5)
        await expect(page.locator("#overlay-controls")).to_be_visible()
        face = page.locator("#overlay g.box[data-label=face] rect").first
        await expect(face).to_be_attached()
        assert await page.locator("#overlay").get_attribute("viewBox") == "0 0 640 480"
        x, y, w, h = [
            float(await face.get_attribute(a) or "nan") for a in ("x", "y", "width", "height")
        ]
        # Drawn over the astronaut's face (rows 40-200, columns 200-360 of the frame).
        assert 200 <= x + w / 2 <= 360 and 40 <= y + h / 2 <= 200, (x, y, w, h)
        await expect(page.locator("#overlay-summary")).to_contain_text("Detected: face")
        await page.screenshot(path=str(tmp_path / "detections.png"))

        await page.get_by_label("Show detections").uncheck()
        await expect(page.locator("#overlay g.box")).to_have_count(0)
        await expect(page.locator("#overlay-summary")).to_have_text("Detections are hidden.")
        await page.get_by_label("Show detections").check()
        await expect(page.locator("#overlay g.box").first).to_be_attached()
    finally:
        await page.close()
        await robot.stop()
