from typing import Any

import pytest
from fastapi import FastAPI
from starlette.responses import Response

from lensguard.access.declare import PUBLIC, check_routes_declared, declared_action
from lensguard.api.deps import requires
from lensguard.app import create_app
from lensguard.errors import ConfigurationError


def test_every_route_of_the_app_declares_an_action(make_settings: Any) -> None:
    app = create_app(make_settings())
    for route in app.routes:
        assert declared_action(route) is not None, route  # type: ignore[arg-type]


def test_undeclared_route_is_refused_at_start_up() -> None:
    app = FastAPI()

    @app.get("/declared", dependencies=[requires(PUBLIC)])
    async def declared() -> None: ...

    @app.get("/forgotten")
    async def forgotten() -> None: ...

    with pytest.raises(ConfigurationError, match="/forgotten"):
        check_routes_declared(app, known_actions=set())


def test_raw_starlette_routes_are_refused() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def raw(_request: Any) -> Response:
        return Response()

    app.add_route("/raw", raw)
    with pytest.raises(ConfigurationError, match="/raw"):
        check_routes_declared(app, known_actions=set())


def test_action_unknown_to_the_policy_is_refused_at_start_up() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/typo", dependencies=[requires("camera_veiw")])
    async def typo() -> None: ...

    with pytest.raises(ConfigurationError, match="camera_veiw"):
        check_routes_declared(app, known_actions={"camera_view"})
