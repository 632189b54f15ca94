"""Usernames as people read them: stored and compared folded, new ones plain ASCII.

``fold`` (NFKC, case-folded, NFKC again) makes ``Admin``, ``ADMIN`` and the
full-width form (U+FF21...) one name. ``skeleton`` also merges the ASCII look-alikes of
Unicode's confusables list (UTS #39): ``0``/``o``, ``1``/``l``, ``rn``/``m`` and
``vv``/``w``. The store keeps both, each unique, so a new name that reads like an
existing one is refused by the database itself.
"""

from __future__ import annotations

import re
import unicodedata

from lensguard.errors import ValidationFailed

MAX_LENGTH = 64
_NEW = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Single characters first, so that e.g. "rn" formed after a replacement is merged too.
_LOOKALIKES = (("0", "o"), ("1", "l"), ("rn", "m"), ("vv", "w"))


def fold(name: str) -> str:
    """The form a username is stored, looked up and throttled under."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def skeleton(name: str) -> str:
    """``fold(name)`` with look-alike characters merged: equal skeletons read alike."""
    merged = fold(name)
    for seen, reads_as in _LOOKALIKES:
        merged = merged.replace(seen, reads_as)
    return merged


def new_username(name: str) -> str:
    """The folded name for a new account; refused unless it is plain ASCII.

    Letters outside ASCII are where look-alikes live (Cyrillic U+0430 for Latin ``a``),
    so new names use letters, digits, ``.``, ``_`` and ``-`` only.
    """
    folded = fold(name)
    if not name.isascii() or not _NEW.fullmatch(folded):
        message = "ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
        raise ValidationFailed(
            f"usernames are {message}",
            errors=[{"field": "username", "message": message, "type": "username"}],
        )
    return folded
