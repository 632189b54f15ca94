"""The camera wall in real Chromium: two publishing devices in two tiles, a device
leaving shows Offline in its tile, nine tiles on request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.test_console_admin import open_tab, sign_in
from tests.e2e.video import until_moving
from tests.harness.device import FakeDevice
from tests.harness.world import PASSWORD, World

pytestmark = pytest.mark.slow


async def test_the_wall_shows_each_device_in_its_tile(world: World, page: Page) -> None:
    site = f"wall-{uuid.uuid4().hex[:6]}"
    devices: list[Any] = []
    try:
        for name in ("north", "south"):
            _, credential = world.device(f"{site}-{name}", site)
            devices.append(await FakeDevice.start(world, credential))
        world.user(f"{site}-viewer", "viewer", [site])
        await sign_in(page, world.server.base_url, f"{site}-viewer", PASSWORD)
        await expect(page.locator("#console-view")).to_be_visible()
        await open_tab(page, "Wall")
        tiles = page.locator(".wall-tile")
        await expect(tiles).to_have_count(4)
        # The two online devices of the viewer's only site fill the first two tiles.
        await expect(tiles.nth(0).locator(".wall-state")).to_have_text("Live", timeout=20_000)
        await expect(tiles.nth(1).locator(".wall-state")).to_have_text("Live", timeout=20_000)
        names = {await tiles.nth(i).locator(".wall-name").text_content() for i in (0, 1)}
        assert names == {f"{site}-north ({site})", f"{site}-south ({site})"}
        await expect(tiles.nth(2).locator(".wall-state")).to_have_text("Empty")
        for tile in (0, 1):
            await until_moving(page, tiles.nth(tile).locator("video"))

        # The device in the second tile leaves: that tile says so, the first plays on.
        second = await tiles.nth(1).locator(".wall-name").text_content()
        leaving = devices[1] if second and "south" in second else devices[0]
        await leaving.stop()
        await expect(tiles.nth(1).locator(".wall-state")).to_have_text("Offline", timeout=20_000)
        await until_moving(page, tiles.nth(0).locator("video"))

        await page.get_by_label("Tiles").select_option("9")
        await expect(tiles).to_have_count(9)
        await expect(tiles.nth(0).locator(".wall-state")).to_have_text("Live", timeout=20_000)
    finally:
        for device in devices:
            await device.stop()
