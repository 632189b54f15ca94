from typing import Any

import pytest
from fastapi import Depends, FastAPI
from starlette.responses import Response
from starlette.routing import Host

from lensguard.access.declare import (
    IN_BAND,
    PUBLIC,
    check_routes_declared,
    declared_action,
    mark_action,
)
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


def test_mark_action_tags_the_dependency_it_returns() -> None:
    def dependency() -> None: ...

    assert mark_action(dependency, "camera_view") is dependency
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/watch", dependencies=[Depends(dependency)])
    async def watch() -> None: ...

    (route,) = app.routes
    assert declared_action(route) == "camera_view"  # type: ignore[arg-type]
    check_routes_declared(app, known_actions={"camera_view"})
    with pytest.raises(ConfigurationError, match=r"/watch \(camera_view\)"):
        check_routes_declared(app, known_actions={"camera_control"})


def test_marking_again_replaces_the_action() -> None:
    def dependency() -> None: ...

    mark_action(dependency, "camera_view")
    mark_action(mark_action(dependency, "basic_control"), "camera_control")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/ptz", dependencies=[Depends(dependency)])
    async def ptz() -> None: ...

    (route,) = app.routes
    assert declared_action(route) == "camera_control"  # type: ignore[arg-type]


def test_public_and_in_band_routes_need_no_policy_action() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health", dependencies=[requires(PUBLIC)])
    async def health() -> None: ...

    @app.websocket("/signal", dependencies=[requires(IN_BAND)])
    async def signal() -> None: ...

    assert sorted(declared_action(r) or "" for r in app.routes) == [IN_BAND, PUBLIC]  # type: ignore[arg-type]
    check_routes_declared(app, known_actions=set())


def test_refusal_lists_every_undeclared_route_in_order() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/declared", dependencies=[requires(PUBLIC)])
    async def declared() -> None: ...

    @app.get("/zeta")
    async def zeta() -> None: ...

    @app.get("/alpha")
    async def alpha() -> None: ...

    async def raw(_request: Any) -> Response:
        return Response()

    app.add_route("/raw", raw)
    # A host route has no path of its own: it is named by its repr.
    host = Host("api.example.org", app=FastAPI())
    app.router.routes.append(host)
    with pytest.raises(ConfigurationError) as raised:
        check_routes_declared(app, known_actions=set())
    listed = ", ".join(sorted(["/zeta", "/alpha", "/raw", repr(host)]))
    assert raised.value.detail == (
        f"routes without a declared action (add dependencies=[requires(...)]): {listed}"
    )


def test_refusal_lists_every_unknown_action_in_order() -> None:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/zoom", dependencies=[requires("camera_zoom")])
    async def zoom() -> None: ...

    @app.get("/fly", dependencies=[requires("teleport")])
    async def fly() -> None: ...

    @app.get("/view", dependencies=[requires("camera_view")])
    async def view() -> None: ...

    with pytest.raises(ConfigurationError) as raised:
        check_routes_declared(app, known_actions={"camera_view"})
    assert raised.value.detail == (
        "routes declare actions the policy does not define: /fly (teleport), /zoom (camera_zoom)"
    )
