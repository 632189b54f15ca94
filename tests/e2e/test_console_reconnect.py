"""The Live view after a device drop, in real Chromium: an OFFLINE overlay with how long
it has been down, then the picture back by itself when the device returns."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from tests.e2e.test_console_admin import sign_in
from tests.e2e.video import until_moving
from tests.harness.device import FakeDevice
from tests.harness.world import PASSWORD, World

pytestmark = pytest.mark.slow


async def test_the_view_shows_offline_and_comes_back_by_itself(world: World, page: Page) -> None:
    site = f"rc-{uuid.uuid4().hex[:6]}"
    _, credential = world.device(f"{site}-rover", site)
    world.user(f"{site}-op", "operator", [site])
    device = await FakeDevice.start(world, credential)
    try:
        await sign_in(page, world.server.base_url, f"{site}-op", PASSWORD)
        await page.locator(".device", has_text=f"{site}-rover").click()
        video = page.locator("#video")
        await until_moving(page, video)
        overlay = page.locator("#offline")
        await expect(overlay).to_be_hidden()

        await device.stop()
        await expect(overlay).to_be_visible(timeout=15_000)
        await expect(overlay).to_contain_text("OFFLINE")
        await expect(page.locator("#offline-for")).to_contain_text("Device offline for")

        device = await FakeDevice.start(world, credential)  # the device returns
        await expect(overlay).to_be_hidden(timeout=30_000)
        await until_moving(page, video)
        await expect(page.locator("#viewer-status")).to_have_text("Live")
    finally:
        await device.stop()
