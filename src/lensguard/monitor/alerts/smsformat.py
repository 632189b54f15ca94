"""Checks for SMS settings: E.164 numbers, masking, body templates (no I/O, no heavy imports)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Template

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
PLACEHOLDERS = frozenset({"to", "text", "severity"})


def mask_number(number: str) -> str:
    """``+44*******123``: country code hint and the last three digits, nothing more."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 6) + number[-3:]


def check_number(number: str) -> str:
    """``number`` if it is E.164 (``+`` then 7-15 digits); ValueError naming it masked."""
    if not E164.match(number):
        raise ValueError(f"{mask_number(number)} is not an E.164 number (+ and 7-15 digits)")
    return number


def check_template(template: Mapping[str, str]) -> Mapping[str, str]:
    """``template`` if every ``$placeholder`` in it is one of ``PLACEHOLDERS``."""
    if not template:
        raise ValueError("the body template needs at least one field")
    for key, value in template.items():
        parsed = Template(value)
        if not parsed.is_valid():
            raise ValueError(f"template field {key!r} has a malformed placeholder")
        unknown = set(parsed.get_identifiers()) - PLACEHOLDERS
        if unknown:
            allowed = ", ".join(f"${name}" for name in sorted(PLACEHOLDERS))
            raise ValueError(
                f"template field {key!r} uses {', '.join(sorted(unknown))}; allowed: {allowed}"
            )
    return template
