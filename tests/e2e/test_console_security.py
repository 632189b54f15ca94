"""The console's pages for security staff, in real Chromium: the audit log, the security
dashboard, incidents and compliance, seen by an admin and hidden from an operator.

One server and one browser for the module. The server trusts loopback as its proxy, so
the test's failed sign-ins come from the documentation addresses they name in
X-Forwarded-For, and the dashboard has sources to show and block. Every test fails on a
Content-Security-Policy violation in any page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import FilePayload, Page, expect

from tests.e2e.test_console_admin import admin_name, open_tab, sign_in, sign_in_admin
from tests.harness.server import start_server
from tests.harness.world import PASSWORD, World, auth, bootstrap_admin

pytestmark = pytest.mark.slow
GUESSER = "203.0.113.9"
OTHER = "203.0.113.10"
WRONG = "wrong horse battery"  # pragma: allowlist secret
STAFF_TABS = ["Policies", "Audit log", "Security", "Incidents", "Compliance"]


def fail_login(world: World, address: str) -> None:
    with world.http() as client:
        answer = client.post(
            "/api/v1/auth/login",
            json={"username": "root-guess", "password": WRONG},
            headers={"X-Forwarded-For": address},
        )
        assert answer.status_code == 401, answer.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("security"),
        {
            "server": {"host": "127.0.0.1", "trusted_proxies": ["127.0.0.0/8"]},
            "limits": {"requests_per_minute": 100_000},
            # The operator's refused calls below are three privileged attempts, which
            # the escalation rule answers by isolating the account: recorded, not done.
            "threats": {"responses": {"monitor_only": True}},
        },
    )
    try:
        world = World(server, bootstrap_admin(server))
        # Below the brute-force rule's five: these stay failures, not a detection.
        for _ in range(3):
            fail_login(world, GUESSER)
        fail_login(world, OTHER)
        yield world
    finally:
        server.stop()


def api_get(world: World, path: str) -> Any:
    with world.http() as client:
        answer = client.get(path, headers=auth(world.admin))
        answer.raise_for_status()
        return answer.json()


async def test_the_audit_log_filters_pages_and_verifies_the_chain(world: World, page: Page) -> None:
    await sign_in_admin(page, world)
    await open_tab(page, "Audit log")
    rows = page.locator("#audit-rows tr")
    await expect(rows.first).to_be_visible()
    await page.get_by_label("Action (exact, or a prefix ending in *)").fill("auth.login")
    await page.get_by_role("button", name="Show", exact=True).click()
    await expect(rows).to_have_count(
        len(api_get(world, "/api/v1/audit?action=auth.login")["items"])
    )
    actions = await page.locator("#audit-rows tr td:nth-child(5)").all_text_contents()
    assert set(actions) == {"auth.login"}
    refused = page.locator("#audit-rows tr.refused")
    await expect(refused).to_have_count(4)  # the four failed sign-ins, marked
    addresses = await refused.locator("td:nth-child(4)").all_text_contents()
    assert sorted(addresses) == sorted([GUESSER] * 3 + [OTHER])

    await page.get_by_role("button", name="Verify the chain").click()
    await expect(page.locator("#audit-verify-result")).to_contain_text("The chain is intact")

    # A filter the server refuses shows its reason, and the table stays as it was.
    await page.get_by_label("Action (exact, or a prefix ending in *)").fill("no spaces allowed")
    await page.get_by_role("button", name="Show", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("action")
    await expect(rows).to_have_count(len(actions))


async def test_the_dashboard_draws_the_figures_and_blocks_a_top_source(
    world: World, page: Page
) -> None:
    await sign_in_admin(page, world)
    await open_tab(page, "Security")
    figures = api_get(world, "/api/v1/security/dashboard?hours=24")
    tile = page.locator("#security-totals .tile.failed_logins .figure")
    await expect(tile).to_have_text(str(figures["totals"]["failed_logins"]))
    assert figures["totals"]["failed_logins"] >= 4
    await expect(page.locator("#security-charts figure")).to_have_count(5)
    chart = page.locator('figure[data-series="failed_logins"] svg')
    await expect(chart.locator("rect")).to_have_count(24)
    label = await chart.get_attribute("aria-label")
    assert label is not None and label.startswith(
        f"Failed sign-ins: {figures['totals']['failed_logins']}"
    )

    sources = page.locator("#security-sources tr")
    await expect(sources.first.locator("td").first).to_have_text(GUESSER)
    await page.get_by_role("button", name=f"Block {GUESSER} for an hour").click()
    await expect(page.get_by_role("alert")).to_contain_text(f"{GUESSER} is blocked")
    blocked = page.locator("#security-blocks tr")
    await expect(blocked).to_have_count(1)
    await expect(blocked.first.locator("td").first).to_have_text(GUESSER)
    await expect(page.get_by_role("button", name=f"Block {GUESSER} for an hour")).to_have_count(0)
    listed = api_get(world, "/api/v1/security/blocklist")
    assert [b["address"] for b in listed] == [GUESSER]

    await page.get_by_role("button", name=f"Unblock {GUESSER}").click()
    await expect(page.locator("#security-blocks-empty")).to_be_visible()
    assert api_get(world, "/api/v1/security/blocklist") == []


async def test_an_incident_is_owned_worked_through_its_playbook_and_moved(
    world: World, page: Page
) -> None:
    with world.http() as client:
        opened = client.post(
            "/api/v1/incidents",
            headers=auth(world.admin),
            json={
                "kind": "brute_force",
                "title": "guesses against root",
                "severity": "high",
                "address": OTHER,
            },
        )
        assert opened.status_code == 201, opened.text
        incident_id = opened.json()["id"]
    await sign_in_admin(page, world)
    await open_tab(page, "Incidents")
    await page.get_by_role("button", name="Open the incident guesses against root").click()
    await expect(page.locator("#incident-title")).to_have_text("guesses against root (high)")

    await page.get_by_role("button", name="Take ownership").click()
    await expect(page.locator("#incident-meta")).to_contain_text("owner: you")
    await page.get_by_role("button", name="Mark done: confirm").click()
    await expect(page.locator('#incident-steps li[data-step="confirm"] .step-status')).to_have_text(
        "Done"
    )
    # The next checklist step waited on "confirm": now it may be done.
    await expect(page.get_by_role("button", name="Mark done: accounts")).to_be_visible()
    await page.get_by_role("button", name="Run: block").click()
    await expect(page.locator('#incident-steps li[data-step="block"] .step-status')).to_have_text(
        "Done"
    )
    assert [b["address"] for b in api_get(world, "/api/v1/security/blocklist")] == [OTHER]

    await page.get_by_label("Move to").select_option("triaged")
    await page.get_by_label("Note").fill("confirmed from the audit log")
    await page.get_by_role("button", name="Move", exact=True).click()
    await expect(page.locator("#incident-meta")).to_contain_text("Triaged")
    await page.get_by_label("Comment", exact=True).fill("blocked the second address too")
    await page.get_by_role("button", name="Add comment").click()
    timeline = page.locator("#incident-timeline li")
    await expect(timeline.last).to_contain_text("blocked the second address too")

    read = api_get(world, f"/api/v1/incidents/{incident_id}")
    assert read["state"] == "triaged" and read["owner_id"] is not None
    kinds = [e["kind"] for e in api_get(world, f"/api/v1/incidents/{incident_id}/timeline")]
    assert kinds == ["opened", "owner", "step", "step", "state", "comment"]
    row = page.locator(f'#incident-rows tr[data-incident-id="{incident_id}"]')
    await expect(row.locator("td").nth(3)).to_have_text("Triaged")
    with world.http() as client:
        client.delete(f"/api/v1/security/blocklist/{OTHER}", headers=auth(world.admin))


async def test_evidence_files_are_added_listed_and_downloaded_and_a_program_is_refused(
    world: World, page: Page, tmp_path: Path
) -> None:
    with world.http() as client:
        opened = client.post(
            "/api/v1/incidents",
            headers=auth(world.admin),
            json={"kind": "unclassified", "title": "odd traffic at the gate", "severity": "medium"},
        )
        assert opened.status_code == 201, opened.text
        incident_id = opened.json()["id"]
    log = b"10:02 sign-in refused for gate-7 from 203.0.113.9\n" * 40
    await sign_in_admin(page, world)
    await open_tab(page, "Incidents")
    await page.get_by_role("button", name="Open the incident odd traffic at the gate").click()
    await expect(page.locator("#incident-files-empty")).to_be_visible()

    await page.set_input_files(
        "#incident-file",
        files=[FilePayload(name="gate auth.log", mimeType="text/x-log", buffer=log)],
    )
    await page.get_by_role("button", name="Add file").click()
    files = page.locator("#incident-files li")
    await expect(files).to_have_count(1)
    await expect(files.first).to_contain_text("gate auth.log")
    digest = hashlib.sha256(log).hexdigest()
    await expect(files.first).to_contain_text(digest)
    await expect(page.locator("#incident-timeline li").last).to_contain_text(
        f"Evidence file added by {admin_name(world)} (text/plain, SHA-256 {digest[:16]}"
    )
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download gate auth.log").click()
    download = await waiting.value
    assert download.suggested_filename == "gate_auth.log"
    saved = tmp_path / "saved.log"
    await download.save_as(saved)
    assert saved.read_bytes() == log

    program = b"\x7fELF\x02\x01\x01" + bytes(64)
    await page.set_input_files(
        "#incident-file", files=[FilePayload(name="dropper", mimeType="", buffer=program)]
    )
    await page.get_by_role("button", name="Add file").click()
    await expect(page.locator("#notice")).to_contain_text("an ELF executable")
    await expect(files).to_have_count(1)
    kept = api_get(world, f"/api/v1/incidents/{incident_id}/attachments")
    assert [a["name"] for a in kept] == ["gate auth.log"]
    downloads = api_get(world, "/api/v1/audit?action=incident.attachment_downloaded")["items"]
    assert [d["details"]["attachment_id"] for d in downloads] == [kept[0]["id"]]


async def test_compliance_runs_the_access_review_and_shows_a_report(
    world: World, page: Page
) -> None:
    world.user("casey", "operator")
    await sign_in_admin(page, world)
    await open_tab(page, "Compliance")
    await page.get_by_role("button", name="Run the review").click()
    await expect(page.locator("#review-summary")).to_contain_text("accounts")
    review_rows = page.locator("#review-rows tr")
    await expect(review_rows.filter(has_text="casey")).to_have_count(1)
    await expect(review_rows.filter(has_text=admin_name(world))).to_have_count(1)
    # Nobody is stale on a new server: there is nothing to disable.
    await expect(page.locator("#review-disable")).to_be_hidden()

    await page.get_by_label("Framework").select_option("gdpr")
    await page.get_by_role("button", name="Show the report").click()
    await expect(page.locator("#report-summary")).to_contain_text("GDPR")
    report = api_get(world, "/api/v1/compliance/reports/gdpr")
    await expect(page.locator("#report-rows tr")).to_have_count(len(report["controls"]))
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download printable page").click()
    download = await waiting.value
    assert download.suggested_filename.startswith("gdpr-report-")
    reviews = api_get(world, "/api/v1/audit?action=compliance.*")["items"]
    assert {"compliance.access_review", "compliance.report"} <= {r["action"] for r in reviews}


async def test_a_site_policy_is_a_floor_the_device_form_shows_in_effect(
    world: World, page: Page
) -> None:
    device_id, _ = world.device("yard-cam", "yard")
    await sign_in_admin(page, world)
    await open_tab(page, "Policies")
    await expect(page.locator("#policies-processors")).to_contain_text("pixelate_faces")
    site_form = page.get_by_role("form", name="Site policy")
    await site_form.get_by_label("Site", exact=True).select_option("yard")
    await expect(site_form).to_have_attribute("aria-busy", "false")
    await page.get_by_label("Redact faces for every device of the site").check()
    await page.locator("#site-policy-models").fill("motion_detect")
    await page.locator("#site-policy-mode").select_option("on_event")
    await page.get_by_role("button", name="Save site policy").click()
    await expect(page.get_by_role("alert")).to_contain_text("policy of site yard is saved")
    site = api_get(world, "/api/v1/sites/yard/policy")
    assert site["redact_faces"] is True and site["ai_models"] == ["motion_detect"]
    assert site["recording"]["mode"] == "on_event"

    stream_form = page.get_by_role("form", name="Device stream")
    await stream_form.get_by_label("Device", exact=True).select_option(device_id)
    await expect(stream_form).to_have_attribute("aria-busy", "false")
    effective = page.locator("#stream-effective")
    await expect(effective).to_contain_text("faces redacted (from the site)")
    await expect(effective).to_contain_text("recorded on event (from the site)")

    # A processor the server does not know is refused in its words; nothing changes.
    await page.locator("#stream-models").fill("no_such_model")
    await page.get_by_role("button", name="Save device settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("ai_models must be among")
    assert api_get(world, f"/api/v1/streams/{device_id}")["ai_models"] == []
    await page.locator("#stream-models").fill("grayscale")
    await page.get_by_role("button", name="Save device settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("stream settings are saved")
    stream = api_get(world, f"/api/v1/streams/{device_id}")
    assert stream["ai_models"] == ["grayscale"]
    assert stream["effective"]["redact_faces"] is True  # the site's floor holds


async def test_an_operator_sees_none_of_the_staff_pages(world: World, page: Page) -> None:
    token = world.user("otto", "operator")
    await sign_in(page, world.server.base_url, "otto", PASSWORD)
    await expect(page.locator("#console-view")).to_be_visible()
    tabs = page.locator("#tabs")
    await expect(tabs.get_by_role("button", name="Live", exact=True)).to_be_visible()
    for name in STAFF_TABS:
        await expect(tabs.get_by_role("button", name=name, exact=True)).to_be_hidden()
    # The server refuses the same calls: hiding the tabs only spares the buttons.
    paths = [
        "/api/v1/audit",
        "/api/v1/security/dashboard",
        "/api/v1/incidents",
        "/api/v1/compliance/access-review",
    ]
    with world.http() as client:
        statuses = [client.get(path, headers=auth(token)).status_code for path in paths]
    assert statuses == [403, 403, 403, 403]
