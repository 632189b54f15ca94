"""The stored forms of a username: ``fold`` (the name) and ``skeleton`` (what it reads as).

``fold`` (NFKC, case-folded, NFKC again) makes ``Admin``, ``ADMIN`` and the
full-width form (U+FF21...) one name. ``skeleton`` also merges the ASCII look-alikes of
Unicode's confusables list (UTS #39): ``0``/``o``, ``1``/``l``, ``rn``/``m`` and
``vv``/``w``. The store keeps both, each unique, so a new name that reads like an
existing one is refused by the database itself. Which names are acceptable for new
accounts is ``identity/usernames.py``'s business.
"""

from __future__ import annotations

import unicodedata

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
