"""The OpenAPI document, served as a declared route like every other."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute

from lensguard.access.declare import PUBLIC, declared_action
from lensguard.api.deps import requires
from lensguard.api.problems import Problem

router = APIRouter(tags=["meta"])
REF = "#/components/schemas/{model}"
ACTION_KEY = "x-lensguard-action"


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the Problem schema every error refers to."""
    doc: dict[str, Any] = app.openapi()
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        problem = Problem.model_json_schema(ref_template=REF)
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An access token from /api/v1/auth/login, or an API key lg_<id>_<secret>"
            ),
        }
    }
    doc["security"] = [{"bearer": []}]
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        action = declared_action(route)
        for method in route.methods:
            operation = doc["paths"].get(route.path, {}).get(method.lower())
            if operation is None:
                continue
            # The permission the route checks first (`lensguard security test` walks it).
            operation[ACTION_KEY] = action
            if action == PUBLIC:
                operation["security"] = []  # open to anonymous callers
    return doc


@router.get("/openapi.json", dependencies=[requires(PUBLIC)], include_in_schema=False)
async def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI 3 description of every operation."""
    return document(request.app)
