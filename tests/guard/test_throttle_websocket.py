"""The request rate limit refuses a WebSocket over the limit with the protocol's 1013."""

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from lensguard.guard.client import parse_networks
from lensguard.guard.ratelimit import MemoryRateLimiter
from lensguard.guard.throttle import RequestRateLimitMiddleware
from lensguard.wire.closes import Close
from tests.guard.test_blocklist_middleware import echo, websocket_attempt


async def test_a_websocket_over_the_limit_closes_with_try_again_later() -> None:
    app = RequestRateLimitMiddleware(
        Starlette(routes=[WebSocketRoute("/ws", echo)]),
        limiter=MemoryRateLimiter(),
        per_minute=1,
        trusted_proxies=parse_networks([]),
    )
    first = await websocket_attempt(app, "127.0.0.7")
    assert [m["type"] for m in first][:2] == ["websocket.accept", "websocket.send"]
    refused = await websocket_attempt(app, "127.0.0.7")
    assert refused == [
        {
            "type": "websocket.close",
            "code": Close.TRY_AGAIN_LATER.value,
            "reason": "try again later",
        }
    ]
    assert refused[0]["code"] == 1013
    # Another address has its own budget.
    other = await websocket_attempt(app, "127.0.0.8")
    assert other[0]["type"] == "websocket.accept"
