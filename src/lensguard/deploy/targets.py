"""The render targets, by name, with the line ``--help`` shows for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lensguard.deploy import container, fail2ban, kubernetes, nftables, nginx, systemd, ufw
from lensguard.deploy.options import DeployOptions
from lensguard.settings import Settings

Renderer = Callable[[Settings, DeployOptions], str]


@dataclass(frozen=True)
class Target:
    """One deployment file: what it is, where it usually goes, and its renderer."""

    summary: str
    install: str
    render: Renderer


TARGETS: dict[str, Target] = {
    "nginx": Target(
        "TLS 1.2+ termination, HSTS and the app's security headers, rate limits, "
        "WebSocket upgrade for the signaling socket",
        "/etc/nginx/nginx.conf",
        nginx.render,
    ),
    "nftables": Target(
        "inbound dropped except loopback, established flows, SSH, HTTPS, media and TURN",
        "/etc/nftables.d/lensguard.nft",
        nftables.render,
    ),
    "ufw": Target("the same openings as ufw commands", "a script run once as root", ufw.render),
    "fail2ban-filter": Target(
        "matches the server's failed sign-ins and blocked requests, extracts the address",
        "/etc/fail2ban/filter.d/lensguard.conf",
        fail2ban.render_filter,
    ),
    "fail2ban-jail": Target(
        "5 tries in 600 s ban the address for 3600 s on every port",
        "/etc/fail2ban/jail.d/lensguard.local",
        fail2ban.render_jail,
    ),
    "dockerfile": Target(
        "multi-stage image, non-root uid 10001, read-only root, health check",
        "Dockerfile at the root of a checkout",
        container.render,
    ),
    "kubernetes": Target(
        "restricted Pod Security, NetworkPolicy, no privilege escalation, limits",
        "kubectl apply -f FILE",
        kubernetes.render,
    ),
    "systemd": Target(
        "a sandboxed unit for `lensguard serve` (exposure 2.0 or less)",
        "/etc/systemd/system/lensguard.service",
        systemd.render,
    ),
}
# coturn's file holds the TURN secret, so the CLI renders it apart (mode 0600).
COTURN = "coturn"


def names() -> list[str]:
    """Every target the CLI accepts, sorted."""
    return sorted([*TARGETS, COTURN])
