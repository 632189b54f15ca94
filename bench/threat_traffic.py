"""A labelled traffic set: days of ordinary use with attacks of every kind injected.

Ordinary use: operators and viewers at several sites in different time zones work their
hours (sign in, refresh, watch, play back and download recordings, the odd mistyped
password or refused page, the odd strange but harmless query), some travel by plane,
people behind one office address share it, devices publish all day and now and then
change address. Attacks: each kind the rules know, with its own sizes drawn at random,
hidden at random times among the rest. Events are in the published JSON schema
(docs/threats.md); the labels are kept beside them, never in them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

START = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
DAY = 86_400.0
MB = 1_000_000

# (city, country, latitude, longitude, UTC offset in hours)
SITES = [
    ("Berlin", "DE", 52.52, 13.40, 1),
    ("Lyon", "FR", 45.76, 4.84, 1),
    ("Boston", "US", 42.36, -71.06, -5),
    ("Osaka", "JP", 34.69, 135.50, 9),
]
FAR_AWAY = [("Sao Paulo", "BR", -23.55, -46.63), ("Sydney", "AU", -33.87, 151.21)]
ATTACK_KINDS = (
    "brute_force",
    "credential_stuffing",
    "distributed_brute_force",
    "ddos",
    "injection",
    "exfiltration",
    "off_hours_access",
    "privilege_escalation",
    "lateral_movement",
    "device_credential_shared",
    "token_reuse",
    "impossible_travel",
)


@dataclass
class Person:
    name: str
    site: int
    address: str
    viewer: bool
    start_hour: int


@dataclass
class Traffic:
    """Events (unsorted until ``sorted_events``), and for each attack its kind and ids."""

    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)
    attacks: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    night_owls: set[str] = field(default_factory=set)
    _serial: int = 0

    def add(self, name: str, at: float, attack: str | None = None, **fields: Any) -> str:
        self._serial += 1
        event_id = f"{self.rng.getrandbits(64):016x}{self._serial:07d}"
        severity = "medium" if "failed" in name or "denied" in name else "low"
        when = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
        self.events.append(
            {"id": event_id, "name": name, "severity": severity, "time": when, "fields": fields}
        )
        if attack is not None:
            self.attacks[attack][1].add(event_id)
        return event_id

    def attack(self, kind: str) -> str:
        label = f"{kind}-{len(self.attacks)}"
        self.attacks[label] = (kind, set())
        return label

    def sorted_events(self) -> list[dict[str, Any]]:
        return sorted(self.events, key=lambda e: e["time"])

    @property
    def attack_ids(self) -> set[str]:
        return set().union(*(ids for _, ids in self.attacks.values()))


def _address(rng: random.Random, block: int) -> str:
    nets = ("198.51.100", "203.0.113", "192.0.2")
    return f"{nets[block % 3]}.{rng.randrange(1, 255)}"


def _geo(site: int) -> dict[str, Any]:
    city, country, lat, lon, _ = SITES[site]
    return {"country": country, "city": city, "latitude": lat, "longitude": lon}


def people(rng: random.Random, count: int) -> list[Person]:
    offices = {s: _address(rng, s) for s in range(len(SITES))}
    found = []
    for n in range(count):
        site = n % len(SITES)
        shared = rng.random() < 0.4  # behind the office's one address
        address = offices[site] if shared else _address(rng, n)
        found.append(
            Person(f"user{n:03d}", site, address, rng.random() < 0.6, rng.choice((7, 8, 9, 10)))
        )
    return found


def _workday(t: Traffic, p: Person, day: int) -> None:
    rng = t.rng
    offset = SITES[p.site][4]
    begin = START + day * DAY + (p.start_hour - offset) * 3600 + rng.uniform(-1800, 1800)
    length = rng.uniform(6.5, 9.5) * 3600
    geo = _geo(p.site)
    if rng.random() < 0.08:  # a mistyped password or two first
        for k in range(rng.choice((1, 1, 2, 3))):
            t.add("auth.login_failed", begin - 60 + k * 15, username=p.name, client=p.address)
    t.add("auth.login_succeeded", begin, principal=p.name, client=p.address, **geo)
    at = begin
    while at < begin + length:
        at += rng.expovariate(1 / 40)  # a request every ~40 s
        t.add("http.request", at, principal=p.name, client=p.address, route="/api/v1/devices")
        roll = rng.random()
        if roll < 0.02:
            t.add("stream.view_start", at, principal=p.name, client=p.address, device_id="d1")
        elif roll < 0.03 and not p.viewer:
            size = rng.randint(2, 60) * MB
            t.add(
                "data.egress",
                at,
                principal=p.name,
                client=p.address,
                bytes=size,
                channel="recording_segment",
            )
        elif roll < 0.0305 and not p.viewer:
            t.add(
                "data.egress",
                at,
                principal=p.name,
                client=p.address,
                bytes=rng.randint(50, 400) * MB,
                channel="recording_download",
            )
        elif roll < 0.031:
            t.add(
                "access.denied",
                at,
                principal=p.name,
                client=p.address,
                action=rng.choice(("device_manage", "camera_control", "recording_export")),
                resource_kind="device",
                resource_id=f"d{rng.randrange(20)}",
            )
        elif roll < 0.033:
            t.add(
                "guard.suspicious_request",
                at,
                client=p.address,
                principal=p.name,
                score=rng.choice((10, 20, 30, 40)),
                path="/api/v1/search",
            )
    for r in range(int(length // 900)):
        t.add("auth.refreshed", begin + (r + 1) * 900, user_id=p.name, client=p.address, **geo)


def _flight(t: Traffic, p: Person, day: int) -> None:
    """A legitimate trip: sign in at home, fly 11-14 h, work at the far site for a day,
    fly back (the traveller misses two workdays at home)."""
    rng = t.rng
    at = START + day * DAY + rng.uniform(0, DAY / 2)
    t.add("auth.login_succeeded", at, principal=p.name, client=p.address, **_geo(p.site))
    other = (p.site + 2) % len(SITES)
    there = _address(rng, other)
    landed = at + rng.uniform(11, 14) * 3600
    for k in range(3):
        t.add(
            "auth.login_succeeded",
            landed + k * 4 * 3600,
            principal=p.name,
            client=there,
            **_geo(other),
        )
    home = landed + 8 * 3600 + rng.uniform(11, 14) * 3600
    t.add("auth.login_succeeded", home, principal=p.name, client=p.address, **_geo(p.site))


def _devices(t: Traffic, count: int, days: int) -> dict[str, str]:
    rng, homes = t.rng, {}
    for d in range(count):
        device, address = f"dev{d:03d}", _address(rng, d)
        homes[device] = address
        at = START
        while at < START + days * DAY:
            t.add("stream.publish", at, principal=device, device_id=device, client=address)
            at += rng.uniform(1800, 6 * 3600)  # reconnects
            if rng.random() < 0.05:  # a new lease: a new address from now on
                address = _address(rng, d + 1)
    return homes


def _burst(
    t: Traffic, label: str, at: float, count: int, spread: float, name: str, **fields: Any
) -> None:
    for k in range(count):
        t.add(name, at + spread * k / max(count, 1), attack=label, **fields)


def _inject(t: Traffic, kind: str, at: float, crowd: list[Person], homes: dict[str, str]) -> None:
    rng = t.rng
    label = t.attack(kind)
    victim = rng.choice(crowd)
    if kind == "off_hours_access":  # one night each: a second would be history already
        fresh = [p for p in crowd if p.name not in t.night_owls] or crowd
        victim = rng.choice(fresh)
        t.night_owls.add(victim.name)
    evil = f"203.0.113.{rng.randrange(200, 255)}"
    if kind == "brute_force":
        _burst(
            t,
            label,
            at,
            rng.randint(8, 200),
            rng.uniform(30, 500),
            "auth.login_failed",
            username=victim.name,
            client=evil,
        )
    elif kind == "credential_stuffing":
        for k in range(rng.randint(10, 300)):
            t.add(
                "auth.login_failed",
                at + k * rng.uniform(0.5, 3),
                attack=label,
                username=f"leaked{rng.randrange(10**6)}",
                client=evil,
            )
    elif kind == "distributed_brute_force":
        for k in range(rng.randint(8, 100)):
            t.add(
                "auth.login_failed",
                at + k * rng.uniform(2, 20),
                attack=label,
                username=victim.name,
                client=f"192.0.2.{k % 250 + 1}",
            )
    elif kind == "ddos":
        _burst(
            t,
            label,
            at,
            rng.randint(1500, 6000),
            60,
            "http.request",
            client=evil,
            route="unmatched",
        )
    elif kind == "injection":
        _burst(
            t,
            label,
            at,
            rng.randint(1, 5),
            rng.uniform(1, 60),
            "guard.suspicious_request",
            client=evil,
            score=rng.choice((60, 80, 100)),
            path="/api/v1/x/../../etc/passwd",
        )
    elif kind == "exfiltration":
        count = rng.randint(12, 40)
        _burst(
            t,
            label,
            at,
            count,
            rng.uniform(600, 3000),
            "data.egress",
            principal=victim.name,
            client=victim.address,
            bytes=100 * MB,
            channel="recording_download",
        )
    elif kind == "off_hours_access":
        offset = SITES[victim.site][4]
        night = START + (at - START) // DAY * DAY + (3 - offset) * 3600 % DAY
        t.add(
            "auth.login_succeeded",
            night,
            attack=label,
            principal=victim.name,
            client=evil,
            **_geo(victim.site),
        )
        _burst(
            t,
            label,
            night + 60,
            rng.randint(3, 10),
            600,
            "stream.view_start",
            principal=victim.name,
            client=evil,
            device_id="d1",
        )
    elif kind == "privilege_escalation":
        _burst(
            t,
            label,
            at,
            rng.randint(3, 12),
            rng.uniform(20, 300),
            "access.denied",
            principal=victim.name,
            client=victim.address,
            action=rng.choice(("user_management", "security_manage", "system_config")),
            resource_kind="user",
        )
    elif kind == "lateral_movement":
        for k in range(rng.randint(10, 40)):
            t.add(
                "access.denied",
                at + k * rng.uniform(2, 15),
                attack=label,
                principal=victim.name,
                client=victim.address,
                action="camera_view",
                resource_kind="device",
                resource_id=f"dev{k:03d}",
            )
    elif kind == "device_credential_shared":
        device = rng.choice(sorted(homes))
        t.add(
            "stream.publish",
            at,
            attack=label,
            principal=device,
            device_id=device,
            client=homes[device],
        )
        t.add(
            "stream.publish",
            at + rng.uniform(5, 90),
            attack=label,
            principal=device,
            device_id=device,
            client=evil,
        )
    elif kind == "token_reuse":
        t.add("auth.refresh_reuse_detected", at, attack=label, user_id=victim.name, client=evil)
    elif kind == "impossible_travel":
        t.add(
            "auth.login_succeeded",
            at,
            attack=label,
            principal=victim.name,
            client=victim.address,
            **_geo(victim.site),
        )
        city, country, lat, lon = rng.choice(FAR_AWAY)
        t.add(
            "auth.login_succeeded",
            at + rng.uniform(300, 3 * 3600),
            attack=label,
            principal=victim.name,
            client=evil,
            country=country,
            city=city,
            latitude=lat,
            longitude=lon,
        )


def generate(
    seed: int, *, days: int = 5, users: int = 48, devices: int = 24, per_kind: int = 20
) -> Traffic:
    """Ordinary use over ``days`` days, then ``per_kind`` attacks of every kind."""
    t = Traffic(random.Random(seed))
    crowd = people(t.rng, users)
    away: dict[str, int] = {}
    for day in range(days):
        weekend = (day % 7) >= 5
        for p in crowd:
            if not weekend and away.get(p.name, -1) < day and t.rng.random() < 0.9:
                _workday(t, p, day)
        if t.rng.random() < 0.5:
            traveller = t.rng.choice(crowd)
            if away.get(traveller.name, -1) < day:
                away[traveller.name] = day + 2
                _flight(t, traveller, day)
    homes = _devices(t, devices, days)
    for kind in ATTACK_KINDS:
        for _ in range(per_kind):
            # Off-hours needs the victim's history first: attacks come after day one.
            _inject(t, kind, START + t.rng.uniform(DAY * 1.5, days * DAY - 3600), crowd, homes)
    return t


def lines(events: list[dict[str, Any]]) -> Iterator[str]:
    import json

    for event in events:
        yield json.dumps(event, separators=(",", ":"))
