"""Verify recordings: the index chain, the stored bytes and the head anchored in audit.

A removed segment leaves a gap in the positions or a link that no longer follows; a
swapped one breaks the links on both sides; an edited file no longer matches its
digest; a dropped or added tail no longer matches the anchored head. The anchor rows
are themselves protected by the audit chain (``lensguard audit verify``).

Segments removed by retention are not problems: each removal is a cut recorded in
the audit chain (``recording.trimmed``: the positions removed and the link the next
segment starts from), and the chain is accepted where it resumes at a recorded cut.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.recordings.index import GENESIS, Anchor, latest_anchor, link, segments_of
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.store import SegmentNotFound, SegmentStore
from lensguard.recordings.trim import Cut, count_covered, covered, cuts_of


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recording; ``seq`` is the segment position when there is one."""

    recording_id: str
    reason: str
    seq: int | None = None


@dataclass
class RecordingReport:
    """The outcome of verifying one recording."""

    recording_id: str
    segments: int = 0
    anchored: bool = False
    shredded: int = 0
    trimmed: int = 0
    """Positions removed lawfully (by retention or quota, each cut audited)."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


async def _check_bytes(
    store: SegmentStore, report: RecordingReport, row: RecordingSegment, *, shredded: bool
) -> None:
    seq, digest, size = row.seq, row.digest, row.size
    try:
        data = await store.get(row.id)
    except SegmentNotFound:
        # A shredded segment's bytes may be gone already; its row still holds the chain.
        if not shredded:
            report.problems.append(Problem(report.recording_id, "missing from the store", seq))
        return
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        report.problems.append(
            Problem(report.recording_id, "stored bytes differ from the index (edited)", seq)
        )


async def verify_recording(
    session: AsyncSession,
    store: SegmentStore,
    recording_id: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> RecordingReport:
    """Check one recording end to end; ``progress`` is called once per segment."""
    report = RecordingReport(recording_id)
    rows = await segments_of(session, recording_id)
    report.segments = len(rows)
    cuts = await cuts_of(session, recording_id) if rows else []
    prev = GENESIS
    links: dict[int, str] = {}
    expected = 0
    for row in rows:
        if row.seq != expected and _lawful_cut(cuts, expected, row):
            report.trimmed += row.seq - expected
            expected = row.seq
        elif row.seq != expected:
            gone = (
                f"segment {expected}"
                if row.seq == expected + 1
                else (f"segments {expected} to {row.seq - 1}")
            )
            report.problems.append(
                Problem(recording_id, f"{gone} missing from the index", expected)
            )
            expected = row.seq
        elif not hmac.compare_digest(row.prev_digest, prev):
            report.problems.append(
                Problem(
                    recording_id,
                    f"does not follow segment {expected - 1} (removed, swapped or edited)"
                    if expected
                    else "does not start the chain (edited)",
                    row.seq,
                )
            )
        shredded = row.wrapped_key is None
        report.shredded += shredded
        await _check_bytes(store, report, row, shredded=shredded)
        prev = link(row)
        links[row.seq] = prev
        expected += 1
        if progress is not None:
            progress(1)
    _check_anchor(report, links, cuts, await latest_anchor(session, recording_id))
    return report


def _lawful_cut(cuts: list[Cut], expected: int, row: RecordingSegment) -> bool:
    """True when positions ``expected`` to ``row.seq - 1`` were cut and ``row`` resumes there."""
    if row.seq < expected or not covered(cuts, expected, row.seq - 1):
        return False
    resumes = [cut for cut in cuts if cut.next_seq == row.seq]
    resumed = resumes[-1].next_prev if resumes else None
    return resumed is not None and hmac.compare_digest(resumed, row.prev_digest)


def _check_anchor(
    report: RecordingReport, links: dict[int, str], cuts: list[Cut], anchor: Anchor | None
) -> None:
    if anchor is None:
        return
    report.anchored = True
    rid = report.recording_id
    head = anchor.segments - 1
    last = max(links, default=-1)
    kept = sum(1 for seq in links if seq <= head)
    if kept + count_covered(cuts, head) < anchor.segments:
        report.problems.append(
            Problem(rid, f"ends early: the audit chain anchored {anchor.segments} segments")
        )
    elif head in links:
        if links[head] != anchor.head:
            report.problems.append(
                Problem(rid, "does not match the head anchored in the audit chain")
            )
        elif anchor.sealed and last > head:
            report.problems.append(Problem(rid, "has segments added after it was sealed"))
    # Otherwise the anchored head itself was removed by retention: nothing left to compare.
