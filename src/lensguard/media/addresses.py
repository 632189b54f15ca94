"""Special-purpose IP ranges that no media peer may be steered towards.

One list for everything that sends packets where a remote party points it: the
coturn configuration denies them as relay peers (``lensguard turn config``) and the
relay and agent refuse remote ICE candidates in them (``media/ice.py``). Letting a
remote party aim our packets there would reach loopback services, the LAN and cloud
metadata endpoints (SSRF through media).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Every special-purpose range (IANA IPv4/IPv6 special registries).
RESERVED_RANGES = (
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # TEST-NET-1
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # TEST-NET-2
    "203.0.113.0/24",  # TEST-NET-3
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved
    "255.255.255.255/32",  # limited broadcast
    "::/128",  # unspecified
    "::1/128",  # loopback
    "::ffff:0:0/96",  # IPv4-mapped: would reach every IPv4 range above
    "64:ff9b::/96",  # NAT64 well-known prefix
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard-only
    "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4: embeds any IPv4 address, private ones included
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "fec0::/10",  # deprecated site-local
    "ff00::/8",  # multicast
)
LOOPBACK_RANGES = ("127.0.0.0/8", "::1/128")

RESERVED: tuple[Network, ...] = tuple(ipaddress.ip_network(cidr) for cidr in RESERVED_RANGES)
LOOPBACK: tuple[Network, ...] = tuple(ipaddress.ip_network(cidr) for cidr in LOOPBACK_RANGES)
_ANY_LOOPBACK = (*LOOPBACK, ipaddress.ip_network("::ffff:127.0.0.0/104"))


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDR blocks (a bare address is a /32 or /128); raises ValueError on a bad one."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=True) for cidr in cidrs)


def within(address: Address, blocks: Iterable[Network]) -> bool:
    """Whether ``address`` lies in one of ``blocks`` (IPv4-mapped IPv6 checked as IPv4 too)."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    for block in blocks:
        if address.version == block.version and address in block:
            return True
        if mapped is not None and block.version == 4 and mapped in block:
            return True
    return False


def is_reserved(address: Address) -> bool:
    """Whether ``address`` is in a special-purpose range."""
    return within(address, RESERVED)


def is_loopback(address: Address) -> bool:
    return within(address, LOOPBACK)


def overlaps_loopback(block: Network) -> bool:
    """Whether ``block`` holds any loopback address (IPv4-mapped ones included)."""
    return any(block.version == lo.version and block.overlaps(lo) for lo in _ANY_LOOPBACK)
