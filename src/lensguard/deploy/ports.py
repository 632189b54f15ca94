"""The inbound openings a lensguard host needs, one list for every firewall target."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from lensguard.deploy.options import DeployOptions, PortRange
from lensguard.settings import Settings

Protocol = Literal["tcp", "udp"]
TURN_PORT = 3478
TURNS_PORT = 5349


@dataclass(frozen=True)
class Opening:
    """Accept new inbound ``protocol`` traffic to ``ports``; ``why`` becomes a comment."""

    protocol: Protocol
    ports: PortRange
    why: str


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def turn_ports(settings: Settings) -> list[tuple[Protocol, int]]:
    """(protocol, port) of each ``turn:``/``turns:`` URL handed to clients."""
    found: list[tuple[Protocol, int]] = []
    for url in settings.turn.urls:
        scheme, _, rest = url.partition(":")
        parts = urlsplit(f"//{rest}")
        port = parts.port or (TURNS_PORT if scheme == "turns" else TURN_PORT)
        protocols: list[Protocol] = ["udp", "tcp"]  # turn: without a transport: both
        if scheme == "turns" or "transport=tcp" in parts.query:
            protocols = ["tcp"]
        elif "transport=udp" in parts.query:
            protocols = ["udp"]
        found += [(p, port) for p in protocols if (p, port) not in found]
    return found


def openings(settings: Settings, options: DeployOptions) -> list[Opening]:
    """Everything to let in, in a stable order; the rest of inbound traffic is dropped."""
    found: list[Opening] = []
    if options.ssh_port:
        found.append(Opening("tcp", PortRange(options.ssh_port, options.ssh_port), "ssh"))
    https = PortRange(options.https_port, options.https_port)
    found.append(Opening("tcp", https, "https and the signaling socket (nginx)"))
    if not _loopback(settings.server.host) and settings.server.port != options.https_port:
        direct = PortRange(settings.server.port, settings.server.port)
        found.append(Opening("tcp", direct, "lensguard server (server.host is not loopback)"))
    found.append(Opening("udp", options.media_ports, "WebRTC media to the relay (ICE)"))
    if settings.turn.enabled:
        for protocol, port in turn_ports(settings):
            found.append(Opening(protocol, PortRange(port, port), "TURN (coturn)"))
        found.append(Opening("udp", options.turn_relay_ports, "TURN relayed media (coturn)"))
    return found
