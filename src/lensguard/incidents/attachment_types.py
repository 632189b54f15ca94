"""What an incident's evidence attachment may be, decided by its content, not its name.

``check`` takes the bytes, the file name and the media type the client declared, and
returns the ``EvidenceType`` the content really is, or raises ``AttachmentRefused``
with a message that says what the file is and what to do:

* a **binary** file must start with the signature of one of ``TYPES`` (images, PDF,
  video clips, packet captures, ZIP and gzip archives);
* anything else must be **UTF-8 text** (logs, JSON, CSV, notes): ``intake.text_of``
  names a binary format it meets and refuses control characters;
* **executables** (ELF, PE, Mach-O, ``#!`` scripts) and names that open as programs or
  web pages (``.exe``, ``.sh``, ``.html``, ``.svg`` ...) are refused: a sample of
  malware goes in an encrypted ZIP, as analysts exchange them;
* the **name's extension** and the **declared type**, when they claim a type, must be
  the one the content is: ``photo.png`` holding a PDF is refused, not stored under a
  name that lies.

The type decided here is the one the download is served as (text always as
``text/plain``), so a stored file never reaches a browser as something it is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lensguard.intake import IntakeError, text_of


@dataclass(frozen=True)
class EvidenceType:
    """A kind of file evidence may be: its media type, what it is called, its extensions."""

    media_type: str
    label: str
    extensions: tuple[str, ...]


PNG = EvidenceType("image/png", "a PNG image", (".png",))
JPEG = EvidenceType("image/jpeg", "a JPEG image", (".jpg", ".jpeg"))
GIF = EvidenceType("image/gif", "a GIF image", (".gif",))
WEBP = EvidenceType("image/webp", "a WebP image", (".webp",))
PDF = EvidenceType("application/pdf", "a PDF document", (".pdf",))
MP4 = EvidenceType("video/mp4", "an MP4 video", (".mp4", ".m4v", ".mov"))
WEBM = EvidenceType("video/webm", "a WebM or Matroska video", (".webm", ".mkv"))
PCAP = EvidenceType("application/vnd.tcpdump.pcap", "a pcap capture", (".pcap", ".cap"))
PCAPNG = EvidenceType("application/x-pcapng", "a pcapng capture", (".pcapng",))
ZIP = EvidenceType("application/zip", "a ZIP archive", (".zip",))
GZIP = EvidenceType("application/gzip", "a gzip archive", (".gz", ".tgz"))
TEXT = EvidenceType("text/plain", "UTF-8 text", ())
"""Text takes any extension no other type claims (``.log``, ``.json``, ``.csv`` ...)."""

TYPES: tuple[EvidenceType, ...] = (PNG, JPEG, GIF, WEBP, PDF, MP4, WEBM, PCAP, PCAPNG, ZIP, GZIP)

_SIGNATURES: tuple[tuple[bytes, EvidenceType], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
    (b"\x1a\x45\xdf\xa3", WEBM),
    (b"\xd4\xc3\xb2\xa1", PCAP),
    (b"\xa1\xb2\xc3\xd4", PCAP),
    (b"\x4d\x3c\xb2\xa1", PCAP),
    (b"\xa1\xb2\x3c\x4d", PCAP),
    (b"\x0a\x0d\x0d\x0a", PCAPNG),
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),
    (b"\x1f\x8b", GZIP),
)
_EXECUTABLES: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java executable"),
    (b"#!", "a script"),
)
_RISKY = (
    "exe dll so dylib com scr msi bat cmd ps1 sh bash vbs js mjs jar apk app elf bin html htm "
    "xhtml svg hta lnk"
)
RISKY_EXTENSIONS = frozenset(f".{suffix}" for suffix in _RISKY.split())
"""Names that open as a program or a web page where the file is saved."""
_DECLARED_TEXT = re.compile(r"^(text/[a-z0-9.+-]+|application/(json|x-ndjson|xml|yaml|x-yaml))$")
_UNDECLARED = frozenset({"", "application/octet-stream"})
_NAME = re.compile(r"^[^\x00-\x1f\x7f/\\]{1,200}$")
MAX_NAME = 200


class AttachmentRefused(ValueError):
    """The file is not evidence this server keeps; the message says why and what to do."""


def clean_name(name: str) -> str:
    """The file name as stored, or AttachmentRefused: 1 to 200 characters, no folders."""
    name = name.strip()
    if not _NAME.fullmatch(name) or name.startswith(".") or name in {"..", "."}:
        raise AttachmentRefused(
            f"the file name must be 1 to {MAX_NAME} characters with no folder, no control "
            "characters and no leading dot"
        )
    return name


def extension(name: str) -> str:
    """The lower-cased extension of ``name`` with its dot, or ``""``."""
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _binary(raw: bytes) -> EvidenceType | None:
    for signature, kind in _SIGNATURES:
        if raw.startswith(signature):
            return kind
    if raw[4:8] == b"ftyp":
        return MP4
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return WEBP
    return None


def sniff(raw: bytes, name: str) -> EvidenceType:
    """The type ``raw`` is by content; AttachmentRefused for executables and unknown binaries."""
    for signature, what in _EXECUTABLES:
        if raw.startswith(signature):
            raise AttachmentRefused(
                f"{name} is {what}: executables are not kept as attachments; put a sample "
                "in an encrypted ZIP archive instead"
            )
    found = _binary(raw)
    if found is not None:
        return found
    try:
        text_of(raw, what="the file", source=name)
    except IntakeError as exc:
        accepted = ", ".join(kind.label for kind in TYPES)
        raise AttachmentRefused(f"{exc}; attachments may be {accepted} or UTF-8 text") from None
    return TEXT


def _claimed(suffix: str) -> EvidenceType | None:
    for kind in TYPES:
        if suffix in kind.extensions:
            return kind
    return None


def check(raw: bytes, name: str, declared: str) -> EvidenceType:
    """The evidence type of ``raw`` named ``name`` and declared as ``declared`` (a bare,
    lower-cased media type; ``""`` when none), or AttachmentRefused."""
    if not raw:
        raise AttachmentRefused(f"{name} is empty: there is nothing to keep")
    suffix = extension(name)
    if suffix in RISKY_EXTENSIONS:
        raise AttachmentRefused(
            f"{name} has a name that opens as a program or a web page ({suffix}); rename it, "
            "or put it in an encrypted ZIP archive"
        )
    found = sniff(raw, name)
    claimed = _claimed(suffix)
    if claimed is not None and claimed != found:
        raise AttachmentRefused(
            f"{name} is named as {claimed.label} but holds {found.label}: rename it to match"
        )
    if declared not in _UNDECLARED and not _agrees(declared, found):
        raise AttachmentRefused(
            f"{name} was sent as {declared} but holds {found.label} ({found.media_type})"
        )
    return found


def _agrees(declared: str, found: EvidenceType) -> bool:
    if found is TEXT:
        return _DECLARED_TEXT.fullmatch(declared) is not None
    aliases = {
        "application/x-zip-compressed": ZIP,
        "application/x-gzip": GZIP,
        "image/jpg": JPEG,
        "video/quicktime": MP4,
        "video/x-matroska": WEBM,
    }
    return declared == found.media_type or aliases.get(declared) == found
