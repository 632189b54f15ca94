"""Safe rendering of untrusted audit text for terminals, exports and logs."""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: str) -> str:
    """``value`` with line breaks, ANSI escapes and every other non-printable escaped.

    Backslashes are escaped too, so the result maps back to exactly one input and a
    name like ``alice\\nbob`` cannot pose as an escaped line break. Format specifiers
    (``%s``, ``{0}``) are printable and pass through: they are only dangerous to code
    that uses data as a format string, which lensguard never does.
    """
    if value.isprintable() and "\\" not in value:
        return value
    return "".join(char if char.isprintable() and char != "\\" else _escape(char) for char in value)
