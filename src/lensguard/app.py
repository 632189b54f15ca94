"""``create_app(settings)``: wires services, guards, routers and error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lensguard import __version__
from lensguard.access.declare import check_routes_declared
from lensguard.api import (
    api_keys,
    auth,
    breakglass,
    compliance,
    devices,
    health,
    identities,
    incident_attachments,
    jwks,
    meta,
    oidc,
    recording,
    recordings,
    recordings_access,
    recordings_download,
    recordings_exports,
    recordings_grants,
    recordings_playback,
    recordings_shared,
    retention,
    roles,
    sessions,
    signal,
    sites,
    streams,
    turn,
    users,
    web,
)
from lensguard.api import audit as audit_api
from lensguard.api import compliance_reports as compliance_reports_api
from lensguard.api import incidents as incidents_api
from lensguard.api import metrics as metrics_api
from lensguard.api import privacy as privacy_api
from lensguard.api import processors as processors_api
from lensguard.api import security as security_api
from lensguard.api import security_figures as security_figures_api
from lensguard.api import thumbnails as thumbnails_api
from lensguard.api.problems import (
    ANY_ROUTE,
    CatchAllMiddleware,
    install_problem_handlers,
    problems,
)
from lensguard.api.tags import TAGS
from lensguard.audit.checkpointer import Checkpointer
from lensguard.audit.denial_scope import DenialScopeMiddleware
from lensguard.bootstrap import resolve_secrets
from lensguard.clock import Clock
from lensguard.errors import ConfigurationError
from lensguard.guard.blocking import BlocklistMiddleware
from lensguard.guard.body import BodyLimitMiddleware
from lensguard.guard.detection import SuspiciousRequestMiddleware
from lensguard.guard.headers import SecurityHeadersMiddleware
from lensguard.guard.throttle import RequestRateLimitMiddleware
from lensguard.identity.key_schedule import KeyRotationLoop
from lensguard.identity.profile import phones_of_roles
from lensguard.monitor.alerts.runtime import build_alerts
from lensguard.monitor.event_scope import EventScopeMiddleware
from lensguard.monitor.events import bound
from lensguard.monitor.observe import MetricsMiddleware
from lensguard.pki.authority import CA_CERT
from lensguard.pki.listener import ca_dir
from lensguard.pki.watch import PkiWatch
from lensguard.privacy.retention import RetentionLoop
from lensguard.privacy.schedule import loop_for as retention_loop
from lensguard.recordings.schedule import RetentionSchedule, schedule_for
from lensguard.services import Services
from lensguard.settings import Settings
from lensguard.threats.requests import RequestObserverMiddleware, refused_injection_score


def _schedules(
    settings: Settings, services: Services
) -> tuple[RetentionSchedule | None, RetentionLoop | None]:
    """Recording retention (and the quota), and the retention of everything else."""
    recordings = (
        schedule_for(
            services.recordings,
            clock=services.clock,
            redis=services.redis,
            var_dir=settings.var_dir,
        )
        if settings.recordings.retention.enabled
        else None
    )
    return recordings, retention_loop(services, redis=services.redis)


def _key_rotation(settings: Settings, services: Services) -> KeyRotationLoop | None:
    """Scheduled signing-key rotation (None when ``signing_key_rotation_days`` is null)."""
    auth = settings.security.authentication
    if auth.signing_key_rotation_days is None:
        return None
    return KeyRotationLoop(
        services.tokens,
        services.audit,
        clock=services.clock,
        max_age_days=auth.signing_key_rotation_days,
        interval=auth.signing_key_check_seconds,
    )


def _phones_of(services: Services, roles: list[str]) -> Callable[[], Awaitable[list[str]]]:
    """The SMS sink's reader of the numbers on file of accounts with ``roles``, checked
    against the policy at start-up: a role that no account can hold texts nobody."""
    unknown = sorted(set(roles) - set(services.policy.roles))
    if unknown:
        raise ConfigurationError(
            "security.monitoring.alerts.sms.account_roles: unknown role "
            f"{', '.join(unknown)}; valid roles: {', '.join(sorted(services.policy.roles))}"
        )

    async def read() -> list[str]:
        async with services.db.transaction() as session:
            return await phones_of_roles(services.fields, session, roles)

    return read


def _pki_watch(settings: Settings, services: Services, app: FastAPI) -> PkiWatch | None:
    """Revocation lists into the listener's TLS, expiry alerts (``lensguard.pki.watch``).

    None for an app with neither a listener of its own nor an internal CA: there is
    nothing to load or warn about, and no reason to query every 30 s.
    """
    live = getattr(app.state, "live_tls", None)
    if live is None and not (ca_dir(settings) / CA_CERT).is_file():
        return None

    async def announce(device_id: str) -> None:
        await services.announce(device_id=device_id, reason="certificate revoked")

    return PkiWatch(
        services.db,
        settings.security.pki,
        ca_dir=ca_dir(settings),
        live=live,
        clock=services.clock,
        now=services.clock.now,
        announce=announce,
        sighup=getattr(app.state, "reload_on_sighup", False),
    )


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build one lensguard application. Nothing is shared between apps.

    ``clock`` drives every timer in the app (the system clock unless a test turns one).
    """
    settings = resolve_secrets(settings)
    services = Services.build(settings, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        monitoring = settings.security.monitoring
        alerts = build_alerts(
            monitoring.alerts,
            var_dir=settings.var_dir,
            threshold=monitoring.alert_threshold,
            dev=settings.is_dev,
            clock=services.clock,
            account_numbers=lambda roles: _phones_of(services, roles),
        )
        checkpointer = Checkpointer(
            services.audit,
            services.db,
            interval=settings.audit.checkpoint_seconds,
            export_file=settings.audit.export_file or settings.var_dir / "audit-checkpoints.jsonl",
            sleep=services.clock.sleep,
        )
        retention, data_retention = _schedules(settings, services)
        key_rotation = _key_rotation(settings, services)
        pki = _pki_watch(settings, services, _app)
        # Background tasks started here keep this binding: their events reach the app's
        # publisher however the lifespan is driven (a server, or a test entering it).
        with bound(services.events):
            if monitoring.enabled:
                await alerts.start(services.events)
            await services.start()
            checkpointer.start()
            for schedule in (retention, data_retention, key_rotation, pki):
                if schedule is not None:
                    schedule.start()
            _app.state.pki, _app.state.key_rotation = pki, key_rotation
            _app.state.retention, _app.state.data_retention = retention, data_retention
        try:
            yield
        finally:
            for schedule in (pki, key_rotation, data_retention, retention):
                if schedule is not None:
                    await schedule.stop()
            await checkpointer.stop()
            await alerts.stop()
            await services.close()

    app = FastAPI(
        title="lensguard",
        version=__version__,
        summary="Security-first live video for robots and cameras",
        lifespan=lifespan,
        openapi_url=None,  # served by api/meta.py as a declared route
        docs_url=None,  # Swagger UI needs inline scripts our CSP forbids
        redoc_url=None,
        responses=problems(ANY_ROUTE),
        openapi_tags=TAGS,
    )
    app.state.services = services
    install_problem_handlers(app)

    for module in (
        health,
        meta,
        jwks,
        auth,
        oidc,
        users,
        identities,
        sessions,
        api_keys,
        roles,
        devices,
        thumbnails_api,
        signal,
        streams,
        processors_api,
        breakglass,
        recordings,
        recordings_access,
        recordings_download,
        recordings_grants,
        recordings_shared,
        recordings_exports,
        recordings_playback,
        retention,
        compliance,
        compliance_reports_api,
        privacy_api,
        sites,
        recording,
        turn,
        security_api,
        security_figures_api,
        incidents_api,
        incident_attachments,
        audit_api,
        web,
    ):
        app.include_router(module.router)
    app.include_router(devices.token_router)
    if settings.security.monitoring.metrics.enabled:
        app.include_router(metrics_api.router)
    check_routes_declared(app, known_actions=set(services.policy.permissions))

    # Added innermost first: CatchAll wraps the app, headers wrap everything.
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.limits.max_body_bytes,
        upload_max_bytes=settings.incidents.attachment_max_bytes,
    )
    app.add_middleware(
        DenialScopeMiddleware, recorder=services.denials, trusted_proxies=services.trusted_proxies
    )
    app.add_middleware(MetricsMiddleware, metrics=services.metrics, routes=app.router.routes)
    app.add_middleware(
        RequestRateLimitMiddleware,
        limiter=services.rate_limiter,
        per_minute=settings.limits.requests_per_minute,
        trusted_proxies=services.trusted_proxies,
        clock=services.clock,
        throttled_per_minute=settings.threats.responses.throttle_per_minute,
    )
    if services.threats is not None:
        app.add_middleware(
            RequestObserverMiddleware,
            monitor=services.threats,
            trusted_proxies=services.trusted_proxies,
            clock=services.clock,
        )
    suspicious = settings.security.monitoring.suspicious_requests
    if suspicious.enabled:
        app.add_middleware(
            SuspiciousRequestMiddleware,
            settings=suspicious,
            blocklist=services.blocklist,
            strikes=services.strikes,
            trusted_proxies=services.trusted_proxies,
            metrics=services.metrics,
            geoip=services.geoip,
            clock=services.clock,
            refuse_score=refused_injection_score(settings.threats),
        )
    app.add_middleware(
        BlocklistMiddleware,
        blocklist=services.blocklist,
        trusted_proxies=services.trusted_proxies,
        metrics=services.metrics,
        geoip=services.geoip,
        clock=services.clock,
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.security.encryption.enabled)
    # Outermost: every event raised while serving, the guards' included, reaches the publisher.
    app.add_middleware(EventScopeMiddleware, publisher=services.events)
    return app
