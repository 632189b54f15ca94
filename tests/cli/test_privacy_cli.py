"""``lensguard privacy inventory`` as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lensguard.privacy.registry import NOT_YET_ENCRYPTED, REGISTRY
from tests.cli.test_cli import lensguard

pytestmark = pytest.mark.process


def test_json_lists_every_table_with_classes_and_where(tmp_path: Path) -> None:
    result = lensguard(tmp_path, "privacy", "inventory", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "lensguard.privacy.inventory/1"
    assert {t["table"] for t in data["tables"]} == set(REGISTRY)
    assert data["not_yet_encrypted"] == sorted(NOT_YET_ENCRYPTED)
    users = next(t for t in data["tables"] if t["table"] == "users")
    assert "username" in {c["name"] for c in users["columns"]["personal"]}
    sensitive = {c["name"]: c["encrypted"] for c in users["columns"]["sensitive"]}
    assert sensitive["totp_secret"] is True
    assert str(tmp_path / "var" / "recordings") in data["places"]["segment_store"]
    assert str(tmp_path / "var" / "audit-checkpoints.jsonl") in data["places"]["audit_checkpoints"]


def test_s3_storage_and_a_database_password_show_without_the_password(tmp_path: Path) -> None:
    config = tmp_path / "lensguard.yaml"
    settings = {
        "mode": "dev",
        "var_dir": str(tmp_path / "var"),
        "database": {"url": "postgresql+psycopg://lens:hunter22@db.example/lens"},
        "recordings": {"storage": "s3", "s3": {"bucket": "evidence-bucket"}},
    }
    config.write_text(yaml.safe_dump(settings))
    result = lensguard(tmp_path, "privacy", "inventory", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "hunter22" not in result.stdout
    places = json.loads(result.stdout)["places"]
    assert "S3 bucket evidence-bucket" in places["segment_store"]
    assert "db.example" in places["database"]


def test_text_and_markdown_and_help(tmp_path: Path) -> None:
    text = lensguard(tmp_path, "privacy", "inventory")
    assert text.returncode == 0, text.stderr
    assert "Record of processing" in text.stdout
    assert "audit_log" in text.stdout
    md = lensguard(tmp_path, "privacy", "inventory", "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Record of processing (GDPR Art. 30)")
    assert "### recording_segments" in md.stdout
    helped = lensguard(tmp_path, "privacy", "inventory", "--help")
    assert helped.returncode == 0
    assert "Art. 30" in helped.stdout
    assert "--format" in helped.stdout
