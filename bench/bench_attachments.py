"""Incident evidence files: keeping and reading one, against the store's own write and read.

The baseline is the floor any design pays: the same bytes put durably in the same
local segment store (atomic rename, fsync) and read back. Keeping an attachment adds
the content check (``attachment_types.check``), the SHA-256, the chunked AES-256-GCM,
the row, the timeline entry and its audit entry in one transaction; reading one adds
the decryption and the digest check. A PNG-like binary file and a UTF-8 log (whose
check reads every character) at three sizes, baseline and attachment interleaved in
the same run, medians kept; SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path

from bench._setup import AUDIT_SECRET, on_both_backends
from lensguard.audit import AuditLog
from lensguard.incidents.attachment_types import check
from lensguard.incidents.attachments import Attachments, Upload
from lensguard.incidents.book import SHELL, IncidentBook
from lensguard.incidents.models import IncidentAttachment
from lensguard.keyring.fields import FieldKeys
from lensguard.monitor.publisher import EventPublisher
from lensguard.protect.subkeys import Purpose, derive
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.settings import RecordingSettings
from lensguard.recordings.store import LocalStore
from lensguard.recordings.vault import RecordingVault
from lensguard.severity import Severity
from lensguard.store.db import Database

SIZES = (64 * 1024, 1024 * 1024, 16 * 1024 * 1024)
ROUNDS = 5
AT = datetime(2026, 12, 7, tzinfo=UTC)


def files(size: int) -> dict[str, tuple[str, bytes]]:
    """A binary image and a text log of ``size`` bytes."""
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)
    line = b"2026-12-07T10:00:00Z sign-in refused for rover-7 from 203.0.113.9\n"
    log = (line * (size // len(line) + 1))[:size]
    return {"image": ("door.png", png), "log": ("auth.log", log)}


async def timed(job: Awaitable[object]) -> float:
    """Seconds ``job`` takes to finish."""
    started = time.perf_counter()
    await job
    return time.perf_counter() - started


async def keep(
    attachments: Attachments, incident_id: str, name: str, content: bytes
) -> IncidentAttachment:
    """What an upload does once the body is read: check, then keep."""
    kind = check(content, name, "")
    kept = await attachments.add(incident_id, Upload(name, kind, content), at=AT, actor=SHELL)
    return kept.row


async def bench_backend(backend: str, url: str) -> None:
    db = Database(url)
    audit = AuditLog.from_secret(AUDIT_SECRET)
    book = IncidentBook(db, audit, {})
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "recordings")
        vault = RecordingVault(
            db=db,
            store=store,
            ring=KeyRing.from_secret(AUDIT_SECRET),
            audit=audit,
            events=EventPublisher(),
            settings=RecordingSettings(),
        )
        attachments = Attachments(
            book, vault, FieldKeys(derive(AUDIT_SECRET, Purpose.WRAP)), per_incident=10_000
        )
        incident = await book.open(
            kind="unclassified", title="bench", severity=Severity.LOW, at=AT, actor=SHELL
        )
        print(f"{backend}: {ROUNDS} rounds each, medians")
        print(
            f"{'file':>14} {'store put':>10} {'keep':>8} {'ratio':>6} {'store get':>10} "
            f"{'read':>8} {'ratio':>6} {'keep MiB/s':>11}"
        )
        n = 0
        for size in SIZES:
            for label, (name, content) in files(size).items():
                put, kept, get, read = [], [], [], []
                for _ in range(ROUNDS):
                    n += 1
                    plain = f"plain-{n}"
                    put.append(await timed(store.put(plain, content)))
                    started = time.perf_counter()
                    row = await keep(attachments, incident.id, name, content)
                    kept.append(time.perf_counter() - started)
                    get.append(await timed(store.get(plain)))
                    read.append(await timed(attachments.read(row)))
                    await store.delete(plain)
                m = {
                    k: statistics.median(v)
                    for k, v in (("put", put), ("keep", kept), ("get", get), ("read", read))
                }
                rate = size / m["keep"] / 1_048_576
                print(
                    f"{label + ' ' + str(size // 1024) + ' KiB':>14} {m['put'] * 1000:>8.1f}ms "
                    f"{m['keep'] * 1000:>6.1f}ms {m['keep'] / m['put']:>5.2f}x "
                    f"{m['get'] * 1000:>8.1f}ms {m['read'] * 1000:>6.1f}ms "
                    f"{m['read'] / m['get']:>5.2f}x {rate:>11.1f}"
                )
    await db.dispose()


def main() -> None:
    on_both_backends(bench_backend)


if __name__ == "__main__":
    main()
