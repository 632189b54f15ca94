"""``lensguard evidence``: check signed evidence bundles offline; show and rotate the key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from rich.markup import escape

from lensguard.audit import AuditEvent
from lensguard.cli.context import (
    audit_log_for,
    console,
    database_errors,
    errors,
    friendly_errors,
    settings_from,
)
from lensguard.cli.keys import _wrap_key
from lensguard.identity.signing_keys import public_key_from_jwk
from lensguard.logs import configure_logging
from lensguard.recordings.bundle_check import MAX_MEMBER, BundleReport, check_bundle
from lensguard.recordings.evidence_keys import EvidenceKeys, evidence_jwk, public_pem
from lensguard.store.db import Database
from lensguard.store.types import utcnow

app = typer.Typer(
    help=(
        "Signed evidence bundles (POST /api/v1/recordings/exports).\n\n"
        "`verify` checks a bundle offline with only the server's public evidence key: "
        "the JWKS from https://SERVER/.well-known/jwks.json saved to a file, or a PEM "
        "from `lensguard evidence key --pem`. No database, secret or network is used."
    ),
    no_args_is_help=True,
)
MAX_KEY_FILE = 1024 * 1024


def _cannot(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _jwks(path: Path) -> dict[str, Ed25519PublicKey]:
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise _cannot(f"{path} is too large to be a JWKS file")
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _cannot(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        raise _cannot(f"{path} is not a JSON file") from None
    listed = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise _cannot(f'{path} is not a JWK Set (no "keys" list)')
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in listed:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            try:
                keys[jwk["kid"]] = public_key_from_jwk(jwk)
            except ValueError:
                continue  # not an Ed25519 key: it cannot have signed a bundle
    if not keys:
        raise _cannot(f"{path} holds no Ed25519 keys")
    return keys


def _pem(path: Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(path.read_bytes()[:MAX_KEY_FILE])
    except OSError as exc:
        raise _cannot(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise _cannot(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise _cannot(f"{path} is not an Ed25519 public key")
    return key


def _print(bundle: Path, report: BundleReport) -> None:
    manifest = report.manifest
    if report.ok:
        clip = manifest.get("clip", {})
        console.print(
            f"GOOD {escape(str(bundle))}: signature by {escape(str(report.kid))} verifies"
        )
        console.print(
            f"  device {escape(str(manifest.get('device_id')))}, "
            f"{escape(str(clip.get('start')))} to {escape(str(clip.get('end')))}, "
            f"{len(manifest.get('segments', []))} segments"
        )
        console.print(
            f"  exported {escape(str(manifest.get('created_at')))} by "
            f"{escape(str(manifest.get('exporter', {}).get('name')))}: "
            f"{escape(str(manifest.get('reason')))}"
        )
        console.print("  every file matches its signed SHA-256; the clip matches the manifest")
        return
    for problem in report.problems:
        console.print(f"BAD {escape(problem.file)}: {escape(problem.message)}")
    console.print(f"{len(report.problems)} problem(s): this bundle is not what the server signed")


@app.command("verify")
def verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle (zip) to check.", dir_okay=False)],
    jwks: Annotated[
        Path | None,
        typer.Option(
            "--jwks", help="The server's JWKS saved to a file (keys chosen by kid).", dir_okay=False
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The evidence public key as PEM.", dir_okay=False),
    ] = None,
) -> None:
    """Check a bundle offline: the signature, every file's SHA-256, the clip's digest.

    Prints GOOD and exits 0 when the bundle is exactly what the server signed; prints
    one BAD line per problem, naming the file (clip.webm, manifest.json, custody.json,
    README.txt, signature.json), and exits 1 otherwise; exits 2 when it cannot run
    (no key given, a key or bundle that cannot be read).
    """
    if (jwks is None) == (key is None):
        raise _cannot("give the public key: --jwks FILE or --key PEM (one of them)")
    keys = _jwks(jwks) if jwks is not None else {}
    single = _pem(key) if key is not None else None
    try:
        if bundle.stat().st_size > 8 * MAX_MEMBER:
            raise _cannot(f"{bundle} is too large to be a bundle")
        data = bundle.read_bytes()
    except OSError as exc:
        raise _cannot(f"cannot read {bundle}: {exc.strerror}") from None
    report = check_bundle(data, keys=keys, key=single)
    _print(bundle, report)
    raise typer.Exit(0 if report.ok else 1)


async def _keys(url: str, wrap_key: bytes) -> list[tuple[str, bool, dict[str, Any], str]]:
    db = Database(url)
    try:
        rows = await EvidenceKeys(db, wrap_key=wrap_key).all()
        return [(r.kid, r.retired_at is None, evidence_jwk(r), public_pem(r)) for r in rows]
    finally:
        await db.dispose()


@app.command("key")
def key_command(
    ctx: typer.Context,
    pem: Annotated[bool, typer.Option("--pem", help="Print PEM instead of a JWK Set.")] = False,
) -> None:
    """Print the evidence public keys (a JWK Set, or PEM), for checking bundles offline."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        found = asyncio.run(_keys(settings.database_url, _wrap_key(settings)))
    if not found:
        raise _cannot("no evidence key yet: one is made when the first bundle is signed")
    if pem:
        for kid, active, _, text in found:
            console.print(f"# {kid}{' (signing)' if active else ' (retired)'}")
            console.print(text.rstrip())
        return
    console.print(json.dumps({"keys": [jwk for _, _, jwk, _ in found]}, indent=2))


async def _rotate(url: str, wrap_key: bytes, settings_audit: Any) -> str:
    db = Database(url)
    try:
        kid = await EvidenceKeys(db, wrap_key=wrap_key).rotate(utcnow())
        async with db.transaction() as session:
            event = AuditEvent(
                action="evidence.key_rotated",
                outcome="success",
                actor_type="system",
                resource_type="evidence_key",
                resource_id=kid,
                details={"via": "cli"},
            )
            await settings_audit.append(session, event)
        return kid
    finally:
        await db.dispose()


@app.command("rotate-key")
def rotate_key(ctx: typer.Context) -> None:
    """Sign new bundles with a new evidence key; old keys stay published for old bundles."""
    settings = settings_from(ctx)
    configure_logging("WARNING")
    with friendly_errors(), database_errors():
        kid = asyncio.run(
            _rotate(settings.database_url, _wrap_key(settings), audit_log_for(settings))
        )
    console.print(kid)
    errors.print(f"new bundles are signed with {kid}; earlier keys stay in the JWKS")
