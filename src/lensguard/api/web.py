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

JS = "text/javascript; charset=utf-8"
# name in the URL -> (file in lensguard/web, media type)
ASSETS = {
    "app.js": ("app.js", JS),
    "app.css": ("app.css", "text/css; charset=utf-8"),
    # What every page shares, the navigation and the MFA enrolment step.
    "core.js": ("core.js", JS),
    "router.js": ("router.js", JS),
    "enrol.js": ("enrol.js", JS),
    # Recordings playback, used by pages/recordings.js.
    "player.js": ("player.js", JS),
    "timeline.js": ("timeline.js", JS),
    "download.js": ("download.js", JS),
    # One module per page behind the tabs (docs/console.md).
    **{
        f"pages/{page}.js": (f"pages/{page}.js", JS)
        for page in (
            "live",
            "thumbs",
            "reconnect",
            "wall",
            "recordings",
            "watched",
            "users",
            "sessions",
            "apikeys",
            "devices",
            "account",
            "policies",
            "audit",
            "security",
            "incidents",
            "compliance",
            "table",
            "drive",
            "gamepad",
            "ptz",
            "overlay",
        )
    },
    # Single sign-on buttons and the return from the provider (docs/sso.md).
    "sso.js": ("sso.js", JS),
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


# ``:path`` lets a name hold "pages/"; only names in ASSETS are ever served.
@router.get("/static/{name:path}")
async def static(name: str) -> Response:
    """One of the console's script and style files."""
    entry = ASSETS.get(name)
    if entry is None:
        raise NotFound("no such file")
    return _serve(entry)
