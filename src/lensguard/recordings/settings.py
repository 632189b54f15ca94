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


CLASSES = ("continuous", "event", "export")
"""Recording classes retention tells apart; a segment with no class yet is ``continuous``."""


class RetentionDays(_Section):
    """Days a segment of each class is kept after it ends (36,500 days at most)."""

    continuous: int = Field(default=90, ge=1, le=36_500)
    """Continuous video: the 90 days the project's guide asks for."""
    event: int = Field(default=365, ge=1, le=36_500)
    """Clips around a detection, motion or incident: a year, long enough to investigate."""
    export: int = Field(default=2_555, ge=1, le=36_500)
    """Exported evidence: seven years, a common limitation period for claims."""

    def of(self, cls: str) -> int:
        """The days for ``cls``; an unknown class is kept as long as continuous video."""
        return int(getattr(self, cls)) if cls in CLASSES else self.continuous


class RetentionSettings(_Section):
    """How long segments are kept and how much local disk they may take (docs/recordings.md)."""

    enabled: bool = True
    """Run the retention job on this node (one node of a cluster runs it at a time)."""
    days: RetentionDays = Field(default_factory=RetentionDays)
    """Defaults for every site; a site may set its own (``/api/v1/sites/{site}/retention``)."""
    interval_seconds: float = Field(default=3_600.0, ge=10.0, le=86_400.0)
    """Seconds between runs on the app's clock."""
    batch: int = Field(default=500, ge=1, le=10_000)
    """Segments removed per step (keys, then files, then rows)."""
    lease_seconds: int = Field(default=900, ge=30, le=86_400)
    """How long a run's cluster-wide lease lasts (renewed every batch) if its node dies."""
    quota_gb: float | None = Field(default=None, gt=0, le=1_000_000)
    """Local store only: the most GiB the segments may take on this node (None: no quota)."""
    quota_alert_percent: float = Field(default=85.0, ge=1.0, le=100.0)
    """Raise ``recording.quota_high`` once when usage crosses this share of the quota."""

    @property
    def quota_bytes(self) -> int | None:
        return None if self.quota_gb is None else int(self.quota_gb * 1024**3)


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
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    """Retention per class, legal holds aside, and the local disk quota."""

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> RecordingSettings:
        if self.storage == "s3" and not self.s3.bucket:
            raise ValueError("recordings.storage is s3: set recordings.s3.bucket")
        return self
