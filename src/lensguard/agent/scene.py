"""The synthetic test scene: a world the robot drives through, a clock and a stamp.

Everything is drawn straight into YUV 4:2:0 planes with numpy (no OpenCV, no colour
conversion): a checkerboard world seen through a viewport the simulated robot moves,
a fixed colour gradient in the chroma planes, a bar sweeping on its own so a frozen
stream is obvious, digits for the frame counter, wall-clock time and pose, and the
capture-time stamp (``agent.stamp``) in the top-left corner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lensguard.agent.stamp import HEIGHT as STAMP_HEIGHT
from lensguard.agent.stamp import WIDTH as STAMP_WIDTH
from lensguard.agent.stamp import stamp

Plane = npt.NDArray[np.uint8]

# A 3 x 5 pixel font for what the overlay needs: digits, signs and separators.
_FONT = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001010010010",
    "8": "111101111101111",
    "9": "111101111001111",
    ":": "000010000010000",
    ".": "000000000000010",
    "+": "000010111010000",
    "-": "000000111000000",
    " ": "000000000000000",
}
_SCALE = 4
GLYPH_WIDTH = 3 * _SCALE
GLYPH_HEIGHT = 5 * _SCALE
_ADVANCE = GLYPH_WIDTH + _SCALE
_GLYPHS = {
    char: np.kron(
        np.array([int(b) for b in bits], dtype=bool).reshape(5, 3),
        np.ones((_SCALE, _SCALE), dtype=bool),
    )
    for char, bits in _FONT.items()
}
_DARK, _LIGHT, _TEXT, _BAR = 60, 150, 235, 220


@dataclass(frozen=True)
class Viewport:
    """Where the camera looks in the scene's world, in pixels, and its zoom (0..1)."""

    x: float = 0.0
    y: float = 0.0
    zoom: float = 0.0


def draw_text(plane: Plane, text: str, left: int, top: int) -> None:
    """Draw ``text`` (digits, ``:.+-`` and spaces) on a dark box, clipped to the plane."""
    height, width = plane.shape
    box_right = min(width, left + len(text) * _ADVANCE + _SCALE)
    box_bottom = min(height, top + GLYPH_HEIGHT + 2 * _SCALE)
    plane[top:box_bottom, left:box_right] = 0
    for i, char in enumerate(text):
        x = left + _SCALE + i * _ADVANCE
        y = top + _SCALE
        glyph = _GLYPHS.get(char, _GLYPHS[" "])[: max(0, height - y), : max(0, width - x)]
        region = plane[y : y + glyph.shape[0], x : x + glyph.shape[1]]
        region[glyph] = _TEXT


class SceneRenderer:
    """Draws frames of one size; keeps the precomputed parts between frames."""

    def __init__(self, width: int, height: int) -> None:
        if width % 2 or height % 4:
            # Each chroma plane is folded into whole rows of ``width`` bytes.
            raise ValueError("the width must be even and the height a multiple of 4")
        if width < STAMP_WIDTH or height < STAMP_HEIGHT + 2 * GLYPH_HEIGHT + 32:
            raise ValueError(f"the scene needs at least {STAMP_WIDTH}x{STAMP_HEIGHT + 72} px")
        self.width = width
        self.height = height
        # A fixed colour wash in the chroma planes: blue to the right, red downwards.
        u = np.linspace(90, 170, width // 2, dtype=np.float32)[None, :]
        v = np.linspace(90, 170, height // 2, dtype=np.float32)[:, None]
        u_plane = np.broadcast_to(u, (height // 2, width // 2)).astype(np.uint8)
        v_plane = np.broadcast_to(v, (height // 2, width // 2)).astype(np.uint8)
        # yuv420p as PyAV lays it out: each chroma plane folded into rows of ``width``.
        self._chroma = np.concatenate(
            [u_plane.reshape(height // 4, width), v_plane.reshape(height // 4, width)]
        )
        self._cell = 0
        self._world: Plane = np.zeros((0, 0), dtype=np.uint8)

    def _world_for(self, zoom: float) -> Plane:
        # Zooming in makes the cells bigger; rebuilt only when the cell size changes.
        cell = round(32 * (1 + 3 * min(1.0, max(0.0, zoom))))
        if cell != self._cell:
            ys = np.arange(self.height + 2 * cell)[:, None] // cell
            xs = np.arange(self.width + 2 * cell)[None, :] // cell
            self._world = np.where((xs + ys) % 2 == 0, _DARK, _LIGHT).astype(np.uint8)
            self._cell = cell
        return self._world

    def render(self, index: int, t_us: int, view: Viewport) -> npt.NDArray[np.uint8]:
        """One yuv420p frame as a (height * 3 / 2, width) array, stamped with ``t_us``."""
        world = self._world_for(view.zoom)
        period = 2 * self._cell
        ox, oy = int(view.x) % period, int(view.y) % period
        frame = np.empty((self.height * 3 // 2, self.width), dtype=np.uint8)
        luma = frame[: self.height]
        luma[:] = world[oy : oy + self.height, ox : ox + self.width]
        bar = (index * 8) % self.width
        luma[STAMP_HEIGHT:, bar : bar + 16] = _BAR
        clock = time.strftime("%H:%M:%S", time.localtime(t_us / 1e6))
        millis = (t_us // 1000) % 1000
        bottom = self.height - 2 * (GLYPH_HEIGHT + 2 * _SCALE)
        draw_text(luma, f"{index:07d} {clock}.{millis:03d}", 0, bottom)
        draw_text(
            luma,
            f"{view.x:+08.1f} {view.y:+08.1f} {view.zoom:.2f}",
            0,
            bottom + GLYPH_HEIGHT + 2 * _SCALE,
        )
        stamp(luma, t_us)
        frame[self.height :] = self._chroma
        return frame
