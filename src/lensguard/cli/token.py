"""``lensguard token inspect``: what an access token says, and whether it would pass now.

The token is read from standard input (or a file), never from the command line, where
the shell history and the process list would keep it. The output shows the header, the
claims, the expiry, which signing key made it and whether that key is still published,
whether the signature and every rule the server applies pass, and whether the session
or the token is revoked. It never prints the token, its signature or any key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from redis.asyncio import Redis
from sqlalchemy import select

from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import console, database_errors, errors, friendly_errors, settings_from
from lensguard.errors import ConfigurationError
from lensguard.identity.context import build_identity
from lensguard.identity.revocation import session_key, token_key
from lensguard.identity.tokens import MAX_TOKEN_BYTES, InvalidToken
from lensguard.logs import configure_logging
from lensguard.store.db import Database
from lensguard.store.models import SigningKey

app = typer.Typer(help="Inspect access tokens.", no_args_is_help=True)


class Unreadable(ValueError):
    """Not a compact JWS whose header and claims are JSON objects."""


def _segment(text: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Unreadable("a segment is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise Unreadable("a segment is not a JSON object")
    return value


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims, unverified; ``Unreadable`` saying why not."""
    if len(token) > MAX_TOKEN_BYTES or not token.isascii():
        raise Unreadable(f"not a token: longer than {MAX_TOKEN_BYTES} bytes or not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise Unreadable("not a token: a JWT has three dot-separated parts")
    return _segment(parts[0]), _segment(parts[1])


@dataclass
class Verdict:
    valid: bool
    reason: str | None
    revoked: bool | None
    key: dict[str, Any] | None


def _when(value: Any) -> str:
    if type(value) is not int:
        return repr(value)
    at = datetime.fromtimestamp(value, UTC)
    delta = int((at - datetime.now(UTC)).total_seconds())
    ago = f"in {delta}s" if delta >= 0 else f"{-delta}s ago"
    return f"{at:%Y-%m-%d %H:%M:%S} UTC ({ago})"


async def _verdict(token: str, claims: dict[str, Any], kid: Any, ctx: typer.Context) -> Verdict:
    settings = resolve_secrets(settings_from(ctx))
    if settings.secret_key is None:
        raise ConfigurationError("secret_key is not set")
    db = Database(settings.database_url)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    try:
        identity = build_identity(settings, db, redis)
        async with db.sessions() as session:
            row = await session.scalar(select(SigningKey).where(SigningKey.kid == str(kid)))
        key = None
        if row is not None:
            key = {
                "kid": row.kid,
                "created_at": row.created_at.isoformat(),
                "retired_at": row.retired_at.isoformat() if row.retired_at else None,
            }
        try:
            verified = await identity.tokens.verify_access(token)
        except InvalidToken as exc:
            return Verdict(False, exc.reason, None, key)
        keys = [token_key(verified.jti)]
        if verified.session_id is not None:
            keys.append(session_key(verified.session_id))
        revoked = await identity.revocations.any_revoked(keys)
        return Verdict(not revoked, "revoked" if revoked else None, revoked, key)
    finally:
        await db.dispose()
        if redis is not None:
            await redis.aclose()


def _read(source: Path | None) -> str:
    text = source.read_text() if source is not None else sys.stdin.read(MAX_TOKEN_BYTES + 64)
    token = text.strip()
    return token.removeprefix("Bearer ").strip()


@app.command("inspect")
def inspect(
    ctx: typer.Context,
    token_file: Annotated[
        Path | None,
        typer.Option("--file", dir_okay=False, help="Read the token from this file."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show an access token's header, claims, expiry and signing key, and whether the
    server would accept it now (signature, rules, revocation).

    Reads the token from standard input (``pbpaste | lensguard token inspect``) or --file,
    never from the command line. Exit 0 when it would be accepted, 1 when not, 2 when it
    is not a token at all.
    """
    configure_logging("WARNING")
    token = _read(token_file)
    try:
        header, claims = parse(token)
    except Unreadable as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    with friendly_errors(), database_errors():
        verdict = asyncio.run(_verdict(token, claims, header.get("kid"), ctx))
    report = {
        "header": {k: header.get(k) for k in ("alg", "typ", "kid")},
        "claims": claims,
        "expires": _when(claims.get("exp")),
        "issued": _when(claims.get("iat")),
        "signing_key": verdict.key,
        "accepted": verdict.valid,
        "reason": verdict.reason,
        "revoked": verdict.revoked,
    }
    if as_json:
        console.print(json.dumps(report, indent=2, default=str), markup=False)
    else:
        for name in ("header", "claims"):
            console.print(f"{name}: {json.dumps(report[name], sort_keys=True)}", markup=False)
        console.print(f"issued {report['issued']}; expires {report['expires']}", markup=False)
        key = verdict.key
        if key is None:
            console.print(f"signing key: {header.get('kid')!r} is not one of ours", markup=False)
        else:
            state = f"retired {key['retired_at']}" if key["retired_at"] else "signing now"
            console.print(f"signing key: {key['kid']} ({state})", markup=False)
        verdict_text = "ACCEPTED" if verdict.valid else f"REFUSED: {verdict.reason}"
        console.print(verdict_text, markup=False)
    raise typer.Exit(0 if verdict.valid else 1)
