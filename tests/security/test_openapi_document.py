"""Every operation of /openapi.json is documented well enough for a client to be built.

Walks the served document (as the authorisation matrix does), so a new route is held
to the same rules the moment it is served: an explicit summary, exactly one declared
tag, a schema for its success body (with its ``Link`` header when it pages), and its
errors as problem+json — 401 and 403 where it needs credentials, 404 where a path
names a resource, 422 where it takes input. The other direction is checked too: a
405 names every method of its path.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from lensguard.access.declare import PUBLIC, declared_action
from lensguard.api.problems import PROBLEM_JSON
from tests.api.conftest import Api
from tests.security.operations import (
    HTTP_METHODS,
    PLACEHOLDER_ID,
    fetch_document,
    route_table,
)

PROBLEM_REF = "#/components/schemas/Problem"
PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
async def document(api: Api) -> dict[str, Any]:
    return await fetch_document(api.http)


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _success_fault(operation: dict[str, Any]) -> str | None:
    success = {k: v for k, v in operation["responses"].items() if k.startswith("2")}
    # HTTP Range: a 206 beside a 200 is the same body, in part; it is not a second answer.
    if "206" in success and success.get("200", {}).get("content") == success["206"].get("content"):
        del success["206"]
    if len(success) != 1:
        return f"documents {len(success)} success responses, expected one"
    ((status, response),) = success.items()
    content = response.get("content", {})
    if status == "204":
        return "a 204 documents a body" if content else None
    if not content:
        return f"its {status} has no body schema"
    for media_type, body in content.items():
        schema = body.get("schema", {})
        if media_type == "application/json":
            named = schema.get("$ref") or schema.get("items", {}).get("$ref")
            if not named:
                return f"its {status} body is not a named model: {schema}"
        elif not schema.get("type"):
            return f"its {status} {media_type} body has no schema"
    return None


def _links(operation: dict[str, Any]) -> bool:
    """Whether the success response documents the ``Link`` header of the next page."""
    return any(
        "Link" in response.get("headers", {})
        for status, response in operation["responses"].items()
        if status.startswith("2")
    )


def _error_faults(operation: dict[str, Any], route: APIRoute) -> list[str]:
    errors = {int(k): v for k, v in operation["responses"].items() if k[0] in "45"}
    faults = [
        f"its {status} is not problem+json"
        for status, response in errors.items()
        if response.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {}).get("$ref")
        != PROBLEM_REF
    ]
    for status, header in ((401, "WWW-Authenticate"), (429, "Retry-After")):
        if status in errors and header not in errors[status].get("headers", {}):
            faults.append(f"its {status} does not document {header}")
    needed: set[int] = set()
    if declared_action(route) != PUBLIC:
        needed |= {401, 403}
    if "{" in route.path:
        needed.add(404)
    if operation.get("requestBody") or operation.get("parameters"):
        needed.add(422)
    faults += [f"does not document {status}" for status in sorted(needed - set(errors))]
    return faults


def operation_faults(doc: dict[str, Any], route: APIRoute, operation: dict[str, Any]) -> list[str]:
    """What is missing from one operation's documentation."""
    faults = []
    generated = route.name.replace("_", " ").title()
    summary = operation.get("summary")
    if not summary or summary == generated:
        faults.append("has no summary of its own")
    declared = {tag["name"] for tag in doc.get("tags", []) if tag.get("description")}
    tags = operation.get("tags", [])
    if len(tags) != 1 or tags[0] not in declared:
        faults.append(f"tags {tags}: expected one of the declared tags")
    success = _success_fault(operation)
    if success:
        faults.append(success)
    if "limit" in {p["name"] for p in operation.get("parameters", [])} and not _links(operation):
        faults.append("pages (it takes limit) but documents no Link header")
    return faults + _error_faults(operation, route)


async def test_every_operation_is_documented(api: Api, document: dict[str, Any]) -> None:
    routes = route_table(api.app)
    faults = [
        f"{method} {path} {fault}"
        for method, path, operation in _operations(document)
        for fault in operation_faults(document, routes[(method, path)], operation)
    ]
    assert faults == []
    assert len(_operations(document)) > 40


async def test_every_declared_tag_is_used(document: dict[str, Any]) -> None:
    used = {tag for _, _, operation in _operations(document) for tag in operation["tags"]}
    assert [tag["name"] for tag in document["tags"] if tag["name"] not in used] == []


async def test_the_walk_catches_an_undocumented_operation(document: dict[str, Any]) -> None:
    # The check itself must be able to fail: strip one operation bare and ask again.
    route = APIRoute(
        "/api/v1/devices/{device_id}", endpoint=lambda: None, name="read", methods=["GET"]
    )
    bare = {
        "parameters": [{"name": "device_id", "in": "path"}, {"name": "limit", "in": "query"}],
        "responses": {"200": {"description": "ok"}, "404": {"description": "no"}},
    }
    assert operation_faults(document, route, bare) == [
        "has no summary of its own",
        "tags []: expected one of the declared tags",
        "its 200 has no body schema",
        "pages (it takes limit) but documents no Link header",
        "its 404 is not problem+json",
        "does not document 401",
        "does not document 403",
        "does not document 422",
    ]


def _matching(doc: dict[str, Any], url: str) -> set[str]:
    """The documented methods of every path template that ``url`` matches."""
    methods: set[str] = set()
    for path, item in doc["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        if re.fullmatch(pattern, url):
            methods |= {m.upper() for m in item if m in HTTP_METHODS}
    return methods


async def test_every_405_lists_every_allowed_method(api: Api, document: dict[str, Any]) -> None:
    faults, probed = [], 0
    for path in document["paths"]:
        url = re.sub(r"\{[^}]+\}", PLACEHOLDER_ID, path)
        allowed = _matching(document, url)
        for method in (m for m in PROBED if m not in allowed):
            response = await api.http.request(method, url)
            probed += 1
            listed = set(response.headers.get("allow", "").split(", ")) - {"HEAD"}
            if response.status_code != 405 or listed != allowed:
                faults.append(f"{method} {url}: {response.status_code}, Allow {sorted(listed)}")
    assert faults == []
    assert probed > len(document["paths"])
