"""The per-app service container: built by ``create_app``, closed by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from redis.asyncio import Redis

from lensguard.access.policy import Policy
from lensguard.audit import AuditLog
from lensguard.audit.denials import DenialRecorder
from lensguard.bus.base import Bus
from lensguard.bus.memory import MemoryBus
from lensguard.bus.redis import RedisBus
from lensguard.clock import Clock, SystemClock
from lensguard.errors import ConfigurationError
from lensguard.guard.blocking import brute_force_hook
from lensguard.guard.blocklist import Blocklist, MemoryBlocklist
from lensguard.guard.blocklist_file import FileBlocklist
from lensguard.guard.blocklist_redis import RedisBlocklist
from lensguard.guard.client import Network, parse_networks
from lensguard.guard.counting import CountingRateLimiter
from lensguard.guard.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from lensguard.identity.context import REVOCATION_LEEWAY, build_identity
from lensguard.identity.oidc.room import OidcRoom, build_oidc
from lensguard.identity.revocation import RevocationStore
from lensguard.identity.throttle import LoginThrottle
from lensguard.identity.tokens import TokenService
from lensguard.incidents.actions import StepActions
from lensguard.incidents.attachments import Attachments
from lensguard.incidents.book import IncidentBook
from lensguard.incidents.escalation import Escalator
from lensguard.incidents.grouping import IncidentGrouper
from lensguard.incidents.playbook import PlaybookError, load_all
from lensguard.keyring.fields import FieldKeys
from lensguard.media.ice import IcePolicy
from lensguard.media.relay import MediaNode, ViewerLimits
from lensguard.monitor.event_log import log_event
from lensguard.monitor.event_metrics import metrics_subscriber
from lensguard.monitor.geoip import GeoIP
from lensguard.monitor.metrics import Metrics
from lensguard.monitor.publisher import EventPublisher
from lensguard.recordings.manager import RecordingManager
from lensguard.recordings.recovery import node_id
from lensguard.recordings.vault import RecordingVault
from lensguard.settings import Settings
from lensguard.signaling.camera_pose import CameraPoses
from lensguard.signaling.control_lock import ControlLock
from lensguard.signaling.hub import SignalingHub, revocation_notifier
from lensguard.signaling.presence import Presence
from lensguard.store.db import Database
from lensguard.store.kv import ExpiringStore, MemoryStore, RedisStore
from lensguard.store.leases import Leases, MemoryLeases, RedisLeases
from lensguard.streams.room import StreamsRoom
from lensguard.threats.detection import DetectionPublisher
from lensguard.threats.monitor import ThreatMonitor
from lensguard.threats.responses import Responder
from lensguard.threats.training import load_model
from lensguard.tls_settings import unreadable_files
from lensguard.vision.remote import remote_chain_builder


@dataclass
class Services:
    """Everything a request handler may need, owned by one app instance.

    The one container: identity flows, signaling and routers all take this object.
    Packages below this layer name what they read as a protocol of their own
    (``identity.context.IdentityContext``), which this class satisfies.
    """

    settings: Settings
    db: Database
    redis: Redis | None
    rate_limiter: RateLimiter
    """Per-address request limits (the API-key limiter is ``api_key_limiter``)."""
    bus: Bus
    hub: SignalingHub
    denials: DenialRecorder
    """Refusals into the audit log, repeats coalesced (started and flushed by the lifespan)."""
    # The identity room's keys and stores (see ``identity.context.build_identity``).
    policy: Policy
    tokens: TokenService
    revocations: RevocationStore
    throttle: LoginThrottle
    api_key_limiter: RateLimiter
    hasher: PasswordHasher
    dummy_hash: str
    """Unknown users are checked against this, so timing does not reveal who exists."""
    wrap_key: bytes
    pepper: bytes
    refresh_key: bytes
    recovery_key: bytes
    audit: AuditLog
    """The tamper-evident audit log."""
    fields: FieldKeys
    """The keys personal fields are sealed under (``keyring.fields``)."""
    streams: StreamsRoom
    """Stream policy and break-glass: read, change, grant, end, observe."""
    recordings: RecordingVault
    """The recording store and key ring: every writer, player and retention job uses it."""
    recorder: RecordingManager
    """Makes each device's recording policy true on the node holding the device."""
    incident_book: IncidentBook
    """Incidents and their timelines, on the loaded playbooks (docs/threats.md)."""
    trusted_proxies: tuple[Network, ...] = field(default=())
    blocklist: Blocklist = field(default_factory=MemoryBlocklist)
    metrics: Metrics = field(default_factory=Metrics)
    strikes: ExpiringStore = field(default_factory=MemoryStore)
    """Suspicious-request strikes per address (shared by nodes in cluster mode)."""
    geoip: GeoIP | None = None
    events: EventPublisher = field(default_factory=EventPublisher)
    detections: DetectionPublisher = field(default_factory=DetectionPublisher)
    """The one stream of security events (the JSON log and metrics subscribe at build)."""
    threats: ThreatMonitor | None = None
    """The detectors over ``events`` and requests; their detections go to ``detections``."""
    responder: Responder | None = None
    """The automatic responses to ``detections`` (set by ``build``)."""
    incidents: IncidentGrouper | None = None
    """Files ``detections`` under incidents (None when ``incidents.enabled`` is false)."""
    step_actions: StepActions | None = None
    """What a playbook's automatic steps do (set by ``build``)."""
    escalator: Escalator | None = None
    """Alerts the next level about unacknowledged critical incidents (set by ``build``)."""
    oidc: OidcRoom | None = None
    """Single sign-on providers (``security.oidc``; set by ``build``)."""
    clock: Clock = field(default_factory=SystemClock)
    """The one source of time for every timer, expiry and throttle (turned by hand in tests)."""

    @property
    def attachments(self) -> Attachments:
        """Incidents' evidence files, in the recording store under the field keys."""
        return Attachments(
            self.incident_book,
            self.recordings,
            self.fields,
            per_incident=self.settings.incidents.attachments_per_incident,
        )

    @property
    def access_lifetime(self) -> int:
        """Seconds an access token lives."""
        return self.settings.security.authentication.token_expiry

    @property
    def revocation_ttl(self) -> int:
        """How long a revocation must be remembered: until every affected token expired."""
        return self.access_lifetime + REVOCATION_LEEWAY

    def mfa_required(self, role: str) -> bool:
        """Whether accounts of this role must enrol a second factor."""
        return role in self.settings.security.authentication.mfa_required_for

    async def announce(self, **message: Any) -> None:
        """Tell live signaling sessions on every node that access for someone changed."""
        await revocation_notifier(self.bus)(message)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        """Create clients (no connection is opened until first use)."""
        clock = clock or SystemClock()
        problems = unreadable_files(settings.database.tls, "database") + unreadable_files(
            settings.redis.tls, "redis"
        )
        if problems:
            raise ConfigurationError("; ".join(problems))
        db = Database(settings.database_url, echo=settings.database.echo)
        redis: Redis | None = None
        limiter: RateLimiter
        if settings.redis_url is not None:
            redis = Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )
            limiter = RedisRateLimiter(redis, clock=clock.time)
        else:
            limiter = MemoryRateLimiter(clock=clock.time)
        bus: Bus = RedisBus(redis) if redis is not None else MemoryBus()
        identity = build_identity(settings, db, redis, clock=clock)
        metrics = Metrics()
        events = EventPublisher(now=clock.now)
        events.subscribe(log_event, name="log")
        events.subscribe(metrics_subscriber(metrics), name="metrics")
        limiter = CountingRateLimiter(limiter, metrics)
        trusted = parse_networks(settings.server.trusted_proxies)
        blocklist: Blocklist = MemoryBlocklist(protected=trusted, clock=clock.time)
        if redis is None:
            # Embedded mode: blocks the API acknowledged must survive a restart.
            path = settings.var_dir / "blocklist.jsonl"
            blocklist = FileBlocklist(path, protected=trusted, clock=clock.time)
        strikes: ExpiringStore = MemoryStore(clock=clock.monotonic)
        local = MemoryStore(clock=clock.monotonic)
        presence = Presence(local if redis is None else RedisStore(redis), sleep=clock.sleep)
        if redis is not None:
            refresh = settings.security.blocklist.range_refresh_seconds
            blocklist = RedisBlocklist(
                redis, protected=trusted, refresh_seconds=refresh, clock=clock.time
            )
            strikes = RedisStore(redis, prefix="lg:guard:")
        if settings.security.blocklist.block_brute_force:
            identity.throttle.on_address_lock = brute_force_hook(blocklist)
        geoip_path = settings.security.monitoring.geoip_database
        geoip = GeoIP.open(geoip_path) if geoip_path is not None else None
        detections = DetectionPublisher()
        threats = _threat_monitor(settings, redis, detections, geoip)
        streams = StreamsRoom(db, identity.audit, bus, clock)
        assert settings.secret_key is not None  # build_identity refused a missing one
        recordings = RecordingVault.build(
            settings.recordings,
            var_dir=settings.var_dir,
            master_secret=settings.secret_key.get_secret_value(),
            db=db,
            audit=identity.audit,
            events=events,
        )
        media = MediaNode(
            bus,
            streams.policy,
            chain_builder=remote_chain_builder(settings),
            ice=IcePolicy.from_settings(settings),
            clock=clock,
            limits=ViewerLimits(
                per_node=settings.media.max_viewers_per_node,
                per_stream=settings.media.max_viewers_per_stream,
                retry_after=settings.media.capacity_retry_seconds,
            ),
        )
        hub = SignalingHub(
            bus,
            media,
            metrics=metrics,
            presence=presence,
            control=_control_lock(settings, redis, bus, clock),
            poses=CameraPoses(local if redis is None else RedisStore(redis, prefix="lg:ptz:"), bus),
            gesture_gap=settings.control.gesture_gap_seconds,
            clock=clock,
        )
        recorder = RecordingManager(
            media, recordings, streams.policy, clock=clock, node_id=node_id(settings.var_dir)
        )
        hub.on_publish.append(recorder.device_online)
        hub.on_unpublish.append(recorder.device_offline)
        streams.observe(lambda change: recorder.changed(change.device_id, change.site))
        services = cls(
            settings=settings,
            db=db,
            redis=redis,
            rate_limiter=limiter,
            bus=bus,
            hub=hub,
            denials=DenialRecorder(
                identity.audit,
                db,
                window=settings.audit.denial_window_seconds,
                max_keys=settings.audit.denial_max_keys,
                clock=clock.time,
                sleep=clock.sleep,
            ),
            trusted_proxies=parse_networks(settings.server.trusted_proxies),
            blocklist=blocklist,
            metrics=metrics,
            strikes=strikes,
            geoip=geoip,
            events=events,
            detections=detections,
            threats=threats,
            streams=streams,
            recordings=recordings,
            recorder=recorder,
            incident_book=_incident_book(settings, db, identity.audit),
            oidc=build_oidc(
                settings.security.oidc,
                master=settings.secret_key.get_secret_value(),
                policy=identity.policy,
                redis=redis,
                clock=clock,
            ),
            clock=clock,
            policy=identity.policy,
            tokens=identity.tokens,
            revocations=identity.revocations,
            throttle=identity.throttle,
            api_key_limiter=identity.api_key_limiter,
            hasher=identity.hasher,
            dummy_hash=identity.dummy_hash,
            wrap_key=identity.wrap_key,
            pepper=identity.pepper,
            refresh_key=identity.refresh_key,
            recovery_key=identity.recovery_key,
            audit=identity.audit,
            fields=identity.fields,
        )
        services.responder = Responder(settings.threats.responses, services, blocklist)
        services._wire_incidents()
        return services

    def _wire_incidents(self) -> None:
        chosen = self.settings.incidents
        if chosen.enabled:
            self.incidents = IncidentGrouper(self.incident_book)
        self.step_actions = StepActions(self, self.blocklist, chosen)
        self.escalator = Escalator(
            self.incident_book,
            chosen.escalation,
            clock=self.clock,
            every_seconds=chosen.escalation_check_seconds,
        )

    async def start(self) -> None:
        """Start background listeners (called by the app's lifespan)."""
        await self.recorder.start()  # seals what a crash left open, before devices connect
        await self.streams.start()
        await self.hub.start()
        if self.hub.media is not None:
            await self.hub.media.start()
        self.denials.start()
        if self.responder is not None:
            self.responder.start(self.detections)
        if self.incidents is not None:
            self.incidents.start(self.detections)
        if self.threats is not None:
            self.threats.start(self.events)
        if self.escalator is not None:
            self.escalator.start()

    async def threats_settled(self) -> None:
        """Wait until every queued observation is judged, every detection responded to
        and filed under an incident."""
        for stage in (self.threats, self.responder, self.incidents):
            if stage is not None:
                await stage.drained()

    async def close(self) -> None:
        """Release connections."""
        if self.threats is not None:
            await self.threats.stop()
        if self.responder is not None:
            await self.responder.stop()
        if self.incidents is not None:
            await self.incidents.stop()
        if self.escalator is not None:
            await self.escalator.stop()
        await self.recorder.close()  # sealed while the relays and the database are still up
        await self.hub.stop()
        await self.streams.stop()
        await self.denials.stop()  # before the database goes: every counted refusal is written
        await self.bus.close()
        await self.db.dispose()
        if self.oidc is not None:
            await self.oidc.close()
        if self.geoip is not None:
            self.geoip.close()
        if self.redis is not None:
            await self.redis.aclose()


def _threat_monitor(
    settings: Settings, redis: Redis | None, detections: DetectionPublisher, geoip: GeoIP | None
) -> ThreatMonitor | None:
    """The live detectors, publishing to ``detections`` (None when detection is off)."""
    if not settings.threats.detectors.enabled:
        return None
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    model = (
        load_model(settings.var_dir, settings.threats.model, secret) if secret is not None else None
    )
    return ThreatMonitor.build(
        settings.threats,
        redis=redis,
        publisher=detections,
        locate=geoip.lookup if geoip is not None else None,
        model=model,
    )


def _incident_book(settings: Settings, db: Database, audit: AuditLog) -> IncidentBook:
    """The incident book on the playbooks (a bad playbook stops start-up, with its line)."""
    chosen = settings.incidents
    try:
        playbooks = load_all(chosen.playbook_dir)
    except PlaybookError as exc:
        raise ConfigurationError(f"incidents.playbook_dir: {exc}") from None
    window = timedelta(minutes=chosen.group_minutes)
    return IncidentBook(db, audit, playbooks, group_window=window)


def _control_lock(settings: Settings, redis: Redis | None, bus: Bus, clock: Clock) -> ControlLock:
    """Device control locks: in this process, or in Redis shared by every node."""
    leases: Leases = (
        MemoryLeases(clock=clock.time) if redis is None else RedisLeases(redis, clock=clock.time)
    )
    return ControlLock(leases, bus, idle=settings.control.lock_idle_seconds)
