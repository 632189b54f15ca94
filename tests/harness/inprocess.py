"""A real HTTPS server inside the test's own event loop, so the test can turn its clock.

``lensguard serve`` in a subprocess keeps the system clock; here the app is built with
the clock the test holds (usually a ``ManualClock``) and served by uvicorn on a free
loopback port, TLS included, so agents and WebSocket clients connect as to any server.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from lensguard.app import create_app
from lensguard.bootstrap import ensure_var_dir
from lensguard.clock import Clock
from lensguard.identity.accounts import create_account
from lensguard.identity.devices import register_device
from lensguard.pki.listener import listener
from lensguard.services import Services
from lensguard.settings import Settings
from lensguard.tls import ensure_certificate
from tests.harness.ports import free_port

STARTUP_WAIT = 30.0
PASSWORD = "an in-process passphrase 4"


@dataclass
class InProcessServer:
    """Where the in-process app listens, and helpers to populate and reach it."""

    app: FastAPI
    base_url: str
    cert_path: Path

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("https://", "wss://") + "/v1/signal"

    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, verify=self.ssl(), timeout=10)

    async def user(self, name: str, role: str) -> None:
        """An account with every site and device in scope (no forced password change)."""
        await create_account(
            self.services,
            username=name,
            password=PASSWORD,
            role=role,
            sites=["*"],
            devices=["*"],
            by=None,
        )

    async def login(self, name: str) -> str:
        """A fresh access token for ``name`` (issued at the app clock's current time)."""
        async with self.http() as client:
            response = await client.post(
                "/api/v1/auth/login", json={"username": name, "password": PASSWORD}
            )
        response.raise_for_status()
        return str(response.json()["access_token"])

    async def device(self, name: str, site: str) -> tuple[str, str]:
        """Register a device; returns (device id, credential)."""
        registered = await register_device(
            self.services,
            name=name,
            site=site,
            kind="robot",
            capabilities=["video", "control"],
            by=None,
        )
        return registered.device.id, registered.credential


@asynccontextmanager
async def serve_in_process(settings: Settings, clock: Clock) -> AsyncIterator[InProcessServer]:
    """Serve ``create_app(settings, clock=clock)`` over HTTPS on 127.0.0.1 until the block ends.

    ``settings`` must name an already migrated database.
    """
    ensure_var_dir(settings)
    tls = ensure_certificate(settings)
    app = create_app(settings, clock=clock)
    port = free_port()
    server = listener(app, settings, tls, host="127.0.0.1", port=port)  # as `lensguard serve`
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(_started(server, task), STARTUP_WAIT)
        yield InProcessServer(app, f"https://127.0.0.1:{port}", tls.cert_path)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, STARTUP_WAIT)


async def _started(server: uvicorn.Server, task: asyncio.Task[Any]) -> None:
    # Startup is socket binding and the lifespan (real I/O), not a timer.
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the in-process server stopped during startup")
        await asyncio.sleep(0.01)
