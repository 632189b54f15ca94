"""Files an operator hands the server (the access policy, playbooks): checked before parsing.

Each check refuses with a message that names the file and what to do:

* **size** first: at most ``max_bytes`` are read, so a huge file is never read whole;
* **type by content**, not by name: a file that starts like an image, an archive, a
  PDF or an executable is named as such; otherwise it must be UTF-8 text with no NUL
  or other control characters than tab, line feed and carriage return;
* **YAML without anchors or aliases**: the files need none, and an alias lets a small
  document expand to a huge one in memory (the "billion laughs").
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

MAX_YAML_BYTES = 256 * 1024
"""The largest policy or playbook file read (the shipped ones are a few KiB)."""

# Leading bytes of binary formats someone may pick by mistake, and what they are.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab, line feed and carriage return."""


class IntakeError(ValueError):
    """A file refused before parsing; the message says which and why."""


def read_capped(path: Path, *, what: str, max_bytes: int, hint: str) -> bytes:
    """The bytes of ``path``, reading at most ``max_bytes + 1``; IntakeError, ending with
    ``hint``, when it is larger or cannot be read."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise IntakeError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise IntakeError(f"{what} {path} is larger than {max_bytes:,} bytes: {hint}")
    return raw


def read_text(path: Path, *, what: str, max_bytes: int = MAX_YAML_BYTES) -> str:
    """The text of ``path`` once it passed the size and content checks."""
    raw = read_capped(path, what=what, max_bytes=max_bytes, hint="is it the right file?")
    return text_of(raw, what=what, source=str(path))


def text_of(raw: bytes, *, what: str, source: str) -> str:
    """``raw`` as text, or IntakeError naming what the content really is."""
    for signature, kind in SIGNATURES:
        if raw.startswith(signature):
            raise IntakeError(f"{what} {source} is {kind}, not a text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IntakeError(
            f"{what} {source} is not UTF-8 text (byte {exc.start} cannot be read)"
        ) from None
    control = _CONTROL.search(text)
    if control is not None:
        index, char = control.start(), control.group()
        line = text.count("\n", 0, index) + 1
        raise IntakeError(
            f"{what} {source} holds a control character (U+{ord(char):04X}) on line "
            f"{line}: it is not a text file"
        )
    return text


def refuse_aliases(text: str, *, what: str, source: str) -> None:
    """IntakeError when the YAML uses anchors or aliases (a syntax error is left to the
    parser, which says it better)."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
                line = token.start_mark.line + 1
                raise IntakeError(
                    f"{what} {source} uses a YAML anchor or alias on line {line}: write "
                    "the values out in full"
                )
    except yaml.YAMLError:
        return
