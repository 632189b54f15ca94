"""The viewer page: ``/`` and a fixed allowlist of files under ``/static/``.

No StaticFiles mount (the route checks refuse mounts, and a mount would serve
whatever lands in the folder): each name maps to one packaged file, so a request
can never reach anything else, whatever the path says.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from lensguard.access.declare import PUBLIC
from lensguard.api.deps import requires
from lensguard.errors import NotFound

router = APIRouter(dependencies=[requires(PUBLIC)], include_in_schema=False)

# name in the URL -> (file in lensguard/web, media type)
ASSETS = {
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
    # The Recordings and "Who watched what" sections, imported by app.js.
    "recordings.js": ("recordings.js", "text/javascript; charset=utf-8"),
    "player.js": ("player.js", "text/javascript; charset=utf-8"),
    "timeline.js": ("timeline.js", "text/javascript; charset=utf-8"),
    "watched.js": ("watched.js", "text/javascript; charset=utf-8"),
    "download.js": ("download.js", "text/javascript; charset=utf-8"),
    # Single sign-on buttons and the return from the provider (docs/sso.md).
    "sso.js": ("sso.js", "text/javascript; charset=utf-8"),
}
INDEX = ("index.html", "text/html; charset=utf-8")


@cache
def _read(name: str) -> bytes:
    """The packaged file ``lensguard/web/<name>`` (names come only from the tables above)."""
    return files("lensguard").joinpath("web", name).read_bytes()


def _serve(entry: tuple[str, str]) -> Response:
    name, media_type = entry
    # no-cache (revalidate) rather than the default no-store: these files hold no secrets.
    return Response(_read(name), media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/")
async def index() -> Response:
    """The viewer console."""
    return _serve(INDEX)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """One of the console's script and style files."""
    entry = ASSETS.get(name)
    if entry is None:
        raise NotFound("no such file")
    return _serve(entry)
