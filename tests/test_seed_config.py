"""The sample configuration from the project's source guide loads as written and takes effect."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from lensguard.errors import ConfigurationError
from lensguard.identity import accounts
from lensguard.logs import configure_logging
from lensguard.monitor.alerts.config import SmtpAlertSettings
from lensguard.monitor.alerts.runtime import build_alerts
from lensguard.settings import Settings, Severity, load_settings
from lensguard.tls import ensure_certificate, fingerprint, generate_self_signed, harden
from tests.api.conftest import PASSWORD, Api, build_api
from tests.harness.server import strong_secret

SEED = """\
security:
  authentication: {enabled: true, method: jwt, token_expiry: 3600}
  encryption: {enabled: true, protocol: dtls-srtp, certificate: /path/to/cert.pem}
  access_control: {enabled: true, default_role: viewer}
  monitoring: {enabled: true, log_level: INFO, alert_threshold: HIGH}
"""


def combined_pem(folder: Path) -> Path:
    """A real certificate and its key in one PEM file, as the seed's lone path expects."""
    cert, key = folder / "c.pem", folder / "k.pem"
    generate_self_signed(cert, key, hostnames=["localhost"])
    both = folder / "cert.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return both


@pytest.fixture
def seed(tmp_path: Path, sqlite_url: str) -> Settings:
    pem = combined_pem(tmp_path)
    config = tmp_path / "lensguard.yaml"
    config.write_text(SEED.replace("/path/to/cert.pem", str(pem)))
    return load_settings(
        config,
        mode="production",
        var_dir=str(tmp_path / "var"),
        secret_key=strong_secret(),
        database={"url": sqlite_url},
    )


@pytest.fixture
async def seeded(seed: Settings) -> AsyncIterator[Api]:
    async for api in build_api(seed):
        yield api


async def test_seed_token_expiry_sets_the_access_token_lifetime(seeded: Api) -> None:
    await seeded.add_user("ada", "viewer")
    body = await seeded.login("ada")
    claims: dict[str, Any] = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["expires_in"] == 3600
    assert claims["exp"] - claims["iat"] == 3600


async def test_seed_method_jwt_issues_signed_jwts(seeded: Api) -> None:
    await seeded.add_user("bob", "viewer")
    token = (await seeded.login("bob"))["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] not in ("none", "HS256")
    assert header["kid"]


async def test_seed_default_role_applies_to_new_accounts(seeded: Api) -> None:
    user = await accounts.create_account(
        seeded.identity,
        username="carol",
        password=PASSWORD,
        role=None,
        sites=["*"],
        devices=["*"],
        by=None,
    )
    assert user.role == "viewer"


def test_seed_certificate_is_served_from_the_combined_pem(seed: Settings) -> None:
    configured = seed.security.encryption.certificate
    assert configured is not None
    served = ensure_certificate(seed)
    assert served.cert_path == configured
    assert served.key_path == configured
    assert served.generated is False
    assert served.fingerprint == fingerprint(configured)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(served.cert_path), str(served.key_path))


def test_seed_dtls_srtp_keeps_tls_floor_at_1_2(seed: Settings) -> None:
    enc = seed.security.encryption
    assert enc.protocol == "dtls-srtp"
    assert enc.tls_minimum == "TLSv1.2"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    harden(context, enc.tls_minimum)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2


def test_seed_monitoring_log_level_and_threshold_take_effect(seed: Settings) -> None:
    monitoring = seed.security.monitoring
    assert monitoring.alert_threshold is Severity.HIGH
    previous = logging.getLogger().level
    try:
        configure_logging(monitoring.log_level)
        assert logging.getLogger().level == logging.INFO
    finally:
        logging.getLogger().setLevel(previous)
    smtp = SmtpAlertSettings(host="127.0.0.1", sender="a@example.org", recipients=["b@x.org"])
    alerts = build_alerts(
        monitoring.alerts.model_copy(update={"smtp": smtp}),
        var_dir=seed.var_dir,
        threshold=monitoring.alert_threshold,
    )
    assert alerts.dispatcher is not None
    assert alerts.dispatcher.threshold is Severity.HIGH


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("authentication", "security.authentication.enabled"),
        ("access_control", "security.access_control.enabled"),
    ],
)
def test_switch_that_cannot_be_off_is_refused_with_reason(
    tmp_path: Path, section: str, key: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"security:\n  {section}: {{enabled: false}}\n")
    with pytest.raises(ValidationError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert key in message
    assert "remove the key or set it to true" in message


@pytest.mark.parametrize(
    ("written", "expected"),
    [("HIGH", Severity.HIGH), ("Critical", Severity.CRITICAL), ("low", Severity.LOW)],
)
def test_alert_threshold_ignores_case(tmp_path: Path, written: str, expected: Severity) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"security:\n  monitoring: {{alert_threshold: {written}}}\n")
    assert load_settings(config).security.monitoring.alert_threshold is expected


@pytest.mark.parametrize(
    ("written", "floor"),
    [("DTLS-SRTP", "TLSv1.2"), ("tlsv1.3", "TLSv1.3"), ("TLSv1.2", "TLSv1.2")],
)
def test_encryption_protocol_ignores_case(tmp_path: Path, written: str, floor: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"security:\n  encryption: {{protocol: {written}}}\n")
    assert load_settings(config).security.encryption.tls_minimum == floor


def test_conflicting_tls_floors_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("security:\n  encryption: {protocol: TLSv1.3, tls_min_version: TLSv1.2}\n")
    with pytest.raises(ValidationError, match="protocol: dtls-srtp"):
        load_settings(config)


def test_certificate_without_key_must_hold_one(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    generate_self_signed(cert, key, hostnames=["localhost"])
    settings = load_settings(
        None,
        var_dir=str(tmp_path / "var"),
        security={"encryption": {"certificate": str(cert)}},
    )
    with pytest.raises(ConfigurationError, match=r"no private key: set security\.encryption\.key"):
        ensure_certificate(settings)
