"""Checks on a <video> element in the browser: is its picture there and moving."""

from __future__ import annotations

from playwright.async_api import Locator, Page


async def moving(page: Page, video: Locator) -> bool:
    """Whether ``video`` has a picture and its clock moves between two readings."""
    first = await video.evaluate("v => [v.videoWidth, v.currentTime]")
    await page.wait_for_timeout(300)
    second = await video.evaluate("v => v.currentTime")
    return bool(first[0] > 0 and second > first[1])


async def until_moving(page: Page, video: Locator, within: float = 20.0) -> None:
    """Wait until ``video`` shows a moving picture (AssertionError after ``within`` s)."""
    for _ in range(int(within / 0.3)):
        if await moving(page, video):
            return
    raise AssertionError("the video shows no moving picture")
