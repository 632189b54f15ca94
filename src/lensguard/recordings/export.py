"""Build, keep and read back signed evidence bundles of a device's range.

``create_export`` reads the range from the vault (every segment verified, as
``ranges.read_range``), remuxes it into one clip, gathers the manifest and the
custody record, signs the bundle with the evidence key, stores it **encrypted** in
the segment store (its own data key, wrapped like a segment's of the same stream,
the wrapped key in its ``recording_exports`` row) and, in the same transaction as the row, audits
``recording.exported`` with the bundle's SHA-256. It runs synchronously: the limits
(``MAX_RANGE``, ``MAX_BYTES``) keep one build to seconds.

A bundle is built once and kept, never rebuilt: its custody record is what the audit
log held at that moment, and the digest audited must stay the digest served.
``open_export`` decrypts it and checks it against the digest in its row.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.audit.entry import AuditEvent
from lensguard.recordings.bundle import (
    CLIP,
    CUSTODY,
    FORMAT,
    MANIFEST,
    README,
    canonical_json,
    sha256_hex,
    write_bundle,
)
from lensguard.recordings.clip import ClipSource, build_clip
from lensguard.recordings.crypto import SegmentIntegrityError, decrypt, encrypt
from lensguard.recordings.custody import custody_entries
from lensguard.recordings.evidence_keys import EvidenceKeys
from lensguard.recordings.export_models import RecordingExport
from lensguard.recordings.index import latest_anchor
from lensguard.recordings.keys import WrappedKey
from lensguard.recordings.ranges import RangeClip, read_range
from lensguard.recordings.readme import readme_text
from lensguard.recordings.store import SegmentNotFound, new_segment_id
from lensguard.recordings.vault import RecordingVault

EXPORTED = "recording.exported"
MAX_RANGE = timedelta(hours=2)
"""The longest range one bundle covers."""
MAX_BYTES = 256 * 1024**2
"""The most stored segment bytes one bundle draws on (a 2 h 640x480 stream is ~1.4 GB,
so a long range of a busy camera must be split)."""
STORE_PREFIX = "export-"
"""Bundles live in the segment store as ``export-<id>``, apart from segment ids."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export, why, and who asks."""

    device_id: str
    start: datetime
    end: datetime
    reason: str
    exporter: dict[str, Any]
    """Who exports: ``{"type", "id", "name"}`` as the audit log names actors."""
    stream: str = "processed"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


async def _manifest(
    session: AsyncSession,
    ranged: RangeClip,
    request: ExportRequest,
    *,
    export_id: str,
    server_id: str,
    created_at: datetime,
) -> dict[str, Any]:
    recordings = sorted({s.row.recording_id for s in ranged.segments})
    anchors = []
    for recording_id in recordings:
        found = await latest_anchor(session, recording_id)
        anchors.append(
            {
                "recording_id": recording_id,
                "anchor": None
                if found is None
                else {
                    "segments": found.segments,
                    "head": found.head,
                    "sealed": found.sealed,
                    "audit_seq": found.audit_seq,
                },
            }
        )
    clip = ranged.clip
    return {
        "format": FORMAT,
        "export_id": export_id,
        "server_id": server_id,
        "created_at": _iso(created_at),
        "exporter": request.exporter,
        "reason": request.reason,
        "device_id": request.device_id,
        "stream": request.stream,
        "requested": {"start": _iso(request.start), "end": _iso(request.end)},
        "clip": {
            "file": CLIP,
            "mime_type": clip.mime_type,
            "sha256": sha256_hex(clip.data),
            "bytes": len(clip.data),
            "start": _iso(clip.start),
            "end": _iso(clip.end),
            "duration_ms": clip.duration_ms,
            "frames": clip.frames,
            "width": clip.width,
            "height": clip.height,
            "timeline": "milliseconds from start; gaps in the recording are kept",
        },
        "segments": [
            {
                "id": s.row.id,
                "recording_id": s.row.recording_id,
                "seq": s.row.seq,
                "kind": s.row.kind,
                "start": s.row.started_at.isoformat(timespec="microseconds"),
                "end": s.row.ended_at.isoformat(timespec="microseconds"),
                "stored_bytes": s.row.size,
                "stored_sha256": s.stored_sha256,
                "plaintext_sha256": s.plaintext_sha256,
                "key_id": s.row.key_id,
                "prev_link": s.row.prev_digest,
                "link": s.link,
            }
            for s in ranged.segments
        ],
        "recordings": anchors,
    }


async def create_export(
    vault: RecordingVault,
    keys: EvidenceKeys,
    request: ExportRequest,
    *,
    server_id: str,
    now: datetime,
    audit: AuditEvent,
) -> RecordingExport:
    """Build, sign, store and audit one bundle; ``audit`` gets the export's details added."""
    export_id = new_segment_id()
    async with vault.db.sessions() as session:
        segments = await read_range(
            session,
            vault.store,
            vault.ring_for(request.stream),
            request.device_id,
            start=request.start,
            end=request.end,
            stream=request.stream,
            max_bytes=MAX_BYTES,
        )
        sources = [ClipSource(s.row.started_at, s.plaintext) for s in segments]
        clip = await asyncio.to_thread(build_clip, sources, request.start, request.end)
        ranged = RangeClip(clip, segments)
        manifest = await _manifest(
            session, ranged, request, export_id=export_id, server_id=server_id, created_at=now
        )
        custody = await custody_entries(
            session,
            device_id=request.device_id,
            recording_ids=sorted({s.row.recording_id for s in ranged.segments}),
            segment_ids=[s.row.id for s in ranged.segments],
            start=request.start,
            end=request.end,
        )
    signer = await keys.signing_key(now)
    bundle = await asyncio.to_thread(
        write_bundle,
        {
            CLIP: ranged.clip.data,
            MANIFEST: canonical_json(manifest),
            CUSTODY: canonical_json(custody),
            README: readme_text(export_id=export_id, kid=signer.kid).encode("utf-8"),
        },
        kid=signer.kid,
        private_key=signer.private_key,
    )
    digest = sha256_hex(bundle)
    data_key, wrapped = vault.ring_for(request.stream).new_data_key()
    stored = await asyncio.to_thread(encrypt, data_key, wrapped.key_id, bundle)
    await vault.store.put(STORE_PREFIX + export_id, stored)
    row = RecordingExport(
        id=export_id,
        device_id=request.device_id,
        stream=request.stream,
        starts_at=request.start,
        ends_at=request.end,
        reason=request.reason,
        created_by=str(request.exporter.get("id")),
        created_at=now,
        kid=signer.kid,
        size=len(bundle),
        digest=digest,
        key_id=wrapped.key_id,
        kek_version=wrapped.kek_version,
        wrapped_key=wrapped.wrapped,
    )
    event = replace(
        audit,
        details={
            **audit.details,
            "export_id": export_id,
            "start": request.start.isoformat(),
            "end": request.end.isoformat(),
            "stream": request.stream,
            "reason": request.reason,
            "bundle_sha256": digest,
            "clip_sha256": manifest["clip"]["sha256"],
            "segments": len(ranged.segments),
            "kid": signer.kid,
        },
    )
    async with vault.db.transaction() as session:
        session.add(row)
        await session.flush()
        await vault.audit.append(session, event)
    return row


async def open_export(vault: RecordingVault, row: RecordingExport) -> bytes:
    """The bundle bytes, decrypted and checked against the row's digest."""
    try:
        stored = await vault.store.get(STORE_PREFIX + row.id)
    except SegmentNotFound:
        raise SegmentIntegrityError(f"evidence bundle {row.id} is missing from the store") from None
    key = vault.ring_for(row.stream).unwrap(
        None
        if row.wrapped_key is None
        else WrappedKey(row.key_id, row.kek_version, row.wrapped_key)
    )
    bundle = decrypt(key, stored)
    if len(bundle) != row.size or not hmac.compare_digest(
        hashlib.sha256(bundle).hexdigest(), row.digest
    ):
        raise SegmentIntegrityError(f"evidence bundle {row.id} differs from its record")
    return bundle
