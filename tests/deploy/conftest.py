"""Settings, certificates and the validators that check rendered deployment files."""

from __future__ import annotations

import datetime
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from lensguard.cli.main import app
from tests.harness.server import strong_secret

SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"


def tool(name: str) -> str:
    """The path of a validator, or skip naming the Debian package that has it."""
    found = shutil.which(name, path=SBIN)
    if found is None:
        pytest.skip(f"{name} is not installed (scripts/system-deps.sh installs it)")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for ``localhost`` and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def write_config(tmp_path: Path, **overrides: Any) -> Path:
    """A production configuration file under ``tmp_path`` with ``overrides`` on top."""
    data: dict[str, Any] = {
        "mode": "production",
        "var_dir": str(tmp_path / "var"),
        "secret_key": strong_secret(),
    }
    data.update(overrides)
    config = tmp_path / "lensguard.yaml"
    config.write_text(yaml.safe_dump(data))
    return config


def render(config: Path, *args: str) -> tuple[int, str, str]:
    """``lensguard -c CONFIG deploy render ARGS`` in-process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, ["-c", str(config), "deploy", "render", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
