"""``lensguard privacy erase``: erasure requests (GDPR Art. 17) from the shell, four eyes.

The same requests, checks and certificates as ``/api/v1/privacy/erasures``
(``privacy/erasure.py``, ``privacy/recording_erasure.py``), against the database
directly. ``--by`` names the officer acting: an enabled account whose role holds
``compliance_manage`` and which is scoped to every site and device, as the API asks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from lensguard.access.can import can
from lensguard.access.principal import Principal
from lensguard.api.compliance import ACTION, EVERY_ACCOUNT
from lensguard.bootstrap import resolve_secrets
from lensguard.cli.context import (
    console,
    errors,
    friendly_errors,
    run_refusing,
    services_for,
    settings_from,
)
from lensguard.errors import Forbidden, ValidationFailed
from lensguard.identity.authn import user_principal
from lensguard.logs import configure_logging
from lensguard.privacy import erasure, recording_erasure
from lensguard.privacy.erasure import ErasureView
from lensguard.privacy.export import find_subject
from lensguard.services import Services

app = typer.Typer(
    help="""Erasure requests (GDPR Art. 17): an account, or recorded video of a person filmed.

One officer requests, a second approves, which runs the erasure and writes its signed
certificate (privacy.erasure_four_eyes: false lets one officer do both). Exit 0 on
success, 2 when a request is refused (unknown account, device or request, a legal
hold, four eyes, a bad range) with the reason on stderr. docs/privacy.md, *Erasure*.""",
    no_args_is_help=True,
)
T = TypeVar("T")
By = Annotated[
    str,
    typer.Option(
        "--by",
        help="The officer acting (username or id): an enabled account holding "
        "compliance_manage, scoped to every site and device.",
    ),
]
Format = Annotated[Literal["text", "json"], typer.Option("--format", help="text or json")]


def _run(ctx: typer.Context, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` on the server's service container; refusals print and exit 2."""
    settings = resolve_secrets(settings_from(ctx))
    configure_logging("WARNING")

    async def run() -> T:
        async with services_for(settings) as services:
            return await work(services)

    with friendly_errors():
        return run_refusing(run())


async def _officer(services: Services, who: str) -> Principal:
    user = await find_subject(services.db, who)
    if user.disabled:
        raise Forbidden(f"the account {who} is disabled")
    principal = user_principal(services, user, session_id=None, jti=None)
    if not can(principal, ACTION, EVERY_ACCOUNT):
        raise Forbidden(
            f"{user.username} may not erase: it needs {ACTION} and a scope of every site and device"
        )
    return principal


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{value!r} carries no time zone (add Z or +01:00)")
    return parsed.astimezone(UTC)


def _data(found: ErasureView) -> dict[str, Any]:
    data = dict(found.__dict__)
    for name in ("requested_at", "finished_at", "range_start", "range_end"):
        value = data[name]
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    return data


def _scope(found: ErasureView) -> str:
    if found.kind == "account":
        return f"account {found.user_id}"
    where = f"device {found.device_id}" if found.device_id else f"site {found.site}"
    start = found.range_start.isoformat() if found.range_start else "?"
    end = found.range_end.isoformat() if found.range_end else "?"
    return f"recordings of {where} from {start} to {end}"


def _print(found: ErasureView, output: str) -> None:
    if output == "json":
        console.print(json.dumps(_data(found), indent=2, sort_keys=True), markup=False)
        return
    console.print(f"erasure {found.id}: {found.state}, {_scope(found)}", markup=False)
    console.print(
        f"requested by {found.requested_by} at {found.requested_at.isoformat()}"
        + (f"; approved by {found.approved_by}" if found.approved_by else ""),
        markup=False,
    )
    if found.kind == "recordings":
        note = (
            " (no segment touched the range)"
            if found.state == "done" and not found.segments
            else ""
        )
        console.print(f"segments shredded: {found.segments}{note}", markup=False)
    if found.certificate is not None:
        console.print(f"certificate signature: {found.certificate['signature']}", markup=False)


@app.command("request")
def request_command(
    ctx: typer.Context,
    *,
    by: By,
    reason: Annotated[
        str, typer.Option(help="Why (10 to 500 characters), e.g. the subject's request number.")
    ],
    user: Annotated[
        str | None, typer.Option("--user", help="Erase this account (username or id).")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Erase this device's recordings (its id).")
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="Erase the recordings of every device of a site.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="With --device/--site: start, ISO 8601 with a time zone."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="With --device/--site: end, ISO 8601 with a time zone."),
    ] = None,
    output: Format = "text",
) -> None:
    """Request an erasure: of an account (--user), or of the video a device (--device) or
    a site's devices (--site) recorded from --from to --to, for a person filmed.

    Every segment that touches the range goes whole. A range must end by now, start before
    it ends and cover at most privacy.recording_erasure_max_days; a legal hold touching it
    refuses the request, naming the hold. Prints the request id a second officer approves.
    """
    reason = reason.strip()
    if not 10 <= len(reason) <= 500:
        errors.print("[red]error:[/red] --reason must be 10 to 500 characters")
        raise typer.Exit(2)
    chosen = [
        name for name, value in (("--user", user), ("--device", device), ("--site", site)) if value
    ]
    if len(chosen) != 1:
        errors.print("[red]error:[/red] give exactly one of --user, --device or --site")
        raise typer.Exit(2)
    if user is not None and (start or end):
        errors.print("[red]error:[/red] --from and --to go with --device or --site")
        raise typer.Exit(2)
    if user is None and not (start and end):
        errors.print("[red]error:[/red] a recordings erasure needs --from and --to")
        raise typer.Exit(2)

    async def work(services: Services) -> ErasureView:
        officer = await _officer(services, by)
        if user is not None:
            return await erasure.request(services, user, reason=reason, by=officer, address=None)
        assert start is not None and end is not None
        return await recording_erasure.request(
            services,
            device_id=device,
            site=site,
            start=_when(start),
            end=_when(end),
            reason=reason,
            by=officer,
            address=None,
        )

    found = _run(ctx, work)
    _print(found, output)
    if output == "text":
        console.print(
            f"a second officer approves it: lensguard privacy erase approve {found.id} --by NAME",
            markup=False,
        )


@app.command("approve")
def approve_command(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    by: By,
    output: Format = "text",
) -> None:
    """Approve and run an erasure; prints its outcome and certificate.

    A second officer approves (the requester too only with privacy.erasure_four_eyes:
    false). Safe to repeat: an interrupted erasure is finished, a done one is not run
    again. A recordings erasure is refused while a legal hold touches its range or a
    device still records into it.
    """

    async def work(services: Services) -> ErasureView:
        officer = await _officer(services, by)
        return await recording_erasure.approve(
            services,
            request_id,
            by=officer,
            address=None,
            four_eyes=services.settings.privacy.erasure_four_eyes,
        )

    _print(_run(ctx, work), output)


@app.command("show")
def show_command(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    output: Format = "text",
) -> None:
    """Print one request: its state, scope, who asked and approved, and its certificate
    (with --format json, the whole signed certificate; docs/privacy.md says how to check it).
    """

    async def work(services: Services) -> ErasureView:
        return await erasure.get(services, request_id)

    _print(_run(ctx, work), output)


@app.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[
        Literal["pending", "done"] | None, typer.Option(help="Only requests in this state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    output: Format = "text",
) -> None:
    """List erasure requests, newest first."""

    async def work(services: Services) -> list[ErasureView]:
        return await erasure.listed(services, state=state, limit=limit)

    found = _run(ctx, work)
    if output == "json":
        console.print(json.dumps([_data(f) for f in found], indent=2, sort_keys=True), markup=False)
        return
    table = Table("id", "kind", "state", "scope", "requested", "segments")
    for f in found:
        table.add_row(
            f.id,
            f.kind,
            f.state,
            escape(_scope(f)),
            f.requested_at.strftime("%Y-%m-%d %H:%M"),
            str(f.segments) if f.kind == "recordings" else "-",
        )
    console.print(table)
