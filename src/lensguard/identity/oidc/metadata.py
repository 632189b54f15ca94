"""A provider's discovery document and JWKS, cached for as long as they say (bounded).

Both are fetched on first use and kept for the response's ``Cache-Control: max-age``,
clamped to ``[discovery_min_age_seconds, discovery_max_age_seconds]``. A token naming
a ``kid`` the cached JWKS lacks refetches it, at most once per ``jwks_refetch_seconds``
(a forger sending random kids cannot make us hammer the provider). Times are read
from the injected clock.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from lensguard.clock import Clock
from lensguard.identity.oidc.errors import ProviderUnavailable
from lensguard.oidc_settings import OidcProviderSettings, check_url

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_KEYS = 64
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d{1,10})\s*(?:,|$)", re.IGNORECASE)
WELL_KNOWN = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Discovery:
    """What the flows read from the discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    iss_parameter_supported: bool
    """RFC 9207: the provider promises ``iss`` in every authorization response."""
    token_auth_methods: tuple[str, ...]


def max_age(headers: httpx.Headers, floor: int, ceiling: int) -> int:
    """Seconds to keep a response: its ``max-age`` clamped, the floor for ``no-store``."""
    control = headers.get("cache-control", "")
    if "no-store" in control.lower() or "no-cache" in control.lower():
        return floor
    found = _MAX_AGE.search(control)
    age = int(found.group(1)) if found else ceiling
    return max(floor, min(ceiling, age))


class ProviderMetadata:
    """The cached discovery document and key set of one provider."""

    def __init__(self, provider: OidcProviderSettings, http: httpx.AsyncClient, clock: Clock):
        self._provider = provider
        self._http = http
        self._clock = clock
        self._discovery: tuple[Discovery, float] | None = None
        self._keys: tuple[KeySet, float] | None = None
        self._last_refetch: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many documents were fetched (the tests read it)."""

    async def _get_json(self, url: str) -> tuple[dict[str, Any], int]:
        try:
            response = await self._http.get(
                url, timeout=self._provider.http_timeout_seconds, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{self._provider.name}: {url} could not be read") from exc
        self.fetches += 1
        if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
            raise ProviderUnavailable(
                f"{self._provider.name}: {url} answered {response.status_code}"
            )
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise ProviderUnavailable(f"{self._provider.name}: {url} is not JSON") from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{self._provider.name}: {url} is not a JSON object")
        age = max_age(
            response.headers,
            self._provider.discovery_min_age_seconds,
            self._provider.discovery_max_age_seconds,
        )
        return body, age

    async def discovery(self) -> Discovery:
        """The discovery document, fetched when the cached one has expired."""
        now = self._clock.monotonic()
        if self._discovery is not None and self._discovery[1] > now:
            return self._discovery[0]
        async with self._lock:
            if self._discovery is not None and self._discovery[1] > self._clock.monotonic():
                return self._discovery[0]
            body, age = await self._get_json(self._provider.issuer.rstrip("/") + WELL_KNOWN)
            found = self._parse(body)
            self._discovery = (found, self._clock.monotonic() + age)
            return found

    def _parse(self, body: dict[str, Any]) -> Discovery:
        name = self._provider.name
        # OpenID Connect Discovery 1.0, section 4.3: the issuer must be exactly ours.
        if body.get("issuer") != self._provider.issuer:
            raise ProviderUnavailable(f"{name}: the discovery document names another issuer")

        def url(key: str, required: bool = True) -> str | None:
            value = body.get(key)
            if value is None and not required:
                return None
            if not isinstance(value, str):
                raise ProviderUnavailable(f"{name}: discovery lacks {key}")
            try:
                return check_url(value, key)
            except ValueError as exc:
                raise ProviderUnavailable(f"{name}: {exc}") from exc

        methods = body.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        return Discovery(
            issuer=self._provider.issuer,
            authorization_endpoint=str(url("authorization_endpoint")),
            token_endpoint=str(url("token_endpoint")),
            jwks_uri=str(url("jwks_uri")),
            userinfo_endpoint=url("userinfo_endpoint", required=False),
            end_session_endpoint=url("end_session_endpoint", required=False),
            iss_parameter_supported=body.get("authorization_response_iss_parameter_supported")
            is True,
            token_auth_methods=tuple(m for m in methods if isinstance(m, str))
            if isinstance(methods, list)
            else ("client_secret_basic",),
        )

    async def _fetch_keys(self) -> KeySet:
        found = await self.discovery()
        body, age = await self._get_json(found.jwks_uri)
        keys = body.get("keys")
        if not isinstance(keys, list) or len(keys) > MAX_KEYS:
            raise ProviderUnavailable(f"{self._provider.name}: the JWKS is not a key set")
        # Only public signing keys; a symmetric ("oct") key is never a provider's.
        usable = [
            k
            for k in keys
            if isinstance(k, dict) and k.get("kty") in ("RSA", "EC", "OKP") and "d" not in k
        ]
        try:
            key_set = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise ProviderUnavailable(f"{self._provider.name}: the JWKS holds a bad key") from exc
        self._keys = (key_set, self._clock.monotonic() + age)
        return key_set

    async def keys(self, kid: str | None) -> KeySet:
        """The key set; refetched once (rate-limited) when ``kid`` is not in it."""
        now = self._clock.monotonic()
        if self._keys is None or self._keys[1] <= now:
            return await self._fetch_keys()
        key_set = self._keys[0]
        if kid is None or any(k.kid == kid for k in key_set.keys):
            return key_set
        last = self._last_refetch
        if last is not None and now - last < self._provider.jwks_refetch_seconds:
            return key_set  # refetched a moment ago: the kid is unknown, not new
        self._last_refetch = now
        return await self._fetch_keys()
