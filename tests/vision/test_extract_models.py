"""``scripts/extract-models.py`` takes BlazeFace out of the mediapipe wheel, once."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from lensguard.vision import models

pytestmark = pytest.mark.process  # runs lensguard as a child process


SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "extract-models.py"
EXIT_DOWNLOAD = 3


def run(dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--dest", str(dest)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_script_pins_what_the_package_expects() -> None:
    script = runpy.run_path(str(SCRIPT))
    assert script["BLAZEFACE_FILE"] == models.BLAZEFACE_FILE
    assert script["BLAZEFACE_SHA256"] == models.BLAZEFACE_SHA256
    assert script["WHEEL_REQUIREMENT"] == models.BLAZEFACE_SOURCE
    assert script["DEFAULT_DEST"] == models.default_models_dir()


def test_extraction_is_idempotent_and_repairs_a_bad_file(tmp_path: Path) -> None:
    first = run(tmp_path)
    if first.returncode == EXIT_DOWNLOAD and os.environ.get("CI") != "true":
        pytest.skip(f"no package registry here: {first.stderr.strip()}")
    assert first.returncode == 0, first.stderr
    target = tmp_path / models.BLAZEFACE_FILE
    assert "wrote" in first.stdout
    assert models.blazeface_path(tmp_path) == target
    stamp = target.stat().st_mtime_ns

    second = run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert target.stat().st_mtime_ns == stamp

    target.write_bytes(b"not a model")
    third = run(tmp_path)
    assert third.returncode == 0, third.stderr
    assert "wrote" in third.stdout
    assert models.sha256_file(target) == models.BLAZEFACE_SHA256
    assert sorted(p.name for p in tmp_path.iterdir()) == [models.BLAZEFACE_FILE]
