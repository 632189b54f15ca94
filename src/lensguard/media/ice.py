"""ICE for the relay and the agent: configured servers only, no checks to reserved addresses.

Given no configuration, aiortc asks a public STUN server (Google's), and it sends
connectivity checks to every address a remote SDP or trickled candidate names. A
viewer could thus make the server, or a device in direct mode, send packets to its
loopback, LAN or cloud metadata service. So every peer connection gets an explicit
server list (none by default), and remote candidates in the reserved ranges
(``media/addresses.py``, the list coturn is told to deny) are dropped before aiortc
sees them, unless explicitly allowed; loopback only in dev mode.

Host names are refused, mDNS ones (``<uuid>.local``, what browsers offer for their
host addresses) included: resolving them would be a multicast query on our LAN on a
remote party's behalf, for what is a private address anyway. Peers still connect:
when a candidate is dropped, ``a=end-of-candidates`` goes too, so the address the
peer's own checks arrive from (peer-reflexive, RFC 8445 7.3.1.3) stays usable. That
is an address the peer really sent from, not one it merely named.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiortc import RTCConfiguration, RTCIceServer, RTCSessionDescription

from lensguard.errors import ConfigurationError
from lensguard.logs import get_logger
from lensguard.media.addresses import (
    Network,
    is_loopback,
    is_reserved,
    networks,
    overlaps_loopback,
    within,
)
from lensguard.media.sdpcheck import check_remote_sdp

if TYPE_CHECKING:
    from lensguard.settings import Settings

log = get_logger("lensguard.media.ice")
CANDIDATE_PREFIX = "candidate:"
END_OF_CANDIDATES = "a=end-of-candidates"


@dataclass(frozen=True)
class RemoteAddresses:
    """Which addresses remote ICE candidates may name (we send checks to them)."""

    allowed: tuple[Network, ...] = ()
    """Blocks inside the reserved ranges that are accepted anyway (e.g. the LAN)."""
    loopback: bool = False

    def refusal(self, host: str) -> str | None:
        """Why a candidate naming ``host`` is refused, or None when it may be checked."""
        if host.lower().rstrip(".").endswith(".local"):
            return "mdns"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return "hostname"
        if within(address, self.allowed):
            return None
        if is_loopback(address):
            return None if self.loopback else "loopback"
        return "reserved" if is_reserved(address) else None

    def candidate_refusal(self, text: str) -> str | None:
        """``refusal`` for one candidate attribute (``candidate:…``, with or without the prefix)."""
        bits = text.removeprefix("a=").removeprefix(CANDIDATE_PREFIX).split()
        # foundation component transport priority address port "typ" type ...
        if len(bits) < 8 or bits[6].lower() != "typ":
            return "malformed"
        return self.refusal(bits[4])

    def filter_sdp(self, sdp: str) -> tuple[str, Counter[str]]:
        """``sdp`` without the candidates we refuse, and how many were dropped, by reason."""
        dropped: Counter[str] = Counter()
        kept: list[str] = []
        for line in sdp.splitlines(keepends=True):
            if line.startswith("a=" + CANDIDATE_PREFIX):
                reason = self.candidate_refusal(line.strip())
                if reason is not None:
                    dropped[reason] += 1
                    continue
            kept.append(line)
        if dropped:
            # Keep ICE waiting for the peer's own checks (peer-reflexive) instead of
            # failing at once when every named address was refused.
            kept = [line for line in kept if line.strip() != END_OF_CANDIDATES]
        return "".join(kept), dropped


@dataclass(frozen=True)
class IcePolicy:
    """The relay's ICE: its servers and the remote addresses it may check."""

    servers: tuple[str, ...] = ()
    remote: RemoteAddresses = field(default_factory=RemoteAddresses)

    @classmethod
    def from_settings(cls, settings: Settings) -> IcePolicy:
        """``media.ice``; refuses loopback in the allow list outside dev mode."""
        ice = settings.media.ice
        allowed = networks(ice.allow_remote_addresses)
        looping = [block for block in allowed if overlaps_loopback(block)]
        if looping and not settings.is_dev:
            raise ConfigurationError(
                "media.ice.allow_remote_addresses names loopback addresses, which remote "
                "ICE candidates may name in dev mode only: remove them"
            )
        remote = RemoteAddresses(allowed=allowed, loopback=settings.is_dev)
        return cls(servers=tuple(ice.servers), remote=remote)

    def configuration(self) -> RTCConfiguration:
        """An explicit aiortc configuration: an empty list means no server at all."""
        servers = [RTCIceServer(urls=list(self.servers))] if self.servers else []
        return RTCConfiguration(iceServers=servers)

    def remote_description(self, sdp: str, kind: str) -> RTCSessionDescription:
        """A remote offer or answer, checked (InvalidSdp) and without refused candidates."""
        return accept_remote(sdp, kind, self.remote)


def accept_remote(sdp: str, kind: str, remote: RemoteAddresses) -> RTCSessionDescription:
    """Check a remote SDP (raises InvalidSdp) and drop the candidates ``remote`` refuses."""
    check_remote_sdp(sdp)
    filtered, dropped = remote.filter_sdp(sdp)
    if dropped:
        log.info("ice.candidates_refused", description=kind, **dropped)
    return RTCSessionDescription(sdp=filtered, type=kind)
