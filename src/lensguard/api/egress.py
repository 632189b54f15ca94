"""``egress``: the ``data.egress`` security event of bytes handed to a principal.

Recordings, evidence bundles and audit pages raise it as they are sent; the
exfiltration rule sums it per principal (docs/threats.md).
"""

from __future__ import annotations

from typing import Any

from lensguard.access.principal import Principal
from lensguard.monitor.events import emit

EGRESS = "data.egress"


def egress(principal: Principal, address: str, size: int, channel: str, **fields: Any) -> None:
    """Report ``size`` bytes of ``channel`` sent to ``principal`` at ``address``."""
    emit(EGRESS, principal=principal.id, address=address, bytes=size, channel=channel, **fields)
