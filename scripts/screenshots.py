"""Screenshots of each console page at desktop and phone sizes, for review.

``make screenshots`` runs this: a throw-away production-mode server on a loopback port
with an admin, a few accounts, devices and an API key; Debian's Chromium signs in and
writes ``var/screenshots/<page>-<size>.png`` (var/ is not committed). Nothing here is
a test: it is for people to look at the layout.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from playwright.async_api import Page  # noqa: E402
from tests.harness.browser import chromium  # noqa: E402
from tests.harness.server import start_server  # noqa: E402
from tests.harness.world import (  # noqa: E402
    ADMIN_PASSWORD,
    PASSWORD,
    World,
    auth,
    bootstrap_admin,
)

OUT = ROOT / "var" / "screenshots"
SIZES = {"desktop": (1280, 860), "phone": (390, 844)}
PAGES = {
    "live": "Live",
    "users": "Users",
    "device-admin": "Device admin",
    "sessions": "Sessions",
    "api-keys": "API keys",
    "account": "Your account",
    "audit": "Audit log",
    "security": "Security",
    "incidents": "Incidents",
    "compliance": "Compliance",
}


def populate(world: World) -> None:
    world.user("ana", "operator", ["yard"])
    # Viewers must enrol MFA on this server: "vic" shows the enrolment step.
    world.user("vic", "viewer", ["dock"])
    for name, site in (("yard-robot", "yard"), ("dock-cam", "dock")):
        world.device(name, site)
    with world.http() as client:
        client.post(
            "/api/v1/api-keys",
            headers=auth(world.admin),
            json={"name": "camera wall", "scopes": ["camera_view"]},
        ).raise_for_status()
        # Failed sign-ins from two addresses (loopback is the trusted proxy here) and
        # an incident, so the security pages have something to show.
        for address in ("203.0.113.9", "203.0.113.9", "203.0.113.9", "198.51.100.4"):
            client.post(
                "/api/v1/auth/login",
                json={"username": "root", "password": "a wrong guess"},  # pragma: allowlist secret
                headers={"X-Forwarded-For": address},
            )
        client.post(
            "/api/v1/incidents",
            headers=auth(world.admin),
            json={
                "kind": "brute_force",
                "title": "guesses against root",
                "severity": "high",
                "address": "203.0.113.9",
            },
        ).raise_for_status()


async def shoot(page: Page, name: str, size: str) -> None:
    path = OUT / f"{name}-{size}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(path.relative_to(ROOT))


async def enrolment(page: Page, size: str) -> None:
    await page.locator("#login-username").fill("vic")
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-submit").click()
    await page.locator("#mfa-view").wait_for()
    await page.locator("#mfa-password").fill(PASSWORD)
    await page.locator("#mfa-start").click()
    await page.locator("#mfa-scan").wait_for()
    await shoot(page, "mfa-enrolment", size)
    await page.get_by_role("button", name="Sign out").click()


async def run(workdir: Path) -> None:
    config = {
        "server": {"host": "127.0.0.1", "trusted_proxies": ["127.0.0.0/8"]},
        "limits": {"requests_per_minute": 100_000},
        "security": {"authentication": {"mfa_required_for": ["viewer"]}},
    }
    server = start_server(workdir, config)
    try:
        world = World(server, bootstrap_admin(server))
        populate(world)
        username = server.output().split("Username: ", 1)[1].split()[0]
        assert server.cert_path is not None
        OUT.mkdir(parents=True, exist_ok=True)
        async with chromium(workdir / "profile", trust=server.cert_path) as context:
            for size, (width, height) in SIZES.items():
                page = await context.new_page()
                await page.set_viewport_size({"width": width, "height": height})
                await page.goto(server.base_url + "/")
                await shoot(page, "sign-in", size)
                await page.locator("#login-username").fill(username)
                await page.locator("#login-password").fill(ADMIN_PASSWORD)
                await page.locator("#login-submit").click()
                await page.locator("#console-view").wait_for()
                await page.locator("#device-list li").first.wait_for()
                for name, tab in PAGES.items():
                    button = page.locator("#tabs").get_by_role("button", name=tab, exact=True)
                    await button.click()
                    await page.locator(".tab[aria-pressed=true]", has_text=tab).wait_for()
                    if name == "account":
                        await page.locator("#account-mfa:not(:empty)").wait_for()
                    elif name == "compliance":
                        await page.get_by_role("button", name="Run the review").click()
                        await page.locator("#review-rows tr").first.wait_for()
                        await page.get_by_role("button", name="Show the report").click()
                        await page.locator("#report-rows tr").first.wait_for()
                    elif name == "incidents":
                        await page.locator("#incident-rows tr button").first.click()
                        await page.locator("#incident-steps li").first.wait_for()
                    elif name == "security":
                        await page.locator("#security-charts figure").first.wait_for()
                    elif name != "live":
                        await page.locator("section:not([hidden]) tbody tr").first.wait_for()
                    await shoot(page, name, size)
                await page.locator("#tabs").get_by_role("button", name="Device admin").click()
                await page.locator("#devadmin-name").fill(f"new-cam-{size}")
                await page.locator("#devadmin-site").fill("gate")
                await page.locator("#devadmin-register").click()
                await page.locator("#devadmin-secret").wait_for()
                await shoot(page, "device-registered", size)
                await page.get_by_role("button", name="Sign out").click()
                await enrolment(page, size)
                await page.close()
    finally:
        server.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lensguard-shots-") as workdir:
        asyncio.run(run(Path(workdir)))


if __name__ == "__main__":
    main()
