"""``lensguard security audit``: each check fails on a bad deployment and passes on ours.

The live checks probe real servers over loopback: the project's own app served by
uvicorn in the test's loop, and a deliberately weak HTTPS server (tests/hardening/
weak_server.py) that accepts TLS 1.0 and CBC suites and sends no security headers.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lensguard.cli.main import app as cli
from lensguard.clock import ManualClock
from lensguard.hardening import report
from lensguard.hardening.config_checks import Host, check_config
from lensguard.hardening.findings import Finding, Status, failing
from lensguard.hardening.run import Live, accounts, attack, run_audit
from lensguard.settings import Settings
from lensguard.severity import Severity
from lensguard.store.db import Database
from lensguard.store.models import ApiKey, User
from tests.hardening.weak_server import weak_server
from tests.harness.inprocess import InProcessServer, serve_in_process

UNPRIVILEGED = Host(euid=1000)


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


def test_a_production_configuration_passes_every_config_check(make_settings: Any) -> None:
    settings: Settings = make_settings()
    found = by_id(check_config(settings, UNPRIVILEGED))
    assert not [f for f in found.values() if f.status is Status.FAIL]
    assert found["SEC-MASTER"].status is Status.PASS
    assert found["PROC-ROOT"].evidence == "effective user id 1000"


def test_weak_settings_fail_their_checks_with_evidence(make_settings: Any) -> None:
    settings: Settings = make_settings(
        mode="dev",
        secret_key="changeme",
        server={"host": "0.0.0.0"},
        security={"monitoring": {"log_level": "DEBUG"}},
        database={"url": "postgresql+asyncpg://lg:pw@db.example.org/lensguard", "echo": True},
        redis={"url": "redis://cache.example.org:6379/0"},
        media={"ice": {"allow_remote_addresses": ["192.168.0.0/16"]}},
    )
    found = by_id(check_config(settings, Host(euid=0)))
    failed = {i for i, f in found.items() if f.status is Status.FAIL}
    assert failed == {
        "CFG-MODE",
        "SEC-MASTER",
        "NET-DB-TLS",
        "NET-REDIS-TLS",
        "PROC-ROOT",
        "PROC-BIND",
        "PROC-DEBUG",
        "TURN-RESERVED",
    }
    assert found["SEC-MASTER"].evidence == "it is a well-known default value"
    assert found["NET-DB-TLS"].evidence == "plain TCP to db.example.org"
    assert "database.echo" in found["PROC-DEBUG"].evidence
    assert found["TURN-RESERVED"].evidence == "allowed: 192.168.0.0/16"
    assert all(f.asvs.startswith("V") and f.fix for f in found.values())
    # The secret itself never appears in what the audit reports.
    assert not any("changeme" in f.evidence for f in found.values())


def test_loopback_and_tls_backends_pass(make_settings: Any, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("placeholder")
    settings: Settings = make_settings(
        database={"url": "postgresql+asyncpg://lg@127.0.0.1/lensguard"},
        redis={"url": "rediss://cache.example.org:6380/0"},
    )
    found = by_id(check_config(settings, UNPRIVILEGED))
    assert found["NET-DB-TLS"].status is Status.PASS
    assert found["NET-REDIS-TLS"].status is Status.PASS
    tls: Settings = make_settings(
        database={
            "url": "postgresql+asyncpg://lg@db.example.org/lensguard",
            "tls": {"enabled": True, "ca_file": str(ca)},
        }
    )
    assert by_id(check_config(tls, UNPRIVILEGED))["NET-DB-TLS"].evidence == (
        "verify-full to db.example.org"
    )


def test_files_open_to_others_are_named(make_settings: Any, tmp_path: Path) -> None:
    settings: Settings = make_settings()
    var = settings.var_dir
    var.mkdir(mode=0o700)
    (var / "kept.key").write_text("x")
    os.chmod(var / "kept.key", 0o600)
    assert by_id(check_config(settings, UNPRIVILEGED))["SEC-FILES"].status is Status.PASS
    os.chmod(var / "kept.key", 0o644)
    finding = by_id(check_config(settings, UNPRIVILEGED))["SEC-FILES"]
    assert finding.status is Status.FAIL
    assert finding.evidence == f"open to others: {var / 'kept.key'} (0644)"

    config = tmp_path / "lensguard.yaml"
    config.write_text("secret_key: not-shown-here\n")
    os.chmod(config, 0o644)
    loose = by_id(check_config(settings, Host(1000, config)))["SEC-CONFIG"]
    assert loose.status is Status.FAIL and "secret_key" in loose.evidence
    assert "not-shown-here" not in loose.evidence
    os.chmod(config, 0o600)
    assert by_id(check_config(settings, Host(1000, config)))["SEC-CONFIG"].status is Status.PASS


async def test_admins_without_mfa_and_stale_keys_are_listed(
    make_settings: Any, sqlite_url: str
) -> None:
    settings: Settings = make_settings(database={"url": sqlite_url})
    now = datetime.now(UTC)
    db = Database(sqlite_url)
    try:
        async with db.transaction() as session:
            session.add(User(username="root", password_hash="x", role="admin"))
            session.add(
                User(username="enrolled", password_hash="x", role="admin", totp_secret=b"wrapped")
            )
            session.add(User(username="watcher", password_hash="x", role="viewer"))
            session.add(
                ApiKey(
                    id="oldkey",
                    name="forgotten",
                    secret_hash="h",
                    scopes=[],
                    created_at=now - timedelta(days=200),
                    expires_at=now + timedelta(days=365),
                    last_used_at=now - timedelta(days=120),
                )
            )
            session.add(
                ApiKey(
                    id="newkey",
                    name="busy",
                    secret_hash="h",
                    scopes=[],
                    created_at=now - timedelta(days=200),
                    expires_at=now + timedelta(days=365),
                    last_used_at=now - timedelta(days=1),
                )
            )
    finally:
        await db.dispose()
    found = by_id(await accounts(settings, now))
    assert found["ACC-ADMIN-MFA"].status is Status.FAIL
    assert found["ACC-ADMIN-MFA"].evidence == "1 without MFA: root (admin)"
    assert found["ACC-STALE-KEYS"].evidence == "1 stale: oldkey (forgotten)"
    # Ninety days on, the busy key is stale too; nothing else about them changed.
    later = by_id(await accounts(settings, now + timedelta(days=90)))
    assert later["ACC-STALE-KEYS"].evidence.startswith("2 stale:")


@pytest.fixture
async def ours(make_settings: Any, sqlite_url: str) -> AsyncIterator[InProcessServer]:
    settings: Settings = make_settings(database={"url": sqlite_url})
    clock = ManualClock(start=float(int(datetime.now(UTC).timestamp())))
    async with serve_in_process(settings, clock) as server:
        yield server


async def test_our_server_passes_every_live_check(
    ours: InProcessServer, make_settings: Any
) -> None:
    settings: Settings = ours.services.settings
    findings = await run_audit(settings, UNPRIVILEGED, Live(ours.base_url, ours.cert_path))
    found = by_id(findings)
    live = [f for f in findings if f.id.startswith(("TLS", "HDR", "API"))]
    assert len(live) == 11  # served over TLS, four TLS, five header checks, the walk
    assert [f for f in live if f.status is not Status.PASS] == []
    assert found["API-AUTH"].evidence.endswith("protected GET routes all answered 401")
    assert int(found["API-AUTH"].evidence.split()[0]) >= 10
    assert found["TLS-CHAIN"].evidence.startswith("verifies for 127.0.0.1")


async def test_our_certificate_fails_without_the_ca_file(ours: InProcessServer) -> None:
    settings: Settings = ours.services.settings
    found = by_id(await run_audit(settings, UNPRIVILEGED, Live(ours.base_url)))
    assert found["TLS-CHAIN"].status is Status.FAIL
    assert found["TLS-CHAIN"].severity is Severity.HIGH


async def test_a_weak_server_fails_the_live_checks(make_settings: Any, tmp_path: Path) -> None:
    settings: Settings = make_settings()
    with weak_server(tmp_path, days=10) as weak:
        found = by_id(await run_audit(settings, UNPRIVILEGED, Live(weak.url, weak.cert)))
    assert found["TLS-LEGACY"].status is Status.FAIL
    assert found["TLS-LEGACY"].evidence == "accepted: TLS 1.0, TLS 1.1"
    assert (
        found["TLS-SUITES"].status is Status.FAIL and "also accepts" in found["TLS-SUITES"].evidence
    )
    assert found["TLS-CHAIN"].status is Status.PASS
    assert found["TLS-EXPIRY"].status is Status.FAIL
    for check in ("HDR-HSTS", "HDR-CSP", "HDR-NOSNIFF", "HDR-REFERRER", "HDR-FRAMING"):
        assert found[check].status is Status.FAIL, check
    assert found["API-AUTH"].status is Status.FAIL
    # The public route is not probed; both protected ones answered without credentials.
    assert found["API-AUTH"].evidence == "GET /api/v1/things -> 200, GET /api/v1/things/0 -> 200"
    assert {f.id for f in failing(list(found.values()), Severity.CRITICAL)} == {"API-AUTH"}


def test_plain_http_is_a_critical_failure(make_settings: Any) -> None:
    from lensguard.hardening.run import live

    found = by_id(live(Live("http://127.0.0.1:1"), datetime.now(UTC)))
    assert found["TLS-ONLY"].status is Status.FAIL
    assert found["TLS-ONLY"].severity is Severity.CRITICAL


def test_the_command_exits_by_severity_and_prints_json(tmp_path: Path, sqlite_url: str) -> None:
    from tests.harness.server import strong_secret

    config = tmp_path / "lensguard.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mode": "production",
                "var_dir": str(tmp_path / "var"),
                "secret_key": strong_secret(),
                "database": {"url": sqlite_url},
                "security": {"monitoring": {"log_level": "DEBUG"}},
            }
        )
    )
    os.chmod(config, 0o600)
    runner = CliRunner()
    strict = runner.invoke(
        cli, ["-c", str(config), "security", "audit", "--format", "json", "--fail-on", "medium"]
    )
    report = json.loads(strict.stdout)
    ids = {f["id"] for f in report["findings"] if f["status"] == "fail"}
    assert "PROC-DEBUG" in ids
    assert strict.exit_code == 1 and report["fail_on"] == "medium"
    lenient = runner.invoke(
        cli, ["-c", str(config), "security", "audit", "--format", "json", "--fail-on", "critical"]
    )
    assert lenient.exit_code == (1 if json.loads(lenient.stdout)["failed"] else 0)
    assert json.loads(lenient.stdout)["failed"] == 0
    bad = runner.invoke(cli, ["-c", str(config), "security", "audit", "--format", "xml"])
    assert bad.exit_code == 2


async def test_security_test_passes_against_our_server(
    ours: InProcessServer, tmp_path: Path
) -> None:
    await ours.user("low", "viewer")
    token = await ours.login("low")
    target = Live(ours.base_url, ours.cert_path)
    findings = await asyncio.to_thread(attack, target, token, datetime.now(UTC))
    found = by_id(findings)
    attacks_run = [f for f in findings if f.id.startswith("ATK-")]
    assert len(attacks_run) == 7
    assert [f for f in findings if f.status is not Status.PASS] == []
    assert found["ATK-ALG-NONE"].evidence == "401 on all 5 routes tried"
    walked = found["ATK-AUTHZ"].evidence
    assert walked.endswith("all answered 403") and int(walked.split()[0]) >= 5

    page = report.render(findings, target=ours.base_url, when=datetime.now(UTC))
    assert page.count("<tr>") == len(findings) + 1 and 'class="fail"' not in page


async def test_security_test_catches_an_open_server(tmp_path: Path) -> None:
    with weak_server(tmp_path) as weak:
        target = Live(weak.url, weak.cert)
        findings = await asyncio.to_thread(attack, target, None, datetime.now(UTC))
    found = by_id(findings)
    for check in ("ATK-ALG-NONE", "ATK-HS-PUBKEY", "ATK-WRONG-KEY", "ATK-UNKNOWN-KID"):
        assert found[check].status is Status.FAIL, check
        assert found[check].evidence.startswith("GET /api/v1/things -> 200")
    assert found["ATK-TAMPERED"].status is Status.SKIP
    assert found["ATK-AUTHZ"].status is Status.SKIP
    page = report.render(findings, target="<script>", when=datetime.now(UTC))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'class="fail"' in page


def test_the_test_command_writes_a_private_report(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    token = tmp_path / "token"
    token.write_text("two words\n")
    runner = CliRunner()
    refused = runner.invoke(
        cli, ["security", "test", "--url", "https://127.0.0.1:1", "--token-file", str(token)]
    )
    assert refused.exit_code == 2 and "does not hold one token" in refused.stderr
    with weak_server(tmp_path) as weak:
        ran = runner.invoke(
            cli,
            ["security", "test", "--url", weak.url, "--ca-file", str(weak.cert), "--out", str(out)],
        )
    assert ran.exit_code == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "ATK-ALG-NONE" in out.read_text()
