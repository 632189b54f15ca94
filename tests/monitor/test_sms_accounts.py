"""SMS alerts to the phones on file of the accounts with chosen roles, through a running
app: numbers read (sealed at rest) when the alert goes out, disabled accounts and other
roles left out, a role the policy does not know refused at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lensguard.errors import ConfigurationError
from lensguard.monitor.alerts.config import SmsAlertSettings
from lensguard.monitor.events import bound, emit
from lensguard.severity import Severity
from lensguard.store.models import User
from tests.api.conftest import Api, bearer, build_api
from tests.monitor.conftest import TlsPair
from tests.monitor.receivers import HttpReceiver

ADA = "+447700900123"
BOB = "+14155550199"
CORA = "+33612345678"
TOKEN = "gateway-token-1"  # pragma: allowlist secret


def sms(url: str, ca_file: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "url": url,
        "account_roles": ["admin"],
        "template": {"to": "$to", "message": "$text"},
        "auth": "bearer",
        "secret": TOKEN,
        "allow_private": True,
        "ca_file": str(ca_file),
        "min_severity": "high",
    }
    config.update(overrides)
    return config


async def set_phone(api: Api, token: str, phone: str) -> None:
    answer = await api.http.patch("/api/v1/users/me", headers=bearer(token), json={"phone": phone})
    assert answer.status_code == 200, answer.text


async def test_the_admins_on_file_are_texted_and_nobody_else(
    make_settings: Any,
    sqlite_url: str,
    tmp_path: Path,
    make_tls: Callable[[list[str]], TlsPair],
) -> None:
    server_tls, _ = make_tls(["127.0.0.1"])
    cert = tmp_path / "127.0.0.1.pem"  # where make_tls wrote it
    async with HttpReceiver(tls=server_tls) as gateway:
        alerts = {"sms": sms(gateway.url, cert)}
        settings = make_settings(
            database={"url": sqlite_url},
            limits={"requests_per_minute": 100_000},
            security={"monitoring": {"alerts": alerts}},
        )
        async for api in build_api(settings):
            root = await api.token_for("root", "admin")
            await set_phone(api, root, ADA)
            olga = await api.token_for("olga", "operator")
            await set_phone(api, olga, BOB)
            former = await api.token_for("former", "admin")
            await set_phone(api, former, CORA)
            former_id = (await api.http.get("/api/v1/users/me", headers=bearer(former))).json()
            disabled = await api.http.patch(
                f"/api/v1/users/{former_id['id']}", headers=bearer(root), json={"disabled": True}
            )
            assert disabled.status_code == 200, disabled.text
            await api.token_for("nophone", "admin")  # no number on file: nothing to text

            with bound(api.identity.events):
                emit("audit.chain_broken", severity=Severity.CRITICAL, table="audit")
            await gateway.wait_for_requests(1)
            # Sent one number at a time, in order: the next alert's text arriving second
            # shows the first went to one number only.
            with bound(api.identity.events):
                emit("auth.mfa_disabled", severity=Severity.HIGH, user_id="u1")
            await gateway.wait_for_requests(2)
            async with api.identity.db.transaction() as session:
                stored = await session.get(User, former_id["id"])
                assert stored is not None and stored.phone_sealed is not None
                assert CORA.encode() not in stored.phone_sealed  # sealed at rest
    first, second = gateway.requests
    assert first.json()["to"] == ADA and "audit.chain_broken" in first.json()["message"]
    assert second.json()["to"] == ADA and "auth.mfa_disabled" in second.json()["message"]
    assert first.headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_fixed_number_and_the_accounts_are_texted_each_once(
    make_settings: Any,
    sqlite_url: str,
    tmp_path: Path,
    make_tls: Callable[[list[str]], TlsPair],
) -> None:
    server_tls, _ = make_tls(["127.0.0.1"])
    cert = tmp_path / "127.0.0.1.pem"  # where make_tls wrote it
    async with HttpReceiver(tls=server_tls) as gateway:
        alerts = {"sms": sms(gateway.url, cert, recipients=[ADA, BOB])}
        settings = make_settings(
            database={"url": sqlite_url}, security={"monitoring": {"alerts": alerts}}
        )
        async for api in build_api(settings):
            root = await api.token_for("root", "admin")
            await set_phone(api, root, BOB)  # also a fixed recipient: texted once
            with bound(api.identity.events):
                emit("audit.chain_broken", severity=Severity.CRITICAL, table="audit")
                emit("auth.mfa_disabled", severity=Severity.HIGH, user_id="u1")
            await gateway.wait_for_requests(4)
    sent = [(r.json()["to"], r.json()["message"].split()[1]) for r in gateway.requests]
    assert sent == [
        (ADA, "audit.chain_broken"),
        (BOB, "audit.chain_broken"),
        (ADA, "auth.mfa_disabled"),
        (BOB, "auth.mfa_disabled"),
    ]


async def test_an_unknown_role_is_refused_at_start_up(
    make_settings: Any, sqlite_url: str, tmp_path: Path
) -> None:
    alerts = {
        "sms": sms("https://sms.example.net/send", tmp_path / "ca.pem", account_roles=["oncall"])
    }
    settings = make_settings(
        database={"url": sqlite_url}, security={"monitoring": {"alerts": alerts}}
    )
    with pytest.raises(ConfigurationError, match="unknown role oncall; valid roles: admin"):
        async for _ in build_api(settings):
            pass


def test_someone_must_be_texted() -> None:
    with pytest.raises(ValidationError, match="sms needs recipients, account_roles, or both"):
        SmsAlertSettings.model_validate(
            {
                "url": "https://sms.example.net/send",
                "template": {"to": "$to", "message": "$text"},
                "auth": "bearer",
                "secret": TOKEN,
            }
        )
