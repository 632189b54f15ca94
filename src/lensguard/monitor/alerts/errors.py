"""What alert delivery raises; the dispatcher and forwarder catch, log and count it."""

from __future__ import annotations

from lensguard.errors import LensguardError


class AlertError(LensguardError):
    """Base of every error an alert sink raises on purpose."""

    slug = "alert-error"
    title = "Alert delivery error"


class DeliveryFailed(AlertError):
    """Raised when a sink could not deliver, after its own retries; trying later may work."""

    slug = "alert-delivery-failed"
    title = "Alert delivery failed"


class DeliveryRejected(DeliveryFailed):
    """Raised when the receiver refused for good (a 4xx or a redirect): never retried."""

    slug = "alert-delivery-rejected"
    title = "Alert delivery rejected"


class UnsafeDestination(AlertError, ValueError):
    """Raised when a URL, or an address its host resolves to, is not allowed as a destination."""

    slug = "unsafe-destination"
    title = "Unsafe alert destination"


class UnresolvableDestination(UnsafeDestination):
    """Raised when a destination's host does not resolve: refused now, worth retrying later."""

    slug = "unresolvable-destination"
    title = "Alert destination does not resolve"
