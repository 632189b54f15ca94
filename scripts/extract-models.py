#!/usr/bin/env python3
"""Put the BlazeFace model where lensguard looks for it, taken out of the mediapipe wheel.

Installing mediapipe would pull in numpy<2, so the wheel is only downloaded (pip, no
dependencies, never installed) and the one .tflite file is unzipped from it, checked
against a pinned SHA-256 and written atomically. Idempotent: when the file is already
there with the right hash, nothing is downloaded. Run by ``make setup``.

Usage: python scripts/extract-models.py [--dest DIR]
Exit codes: 0 done or up to date, 3 the wheel could not be downloaded, 4 the wheel
did not hold the expected file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# Keep in step with src/lensguard/vision/models.py (a test compares them).
WHEEL_REQUIREMENT = "mediapipe==0.10.21"
# Any platform's wheel holds the same file; naming one makes the download work anywhere.
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
BLAZEFACE_FILE = "face_detection_short_range.tflite"
BLAZEFACE_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
DEFAULT_DEST = Path(__file__).resolve().parent.parent / "src" / "lensguard" / "vision" / "models"

EXIT_DOWNLOAD = 3
EXIT_CONTENT = 4


class DownloadFailed(Exception):
    """Raised when pip cannot fetch the wheel (no registry, no such version)."""


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def download_wheel(folder: Path) -> Path:
    """Download (never install) the pinned mediapipe wheel into ``folder``."""
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
        "--implementation", "cp", "--abi", "cp311", "--platform", WHEEL_PLATFORM,
        WHEEL_REQUIREMENT, "-d", str(folder),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("mediapipe-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise DownloadFailed(f"could not download {WHEEL_REQUIREMENT}: {detail}")
    return wheels[0]


def _fail(code: int, message: str) -> int:
    print(f"extract-models: {message}", file=sys.stderr)
    return code


def extract(dest: Path) -> int:
    """Make ``dest``/BLAZEFACE_FILE hold the pinned model; return the exit code."""
    target = dest / BLAZEFACE_FILE
    if target.is_file() and sha256(target.read_bytes()) == BLAZEFACE_SHA256:
        print(f"extract-models: {target} is up to date")
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lensguard-models-") as tmp:
        try:
            wheel = download_wheel(Path(tmp))
        except DownloadFailed as exc:
            return _fail(EXIT_DOWNLOAD, str(exc))
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(MEMBER)
        except (KeyError, zipfile.BadZipFile) as exc:
            return _fail(EXIT_CONTENT, f"{wheel.name} has no usable {MEMBER}: {exc}")
    if sha256(data) != BLAZEFACE_SHA256:
        return _fail(EXIT_CONTENT, f"{MEMBER} in {WHEEL_REQUIREMENT} does not match its pin")
    # Written beside the target and renamed: a reader never sees half a model.
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, target)
    print(f"extract-models: wrote {target} ({len(data)} bytes) from {WHEEL_REQUIREMENT}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and extract."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder for the model")
    args = parser.parse_args(argv)
    return extract(args.dest)


if __name__ == "__main__":
    raise SystemExit(main())
