"""Who is on a signaling socket, and for how long: its credential's whole life.

The first frame authenticates; ``reauth`` swaps in a fresh token of the same
principal; an access token's expiry closes the socket (4401) on the app's clock;
a revocation re-checks the credential and the streams it is watching (4401, 4403).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from lensguard.access.can import can
from lensguard.access.principal import Principal, Resource
from lensguard.audit.denials import AUTH_REJECTED
from lensguard.clock import Clock, Timer
from lensguard.errors import LensguardError, Unauthenticated
from lensguard.identity.authn import authenticate_bearer, token_expiry
from lensguard.identity.context import IdentityContext
from lensguard.media.relay import DeviceRelay, ViewerEndpoint
from lensguard.monitor.events import emit
from lensguard.pki.binding import DeviceBinding
from lensguard.settings import Severity
from lensguard.signaling import breakglass
from lensguard.signaling.violation import Violation
from lensguard.wire import server
from lensguard.wire.client import Auth, Reauth, parse_client_message
from lensguard.wire.closes import Close
from lensguard.wire.frames import ProtocolError


class Socket(Protocol):
    """What the credential needs from its signaling session."""

    id: str
    identity: IdentityContext

    @property
    def closed(self) -> bool: ...

    def viewing(self) -> tuple[dict[str, str], list[tuple[DeviceRelay, ViewerEndpoint]]]: ...

    async def receive_text(self) -> str: ...

    async def send(self, message: dict[str, Any]) -> None: ...

    async def shutdown(self, code: int, reason: str) -> None: ...

    async def denied(
        self,
        action: str,
        resource: Resource | None,
        reason: str,
        *,
        kind: str | None = None,
        **details: Any,
    ) -> None: ...


class Credential:
    """The principal of one socket, the token that proved it, and its expiry timer."""

    def __init__(self, socket: Socket, clock: Clock, binding: DeviceBinding | None = None) -> None:
        self.socket = socket
        self.clock = clock
        self.binding = binding
        self.principal: Principal | None = None
        self.token: str | None = None
        self._expiry: Timer | None = None

    def require(self) -> Principal:
        """The authenticated principal; a violation before authentication."""
        if self.principal is None:
            raise Violation(Close.UNAUTHENTICATED, "not authenticated")
        return self.principal

    async def authenticate(self, wait: float) -> None:
        """Read the first frame, which must be a valid ``auth`` within ``wait`` seconds."""
        frame = await self._first_frame(wait)
        message = parse_client_message(frame)
        if isinstance(message, ProtocolError):
            raise Violation.of(message)
        if not isinstance(message, Auth):
            raise Violation(Close.UNAUTHENTICATED, "the first message must be auth")
        try:
            self.principal = await authenticate_bearer(self.socket.identity, message.token)
        except LensguardError as exc:
            emit("signal.auth_failed", severity=Severity.MEDIUM, reason=exc.detail)
            await self.socket.denied("signal_auth", None, exc.detail)
            raise Violation(Close.UNAUTHENTICATED, "invalid credential") from None
        refusal = await self._certificate_refusal(self.principal)
        if refusal is not None:
            emit(
                "signal.device_certificate_refused",
                severity=Severity.HIGH,
                principal=self.principal.id,
                reason=refusal,
            )
            await self.socket.denied("signal_auth", None, refusal)
            self.principal = None
            raise Violation(Close.UNAUTHENTICATED, refusal)
        self.token = message.token
        self._arm_expiry()

    async def _certificate_refusal(self, principal: Principal) -> str | None:
        """Why a device's socket fails ``security.pki.device_tls``, or None."""
        return None if self.binding is None else await self.binding.refusal(principal)

    async def _first_frame(self, wait: float) -> str:
        """The first text frame, or a violation once ``wait`` passed on the clock."""
        receive = asyncio.ensure_future(self.socket.receive_text())
        deadline = asyncio.ensure_future(self.clock.sleep(wait))
        try:
            await asyncio.wait({receive, deadline}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            receive.cancel()  # the session itself is being cancelled
            raise
        finally:
            deadline.cancel()
        if not receive.done():
            receive.cancel()
            raise Violation(Close.UNAUTHENTICATED, "authenticate within the first message")
        return receive.result()

    def _arm_expiry(self) -> None:
        """Close the socket (4401) when its access token expires, unless reauth came first.

        API keys have no such timer: they live for months and are revoked explicitly.
        """
        self.cancel()
        expires = token_expiry(self.token)
        if expires is None:
            return
        delay = max(0.0, expires - self.clock.time())
        self._expiry = self.clock.call_later(delay, lambda: asyncio.ensure_future(self._expired()))

    def cancel(self) -> None:
        """Stop the expiry timer (the socket is closing)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def _expired(self) -> None:
        emit("signal.token_expired", connection=self.socket.id, principal=self.require().id)
        await self.socket.shutdown(
            Close.UNAUTHENTICATED, "access token expired; reauth before expiry"
        )

    async def reauth(self, message: Reauth) -> None:
        """Swap in a fresh token of the same principal; anything else ends the socket."""
        before = self.require()
        try:
            principal = await authenticate_bearer(self.socket.identity, message.token)
        except LensguardError:
            emit("signal.auth_failed", severity=Severity.MEDIUM, reason="reauth refused")
            await self.socket.denied("signal_reauth", None, "reauth refused", kind=AUTH_REJECTED)
            raise Violation(Close.UNAUTHENTICATED, "invalid credential") from None
        if (principal.kind, principal.id) != (before.kind, before.id):
            emit(
                "signal.reauth_mismatch",
                severity=Severity.HIGH,
                connection=self.socket.id,
                principal=before.id,
                presented=principal.id,
            )
            reason = "reauth must keep the same identity"
            await self.socket.denied("signal_reauth", None, reason, kind=AUTH_REJECTED)
            raise Violation(Close.UNAUTHENTICATED, reason)
        self.token = message.token
        self._arm_expiry()
        await self.recheck({"reason": "reauth"})
        if not self.socket.closed:
            await self.socket.send(server.reauthed(token_expiry(message.token)))

    def concerned_by(self, message: dict[str, Any]) -> bool:
        """Whether a revocation message names this socket's principal."""
        principal = self.principal
        if principal is None:
            return False
        return (
            (message.get("sid") is not None and message.get("sid") == principal.session_id)
            or (message.get("user_id") is not None and message.get("user_id") == principal.id)
            or (message.get("device_id") is not None and message.get("device_id") == principal.id)
            or (
                message.get("api_key_id") is not None
                and message.get("api_key_id") == principal.api_key_id
            )
        )

    async def recheck(self, message: dict[str, Any]) -> None:
        """Re-authenticate after a revocation; close if the credential or access is gone."""
        if self.token is None:
            return
        try:
            principal = await authenticate_bearer(self.socket.identity, self.token)
        except (Unauthenticated, LensguardError):
            emit("signal.revoked", connection=self.socket.id, reason=message.get("reason"))
            await self.socket.shutdown(Close.UNAUTHENTICATED, "session revoked")
            return
        refusal = await self._certificate_refusal(principal)
        if refusal is not None:
            emit("signal.revoked", connection=self.socket.id, reason=refusal)
            await self.socket.shutdown(Close.UNAUTHENTICATED, refusal)
            return
        self.principal = principal
        watching, endpoints = self.socket.viewing()
        for device_id, site in watching.items():
            if not can(principal, "camera_view", Resource(kind="device", id=device_id, site=site)):
                emit("signal.access_changed", connection=self.socket.id, device_id=device_id)
                await self.socket.shutdown(
                    Close.ACCESS_CHANGED, "access to the stream was withdrawn"
                )
                return
        for relay, endpoint in endpoints:
            place = Resource(kind="device", id=relay.device_id, site=relay.site)
            if endpoint.grant_id is not None and not can(principal, breakglass.OVERRIDE, place):
                await endpoint.close_unredacted("access_changed")
