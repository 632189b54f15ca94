"""problem+json responses built from our errors, with no web framework above Starlette.

``api/problems.py`` registers the handlers that use these; the guard middleware, which
answers before routing, uses them directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from lensguard.errors import LensguardError

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:lensguard:problem:"

# ``instance`` repeats the request path only when it is plain: a path carrying markup or
# other odd characters is input, and problems never echo input.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/._~-]{0,255}")


def problem_response(
    *,
    status: int,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Build a problem+json response. ``slug`` None means ``about:blank`` (plain HTTP status)."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}{slug}" if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance and _PLAIN_PATH.fullmatch(instance):
        body["instance"] = instance
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    return Response(
        content=json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def error_response(exc: LensguardError, instance: str | None = None) -> Response:
    """The problem response for one of our own errors."""
    return problem_response(
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        instance=instance,
        headers=exc.headers(),
        extensions=exc.extensions,
    )
