"""Where a webhook may point: SSRF checks on the URL and on every address it resolves to.

The check returns the addresses it approved; the sink then connects to one of those
(not to whatever a second DNS lookup says), which is what defeats DNS rebinding.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

import httpx

from lensguard.monitor.alerts.errors import UnresolvableDestination, UnsafeDestination

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Turns (host, port) into IP address strings; injectable so tests can play DNS."""

_SCHEMES = {"http": 80, "https": 443}
# Shapes inet_aton accepts besides dotted quads: "2130706433", "0x7f.1", "0177.0.0.1", "127.1".
_NUMERIC_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_destination(url: str | httpx.URL) -> httpx.URL:
    """``url`` parsed, if its scheme is http(s) and it carries no credentials."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeDestination(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in _SCHEMES:
        raise UnsafeDestination(f"scheme {parsed.scheme or '(none)'!r} is not http or https")
    if parsed.userinfo:
        raise UnsafeDestination("URLs with credentials in them are refused; use the secret")
    if not parsed.raw_host:
        raise UnsafeDestination("the URL has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UnsafeDestination(f"port {parsed.port} is out of range")
    return parsed


def port_of(url: httpx.URL) -> int:
    """The URL's port, or its scheme's default."""
    return url.port or _SCHEMES[url.scheme]


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one in any notation, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.match(host):
        # Decimal, octal, hex and shorthand forms mean an address to the C library,
        # so they must mean one here too, or "2130706433" would slip past as a name.
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as exc:
            raise UnsafeDestination(f"{host!r} is not a valid IPv4 address") from exc
    return None


def unsafe_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be a webhook destination, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            inner = unsafe_reason(ip.ipv4_mapped)
            return f"{inner} (IPv4-mapped)" if inner else None
        # 6to4, Teredo and NAT64 carry an IPv4 address a gateway may deliver to.
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        inner = unsafe_reason(embedded) if embedded is not None else None
        if inner is not None:
            return f"{inner} (embedded in IPv6)"
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.version == 4 and ip in _CGNAT, "carrier-grade NAT"),
        (any(ip in net for net in _PRIVATE if net.version == ip.version), "private"),
        (ip.is_reserved, "reserved"),
        # Catch-all for the rest of the special-purpose registries (TEST-NETs, 0/8, ...).
        (ip.is_private or not ip.is_global, "non-public"),
    )
    return next((reason for hit, reason in checks if hit), None)


async def check_destination(
    url: str | httpx.URL, *, allow_private: bool, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Every address ``url``'s host resolves to, after refusing the URL if any is unsafe.

    Raises ``UnsafeDestination`` naming the host, the address and why.
    """
    parsed = parse_destination(url)
    host = parsed.raw_host.decode("ascii")
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            answers = await (resolver or system_resolver)(host, port_of(parsed))
        except OSError as exc:
            raise UnresolvableDestination(f"cannot resolve {host!r}: {exc}") from exc
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
        except ValueError as exc:
            raise UnsafeDestination(f"{host!r} resolved to a non-address: {exc}") from exc
        if not addresses:
            raise UnresolvableDestination(f"{host!r} resolved to no address")
    if not allow_private:
        # Every answer must be safe: a client may pick any of them, and so may an attacker.
        for ip in addresses:
            reason = unsafe_reason(ip)
            if reason is not None:
                article = "an" if reason[0] in "aeiou" else "a"
                raise UnsafeDestination(
                    f"{host!r} resolves to {ip}, {article} {reason} address; "
                    "set allow_private to send alerts inside the network"
                )
    return addresses
