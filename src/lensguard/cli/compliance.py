"""``lensguard compliance``: the access review and compliance reports, from the shell."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from lensguard.access.policy import load_policy
from lensguard.audit import AuditLog
from lensguard.audit.entry import AuditEvent
from lensguard.cli.context import (
    audit_log_for,
    console,
    database_errors,
    errors,
    settings_from,
)
from lensguard.logs import configure_logging
from lensguard.privacy.access_review import (
    REVIEW_ACTION,
    AccessReview,
    ReviewOptions,
    build_review,
)
from lensguard.privacy.evidence import Period, Sources
from lensguard.privacy.reports import FRAMEWORKS, UnknownFramework, as_html, build_report, framework
from lensguard.private import write_private
from lensguard.settings import Settings
from lensguard.store.db import Database

app = typer.Typer(help="Compliance: access reviews and reports.", no_args_is_help=True)
Days = Annotated[int, typer.Option(min=1, max=3_650)]


async def _review(settings: Settings, log: AuditLog, options: ReviewOptions) -> AccessReview:
    policy = load_policy(settings.security.access_control.policy_file)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            review = await build_review(session, policy, now=datetime.now(UTC), options=options)
            await log.append(
                session,
                AuditEvent(
                    action=REVIEW_ACTION,
                    outcome="success",
                    actor_type="system",
                    resource_type="accounts",
                    details={"summary": dict(review.summary), "via": "cli"},
                ),
            )
        return review
    finally:
        await db.dispose()


def _when(value: object) -> str:
    return "never" if value is None else str(value)[:19].replace("T", " ")


def _print(review: AccessReview) -> None:
    accounts = Table(title=f"Accounts ({review.summary['accounts']})")
    for name in ("username", "role", "privileged", "MFA", "scope", "last sign-in", "status"):
        accounts.add_column(name)
    for a in review.accounts:
        status = "disabled" if a.disabled else ("STALE" if a.stale else "active")
        scope = f"sites {','.join(a.sites)}; devices {','.join(a.devices)}"
        accounts.add_row(
            a.username,
            a.role,
            "yes" if a.privileged else "",
            "yes" if a.mfa else ("NO" if a.privileged else "no"),
            scope,
            _when(a.last_login),
            status,
        )
    console.print(accounts)
    keys = Table(title=f"API keys unused for {review.options.key_unused_days} days")
    for name in ("id", "name", "owner", "created", "last used", "expires"):
        keys.add_column(name)
    for k in review.unused_api_keys:
        owner = k.owner_user_id or f"device {k.owner_device_id}"
        keys.add_row(
            k.id, k.name, owner, _when(k.created_at), _when(k.last_used_at), _when(k.expires_at)
        )
    console.print(keys)
    devices = Table(title=f"Devices not seen for {review.options.device_days} days")
    for name in ("name", "site", "created", "last seen"):
        devices.add_column(name)
    for d in review.idle_devices:
        devices.add_row(d.name, d.site, _when(d.created_at), _when(d.last_seen_at))
    console.print(devices)
    s = review.summary
    console.print(
        f"{s['stale']} stale accounts, {s['privileged_without_mfa']} privileged without MFA, "
        f"{s['unused_api_keys']} unused API keys ({s['never_used_api_keys']} never used), "
        f"{s['idle_devices']} idle devices. Previous review: {_when(review.last_review)}; "
        f"this one is recorded in the audit log; the next is due "
        f"{_when(review.at + timedelta(days=review.options.every_days))}.",
        markup=False,
    )


@app.command("access-review")
def access_review(
    ctx: typer.Context,
    stale_days: Days = 90,
    key_unused_days: Days = 90,
    device_days: Days = 30,
    output: Annotated[
        Literal["table", "json"], typer.Option("--format", help="table or json")
    ] = "table",
) -> None:
    """Run an access review: who holds what, and what nobody uses.

    Lists every account with its role, scope, MFA status and last sign-in; marks
    accounts with no sign-in for --stale-days as STALE; lists live API keys unused for
    --key-unused-days (or never used) and devices not seen for --device-days. The review
    is recorded in the audit log, which dates the next one due (quarterly). The JSON is
    documented in docs/privacy.md (*Access review*).

    To disable stale accounts, an officer confirms them through the running server
    (POST /api/v1/compliance/access-review/disable-stale), which ends their live
    sessions at once; this command only reads.
    """
    settings = settings_from(ctx)
    log = audit_log_for(settings)
    with database_errors():
        review = asyncio.run(
            _review(settings, log, ReviewOptions(stale_days, key_unused_days, device_days))
        )
    if output == "json":
        console.print(json.dumps(review.as_json(), indent=2), markup=False)
    else:
        _print(review)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _period(start: datetime | None, end: datetime | None) -> Period:
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - timedelta(days=90)
    if start >= end:
        errors.print("[red]error:[/red] --from must be before --to")
        raise typer.Exit(2)
    return Period(start, end)


async def _report(settings: Settings, log: AuditLog, name: str, period: Period) -> dict[str, Any]:
    db = Database(settings.database_url)
    try:
        body = await build_report(name, Sources(db, log, settings), period, now=datetime.now(UTC))
        async with db.transaction() as session:
            await log.append(
                session,
                AuditEvent(
                    action="compliance.report",
                    outcome="success",
                    actor_type="system",
                    actor_name="lensguard-cli",
                    resource_type="framework",
                    resource_id=name,
                    details={"summary": body["summary"], "start": body["from"], "end": body["to"]},
                ),
            )
        return body
    finally:
        await db.dispose()


@app.command("report")
def report(
    ctx: typer.Context,
    framework_name: Annotated[
        str, typer.Option("--framework", help=f"One of: {', '.join(sorted(FRAMEWORKS))}.")
    ],
    *,
    start: Annotated[
        datetime | None, typer.Option("--from", help="Start (UTC unless an offset is given).")
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="End (default: now).")] = None,
    output: Annotated[
        Literal["table", "json", "html"], typer.Option("--format", help="table, json or html")
    ] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write json or html here.")
    ] = None,
) -> None:
    """Map a framework's controls to evidence from live data (default: the last 90 days).

    Each control is evidenced, has a gap, or has no evidence in the period; the report
    says which and why, and never calls anything compliant. Audited as
    compliance.report. The mapping is in docs/privacy.md (*Compliance reports*).
    """
    configure_logging("WARNING")  # the report is the output: no info lines in it
    try:
        name = framework(framework_name)
    except UnknownFramework as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    settings = settings_from(ctx)
    log = audit_log_for(settings)
    with database_errors():
        body = asyncio.run(_report(settings, log, name, _period(start, end)))
    if output == "table":
        table = Table(title=f"{body['title']}: {body['from'][:10]} to {body['to'][:10]}")
        for column in ("control", "requirement", "status", "evidence"):
            table.add_column(column, overflow="fold")
        for control in body["controls"]:
            evidence = "\n".join(f"{e['status']}: {e['summary']}" for e in control["evidence"])
            table.add_row(control["id"], control["title"], control["status"], escape(evidence))
        console.print(table)
        return
    text = json.dumps(body, indent=2) if output == "json" else as_html(body)
    if out is None:
        console.print(text, markup=False)
    else:
        write_private(out, text.encode("utf-8"))
        console.print(f"wrote {out}", markup=False)
