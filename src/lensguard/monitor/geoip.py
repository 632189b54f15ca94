"""Optional GeoIP enrichment: country and city of a client address from a MaxMind database.

Enabled by ``security.monitoring.geoip_database`` (a GeoLite2/GeoIP2 City or Country
``.mmdb``). The ``maxminddb`` package is only needed when that is set, so it is
imported on demand.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from lensguard.errors import ConfigurationError
from lensguard.ip import parse_address


class _Reader(Protocol):
    def get(self, ip_address: str) -> Any: ...

    def close(self) -> None: ...


class GeoIP:
    """Looks addresses up in one open MaxMind database (memory-mapped, thread-safe reads)."""

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader

    @classmethod
    def open(cls, path: Path) -> GeoIP:
        """Open ``path``; ConfigurationError when the package or the file is missing or bad."""
        try:
            maxminddb = importlib.import_module("maxminddb")
        except ImportError as exc:
            raise ConfigurationError(
                "security.monitoring.geoip_database is set but the maxminddb package is "
                "not installed: pip install maxminddb"
            ) from exc
        try:
            reader: _Reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigurationError(
                f"GeoIP database {path} cannot be read: {type(exc).__name__}"
            ) from exc
        return cls(reader)

    def lookup(self, address: str) -> dict[str, str | float]:
        """``country`` (ISO code), ``city`` (English name), ``latitude`` and ``longitude``
        where the database knows them."""
        ip = parse_address(address)
        if ip is None:
            return {}
        try:
            record = self._reader.get(str(ip))
        except ValueError:
            return {}  # e.g. an IPv6 address in an IPv4-only database
        if not isinstance(record, Mapping):
            return {}
        found: dict[str, str | float] = {}
        country = _text(record, "country", "iso_code")
        if country is not None:
            found["country"] = country
        city = _text(record, "city", "names", "en")
        if city is not None:
            found["city"] = city
        location = record.get("location")
        if isinstance(location, Mapping):
            lat, lon = location.get("latitude"), location.get("longitude")
            if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
                found["latitude"], found["longitude"] = float(lat), float(lon)
        return found

    def close(self) -> None:
        """Release the database file."""
        self._reader.close()


def _text(record: Mapping[str, Any], *path: str) -> str | None:
    value: Any = record
    for step in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value if isinstance(value, str) else None


def locate(geoip: GeoIP | None, address: str) -> dict[str, Any]:
    """Event fields for ``address``: empty when GeoIP is off or knows nothing."""
    # Typed as event fields (Any), so they spread into ``emit`` beside its typed keywords.
    return {} if geoip is None else dict(geoip.lookup(address))
