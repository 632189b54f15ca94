"""Which new passwords are acceptable (length, common-password list, username, repeats).

``common-passwords.txt`` holds the top 10,000 entries of zxcvbn 4.5.0's ``passwords``
frequency list (MIT licence), lowercased, one per line.
"""

from __future__ import annotations

import functools
from importlib import resources

from lensguard.errors import ValidationFailed

MIN_LENGTH = 12
# Room for long passphrases, while bounding what every later step has to handle.
MAX_LENGTH = 128
# Shorter usernames ("al") would refuse too many unrelated passwords.
MIN_USERNAME_LENGTH = 3
COMMON_PASSWORDS_FILE = "common-passwords.txt"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped common-password list, lowercase; read once."""
    text = resources.files("lensguard.identity").joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    return frozenset(
        line for line in (raw.strip() for raw in text.splitlines()) if line and line[0] != "#"
    )


def _problems(password: str, username: str | None) -> list[tuple[str, str]]:
    if len(password) > MAX_LENGTH:
        # Nothing else is worth checking on input this long.
        return [("password_too_long", f"password must be at most {MAX_LENGTH} characters")]
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(
            ("password_too_short", f"password must be at least {MIN_LENGTH} characters")
        )
    folded = password.casefold()
    # "password1234" or "dragon!!2024" are the list's entries with the padding people add
    # to reach a length rule: strip trailing digits and symbols before looking up.
    core = folded.rstrip("0123456789!@#$%^&*()-_=+.,?~ ")
    if folded in common_passwords() or (len(core) >= 4 and core in common_passwords()):
        problems.append(("password_common", "password is one of the most commonly used passwords"))
    if (
        username is not None
        and len(username) >= MIN_USERNAME_LENGTH
        and username.casefold() in folded
    ):
        problems.append(("password_contains_username", "password must not contain the username"))
    if len(set(password)) == 1:
        problems.append(
            ("password_repeated_character", "password must not be one character repeated")
        )
    return problems


def check_password(password: str, *, username: str | None = None) -> None:
    """Raise ``ValidationFailed`` listing every rule ``password`` breaks."""
    problems = _problems(password, username)
    if problems:
        errors = [{"field": "password", "message": msg, "type": kind} for kind, msg in problems]
        raise ValidationFailed("; ".join(msg for _, msg in problems), errors=errors)
