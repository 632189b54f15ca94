"""The one exception tree. ``api/problems.py`` maps it to RFC 9457 problem+json.

Every error carries an HTTP status, a short stable ``slug`` (the problem type) and a
``detail`` that is safe to show to the caller: never a stack trace, SQL or a secret.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LensguardError(Exception):
    """Base of every error lensguard raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions

    def headers(self) -> dict[str, str]:
        """Extra response headers the error needs (e.g. Retry-After)."""
        return {}


class ConfigurationError(LensguardError):
    """Raised at start-up when settings are invalid or unsafe; the process must not serve."""

    slug = "configuration-error"
    title = "Invalid configuration"


class BadRequest(LensguardError):
    """Raised when a request is malformed in a way validation models cannot express."""

    status = 400
    slug = "bad-request"
    title = "Bad request"


class ValidationFailed(LensguardError):
    """Raised when input fails validation; ``errors`` lists each field and why."""

    status = 422
    slug = "validation-failed"
    title = "Validation failed"


class Unauthenticated(LensguardError):
    """Raised when credentials are missing, invalid, expired or revoked."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="lensguard"'}


class Forbidden(LensguardError):
    """Raised when the principal is known but the policy denies the action."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(LensguardError):
    """Raised when a resource does not exist or is outside the caller's scope."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(LensguardError):
    """Raised when the request conflicts with current state (e.g. a duplicate name)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(LensguardError):
    """Raised when a request body exceeds the configured limit."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(LensguardError):
    """Raised when a request body has a Content-Type the route does not accept."""

    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class RateLimited(LensguardError):
    """Raised when a caller exceeds a rate limit; ``retry_after`` is in whole seconds."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extensions)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(LensguardError):
    """Raised when a dependency (database, Redis, revocation store) cannot be reached."""

    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


class Blocked(LensguardError):
    """Raised when the client address is on the blocklist; answered before routing."""

    status = 403
    slug = "blocked"
    title = "Blocked"


class SuspiciousRequest(LensguardError):
    """A request scored as an injection attempt, refused before routing (``block_request``)."""

    status = 400
    slug = "suspicious-request"
    title = "Suspicious request"
