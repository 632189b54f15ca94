"""Settings models for alerts, meant for ``security.monitoring.alerts`` in ``settings.py``.

Imports nothing from ``lensguard.settings`` (which imports this module), and nothing
heavier than pydantic and the URL check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from lensguard.monitor.alerts.destination import parse_destination
from lensguard.monitor.alerts.signing import MIN_SECRET_BYTES
from lensguard.monitor.alerts.smsformat import check_number, check_template
from lensguard.severity import Severity


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignedHttpSettings(_Section):
    """An HTTP receiver: URL, signing secret and the SSRF switch."""

    url: str
    """http(s) URL; credentials in it are refused (use ``secret``)."""
    secret: SecretStr
    """HMAC-SHA256 key for ``X-Lensguard-Signature``, shared with the receiver; 32+ bytes."""
    allow_private: bool = False
    """Allow loopback, private, link-local and other internal addresses (SSRF guard off)."""
    timeout: float = Field(default=10.0, gt=0, le=120)
    ca_file: Path | None = None
    """PEM bundle to trust instead of the system store (a private CA)."""

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        parse_destination(value)  # scheme and credentials now; addresses at each send
        return value

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret needs at least {MIN_SECRET_BYTES} bytes")
        return value


class WebhookAlertSettings(SignedHttpSettings):
    """One webhook for live alerts, with its retry policy."""

    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff: float = Field(default=1.0, gt=0, le=60)
    """First retry delay in seconds; doubles per attempt (jittered), at most 60 s."""


class SmtpAlertSettings(_Section):
    """E-mail alerts over SMTP with STARTTLS."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    timeout: float = Field(default=10.0, gt=0, le=120)
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _credentials_need_tls(self) -> SmtpAlertSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("smtp username and password must be set together")
        if self.username is not None and not self.starttls:
            raise ValueError("smtp credentials require starttls: true")
        return self


class SyslogAlertSettings(_Section):
    """Live alerts to a syslog collector."""

    host: str
    port: int = Field(default=514, ge=1, le=65535)
    transport: Literal["udp", "tcp", "tls"] = "udp"
    format: Literal["rfc5424", "cef"] = "rfc5424"
    facility: int = Field(default=10, ge=0, le=23)
    """RFC 5424 facility; 10 is authpriv (security/authorization)."""
    hostname: str | None = None
    """HOSTNAME in each message; unset means this machine's name."""
    app_name: str = "lensguard"
    ca_file: Path | None = None


class SiemSyslogSettings(SyslogAlertSettings):
    """A syslog SIEM target; stream transports only."""

    port: int = Field(default=6514, ge=1, le=65535)
    transport: Literal["tcp", "tls"] = "tls"
    """UDP cannot tell delivered from lost, so the durable forwarder refuses it."""


class SiemSettings(_Section):
    """Durable forwarding of every security event to one SIEM."""

    http: SignedHttpSettings | None = None
    """POST JSON-array batches, signed like webhooks."""
    syslog: SiemSyslogSettings | None = None
    """Octet-counted RFC 5424 or CEF over TCP or TLS."""
    batch_size: int = Field(default=100, ge=1, le=1_000)
    max_events: int = Field(default=100_000, ge=100, le=10_000_000)
    """Queue cap; beyond it the oldest events are dropped and ``siem.queue_full`` is logged."""
    max_age_days: int | None = Field(default=30, ge=1, le=3_650)
    """How long an event may wait for the SIEM; older ones are removed unsent and
    ``siem.events_expired`` is logged. ``null``: no age limit (only ``max_events``)."""
    backoff: float = Field(default=1.0, gt=0, le=60)
    max_backoff: float = Field(default=60.0, gt=0, le=3_600)
    queue_file: str = "siem-queue.sqlite3"
    """File name under ``var_dir``."""

    @field_validator("queue_file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or Path(value).name != value or value in (".", ".."):
            raise ValueError("queue_file must be a plain file name (it lives in var_dir)")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> SiemSettings:
        if (self.http is None) == (self.syslog is None):
            raise ValueError("siem needs exactly one of http or syslog")
        return self


class SmsAlertSettings(_Section):
    """SMS through an HTTP gateway: a templated POST per recipient."""

    # Numbers are personal data and the secret is a credential: errors name fields, not inputs.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: str
    """The gateway; https unless the server runs in dev mode."""
    recipients: list[str] = Field(default_factory=list, max_length=50)
    """E.164 numbers (``+`` and 7-15 digits); logged masked only."""
    account_roles: list[str] = Field(default_factory=list, max_length=20)
    """Also text the phone on file (``PATCH /users/me``, sealed at rest) of every enabled
    account with one of these roles, read when an alert goes out. At least one of
    ``recipients`` and ``account_roles`` is needed."""
    escalation: dict[str, list[str]] = Field(default_factory=dict, max_length=10)
    """Numbers per ``incidents.escalation`` level name: an ``incident.escalated`` alert of
    that level goes to them instead of ``recipients`` (docs/threats.md)."""
    template: dict[str, str]
    """Body fields; values may use ``$to``, ``$text`` and ``$severity``."""
    encoding: Literal["json", "form"] = "json"
    auth: Literal["bearer", "hmac"]
    secret: SecretStr
    """Bearer token, or the HMAC-SHA256 key (32+ bytes) for ``X-Lensguard-Signature``."""
    min_severity: Severity = Severity.HIGH
    max_length: int = Field(default=160, ge=20, le=480)
    rate_per_recipient: int = Field(default=10, ge=1, le=1_000)
    """At most this many SMS per recipient per ``rate_window`` seconds."""
    rate_window: float = Field(default=3600.0, gt=0, le=86_400)
    allow_private: bool = False
    timeout: float = Field(default=10.0, gt=0, le=120)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff: float = Field(default=1.0, gt=0, le=60)
    ca_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _safe_url(cls, value: str) -> str:
        parse_destination(value)
        return value

    @field_validator("recipients")
    @classmethod
    def _e164(cls, value: list[str]) -> list[str]:
        for number in value:
            check_number(number)
        if len(set(value)) != len(value):
            raise ValueError("recipients must not repeat")
        return value

    @field_validator("escalation")
    @classmethod
    def _levels(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for numbers in value.values():
            if not 1 <= len(numbers) <= 50:
                raise ValueError("each escalation level needs 1 to 50 numbers")
            cls._e164(numbers)
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: dict[str, str]) -> dict[str, str]:
        check_template(value)
        return value

    @model_validator(mode="after")
    def _someone_to_text(self) -> SmsAlertSettings:
        if not self.recipients and not self.account_roles:
            raise ValueError("sms needs recipients, account_roles, or both")
        return self

    @model_validator(mode="after")
    def _secret_fits(self) -> SmsAlertSettings:
        if self.auth == "hmac" and len(self.secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"an hmac secret needs at least {MIN_SECRET_BYTES} bytes")
        token = self.secret.get_secret_value()
        if self.auth == "bearer" and not (
            token and token.isascii() and token.isprintable() and " " not in token
        ):
            raise ValueError("the bearer token must be non-empty visible ASCII (RFC 6750)")
        return self


class AlertsSettings(_Section):
    """``security.monitoring.alerts``: live alert sinks and the SIEM forwarder."""

    webhooks: list[WebhookAlertSettings] = Field(default_factory=list)
    smtp: SmtpAlertSettings | None = None
    syslog: SyslogAlertSettings | None = None
    sms: SmsAlertSettings | None = None
    siem: SiemSettings | None = None
