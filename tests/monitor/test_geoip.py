"""GeoIP enrichment against a tiny MaxMind database written by the test itself."""

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lensguard.app import create_app
from lensguard.errors import ConfigurationError
from lensguard.logs import configure_logging
from lensguard.monitor.geoip import GeoIP, locate
from tests.api.conftest import build_api

pytest.importorskip("maxminddb", reason="GeoIP is optional: pip install maxminddb")
mmdb_writer = pytest.importorskip("mmdb_writer", reason="writes the test database")
netaddr = pytest.importorskip("netaddr", reason="mmdb-writer's network type")

AMSTERDAM = {"country": {"iso_code": "NL"}, "city": {"names": {"en": "Amsterdam", "de": "X"}}}


@pytest.fixture
def city_db(tmp_path: Path) -> Path:
    writer = mmdb_writer.MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City"
    )
    writer.insert_network(netaddr.IPSet(["203.0.113.0/24"]), AMSTERDAM)
    writer.insert_network(netaddr.IPSet(["2001:db8:1::/48"]), {"country": {"iso_code": "DE"}})
    writer.insert_network(netaddr.IPSet(["198.51.100.0/24"]), {"city": "not a mapping"})
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def country_v4_db(tmp_path: Path) -> Path:
    writer = mmdb_writer.MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    writer.insert_network(netaddr.IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "NL"}})
    path = tmp_path / "country.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.9", {"country": "NL", "city": "Amsterdam"}),
        ("::ffff:203.0.113.9", {"country": "NL", "city": "Amsterdam"}),
        ("2001:db8:1::7", {"country": "DE"}),
        ("198.51.100.1", {}),
        ("192.0.2.1", {}),
        ("testclient", {}),
    ],
)
def test_lookup(city_db: Path, address: str, expected: dict[str, str]) -> None:
    geoip = GeoIP.open(city_db)
    try:
        assert geoip.lookup(address) == expected
        assert locate(geoip, address) == expected
    finally:
        geoip.close()


def test_ipv6_in_an_ipv4_only_database_finds_nothing(country_v4_db: Path) -> None:
    geoip = GeoIP.open(country_v4_db)
    try:
        assert geoip.lookup("203.0.113.9") == {"country": "NL"}
        assert geoip.lookup("2001:db8::1") == {}
    finally:
        geoip.close()


def test_locate_without_a_database_adds_nothing() -> None:
    assert locate(None, "203.0.113.9") == {}


def test_unreadable_database_stops_start_up(make_settings: Any, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a maxmind database")
    for path in (junk, tmp_path / "missing.mmdb"):
        settings = make_settings(security={"monitoring": {"geoip_database": str(path)}})
        with pytest.raises(ConfigurationError, match=r"GeoIP database .* cannot be read"):
            create_app(settings)


def test_missing_package_stops_start_up(city_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "maxminddb", None)  # what an uninstalled package looks like
    with pytest.raises(ConfigurationError, match="maxminddb package is not installed"):
        GeoIP.open(city_db)


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())


async def test_guard_events_carry_country_and_city(
    make_settings: Any, sqlite_url: str, city_db: Path, events: io.StringIO
) -> None:
    settings = make_settings(
        database={"url": sqlite_url}, security={"monitoring": {"geoip_database": str(city_db)}}
    )
    async for api in build_api(settings, address="203.0.113.9"):
        await api.http.get("/healthz?q=<script>")
        await api.app.state.services.blocklist.block("203.0.113.9", ttl=60, reason="x")
        await api.http.get("/healthz")
    records = [json.loads(line) for line in events.getvalue().splitlines() if line.startswith("{")]
    for name in ("guard.suspicious_request", "guard.blocked_request"):
        event = next(r for r in records if r["event"] == name)
        assert (event["country"], event["city"]) == ("NL", "Amsterdam"), name
