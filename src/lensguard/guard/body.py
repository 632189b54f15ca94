"""Request body limits: size (413) and media type (415), enforced before routing."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lensguard.errors import BadRequest, LensguardError, PayloadTooLarge, UnsupportedMediaType
from lensguard.problem_json import error_response

# Media types a body may have. WHIP/WHEP bring SDP; everything else speaks JSON.
ACCEPTED_MEDIA_TYPES = frozenset({"application/json", "application/sdp"})
# OpenID Connect Back-Channel Logout 1.0 posts a form: accepted there and nowhere else.
FORM = "application/x-www-form-urlencoded"
_FORM_PATH = re.compile(r"/api/v1/auth/oidc/[a-z0-9][a-z0-9-]{0,30}/backchannel-logout")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Evidence uploads bring a file of any type (the route decides by content, and refuses
# what it does not keep) up to their own, larger limit.
UPLOAD_PATH = re.compile(r"/api/v1/incidents/[A-Za-z0-9_-]{1,32}/attachments")


def media_type(content_type: str | None) -> str:
    """The bare, lower-cased media type of a Content-Type header."""
    return (content_type or "").split(";", 1)[0].strip().lower()


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` or of an unaccepted media type.

    Declared lengths are checked up front; chunked bodies are buffered up to the
    limit (at most ``max_bytes``) and replayed, so an oversized stream never reaches
    a route half-read. An evidence upload (``UPLOAD_PATH``) has ``upload_max_bytes``
    as its limit and any media type.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, upload_max_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = scope["method"] == "POST" and bool(UPLOAD_PATH.fullmatch(scope.get("path", "")))
        limit = self.upload_max_bytes if upload else self.max_bytes
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is not None:
            if not declared.isdigit():
                bad = BadRequest("Content-Length is not a number")
                await self._refuse(bad, scope, receive, send)
                return
            if int(declared) > limit:
                await self._refuse(self._too_large(limit, upload), scope, receive, send)
                return
        has_body = chunked or (declared is not None and int(declared) > 0)
        kind = media_type(headers.get("content-type"))
        form = kind == FORM and _FORM_PATH.fullmatch(scope.get("path", "")) is not None
        if has_body and kind not in ACCEPTED_MEDIA_TYPES and not form and not upload:
            accepted = ", ".join(sorted(ACCEPTED_MEDIA_TYPES))
            err = UnsupportedMediaType(f"request bodies must be one of: {accepted}")
            await self._refuse(err, scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, self._capped(receive, limit), send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            if len(body) > limit:
                await self._refuse(self._too_large(limit, upload), scope, receive, send)
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    def _too_large(limit: int, upload: bool) -> PayloadTooLarge:
        if upload:
            return PayloadTooLarge(
                f"attachments are limited to {limit:,} bytes (incidents.attachment_max_bytes); "
                "split the file or compress it"
            )
        return PayloadTooLarge(f"request bodies are limited to {limit} bytes")

    @staticmethod
    def _capped(receive: Receive, limit: int) -> Receive:
        """Guard against a client sending more than it declared."""
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
            return message

        return capped

    @staticmethod
    async def _refuse(err: LensguardError, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(err, instance=scope.get("path"))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
