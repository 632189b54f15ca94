"""An in-process app with helpers to make users and sign them in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lensguard.app import create_app
from lensguard.clock import Clock
from lensguard.identity import accounts
from lensguard.services import Services

PASSWORD = "correct horse battery staple 42"


@dataclass
class Api:
    """A running app, its client and identity context."""

    app: FastAPI
    http: httpx.AsyncClient

    @property
    def identity(self) -> Services:
        """The app's service container (identity flows take it as their context)."""
        services: Services = self.app.state.services
        return services

    async def add_user(
        self,
        username: str,
        role: str,
        *,
        password: str = PASSWORD,
        sites: list[str] | None = None,
        devices: list[str] | None = None,
    ) -> str:
        user = await accounts.create_account(
            self.identity,
            username=username,
            password=password,
            role=role,
            sites=sites or ["*"],
            devices=devices or ["*"],
            by=None,
        )
        return user.id

    async def login(self, username: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/auth/login", json={"username": username, "password": password, **extra}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def token_for(self, username: str, role: str, **kwargs: Any) -> str:
        await self.add_user(username, role, **kwargs)
        return str((await self.login(username))["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def build_api(
    settings: Any, address: str = "198.51.100.10", *, clock: Clock | None = None
) -> AsyncIterator[Api]:
    """The app on ``settings`` (and ``clock``, the system's by default) with a client."""
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as http,
    ):
        yield Api(app, http)


@pytest.fixture
async def api(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async for value in build_api(settings):
        yield value


@pytest.fixture
async def api_both(make_settings: Any, db_url: str) -> AsyncIterator[Api]:
    """The same app on SQLite and on PostgreSQL."""
    settings = make_settings(database={"url": db_url}, limits={"requests_per_minute": 100_000})
    async for value in build_api(settings):
        yield value
