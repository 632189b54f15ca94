"""Settings: a YAML file plus ``LENSGUARD_*`` environment overrides.

Precedence, highest first: environment (``LENSGUARD_SECURITY__AUTHENTICATION__TOKEN_EXPIRY``
style, ``__`` between levels), the YAML file, then the defaults below. Secrets are
``SecretStr`` so they never print; ``check_secrets`` refuses weak ones outside dev mode.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lensguard.errors import ConfigurationError
from lensguard.incidents.settings import IncidentSettings
from lensguard.media.ice_settings import MediaSettings
from lensguard.monitor.alerts.config import AlertsSettings
from lensguard.oidc_settings import OidcSettings
from lensguard.pki.settings import PkiSettings
from lensguard.recordings.settings import RecordingSettings
from lensguard.severity import Severity as Severity  # noqa: PLC0414 - re-exported for now
from lensguard.threats.settings import ThreatSettings
from lensguard.tls_settings import TLSMode, TLSSettings, with_database_tls, with_redis_tls

CONFIG_ENV = "LENSGUARD_CONFIG"
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128

# Values that appear in examples, seeds and tutorials: never acceptable as real secrets.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "your-secret-key",
        "your-secret-key-here",
        "supersecret",
        "password",
        "lensguard",
        "development",
        "dev-secret",
        "replace-me-with-the-output-of-lensguard-secret-generate",
    }
)


class Mode(StrEnum):
    """How strict start-up is: ``dev`` generates missing secrets, ``production`` refuses."""

    DEV = "dev"
    PRODUCTION = "production"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _spelled(value: Any, choices: tuple[str, ...]) -> Any:
    """``value`` as the canonical spelling of one of ``choices``, ignoring case."""
    if isinstance(value, str):
        for choice in choices:
            if value.strip().lower() == choice.lower():
                return choice
    return value


def _always_on(value: bool, key: str, why: str) -> bool:
    """Refuse ``false`` for a control that cannot be turned off, saying why."""
    if not value:
        raise ValueError(f"{key}: false is not supported: {why}; remove the key or set it to true")
    return value


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    trusted_proxies: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)


class DatabaseSettings(_Section):
    url: str | None = None
    """SQLAlchemy URL; unset means SQLite at ``<var_dir>/lensguard.db``."""
    echo: bool = False
    tls: TLSSettings = Field(default_factory=TLSSettings)
    """TLS towards PostgreSQL (docs/deployment.md)."""


class RedisSettings(_Section):
    url: SecretStr | None = None
    """``redis://`` URL (may carry a password, hence secret); unset means embedded mode."""
    tls: TLSSettings = Field(default_factory=TLSSettings)
    """TLS towards Redis; turns ``redis://`` into ``rediss://`` (docs/deployment.md)."""


class AuthenticationSettings(_Section):
    enabled: bool = True
    """Always on: accepted as ``true`` only (every route and socket authenticates)."""
    method: Literal["jwt"] = "jwt"
    token_expiry: int = Field(default=900, ge=60, le=86_400)
    """Access-token lifetime in seconds."""
    token_cache_entries: int = Field(default=10_000, ge=0, le=1_000_000)
    """Verified access tokens kept per node until they expire (0: verify every time)."""
    signing_key_rotation_days: int | None = Field(default=30, ge=1, le=366)
    """Rotate the token signing key when it is this old (monthly by default); None: never."""
    signing_key_check_seconds: int = Field(default=3_600, ge=60, le=86_400)
    """How often each node checks whether the signing key is due."""
    refresh_token_expiry: int = Field(default=30 * 86_400, ge=3_600, le=90 * 86_400)
    mfa_required_for: list[str] = Field(default_factory=list)

    @field_validator("enabled")
    @classmethod
    def _enabled(cls, value: bool) -> bool:
        return _always_on(
            value,
            "security.authentication.enabled",
            "lensguard authenticates every request and socket (deny by default)",
        )

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return _spelled(value, ("jwt",))


TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
MEDIA_PROTOCOL = "dtls-srtp"


class EncryptionSettings(_Section):
    enabled: bool = True
    """Serve HTTPS. Turning it off is only sensible behind a TLS-terminating proxy."""
    protocol: Literal["TLSv1.2", "TLSv1.3", "dtls-srtp"] = "TLSv1.2"
    """``dtls-srtp`` (the seed configuration's spelling) names the media protection, which
    is always on, and leaves the TLS floor to ``tls_min_version``; ``TLSv1.2`` or
    ``TLSv1.3`` (older files) set the TLS floor itself. Case does not matter."""
    tls_min_version: Literal["TLSv1.2", "TLSv1.3"] | None = None
    """Lowest TLS version accepted for HTTPS and WSS; unset: from ``protocol``, else 1.2."""
    certificate: Path | None = None
    """PEM certificate (chain); unset means a self-signed one generated under ``var_dir``.
    Without ``key`` the file must hold the private key as well (a combined PEM)."""
    key: Path | None = None

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: Any) -> Any:
        return _spelled(value, (*TLS_VERSIONS, MEDIA_PROTOCOL))

    @field_validator("tls_min_version", mode="before")
    @classmethod
    def _tls_version(cls, value: Any) -> Any:
        return _spelled(value, TLS_VERSIONS)

    @model_validator(mode="after")
    def _one_tls_floor(self) -> EncryptionSettings:
        if self.protocol in TLS_VERSIONS and self.tls_min_version not in (None, self.protocol):
            raise ValueError(
                f"security.encryption.protocol {self.protocol} and tls_min_version "
                f"{self.tls_min_version} disagree: write protocol: dtls-srtp and keep "
                "tls_min_version alone"
            )
        return self

    @property
    def tls_minimum(self) -> str:
        """The TLS floor in force."""
        if self.tls_min_version is not None:
            return self.tls_min_version
        return self.protocol if self.protocol in TLS_VERSIONS else TLS_VERSIONS[0]


class AccessControlSettings(_Section):
    enabled: bool = True
    """Always on: accepted as ``true`` only (one policy decides every action)."""
    default_role: str = "viewer"
    """Role of accounts created without one; must exist in the policy (checked at start)."""
    policy_file: Path | None = None

    @field_validator("enabled")
    @classmethod
    def _enabled(cls, value: bool) -> bool:
        return _always_on(
            value,
            "security.access_control.enabled",
            "every route and signaling message is checked by the access policy (deny by "
            "default); grant wider roles in the policy instead",
        )


class SuspiciousRequestSettings(_Section):
    enabled: bool = True
    """Score every request's path and query for attack patterns (detection, not validation)."""
    threshold: int = Field(default=50, ge=1, le=100)
    """A request scoring at least this (0-100; any one attack signal scores 50-60) is a strike."""
    block_after: int = Field(default=3, ge=1, le=1_000)
    """Strikes from one address within ``window_seconds`` that put it on the blocklist."""
    window_seconds: int = Field(default=300, ge=10, le=86_400)
    block_seconds: int = Field(default=3_600, ge=0, le=30 * 86_400)
    """How long such an address stays blocked; 0 only reports, never blocks."""


class MetricsSettings(_Section):
    enabled: bool = True
    """Serve Prometheus metrics at ``GET /metrics`` (needs the security_manage permission)."""


class BlocklistSettings(_Section):
    block_brute_force: bool = True
    """Block an address for as long as the sign-in throttle locks it."""
    range_refresh_seconds: float = Field(default=5.0, ge=0.1, le=300)
    """Cluster mode: how stale another node's blocked CIDR ranges may be on this node."""


class MonitoringSettings(_Section):
    enabled: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    alert_threshold: Severity = Severity.HIGH
    suspicious_requests: SuspiciousRequestSettings = Field(
        default_factory=SuspiciousRequestSettings
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        return _spelled(value, ("DEBUG", "INFO", "WARNING", "ERROR"))

    @field_validator("alert_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        return _spelled(value, tuple(s.value for s in Severity))

    geoip_database: Path | None = None
    """A MaxMind City/Country .mmdb: guard events then carry ``country`` and ``city``."""
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    """Alert sinks (webhook, SMTP, syslog) and the SIEM forwarder; see docs/alerts.md."""


class SecuritySettings(_Section):
    authentication: AuthenticationSettings = Field(default_factory=AuthenticationSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    access_control: AccessControlSettings = Field(default_factory=AccessControlSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    blocklist: BlocklistSettings = Field(default_factory=BlocklistSettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    """Single sign-on through OpenID Connect providers (docs/sso.md)."""
    pki: PkiSettings = Field(default_factory=PkiSettings)
    """The internal CA and device mutual TLS (docs/secure.md)."""


class LimitSettings(_Section):
    max_body_bytes: int = Field(default=1_048_576, ge=1_024, le=64 * 1_048_576)
    requests_per_minute: int = Field(default=600, ge=1)
    """Per client address, across all routes; 429 with Retry-After beyond it."""


AUDIT_PERSONAL_DETAILS = (
    "address",
    "addresses",
    "client_address",
    "source_address",
    "user_agent",
    "email",
    "phone",
    "display_name",
    "username",
)
"""The top-level ``details`` keys sealed as personal data by default (docs/audit.md)."""


class AuditSettings(_Section):
    checkpoint_every: int = Field(default=1000, ge=1, le=1_000_000)
    """Sign a checkpoint every this many entries."""
    checkpoint_seconds: float = Field(default=300, ge=0, le=86_400)
    """…and every this many seconds when the chain moved (0 turns the timer off)."""
    export_file: Path | None = None
    """Append exported checkpoints here (JSON Lines).

    Unset: ``<var_dir>/audit-checkpoints.jsonl``; ship a copy off the host (the SIEM
    forwarder carries every checkpoint as an ``audit.checkpoint`` event too)."""
    denial_window_seconds: float = Field(default=60, ge=1, le=3_600)
    """Refusals repeating within this window (per principal, action and resource) are one
    counted entry; the first of each window is written at once (docs/audit.md)."""
    denial_max_keys: int = Field(default=4_096, ge=16, le=1_000_000)
    """How many refusal keys one node tallies at a time; when full the oldest is written early."""
    personal_details: list[str] = Field(
        default_factory=lambda: list(AUDIT_PERSONAL_DETAILS), max_length=64
    )
    """Top-level keys of an entry's ``details`` whose values are personal data: sealed under
    the key of the user the entry is about (else its actor) and shredded when that person
    is erased. Add ``reason`` to treat free-text reasons as personal; ``[]`` seals none."""

    @field_validator("personal_details")
    @classmethod
    def _detail_keys(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or len(name) > 64 or not name.isidentifier():
                raise ValueError(f"{name!r} is not a details key (letters, digits and _)")
        return sorted(set(value))


class DataRetentionSettings(_Section):
    """How long what is not a recording is kept (docs/privacy.md, *Retention*)."""

    enabled: bool = True
    """Run the job on the server (one node of a cluster at a time)."""
    interval_seconds: float = Field(default=3_600.0, ge=10.0, le=86_400.0)
    batch: int = Field(default=500, ge=1, le=10_000)
    """Rows removed per transaction: a killed run leaves whole batches behind, never half."""
    sessions_days: int = Field(default=30, ge=1, le=3_650)
    """Ended sign-in sessions (expired or revoked) and their refresh tokens, after the end."""
    api_keys_days: int = Field(default=90, ge=1, le=3_650)
    """Revoked or expired API keys, after revocation or expiry."""
    recovery_codes_days: int = Field(default=30, ge=1, le=3_650)
    """Used recovery codes, after use."""
    break_glass_days: int = Field(default=365, ge=1, le=3_650)
    """Ended or expired break-glass grants (the audit log keeps each grant's entries)."""
    incidents_days: int = Field(default=365, ge=30, le=3_650)
    """Closed incidents and false positives with their timelines, after their last activity."""
    audit_days: int | None = Field(default=180, ge=30, le=3_650)
    """Audit entries, after they were written: pruned behind a signed anchor that
    ``lensguard audit verify`` starts from; an open incident or a live legal hold keeps
    the log as it stood when it began, and so do entries a stored recording relies on.
    None keeps the whole log (where a regulation asks for more than ten years)."""
    inactive_account_days: int = Field(default=730, ge=30, le=3_650)
    """Accounts with no sign-in for this long are reported (``inactive_action``)."""
    inactive_action: Literal["flag", "disable"] = "flag"
    """``flag``: an alert and the run report name them; ``disable``: also disabled (never
    the last enabled administrator)."""
    review_reminder: bool = True
    """Alert (HIGH, ``compliance.access_review_due``) once a day while a review is overdue."""


class PrivacySettings(_Section):
    export_max_bytes: int = Field(default=256 * 1024**2, ge=1024**2, le=16 * 1024**3)
    """A subject export whose content is larger is refused, naming this bound (docs/privacy.md)."""
    retention: DataRetentionSettings = Field(default_factory=DataRetentionSettings)
    erasure_four_eyes: bool = True
    """An erasure runs only once a second person approves it (docs/privacy.md)."""
    recording_erasure_max_days: int = Field(default=31, ge=1, le=366)
    """The longest time range one erasure of recorded video may cover, in days."""


class DemoSettings(_Section):
    enabled: bool = False
    """Run a demo robot (synthetic scene, simulated driver) inside ``serve``; dev only."""
    device_name: str = Field(default="demo-robot", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    site: str = Field(default="demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SignalingSettings(_Section):
    auth_timeout: float = Field(default=5.0, gt=0, le=60)
    """Seconds a new /v1/signal connection has to send its auth message."""
    max_sockets_per_node: int = Field(default=20_000, ge=1, le=1_000_000)
    """Open /v1/signal sockets this node holds (authenticated or not); one more is
    accepted and closed at once with 1013 and ``retry_after`` in the reason."""
    capacity_retry_seconds: int = Field(default=30, ge=1, le=3_600)
    """The ``retry_after`` told to a socket refused for capacity."""


class ControlSettings(_Section):
    """Driving devices: the control lock and the audit of drive gestures (docs/signaling.md)."""

    lock_idle_seconds: float = Field(default=15.0, ge=1, le=600)
    """A control lock whose holder sent no command for this long is free again."""
    gesture_gap_seconds: float = Field(default=1.0, gt=0, le=10)
    """Identical commands closer together than this are one gesture: one audit row."""


class TurnSettings(_Section):
    """coturn with REST-API ephemeral credentials (docs/turn.md)."""

    enabled: bool = False
    urls: list[str] = Field(default_factory=list, max_length=16)
    """``turn:`` / ``turns:`` URLs handed to clients, e.g. ``turns:turn.example.org:5349``."""
    stun_urls: list[str] = Field(default_factory=list, max_length=16)
    """Optional ``stun:`` URLs handed to clients alongside the TURN servers."""
    static_auth_secret: SecretStr | None = None
    """coturn's ``static-auth-secret``; required outside dev mode when enabled."""
    ttl: int = Field(default=600, ge=60, le=3_600)
    """Lifetime of issued credentials in seconds."""
    realm: str = Field(
        default="lensguard", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$"
    )
    """coturn's ``realm``; a plain DNS-style name (it is written into turnserver.conf)."""

    @field_validator("urls")
    @classmethod
    def _turn_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("turn:", "turns:")) or any(c.isspace() for c in url):
                raise ValueError(f"{url!r} is not a turn: or turns: URL")
        return value

    @field_validator("stun_urls")
    @classmethod
    def _stun_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("stun:", "stuns:")) or any(c.isspace() for c in url):
                raise ValueError(f"{url!r} is not a stun: or stuns: URL")
        return value


class VisionSettings(_Section):
    """Where AI processors run: in the relay, or in ``lensguard worker`` processes."""

    DETECTORS: ClassVar[tuple[str, ...]] = ("face_detect", "face_detect_haar")
    """Processors a worker may run: they only add detections, the relay draws the result."""

    workers: bool = False
    """Run the ``remote`` processors in ``lensguard worker`` processes fed through Redis
    Streams instead of in the relay; needs ``redis.url`` (start-up refuses it without)."""
    remote: list[str] = Field(default_factory=lambda: ["face_detect"], min_length=1, max_length=4)
    """Processors that run in the workers: detectors only (see ``DETECTORS``)."""
    timeout_ms: float = Field(default=35.0, gt=0, le=1_000)
    """How long the relay waits for a worker's answer for one frame."""
    reuse_ms: float = Field(default=500.0, ge=0, le=5_000)
    """How old the last detections may be to stand in, padded, for a late answer; older
    (or none) and the frame is blanked."""
    stream: str = Field(
        default="lensguard:vision",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]*$",
    )
    """Prefix of the Redis keys: ``<stream>:jobs``, reply streams and worker counters."""
    send_side: int = Field(default=640, ge=64, le=4_096)
    """Frames go to workers as JPEG, scaled down so their longer side is at most this."""
    detect_every: int = Field(default=1, ge=1, le=6)
    """Run the face detectors on one processed frame in this many; on the frames between,
    the faces found last are tracked (moved with their velocity, grown by ``track_grow``)
    and redacted there. 1 searches every frame. A face that comes into view between two
    detections is found up to ``detect_every - 1`` frames later (docs/redaction.md)."""
    track_grow: float = Field(default=0.15, ge=0.0, le=1.0)
    """How much a tracked face's box grows on every side per frame carried, as a share of
    its width and height."""
    scene_change: float = Field(default=0.2, gt=0.0, le=1.0)
    """Detect at once, out of turn, when more than this share of the picture changed
    since the last detection (a cut, a fast pan, the camera moved)."""

    @field_validator("remote")
    @classmethod
    def _detectors_only(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in cls.DETECTORS:
                raise ValueError(
                    f"{name!r} cannot run in a worker; detectors only: {', '.join(cls.DETECTORS)}"
                )
        return sorted(set(value))


class Settings(BaseSettings):
    """Everything lensguard reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="LENSGUARD_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    mode: Mode = Mode.PRODUCTION
    var_dir: Path = Path("./var")
    secret_key: SecretStr | None = None
    """Master secret; sub-keys for each purpose are derived from it (HKDF)."""
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    signaling: SignalingSettings = Field(default_factory=SignalingSettings)
    control: ControlSettings = Field(default_factory=ControlSettings)
    """The control lock and drive-gesture audit (docs/signaling.md)."""
    audit: AuditSettings = Field(default_factory=AuditSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    turn: TurnSettings = Field(default_factory=TurnSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    """The relay's own ICE: servers and remote addresses it may check (docs/media.md)."""
    vision: VisionSettings = Field(default_factory=VisionSettings)
    recordings: RecordingSettings = Field(default_factory=RecordingSettings)
    """Storage and cutting of encrypted recordings (docs/recordings.md)."""
    threats: ThreatSettings = Field(default_factory=ThreatSettings)
    """Threat detection, the anomaly model and automatic responses (docs/threats.md)."""
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    """Incident grouping, escalation and playbooks (docs/threats.md)."""
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    """Subject exports (docs/privacy.md)."""

    @field_validator("var_dir")
    @classmethod
    def _absolute_var_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment must override it.
        return env_settings, init_settings

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL."""
        if self.database.url:
            return with_database_tls(self.database.url, self.database.tls)
        return f"sqlite+aiosqlite:///{self.var_dir / 'lensguard.db'}"

    @model_validator(mode="after")
    def _strong_tls(self) -> Settings:
        if self.is_dev:
            return self
        for key, tls in (("database.tls", self.database.tls), ("redis.tls", self.redis.tls)):
            if tls.enabled and tls.mode is not TLSMode.VERIFY_FULL:
                raise ValueError(
                    f"{key}.mode {tls.mode.value} does not check the server's name and is "
                    "only accepted in dev mode: use verify-full with ca_file"
                )
        return self

    @property
    def redis_url(self) -> str | None:
        """The effective Redis URL, carrying the TLS options of ``redis.tls``."""
        if self.redis.url is None:
            return None
        return with_redis_tls(self.redis.url.get_secret_value(), self.redis.tls)

    @property
    def is_dev(self) -> bool:
        return self.mode is Mode.DEV


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read ``config_file`` (or ``$LENSGUARD_CONFIG``), apply env overrides, validate."""
    path = config_file or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(f"configuration file {path} does not exist") from exc
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"configuration file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigurationError(f"configuration file {path} must hold a mapping at top level")
        data = loaded or {}
    data.update(overrides)
    return Settings(**data)


def secret_bits(value: str) -> float:
    """Shannon estimate of the entropy in ``value`` (bits), a floor for weak-secret checks."""
    if not value:
        return 0.0
    counts = Counter(value)
    per_char = -sum((n / len(value)) * math.log2(n / len(value)) for n in counts.values())
    return per_char * len(value)


def weakness(value: str) -> str | None:
    """Why ``value`` is unfit as a secret, or None when it is acceptable."""
    if value.strip().lower() in KNOWN_DEFAULT_SECRETS:
        return "it is a well-known default value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    if secret_bits(value) < MIN_SECRET_BITS:
        return "it is too predictable (too few distinct characters)"
    return None


def check_secrets(settings: Settings) -> None:
    """Refuse missing, default or weak secrets outside dev mode, saying how to fix it."""
    if settings.is_dev:
        return
    fix = (
        "generate one with `lensguard secret generate` and set it as "
        "LENSGUARD_SECRET_KEY (or `secret_key:` in the configuration file)"
    )
    if settings.secret_key is None:
        raise ConfigurationError(f"secret_key is not set and mode is production: {fix}")
    reason = weakness(settings.secret_key.get_secret_value())
    if reason is not None:
        raise ConfigurationError(f"secret_key is unfit for production because {reason}: {fix}")
