"""``lensguard admin``: manage accounts from the server's shell."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from redis.asyncio import Redis

from lensguard.access.policy import load_policy
from lensguard.audit.entry import AuditEvent
from lensguard.cli.context import (
    audit_log_for,
    console,
    database_errors,
    errors,
    field_keys_for,
    friendly_errors,
    settings_from,
)
from lensguard.errors import NotFound, ValidationFailed
from lensguard.guard.blocklist_file import FileBlocklist
from lensguard.guard.blocklist_redis import RedisBlocklist
from lensguard.identity.password_policy import check_password
from lensguard.identity.passwords import hash_password, make_hasher
from lensguard.identity.profile import checked, set_profile
from lensguard.identity.usernames import fold, new_username
from lensguard.logs import configure_logging
from lensguard.settings import Settings
from lensguard.store.db import Database
from lensguard.store.users import create_user, get_user_by_username

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


async def _create(
    settings: Settings, username: str, password: str, role: str, profile: dict[str, str | None]
) -> None:
    db = Database(settings.database_url)
    log = audit_log_for(settings)
    fields = field_keys_for(settings)
    try:
        hashed = await asyncio.to_thread(hash_password, make_hasher(), password)
        async with db.transaction() as session:
            # The password was typed by whoever runs this, not by the account's owner.
            user = await create_user(
                session,
                username=username,
                password_hash=hashed,
                role=role,
                must_change_password=True,
            )
            if profile:
                await set_profile(fields, session, user, profile)
            await log.append(
                session,
                AuditEvent(
                    action="user.create",
                    outcome="success",
                    actor_type="system",
                    actor_name="lensguard-cli",
                    resource_type="user",
                    resource_id=user.id,
                    details={
                        "role": role,
                        "via": "lensguard admin create",
                        "profile": sorted(profile),
                    },
                ),
            )
    finally:
        await db.dispose()


@app.command("create")
def create(  # noqa: PLR0917 - typer maps each parameter to an option
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ -).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    role: Annotated[str, typer.Option(help="Role to grant.")] = "admin",
    email: Annotated[
        str | None, typer.Option(help="E-mail address (sealed at rest; also signs in).")
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Name the console shows.")
    ] = None,
) -> None:
    """Create an account. The password is prompted for (twice) unless --password-stdin.

    The name is stored folded (``Ada`` becomes ``ada``); the role must be one of the
    policy's; the password must meet the same rules as the API's (12 to 128 characters,
    not a common password, not containing the name). The new account must change its
    password at first sign-in.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors():
        username = new_username(username)
        given = {"email": email, "display_name": display_name}
        profile = checked({name: value for name, value in given.items() if value is not None})
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        load_policy(settings.security.access_control.policy_file).require_role_or_invalid(role)
        check_password(password, username=username)  # the same rules as the API
    except ValidationFailed as exc:
        errors.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    with friendly_errors():
        asyncio.run(_create(settings, username, password, role, profile))
    console.print(f"created {role} {username!r}")


async def _unblock(settings: Settings, address: str) -> bool:
    if settings.redis_url is None:
        return await FileBlocklist(settings.var_dir / "blocklist.jsonl").unblock(address)
    redis = Redis.from_url(settings.redis_url)
    try:
        return await RedisBlocklist(redis).unblock(address)
    finally:
        await redis.aclose()


async def _unlock(settings: Settings, username: str, address: str | None) -> list[str]:
    done: list[str] = []
    db = Database(settings.database_url)
    log = audit_log_for(settings)
    try:
        async with db.transaction() as session:
            user = await get_user_by_username(session, username=username)
            if user is None:
                raise NotFound(f"no account named {username!r}")
            enabled = user.disabled
            if enabled:
                user.disabled = False
                done.append(f"enabled {username!r}")
            unblocked = address is not None and await _unblock(settings, address)
            if unblocked:
                done.append(f"unblocked {address}")
            await log.append(
                session,
                AuditEvent(
                    action="admin.unlock",
                    outcome="success",
                    actor_type="system",
                    resource_type="user",
                    resource_id=user.id,
                    # The address is personal: sealed under the user's key (audit.seal).
                    details={
                        "via": "cli",
                        "enabled": enabled,
                        "unblocked": unblocked,
                        "address": address,
                    },
                ),
            )
    finally:
        await db.dispose()
    return done


@app.command("unlock")
def unlock(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The account to enable again.")],
    address: Annotated[
        str | None,
        typer.Option("--address", help="Also lift the block or throttle on this address."),
    ] = None,
) -> None:
    """Enable an account an automatic response (or anyone) disabled, from the server's shell.

    The way back when a response isolated the administrators you would use to undo it:
    the account is enabled again (its old sessions and API keys stay revoked, so it signs
    in afresh), and `--address` lifts a block on the address you connect from. Audited as
    `admin.unlock`. In embedded mode the address is lifted in the journal: restart the
    server (or wait out the block) for a running one to see it.
    """
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        done = asyncio.run(_unlock(settings, fold(username), address))
    console.print("; ".join(done) if done else f"{username!r} was neither disabled nor blocked")
