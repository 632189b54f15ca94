"""The tamper-evident audit log: hash-chained entries, signed checkpoints, verification."""

from lensguard.audit.checkpoint import (
    Checkpoint,
    export_checkpoint,
    parse_checkpoint,
    verify_checkpoint_signature,
)
from lensguard.audit.entry import AuditEvent, AuditRow
from lensguard.audit.log import AuditLog
from lensguard.audit.query import latest_checkpoint, query
from lensguard.audit.text import printable
from lensguard.audit.verify import VerifyReport, verify

__all__ = [
    "AuditEvent",
    "AuditLog",
    "AuditRow",
    "Checkpoint",
    "VerifyReport",
    "export_checkpoint",
    "latest_checkpoint",
    "parse_checkpoint",
    "printable",
    "query",
    "verify",
    "verify_checkpoint_signature",
]
