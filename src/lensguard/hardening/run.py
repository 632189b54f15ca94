"""Run every check that applies: settings and files, the database, the live server."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from lensguard.access.policy import load_policy
from lensguard.hardening import account_checks, attacks, http_checks, tls_probe
from lensguard.hardening.config_checks import Host, check_config
from lensguard.hardening.findings import Check, Finding, Status
from lensguard.hardening.pki_checks import check_pki
from lensguard.settings import Settings
from lensguard.severity import Severity
from lensguard.store.db import Database, is_sqlite

PLAIN = Check(
    "TLS-ONLY",
    "Served over TLS",
    Severity.CRITICAL,
    "serve https:// only (the embedded server always does; so must the proxy)",
    "V12.2.1",
)
REACHED = Check(
    "NET-REACHED",
    "The server answers",
    Severity.HIGH,
    "check --url, the firewall and that the server runs",
    "V13.1.1",
)


@dataclass(frozen=True)
class Live:
    """The deployment to probe over the network."""

    url: str
    ca_file: Path | None = None
    max_probes: int = http_checks.MAX_PROBES


def _exists(path: str | None) -> bool:
    return bool(path) and Path(str(path)).is_file()


async def accounts(settings: Settings, now: datetime) -> list[Finding]:
    """The database checks; skipped (never failed) when the database cannot be read."""
    policy = load_policy(settings.security.access_control.policy_file)
    url = settings.database_url
    if is_sqlite(url) and not _exists(make_url(url).database):
        why = f"no database at {make_url(url).database} (start the server once)"
        return [account_checks.ADMIN_MFA.skipped(why), account_checks.STALE_KEYS.skipped(why)]
    db = Database(url)
    try:
        async with db.transaction() as session:
            return await account_checks.check_accounts(session, policy, now)
    except (SQLAlchemyError, OSError) as exc:
        why = f"the database could not be read ({type(exc).__name__})"
        return [account_checks.ADMIN_MFA.skipped(why), account_checks.STALE_KEYS.skipped(why)]
    finally:
        await db.dispose()


def _verify(target: Live) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(target.ca_file)) if target.ca_file else True


def live(target: Live, now: datetime) -> list[Finding]:
    """TLS, headers and the unauthenticated walk of the API, against ``target.url``."""
    parts = urlsplit(target.url)
    if parts.scheme != "https" or not parts.hostname:
        return [PLAIN.verdict(False, f"{target.url} is not an https:// URL")]
    port = parts.port or 443
    found = [PLAIN.verdict(True, f"https on port {port}")]
    tls = tls_probe.Target(parts.hostname, port, target.ca_file)
    try:
        found += tls_probe.check_tls(tls, now)
    except OSError as exc:
        return [*found, REACHED.verdict(False, f"{parts.hostname}:{port}: {exc.strerror or exc}")]
    with httpx.Client(base_url=target.url, verify=_verify(target), timeout=10) as client:
        try:
            found += http_checks.check_headers(client)
            found.append(http_checks.check_auth(client, target.max_probes))
        except httpx.HTTPError as exc:
            found.append(REACHED.verdict(False, f"{type(exc).__name__}: {exc}"))
    return found


async def run_audit(
    settings: Settings, host: Host, target: Live | None, now: datetime | None = None
) -> list[Finding]:
    """Every check, in the order the report shows them."""
    now = now or datetime.now(UTC)
    findings = check_config(settings, host) + check_pki(settings)
    findings += await accounts(settings, now)
    if target is not None:
        findings += await asyncio.to_thread(live, target, now)
    return findings


def attack(target: Live, credential: str | None, now: datetime) -> list[Finding]:
    """``security test``: the live audit checks, forged tokens and the authorisation walk."""
    found = live(target, now)
    if any(f.id in (PLAIN.id, REACHED.id) and f.status is Status.FAIL for f in found):
        return found
    with httpx.Client(base_url=target.url, verify=_verify(target), timeout=10) as client:
        spec = client.get("/openapi.json")
        if spec.status_code != 200:
            return [*found, REACHED.verdict(False, f"/openapi.json answered {spec.status_code}")]
        document = spec.json()
        found += attacks.check_forgeries(client, document, credential)
        if credential is None:
            found.append(attacks.AUTHZ.skipped("no credential given (--token-file)"))
        else:
            found.append(attacks.check_authorization(client, document, credential))
    return found
