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
from tests.harness.server import start_server
from tests.signaling.conftest import PASSWORD, World, bootstrap_admin

pytestmark = pytest.mark.slow


BROWSER_INIT_SCRIPTS = (RECORD_PEERS,)  # pages record their peer connections


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


@pytest.fixture
async def camera(world: World) -> AsyncIterator[PublishingDevice]:
    _, credential = world.device("lock-cam", "yard", ("video", "ptz"))
    device = await PublishingDevice.start(world, credential)
    yield device
    await device.close()


def poses(camera: PublishingDevice, name: str) -> list[tuple[float, float, float]]:
    return [
        (c["args"]["pan"], c["args"]["tilt"], c["args"]["zoom"])
        for c in camera.from_user(name)
        if c["command"] == "ptz"
    ]


async def test_the_camera_pad_steps_from_the_pose_every_watcher_is_told(
    world: World, browser: BrowserContext, camera: PublishingDevice, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    first, second, operator = (f"{n}-{suffix}" for n in ("cam-root", "cam-ada", "cam-op"))
    world.user(first, "admin")
    world.user(second, "admin")
    world.user(operator, "operator")

    async def opened(name: str) -> Page:
        page = await browser.new_page()
        await sign_in(page, world.server.base_url, name, PASSWORD)
        await open_device(page, "lock-cam")
        await wait_for_frames(page, 1)
        return page

    root = await opened(first)
    await expect(root.locator("#ptz")).to_be_visible()
    await expect(root.locator("#drive")).to_be_hidden()  # a camera has no wheels
    await expect(root.locator("#ptz-pose")).to_have_text(
        "Pose not known yet: steps start from Home."
    )
    await expect(root.get_by_role("button", name="Zoom out")).to_be_disabled()

    # One press, one step from Home; the pose comes back from the server.
    await root.get_by_role("button", name="Pan right").click()
    await arrives(lambda: poses(camera, first) == [(0.1, 0.0, 0.0)], "one pan step")
    await expect(root.locator("#ptz-pose")).to_have_text("Pan 0.10 · Tilt 0.00 · Zoom 0.00")
    await expect(root.locator("#notice")).to_be_hidden()  # nothing else was sent, or refused
    assert [c["command"] for c in camera.from_user(first)] == ["ptz"]
    await root.get_by_role("button", name="Zoom in").focus()
    await root.keyboard.press("Enter")
    await arrives(lambda: poses(camera, first)[-1:] == [(0.1, 0.0, 0.1)], "a zoom step")
    await expect(root.get_by_role("button", name="Zoom out")).to_be_enabled()

    # A newcomer is told where the camera points; an operator gets no camera pad.
    ada = await opened(second)
    await expect(ada.locator("#ptz-pose")).to_have_text("Pan 0.10 · Tilt 0.00 · Zoom 0.10")
    op = await opened(operator)
    await expect(op.locator("#ptz")).to_be_hidden()
    await expect(op.locator("#control-holder")).to_have_text(f"Driving: {first}")

    # The camera is steered by one person at a time: the second admin is refused.
    await ada.get_by_role("button", name="Tilt up").click()
    await expect(ada.get_by_role("alert")).to_have_text(
        f"{first} is driving this device. Wait, or ask them to release it."
    )
    assert poses(camera, second) == []

    # Holding a button keeps stepping; every watcher sees where it got to.
    await root.locator("#ptz-left").hover()
    await root.mouse.down()
    await arrives(lambda: any(pan <= -0.2 for pan, _, _ in poses(camera, first)), "steps")
    await root.mouse.up()
    pan = poses(camera, first)[-1][0]
    shown = f"Pan {pan:.2f} · Tilt 0.00 · Zoom 0.10".replace("-", "\u2212")
    await expect(ada.locator("#ptz-pose")).to_have_text(shown)
    await expect(root.locator("#ptz-pose")).to_have_text(shown)
    await root.screenshot(path=str(tmp_path / "ptz.png"))

    await root.get_by_role("button", name="Home").click()
    await arrives(lambda: poses(camera, first)[-1] == (0.0, 0.0, 0.0), "home")
    await expect(ada.locator("#ptz-pose")).to_have_text("Pan 0.00 · Tilt 0.00 · Zoom 0.00")
    await expect(root.get_by_role("button", name="Zoom out")).to_be_disabled()
    for page in (root, ada, op):
        await page.close()
