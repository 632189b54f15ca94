"""database.tls / redis.tls: validation and the effective URLs they produce."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lensguard.settings import Settings
from lensguard.store.tls import engine_options

PG = "postgresql+asyncpg://lensguard:pw@db.internal:5432/lensguard"


def test_database_url_carries_tls_and_the_engine_gets_a_verifying_context() -> None:
    settings = Settings(
        mode="production",
        database={"url": PG, "tls": {"enabled": True, "ca_file": "/etc/lg/ca.pem"}},
    )
    assert "sslmode=verify-full" in settings.database_url
    assert "sslrootcert=%2Fetc%2Flg%2Fca.pem" in settings.database_url
    with pytest.raises(FileNotFoundError):  # the CA file is read when the engine is built
        engine_options(settings.database_url)


def test_engine_options_leave_plain_urls_alone() -> None:
    assert engine_options(PG) == (PG, {})
    assert engine_options("sqlite+aiosqlite:///x.db") == ("sqlite+aiosqlite:///x.db", {})


def test_require_mode_is_encrypted_without_verification() -> None:
    url, args = engine_options(PG + "?sslmode=require")
    assert url == PG
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_NONE


def test_weaker_modes_are_refused_outside_dev() -> None:
    for section in ("database", "redis"):
        tls = {"enabled": True, "mode": "verify-ca", "ca_file": "/ca.pem"}
        with pytest.raises(ValidationError, match=f"{section}.tls.mode verify-ca .* dev mode"):
            Settings.model_validate({"mode": "production", section: {"tls": tls}})
        Settings.model_validate({"mode": "dev", section: {"tls": tls}})


def test_incomplete_tls_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="needs ca_file"):
        Settings(mode="dev", database={"tls": {"enabled": True}})
    with pytest.raises(ValidationError, match="cert_file and key_file go together"):
        Settings(mode="dev", redis={"tls": {"ca_file": "/ca.pem", "cert_file": "/c.pem"}})


def test_redis_url_becomes_rediss_with_the_ca() -> None:
    settings = Settings(
        mode="production",
        redis={
            "url": "redis://:secret@cache.internal:6379/0",
            "tls": {
                "enabled": True,
                "ca_file": "/ca.pem",
                "cert_file": "/c.pem",
                "key_file": "/k.pem",
            },
        },
    )
    url = settings.redis_url
    assert url is not None
    assert url.startswith("rediss://:secret@cache.internal:6379/0?")
    for part in ("ssl_ca_certs=%2Fca.pem", "ssl_check_hostname=true", "ssl_certfile=%2Fc.pem"):
        assert part in url
    assert Settings(mode="dev").redis_url is None


def test_a_tls_file_that_cannot_be_read_stops_start_up_naming_the_setting(
    make_settings: Any, tmp_path: Path
) -> None:
    from lensguard.app import create_app
    from lensguard.errors import ConfigurationError

    ca = tmp_path / "ca.pem"
    ca.write_text("not read yet\n")
    missing = tmp_path / "nowhere" / "client.pem"
    settings = make_settings(
        redis={
            "url": "redis://127.0.0.1:1/0",
            "tls": {
                "enabled": True,
                "ca_file": str(ca),
                "cert_file": str(missing),
                "key_file": str(missing),
            },
        }
    )
    with pytest.raises(ConfigurationError) as caught:
        create_app(settings)
    message = str(caught.value)
    assert f"redis.tls.cert_file: cannot read {missing}: No such file or directory" in message
    assert f"redis.tls.key_file: cannot read {missing}" in message
    assert "ca_file" not in message  # the CA is there
