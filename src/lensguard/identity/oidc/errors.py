"""Why a single sign-on step was refused; each is a problem+json answer and an audit row."""

from __future__ import annotations

from typing import Any

from lensguard.errors import BadRequest, Forbidden, LensguardError, NotFound, ServiceUnavailable


class SsoRefused(LensguardError):
    """A sign-in through a provider failed a check; ``reason`` is the stable audit reason."""

    status = 401
    slug = "sso-refused"
    title = "Single sign-on refused"

    def __init__(self, detail: str, *, reason: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.reason = reason


class SsoForbidden(Forbidden):
    """The provider vouched for the person, but no rule or account admits them."""

    slug = "sso-forbidden"
    title = "Single sign-on not permitted"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


class LogoutTokenRefused(BadRequest):
    """A back-channel logout token failed validation (the spec's 400 answer)."""

    slug = "logout-token-refused"
    title = "Logout token refused"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


class UnknownProvider(NotFound):
    """No provider of that name is configured."""

    slug = "not-found"

    def __init__(self) -> None:
        super().__init__("no such sign-in provider")
        self.reason = "unknown_provider"


class ProviderUnavailable(ServiceUnavailable):
    """The provider could not be reached or answered something unusable."""

    slug = "provider-unavailable"
    title = "Sign-in provider unavailable"

    def __init__(self, detail: str, *, reason: str = "provider_unavailable") -> None:
        super().__init__(detail)
        self.reason = reason
