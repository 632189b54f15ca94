"""Settings models for recordings, meant for ``recordings`` in ``settings.py``.

Imports nothing from ``lensguard.settings`` (which imports this module) and nothing
heavier than pydantic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3Settings(_Section):
    """An S3-compatible bucket for segments (AWS S3, MinIO, Ceph)."""

    bucket: str | None = Field(default=None, min_length=3, max_length=63)
    prefix: str = Field(default="recordings/", max_length=256, pattern=r"^([A-Za-z0-9._-]+/)*$")
    """Key prefix, ending with ``/`` (or empty)."""
    endpoint: str | None = Field(default=None, max_length=2_048)
    """Endpoint URL for a service other than AWS (``https://minio.example.org``)."""
    region: str = Field(default="us-east-1", max_length=64)


class RecordingSettings(_Section):
    """Where encrypted segments are kept and how they are cut (docs/recordings.md)."""

    storage: Literal["local", "s3"] = "local"
    """``local``: files under ``<var_dir>/recordings`` (0600); ``s3``: the bucket below.
    Credentials for S3 come from boto3's usual chain (``AWS_*`` variables, instance roles),
    never from this file."""
    s3: S3Settings = Field(default_factory=S3Settings)
    segment_seconds: float = Field(default=4.0, ge=2.0, le=10.0)
    """Target length of a segment; it is cut at the next keyframe after this."""
    anchor_every: int = Field(default=15, ge=1, le=10_000)
    """Segments between anchors of a running recording in the audit chain."""
    pre_roll_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024)
    """Memory an ``on_event`` recorder may hold for its pre-roll (per device); past it the
    oldest segments go first. It needs about bitrate x (pre-roll + one segment)."""

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> RecordingSettings:
        if self.storage == "s3" and not self.s3.bucket:
            raise ValueError("recordings.storage is s3: set recordings.s3.bucket")
        return self
