"""Sign-in rules: brute force, credential stuffing, refresh-token reuse, impossible travel."""

from __future__ import annotations

import json
import math
from typing import ClassVar

from lensguard.threats.detector_settings import BruteForceRule, TokenRule
from lensguard.threats.observation import Observation
from lensguard.threats.rule import Finding, crossed, over
from lensguard.threats.windows import Windows

FAILED_SIGN_IN = frozenset({"auth.login_failed", "auth.mfa_failed"})
SIGNED_IN = frozenset({"auth.login_succeeded"})
"""Sign-ins only: a refresh comes from wherever a browser left open is, not the person."""
REUSED_REFRESH = "auth.refresh_reuse_detected"
EARTH_RADIUS_KM = 6371.0


class BruteForce:
    """Failed sign-ins: one address failing often (``brute_force``) or against many
    accounts (``credential_stuffing``); one account failing from many addresses
    (``distributed_brute_force``)."""

    name: ClassVar[str] = "brute_force"
    kinds: ClassVar[tuple[str, ...]] = (
        "brute_force",
        "credential_stuffing",
        "distributed_brute_force",
    )
    types: ClassVar[frozenset[str]] = FAILED_SIGN_IN

    def __init__(self, rule: BruteForceRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        rule, window, found = self.rule, float(self.rule.window_seconds), []
        address, account = event.address, event.account
        if address is not None:
            ids = await crossed(
                windows, f"bf:a:{address}", event, window=window, threshold=rule.failures
            )
            if ids is not None:
                score = over(len(ids), rule.failures)
                found.append(Finding("brute_force", score, address, None, ids))
            if account is not None:
                accounts = await windows.distinct(
                    f"bf:aa:{address}", account, event.at, window, rule.accounts
                )
                if accounts >= rule.accounts:
                    details = {"accounts": accounts}
                    found.append(
                        Finding("credential_stuffing", 0.9, address, None, (event.id,), details)
                    )
        if account is not None and address is not None:
            addresses = await windows.distinct(
                f"bf:ac:{account}", address, event.at, window, rule.addresses
            )
            if addresses >= rule.addresses:
                details = {"addresses": addresses}
                found.append(
                    Finding("distributed_brute_force", 0.8, None, account, (event.id,), details)
                )
        return found


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _place(event: Observation) -> tuple[float, float] | None:
    lat, lon = event.number("latitude"), event.number("longitude")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


class Tokens:
    """A refresh token used twice (``token_reuse``), and one account signing in from two
    places further apart than ``max_speed_kmh`` allows (``impossible_travel``).

    Places come from the GeoIP fields ``latitude``/``longitude`` (or ``country`` alone,
    which counts when it changes within ``country_change_seconds``).
    """

    name: ClassVar[str] = "tokens"
    kinds: ClassVar[tuple[str, ...]] = ("token_reuse", "impossible_travel")
    types: ClassVar[frozenset[str]] = SIGNED_IN | {REUSED_REFRESH}

    def __init__(self, rule: TokenRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        if event.type == REUSED_REFRESH:
            return [Finding("token_reuse", 0.95, event.address, event.account, (event.id,))]
        account = event.account
        if account is None:
            return []
        place, country = _place(event), event.text("country")
        if place is None and country is None:
            return []
        here = json.dumps([event.at, event.id, country, *(place or (None, None))])
        before = await windows.swap(f"tr:{account}", here, event.at, 86_400.0)
        if before is None:
            return []
        return self._judge(event, account, place, country, before)

    def _judge(
        self,
        event: Observation,
        account: str,
        place: tuple[float, float] | None,
        country: str | None,
        before: str,
    ) -> list[Finding]:
        at, event_id, old_country, lat, lon = json.loads(before)
        hours = max((event.at - float(at)) / 3600.0, 1e-6)
        ids = (str(event_id), event.id)
        if place is not None and lat is not None and lon is not None:
            km = distance_km(lat, lon, *place)
            speed = km / hours
            if km >= self.rule.min_distance_km and speed > self.rule.max_speed_kmh:
                score = over(speed, self.rule.max_speed_kmh)
                far = {"km": round(km), "kmh": round(speed)}
                return [Finding("impossible_travel", score, event.address, account, ids, far)]
            return []
        changed = country is not None and old_country and country != old_country
        if changed and hours * 3600 <= self.rule.country_change_seconds:
            moved = {"from": old_country, "to": country}
            return [Finding("impossible_travel", 0.6, event.address, account, ids, moved)]
        return []
