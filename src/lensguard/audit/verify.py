"""Verify the audit chain: stream entries in order and report the first broken one.

The head row is read first, together with the highest stored sequence numbers, and
the walk stops there: entries appended meanwhile are not judged half-seen. The next
batch is read while the current one is hashed. After retention pruned the start of the
log, the walk starts from the newest signed anchor (``anchors.py``): entries at or
before it are not read, the first one after it must link to its hash.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lensguard.audit import chain
from lensguard.audit.anchors import newest_anchor, verify_anchor_signature
from lensguard.audit.checkpoint import Checkpoint, parse_checkpoint, verify_checkpoint_signature
from lensguard.audit.models import GENESIS_HASH
from lensguard.audit.reader import Batch, Snapshot, read_batch, read_snapshot
from lensguard.audit.seal import DETAILS_COLUMN, Opener
from lensguard.store.db import Database

ERASURE_ACTION = "gdpr.erasure"
MAX_EXTENSIONS = 3
MAX_REMEMBERED_REFS = 65_536


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification: ``first_broken_seq`` and ``reason`` when not ok."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    erased: int = 0
    """Entries checked that are erased (their personal fields blanked or shredded)."""
    anchor_seq: int | None = None
    """Set when the walk started from a retention anchor: entries up to it were pruned."""
    anchor_ts: datetime | None = None
    """When that anchor was signed."""


class _Broken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(seq, reason)
        self.seq = seq
        self.reason = reason


class _Walk:
    """The verifier's state while it walks the chain."""

    def __init__(
        self,
        *,
        chain_key: bytes,
        pseudonym_key: bytes | None,
        public_key: Ed25519PublicKey,
        external: Checkpoint | None,
        progress: Callable[[int, int], None] | None,
        batch: int,
        upto: int | None = None,
        opener: Opener | None = None,
    ) -> None:
        self.chain_key = chain_key
        self.opener = opener
        self.erased = 0
        self.pseudonym_key = pseudonym_key
        self.public_key = public_key
        self.external = external
        self.progress = progress
        self.batch = batch
        self.upto = upto
        self.anchor: Checkpoint | None = None
        self.checked = 0
        self.prev_seq = 0
        self.prev_hash = GENESIS_HASH
        # actor_ref -> first erased entry not yet covered by a later gdpr.erasure entry
        self.pending: dict[str, int] = {}
        # details_ref -> first entry whose sealed details were erased, likewise
        self.pending_details: dict[str, int] = {}
        self.refs: dict[tuple[str, str | None], str | None] = {}

    async def run(self, db: Database) -> None:
        await self.start_at_anchor(db)
        snap = self.past_anchor(await read_snapshot(db))
        if self.upto is not None:
            # A range before pruning: what comes after it (erasures, the head) is not judged.
            end = min(self.upto, snap.max_seq)
            await self.scan(db, end, total=end - self.prev_seq)
            return
        for _ in range(MAX_EXTENSIONS + 1):
            end = snap.max_seq if snap.last_seq is None else min(snap.last_seq, snap.max_seq)
            await self.scan(db, end, total=end - (self.anchor.seq if self.anchor else 0))
            problems = self.head_problems(snap)
            if problems or not (self.pending or self.pending_details):
                break
            # An erasure that committed after the snapshot names its actor beyond it.
            newer = await read_snapshot(db)
            if (newer.last_seq or 0) <= (snap.last_seq or 0):
                break
            snap = self.past_anchor(newer)
        problems += [
            (seq, f"entry {seq} is marked erased but no later gdpr.erasure entry names its actor")
            for seq in self.pending.values()
        ]
        problems += [
            (seq, f"entry {seq} has erased details but no later gdpr.erasure entry names them")
            for seq in self.pending_details.values()
        ]
        problems += self.external_problems()
        if problems:
            raise _Broken(*min(problems, key=lambda problem: problem[0]))

    async def start_at_anchor(self, db: Database) -> None:
        anchor = self.anchor = await newest_anchor(db)
        if anchor is None:
            return
        if not verify_anchor_signature(anchor, self.public_key):
            raise _Broken(
                anchor.seq, f"the retention anchor at entry {anchor.seq} has an invalid signature"
            )
        ext = self.external
        if ext is not None and ext.seq < anchor.seq:
            raise ValueError(
                f"the exported checkpoint vouches for entry {ext.seq}, which retention pruned "
                f"(the log starts after entry {anchor.seq}); use a newer checkpoint"
            )
        if ext is not None and ext.seq == anchor.seq and ext.entry_hash != anchor.entry_hash:
            raise _Broken(anchor.seq, f"entry {anchor.seq} differs from the exported checkpoint")
        self.prev_seq, self.prev_hash = anchor.seq, anchor.entry_hash

    def past_anchor(self, snap: Snapshot) -> Snapshot:
        # Entries up to the anchor may all be gone: the log reaches at least that far.
        return replace(snap, max_seq=max(snap.max_seq, self.anchor.seq if self.anchor else 0))

    def link_reason(self, seq: int) -> str:
        if self.anchor is not None and seq == self.anchor.seq + 1:
            return f"entry {seq} does not link to the retention anchor at entry {seq - 1}"
        return f"entry {seq} does not link to entry {seq - 1}"

    async def scan(self, db: Database, upto: int, *, total: int) -> None:
        if self.prev_seq >= upto:
            return

        def read_after(after: int) -> asyncio.Task[Batch]:
            return asyncio.create_task(read_batch(db, after=after, upto=upto, limit=self.batch))

        ahead: asyncio.Task[Batch] | None = read_after(self.prev_seq)
        try:
            while ahead is not None:
                rows, checkpoints = await ahead
                # Read the next batch while this one is hashed: I/O and CPU overlap.
                last = rows[-1][0] if rows else upto
                ahead = read_after(last) if last < upto else None
                if 0 in checkpoints:
                    self.check_checkpoint(checkpoints[0], 0, GENESIS_HASH)
                if not rows:
                    raise _Broken(self.prev_seq + 1, f"entry {self.prev_seq + 1} is missing")
                if self.opener is not None:
                    await self.load_keys(db, rows)
                self.check_rows(rows, checkpoints)
                if self.progress is not None:
                    if ahead is not None:
                        # Reported with no read in flight: a callback that blocks the loop
                        # must not find SQLite's lock held by a read that needs the loop.
                        await asyncio.wait({ahead})
                    self.progress(self.checked, total)
        finally:
            if ahead is not None:
                # Let an in-flight read finish rather than cancel it mid-statement.
                await asyncio.gather(ahead, return_exceptions=True)

    async def load_keys(self, db: Database, rows: Sequence[Sequence[Any]]) -> None:
        assert self.opener is not None
        # actor_ref, then the two sealed columns (reader.ENTRY_COLUMNS)
        refs = {row[3] for row in rows if row[16] is not None or row[17] is not None}
        refs.update(row[19] for row in rows if row[20] is not None)
        if refs:
            async with db.engine.connect() as conn:
                await self.opener.load(conn, refs)

    def open_sealed(self, seq: int, ref: str | None, name: Any, addr: Any) -> list[str | None]:
        assert self.opener is not None
        pairs = (("actor_name", name), ("source_address", addr))
        return [self.opener.open(ref, column, seq, blob) for column, blob in pairs]

    def opened(
        self, seq: int, ref: str | None, clear: tuple[Any, Any], sealed: tuple[Any, Any]
    ) -> list[str | None]:
        """The opened (name, address) of a sealed entry that is not erased."""
        opened = self.open_sealed(seq, ref, *sealed)
        pairs = zip(sealed, opened, strict=True)
        if any(blob is not None and value is None for blob, value in pairs):
            raise _Broken(seq, f"entry {seq} has sealed fields that do not open under its key")
        if clear != (None, None):
            raise _Broken(seq, f"entry {seq} has altered actor or address fields")
        return opened

    def name_index(self, sealed: bool, name: str | None) -> str | None:
        # Only a sealed name has an index: a name in clear is found as it is.
        assert self.opener is not None
        return self.opener.name_index(name) if sealed and name is not None else None

    def check_rows(self, rows: Sequence[Sequence[Any]], checkpoints: dict[int, Checkpoint]) -> None:
        key, pkey = self.chain_key, self.pseudonym_key
        external = self.external
        for row in rows:
            seq, ts, actor_type, ref, aid, aname, addr, digest, erased, *rest = row
            action, rtype, rid, outcome, details, prev, stored, sname, saddr, nindex, *more = rest
            dref, dsealed, ddigest = more
            sealed = sname is not None or saddr is not None
            expected = self.prev_seq + 1
            if seq != expected:
                raise _Broken(expected, f"entry {expected} is missing")
            if prev != self.prev_hash:
                raise _Broken(seq, self.link_reason(seq))
            if erased:
                if aid is not None or aname is not None or addr is not None or nindex is not None:
                    raise _Broken(seq, f"entry {seq} is marked erased but holds personal data")
                # Shredded: the key is gone, so nothing sealed may open any more.
                opens = sealed and self.opener is not None
                if opens and self.open_sealed(seq, ref, sname, saddr) != [None, None]:
                    raise _Broken(seq, f"entry {seq} is marked erased but holds personal data")
                if ref is None:
                    raise _Broken(seq, f"entry {seq} is marked erased but names no actor")
                self.pending.setdefault(ref, seq)
                self.erased += 1
            else:
                if sealed and self.opener is not None:
                    aname, addr = self.opened(seq, ref, (aname, addr), (sname, saddr))
                if self.opener is not None and nindex != self.name_index(sealed, aname):
                    raise _Broken(seq, f"entry {seq} has a name index that is not its name")
                # Without an opener sealed values cannot be compared with the digest; the
                # entry hash still covers the digest itself.
                unchecked = sealed and self.opener is None
                if not unchecked and chain.personal_digest(key, aid, aname, addr) != digest:
                    raise _Broken(seq, f"entry {seq} has altered actor or address fields")
                if pkey is not None and self.ref_of(pkey, actor_type, aid) != ref:
                    raise _Broken(seq, f"entry {seq} has an actor reference that is not its actor")
            hashed = self.check_details(seq, details, dref, dsealed, ddigest, counted=bool(erased))
            if ts is None:
                raise _Broken(seq, f"entry {seq} has an unreadable timestamp")
            try:
                computed = chain.entry_hash(
                    key,
                    prev,
                    seq=seq,
                    ts=chain.iso_ts(ts),
                    actor_type=actor_type,
                    actor_ref=ref,
                    personal_digest=digest,
                    action=action,
                    resource_type=rtype,
                    resource_id=rid,
                    outcome=outcome,
                    details=hashed,
                )
            except ValueError:
                computed = None
            if computed != stored:
                raise _Broken(seq, f"entry {seq} was altered (its hash does not match)")
            if action == ERASURE_ACTION and (erased_ref := _erased_ref(details)):
                self.pending.pop(erased_ref, None)
                self.pending_details.pop(erased_ref, None)
            if seq in checkpoints:
                self.check_checkpoint(checkpoints[seq], seq, stored)
            if external is not None and external.seq == seq and external.entry_hash != stored:
                raise _Broken(seq, f"entry {seq} differs from the exported checkpoint")
            self.prev_seq, self.prev_hash = seq, stored
            self.checked += 1

    def check_details(
        self, seq: int, details: str, ref: Any, sealed: Any, digest: Any, *, counted: bool
    ) -> str:
        """Check an entry's sealed details against their digest; what its hash covers."""
        if digest is None:
            if ref is not None or sealed is not None:
                raise _Broken(seq, f"entry {seq} has sealed details without their digest")
            return details
        if ref is None:
            raise _Broken(seq, f"entry {seq} has a details digest but names no subject")
        if sealed is None:
            # Erased: a later gdpr.erasure entry must name the subject.
            self.pending_details.setdefault(ref, seq)
            if not counted:
                self.erased += 1
        elif self.opener is not None:
            text = self.opener.open(ref, DETAILS_COLUMN, seq, sealed)
            if text is None:
                raise _Broken(seq, f"entry {seq} has sealed details that do not open under its key")
            if chain.details_digest(self.chain_key, ref, text) != digest:
                raise _Broken(seq, f"entry {seq} has altered details")
        return chain.hashed_details(details, digest)

    def ref_of(self, pkey: bytes, actor_type: str, actor_id: str | None) -> str | None:
        # The same few actors recur across entries: remember their pseudonyms.
        known = self.refs.get((actor_type, actor_id))
        if known is None:
            if len(self.refs) >= MAX_REMEMBERED_REFS:
                self.refs.clear()
            known = self.refs[(actor_type, actor_id)] = chain.actor_ref(pkey, actor_type, actor_id)
        return known

    def check_checkpoint(self, cp: Checkpoint, seq: int, entry_hash: str) -> None:
        if cp.ts is None or not verify_checkpoint_signature(cp, self.public_key):
            raise _Broken(seq, f"checkpoint {seq} has an invalid signature")
        if cp.entry_hash != entry_hash:
            raise _Broken(seq, f"checkpoint {seq} does not match entry {seq}")

    def head_problems(self, snap: Snapshot) -> list[tuple[int, str]]:
        problems = []
        last = snap.last_seq
        if last is None:
            return [(0, "the audit head row is missing")]
        if snap.max_seq > last:
            problems.append((last + 1, f"entry {last + 1} lies beyond the head row's last entry"))
        elif snap.max_seq < last:
            seq = snap.max_seq + 1
            problems.append(
                (seq, f"entry {seq} is missing: the head row says the log ends at {last}")
            )
        elif snap.last_hash != self.prev_hash:
            problems.append((last, f"the head row's hash does not match entry {last}"))
        if snap.max_checkpoint is not None and snap.max_checkpoint > snap.max_seq:
            seq = snap.max_seq + 1
            problems.append(
                (seq, f"entry {seq} is missing: checkpoint {snap.max_checkpoint} vouches for it")
            )
        return problems

    def external_problems(self) -> list[tuple[int, str]]:
        ext = self.external
        if ext is None:
            return []
        if ext.seq == 0 and ext.entry_hash != GENESIS_HASH:
            return [(0, "the exported checkpoint does not match the empty log")]
        if ext.seq > self.prev_seq:
            seq = self.prev_seq + 1
            return [(seq, f"entry {seq} is missing: the exported checkpoint vouches for {ext.seq}")]
        return []


def _erased_ref(details: str) -> str | None:
    try:
        value = json.loads(details).get("actor_ref")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


async def verify(
    db: Database,
    *,
    chain_key: bytes,
    checkpoint_public_key: Ed25519PublicKey,
    pseudonym_key: bytes | None = None,
    external_checkpoint: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 5000,
    upto: int | None = None,
    opener: Opener | None = None,
) -> VerifyReport:
    """Walk the whole chain; ValueError when ``external_checkpoint`` is unusable.

    ``pseudonym_key`` adds a check that each actor reference belongs to its actor;
    ``opener`` (``AuditLog.opener()``) opens sealed fields to check them against their
    digest, and checks that an erased entry's sealed fields no longer open;
    ``external_checkpoint`` (an exported document) detects truncation of the tail.
    The walk starts from the newest retention anchor when there is one (the report
    names it). ``upto`` stops it at that entry, judging nothing beyond: the range a
    pruning run is about to remove.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    external = None
    if external_checkpoint is not None:
        external = parse_checkpoint(external_checkpoint)
        if not verify_checkpoint_signature(external, checkpoint_public_key):
            raise ValueError("the checkpoint's signature does not verify with this log's key")

    def walk() -> _Walk:
        return _Walk(
            chain_key=chain_key,
            pseudonym_key=pseudonym_key,
            public_key=checkpoint_public_key,
            external=external,
            progress=progress,
            batch=batch,
            upto=upto,
            opener=opener,
        )

    first = walk()
    report = await _walk(db, first)
    if not report.ok and await newest_anchor(db) != first.anchor:
        # A pruning run anchored and deleted meanwhile: walk again from its anchor.
        report = await _walk(db, walk())
    return report


async def _walk(db: Database, walk: _Walk) -> VerifyReport:
    try:
        await walk.run(db)
    except _Broken as broken:
        return _report(walk, False, broken.seq, broken.reason)
    return _report(walk, True)


def _report(
    walk: _Walk, ok: bool, seq: int | None = None, reason: str | None = None
) -> VerifyReport:
    anchor = walk.anchor
    return VerifyReport(
        ok,
        walk.checked,
        seq,
        reason,
        erased=walk.erased,
        anchor_seq=anchor.seq if anchor else None,
        anchor_ts=anchor.ts if anchor else None,
    )
