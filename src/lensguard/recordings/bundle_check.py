"""Check an evidence bundle offline, with nothing but the public key.

``check_bundle`` reads the zip (bounded: at most the five known files, each under
``MAX_MEMBER`` bytes), then checks, in order: that ``signature.json`` names a key
given and its Ed25519 signature verifies over the statement; that the statement is
the one its digests make; that every signed file's SHA-256 is the signed one; that
the manifest's clip digest and size match ``clip.webm``; that each segment's chain
link is the one its listed fields make (``index.link``, as the server computes it)
and follows the one before it; that each recording's anchor is in the custody
record with the same head, and a range that reaches the anchored segment ends on that
head; and that the custody entries' audit hashes follow each other where their
sequence numbers do. Every
problem names the file it is in. It needs no database, no server and no secret.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lensguard.recordings.bundle import (
    ALGORITHM,
    CLIP,
    CUSTODY,
    FORMAT,
    MANIFEST,
    MEMBERS,
    SIGNATURE,
    SIGNED,
    sha256_hex,
    statement,
)
from lensguard.recordings.index import ANCHOR_ACTION, link
from lensguard.recordings.models import RecordingSegment

MAX_MEMBER = 4 * 1024**3
"""The largest file a bundle may hold (a clip of the longest export fits well inside)."""
MAX_JSON = 64 * 1024**2


@dataclass(frozen=True)
class Problem:
    """One thing wrong, and the file of the bundle it is in (``bundle`` for the zip)."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class BundleReport:
    """The outcome of checking one bundle."""

    kid: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    last_segments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The last listed segment of each recording (filled by the manifest check)."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, file: str, message: str) -> None:
        self.problems.append(Problem(file, message))


def _read(data: bytes, report: BundleReport) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        report.fail("bundle", "not a readable zip file (damaged or not a bundle)")
        return {}
    files: dict[str, bytes] = {}
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        for name in sorted(set(names) - set(MEMBERS)):
            report.fail("bundle", f"holds an unexpected file {name!r}")
        for name in MEMBERS:
            if names.count(name) > 1:
                report.fail(name, "appears more than once")
        for info in infos:
            if info.filename not in MEMBERS or info.filename in files:
                continue
            if info.file_size > MAX_MEMBER:
                report.fail(info.filename, "is larger than any bundle file can be")
                continue
            try:
                files[info.filename] = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, ValueError):
                report.fail(info.filename, "is damaged: its bytes fail the zip's CRC-32 check")
    for name in MEMBERS:
        if name not in files and not any(p.file == name for p in report.problems):
            report.fail(name, "is missing from the bundle")
    return files


def _json(files: Mapping[str, bytes], name: str, report: BundleReport) -> dict[str, Any] | None:
    data = files.get(name)
    if data is None:
        return None
    if len(data) > MAX_JSON:
        report.fail(name, "is too large to be what a bundle holds")
        return None
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        report.fail(name, "is not valid JSON (it was changed)")
        return None
    if not isinstance(value, dict):
        report.fail(name, "is not a JSON object (it was changed)")
        return None
    return value


def _signature(
    doc: dict[str, Any],
    keys: Mapping[str, Ed25519PublicKey],
    any_key: Ed25519PublicKey | None,
    report: BundleReport,
) -> dict[str, str] | None:
    """The signed digests when the signature verifies; None (and a problem) otherwise."""
    kid, digests = doc.get("kid"), doc.get("files")
    if doc.get("format") != FORMAT or doc.get("alg") != ALGORITHM:
        report.fail(SIGNATURE, f"is not a {FORMAT} Ed25519 signature")
        return None
    if not isinstance(kid, str) or not isinstance(digests, dict):
        report.fail(SIGNATURE, "lacks its kid or its digests")
        return None
    report.kid = kid
    key = keys.get(kid, any_key)
    if key is None:
        report.fail(SIGNATURE, f"was signed by key {kid!r}, which the keys given do not hold")
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in digests.items()):
        report.fail(SIGNATURE, "has digests that are not text")
        return None
    signed = statement(digests)
    if doc.get("statement") != signed.decode("utf-8"):
        report.fail(SIGNATURE, "holds a statement that its digests do not make")
        return None
    raw = doc.get("signature")
    try:
        if not isinstance(raw, str):
            raise ValueError
        key.verify(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), signed)
    except (InvalidSignature, ValueError, binascii.Error):
        report.fail(SIGNATURE, f"signature does not verify with key {kid!r}")
        return None
    if sorted(digests) != sorted(SIGNED):
        report.fail(SIGNATURE, f"does not cover exactly {', '.join(SIGNED)}")
    return {str(k): str(v) for k, v in digests.items()}


def _manifest(manifest: dict[str, Any], clip: bytes | None, report: BundleReport) -> None:
    described = manifest.get("clip")
    if not isinstance(described, dict):
        report.fail(MANIFEST, "does not describe the clip")
        return
    if clip is not None and (
        described.get("sha256") != sha256_hex(clip) or described.get("bytes") != len(clip)
    ):
        report.fail(CLIP, "does not match the SHA-256 and size in manifest.json")
    segments = manifest.get("segments")
    if not isinstance(segments, list) or not segments:
        report.fail(MANIFEST, "lists no segments")
        return
    last: dict[str, dict[str, Any]] = {}
    for segment in segments:
        if not isinstance(segment, dict):
            report.fail(MANIFEST, "holds a segment that is not an object")
            return
        if _link_of(manifest, segment) != segment.get("link"):
            report.fail(
                MANIFEST, f"segment {segment.get('id')}: its link is not what its fields make"
            )
        before = last.get(str(segment.get("recording_id")))
        if before is not None and (
            segment.get("seq") != before.get("seq", -2) + 1
            or segment.get("prev_link") != before.get("link")
        ):
            report.fail(MANIFEST, f"segment {segment.get('id')} does not follow the one before it")
        last[str(segment.get("recording_id"))] = segment
    report.last_segments = last


def _link_of(manifest: dict[str, Any], segment: dict[str, Any]) -> str | None:
    """The chain link the server would compute for ``segment``; None when it cannot."""
    try:
        row = RecordingSegment(
            id=str(segment["id"]),
            recording_id=str(segment["recording_id"]),
            seq=int(segment["seq"]),
            device_id=str(manifest["device_id"]),
            stream=str(manifest["stream"]),
            started_at=datetime.fromisoformat(str(segment["start"])),
            ended_at=datetime.fromisoformat(str(segment["end"])),
            size=int(segment["stored_bytes"]),
            key_id=str(segment["key_id"]),
            digest=str(segment["stored_sha256"]),
            prev_digest=str(segment["prev_link"]),
            kind=str(segment.get("kind", "continuous")),
        )
        return link(row)
    except (KeyError, TypeError, ValueError):
        return None


def _anchors(manifest: dict[str, Any], custody: dict[str, Any], report: BundleReport) -> None:
    """Each recording's anchor is in the custody record; a range at the anchor ends on it."""
    entries = custody.get("entries")
    by_seq = (
        {e.get("seq"): e for e in entries if isinstance(e, dict)}
        if isinstance(entries, list)
        else {}
    )
    recordings = manifest.get("recordings")
    for item in recordings if isinstance(recordings, list) else []:
        anchor = item.get("anchor") if isinstance(item, dict) else None
        if not isinstance(anchor, dict):
            continue
        recording = item.get("recording_id")
        entry = by_seq.get(anchor.get("audit_seq"))
        details = entry.get("details") if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or entry.get("action") != ANCHOR_ACTION
            or entry.get("resource_id") != recording
            or not isinstance(details, dict)
            or details.get("head") != anchor.get("head")
        ):
            report.fail(CUSTODY, f"does not hold the anchor of recording {recording}")
            continue
        tail = report.last_segments.get(str(recording))
        count = anchor.get("segments")
        reaches = tail is not None and isinstance(count, int) and tail.get("seq") == count - 1
        if reaches and tail is not None and tail.get("link") != anchor.get("head"):
            report.fail(MANIFEST, f"recording {recording} does not end on its anchored head")


def _custody(custody: dict[str, Any], report: BundleReport) -> None:
    entries = custody.get("entries")
    if not isinstance(entries, list):
        report.fail(CUSTODY, "holds no list of audit entries")
        return
    previous: dict[str, Any] | None = None
    for entry in entries:
        if not isinstance(entry, dict):
            report.fail(CUSTODY, "holds an entry that is not an object")
            return
        if (
            previous is not None
            and entry.get("seq") == previous.get("seq", -2) + 1
            and entry.get("prev_hash") != previous.get("entry_hash")
        ):
            report.fail(CUSTODY, f"audit entry {entry.get('seq')} does not follow the one before")
        previous = entry


def check_bundle(
    data: bytes,
    *,
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    key: Ed25519PublicKey | None = None,
) -> BundleReport:
    """Check the bundle bytes ``data`` against JWKs by kid (``keys``) or one ``key``."""
    report = BundleReport()
    files = _read(data, report)
    doc = _json(files, SIGNATURE, report)
    digests = None if doc is None else _signature(doc, keys or {}, key, report)
    if digests is not None:
        for name in SIGNED:
            if name in files and digests.get(name) != sha256_hex(files[name]):
                report.fail(name, "was changed: its SHA-256 is not the signed one")
    manifest = _json(files, MANIFEST, report)
    if manifest is not None:
        report.manifest = manifest
        _manifest(manifest, files.get(CLIP), report)
    custody = _json(files, CUSTODY, report)
    if custody is not None:
        _custody(custody, report)
        if manifest is not None:
            _anchors(manifest, custody, report)
    return report
