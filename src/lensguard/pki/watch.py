"""On the app's clock: load newer revocation lists, re-sign before one lapses, warn of expiry.

Every ``crl_refresh_seconds`` each node reads the highest-numbered list; a newer one
is swapped into the listener (``LiveTLS.reload``) and the devices whose certificates
it newly revokes are announced, so their open sockets re-check and close. SIGHUP does
the same at once and also re-reads the served certificate and key from disk: the way
to rotate them without downtime.

Every ``check_seconds``: a node that holds the CA key signs a fresh list when the one in
force is past half its life (a lapsed list would fail every device handshake), and
certificates that expire within ``expiry_warning_days`` raise one HIGH
``certificate.expiring`` alert each; so does the served certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from lensguard.clock import Clock
from lensguard.errors import ConfigurationError
from lensguard.logs import get_logger
from lensguard.monitor.events import emit
from lensguard.periodic import Periodic
from lensguard.pki import registry
from lensguard.pki.authority import load_authority
from lensguard.pki.live_tls import LiveTLS
from lensguard.pki.settings import PkiSettings
from lensguard.severity import Severity
from lensguard.store.db import Database

log = get_logger(__name__)
Announce = Callable[[str], Awaitable[None]]
"""Tell live sockets of a device that its certificate was revoked."""


class PkiWatch:
    """The two schedules and the SIGHUP handler of one node."""

    def __init__(
        self,
        db: Database,
        settings: PkiSettings,
        *,
        ca_dir: Path,
        live: LiveTLS | None,
        clock: Clock,
        now: Callable[[], datetime],
        announce: Announce,
        sighup: bool = False,
    ) -> None:
        self.db, self.settings, self.live, self.now = db, settings, live, now
        self.ca_dir = ca_dir
        self.announce = announce
        self.crl_number = 0
        self.warned: set[str] = set()
        self._revoked: set[str] | None = None
        self._refresh: Periodic[int] = Periodic(
            self.refresh,
            clock=clock,
            interval=settings.crl_refresh_seconds,
            on_failure=self._failed("crl_refresh"),
            first_at_start=True,
        )
        self._check: Periodic[list[str]] = Periodic(
            self.check,
            clock=clock,
            interval=settings.check_seconds,
            on_failure=self._failed("expiry_check"),
            first_at_start=True,
        )
        self.sighup = sighup
        self._sighup = False
        self._reloads: set[asyncio.Task[bool]] = set()

    @staticmethod
    def _failed(what: str) -> Callable[[Exception], None]:
        def failed(exc: Exception) -> None:
            log.error(f"pki_{what}_failed", error=type(exc).__name__, detail=str(exc)[:200])
            emit(f"pki.{what}_failed", severity=Severity.HIGH, error=type(exc).__name__)

        return failed

    @property
    def refreshes(self) -> int:
        return self._refresh.runs

    @property
    def checks(self) -> int:
        return self._check.runs

    async def refresh(self, *, files: bool = False) -> int:
        """Load the list in force if it is newer (or ``files``: rebuild from disk anyway)."""
        latest = await registry.latest_crl(self.db)
        number = latest.number if latest is not None else 0
        if self.live is not None and (number > self.crl_number or files):
            self.live.reload(latest.pem if latest is not None else None)
            emit("tls.reloaded", crl_number=number, files=files)
        self.crl_number = max(self.crl_number, number)
        await self._announce_revoked()
        return number

    async def _announce_revoked(self) -> None:
        revoked = await registry.revoked_devices(self.db)
        if self._revoked is not None:
            for serial in revoked.keys() - self._revoked:
                device_id = revoked[serial]
                if device_id is not None:
                    await self.announce(device_id)
        self._revoked = set(revoked)

    async def check(self) -> list[str]:
        """Re-sign a list past half its life; warn of what expires soon. The serials warned."""
        now = self.now()
        await self._resign(now)
        horizon = now + timedelta(days=self.settings.expiry_warning_days)
        due = await registry.due_for_warning(self.db, before=horizon)
        for row in due:
            emit(
                "certificate.expiring",
                severity=Severity.HIGH,
                serial=row.serial,
                kind=row.kind,
                subject=row.common_name,
                not_after=row.not_after.isoformat(),
                days_left=max(0, (row.not_after - now).days),
            )
        await registry.mark_warned(self.db, [row.serial for row in due], at=now)
        self._warn_served(now, horizon)
        return [row.serial for row in due]

    def _warn_served(self, now: datetime, horizon: datetime) -> None:
        if self.live is None:
            return
        cert = x509.load_pem_x509_certificate(self.live.files.cert.read_bytes())
        key = f"served:{cert.serial_number:x}"
        if cert.not_valid_after_utc < horizon and key not in self.warned:
            self.warned.add(key)
            emit(
                "certificate.expiring",
                severity=Severity.HIGH,
                serial=f"{cert.serial_number:x}",
                kind="served",
                subject=str(self.live.files.cert),
                not_after=cert.not_valid_after_utc.isoformat(),
                days_left=max(0, (cert.not_valid_after_utc - now).days),
            )

    async def _resign(self, now: datetime) -> None:
        latest = await registry.latest_crl(self.db)
        if latest is None:
            return
        half = timedelta(days=self.settings.crl_validity_days) / 2
        if latest.next_update - now > half:
            return
        try:
            ca = load_authority(self.ca_dir)
        except ConfigurationError:
            if latest.next_update < now + timedelta(days=1):
                emit("pki.crl_lapsing", severity=Severity.HIGH, crl_number=latest.number)
            return  # the CA key lives elsewhere: `lensguard certs crl` there
        await registry.publish_crl(self.db, ca, now=now, days=self.settings.crl_validity_days)

    def start(self) -> None:
        """Both schedules; with ``sighup``, SIGHUP reloads (``lensguard serve`` only)."""
        self._refresh.start()
        self._check.start()
        if self.sighup:
            self.listen_for_sighup()

    def listen_for_sighup(self) -> None:
        """Reload on SIGHUP from now on (until ``stop_listening``)."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        self._sighup = True

    def stop_listening(self) -> None:
        if self._sighup:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False

    def _on_sighup(self) -> None:
        task = asyncio.ensure_future(self.reload_now())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload_now(self) -> bool:
        """What SIGHUP does: certificate, key and list from their sources. Never raises."""
        try:
            await self.refresh(files=True)
        except Exception as exc:
            self._failed("reload")(exc)
            return False
        return True

    async def stop(self) -> None:
        self.stop_listening()
        await self._check.stop()
        await self._refresh.stop()
