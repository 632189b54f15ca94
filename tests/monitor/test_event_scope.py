"""Every event an app raises reaches that app's publisher: requests and lifespan tasks."""

import asyncio
from typing import Any

import httpx

from lensguard.app import create_app
from lensguard.clock import ManualClock
from lensguard.identity import accounts
from lensguard.monitor.event import SecurityEvent
from lensguard.services import Services


async def test_request_and_background_events_reach_the_apps_publisher(
    make_settings: Any, sqlite_url: str
) -> None:
    clock = ManualClock()
    app = create_app(make_settings(database={"url": sqlite_url}), clock=clock)
    services: Services = app.state.services
    seen: list[SecurityEvent] = []
    checkpointed = asyncio.Event()

    def collect(event: SecurityEvent) -> None:
        seen.append(event)
        if event.type == "audit.checkpoint":
            checkpointed.set()

    services.events.subscribe(collect, name="test")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    # Entered directly, as the API tests do, not through a server.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as http,
    ):
        answer = await http.get("/api/v1/users/me", headers={"Authorization": "Bearer nope"})
        assert answer.status_code == 401
        await accounts.create_account(
            services,
            username="ada",
            password="correct horse battery staple 42",
            role="viewer",
            sites=["*"],
            devices=["*"],
            by=None,
        )
        # The checkpointer's task was started by the lifespan; turning the clock runs it.
        await clock.advance(services.settings.audit.checkpoint_seconds)
        await asyncio.wait_for(checkpointed.wait(), 10)
    types = [e.type for e in seen]
    assert "auth.rejected" in types
    assert types.index("auth.rejected") < types.index("audit.checkpoint")
    assert all(e.time <= clock.now() for e in seen)
