"""An account's personal fields: e-mail, display name, phone. Checked, sealed, looked up.

They are sealed field by field (``keyring.fields``); the e-mail address also gets a
blind index, so that a person can sign in with it and no two accounts share one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lensguard.errors import Conflict, ValidationFailed
from lensguard.keyring import sealed
from lensguard.keyring.fields import FieldKeys
from lensguard.store.models import User

EMAIL_INDEX = "users.email"
MAX_EMAIL = 254
MAX_DISPLAY_NAME = 128
FIELDS = sealed.USERS.fields
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Profile:
    email: str | None = None
    display_name: str | None = None
    phone: str | None = None


def normal_email(value: str) -> str:
    """The address as stored and indexed: NFKC, trimmed, lower case; or ValidationFailed."""
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email) or _CONTROL.search(email):
        raise ValidationFailed("email must be an address like name@example.org")
    return email


def normal_phone(value: str) -> str:
    """An E.164 number (``+`` and 7 to 15 digits; spaces, dots and dashes are dropped)."""
    phone = re.sub(r"[\s.\-()]", "", value)
    if not _PHONE.match(phone):
        raise ValidationFailed("phone must be an international number like +441632960961")
    return phone


def normal_display_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name or len(name) > MAX_DISPLAY_NAME or _CONTROL.search(name):
        raise ValidationFailed(
            f"display_name must be 1 to {MAX_DISPLAY_NAME} characters, no control characters"
        )
    return name


_NORMAL = {"email": normal_email, "phone": normal_phone, "display_name": normal_display_name}


def checked(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """``changes`` normalised; None (clear a field) passes as it is."""
    return {
        name: None if value is None else _NORMAL[name](value) for name, value in changes.items()
    }


async def read_profile(keys: FieldKeys, session: AsyncSession, user: User) -> Profile:
    return Profile(**await sealed.read(keys, session, sealed.USERS, user))


async def set_profile(
    keys: FieldKeys, session: AsyncSession, user: User, changes: Mapping[str, str | None]
) -> None:
    """Seal ``changes`` (already ``checked``) into ``user``; Conflict on a taken e-mail."""
    if "email" in changes:
        email = changes["email"]
        index = None
        if email is not None:
            index = await keys.index(session, email, column=EMAIL_INDEX, create=True)
            taken = await session.execute(
                select(User.id).where(User.email_index == index, User.id != user.id)
            )
            if taken.first() is not None:
                raise Conflict("another account already has this e-mail address")
        user.email_index = index
    await sealed.write(keys, session, sealed.USERS, user, changes)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # the same address set on two accounts at once
        raise Conflict("another account already has this e-mail address") from exc


async def user_by_email(keys: FieldKeys, session: AsyncSession, email: str) -> User | None:
    """The account with this e-mail address (by its blind index), or None."""
    try:
        normal = normal_email(email)
    except ValidationFailed:
        return None
    index = await keys.index(session, normal, column=EMAIL_INDEX)
    if index is None:
        return None
    found = await session.execute(select(User).where(User.email_index == index))
    return found.scalar_one_or_none()


async def phones_of_roles(keys: FieldKeys, session: AsyncSession, roles: list[str]) -> list[str]:
    """The phone numbers on file of the enabled accounts with one of ``roles``, each once
    (for SMS alerts to the people on duty; docs/alerts.md)."""
    users = await session.scalars(
        select(User).where(User.role.in_(roles), User.disabled.is_(False)).order_by(User.id)
    )
    numbers: list[str] = []
    for user in users:
        phone = (await read_profile(keys, session, user)).phone
        if phone and phone not in numbers:
            numbers.append(phone)
    return numbers
