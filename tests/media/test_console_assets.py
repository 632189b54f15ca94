"""The viewer console's files: served from an allowlist, typed, and CSP-clean."""

import posixpath
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import PurePosixPath
from typing import Any

import httpx
import pytest

from lensguard.api.web import ASSETS
from lensguard.app import create_app
from lensguard.guard.headers import CSP


@pytest.fixture
async def http(make_settings: Any, sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database={"url": sqlite_url}))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        yield client


def source(name: str) -> str:
    return files("lensguard").joinpath("web", name).read_text(encoding="utf-8")


class Inline(HTMLParser):
    """Collects everything the CSP would refuse: inline script, style and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style" or "style" in names or any(n.startswith("on") for n in names):
            self.found.append(f"<{tag} {sorted(names)}>")
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        self.open = tag

    def handle_data(self, data: str) -> None:
        if self.open == "script" and data.strip():
            self.found.append(f"script body: {data.strip()[:40]}")


async def test_index_is_html_with_the_strict_csp(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    parser = Inline()
    parser.feed(response.text)
    assert parser.found == []
    assert '<script type="module" src="/static/app.js">' in response.text


SCRIPTS = sorted(
    ["app.js", "core.js", "router.js", "enrol.js", "player.js", "timeline.js", "download.js"]
    + [
        f"pages/{page}.js"
        for page in (
            "live",
            "recordings",
            "watched",
            "users",
            "sessions",
            "apikeys",
            "devices",
            "account",
            "thumbs",
            "reconnect",
            "wall",
            "policies",
            "audit",
            "security",
            "incidents",
            "compliance",
        )
    ]
    + [
        "pages/table.js",
        "pages/drive.js",
        "pages/gamepad.js",
        "pages/ptz.js",
        "pages/overlay.js",
        "sso.js",
    ]
)


@pytest.mark.parametrize(
    ("name", "media_type"),
    [(name, "text/javascript; charset=utf-8") for name in SCRIPTS]
    + [("app.css", "text/css; charset=utf-8")],
)
async def test_assets_have_their_media_types(
    http: httpx.AsyncClient, name: str, media_type: str
) -> None:
    response = await http.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.text == source(name)


@pytest.mark.parametrize(
    "path",
    [
        "/static/index.html",
        "/static/../settings.py",
        "/static/..%2fsettings.py",
        "/static/%2e%2e%2f%2e%2e%2fapp.py",
        "/static/app.js.map",
        "/static/APP.JS",
        "/static/",
        "/static/web/app.js",
        "/static/pages/%2e%2e/settings.py",
        "/static/pages/",
        "/static/pages/live.js/",
        "/index.html",
    ],
)
async def test_anything_outside_the_allowlist_is_not_found(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.get(path)
    assert response.status_code == 404, (path, response.text[:80])
    assert response.headers["content-type"] == "application/problem+json"


def test_every_listed_asset_exists() -> None:
    for file_name, _ in ASSETS.values():
        assert source(file_name)


def test_every_module_the_console_imports_is_served() -> None:
    imported = set()
    for name in SCRIPTS:
        folder = PurePosixPath(name).parent
        for spec in re.findall(r'^import .* from "(\.\.?/[a-z/]+\.js)";$', source(name), re.M):
            imported.add(posixpath.normpath(str(folder / spec)))
    assert imported and imported <= set(ASSETS)
    # Every served module is reachable from app.js, the one the page loads.
    assert imported | {"app.js"} == {name for name in ASSETS if name.endswith(".js")}
    assert set(SCRIPTS) == {name for name in ASSETS if name.endswith(".js")}


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_keep_tokens_out_of_storage_urls_and_markup(name: str) -> None:
    code = [line for line in source(name).splitlines() if not line.lstrip().startswith("//")]
    script = "\n".join(code)
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "innerHTML", "eval("):
        assert forbidden not in script, forbidden
    assert not re.search(r"[?&](token|access_token)=", script)
    assert ".style" not in script and 'setAttribute("style' not in script  # CSP: no inline style


def test_app_opens_the_socket_without_the_token_and_relays() -> None:
    script = source("pages/live.js")
    # The socket URL carries no credential; the token is the first message.
    assert "new WebSocket(`${scheme}//${location.host}/v1/signal`)" in script
    assert re.search(r'^const MODE = "relay";', script, re.MULTILINE)
