"""Whether a device's connection carries that device's own, unrevoked certificate.

Checked wherever a device authenticates: each HTTPS request (``api.deps.authenticate``,
the token exchange included) and the signaling socket, there again whenever a
revocation names the device (``watch`` announces newly revoked certificates), so
revoking a certificate closes the device's open socket too, not only its next
handshake. The registry is the authority here, not the list a node has loaded: it
answers on every node at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lensguard.access.principal import Principal, PrincipalKind
from lensguard.pki import registry
from lensguard.pki.peer import PeerCertificate, peer_certificate
from lensguard.pki.settings import DeviceTLS
from lensguard.store.db import Database


class DeviceBinding:
    """The rule for one connection, from ``security.pki.device_tls`` and its certificate."""

    def __init__(self, db: Database, mode: DeviceTLS, peer: PeerCertificate | None) -> None:
        self.db, self.mode, self.peer = db, mode, peer

    @classmethod
    def of(cls, db: Database, mode: DeviceTLS, scope: Mapping[str, Any]) -> DeviceBinding:
        """The rule for the connection of an ASGI ``scope``."""
        return cls(db, mode, peer_certificate(scope) if mode is not DeviceTLS.OFF else None)

    async def refusal(self, principal: Principal) -> str | None:
        """Why ``principal`` may not use this connection, or None (only devices are bound)."""
        if self.mode is DeviceTLS.OFF or principal.kind is not PrincipalKind.DEVICE:
            return None
        if self.peer is None:
            if self.mode is DeviceTLS.REQUIRED:
                return "devices must present their client certificate (security.pki.device_tls)"
            return None
        if self.peer.device_id != principal.id:
            return "the client certificate names another device"
        if await registry.is_revoked(self.db, self.peer.serial):
            return "the client certificate is revoked"
        return None
