"""Chromium signs in through the provider's own page and reaches the live view.

The provider is ``oidc-provider-mock`` in its own process; the server is a real
process whose redirect URI is registered there exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from tests.e2e.test_browser import RECORD_PEERS, PublishingDevice, open_device, wait_for_frames
from tests.harness.oidc import MockProvider, mock_provider
from tests.harness.ports import free_port
from tests.harness.server import start_server
from tests.harness.world import ADMIN_PASSWORD, auth
from tests.signaling.conftest import World, bootstrap_admin

pytestmark = pytest.mark.slow


BROWSER_INIT_SCRIPTS = (RECORD_PEERS,)  # pages record their peer connections


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def mock(port: int) -> Iterator[MockProvider]:
    with mock_provider([f"https://127.0.0.1:{port}/api/v1/auth/oidc/mock/callback"]) as found:
        yield found


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, port: int, mock: MockProvider
) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("sso-console")
    secret = workdir / "mock.secret"
    secret.write_text(mock.client_secret)
    provider = {
        "name": "mock",
        "label": "Mock IdP",
        "issuer": mock.issuer,
        "client_id": mock.client_id,
        "client_secret_file": str(secret),
        "redirect_uri": f"https://127.0.0.1:{port}/api/v1/auth/oidc/mock/callback",
        "jit_provisioning": True,
        "rules": [{"claim": "groups", "value": "lg-operators", "role": "operator"}],
    }
    config = {
        "limits": {"requests_per_minute": 100_000},
        "security": {"oidc": {"providers": [provider]}},
    }
    server = start_server(workdir, config, port=port)
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


@pytest.fixture
async def device(world: World) -> AsyncIterator[PublishingDevice]:
    _, credential = world.device("sso-robot", "yard")
    robot = await PublishingDevice.start(world, credential)
    yield robot
    await robot.close()


async def test_sign_in_through_the_provider_page_reaches_the_live_view(
    world: World, browser: BrowserContext, mock: MockProvider, device: PublishingDevice
) -> None:
    async with httpx.AsyncClient() as http:
        claims = {"email": "olga@example.org", "email_verified": True, "groups": ["lg-operators"]}
        assert (await http.put(f"{mock.issuer}/users/olga", json=claims)).status_code == 204
    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(world.server.base_url + "/")
    await page.get_by_role("link", name="Sign in with Mock IdP").click()
    await page.locator("input[name=sub]").fill("olga")
    await page.get_by_role("button", name="Authorize").click()
    await expect(page.locator("#console-view")).to_be_visible()
    assert "sso_code" not in page.url  # taken out of the address bar
    await open_device(page, "sso-robot")
    await wait_for_frames(page, 5)
    await expect(page.locator("#viewer-status")).to_have_text("Live")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    await page.close()


async def test_an_admin_sees_and_unlinks_a_linked_identity_in_the_console(
    world: World, browser: BrowserContext, mock: MockProvider
) -> None:
    async with httpx.AsyncClient() as http:
        claims = {"email": "pia@example.org", "email_verified": True, "groups": ["lg-operators"]}
        assert (await http.put(f"{mock.issuer}/users/pia", json=claims)).status_code == 204
    person = await browser.new_page()
    await person.goto(world.server.base_url + "/")
    await person.get_by_role("link", name="Sign in with Mock IdP").click()
    await person.locator("input[name=sub]").fill("pia")
    await person.get_by_role("button", name="Authorize").click()
    await expect(person.locator("#console-view")).to_be_visible()
    await person.close()

    with world.http() as client:
        users = client.get("/api/v1/users", headers=auth(world.admin)).json()

        def subjects(user: dict[str, Any]) -> list[str]:
            path = f"/api/v1/users/{user['id']}/identities"
            found = client.get(path, headers=auth(world.admin)).json()
            return [link["subject"] for link in found["identities"]]

        pia = next(u for u in users if "pia" in subjects(u))  # made at sign-in (JIT)
    name = pia["username"]

    admin = await browser.new_page()
    await admin.goto(world.server.base_url + "/")
    await admin.locator("#login-username").fill("admin")
    await admin.locator("#login-password").fill(ADMIN_PASSWORD)
    await admin.locator("#login-submit").click()
    await expect(admin.locator("#console-view")).to_be_visible()
    await admin.locator("#tab-users").click()
    await admin.get_by_role("button", name=f"Sign-in identities of {name}").click()
    rows = admin.locator("#user-identity-rows")
    await expect(rows).to_contain_text("mock")
    await expect(rows).to_contain_text("pia")
    await expect(admin.locator("#user-identities-password")).to_contain_text("off")
    await admin.get_by_role("button", name="Unlink mock pia").click()
    await expect(admin.locator("#notice")).to_have_text(f"mock no longer signs in as {name}.")
    await expect(rows).to_contain_text("No provider identity is linked.")
    await admin.close()

    with world.http() as client:
        left = client.get(f"/api/v1/users/{pia['id']}/identities", headers=auth(world.admin))
    assert left.status_code == 200 and left.json()["identities"] == []
