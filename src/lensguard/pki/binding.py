"""Whether a device's signaling socket carries that device's own, unrevoked certificate.

Checked when the socket authenticates and again whenever a revocation names the device
(``watch`` announces newly revoked certificates), so revoking a certificate closes the
device's open socket too, not only its next handshake. The registry is the authority
here, not the list a node has loaded: it answers on every node at once.
"""

from __future__ import annotations

from lensguard.pki import registry
from lensguard.pki.peer import PeerCertificate
from lensguard.pki.settings import DeviceTLS
from lensguard.store.db import Database


class DeviceBinding:
    """The rule for one socket, from ``security.pki.device_tls`` and its peer certificate."""

    def __init__(self, db: Database, mode: DeviceTLS, peer: PeerCertificate | None) -> None:
        self.db, self.mode, self.peer = db, mode, peer

    async def refusal(self, device_id: str) -> str | None:
        """Why device ``device_id`` may not use this socket, or None when it may."""
        if self.mode is DeviceTLS.OFF:
            return None
        if self.peer is None:
            if self.mode is DeviceTLS.REQUIRED:
                return "devices must present their client certificate (security.pki.device_tls)"
            return None
        if self.peer.device_id != device_id:
            return "the client certificate names another device"
        if await registry.is_revoked(self.db, self.peer.serial):
            return "the client certificate is revoked"
        return None
