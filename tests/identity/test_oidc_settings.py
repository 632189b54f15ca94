"""Provider settings refuse unsafe values at start-up; discovery and keys are cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from pydantic import ValidationError

from lensguard.access.policy import load_policy
from lensguard.clock import ManualClock
from lensguard.errors import ConfigurationError
from lensguard.identity.oidc.metadata import ProviderMetadata, max_age
from lensguard.identity.oidc.room import build_oidc, read_secret
from lensguard.oidc_settings import OidcProviderSettings, OidcSettings
from tests.harness.oidc import ForgingProvider, forging_provider


def provider(**override: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "idp",
        "issuer": "https://sso.example.com/realms/r",
        "client_id": "lensguard",
        "client_secret_env": "IDP_SECRET",
        "redirect_uri": "https://lensguard.example.com/api/v1/auth/oidc/idp/callback",
    }
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"client_secret": "inline"}, "client_secret"),
        ({"client_secret_env": None}, "exactly one of"),
        ({"client_secret_file": "/x"}, "exactly one of"),
        ({"issuer": "http://sso.example.com"}, "https"),
        ({"issuer": "https://sso.example.com/?x=1"}, "query"),
        ({"redirect_uri": "https://h.example/callback"}, "must end in"),
        ({"redirect_uri": "http://h.example/api/v1/auth/oidc/idp/callback"}, "https"),
        ({"algorithms": ["HS256"]}, "not allowed"),
        ({"algorithms": ["none"]}, "not allowed"),
        ({"scopes": ["email"]}, "openid"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_unsafe_provider_settings_are_refused(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OidcProviderSettings(**provider(**override))


def test_loopback_http_is_accepted_for_local_providers() -> None:
    chosen = OidcProviderSettings(**provider(issuer="http://127.0.0.1:9400"))
    assert chosen.issuer == "http://127.0.0.1:9400"


def test_names_and_issuers_are_unique() -> None:
    with pytest.raises(ValidationError, match="unique"):
        OidcSettings(providers=[provider(), provider()])
    with pytest.raises(ValidationError, match="one entry per issuer"):
        other = provider(name="b", redirect_uri=provider()["redirect_uri"].replace("idp", "b"))
        OidcSettings(providers=[provider(), other])


def test_secrets_come_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_SECRET", "from-the-environment")
    assert read_secret(OidcProviderSettings(**provider())).get_secret_value() == (
        "from-the-environment"
    )
    path = tmp_path / "secret"
    path.write_text("from-a-file\n")
    chosen = OidcProviderSettings(**provider(client_secret_env=None, client_secret_file=str(path)))
    assert read_secret(chosen).get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(read_secret(chosen))
    path.write_text("")
    with pytest.raises(ConfigurationError, match="empty or missing"):
        read_secret(chosen)
    monkeypatch.delenv("IDP_SECRET")
    with pytest.raises(ConfigurationError, match="IDP_SECRET"):
        read_secret(OidcProviderSettings(**provider()))


def test_mapped_roles_must_exist_in_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_SECRET", "s")
    clock = ManualClock(start=1000.0)
    bad_rule = OidcSettings(
        providers=[provider(rules=[{"claim": "groups", "value": "x", "role": "emperor"}])]
    )
    with pytest.raises(ConfigurationError, match="emperor"):
        build_oidc(bad_rule, master="m" * 40, policy=load_policy(None), redis=None, clock=clock)
    no_role = OidcSettings(providers=[provider(jit_provisioning=True)])
    with pytest.raises(ConfigurationError, match="jit_provisioning"):
        build_oidc(no_role, master="m" * 40, policy=load_policy(None), redis=None, clock=clock)


def test_max_age_is_clamped() -> None:
    assert max_age(httpx.Headers({"cache-control": "public, max-age=120"}), 60, 3600) == 120
    assert max_age(httpx.Headers({"cache-control": "max-age=5"}), 60, 3600) == 60
    assert max_age(httpx.Headers({"cache-control": "max-age=999999"}), 60, 3600) == 3600
    assert max_age(httpx.Headers({"cache-control": "no-store"}), 60, 3600) == 60
    assert max_age(httpx.Headers({}), 60, 3600) == 3600


@pytest.fixture
def forger() -> Iterator[ForgingProvider]:
    with forging_provider() as found:
        yield found


async def test_discovery_and_keys_are_cached_and_an_unknown_kid_refetches_once(
    forger: ForgingProvider, manual_clock: ManualClock
) -> None:
    settings = OidcProviderSettings(
        **provider(
            issuer=forger.issuer,
            discovery_max_age_seconds=600,
            jwks_refetch_seconds=60,
        )
    )
    async with httpx.AsyncClient() as http:
        metadata = ProviderMetadata(settings, http, manual_clock)
        first = await metadata.discovery()
        assert (await metadata.discovery()) is first
        await metadata.keys(forger.key.kid)
        assert (metadata.fetches, forger.jwks_fetches) == (2, 1)
        await metadata.keys(forger.key.kid)
        await metadata.keys("unknown")  # one refetch
        await metadata.keys("unknown")  # not again within jwks_refetch_seconds
        assert forger.jwks_fetches == 2
        await manual_clock.advance(61)
        rotated = RSAKey.generate_key(2048, parameters={"kid": "rotated"})
        forger.extra_keys.append(rotated.as_dict(private=False))
        keys = await metadata.keys("rotated")
        assert any(k.kid == "rotated" for k in keys.keys)
        assert forger.jwks_fetches == 3
        await manual_clock.advance(600)
        assert (await metadata.discovery()) is not first  # its lifetime ran out
