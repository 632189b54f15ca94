"""The console's admin pages and the production first run, in real Chromium.

One browser for the module (new pages per test), against a real server whose admin
and accounts are made as the other browser tests make them. The production first run
gets a server of its own (it needs its untouched first admin) that serves the module
server's certificate, so the same browser trusts both. Every test fails on a
Content-Security-Policy violation in any page.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from playwright.async_api import BrowserContext, Page, expect

from lensguard.identity import totp
from tests.harness.server import start_server
from tests.harness.world import ADMIN_PASSWORD, PASSWORD, World, auth, bootstrap_admin

pytestmark = pytest.mark.slow
NEW_ADMIN_PASSWORD = "fresh harbour lantern 9 tides"
ADMIN_TABS = ["Live", "Recordings", "Who watched what", "Users", "Device admin", "Sessions"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("admin"), {"limits": {"requests_per_minute": 100_000}}
    )
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


def admin_name(world: World) -> str:
    match = re.search(r"Username: (\S+)", world.server.output())
    assert match is not None
    return match.group(1)


async def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def sign_in_admin(page: Page, world: World) -> None:
    await sign_in(page, world.server.base_url, admin_name(world), ADMIN_PASSWORD)
    await expect(page.locator("#console-view")).to_be_visible()


async def open_tab(page: Page, name: str) -> None:
    await page.locator("#tabs").get_by_role("button", name=name, exact=True).click()


def alert(page: Page) -> Any:
    return page.get_by_role("alert")


def users(world: World) -> dict[str, dict[str, Any]]:
    with world.http() as client:
        listed = client.get("/api/v1/users?limit=200", headers=auth(world.admin))
        listed.raise_for_status()
        return {u["username"]: u for u in listed.json()}


async def clipboard(page: Page) -> str:
    text: str = await page.evaluate("navigator.clipboard.readText()")
    return text


async def test_production_first_run_changes_the_password_enrols_mfa_and_reaches_devices(
    world: World, browser: BrowserContext, tmp_path: Path
) -> None:
    assert world.server.cert_path is not None
    # The shipped production profile (production mode, MFA required for admins). The
    # module server's certificate and key are put where this server looks for its own,
    # so the module's browser trusts it too.
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    for name in ("tls-cert.pem", "tls-key.pem"):
        (var / name).write_bytes((world.server.var_dir / name).read_bytes())
    (var / "tls-key.pem").chmod(0o600)
    server = start_server(
        tmp_path, {"security": {"authentication": {"mfa_required_for": ["admin"]}}}
    )
    try:
        match = re.search(r"Username: (\S+)\s+one-time password: (\S+)", server.output())
        assert match is not None
        username, once = match.groups()
        await browser.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=server.base_url
        )
        page = await browser.new_page()
        await sign_in(page, server.base_url, username, once)
        await expect(page.locator("#password-view")).to_be_visible()
        for current, said in [
            ("not the one-time password", "current password is wrong"),
            (once, "Password changed."),
        ]:
            await page.get_by_label("Current password").fill(current)
            await page.get_by_label("New password (at least 12 characters)").fill(
                NEW_ADMIN_PASSWORD
            )
            await page.get_by_label("Repeat the new password").fill(NEW_ADMIN_PASSWORD)
            await page.get_by_role("button", name="Change password").click()
            await expect(alert(page)).to_contain_text(said)

        # Next the restriction the role carries: enrol an authenticator.
        await expect(page.locator("#mfa-view")).to_be_visible()
        await expect(page.locator("#tabs")).to_be_hidden()
        await page.get_by_label("Your password").fill("not my password at all")
        await page.get_by_role("button", name="Show the QR code").click()
        await expect(alert(page)).to_contain_text(re.compile("password", re.I))
        await page.get_by_label("Your password").fill(NEW_ADMIN_PASSWORD)
        async with page.expect_response("**/api/v1/auth/mfa/enrol") as answered:
            await page.get_by_role("button", name="Show the QR code").click()
        uri = (await (await answered.value).json())["otpauth_uri"]
        secret = parse_qs(urlparse(uri).query)["secret"][0]
        qr = page.get_by_role("img", name="QR code of your authenticator key")
        await expect(qr).to_be_visible()
        assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml;base64,")
        # The picture decodes (a broken image rejects): the CSP let the data: URI load.
        assert await qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 100
        await expect(page.locator("#mfa-secret")).to_have_text(secret)

        # A code the server must refuse: none of the steps its drift window accepts.
        wrong = next(
            c for c in ("000000", "111111", "222222") if totp.verify_code(secret, c) is None
        )
        await page.get_by_label("6-digit code from the app").fill(wrong)
        await page.get_by_role("button", name="Turn on two-factor authentication").click()
        await expect(alert(page)).to_contain_text(re.compile("code", re.I))
        await expect(page.locator("#mfa-done")).to_be_hidden()
        code = pyotp.TOTP(secret, digits=totp.DIGITS, interval=totp.STEP_SECONDS).now()
        assert totp.verify_code(secret, code) is not None  # the server's own check agrees
        await page.get_by_label("6-digit code from the app").fill(code)
        await page.get_by_role("button", name="Turn on two-factor authentication").click()
        await expect(alert(page)).to_contain_text("Two-factor authentication is on")

        codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        await expect(codes).to_have_count(10)
        shown = await codes.all_inner_texts()
        await page.get_by_role("button", name="Copy the codes").click()
        await expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert (await clipboard(page)).split("\n") == shown
        await expect(page.locator("#mfa-secret")).to_have_text("")

        await page.get_by_role("button", name="I have stored them: continue").click()
        await expect(page.locator("#console-view")).to_be_visible()
        await expect(page.locator("#devices-empty")).to_be_visible()
        await expect(page.locator("#mfa-codes li")).to_have_count(0)  # shown once
        for tab in ADMIN_TABS:
            await expect(page.locator("#tabs").get_by_role("button", name=tab)).to_be_visible()
        await page.close()

        # The account now needs a code, and its restrictions are gone.
        with server.client() as client:
            without = client.post(
                "/api/v1/auth/login", json={"username": username, "password": NEW_ADMIN_PASSWORD}
            )
            assert without.status_code == 401
    finally:
        server.stop()


async def test_a_viewer_turns_mfa_on_from_its_account_page(world: World, page: Page) -> None:
    world.user("mfa-wanda", "viewer")
    await sign_in(page, world.server.base_url, "mfa-wanda", PASSWORD)
    await expect(page.locator("#console-view")).to_be_visible()
    await open_tab(page, "Your account")
    await expect(page.locator("#account-role")).to_have_text("viewer")
    await expect(page.locator("#account-mfa")).to_have_text("Off")
    await page.get_by_role("button", name="Set up two-factor authentication").click()
    await expect(page.locator("#mfa-view")).to_be_visible()
    # Not required for this role: it may leave the step.
    await page.get_by_role("button", name="Not now").click()
    await expect(page.locator("#console-view")).to_be_visible()

    await open_tab(page, "Your account")
    await page.get_by_role("button", name="Set up two-factor authentication").click()
    await page.get_by_label("Your password").fill(PASSWORD)
    async with page.expect_response("**/api/v1/auth/mfa/enrol") as answered:
        await page.get_by_role("button", name="Show the QR code").dblclick()
    uri = (await (await answered.value).json())["otpauth_uri"]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    await expect(page.get_by_role("img", name="QR code of your authenticator key")).to_be_visible()
    code = pyotp.TOTP(secret, digits=totp.DIGITS, interval=totp.STEP_SECONDS).now()
    await page.get_by_label("6-digit code from the app").fill(code)
    await page.get_by_role("button", name="Turn on two-factor authentication").click()
    await expect(
        page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    ).to_have_count(10)
    await page.get_by_role("button", name="I have stored them: continue").click()
    await open_tab(page, "Your account")
    await expect(page.locator("#account-mfa")).to_have_text("On")
    await expect(page.get_by_role("button", name="Set up two-factor authentication")).to_be_hidden()
    with world.http() as client:
        without = client.post(
            "/api/v1/auth/login", json={"username": "mfa-wanda", "password": PASSWORD}
        )
        assert without.status_code == 401


async def test_admin_creates_disables_and_is_refused_escalation(world: World, page: Page) -> None:
    await sign_in_admin(page, world)
    for tab in ADMIN_TABS:
        await expect(page.locator("#tabs").get_by_role("button", name=tab)).to_be_visible()
    await open_tab(page, "Users")
    await expect(page.locator("#user-rows tr").first).to_be_visible()
    await expect(page.locator("#user-role")).to_contain_text("operator")

    await page.locator("#user-name").fill("op-ana")
    await page.locator("#user-password").fill(PASSWORD)
    await page.locator("#user-role").select_option("operator")
    await page.locator("#user-sites").fill("yard, dock")
    # A double click sends one request: the button is disabled while it is in flight.
    await page.get_by_role("button", name="Create account").dblclick()
    await expect(alert(page)).to_contain_text("Account op-ana created (operator)")
    ana = page.locator('#user-rows tr[data-username="op-ana"]')
    await expect(ana).to_contain_text("yard, dock")
    await expect(ana).to_contain_text("Active")
    assert set(users(world)["op-ana"]["sites"]) == {"yard", "dock"}

    # Again: the server's conflict, in its own words.
    await page.locator("#user-name").fill("op-ana")
    await page.locator("#user-password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(alert(page)).to_contain_text("Conflict")
    await expect(page.locator('#user-rows tr[data-username="op-ana"]')).to_have_count(1)

    # A role holding more than the admin (break-glass): refused, title and detail shown.
    await page.locator("#user-name").fill("would-be-investigator")
    await page.locator("#user-password").fill(PASSWORD)
    await page.locator("#user-role").select_option("investigator")
    await page.get_by_role("button", name="Create account").click()
    await expect(alert(page)).to_contain_text("Forbidden: ")
    assert "would-be-investigator" not in users(world)

    # A weak password: the policy's reason.
    await page.locator("#user-name").fill("op-weak")
    await page.locator("#user-password").fill("op-weak-op-weak")
    await page.locator("#user-role").select_option("viewer")
    await page.get_by_role("button", name="Create account").click()
    await expect(alert(page)).to_contain_text("Validation failed")
    assert "op-weak" not in users(world)

    await ana.get_by_role("button", name="Disable op-ana").click()
    await expect(ana).to_contain_text("Disabled")
    assert users(world)["op-ana"]["disabled"] is True
    await ana.get_by_role("button", name="Enable op-ana").click()
    await expect(ana).to_contain_text("Active")
    assert users(world)["op-ana"]["disabled"] is False
    # No button to disable oneself; one's own sign-in identities can still be listed.
    own = page.locator(f'#user-rows tr[data-username="{admin_name(world)}"]')
    await expect(own.get_by_role("button", name=re.compile("^(Disable|Enable)"))).to_have_count(0)
    await expect(own.get_by_role("button")).to_have_count(1)

    # Role and sites of an existing account, within the admin's own.
    await page.get_by_label("Account", exact=True).select_option(label="op-ana")
    await page.get_by_label("New role").select_option("viewer")
    await page.get_by_label("New sites (comma-separated; empty: keep)").fill("dock")
    await page.get_by_role("button", name="Save changes").click()
    await expect(alert(page)).to_contain_text("op-ana is now viewer on dock.")
    await expect(ana).to_contain_text("viewer")
    assert users(world)["op-ana"]["role"] == "viewer"
    assert users(world)["op-ana"]["sites"] == ["dock"]
    await page.get_by_label("New role").select_option("investigator")
    await page.get_by_role("button", name="Save changes").click()
    await expect(alert(page)).to_contain_text("Forbidden: ")
    assert users(world)["op-ana"]["role"] == "viewer"
    # Nor may an admin demote itself: the server's reason is shown.
    await page.get_by_label("Account", exact=True).select_option(label=admin_name(world))
    await page.get_by_label("New role").select_option("viewer")
    await page.get_by_role("button", name="Save changes").click()
    await expect(alert(page)).to_contain_text("cannot disable or demote your own account")


async def test_each_role_sees_only_the_pages_its_permissions_allow(
    world: World, page: Page
) -> None:
    world.user("tabs-viewer", "viewer")
    world.user("tabs-operator", "operator")
    seen = {
        "tabs-viewer": ["Live", "Sessions", "API keys", "Your account"],
        "tabs-operator": ["Live", "Recordings", "Sessions", "API keys", "Your account"],
    }
    every = {*ADMIN_TABS, "API keys", "Your account"}
    for name, tabs in seen.items():
        await sign_in(page, world.server.base_url, name, PASSWORD)
        await expect(page.locator("#console-view")).to_be_visible()
        for tab in tabs:
            await expect(page.locator("#tabs").get_by_role("button", name=tab)).to_be_visible()
        for tab in every - set(tabs):
            await expect(
                page.locator("#tabs").get_by_role("button", name=tab, exact=True)
            ).to_be_hidden()
        await open_tab(page, "Sessions")
        # Their own sessions only: no one else's are listed.
        await expect(page.locator("#sessions-scope")).to_contain_text("Your active sign-ins")
        await expect(page.locator("#session-rows tr").first).to_contain_text(name)
        for row in await page.locator("#session-rows tr td:first-child").all_inner_texts():
            assert row.startswith(name), row
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#login-view")).to_be_visible()
    # The server refuses what the hidden pages would do, whatever the page shows.
    token = world.user("tabs-viewer-2", "viewer")
    with world.http() as client:
        assert client.get("/api/v1/users", headers=auth(token)).status_code == 403
        assert (
            client.post(
                "/api/v1/devices",
                headers=auth(token),
                json={"name": "nope", "site": "yard", "kind": "camera"},
            ).status_code
            == 403
        )


async def test_admin_ends_another_users_session(world: World, page: Page) -> None:
    token = world.user("sess-olga", "operator")
    with world.http() as client:
        assert client.get("/api/v1/users/me", headers=auth(token)).status_code == 200
    await sign_in_admin(page, world)
    await open_tab(page, "Sessions")
    await expect(page.locator("#sessions-scope")).to_contain_text("every account you manage")
    olga = page.locator("#session-rows tr", has_text="sess-olga")
    await expect(olga).to_have_count(2)  # its first sign-in (password change) and the last
    await expect(page.locator("#session-rows tr", has_text="(this browser)")).to_have_count(1)
    for left in (1, 0):
        await olga.first.get_by_role("button").click()
        await expect(alert(page)).to_contain_text("Session of sess-olga ended.")
        await expect(olga).to_have_count(left)
    with world.http() as client:
        assert client.get("/api/v1/users/me", headers=auth(token)).status_code == 401

    # Ending this browser's own session signs it out.
    await page.locator("#session-rows tr", has_text="(this browser)").get_by_role("button").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(alert(page)).to_contain_text("You ended this session")


async def test_api_key_is_shown_once_with_a_copy_button_and_works(
    world: World, browser: BrowserContext, page: Page
) -> None:
    await browser.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=world.server.base_url
    )
    world.user("keys-vera", "viewer")
    await sign_in(page, world.server.base_url, "keys-vera", PASSWORD)
    await expect(page.locator("#console-view")).to_be_visible()
    await open_tab(page, "API keys")
    await page.locator("#apikey-name").fill("camera wall")
    await page.get_by_label("camera_view").check()
    await page.get_by_role("button", name="Create key").dblclick()
    await expect(alert(page)).to_contain_text("Key created")
    secret = page.locator("#apikey-value")
    await expect(secret).to_have_text(re.compile(r"^lg_"))
    key = await secret.inner_text()
    await page.get_by_role("button", name="Copy key").click()
    assert await clipboard(page) == key
    await expect(page.locator('#apikey-rows tr[data-key-name="camera wall"]')).to_have_count(1)
    with world.http() as client:
        assert client.get("/api/v1/devices", headers=auth(key)).status_code == 200
        listed = client.get("/api/v1/api-keys", headers=auth(key))
        assert key not in listed.text  # listed without the key itself

    await page.get_by_role("button", name="Done: hide the key").click()
    await expect(page.locator("#apikey-secret")).to_be_hidden()
    assert await secret.inner_text() == ""

    # No permissions ticked: the server's reason, not a silent failure.
    await page.locator("#apikey-name").fill("nothing")
    await page.get_by_role("button", name="Create key").click()
    await expect(alert(page)).to_contain_text("Validation failed")

    row = page.locator('#apikey-rows tr[data-key-name="camera wall"]')
    await row.get_by_role("button", name="Revoke camera wall").click()
    await expect(row).to_contain_text("Revoked")
    with world.http() as client:
        assert client.get("/api/v1/devices", headers=auth(key)).status_code == 401


async def test_device_registration_shows_the_credential_once_with_the_agent_command(
    world: World, browser: BrowserContext, page: Page
) -> None:
    await browser.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=world.server.base_url
    )
    await sign_in_admin(page, world)
    await open_tab(page, "Device admin")
    await page.locator("#devadmin-name").fill("gate-cam")
    await page.locator("#devadmin-site").fill("gate")
    await page.get_by_label("Kind").select_option("camera")
    await page.get_by_role("button", name="Register device").dblclick()
    await expect(alert(page)).to_contain_text("Device gate-cam registered")
    credential = await page.locator("#devadmin-credential").inner_text()
    assert credential.startswith("lg_")
    command = await page.locator("#devadmin-command").inner_text()
    assert command.startswith(f"lensguard agent --server {world.server.base_url} ")
    assert "--ca-file " in command and "--credential-file " in command
    assert credential not in command
    await page.get_by_role("button", name="Copy command").click()
    assert await clipboard(page) == command
    await page.get_by_role("button", name="Copy credential").click()
    assert await clipboard(page) == credential
    rows = page.locator('#devadmin-rows tr[data-device-name="gate-cam"]')
    await expect(rows).to_have_count(1)  # the double click registered one device

    def device_token(bearer: str) -> int:
        with world.http() as client:
            return client.post("/api/v1/auth/device-token", headers=auth(bearer)).status_code

    assert device_token(credential) == 200

    # The same name again: the server's conflict.
    await page.locator("#devadmin-name").fill("gate-cam")
    await page.locator("#devadmin-site").fill("gate")
    await page.get_by_role("button", name="Register device").click()
    await expect(alert(page)).to_contain_text("Conflict")

    await rows.get_by_role("button", name="Rotate the credential of gate-cam").click()
    await expect(alert(page)).to_contain_text("the old one stopped working")
    rotated = page.locator("#devadmin-credential")
    await expect(rotated).not_to_have_text(credential)
    fresh = await rotated.inner_text()
    assert device_token(fresh) == 200
    assert device_token(credential) == 401

    await page.get_by_role("button", name="Done: hide the credential").click()
    await expect(page.locator("#devadmin-secret")).to_be_hidden()
    assert await rotated.inner_text() == ""


async def test_an_expired_session_returns_to_sign_in_and_back_to_the_page(
    world: World, page: Page
) -> None:
    await sign_in_admin(page, world)
    await open_tab(page, "Users")
    await expect(page.locator("#user-rows tr").first).to_be_visible()
    # The session ends elsewhere (another admin, a password change, expiry).
    with world.http() as client:
        listed = client.get("/api/v1/sessions?all_users=true", headers=auth(world.admin))
        me = client.get("/api/v1/users/me", headers=auth(world.admin)).json()
        mine = [s for s in listed.json() if s["user_id"] == me["id"] and not s["current"]]
        for login in mine:
            client.delete(f"/api/v1/sessions/{login['id']}", headers=auth(world.admin))
    await page.locator("#user-name").fill("after-expiry")
    await page.locator("#user-password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(alert(page)).to_have_text("Your session has ended. Sign in again.")
    assert "after-expiry" not in users(world)
    await page.locator("#login-username").fill(admin_name(world))
    await page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#users-view")).to_be_visible()
    await expect(page.locator("#user-rows tr").first).to_be_visible()


def test_served_pages_are_only_the_allowlisted_modules(world: World) -> None:
    with world.http() as client:
        for name in ("pages/users.js", "pages/live.js", "router.js", "core.js", "enrol.js"):
            response = client.get(f"/static/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith("text/javascript")
        assert client.get("/static/pages/nope.js").status_code == 404
