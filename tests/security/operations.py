"""Every operation of the served OpenAPI document, with the action its route declares.

The document is what clients (and attackers) are told exists, so the security tests
walk it rather than a hand-kept list: a new route is covered the moment it is served.
Each operation is matched to its ``APIRoute`` to read the declared action, and turned
into a request with placeholder path parameters and an empty JSON body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from lensguard.access.declare import PUBLIC, declared_action

PLACEHOLDER_ID = "0123456789abcdef0123456789abcdef"
"""Looks like one of our ids, names nothing: targets are absent (404), never someone's."""
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
LEAKS = ("Traceback", 'File "', "sqlalchemy", "site-packages", "lensguard/")
"""Text that only an internal error would put into a response body."""


@dataclass(frozen=True)
class Operation:
    """One (method, path) of the OpenAPI document and the action its route declares."""

    method: str
    path: str
    action: str
    has_body: bool
    query: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def public(self) -> bool:
        return self.action == PUBLIC

    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", PLACEHOLDER_ID, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.action})"


def _placeholder(schema: dict[str, Any]) -> str:
    kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    if "integer" in kinds or "number" in kinds:
        return "1"
    if "boolean" in kinds:
        return "false"
    return PLACEHOLDER_ID


def route_table(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """Routes by (method, path as the OpenAPI document spells it)."""
    table = {}
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods:
                # path_format drops converters: /blocklist/{address:path} -> /{address}.
                table[(method, route.path_format)] = route
    return table


def parse_operations(doc: dict[str, Any], app: FastAPI) -> list[Operation]:
    """The operations of ``doc``, each with its route's declared action.

    Raises ``LookupError`` when the document names an operation no route serves, or a
    route declares no action: either way the matrix could not say what to expect.
    """
    routes = route_table(app)
    found = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            route = routes.get((method.upper(), path))
            if route is None:
                raise LookupError(f"{method.upper()} {path} is documented but not routed")
            action = declared_action(route)
            if action is None:
                raise LookupError(f"{method.upper()} {path} declares no action")
            query = {
                p["name"]: _placeholder(p.get("schema", {}))
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and p.get("required")
            }
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    action=action,
                    has_body="requestBody" in operation,
                    query=query,
                )
            )
    return found


async def fetch_document(http: httpx.AsyncClient) -> dict[str, Any]:
    """The OpenAPI document as the running app serves it to anyone."""
    response = await http.get("/openapi.json")
    if response.status_code != 200:
        raise LookupError(f"/openapi.json answered {response.status_code}")
    doc: dict[str, Any] = response.json()
    return doc


async def send(
    http: httpx.AsyncClient, operation: Operation, credential: str | None
) -> httpx.Response:
    """Call ``operation`` with placeholder ids, ``{}`` as its body, and the credential."""
    headers = {"Authorization": f"Bearer {credential}"} if credential is not None else {}
    extra: dict[str, Any] = {"json": {}} if operation.has_body else {}
    return await http.request(
        operation.method, operation.url(), params=operation.query, headers=headers, **extra
    )


def response_faults(response: httpx.Response) -> list[str]:
    """What is wrong with a response whatever the caller: 5xx, or an error that is
    not problem+json or that shows internals."""
    faults = []
    if response.status_code >= 500:
        faults.append(f"server error {response.status_code}")
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", "")
        if content_type != "application/problem+json":
            faults.append(f"error as {content_type or 'no content type'}")
        faults.extend(f"body shows {leak!r}" for leak in LEAKS if leak in response.text)
    return faults
