"""Prometheus metrics: per-app registries, bounded labels, and ``GET /metrics``."""

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lensguard.logs import configure_logging
from lensguard.monitor.metrics import Metrics
from tests.api.conftest import Api, bearer, build_api

PLACEHOLDER_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    # Auth counters are fed from security events, which need logging routed to stdlib.
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())


@pytest.fixture
async def api(make_settings: Any, sqlite_url: str, events: io.StringIO) -> AsyncIterator[Api]:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async for value in build_api(settings):
        yield value


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def scrape(api: Api, headers: dict[str, str]) -> str:
    response = await api.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_exposition_has_the_expected_series_after_some_requests(api: Api) -> None:
    admin = bearer(await api.token_for("root", "admin"))
    viewer = bearer(await api.token_for("ada", "viewer"))
    await api.http.post("/api/v1/auth/login", json={"username": "ada", "password": "wrong!"})
    await api.http.get(f"/api/v1/users/{PLACEHOLDER_ID}", headers=admin)
    await api.http.get(f"/api/v1/users/{PLACEHOLDER_ID}", headers=admin)
    await api.http.get("/api/v1/users", headers=viewer)  # denied: user_management
    await api.http.get("/no/such/path/12345")
    await api.http.get("/healthz?q=<script>alert(1)</script>")
    await api.http.request("BREW", "/healthz")

    text = await scrape(api, admin)
    user_route = "/api/v1/users/{user_id}"
    assert (
        value(text, "lensguard_http_requests_total", method="GET", route=user_route, status="404")
        == 2
    )
    assert value(text, "lensguard_http_request_duration_seconds_count", route=user_route) == 2
    assert (
        value(text, "lensguard_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert (
        value(text, "lensguard_http_requests_total", method="other", route="/healthz", status="405")
        == 1
    )
    assert value(text, "lensguard_auth_successes_total", method="password") == 2
    assert value(text, "lensguard_auth_failures_total", method="password") == 1
    assert value(text, "lensguard_authorization_denials_total", action="user_management") == 1
    assert value(text, "lensguard_suspicious_requests_total", severity="medium") == 1
    assert value(text, "lensguard_active_sessions") == 2
    for name in ("lensguard_online_devices", "lensguard_viewers"):
        assert value(text, name) == 0
    assert "# TYPE lensguard_signaling_messages_total counter" in text
    assert "# TYPE lensguard_signaling_refused_messages_total counter" in text
    # No raw path, address or secret ever becomes a label.
    assert "/no/such/path" not in text
    assert "198.51.100.10" not in text


async def test_requests_refused_before_routing_keep_their_route(api: Api) -> None:
    admin = bearer(await api.token_for("root", "admin"))
    refused = await api.http.post(
        "/api/v1/users", headers={**admin, "content-type": "text/plain"}, content=b"x"
    )
    assert refused.status_code == 415
    text = await scrape(api, admin)
    assert (
        value(
            text,
            "lensguard_http_requests_total",
            method="POST",
            route="/api/v1/users",
            status="415",
        )
        == 1
    )


async def test_prometheus_scrapes_with_an_api_key(api: Api) -> None:
    admin = bearer(await api.token_for("root", "admin"))
    created = await api.http.post(
        "/api/v1/api-keys",
        headers=admin,
        json={"name": "prometheus", "scopes": ["security_manage"]},
    )
    assert created.status_code == 201
    assert "lensguard_http_requests_total" in await scrape(api, bearer(created.json()["key"]))


async def test_metrics_need_security_manage(api: Api) -> None:
    assert (await api.http.get("/metrics")).status_code == 401
    for role in ("operator", "viewer"):
        token = await api.token_for(f"user-{role}", role)
        assert (await api.http.get("/metrics", headers=bearer(token))).status_code == 403


async def test_metrics_route_can_be_turned_off(make_settings: Any, sqlite_url: str) -> None:
    settings = make_settings(
        database={"url": sqlite_url}, security={"monitoring": {"metrics": {"enabled": False}}}
    )
    async for api in build_api(settings):
        admin = bearer(await api.token_for("root", "admin"))
        assert (await api.http.get("/metrics", headers=admin)).status_code == 404


async def test_rate_limited_and_blocked_requests_are_counted(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 3})
    async for api in build_api(settings, address="203.0.113.20"):
        for _ in range(4):
            await api.http.get("/healthz")
        metrics: Metrics = api.app.state.services.metrics
        await api.app.state.services.blocklist.block("203.0.113.20", ttl=60, reason="x")
        assert (await api.http.get("/healthz")).status_code == 403
    registry = metrics.registry
    assert (
        registry.get_sample_value("lensguard_rate_limited_requests_total", {"limiter": "address"})
        == 1
    )
    assert registry.get_sample_value("lensguard_blocked_requests_total", {"transport": "http"}) == 1


async def test_two_apps_in_one_process_keep_separate_counts(
    make_settings: Any, sqlite_url: str, events: io.StringIO
) -> None:
    settings = make_settings(database={"url": sqlite_url})
    async for first in build_api(settings):
        async for second in build_api(settings):
            one: Metrics = first.app.state.services.metrics
            two: Metrics = second.app.state.services.metrics
            assert one.registry is not two.registry
            await first.token_for("ada", "viewer")  # one sign-in, on the first app
            for _ in range(3):
                await first.http.get("/healthz")
            await second.http.get("/healthz")
            health = {"method": "GET", "route": "/healthz", "status": "200"}
            assert one.registry.get_sample_value("lensguard_http_requests_total", health) == 3
            assert two.registry.get_sample_value("lensguard_http_requests_total", health) == 1
            success = {"method": "password"}
            assert one.registry.get_sample_value("lensguard_auth_successes_total", success) == 1
            assert two.registry.get_sample_value("lensguard_auth_successes_total", success) is None


def test_fresh_registries_do_not_share_instruments() -> None:
    a, b = Metrics(), Metrics()
    a.auth_failures.labels(method="password").inc()
    assert a.registry.get_sample_value("lensguard_auth_failures_total", {"method": "password"}) == 1
    assert (
        b.registry.get_sample_value("lensguard_auth_failures_total", {"method": "password"}) is None
    )


def test_processing_totals_become_monotonic_counters() -> None:
    metrics = Metrics()

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    metrics.observe_processing({"processed": 5, "skipped": 2}, 1)
    metrics.observe_processing({"processed": 9, "skipped": 2, "failed": 1}, 0)
    assert value("lensguard_processing_frames_total", outcome="processed") == 9
    assert value("lensguard_processing_frames_total", outcome="skipped") == 2
    assert value("lensguard_processing_frames_total", outcome="failed") == 1
    assert value("lensguard_unredacted_viewers") == 0
    # A smaller total (a stage's in-flight frames lost on close) never runs a counter back.
    metrics.observe_processing({"processed": 8}, 2)
    assert value("lensguard_processing_frames_total", outcome="processed") == 9
    assert value("lensguard_unredacted_viewers") == 2
    metrics.observe_processing({"processed": 12}, 2)
    assert value("lensguard_processing_frames_total", outcome="processed") == 12
