"""Segments from the muxer, appended in order to one MSE SourceBuffer in real Chromium.

Three one-second segments of different colours are served from a plain HTTP server on
127.0.0.1. The page appends them to one SourceBuffer, plays, then seeks into the middle
segment and reads the picture back from a canvas: it must be that segment's colour.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lensguard.recordings.muxer import MIME_TYPE, SegmentMuxer
from tests.harness.browser import chromium
from tests.recordings.vp8 import encode, solid

pytestmark = pytest.mark.slow
# BGR for the encoder; the canvas reads RGB.
COLOURS = [(40, 40, 200), (40, 200, 40), (200, 40, 40)]
PAGE = b"<!doctype html><meta charset=utf-8><video id=v muted></video><canvas id=c></canvas>"
APPEND = """
async ([mime, urls]) => {
  const video = document.getElementById("v");
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((ok) => source.addEventListener("sourceopen", ok, { once: true }));
  const buffer = source.addSourceBuffer(mime);
  for (const url of urls) {
    const data = await (await fetch(url)).arrayBuffer();
    await new Promise((ok, fail) => {
      buffer.addEventListener("updateend", ok, { once: true });
      buffer.addEventListener("error", () => fail(new Error("append failed")), { once: true });
      buffer.appendBuffer(data);
    });
  }
  source.endOfStream();
  const ranges = [];
  for (let i = 0; i < buffer.buffered.length; i++) {
    ranges.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
  }
  return ranges;
}
"""
PICTURE = """
() => {
  const video = document.getElementById("v");
  const canvas = document.getElementById("c");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const sums = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 4) for (let c = 0; c < 3; c++) sums[c] += pixels[i + c];
  const n = pixels.length / 4;
  return { rgb: sums.map((s) => s / n), width: canvas.width, height: canvas.height };
}
"""


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The page and three consecutive segments (red, green, blue) over HTTP on loopback."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_bytes(PAGE)
    for index, colour in enumerate(COLOURS):
        frames = encode(30, keyframes=(0,), first_pts=index * 90_000, picture=solid(colour))
        muxer = SegmentMuxer()
        for frame in frames:
            muxer.add(frame.data, frame.pts // 90, frame.keyframe)
        (root / f"{index}.webm").write_bytes(muxer.finish((index + 1) * 1000).data)
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


async def test_segments_append_to_one_source_buffer_play_and_seek(
    served: str, tmp_path: Path
) -> None:
    async with chromium(tmp_path / "profile") as context:
        page = await context.new_page()
        await page.goto(f"{served}/index.html")
        assert await page.evaluate("(m) => MediaSource.isTypeSupported(m)", MIME_TYPE)
        urls = [f"{served}/{i}.webm" for i in range(len(COLOURS))]
        ranges = await page.evaluate(APPEND, [MIME_TYPE, urls])
        # One continuous range over all three files: timestamps carry on across them.
        assert len(ranges) == 1, ranges
        assert ranges[0][0] == pytest.approx(0.0, abs=0.05)
        assert ranges[0][1] == pytest.approx(3.0, abs=0.05)

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
            "() => { const v = document.getElementById('v'); v.pause(); v.currentTime = 1.5; }"
        )
        await page.wait_for_function(
            "() => { const v = document.getElementById('v');"
            " return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - 1.5) < 0.05; }",
            timeout=15_000,
        )
        seen = await page.evaluate(PICTURE)
        red, green, blue = seen["rgb"]
        assert green > 150 and red < 100 and blue < 100, seen  # the second segment's picture
