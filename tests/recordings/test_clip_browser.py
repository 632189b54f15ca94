"""A clip built from three segments plays as a plain file in real Chromium's ``<video>``.

The clip is fetched whole from a plain HTTP server on 127.0.0.1 and opened as a
downloaded file is (a blob in ``<video src>``, no MSE): Chromium must load it, report
its duration, play it, and show the third segment's colour after a seek into it.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lensguard.recordings.clip import ClipSource, build_clip
from lensguard.recordings.muxer import SegmentMuxer
from tests.harness.browser import chromium
from tests.recordings.test_muxer_browser import COLOURS, PICTURE
from tests.recordings.vp8 import encode, solid

pytestmark = pytest.mark.slow
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PAGE = b"<!doctype html><meta charset=utf-8><video id=v muted></video><canvas id=c></canvas>"
OPEN = """
async () => {
  const blob = await (await fetch("clip.webm")).blob();
  document.getElementById("v").src = URL.createObjectURL(blob);
}
"""


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The page and a clip of 0.5 s to 3 s of a red, green, blue recording, over HTTP."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_bytes(PAGE)
    sources = []
    for index, colour in enumerate(COLOURS):
        frames = encode(30, keyframes=(0,), first_pts=index * 90_000, picture=solid(colour))
        muxer = SegmentMuxer()
        for frame in frames:
            muxer.add(frame.data, 5_000 + frame.pts // 90, frame.keyframe)
        data = muxer.finish(5_000 + (index + 1) * 1000).data
        sources.append(ClipSource(T0 + timedelta(seconds=index), data))
    clip = build_clip(sources, T0 + timedelta(milliseconds=500), T0 + timedelta(seconds=3))
    assert clip.start == T0 and clip.duration_ms == 3000
    (root / "clip.webm").write_bytes(clip.data)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Files, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_clip_loads_reports_its_duration_plays_and_seeks(
    served: str, tmp_path: Path
) -> None:
    async with chromium(tmp_path / "profile") as context:
        page = await context.new_page()
        await page.goto(f"{served}/index.html")
        await page.evaluate(OPEN)
        await page.wait_for_function(
            "() => document.getElementById('v').readyState >= 1", timeout=15_000
        )
        duration = await page.evaluate("() => document.getElementById('v').duration")
        assert duration == pytest.approx(3.0, abs=0.05)

        await page.evaluate("() => document.getElementById('v').play()")
        await page.wait_for_function(
            "() => { const v = document.getElementById('v');"
            " return v.currentTime > 0.2 && v.readyState >= 2; }",
            timeout=15_000,
        )
        first = await page.evaluate(PICTURE)
        assert (first["width"], first["height"]) == (320, 240)
        assert max(range(3), key=lambda c: first["rgb"][c]) == 0  # red, the first segment

        await page.evaluate(
            "() => { const v = document.getElementById('v'); v.pause(); v.currentTime = 2.5; }"
        )
        await page.wait_for_function(
            "() => { const v = document.getElementById('v');"
            " return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - 2.5) < 0.05; }",
            timeout=15_000,
        )
        seen = await page.evaluate(PICTURE)
        red, green, blue = seen["rgb"]
        assert blue > 150 and red < 100 and green < 100, seen  # the third segment's picture
