"""Table definitions. Migrations in ``migrations/`` create them; never ``create_all``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lensguard.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A random identifier (UUID4, hex) for new rows."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A person who signs in to the console or the API."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    """Stored folded (``store.usernames.fold``): ``Admin`` and ``admin`` are one name."""
    username_skeleton: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    """The name with look-alikes merged; unique, so no new name reads like an existing one.
    None only for old accounts that already read like an older one (migration 0009)."""
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    sites: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["*"])
    """Sites this user may touch; ``*`` means every site."""
    devices: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["*"])
    """Devices this user may touch; ``*`` means every device of an allowed site."""
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """TOTP seed, wrapped like every stored secret; set once enrolment is confirmed."""
    totp_pending: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Last accepted TOTP time step: a code is never accepted twice."""
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """Personal fields are sealed one by one (``keyring.fields``), never stored in clear."""
    email_index: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    """Blind index of the normalised e-mail address: sign-in by e-mail, one account each."""
    display_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """E.164 number the person gave for SMS alerts (the alert sinks read settings today)."""
    fields_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Data-key version every sealed field of the row is under; None when none is set."""
    password_login: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False: the account signs in only through single sign-on (docs/sso.md)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LoginSession(Base):
    """A sign-in: one refresh-token family. Revoking it ends every token it issued."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Absolute end: refreshing never extends a family past it."""
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """In clear only in rows from before field encryption; ``privacy rekey`` seals them."""
    user_agent: Mapped[str | None] = mapped_column(String(256), nullable=True)
    client_address_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    user_agent_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    fields_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OidcIdentity(Base):
    """An account's identity at an OpenID Connect provider: (issuer, subject), never e-mail."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_oidc_identities_issuer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OidcSession(Base):
    """Which provider session (``sid``) a login session came from, for back-channel logout."""

    __tablename__ = "oidc_sessions"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255), index=True)
    sid: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    mfa_by_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    """The provider's ``amr``/``acr`` proved a second factor (trusted by its settings)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(Base):
    """One single-use refresh token; only its SHA-256 is stored."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SigningKey(Base):
    """A token-signing key pair; the private half is stored wrapped (AES-256-GCM)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When it stopped signing; still published until every token it signed expired."""


class Revocation(Base):
    """The embedded revocation store: revoked keys (``sid:…``, ``jti:…``) until they expire."""

    __tablename__ = "revocations"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), default="1")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Device(Base):
    """A robot or camera that publishes video (and may obey control commands)."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """robot or camera"""
    capabilities: Mapped[list[str]] = mapped_column(JSON)
    """Subset of video, control, ptz."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiKey(Base):
    """An integration or device credential ``lg_<id>_<secret>``; only a keyed hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True
    )
    owner_device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True, nullable=True
    )
    """Set for a device credential: the key then acts as that device, never as a user."""
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StreamSettings(Base):
    """How a device's stream is served: AI processors, redaction, encoding targets."""

    __tablename__ = "stream_settings"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ai_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    redact_faces: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    """An upper bound ``WxH`` for the picture (scaled down to fit); None: the source's size."""
    bitrate: Mapped[int] = mapped_column(Integer, default=1_500_000)
    recording_mode: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    """off, continuous, on_event or on_demand; the site's mode is a floor (store/streams.py)."""
    pre_roll_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    post_roll_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    segment_seconds: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    """None: the site's, else the ``recordings.segment_seconds`` setting."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SitePolicy(Base):
    """Stream rules for every device of a site; a device may add to them, never loosen them."""

    __tablename__ = "site_policies"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    redact_faces: Mapped[bool] = mapped_column(Boolean, default=False)
    ai_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Processors run on every stream of the site, before the device's own."""
    recording_mode: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    pre_roll_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    post_roll_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    segment_seconds: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    record_raw: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Also record the unredacted feed, under its own keys (site policy only)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RedactionOverride(Base):
    """A break-glass grant: one user may watch one device unredacted until ``expires_at``."""

    __tablename__ = "redaction_overrides"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """Set when the grantee ended it early; an ended or expired grant opens nothing."""


class RecoveryCode(Base):
    """One MFA recovery code; only its keyed hash is kept, and it works once."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
