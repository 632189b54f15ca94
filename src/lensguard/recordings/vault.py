"""``RecordingVault``: one app's recording store, key ring and the sinks that use them.

Built once per app from the settings (``Services.recordings``); everything that writes,
plays, exports or deletes recordings reaches the store and the keys through it, so
there is one place that knows where segments live and which KEKs this node holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lensguard.audit import AuditLog
from lensguard.monitor.publisher import EventPublisher
from lensguard.protect.subkeys import Purpose
from lensguard.recordings.keys import KeyRing
from lensguard.recordings.s3 import S3Store
from lensguard.recordings.settings import RecordingSettings
from lensguard.recordings.store import LocalStore, SegmentStore
from lensguard.recordings.writer import EncryptedSink
from lensguard.store.db import Database


def store_from_settings(settings: RecordingSettings, var_dir: Path) -> SegmentStore:
    """The segment store the settings name: ``<var_dir>/recordings`` or an S3 bucket."""

    if settings.storage == "s3":
        assert settings.s3.bucket is not None  # checked by the settings model
        return S3Store(
            bucket=settings.s3.bucket,
            prefix=settings.s3.prefix,
            endpoint_url=settings.s3.endpoint,
            region=settings.s3.region,
        )
    return LocalStore(var_dir / "recordings")


@dataclass
class RecordingVault:
    """Where this app's recordings live and the keys that open them."""

    db: Database
    store: SegmentStore
    ring: KeyRing
    """The processed stream's KEKs (what viewers see)."""
    audit: AuditLog
    events: EventPublisher
    settings: RecordingSettings
    raw_ring: KeyRing | None = None
    """The raw stream's own KEKs (``Purpose.RECORDING_RAW_KEK``); built with the vault."""

    def ring_for(self, stream: str) -> KeyRing:
        """The ring that opens ``stream``'s segments: raw video has keys of its own."""
        if stream == "raw":
            if self.raw_ring is None:
                raise LookupError("this vault holds no key ring for the raw stream")
            return self.raw_ring
        return self.ring

    @classmethod
    def build(
        cls,
        settings: RecordingSettings,
        *,
        var_dir: Path,
        master_secret: str,
        db: Database,
        audit: AuditLog,
        events: EventPublisher,
    ) -> RecordingVault:
        """A vault on the configured store, its ring derived from the master secret."""
        return cls(
            db=db,
            store=store_from_settings(settings, var_dir),
            ring=KeyRing.from_secret(master_secret),
            audit=audit,
            events=events,
            settings=settings,
            raw_ring=KeyRing.from_secret(master_secret, purpose=Purpose.RECORDING_RAW_KEK),
        )

    def sink(
        self, device_id: str, *, stream: str = "processed", kind: str = "continuous"
    ) -> EncryptedSink:
        """A new recording of ``device_id``: each segment encrypted, stored and chained.

        ``kind`` is the recording's class, ``continuous`` or ``event`` (its retention).
        ``stream="raw"`` (a site's ``record_raw``) wraps its data keys under the raw ring.
        """
        return EncryptedSink(
            self.db,
            self.store,
            self.ring_for(stream),
            self.audit,
            device_id=device_id,
            stream=stream,
            kind=kind,
            anchor_every=self.settings.anchor_every,
            events=self.events,
        )
