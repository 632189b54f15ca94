"""Each rule: the attack it names is detected; ordinary use next to it is not."""

from __future__ import annotations

from lensguard.threats.detection import Detection
from lensguard.threats.engine import ThreatEngine
from lensguard.threats.observation import Observation
from lensguard.threats.windows import Windows
from tests.threats.events import event

EVIL = "203.0.113.7"
HOME = "198.51.100.20"


class Feed:
    """One engine over the test's windows; each call feeds more events in time order."""

    def __init__(self, windows: Windows) -> None:
        self.engine = ThreatEngine(windows)

    async def __call__(self, events: list[Observation]) -> list[Detection]:
        found: list[Detection] = []
        for item in events:
            found.extend(await self.engine.observe(item))
        return found


def kinds(found: list[Detection]) -> list[str]:
    return [d.kind for d in found]


async def test_brute_force_is_five_failures_from_one_address(windows: Windows) -> None:
    failures = [event("auth.login_failed", n * 10, username="ada", client=EVIL) for n in range(8)]
    found = await Feed(windows)(failures)
    assert kinds(found) == ["brute_force"]  # once: the cooldown holds the rest
    (hit,) = found
    assert hit.address == EVIL and hit.response == "block_ip"
    assert set(hit.event_ids) == {e.id for e in failures[:5]}


async def test_four_typos_are_not_brute_force(windows: Windows) -> None:
    typos = [event("auth.login_failed", n * 30, username="ada", client=HOME) for n in range(4)]
    later = [event("auth.login_failed", 700 + n, username="ada", client=HOME) for n in range(4)]
    assert await Feed(windows)(typos + later) == []  # the first four slid out of the window


async def test_credential_stuffing_is_one_address_against_many_accounts(
    windows: Windows,
) -> None:
    feed = Feed(windows)
    tries = [event("auth.login_failed", n, username=f"user{n}", client=EVIL) for n in range(4)]
    assert await feed(tries) == []
    found = await feed([event("auth.login_failed", 5, username="user9", client=EVIL)])
    assert "credential_stuffing" in kinds(found)


async def test_distributed_brute_force_is_one_account_from_many_addresses(
    windows: Windows,
) -> None:
    tries = [
        event("auth.login_failed", n * 20, username="ada", client=f"192.0.2.{n + 1}")
        for n in range(5)
    ]
    found = await Feed(windows)(tries)
    assert kinds(found) == ["distributed_brute_force"]
    assert found[0].principal == "ada" and found[0].address is None


async def test_a_request_flood_from_one_address_is_ddos(windows: Windows) -> None:
    flood = [event("http.request", n * 0.05, client=EVIL) for n in range(1_000)]
    calm = [event("http.request", n * 0.5, client=HOME) for n in range(100)]
    found = await Feed(windows)(calm + flood)
    assert kinds(found) == ["ddos"]
    assert found[0].address == EVIL and found[0].details["scope"] == "address"


async def test_injection_needs_a_score_at_the_threshold(windows: Windows) -> None:
    mild = event("guard.suspicious_request", 0, client=HOME, score=40, path="/a")
    bad = event("guard.suspicious_request", 1, client=EVIL, score=80, path="/../etc/passwd")
    found = await Feed(windows)([mild, bad])
    assert kinds(found) == ["injection"]
    assert found[0].event_ids == (bad.id,) and found[0].response == "block_request"


async def test_exfiltration_is_bytes_per_principal_per_hour(windows: Windows) -> None:
    feed = Feed(windows)
    some = [
        event("data.egress", n * 60, principal="ada", bytes=100_000_000, client=HOME)
        for n in range(9)
    ]
    assert await feed(some) == []
    found = await feed([event("data.egress", 600, principal="ada", bytes=200_000_000)])
    assert kinds(found) == ["exfiltration"] and found[0].principal == "ada"


async def test_off_hours_access_needs_a_history_and_an_unusual_hour(windows: Windows) -> None:
    # Thirty days of 9:00-17:00 UTC use, then one access at 3:00.
    history = [
        event("http.request", day * 86_400 + 3_600 + n * 120, principal="ada")
        for day in range(3)
        for n in range(120)
    ]
    usual = event("http.request", 3 * 86_400 + 7_200, principal="ada")
    night = event("stream.view_start", 3 * 86_400 + 68_400, principal="ada", device_id="d1")
    found = await Feed(windows)([*history, usual, night])
    assert kinds(found) == ["off_hours_access"]
    assert found[0].event_ids == (night.id,)


async def test_privilege_escalation_is_three_refused_privileged_actions(
    windows: Windows,
) -> None:
    ordinary = event("access.denied", 0, principal="bob", action="camera_view")
    tries = [
        event("access.denied", 10 + n, principal="bob", action="user_management") for n in range(3)
    ]
    found = await Feed(windows)([ordinary, *tries])
    assert kinds(found) == ["privilege_escalation"]
    assert found[0].response == "isolate_account" and found[0].severity.value == "critical"


async def test_lateral_movement_is_refusals_across_many_resources(windows: Windows) -> None:
    same = [
        event("access.denied", n, principal="eve", action="camera_view", resource_id="d1")
        for n in range(20)
    ]
    feed = Feed(windows)
    assert await feed(same) == []
    spread = [
        event("access.denied", 20 + n, principal="eve", action="camera_view", resource_id=f"d{n}")
        for n in range(2, 9)
    ]
    assert kinds(await feed(spread)) == ["lateral_movement"]


async def test_a_device_credential_from_two_addresses_at_once(windows: Windows) -> None:
    home = event("stream.publish", 0, principal="dev1", device_id="dev1", client=HOME)
    moved = event("stream.publish", 3_600, principal="dev1", device_id="dev1", client=EVIL)
    feed = Feed(windows)
    assert await feed([home, moved]) == []  # a new lease an hour later
    clone = event("stream.publish", 3_630, principal="dev1", device_id="dev1", client=HOME)
    found = await feed([clone])
    assert kinds(found) == ["device_credential_shared"]


async def test_refresh_token_reuse_is_reported_at_once(windows: Windows) -> None:
    found = await Feed(windows)([event("auth.refresh_reuse_detected", 0, user_id="ada")])
    assert kinds(found) == ["token_reuse"] and found[0].response == "step_up_mfa"


async def test_impossible_travel_compares_speed_with_distance(windows: Windows) -> None:
    berlin = {"latitude": 52.52, "longitude": 13.40, "country": "DE"}
    boston = {"latitude": 42.36, "longitude": -71.06, "country": "US"}
    lyon = {"latitude": 45.76, "longitude": 4.84, "country": "FR"}
    flight = [
        event("auth.login_succeeded", 0, principal="ada", **berlin),
        event("auth.login_succeeded", 11 * 3_600, principal="ada", **boston),
    ]
    feed = Feed(windows)
    assert await feed(flight) == []
    jump = event("auth.login_succeeded", 12 * 3_600, principal="ada", **lyon)
    found = await feed([jump])
    assert kinds(found) == ["impossible_travel"]
    assert found[0].details["km"] > 5_000


async def test_a_country_change_alone_counts_within_half_an_hour(windows: Windows) -> None:
    first = event("auth.login_succeeded", 0, principal="ada", country="DE")
    second = event("auth.login_succeeded", 600, principal="ada", country="BR")
    found = await Feed(windows)([first, second])
    assert kinds(found) == ["impossible_travel"]
    assert set(found[0].event_ids) == {first.id, second.id}
