"""Score a request's path and query for attack patterns: detection only, never validation.

Input is percent-decoded up to three times (attackers double-encode to slip past
filters) and every stage is checked, so ``%252e%252e%252f`` counts like ``../``.
Patterns are chosen so that ordinary API traffic scores 0: ids, UUIDs, ISO dates,
JSON-ish values, apostrophes in names, ``select``/``drop`` as plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

MAX_DECODE_ROUNDS = 3
MAX_SCORE = 100
MAX_INPUT_CHARS = 8_192
"""Longer inputs are scored on their first this many characters; the work stays bounded."""

_COMMANDS = (
    r"(?:cat|ls|id|whoami|uname|wget|curl|nc|ncat|bash|sh|zsh|rm|chmod|ping|nslookup|perl|python)"
)
_COMMAND_END = r"(?:\s+[-/$.~'\"]|\s*$|\s*[;&|`)])"
_HANDLERS = (
    r"(?:onerror|onload|onclick|onmouseover|onmouseenter|onfocus|onblur|"
    r"ontoggle|onanimationstart|onpointerover|onbegin)"
)
SIGNALS: dict[str, tuple[int, tuple[re.Pattern[str], ...]]] = {
    "path_traversal": (
        60,
        (
            re.compile(r"(?:^|[/\\=])\.\.(?:[/\\]|$)"),
            re.compile(r"%2e%2e|\.\.%2f|\.\.%5c|%c0%ae|%c1%9c"),
            re.compile(r"/etc/(?:passwd|shadow)\b|\bwin\.ini\b|\bboot\.ini\b"),
        ),
    ),
    "null_byte": (50, (re.compile(r"\x00|%00"),)),
    "script_injection": (
        60,
        (
            re.compile(r"<\s*(?:script|iframe|object|embed)\b|<\s*svg[\s/>]|<\s*img[\s/]"),
            re.compile(r"(?:java|vb)script\s*:|data\s*:\s*text/html"),
            # Only after a separator: a query parameter *named* onload is not an attack.
            re.compile(rf"[\s\"'/;<]{_HANDLERS}\s*="),
        ),
    ),
    "sql_injection": (
        60,
        (
            # Tautologies: ' or '1'='1, ' or 1=1, " or "a"="a (both sides equal).
            re.compile(r"['\"]\s*(?:or|and)\s+(['\"]?)(\w{1,32})\1\s*=\s*\1\2\b"),
            re.compile(r"\b(?:or|and)\s+(\d{1,20})\s*=\s*\1\b"),
            re.compile(r"\bunion\s+(?:all\s+|distinct\s+)?select\b"),
            re.compile(
                r";\s*(?:drop\s+(?:table|database|schema)|(?:truncate|alter)\s+table|"
                r"delete\s+from|insert\s+into|update\s+\w+\s+set|shutdown)\b"
            ),
            # A quote closed, then a comment: admin'-- . Not "--flag" inside JSON strings.
            re.compile(r"['\"]\s*\)?\s*--(?:[\s&+\-]|$)"),
            re.compile(r"\b(?:sleep|benchmark|pg_sleep)\s*\(|\bwaitfor\s+delay\b"),
            re.compile(r"\binformation_schema\b|\bxp_cmdshell\b"),
        ),
    ),
    "command_injection": (
        60,
        (
            # A separator, a command, then an option, a path, or the end: ";cat /etc/passwd",
            # "|id". Not free text ("dogs; cat food") nor matrix parameters (";id=2").
            re.compile(rf"(?:[;\n]|\|\|?|&&)\s*{_COMMANDS}{_COMMAND_END}"),
            re.compile(r"\$\(|\$\{ifs\}"),
            re.compile(rf"`\s*{_COMMANDS}\b[^`]*`"),
            re.compile(r"/bin/(?:ba|z)?sh\b|\bcmd(?:\.exe)?\s*/c\b"),
        ),
    ),
}
# Both linear: no pattern below may backtrack quadratically on attacker-sized input.
_SQL_COMMENT = re.compile(r"/\*[^*]*\*/")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Finding:
    """How suspicious a request looks (0 to 100) and which signals fired."""

    score: int
    signals: list[str] = field(default_factory=list)


def decoded_forms(text: str) -> list[str]:
    """``text`` and each successive percent-decoding of it that changed something."""
    forms = [text]
    current = text
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = unquote(current, errors="replace")
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    return forms


def _normalised(form: str) -> str:
    # SQL comments stand in for spaces (UNION/**/SELECT). Runs of whitespace become one
    # space, so a ``\s*`` in a pattern never has more than one character to try.
    # A newline stays a newline: it separates shell commands.
    return _SPACES.sub(_one_space, _SQL_COMMENT.sub(" ", form.lower()))


def _one_space(run: re.Match[str]) -> str:
    return "\n" if "\n" in run.group() else " "


def score(path: str, query: str) -> Finding:
    """Score a raw (still percent-encoded) path and query string."""
    path_forms = decoded_forms(path[:MAX_INPUT_CHARS])
    query_forms = decoded_forms(query[:MAX_INPUT_CHARS])
    # '+' is a space in a query string, never in a path.
    forms = path_forms + [form.replace("+", " ") for form in query_forms]
    texts = [_normalised(form) for form in forms]
    fired = [
        name
        for name, (_, patterns) in SIGNALS.items()
        if any(pattern.search(text) for pattern in patterns for text in texts)
    ]
    if not fired:
        return Finding(0, [])
    total = sum(SIGNALS[name][0] for name in fired)
    if len(path_forms) > 2 or len(query_forms) > 2:
        # Encoded more than once *and* matching: somebody is trying to evade filters.
        fired.append("multiple_encoding")
        total += 20
    return Finding(min(MAX_SCORE, total), fired)
