"""The control lock in real Chromium: two operators watch one robot, one drives.

The second sees who drives and is refused; a viewer sees no drive pad; an admin
takes over (the driver is told) and releases. The idle lease is long here, so the
lock never runs out while the machine is slow: its expiry is tested on a
hand-turned clock in tests/signaling.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.test_browser import (
    RECORD_PEERS,
    PublishingDevice,
    arrives,
    hold,
    open_device,
    sign_in,
    wait_for_frames,
)
from tests.harness.browser import chromium
from tests.harness.server import start_server
from tests.signaling.conftest import PASSWORD, World, bootstrap_admin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("console-lock"),
        {"limits": {"requests_per_minute": 100_000}, "control": {"lock_idle_seconds": 600}},
    )
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def browser(
    tmp_path_factory: pytest.TempPathFactory, world: World
) -> AsyncIterator[BrowserContext]:
    assert world.server.cert_path is not None
    async with chromium(tmp_path_factory.mktemp("profile"), trust=world.server.cert_path) as ctx:
        await ctx.add_init_script(RECORD_PEERS)
        yield ctx


@pytest.fixture
async def robot(world: World) -> AsyncIterator[PublishingDevice]:
    _, credential = world.device("lock-robot", "yard")
    device = await PublishingDevice.start(world, credential)
    yield device
    await device.close()


async def watcher(browser: BrowserContext, world: World, name: str) -> Page:
    page = await browser.new_page()
    await sign_in(page, world.server.base_url, name, PASSWORD)
    await open_device(page, "lock-robot")
    await wait_for_frames(page, 1)
    return page


async def test_one_operator_drives_the_other_sees_who_and_an_admin_takes_over(
    world: World, browser: BrowserContext, robot: PublishingDevice, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    first, second, root, watching = (f"{n}-{suffix}" for n in ("ann", "bob", "root", "vic"))
    world.user(first, "operator")
    world.user(second, "operator")
    world.user(root, "admin")
    world.user(watching, "viewer")
    ann = await watcher(browser, world, first)
    bob = await watcher(browser, world, second)
    await expect(bob.locator("#control-holder")).to_have_text("Nobody is driving.")

    await hold(ann, "#drive-forward", 0.9)
    await arrives(lambda: any(c["command"] == "stop" for c in robot.from_user(first)), "a stop")
    await expect(ann.locator("#control-holder")).to_have_text("You are driving")
    await expect(ann.get_by_role("button", name="Release")).to_be_visible()
    await expect(bob.locator("#control-holder")).to_have_text(f"Driving: {first}")
    await expect(bob.get_by_role("button", name="Take over")).to_be_hidden()  # an operator

    # The second operator's drive is refused, named, and sends the robot nothing.
    await bob.locator("#drive-left").focus()
    await bob.keyboard.down("d")  # the keyboard drives too
    await expect(bob.get_by_role("alert")).to_have_text(
        f"{first} is driving this device. Wait, or ask them to release it."
    )
    await bob.keyboard.up("d")
    await bob.screenshot(path=str(tmp_path / "locked.png"))
    assert robot.from_user(second) == []

    # A viewer sees who drives, and no drive pad at all.
    vic = await watcher(browser, world, watching)
    await expect(vic.locator("#control-holder")).to_have_text(f"Driving: {first}")
    await expect(vic.locator("#drive")).to_be_hidden()
    await expect(vic.get_by_role("button", name="Take over")).to_be_hidden()

    # An admin takes over: the driver is told, the robot is stopped in the admin's name.
    admin = await watcher(browser, world, root)
    await admin.get_by_role("button", name="Take over").click()
    await expect(admin.locator("#control-holder")).to_have_text("You are driving")
    await expect(ann.locator("#control-holder")).to_have_text(f"Driving: {root}")
    await expect(ann.get_by_role("alert")).to_have_text(f"{root} took over control of this device.")
    await arrives(lambda: any(c["command"] == "stop" for c in robot.from_user(root)), "a stop")
    await admin.screenshot(path=str(tmp_path / "taken.png"))

    await admin.keyboard.down("w")
    await arrives(lambda: any(c["command"] == "move" for c in robot.from_user(root)), "a move")
    await admin.keyboard.up("w")
    await admin.get_by_role("button", name="Release").click()
    for page in (ann, bob, vic, admin):
        await expect(page.locator("#control-holder")).to_have_text("Nobody is driving.")
    for page in (ann, bob, vic, admin):
        await page.close()
