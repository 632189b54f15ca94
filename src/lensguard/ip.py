"""Client addresses as IPs: parsing shared by the blocklist (guard) and GeoIP (monitor)."""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def unmap(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as plain IPv4; any other address unchanged."""
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; block and match them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> Address | None:
    """The client address as an IP, or None when it is not one (e.g. a test client)."""
    try:
        return unmap(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None
