"""What an evidence attachment may be: decided by content, with the name and declared
type held to it."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from lensguard.incidents import attachment_types as types
from lensguard.incidents.attachment_types import AttachmentRefused, check, clean_name


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "found on the rover")
    return out.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "
PCAP = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 16
PCAPNG = b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a"
LOG = "2026-12-07T10:00:00Z sign-in failed for röot from 203.0.113.5\n".encode()

KEPT = [
    (PNG, "door.png", "image/png", types.PNG),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "face.JPG", "image/jpg", types.JPEG),
    (b"GIF89a\x01\x00\x01\x00", "a.gif", "", types.GIF),
    (WEBP, "frame.webp", "image/webp", types.WEBP),
    (PDF, "report.pdf", "application/pdf", types.PDF),
    (MP4, "clip.mov", "video/quicktime", types.MP4),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "clip.mkv", "video/x-matroska", types.WEBM),
    (PCAP, "traffic.pcap", "application/octet-stream", types.PCAP),
    (PCAPNG, "traffic.pcapng", "", types.PCAPNG),
    (_zip(), "sample.zip", "application/x-zip-compressed", types.ZIP),
    (gzip.compress(b"logs", mtime=0), "logs.tar.gz", "application/gzip", types.GZIP),
    (LOG, "auth.log", "text/plain", types.TEXT),
    (b'{"event": "login"}', "events.json", "application/json", types.TEXT),
    (b"a,b\r\n1,2\r\n", "table.csv", "text/csv", types.TEXT),
    (b"\xef\xbb\xbfnotes with a BOM", "notes", "", types.TEXT),
]


@pytest.mark.parametrize(("raw", "name", "declared", "expected"), KEPT, ids=[c[1] for c in KEPT])
def test_each_kind_of_evidence_is_known_by_its_content(
    raw: bytes, name: str, declared: str, expected: types.EvidenceType
) -> None:
    assert check(raw, name, declared) == expected


REFUSED = [
    (b"", "empty.txt", "", "is empty"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 9, "sample", "", "an ELF executable"),
    (b"MZ\x90\x00\x03", "update.dat", "", "a Windows executable"),
    (b"\xcf\xfa\xed\xfe\x07\x00", "tool", "", "a Mach-O executable"),
    (b"#!/bin/sh\nrm -rf /\n", "notes.txt", "text/plain", "a script"),
    (b"plain words", "run.sh", "", "opens as a program or a web page (.sh)"),
    (b"<html><script>alert(1)</script>", "page.HTML", "", "(.html)"),
    (b"<svg onload=alert(1)>", "logo.svg", "image/svg+xml", "(.svg)"),
    (PDF, "photo.png", "", "named as a PNG image but holds a PDF document"),
    (LOG, "capture.pcap", "", "named as a pcap capture but holds UTF-8 text"),
    (PNG, "door.png", "application/pdf", "sent as application/pdf but holds a PNG image"),
    (LOG, "auth.log", "image/png", "sent as image/png but holds UTF-8 text"),
    (b"SQLite format 3\x00" + b"\x00" * 84, "db.bin2", "", "an SQLite database"),
    (b"\x00\x01\x02\x03 unknown binary", "blob", "", "control character"),
    (b"caf\xe9 latin-1", "notes.txt", "", "not UTF-8 text"),
]


@pytest.mark.parametrize(
    ("raw", "name", "declared", "says"), REFUSED, ids=[f"{n}-{c[1]}" for n, c in enumerate(REFUSED)]
)
def test_what_is_not_evidence_is_refused_with_the_reason(
    raw: bytes, name: str, declared: str, says: str
) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check(raw, name, declared)
    assert says in str(refused.value)


def test_an_unknown_binary_is_told_what_is_accepted() -> None:
    with pytest.raises(AttachmentRefused) as refused:
        check(b"\x00\x00\x00\x00\x01binary", "blob", "")
    assert "a PDF document" in str(refused.value) and "UTF-8 text" in str(refused.value)


@pytest.mark.parametrize(
    "name", ["", "   ", "../etc/passwd", "a/b.txt", "a\\b.txt", ".hidden", "bad\x07.txt", "x" * 201]
)
def test_a_name_with_a_folder_or_control_character_is_refused(name: str) -> None:
    with pytest.raises(AttachmentRefused, match="file name must be"):
        clean_name(name)


def test_a_name_is_kept_as_written_without_surrounding_space() -> None:
    assert clean_name("  Kamera 3 · Tür.png ") == "Kamera 3 · Tür.png"
