"""The one place errors become RFC 9457 ``application/problem+json`` responses.

Handlers cover our own exception tree, Starlette's HTTP errors (404, 405), request
validation (422) and anything unexpected (500, logged with its traceback, answered
without one). ``CatchAllMiddleware`` sits inside the security-headers middleware so
even a 500 carries the headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from redis import exceptions as redis_exc
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lensguard.errors import LensguardError, ServiceUnavailable, ValidationFailed
from lensguard.logs import get_logger
from lensguard.problem_json import PROBLEM_BASE as PROBLEM_BASE  # noqa: PLC0414 - re-exported
from lensguard.problem_json import PROBLEM_JSON as PROBLEM_JSON  # noqa: PLC0414 - re-exported
from lensguard.problem_json import error_response as error_response  # noqa: PLC0414 - re-exported
from lensguard.problem_json import problem_response as problem_response  # noqa: PLC0414

log = get_logger("lensguard.api")
# An error location may hold the caller's own keys (an unexpected field, a dict key):
# only plain identifiers are repeated, anything else becomes "*".
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
UNAVAILABLE = (
    sqlalchemy_exc.OperationalError,
    sqlalchemy_exc.InterfaceError,
    sqlalchemy_exc.TimeoutError,
    redis_exc.ConnectionError,
    redis_exc.TimeoutError,
    ConnectionError,
)


class ProblemField(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every lensguard error is returned."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemField] | None = None
    retry_after: int | None = None


def _problem(description: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


# The headers a problem of that status always carries (docs/errors.md).
_HEADERS = {
    401: {"WWW-Authenticate": 'Bearer realm="lensguard"'},
    416: {"Content-Range": "bytes */N: the size of what was asked for"},
    429: {"Retry-After": "Seconds to wait before trying again"},
}


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid, expired or revoked credentials",
    403: "The policy denies this action",
    404: "No such resource, or outside your scope",
    405: "Method not allowed",
    409: "Conflicts with current state",
    410: "Gone for good (e.g. a recording whose key was deleted)",
    413: "Request body too large",
    415: "Unsupported request body media type",
    416: "Range not satisfiable; Content-Range gives the size",
    422: "Invalid input; errors lists each field",
    429: "Rate limited; see Retry-After",
    500: "Internal error",
    503: "A required store is unreachable",
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _problem(text, _HEADERS.get(status)) for status, text in _DESCRIPTIONS.items()
}
"""Every problem status lensguard answers, as OpenAPI responses."""

ANY_ROUTE = (400, 429, 500)
"""What any operation may answer: a request refused as an injection attempt
(``suspicious-request``, docs/threats.md), the per-address rate limit, and a bug."""
AUTHENTICATED = (401, 403, 503)
"""What a route that needs credentials may answer (503: the revocation store is down)."""
BODY = (413, 415, 422)
"""What a route that reads a JSON body may answer."""


def problems(*statuses: int | tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """The problem+json responses of an operation, for ``responses=``: only those it can give.

    Accepts statuses and tuples of them (``problems(AUTHENTICATED, 404)``).
    """
    wanted: set[int] = set()
    for status in statuses:
        wanted.update(status if isinstance(status, tuple) else (status,))
    return {status: PROBLEM_RESPONSES[status] for status in sorted(wanted)}


def _field(err: Mapping[str, Any]) -> str:
    parts = [
        str(part) if isinstance(part, int) or _FIELD_NAME.fullmatch(str(part)) else "*"
        for part in err.get("loc", ())
    ]
    return ".".join(parts) or "body"


def _message(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", "value_error"))
    ctx = err.get("ctx") or {}
    if kind == "union_tag_invalid":
        # pydantic's text quotes the tag that was sent; name the expected ones instead.
        return f"must be tagged with one of: {ctx.get('expected_tags', '')}"
    message = str(err.get("msg", "invalid"))
    sent = err.get("input")
    # Belt and braces for messages built from the input (custom validators, new types).
    if isinstance(sent, str) and len(sent) >= 3 and sent in message:
        return f"invalid value ({kind})"
    return message


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Field, message and type for each error; the rejected input is never echoed back."""
    return [
        {
            "field": _field(err),
            "message": _message(err),
            "type": str(err.get("type", "value_error")),
        }
        for err in errors
    ]


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path accepts (Starlette names only the first's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route_methods)
    return ", ".join(sorted(methods))


async def _on_lensguard_error(request: Request, exc: Exception) -> Response:
    exc = cast(LensguardError, exc)  # registered for LensguardError only
    return error_response(exc, instance=request.url.path)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)  # registered for HTTPException only
    # Starlette's default detail is the status phrase; our routers raise our own errors.
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(
        status=exc.status_code,
        instance=request.url.path,
        headers=headers,
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)  # registered for RequestValidationError only
    errors = _validation_errors(exc.errors())
    fields = ", ".join(e["field"] for e in errors)
    err = ValidationFailed(f"invalid input in: {fields}", errors=errors)
    return error_response(err, instance=request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(LensguardError, _on_lensguard_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)


class CatchAllMiddleware:
    """Turn an unhandled exception into a bare 500 problem; log the traceback, leak nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except LensguardError as exc:
            if started:
                raise
            await error_response(exc, instance=scope.get("path"))(scope, receive, send)
        except UNAVAILABLE as exc:
            # A store went away mid-request: say so (503) rather than blame the caller.
            log.error("store_unavailable", path=scope.get("path"), error=type(exc).__name__)
            if started:
                raise
            err = ServiceUnavailable("a required store is unreachable; try again shortly")
            await error_response(err, instance=scope.get("path"))(scope, receive, send)
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"), method=scope.get("method"))
            if started:
                raise
            await problem_response(status=500, instance=scope.get("path"))(scope, receive, send)
