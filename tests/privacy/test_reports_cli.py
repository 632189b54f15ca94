"""``lensguard compliance report``: a framework's controls from the shell, refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process  # runs lensguard as a child process


def test_report_as_json_and_html_and_a_clear_refusal(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    done = lensguard(tmp_path, "compliance", "report", "--framework", "hipaa", "--format", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["framework"] == "hipaa"
    statuses = {c["id"]: c["status"] for c in body["controls"]}
    assert statuses["164.312(a)(2)(iv)"] == "gap"  # personal fields are not encrypted yet
    assert set(statuses.values()) <= {"evidenced", "gap", "no_evidence"}

    page = tmp_path / "gdpr.html"
    html = lensguard(
        tmp_path,
        "compliance",
        "report",
        "--framework",
        "gdpr",
        "--from",
        "2026-01-01",
        "--format",
        "html",
        "--out",
        str(page),
    )
    assert html.returncode == 0, html.stderr
    assert "Art. 33" in page.read_text() and (page.stat().st_mode & 0o077) == 0

    unknown = lensguard(tmp_path, "compliance", "report", "--framework", "iso27001")
    assert unknown.returncode == 2
    assert "choose one of: gdpr, hipaa, pci, sox" in unknown.stderr
    table = lensguard(
        tmp_path, "compliance", "report", "--framework", "sox", env={"COLUMNS": "200"}
    )
    assert table.returncode == 0 and "ITGC access-1" in table.stdout


def test_retention_from_the_shell_counts_then_removes(tmp_path: Path) -> None:
    assert lensguard(tmp_path, "db", "upgrade").returncode == 0
    dry = lensguard(tmp_path, "privacy", "retention", "--dry-run", env={"COLUMNS": "120"})
    assert dry.returncode == 0, dry.stderr
    assert "Would remove" in dry.stdout and "sessions" in dry.stdout
    assert "an access review is due" in dry.stdout
    done = lensguard(tmp_path, "privacy", "retention", env={"COLUMNS": "120"})
    assert done.returncode == 0 and "Removed" in done.stdout, done.stderr
