"""Usernames for new accounts: plain ASCII, stored folded.

``fold`` and ``skeleton`` (the stored name and what it reads as, both unique in the
store so look-alikes are refused by the database) live in ``store/usernames.py`` and
are re-exported here.
"""

from __future__ import annotations

import re

from lensguard.errors import ValidationFailed
from lensguard.store.usernames import fold as fold  # noqa: PLC0414 - re-exported
from lensguard.store.usernames import skeleton as skeleton  # noqa: PLC0414 - re-exported

MAX_LENGTH = 64
_NEW = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


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
