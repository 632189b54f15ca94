"""usernames folded (NFKC, case-folded) and a unique look-alike skeleton

Existing names are folded in place. Where two accounts fold to one name, the oldest
(by created_at, then id) keeps it; each younger one is renamed ``<name>~<8 id chars>``
and disabled, because an account made to look like an older one is what an
impersonation looks like: an admin checks it and enables it again under its new name.
Accounts whose names merely read alike (``bob0`` beside ``bobo``) keep their names;
the younger gets no skeleton (NULL), and new names are refused against the older's.
Downgrade drops the skeleton and keeps the folded names.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

MAX_LENGTH = 64
# Frozen copies of identity/usernames.py as of this revision: a migration must not change
# meaning when the application code does.
LOOKALIKES = (("0", "o"), ("1", "l"), ("rn", "m"), ("vv", "w"))

users = sa.table(
    "users",
    sa.column("id", sa.String),
    sa.column("username", sa.String),
    sa.column("username_skeleton", sa.String),
    sa.column("disabled", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)


def fold(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def skeleton(name: str) -> str:
    merged = fold(name)
    for seen, reads_as in LOOKALIKES:
        merged = merged.replace(seen, reads_as)
    return merged


def plan(rows: list[tuple[str, str]]) -> dict[str, tuple[str, str | None, bool]]:
    """Per user id, oldest first: (new name, skeleton or None, disable)."""
    names: set[str] = set()
    skeletons: set[str] = set()
    out: dict[str, tuple[str, str | None, bool]] = {}
    for user_id, username in rows:
        name, disable = fold(username), False
        if len(name) > MAX_LENGTH:
            name = f"user~{user_id[:12]}"
        if name in names:
            name, disable = f"{name[: MAX_LENGTH - 9]}~{user_id[:8]}", True
            if name in names:
                name = f"~{user_id}"
        names.add(name)
        look = skeleton(name)
        out[user_id] = (name, None if look in skeletons else look, disable)
        skeletons.add(look)
    return out


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(users.c.id, users.c.username).order_by(users.c.created_at, users.c.id)
    ).all()
    current = {user_id: username for user_id, username in rows}
    planned = plan([(user_id, username) for user_id, username in rows])
    renamed = [user_id for user_id, (name, _, _) in planned.items() if name != current[user_id]]
    # Two steps, so that no name is ever held twice in between (A: "Ada" -> "ada" while
    # B is still "ada"): the renamed rows first take a placeholder no name can equal.
    for user_id in renamed:
        bind.execute(users.update().where(users.c.id == user_id).values(username=f"~~{user_id}"))
    for user_id, (name, look, disable) in planned.items():
        values: dict[str, object] = {"username": name, "username_skeleton": look}
        if disable:
            values["disabled"] = True
        bind.execute(users.update().where(users.c.id == user_id).values(**values))
    with op.batch_alter_table("users") as batch:
        batch.create_unique_constraint(op.f("uq_users_username_skeleton"), ["username_skeleton"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_username_skeleton"), type_="unique")
        batch.drop_column("username_skeleton")
