"""Who is on the other end: the client address, honouring proxies only when trusted."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse trusted-proxy entries (addresses or CIDR ranges); raises ValueError on junk."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(scope: Scope, trusted: tuple[Network, ...] = ()) -> str:
    """The caller's address.

    ``X-Forwarded-For`` is read right to left and only while each hop is a trusted
    proxy, so a client cannot choose its own address by sending the header itself.
    """
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    if not trusted or not _trusted(address, trusted):
        return address
    forwarded = Headers(scope=scope).get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address
        address = hop
        if not _trusted(hop, trusted):
            return hop
    return address
