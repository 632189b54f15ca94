"""What a deployment file needs beyond the settings: host facts the server never reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lensguard.errors import ConfigurationError

# Linux's default net.ipv4.ip_local_port_range: the relay's ICE sockets (aioice) bind
# ephemeral ports, so media arrives on this range unless the host narrows it.
MEDIA_PORTS = (32768, 60999)
# coturn's default relay range (min-port/max-port).
TURN_RELAY_PORTS = (49152, 65535)


@dataclass(frozen=True)
class PortRange:
    """An inclusive range of ports, one port when ``first == last``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last <= 65535:
            raise ConfigurationError(f"{self.first}-{self.last} is not a port range (1-65535)")

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """``"49152-65535"`` or ``"3478"``."""
        first, _, last = text.strip().partition("-")
        try:
            return cls(int(first), int(last or first))
        except ValueError:
            raise ConfigurationError(f"{text!r} is not a port or a FIRST-LAST range") from None

    def nft(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    def ufw(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}:{self.last}"


@dataclass(frozen=True)
class DeployOptions:
    """Host facts for the rendered files; every field has a default that suits Debian."""

    server_name: str = "_"
    """nginx ``server_name`` (the public DNS name)."""
    https_port: int = 443
    """Where nginx listens for browsers, devices and the signaling socket."""
    ssh_port: int = 22
    """Kept open by the firewalls so an operator is not locked out; 0 leaves it closed."""
    media_ports: PortRange = PortRange(*MEDIA_PORTS)
    turn_relay_ports: PortRange = PortRange(*TURN_RELAY_PORTS)
    executable: Path = Path("/usr/local/bin/lensguard")
    config_file: Path | None = None
    user: str = "lensguard"
    """System account the unit runs as; ``dynamic`` asks systemd for a DynamicUser."""
    log_file: Path | None = None
    """fail2ban reads this file; unset: the systemd journal of ``lensguard.service``."""
    image: str = "registry.example.org/lensguard:1.0.0"
    """kubernetes: the image the Deployment runs (built from `deploy render dockerfile`)."""
