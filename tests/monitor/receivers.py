"""Real loopback receivers for alert tests: a raw HTTP/1.1 server and syslog collectors.

The receivers see only bytes on a socket, as a third party's webhook endpoint or SIEM
would; the only lensguard code used is ``signing.verify``, which receivers are given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lensguard.monitor.alerts import signing
from tests.harness.ports import free_port


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[Request], Awaitable[Response]]


class _Server:
    """Common start/stop for stream servers; tracks connections so stop() can end them."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Condition()
        self.tls: ssl.SSLContext | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connected, self.host, self.port, ssl=self.tls
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Any:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self.serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # stop() ends held connections; finishing normally keeps asyncio's
            # stream callback from logging the cancellation as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(wait(), within)


class HttpReceiver(_Server):
    """Answers each request with the next queued response (200 when none is queued)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        responder: Responder | None = None,
    ) -> None:
        super().__init__(host=host, port=port)
        self.tls = tls
        self.requests: list[Request] = []
        self.responses: list[Response] = []
        self.responder = responder

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}/hook/s3cret-path"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        request = Request(method, target, headers, body)
        self.requests.append(request)
        await self.notify()
        if self.responder is not None:
            response = await self.responder(request)
        else:
            response = self.responses.pop(0) if self.responses else Response()
        extra = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
        writer.write(
            f"HTTP/1.1 {response.status} X\r\nContent-Length: 0\r\n"
            f"Connection: close\r\n{extra}\r\n".encode("latin-1")
        )
        await writer.drain()
        await self.notify()  # the responder may have changed what waiters look at

    async def wait_for_requests(self, count: int, within: float = 5.0) -> None:
        await self.wait_until(lambda: len(self.requests) >= count, within)


class SyslogTcpReceiver(_Server):
    """Collects octet-counted (RFC 6587) frames."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host=host, port=port)
        self.frames: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                length = await reader.readuntil(b" ")
            except asyncio.IncompleteReadError:
                return
            self.frames.append(await reader.readexactly(int(length[:-1])))
            await self.notify()

    async def wait_for_frames(self, count: int, within: float = 5.0) -> None:
        await self.wait_until(lambda: len(self.frames) >= count, within)


class SyslogUdpReceiver(asyncio.DatagramProtocol):
    """Collects datagrams on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.datagrams: list[bytes] = []
        self._transport: asyncio.DatagramTransport | None = None
        self._arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append(data)
        self._arrived.set()

    async def __aenter__(self) -> SyslogUdpReceiver:
        self._transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", self.port)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()

    async def wait_for_datagrams(self, count: int, within: float = 5.0) -> None:
        async def wait() -> None:
            while len(self.datagrams) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), within)


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``predicate`` every 10 ms until it holds; TimeoutError after ``within`` s."""
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.01)


class DeduplicatingSiem:
    """The receiver side of docs/alerts.md: store items whose seq is above the last stored."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.last_seq = 0
        self.stored: list[dict[str, Any]] = []
        self.batches: list[list[int]] = []
        self.duplicates = 0
        self.hold: asyncio.Event | None = None

    async def __call__(self, request: Request) -> Response:
        if not signing.verify(self.secret, request.body, request.headers["x-lensguard-signature"]):
            return Response(401)
        items = request.json()
        self.batches.append([item["seq"] for item in items])
        for item in items:
            if item["seq"] <= self.last_seq:
                self.duplicates += 1
                continue
            self.stored.append(item)
            self.last_seq = item["seq"]
        if self.hold is not None:  # stored, but the acknowledgement never leaves
            await self.hold.wait()
        return Response(200)
