"""The agent's session loop: authenticate, publish, serve viewers and control, reconnect.

One signaling WebSocket at a time. The access token travels in the first message,
never in the URL; TLS is always verified (against ``ca_file`` or the system CAs).
When the link drops the robot is stopped at once and every viewer's peer is closed
(while disconnected the agent cannot learn that someone's access was withdrawn);
then it reconnects with capped exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiortc import MediaStreamTrack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from lensguard.agent.backoff import Backoff
from lensguard.agent.control import ControlHandler
from lensguard.agent.credentials import ServerUnavailable, TokenSource
from lensguard.agent.driver import DeadManTimer, Driver
from lensguard.agent.ice import IceServers
from lensguard.agent.peer import Publisher
from lensguard.agent.rescale import Rescaled
from lensguard.agent.tls_errors import tls_problem
from lensguard.clock import Clock, SystemClock
from lensguard.logs import get_logger
from lensguard.media.addresses import networks, overlaps_loopback
from lensguard.media.ice import RemoteAddresses
from lensguard.wire.client import Auth, Publish, Reauth
from lensguard.wire.closes import Close
from lensguard.wire.kinds import Kind, kind_of
from lensguard.wire.server import MAX_SERVER_FRAME_BYTES

SIGNAL_PATH = "/v1/signal"
HANDSHAKE_TIMEOUT = 10.0
STABLE_AFTER = 10.0
"""A link that stayed up this long resets the backoff (a flapping server does not)."""
log = get_logger("lensguard.agent")


class ConfigError(ValueError):
    """Raised when the agent's configuration cannot work (bad URL, CA file)."""


class PublishRefused(Exception):
    """Raised when the server will not let this credential publish (not a device)."""


class _AuthRefused(Exception):
    """The server closed with 4401: the token is stale; fetch a new one and retry."""


@dataclass(frozen=True)
class AgentConfig:
    """Where the agent connects and how it behaves."""

    server: str
    credential_file: Path
    ca_file: Path | None = None
    client_cert: Path | None = None
    """The device's certificate from the server's CA (``lensguard certs issue device``),
    presented for mutual TLS; needs ``client_key``."""
    client_key: Path | None = None
    max_peers: int = 8
    deadman: float = 0.5
    backoff_cap: float = 30.0
    allow_remote: tuple[str, ...] = ()
    """CIDR blocks in reserved ranges (e.g. the LAN) that viewers' ICE candidates may name."""


def server_urls(server: str) -> tuple[str, str]:
    """``(https base URL, wss signaling URL)``; only https, no credentials in the URL."""
    parts = urlsplit(server.strip())
    if parts.scheme != "https":
        raise ConfigError("the server URL must start with https:// (the agent only speaks TLS)")
    if not parts.hostname or parts.username or parts.password:
        raise ConfigError("the server URL must be https://host[:port] with no user or password")
    if parts.query or parts.fragment:
        raise ConfigError("the server URL must not have a query or fragment")
    base = f"https://{parts.netloc}{parts.path.rstrip('/')}"
    return base, f"wss://{parts.netloc}{parts.path.rstrip('/')}{SIGNAL_PATH}"


def remote_addresses(allow: tuple[str, ...]) -> RemoteAddresses:
    """What viewers' candidates may name: public addresses, plus ``allow`` (never loopback)."""
    try:
        allowed = networks(allow)
    except ValueError as exc:
        raise ConfigError(f"--allow-remote-address: not a CIDR block: {exc}") from None
    if any(overlaps_loopback(block) for block in allowed):
        raise ConfigError("--allow-remote-address must not name loopback addresses")
    return RemoteAddresses(allowed=allowed)


def tls_context(
    ca_file: Path | None, client_cert: Path | None = None, client_key: Path | None = None
) -> ssl.SSLContext:
    """Verify the server against ``ca_file`` alone when given, else the system CAs.

    With ``client_cert`` and ``client_key`` the agent presents its device certificate.
    """
    if (client_cert is None) != (client_key is None):
        raise ConfigError("--client-cert and --client-key go together: give both or neither")
    try:
        context = (
            ssl.create_default_context()
            if ca_file is None
            else ssl.create_default_context(cafile=str(ca_file))
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA file {ca_file}: {exc}") from None
    if client_cert is not None and client_key is not None:
        try:
            context.load_cert_chain(str(client_cert), str(client_key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the client certificate {client_cert} with key {client_key}: {exc}"
            ) from None
    return context


class Agent:
    """Publishes one source and obeys control messages, across reconnects."""

    def __init__(
        self,
        config: AgentConfig,
        source: MediaStreamTrack,
        driver: Driver,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        """Token refresh and the dead-man timer run on this clock."""
        self.base_url, self.signal_url = server_urls(config.server)
        self.tls = tls_context(config.ca_file, config.client_cert, config.client_key)
        self.remote = remote_addresses(config.allow_remote)
        self.source = Rescaled(source)
        """The source, scaled to the resolution the server's stream settings ask for."""
        self.driver = driver
        self.deadman = DeadManTimer(
            driver, config.deadman, clock=self.clock.monotonic, sleep=self.clock.sleep
        )
        self.control = ControlHandler(driver, self.deadman)
        self.published = 0
        """How many times the agent has published (1 + successful reconnects)."""
        self.connection_id: str | None = None
        self.device_id: str | None = None
        self.online = asyncio.Event()
        self.failure: str | None = None
        """Why the agent stopped by itself (the video source ended), if it did."""
        self._ws: ClientConnection | None = None
        self._backoff = Backoff(cap=config.backoff_cap)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; raises only errors that retrying cannot fix."""

        def source_ended() -> None:
            if not stop.is_set():
                self.failure = "the video source ended"
                log.error("source.ended")
                stop.set()

        self.source.on("ended", source_ended)
        try:
            await self._run(stop)
        finally:
            with contextlib.suppress(KeyError):  # a stopped track drops its listeners
                self.source.remove_listener("ended", source_ended)

    async def _run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            base_url=self.base_url,
            verify=self.tls,
            timeout=10.0,
            follow_redirects=False,
            # Requests come minutes apart: an idle TLS keep-alive would only hold a
            # server socket (and stall a graceful server shutdown until it times out).
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as http:
            tokens = TokenSource(http, self.config.credential_file, clock=self.clock.monotonic)
            ice = IceServers(http, tokens.get)
            publisher = Publisher(
                self.source,
                self._send,
                ice.get,
                max_peers=self.config.max_peers,
                remote=self.remote,
            )
            watchdog = asyncio.create_task(self.deadman.run())
            try:
                await self._loop(stop, tokens, publisher)
            finally:
                watchdog.cancel()
                self.deadman.trip("shutdown")
                await publisher.close_all()

    async def _loop(self, stop: asyncio.Event, tokens: TokenSource, publisher: Publisher) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._session(stop, tokens, publisher)
                reason = "closed"
            except _AuthRefused:
                tokens.invalidate()
                reason = "token_refused"
            except (ServerUnavailable, OSError, WebSocketException, TimeoutError) as exc:
                reason = tls_problem(exc) or f"{type(exc).__name__}: {str(exc)[:160]}"
            finally:
                self._ws = None
                if self.online.is_set():
                    self.online.clear()
                    if not stop.is_set():  # on shutdown ``_run`` stops the robot itself
                        self.deadman.link_lost()
                    await publisher.close_all()
            if stop.is_set():
                return
            if time.monotonic() - started >= STABLE_AFTER:
                self._backoff.reset()
            delay = self._backoff.next_delay()
            log.warning("link.down", reason=reason, retry_in=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _session(
        self, stop: asyncio.Event, tokens: TokenSource, publisher: Publisher
    ) -> None:
        token = await tokens.get()
        async with connect(
            self.signal_url,
            ssl=self.tls,
            open_timeout=HANDSHAKE_TIMEOUT,
            ping_interval=5.0,
            ping_timeout=10.0,
            close_timeout=2.0,
            max_size=MAX_SERVER_FRAME_BYTES,
        ) as ws:
            await ws.send(json.dumps(Auth(token=token).dump()))
            ready = await self._expect(ws, Kind.READY)
            await ws.send(json.dumps(Publish().dump()))
            published = await self._expect(ws, Kind.PUBLISHED)
            self._ws = ws
            self.connection_id = str(ready.get("id"))
            self.device_id = str(published.get("device_id"))
            self.published += 1
            self.online.set()
            log.info("agent.published", device_id=self.device_id, connection=self.connection_id)
            tasks = {
                asyncio.create_task(self._receive(ws, publisher)),
                asyncio.create_task(self._refresh(tokens)),
                asyncio.create_task(stop.wait()),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
            if stop.is_set():
                await ws.close(1000, "agent stopping")
            for task in done:
                task.result()  # a fatal error in the refresher or receiver surfaces here

    async def _expect(self, ws: ClientConnection, kind: Kind) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                message = _decode(await ws.recv())
                if kind_of(message) is kind:
                    return message
                if kind_of(message) is Kind.ERROR:
                    raise PublishRefused(f"the server refused: {str(message.get('message'))[:200]}")

        try:
            return await asyncio.wait_for(wait(), HANDSHAKE_TIMEOUT)
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == Close.UNAUTHENTICATED:
                raise _AuthRefused from None
            raise

    async def _receive(self, ws: ClientConnection, publisher: Publisher) -> None:
        try:
            async for raw in ws:
                await self._dispatch(_decode(raw), publisher)
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == Close.UNAUTHENTICATED:
                raise _AuthRefused from None
            raise
        code = ws.close_code
        log.info("link.closed", code=code, reason=(ws.close_reason or "")[:120])

    async def _dispatch(self, message: dict[str, Any], publisher: Publisher) -> None:
        kind = kind_of(message)
        if kind is Kind.CONTROL:
            self.control.handle(message)
        elif kind is Kind.VIEWER:
            await publisher.viewer_joined(message)
        elif kind is Kind.OFFER:
            publisher.offer(message)
        elif kind is Kind.CANDIDATE:
            await publisher.candidate(message)
        elif kind is Kind.LEAVE and isinstance(message.get("from"), str):
            connection = str(message["from"])
            self.control.peer_left(connection)
            await publisher.leave(connection)
        elif kind is Kind.SETTINGS:
            self.source.apply(message)
        elif kind is Kind.ERROR:
            log.warning(
                "server.error",
                code=str(message.get("code"))[:64],
                message=str(message.get("message"))[:200],
            )

    async def _refresh(self, tokens: TokenSource) -> None:
        # The server closes a socket whose token expires: each fresh token is handed to
        # the live socket (``reauth``) before that, and is kept for reconnects and TURN.
        # Asking regularly also notices a revoked credential early.
        while True:
            await self.clock.sleep(max(1.0, tokens.seconds_to_refresh()))
            try:
                token = await tokens.get()
            except ServerUnavailable as exc:
                log.warning("token.refresh_failed", error=str(exc)[:200])
                await self.clock.sleep(30.0)
                continue
            await self._send(Reauth(token=token).dump())

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(message))


def _decode(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        log.warning("link.bad_frame")
        return {}
    return message if isinstance(message, dict) else {}
