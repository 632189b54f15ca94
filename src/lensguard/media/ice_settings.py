"""Settings models for the relay's ICE, meant for ``media`` in ``settings.py``.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lensguard.media.addresses import networks


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IceSettings(_Section):
    """Where the relay's own peer connections may send ICE traffic (docs/media.md)."""

    servers: list[str] = Field(default_factory=list, max_length=4)
    """``stun:`` URLs the relay asks for its public address; none by default, so the
    relay contacts no host but its peers (aiortc alone would ask a public STUN server)."""
    allow_remote_addresses: list[str] = Field(default_factory=list, max_length=64)
    """CIDR blocks inside the reserved ranges (private, link-local, ...) that remote
    candidates may still name, e.g. your LAN; loopback only in dev mode."""

    @field_validator("servers")
    @classmethod
    def _stun_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith("stun:") or len(url) <= 5 or any(c.isspace() for c in url):
                raise ValueError(
                    f"{url!r} is not a stun: URL (the relay needs no TURN server of its own)"
                )
        return value

    @field_validator("allow_remote_addresses")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        try:
            return [str(block) for block in networks(value)]
        except ValueError as exc:
            raise ValueError(f"not a CIDR block (address/prefix, host bits zero): {exc}") from None


class MediaSettings(_Section):
    ice: IceSettings = Field(default_factory=IceSettings)
    max_viewers_per_node: int = Field(default=1_000, ge=1, le=100_000)
    """Relay viewers this node serves at once; one more is refused with ``capacity``."""
    max_viewers_per_stream: int = Field(default=250, ge=1, le=100_000)
    """Relay viewers of one device on this node; one more is refused with ``capacity``."""
    capacity_retry_seconds: int = Field(default=30, ge=1, le=3_600)
    """The ``retry_after`` a refused viewer is told."""
