"""The console's Recordings view in real Chromium against a real server and real recordings.

Two recordings of one device are written through the server's own vault (encrypted,
indexed, anchored) before the browser opens them: the first has three 2 s segments
(red, green, blue), a gap, then a yellow one; the second starts later with magenta and
cyan. The page plays them through MSE from the playback API, and each check reads the
picture back from a canvas: the colour says which segment is on screen.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.conftest import create_pg_database, drop_pg_database
from tests.e2e.recorded import Piece, Written, record
from tests.harness.browser import chromium
from tests.harness.server import start_server, strong_secret
from tests.harness.world import PASSWORD, World, auth, bootstrap_admin

pytestmark = pytest.mark.slow
# BGR for the encoder; the canvas reads RGB.
RED, GREEN, BLUE = (40, 40, 200), (40, 200, 40), (200, 40, 40)
YELLOW, MAGENTA, CYAN = (40, 200, 200), (200, 40, 200), (200, 200, 40)
FIRST = [Piece(RED, 0), Piece(GREEN, 2), Piece(BLUE, 4), Piece(YELLOW, 16)]
SECOND_AT = 40.0  # seconds after the first recording's start
SECOND = [Piece(MAGENTA, 0), Piece(CYAN, 2)]
PICTURE = """
() => {
  const video = document.getElementById("rec-video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const sums = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 4) for (let c = 0; c < 3; c++) sums[c] += pixels[i + c];
  return sums.map((s) => s / (pixels.length / 4));
}
"""
# Where on screen the timeline puts a wall-clock time (from its viewBox and box).
TIMELINE_X = """
(ms) => {
  const svg = document.getElementById("rec-timeline");
  const [from, , width] = svg.getAttribute("viewBox").split(" ").map(Number);
  const day = Date.parse(new Date(ms).toISOString().slice(0, 10) + "T00:00:00Z");
  const box = svg.getBoundingClientRect();
  return [box.left + ((ms - day) / 1000 - from) / width * box.width, box.top + box.height / 2];
}
"""
SETTLED = """
(media) => { const v = document.getElementById("rec-video");
             return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - media) < 0.1; }
"""


@dataclass
class Recorded:
    world: World
    device_id: str
    start: datetime
    recordings: list[Written]


def rgb(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return colour[2], colour[1], colour[0]


def looks_like(seen: list[float], colour: tuple[int, int, int]) -> bool:
    """Close to the segment's colour (the moving bar and VP8 shift the mean a little)."""
    return all(abs(s - c) < 45 for s, c in zip(seen, rgb(colour), strict=True))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The server's database settings: its own SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield {}
        return
    admin_url: str = request.getfixturevalue("pg_admin_url")
    template: str = request.getfixturevalue("pg_template")
    name, url = asyncio.run(create_pg_database(admin_url, template))
    try:
        yield {"database": {"url": url}}
    finally:
        asyncio.run(drop_pg_database(admin_url, name))


@pytest.fixture(scope="module")
async def recorded(
    database: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Recorded]:
    """A server on SQLite or PostgreSQL holding two recordings of one device."""
    workdir = tmp_path_factory.mktemp("recordings")
    secret = strong_secret()
    config: dict[str, Any] = {"limits": {"requests_per_minute": 100_000}, **database}
    server = start_server(workdir, config, env={"LENSGUARD_SECRET_KEY": secret})
    try:
        world = World(server, bootstrap_admin(server))
        device_id, _ = world.device("dock-camera", "dock")
        # Whole seconds, well inside one UTC day, so the day picker shows all of it.
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(minutes=5)
        if start.date() != (start + timedelta(seconds=SECOND_AT + 10)).date():
            start = start - timedelta(minutes=10)
        recordings = await record(
            workdir / "lensguard.yaml",
            secret,
            device_id,
            [(start, FIRST), (start + timedelta(seconds=SECOND_AT), SECOND)],
        )
        world.user("rec-operator", "operator")
        yield Recorded(world, device_id, start, recordings)
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def browser(
    tmp_path_factory: pytest.TempPathFactory, recorded: Recorded
) -> AsyncIterator[BrowserContext]:
    assert recorded.world.server.cert_path is not None
    profile = tmp_path_factory.mktemp("profile")
    async with chromium(profile, trust=recorded.world.server.cert_path) as context:
        yield context


async def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#console-view")).to_be_visible()


async def open_day(page: Page, recorded: Recorded) -> None:
    await page.get_by_role("button", name="Recordings", exact=True).click()
    await expect(page.locator("#recordings-view")).to_be_visible()
    await expect(page.locator("#rec-device option")).to_have_count(1)
    await page.get_by_label("Day (UTC)").fill(recorded.start.date().isoformat())
    await page.get_by_role("button", name="Show recordings").click()
    await expect(page.locator("#rec-status")).to_contain_text("3 recorded ranges")


def at(recorded: Recorded, seconds: float) -> int:
    """Epoch milliseconds ``seconds`` after the first recording starts."""
    return round((recorded.start.timestamp() + seconds) * 1000)


async def click_timeline(page: Page, recorded: Recorded, seconds: float) -> None:
    x, y = await page.evaluate(TIMELINE_X, at(recorded, seconds))
    await page.mouse.click(x, y)


async def position(page: Page) -> float:
    """The playhead in seconds after midnight UTC (the timeline slider's value)."""
    value: str = await page.locator("#rec-timeline").get_attribute("aria-valuenow") or "0"
    return float(value)


async def settled(page: Page, media: float) -> None:
    """Until the video shows media time ``media`` of its recording, decoded."""
    await page.wait_for_function(SETTLED, arg=media, timeout=20_000)


async def picture(page: Page) -> list[float]:
    seen: list[float] = await page.evaluate(PICTURE)
    return seen


async def test_timeline_play_seek_speed_and_gaps(
    recorded: Recorded, browser: BrowserContext, tmp_path: Path
) -> None:
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await sign_in(page, recorded.world.server.base_url, "rec-operator", PASSWORD)
    await expect(page.get_by_role("button", name="Who watched what")).to_be_hidden()
    await open_day(page, recorded)

    # The timeline: three ranges, split where nothing was recorded.
    ranges = page.locator("#rec-ranges rect")
    await expect(ranges).to_have_count(3)
    spans = [
        (await r.get_attribute("data-start") or "", await r.get_attribute("data-end") or "")
        for r in await ranges.all()
    ]
    wanted = [(0, 6), (16, 18), (SECOND_AT, SECOND_AT + 4)]
    got = [
        (
            datetime.fromisoformat(s).timestamp() - recorded.start.timestamp(),
            datetime.fromisoformat(e).timestamp() - recorded.start.timestamp(),
        )
        for s, e in spans
    ]
    assert [(round(s, 1), round(e, 1)) for s, e in got] == [(float(s), float(e)) for s, e in wanted]
    # An operator may watch but not export: no download form.
    await expect(page.locator("#rec-download")).to_be_hidden()

    # Play from the start: time advances, the first segment's picture shows.
    await page.get_by_role("button", name="Play", exact=True).click()
    await page.wait_for_function(
        "() => { const v = document.getElementById('rec-video');"
        " return v.currentTime > 0.3 && v.readyState >= 2 && !v.paused; }",
        timeout=20_000,
    )
    assert looks_like(await picture(page), RED)
    await expect(page.locator("#rec-time")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d UTC$"))
    await page.get_by_role("button", name="Pause", exact=True).click()

    # Seek by clicking the timeline into the second segment: its frame shows.
    await click_timeline(page, recorded, 3.0)
    await settled(page, 3.0)
    day = at(recorded, 0) // 86_400_000 * 86_400_000
    offset = (at(recorded, 0) - day) / 1000
    assert abs(await position(page) - offset - 3.0) < 0.3
    assert looks_like(await picture(page), GREEN), await picture(page)
    await page.screenshot(path=str(tmp_path / "recordings.png"), full_page=True)

    # Into the second recording (its own timeline from zero): magenta.
    await click_timeline(page, recorded, SECOND_AT + 1.0)
    await settled(page, 1.0)
    assert abs(await position(page) - offset - SECOND_AT - 1.0) < 0.3
    assert looks_like(await picture(page), MAGENTA), await picture(page)

    # Speed 2x, from the blue segment: playback jumps the gap to yellow, then goes on
    # into the second recording by itself.
    await page.get_by_label("Speed").select_option("2")
    await click_timeline(page, recorded, 5.0)
    await settled(page, 5.0)
    await page.get_by_role("button", name="Play", exact=True).click()
    assert await page.evaluate("() => document.getElementById('rec-video').playbackRate") == 2
    await page.wait_for_function(
        f"() => Number(document.getElementById('rec-timeline').getAttribute('aria-valuenow'))"
        f" >= {offset + 16.3}",
        timeout=30_000,
    )
    await page.wait_for_function(
        f"() => Number(document.getElementById('rec-timeline').getAttribute('aria-valuenow'))"
        f" >= {offset + SECOND_AT + 0.3}",
        timeout=30_000,
    )
    assert await page.evaluate("() => document.getElementById('rec-video').playbackRate") == 2
    await expect(page.locator("#rec-status")).to_have_text(
        "End of the recordings for this day.", timeout=30_000
    )
    assert problems == [], problems


async def test_keyboard_seeks_the_timeline(recorded: Recorded, browser: BrowserContext) -> None:
    page = await browser.new_page()
    await sign_in(page, recorded.world.server.base_url, "rec-operator", PASSWORD)
    await open_day(page, recorded)
    await page.locator("#rec-timeline").focus()
    await page.keyboard.press("End")  # the last recorded second: cyan
    await settled(page, 3.0)
    assert looks_like(await picture(page), CYAN), await picture(page)


async def test_a_tampered_segment_is_refused_with_a_clear_message(
    recorded: Recorded, browser: BrowserContext, tmp_path: Path
) -> None:
    segment_id, _, _ = recorded.recordings[0].segments[2]  # the blue one
    stored = recorded.world.server.var_dir / "recordings" / segment_id
    original = stored.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    stored.write_bytes(bytes(flipped))
    try:
        page = await browser.new_page()
        await sign_in(page, recorded.world.server.base_url, "rec-operator", PASSWORD)
        await open_day(page, recorded)
        await click_timeline(page, recorded, 4.5)
        await expect(page.locator("#notice")).to_contain_text("failed its integrity check")
    finally:
        stored.write_bytes(original)


async def test_withdrawn_access_stops_playback_with_a_plain_message(
    recorded: Recorded, browser: BrowserContext
) -> None:
    world = recorded.world
    world.user("rec-dock", "operator", sites=["dock"])
    page = await browser.new_page()
    await sign_in(page, world.server.base_url, "rec-dock", PASSWORD)
    await open_day(page, recorded)
    await click_timeline(page, recorded, 1.0)
    await settled(page, 1.0)
    assert looks_like(await picture(page), RED)

    # The account loses the device's site: its next seek is refused, and said so.
    with world.http() as client:
        users = client.get("/api/v1/users?limit=200", headers=auth(world.admin)).json()
        user_id = next(u["id"] for u in users if u["username"] == "rec-dock")
        client.patch(
            f"/api/v1/users/{user_id}", headers=auth(world.admin), json={"sites": ["yard"]}
        ).raise_for_status()
    await click_timeline(page, recorded, SECOND_AT + 1.0)
    await expect(page.locator("#notice")).to_contain_text(
        "Playback stopped: this recording is not available to you any more."
    )
    await expect(page.locator("#rec-status")).to_have_text("Stopped.")


async def test_an_auditor_sees_who_watched_what(
    recorded: Recorded, browser: BrowserContext
) -> None:
    world = recorded.world
    # Someone watches and seeks first.
    watcher = await browser.new_page()
    await sign_in(watcher, world.server.base_url, "rec-operator", PASSWORD)
    await open_day(watcher, recorded)
    await click_timeline(watcher, recorded, 3.0)
    await settled(watcher, 3.0)
    await watcher.close()

    world.user("rec-auditor", "admin")
    page = await browser.new_page()
    await sign_in(page, world.server.base_url, "rec-auditor", PASSWORD)
    await page.get_by_role("button", name="Who watched what").click()
    await expect(page.locator("#access-view")).to_be_visible()
    await page.locator("#access-device").select_option(label="dock-camera")
    await page.get_by_role("button", name="Show", exact=True).click()
    rows = page.locator("#access-rows tr")
    await expect(rows.first).to_be_visible()
    texts = await rows.all_inner_texts()
    watched = [t for t in texts if "rec-operator" in t and "dock-camera" in t]
    assert any("Watched" in t for t in watched), texts
    assert any("Seeked" in t for t in watched), texts
    # Newest first, times in UTC, the footage watched is the day asked for.
    day = recorded.start.date().isoformat()
    assert all(day in t for t in watched), watched


async def test_an_exporter_downloads_a_range_that_plays(
    recorded: Recorded, browser: BrowserContext, tmp_path: Path
) -> None:
    world = recorded.world
    world.user("rec-exporter", "admin")
    page = await browser.new_page()
    await sign_in(page, world.server.base_url, "rec-exporter", PASSWORD)
    await open_day(page, recorded)
    await expect(page.locator("#rec-download")).to_be_visible()
    # From the red segment into the blue one.
    start = datetime.fromtimestamp(at(recorded, 1) / 1000, UTC).strftime("%H:%M:%S")
    end = datetime.fromtimestamp(at(recorded, 5) / 1000, UTC).strftime("%H:%M:%S")
    await page.locator("#rec-dl-start").fill(start)
    await page.locator("#rec-dl-end").fill(end)
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download range").click()
    download = await waiting.value
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.webm", download.suggested_filename)
    saved = tmp_path / "range.webm"
    await download.save_as(saved)
    data = saved.read_bytes()
    assert data[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    with av.open(io.BytesIO(data), "r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) >= 90  # three seconds and more at 30 fps
    first, last = (list(f.reshape(-1, 3).mean(axis=0)) for f in (frames[0], frames[-1]))
    assert looks_like(first, RED) and looks_like(last, BLUE), (first, last)
    await expect(page.locator("#rec-dl-status")).to_contain_text("The download is audited.")

    await page.get_by_role("button", name="Who watched what").click()
    rows = page.locator("#access-rows tr")
    await expect(rows.first).to_contain_text("rec-exporter")
    assert "Downloaded" in await rows.first.inner_text()


async def test_a_shared_range_plays_for_its_grantee_until_revoked(
    recorded: Recorded, browser: BrowserContext
) -> None:
    world = recorded.world
    world.user("rec-yard", "operator", sites=["yard"])  # the dock is outside its scope
    with world.http() as client:
        users = client.get("/api/v1/users?limit=200", headers=auth(world.admin)).json()
        user_id = next(u["id"] for u in users if u["username"] == "rec-yard")
        _, start, _ = recorded.recordings[0].segments[0]
        _, _, end = recorded.recordings[0].segments[1]
        grant = client.post(
            "/api/v1/recordings/grants",
            headers=auth(world.admin),
            json={
                "device_id": recorded.device_id,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "user_id": user_id,
                "hours": 1,
            },
        )
        grant.raise_for_status()
    page = await browser.new_page()
    await sign_in(page, world.server.base_url, "rec-yard", PASSWORD)
    await page.get_by_role("button", name="Recordings", exact=True).click()
    option = page.locator("#rec-device option")
    await expect(option).to_have_count(1)
    await expect(option).to_contain_text("dock-camera (dock), shared with you until")
    await expect(page.get_by_label("Day (UTC)")).to_have_value(start.date().isoformat())
    await page.get_by_role("button", name="Show recordings").click()
    # Only the shared range: the red and green segments.
    await expect(page.locator("#rec-status")).to_contain_text("1 recorded range, 4 s in all.")
    await page.get_by_role("button", name="Play", exact=True).click()
    await page.wait_for_function(
        "() => { const v = document.getElementById('rec-video');"
        " return v.currentTime > 0.3 && v.readyState >= 2; }",
        timeout=20_000,
    )
    assert looks_like(await picture(page), RED)

    # Revoked: the next seek is refused, and the page says why in plain words.
    with world.http() as client:
        client.delete(
            f"/api/v1/recordings/grants/{grant.json()['id']}", headers=auth(world.admin)
        ).raise_for_status()
    await click_timeline(page, recorded, 3.0)
    await expect(page.locator("#notice")).to_contain_text(
        "The viewing session or the grant behind it has expired or was withdrawn."
    )
