"""The internal CA and device mutual TLS: the settings section.

A leaf module (pydantic and the standard library only) so ``settings.py`` can compose
it; the CA itself lives in ``lensguard.pki``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DeviceTLS(StrEnum):
    """Whether devices present a client certificate from the internal CA."""

    OFF = "off"
    """Client certificates are not asked for."""
    OPTIONAL = "optional"
    """Asked for; a device that presents one must present its own, unrevoked."""
    REQUIRED = "required"
    """Every device signaling socket must present its own, unrevoked certificate."""


class PkiSettings(BaseModel):
    """``security.pki``: where the CA lives and how the server uses it."""

    model_config = ConfigDict(extra="forbid")

    directory: Path | None = None
    """The CA's certificate and key (0600); unset: ``var_dir/pki``."""
    device_tls: DeviceTLS = DeviceTLS.OFF
    """Mutual TLS for device agents (``lensguard certs issue device``)."""
    expiry_warning_days: int = Field(default=30, ge=1, le=365)
    """Alert this many days before an issued certificate (or the served one) expires."""
    check_seconds: float = Field(default=3600.0, gt=0)
    """How often the expiry check runs."""
    crl_refresh_seconds: float = Field(default=30.0, gt=0)
    """How often each node looks for a newer revocation list (SIGHUP reloads at once)."""
    crl_validity_days: int = Field(default=7, ge=1, le=90)
    """``nextUpdate`` of each list; ``lensguard certs crl`` re-signs before it passes."""

    @field_validator("device_tls", mode="before")
    @classmethod
    def _spelling(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare ``off`` as false.
        if value is False:
            return DeviceTLS.OFF
        if value is True:
            raise ValueError("write off, optional or required")
        return value.strip().lower() if isinstance(value, str) else value
