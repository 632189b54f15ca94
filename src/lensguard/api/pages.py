"""Cursor pagination, one way for every list route (docs/api.md).

``?limit=`` bounds the page (1..200, 50 by default); ``?cursor=`` resumes after the
last item of the previous page. The body stays a JSON array; the next page is an RFC
8288 ``Link: <…>; rel="next"`` header, absent on the last page. A cursor is the
base64url of the list's name and the sort key of the last item shown: opaque to
clients, never signed (it only says where to resume in a list the caller may read
anyway), and anything that is not one of this list's cursors is a 422.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import quote

from fastapi import Depends, Query, Request, Response

from lensguard.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR = 512
T = TypeVar("T")
KeyPart = str | int | float
Key = tuple[KeyPart, ...]
BAD_CURSOR = "cursor is not one of this list's; start again without it"


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for (how many items, after which), and where ``Link`` goes."""

    limit: int
    cursor: str | None
    request: Request
    response: Response


def page_request(
    request: Request,
    response: Response,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR,
            pattern=r"^[A-Za-z0-9_-]+$",
            description='Where to resume: taken from the previous page\'s Link rel="next"',
        ),
    ] = None,
) -> PageRequest:
    """The ``limit`` and ``cursor`` query parameters of a list route."""
    return PageRequest(limit=limit, cursor=cursor, request=request, response=response)


PageDep = Annotated[PageRequest, Depends(page_request)]
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'The next page, as <path?query>; rel="next"; absent on the last',
                "schema": {"type": "string"},
            }
        }
    }
}
"""The success response of a list route: documents its ``Link`` header (``responses=``)."""


def stamp(value: datetime) -> str:
    """A time as a key part that sorts as the time does (UTC, fixed width)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _refused() -> ValidationFailed:
    return ValidationFailed(
        BAD_CURSOR, errors=[{"field": "query.cursor", "message": BAD_CURSOR, "type": "cursor"}]
    )


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One list route's order: its name, each item's sort key (unique) and direction."""

    name: str
    key: Callable[[T], Key]
    parts: tuple[type, ...]
    newest_first: bool = False

    def encode(self, key: Key) -> str:
        """The cursor that resumes after ``key``."""
        raw = json.dumps({"l": self.name, "k": list(key)}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str | None) -> Key | None:
        """The key a cursor resumes after; ``ValidationFailed`` unless it is this list's."""
        if cursor is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError):
            raise _refused() from None
        if not isinstance(data, dict) or set(data) != {"l", "k"} or data["l"] != self.name:
            raise _refused()
        key = data["k"]
        if not isinstance(key, list) or len(key) != len(self.parts):
            raise _refused()
        # Exact types: a bool is not an int here, and mixed types would not compare.
        if any(type(part) is not kind for part, kind in zip(key, self.parts, strict=True)):
            raise _refused()
        return tuple(key)

    def _beyond(self, key: Key, after: Key) -> bool:
        return key < after if self.newest_first else key > after

    def paginate(self, items: Iterable[T], page: PageRequest) -> list[T]:
        """One page of ``items`` in this list's order, with ``Link`` to the next one."""
        after = self.decode(page.cursor)
        ordered = sorted(items, key=self.key, reverse=self.newest_first)
        if after is not None:
            ordered = [item for item in ordered if self._beyond(self.key(item), after)]
        return self.cut(ordered, page)

    def cut(self, ordered: Sequence[T], page: PageRequest) -> list[T]:
        """The first ``limit`` of items already in order after the cursor; ``Link`` if more."""
        shown = list(ordered[: page.limit])
        if len(ordered) > page.limit:
            cursor = self.encode(self.key(shown[-1]))
            page.response.headers["Link"] = next_link(page.request, cursor=cursor)
        return shown


def next_link(request: Request, **params: str | int) -> str:
    """``Link`` to this request with ``params`` set (the next page); a relative reference."""
    # The route's path, quoted, and re-encoded parameters: the header repeats no raw input.
    url = request.url.include_query_params(**params)
    path = quote(request.scope["path"], safe="/")
    return f'<{path}?{url.query}>; rel="next"'
