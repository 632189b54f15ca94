"""Builds sinks, dispatcher and forwarder from settings; the app lifespan starts and stops them."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lensguard.clock import Clock
from lensguard.errors import ConfigurationError
from lensguard.monitor.alerts.config import (
    AlertsSettings,
    SignedHttpSettings,
    SmsAlertSettings,
    SyslogAlertSettings,
    WebhookAlertSettings,
)
from lensguard.monitor.alerts.destination import Resolver
from lensguard.monitor.alerts.dispatch import AlertDispatcher
from lensguard.monitor.alerts.event import SecurityEvent
from lensguard.monitor.alerts.forwarder import SiemForwarder
from lensguard.monitor.alerts.queue import DurableQueue
from lensguard.monitor.alerts.sink import AlertSink, BatchSink
from lensguard.monitor.alerts.sms import AccountNumbers, SmsAuth, SmsSink
from lensguard.monitor.alerts.smtp import SmtpSink
from lensguard.monitor.alerts.syslog import SyslogSink
from lensguard.monitor.alerts.webhook import WebhookSink
from lensguard.monitor.event import SecurityEvent as PublishedEvent
from lensguard.monitor.publisher import EventPublisher
from lensguard.severity import Severity


def _tls(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _webhook(config: SignedHttpSettings, resolver: Resolver | None) -> WebhookSink:
    retry = config if isinstance(config, WebhookAlertSettings) else None
    return WebhookSink(
        config.url,
        config.secret.get_secret_value().encode("utf-8"),
        allow_private=config.allow_private,
        timeout=config.timeout,
        # The forwarder retries forever itself; a webhook retries a few times, then gives up.
        max_attempts=retry.max_attempts if retry else 1,
        backoff=retry.backoff if retry else 1.0,
        tls_context=_tls(config.ca_file),
        resolver=resolver,
    )


def _syslog(config: SyslogAlertSettings) -> SyslogSink:
    return SyslogSink(
        config.host,
        config.port,
        transport=config.transport,
        format=config.format,
        hostname=config.hostname,
        app_name=config.app_name,
        facility=config.facility,
        tls_context=_tls(config.ca_file) if config.transport == "tls" else None,
    )


def _sms(
    config: SmsAlertSettings,
    resolver: Resolver | None,
    *,
    dev: bool,
    account_numbers: Callable[[list[str]], AccountNumbers] | None,
) -> SmsSink:
    numbers = None
    if config.account_roles:
        if account_numbers is None:
            raise ValueError("account_roles needs the accounts' numbers, which this process lacks")
        numbers = account_numbers(list(config.account_roles))
    return SmsSink(
        config.url,
        config.recipients,
        config.template,
        SmsAuth(config.auth, config.secret.get_secret_value().encode("utf-8")),
        encoding=config.encoding,
        min_severity=config.min_severity,
        max_length=config.max_length,
        rate_per_recipient=config.rate_per_recipient,
        rate_window=config.rate_window,
        allow_http=dev,
        allow_private=config.allow_private,
        timeout=config.timeout,
        max_attempts=config.max_attempts,
        backoff=config.backoff,
        tls_context=_tls(config.ca_file),
        resolver=resolver,
        escalation=config.escalation,
        account_numbers=numbers,
    )


@dataclass
class Alerts:
    """Everything alerting runs, owned by one app: ``start`` in the lifespan, ``stop`` after."""

    dispatcher: AlertDispatcher | None
    forwarder: SiemForwarder | None
    queue: DurableQueue | None
    sinks: list[AlertSink] = field(default_factory=list)
    unsubscribe: Callable[[], None] | None = None

    async def start(self, publisher: EventPublisher) -> None:
        """Open the queue, start delivery, then subscribe to the app's security events."""
        callbacks: list[Callable[[SecurityEvent], None]] = []
        if self.queue is not None and self.forwarder is not None:
            await self.queue.open()
            await self.forwarder.start()
            callbacks.append(self.forwarder.offer)
        if self.dispatcher is not None:
            await self.dispatcher.start()
            callbacks.append(self.dispatcher.offer)
        if callbacks:

            def offer(event: PublishedEvent) -> None:
                # Both callbacks are bounded-inbox offers: they never block the publisher.
                record = SecurityEvent.from_published(event)
                for callback in callbacks:
                    callback(record)

            self.unsubscribe = publisher.subscribe(offer, name="alerts")

    async def stop(self) -> None:
        """Unsubscribe, let queued alerts go out briefly, persist the rest, close everything."""
        if self.unsubscribe is not None:
            self.unsubscribe()
            self.unsubscribe = None
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.forwarder is not None:
            await self.forwarder.stop()
            await self.forwarder.sink.aclose()
        if self.queue is not None:
            await self.queue.close()
        for sink in self.sinks:
            await sink.aclose()


def build_alerts(
    config: AlertsSettings,
    *,
    var_dir: Path,
    threshold: Severity,
    resolver: Resolver | None = None,
    dev: bool = False,
    clock: Clock | None = None,
    account_numbers: Callable[[list[str]], AccountNumbers] | None = None,
) -> Alerts:
    """Create (without connecting) the sinks, dispatcher and forwarder ``config`` asks for.

    ``dev`` allows a plain-http SMS gateway (a local stand-in); otherwise it must be https.
    ``clock`` ages the SIEM queue (the system clock unless given one).
    ``account_numbers(roles)`` gives the SMS sink its reader of the numbers on file of
    accounts with those roles (``sms.account_roles``).
    """
    sinks: list[AlertSink] = [_webhook(hook, resolver) for hook in config.webhooks]
    if config.smtp is not None:
        smtp = config.smtp
        sinks.append(
            SmtpSink(
                smtp.host,
                smtp.port,
                smtp.sender,
                smtp.recipients,
                username=smtp.username,
                password=smtp.password.get_secret_value() if smtp.password else None,
                starttls=smtp.starttls,
                tls_context=_tls(smtp.ca_file),
                timeout=smtp.timeout,
            )
        )
    if config.syslog is not None:
        sinks.append(_syslog(config.syslog))
    if config.sms is not None:
        try:
            sinks.append(_sms(config.sms, resolver, dev=dev, account_numbers=account_numbers))
        except ValueError as exc:
            raise ConfigurationError(f"security.monitoring.alerts.sms: {exc}") from exc
    dispatcher = AlertDispatcher(sinks, threshold=threshold) if sinks else None
    queue: DurableQueue | None = None
    forwarder: SiemForwarder | None = None
    siem = config.siem
    if siem is not None:
        queue = DurableQueue(
            var_dir / siem.queue_file,
            max_events=siem.max_events,
            max_age=None if siem.max_age_days is None else siem.max_age_days * 86_400,
            clock=clock,
        )
        target: BatchSink
        if siem.http is not None:
            target = _webhook(siem.http, resolver)
        elif siem.syslog is not None:
            target = _syslog(siem.syslog)
        else:  # the settings model refuses this; settings built by hand might not
            raise ConfigurationError("security.monitoring.alerts.siem needs http or syslog")
        forwarder = SiemForwarder(
            queue,
            target,
            batch_size=siem.batch_size,
            backoff=siem.backoff,
            max_backoff=siem.max_backoff,
        )
    return Alerts(dispatcher, forwarder, queue, sinks)
