"""Audit log: appends and verification with personal fields sealed vs in clear.

Both logs have the same chain, pseudonym and checkpoint keys; the sealed one also has
the wrap key, so each entry of an actor with an id looks up (or creates) the actor's
subject key under the head lock and seals the name and address with AES-256-GCM. The
clear one writes them as entries did before migration 0023. Slices of both are
interleaved in the same run and the medians kept; SQLite and PostgreSQL.

Then the personal values inside ``details`` (an address and a browser, migration 0026):
the sealing log against the same log with ``personal_details=()``, which seals the
name and address but keeps the details whole and in clear.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._setup import AUDIT_SECRET, fill_audit, on_both_backends, reset_audit
from bench.bench_audit import EVENT, REPEATS, verify_rate
from bench.bench_audit import paired as audit_paired
from lensguard.audit import AuditEvent, AuditLog
from lensguard.protect.subkeys import Purpose, derive
from lensguard.store.db import Database

SECRET = AUDIT_SECRET
BATCH = 100
ACTORS = 50
VERIFY_ENTRIES = 10_000


def logs() -> tuple[AuditLog, AuditLog]:
    """(sealing, clear): the same audit keys, the second without a wrap key."""
    sealed = AuditLog.from_secret(SECRET)
    clear = AuditLog(
        chain_key=derive(SECRET, Purpose.AUDIT_CHAIN),
        pseudonym_key=derive(SECRET, Purpose.AUDIT_PSEUDONYM),
        checkpoint_key=Ed25519PrivateKey.from_private_bytes(
            derive(SECRET, Purpose.AUDIT_CHECKPOINT)
        ),
    )
    return sealed, clear


def event(i: int, **details: object) -> AuditEvent:
    """``EVENT`` by one of ``ACTORS`` actors: their keys exist after the warm-up."""
    n = i % ACTORS
    return AuditEvent(
        action=EVENT.action,
        outcome=EVENT.outcome,
        actor_type="user",
        actor_id=f"{n:032x}",
        actor_name=f"user-{n:03d}",
        source_address=f"198.51.100.{n + 1}",
        resource_type=EVENT.resource_type,
        resource_id=EVENT.resource_id,
        details={**EVENT.details, **details},
    )


def personal_event(i: int) -> AuditEvent:
    """``event`` with personal values in its details, sealed by default."""
    return event(i, client_address=f"203.0.113.{i % 250 + 1}", user_agent="Firefox/140.0")


async def paired(
    label: str, sealed: Callable[[], Awaitable[int]], clear: Callable[[], Awaitable[int]]
) -> None:
    await audit_paired(label, sealed, clear, names=("sealed", "clear"), width=30)


async def bench_backend(name: str, url: str) -> None:
    db = Database(url)
    sealed_log, clear_log = logs()
    counter = iter(range(10**9))

    def appender(
        log: AuditLog, batch: int, make: Callable[[int], AuditEvent] = event
    ) -> Callable[[], Awaitable[int]]:
        async def append() -> int:
            async with db.transaction() as session:
                await log.append_many(session, [make(next(counter)) for _ in range(batch)])
            return batch

        return append

    try:
        print(name)
        await appender(sealed_log, ACTORS)()  # every actor's subject key exists from now on
        await paired("1 append per transaction", appender(sealed_log, 1), appender(clear_log, 1))
        await paired(
            f"append_many({BATCH})", appender(sealed_log, BATCH), appender(clear_log, BATCH)
        )
        await bench_verify(db, sealed_log, clear_log)
        whole = AuditLog.from_secret(SECRET, personal_details=())
        print(" personal details sealed vs in clear (both seal name and address)")
        await paired(
            f"append_many({BATCH})",
            appender(sealed_log, BATCH, personal_event),
            appender(whole, BATCH, personal_event),
        )
        await bench_verify(db, sealed_log, whole, personal_event)
    finally:
        await db.dispose()


async def fill(db: Database, log: AuditLog, make: Callable[[int], AuditEvent]) -> None:
    await reset_audit(db)
    await fill_audit(db, log, make, VERIFY_ENTRIES)


async def median_verify_rate(db: Database, log: AuditLog) -> float:
    return statistics.median([await verify_rate(db, log, VERIFY_ENTRIES) for _ in range(REPEATS)])


async def bench_verify(
    db: Database,
    sealed_log: AuditLog,
    clear_log: AuditLog,
    make: Callable[[int], AuditEvent] = event,
) -> None:
    await fill(db, sealed_log, make)
    sealed = await median_verify_rate(db, sealed_log)
    await fill(db, clear_log, make)
    clear = await median_verify_rate(db, clear_log)
    label = f"verify {VERIFY_ENTRIES:,} entries"
    ratio = sealed / clear
    print(f"  {label:<30} sealed {sealed:>9,.0f}/s   clear {clear:>9,.0f}/s   ratio {ratio:5.2f}x")


def main() -> None:
    on_both_backends(bench_backend)


if __name__ == "__main__":
    main()
