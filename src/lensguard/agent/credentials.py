"""The device credential file and the short-lived access tokens exchanged for it.

The credential (``lg_<id>_<secret>``) is long-lived and opens the device's account:
it is read from a file only its owner may read, sent only in an ``Authorization``
header over verified TLS, and never logged, printed or put in a URL. Error messages
name the file, never its contents. The file is read again at every exchange, so a
rotated credential takes effect without restarting the agent.
"""

from __future__ import annotations

import asyncio
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from lensguard.agent.tls_errors import tls_problem
from lensguard.logs import get_logger

DEVICE_TOKEN_PATH = "/api/v1/auth/device-token"  # noqa: S105 - a path, not a secret
REFRESH_AT = 0.75
"""Fetch a new token once this fraction of the old one's lifetime has passed."""
_SHAPE = re.compile(r"lg_[A-Za-z0-9]+_[A-Za-z0-9_-]+")
_MAX_CHARS = 512
log = get_logger("lensguard.agent.credentials")


class CredentialFileError(Exception):
    """Raised when the credential file is missing, readable by others, or malformed."""


class CredentialRejected(Exception):
    """Raised when the server refuses the device credential (revoked, rotated, removed)."""


class ServerUnavailable(Exception):
    """Raised when the token exchange fails for a reason worth retrying."""


def read_credential(path: Path) -> str:
    """The credential in ``path``; refuses a file that group or others may access."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialFileError(f"credential file {path} does not exist") from None
    except OSError as exc:
        raise CredentialFileError(f"cannot read credential file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CredentialFileError(f"credential file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise CredentialFileError(
            f"credential file {path} is accessible to group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise CredentialFileError(f"cannot read credential file {path}") from None
    # Checked before use so nothing odd (a newline, a header) reaches the request.
    if len(text) > _MAX_CHARS or not _SHAPE.fullmatch(text):
        raise CredentialFileError(
            f"credential file {path} does not hold a device credential (lg_<id>_<secret>)"
        )
    return text


class TokenSource:
    """Hands out a valid access token, exchanging the credential before the old one expires."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        credential_file: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.credential_file = credential_file
        self._clock = clock
        self._token: str | None = None
        self._refresh_due = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the current token (the server refused it)."""
        self._token = None

    def seconds_to_refresh(self) -> float:
        """How long the current token stays fresh (0 when there is none)."""
        if self._token is None:
            return 0.0
        return max(0.0, self._refresh_due - self._clock())

    async def get(self) -> str:
        """The current token, or a new one when it is due for refresh."""
        async with self._lock:
            if self._token is None or self._clock() >= self._refresh_due:
                await self._exchange()
            if self._token is None:  # _exchange either sets it or raises
                raise ServerUnavailable("no access token")
            return self._token

    async def _exchange(self) -> None:
        credential = read_credential(self.credential_file)
        try:
            response = await self.http.post(
                DEVICE_TOKEN_PATH, headers={"Authorization": f"Bearer {credential}"}
            )
        except httpx.HTTPError as exc:
            why = tls_problem(exc) or type(exc).__name__
            raise ServerUnavailable(f"token exchange failed: {why}") from None
        if response.status_code in (401, 403):
            raise CredentialRejected(
                f"the server refused the device credential (HTTP {response.status_code}): "
                "it was rotated or revoked, or the device was removed"
            )
        if response.status_code != 200:
            raise ServerUnavailable(f"token exchange answered HTTP {response.status_code}")
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError):
            raise ServerUnavailable("token exchange answered an unexpected body") from None
        self._token = token
        self._refresh_due = self._clock() + max(1.0, lifetime * REFRESH_AT)
        log.info("token.refreshed", expires_in=lifetime)
