"""TURN credentials: the coturn REST scheme, settings checks and the API route."""

import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lensguard.clock import ManualClock
from lensguard.errors import ConfigurationError
from lensguard.logs import configure_logging
from lensguard.media.turn import (
    MAX_TTL,
    check_turn_settings,
    ice_servers,
    mint_credential,
    sign,
    turn_secret,
)
from lensguard.settings import TurnSettings
from tests.api.conftest import Api, bearer, build_api
from tests.harness.server import strong_secret

SECRET = strong_secret()
TURN = {
    "enabled": True,
    "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
    "stun_urls": ["stun:turn.example.org:3478"],
    "static_auth_secret": SECRET,
    "ttl": 300,
}


def test_password_is_base64_hmac_sha1_of_the_username() -> None:
    # Vector from `printf %s 1700000000:alice | openssl dgst -sha1 -hmac north-wind-secret`.
    assert sign("north-wind-secret", "1700000000:alice") == "r/l6ttQtMIfbS2lfULS0mDRRNUg="


def test_username_is_expiry_then_principal() -> None:
    credential = mint_credential("s3cret", "user-42", ttl=600, now=1_700_000_000)
    assert credential.username == "1700000600:user-42"
    assert credential.expires_at == 1_700_000_600
    assert credential.password == sign("s3cret", credential.username)


def test_ttl_is_capped_at_one_hour() -> None:
    credential = mint_credential("s", "p", ttl=10 * MAX_TTL, now=0)
    assert credential.expires_at == MAX_TTL


@pytest.mark.parametrize("principal", ["", "a:b"])
def test_principal_ids_that_would_confuse_coturn_are_refused(principal: str) -> None:
    with pytest.raises(ValueError, match="principal id"):
        mint_credential("s", principal, ttl=60)


def test_ice_servers_carry_turn_with_credential_then_stun() -> None:
    credential = mint_credential("s", "p", ttl=60, now=0)
    servers = ice_servers(TurnSettings(**TURN), credential)
    assert servers == [
        {"urls": TURN["urls"], "username": "60:p", "credential": credential.password},
        {"urls": TURN["stun_urls"]},
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("urls", ["stun:not-turn.example.org"]),
        ("urls", ["turn:ok.example.org\nrealm=evil"]),
        ("stun_urls", ["turn:x.example.org"]),
        ("ttl", 3601),
        ("ttl", 10),
        ("realm", "bad realm\nno-auth"),
    ],
)
def test_turn_settings_refuse_bad_values(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        TurnSettings(**{**TURN, field: value})


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(None, "is not set"), ("changeme", "well-known default"), ("short", "shorter than 32")],
)
def test_production_refuses_missing_or_weak_turn_secret(
    make_settings: Any, secret: str | None, reason: str
) -> None:
    settings = make_settings(turn={**TURN, "static_auth_secret": secret})
    with pytest.raises(ConfigurationError, match=reason):
        check_turn_settings(settings)


def test_dev_mode_derives_a_stable_secret_from_secret_key(make_settings: Any) -> None:
    settings = make_settings(mode="dev", turn={**TURN, "static_auth_secret": None})
    again = make_settings(
        mode="dev",
        secret_key=settings.secret_key.get_secret_value(),
        turn={**TURN, "static_auth_secret": None},
    )
    other = make_settings(mode="dev", turn={**TURN, "static_auth_secret": None})
    assert turn_secret(settings) == turn_secret(again) != turn_secret(other)
    assert settings.secret_key.get_secret_value() not in turn_secret(settings)


@pytest.fixture
def events() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("WARNING", stream=io.StringIO())


async def _api(make_settings: Any, sqlite_url: str, **overrides: Any) -> AsyncIterator[Api]:
    settings = make_settings(
        database={"url": sqlite_url}, limits={"requests_per_minute": 100_000}, **overrides
    )
    async for value in build_api(settings):
        yield value


@pytest.fixture
async def turn_api(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    async for value in _api(make_settings, sqlite_url, turn=TURN):
        yield value


@pytest.fixture
async def api(make_settings: Any, sqlite_url: str) -> AsyncIterator[Api]:
    async for value in _api(make_settings, sqlite_url):
        yield value


async def test_viewer_gets_credentials_and_an_event_is_emitted(
    turn_api: Api, events: io.StringIO
) -> None:
    token = await turn_api.token_for("watcher", "viewer")
    response = await turn_api.http.get("/api/v1/turn-credentials", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ttl"] == 300
    turn, stun = body["ice_servers"]
    assert stun == {"urls": TURN["stun_urls"]}  # no null username/credential for STUN
    expiry, principal = turn["username"].split(":")
    assert 290 <= int(expiry) - time.time() <= 300
    assert turn["credential"] == sign(SECRET, turn["username"])
    issued = [
        json.loads(line)
        for line in events.getvalue().splitlines()
        if '"turn.credentials_issued"' in line
    ]
    assert issued and issued[0]["principal"] == principal and issued[0]["ttl"] == 300
    assert turn["credential"] not in events.getvalue()


async def test_devices_get_credentials_to_publish(turn_api: Api) -> None:
    admin = await turn_api.token_for("root", "admin")
    created = await turn_api.http.post(
        "/api/v1/devices",
        headers=bearer(admin),
        json={"name": "cam-1", "site": "lab", "kind": "camera"},
    )
    assert created.status_code == 201, created.text
    device_id, credential = created.json()["device"]["id"], created.json()["credential"]
    response = await turn_api.http.get("/api/v1/turn-credentials", headers=bearer(credential))
    assert response.status_code == 200, response.text
    assert response.json()["ice_servers"][0]["username"].endswith(f":{device_id}")


async def test_anonymous_and_restricted_callers_get_nothing(turn_api: Api) -> None:
    assert (await turn_api.http.get("/api/v1/turn-credentials")).status_code == 401
    # A user holding only the device *role* is not a device: no camera_view, no TURN.
    token = await turn_api.token_for("impostor", "device")
    refused = await turn_api.http.get("/api/v1/turn-credentials", headers=bearer(token))
    assert refused.status_code == 403


async def test_disabled_turn_answers_an_empty_list(api: Api) -> None:
    token = await api.token_for("op", "operator")
    response = await api.http.get("/api/v1/turn-credentials", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"ice_servers": [], "ttl": 0}


async def test_the_credential_expiry_is_read_from_the_app_clock(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock
) -> None:
    settings = make_settings(
        database={"url": sqlite_url}, limits={"requests_per_minute": 100_000}, turn=TURN
    )
    async for api in build_api(settings, clock=manual_clock):
        token = await api.token_for("later", "viewer")
        await manual_clock.advance(600)
        response = await api.http.get("/api/v1/turn-credentials", headers=bearer(token))
        assert response.status_code == 200, response.text
        expiry = response.json()["ice_servers"][0]["username"].split(":")[0]
        assert int(expiry) == int(manual_clock.time()) + settings.turn.ttl
