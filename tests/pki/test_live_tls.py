"""A reload that cannot load keeps the context in force; one that can swaps it in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lensguard.errors import ConfigurationError
from lensguard.pki.live_tls import LiveTLS, TLSFiles
from lensguard.tls import generate_self_signed


def test_a_broken_reload_keeps_serving_the_old_context(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    generate_self_signed(cert, key, hostnames=["127.0.0.1"])
    live = LiveTLS(TLSFiles(cert, key, "TLSv1.2"))
    first = live.current
    other_cert, other_key = tmp_path / "other.pem", tmp_path / "other-key.pem"
    generate_self_signed(other_cert, other_key, hostnames=["127.0.0.1"])
    key.write_bytes(other_key.read_bytes())  # a key that does not match the certificate
    with pytest.raises(ConfigurationError, match="do not load"):
        live.reload()
    assert live.current is first and live.reloads == 0
    cert.write_bytes(other_cert.read_bytes())  # now the pair matches again
    live.reload()
    assert live.current is not first and live.reloads == 1
    assert live.outer.sni_callback is not None


def test_device_tls_reads_yaml_s_bare_off_and_refuses_a_bare_on(tmp_path: Path) -> None:
    import yaml
    from pydantic import ValidationError

    from lensguard.pki.settings import DeviceTLS, PkiSettings

    assert PkiSettings.model_validate(yaml.safe_load("device_tls: off")).device_tls is DeviceTLS.OFF
    assert PkiSettings(device_tls="Required").device_tls is DeviceTLS.REQUIRED
    with pytest.raises(ValidationError, match="off, optional or required"):
        PkiSettings.model_validate(yaml.safe_load("device_tls: on"))


def test_device_tls_without_a_ca_is_refused_at_start_naming_the_fix(make_settings: Any) -> None:
    from lensguard.pki.listener import client_ca

    settings = make_settings(security={"pki": {"device_tls": "required"}})
    with pytest.raises(ConfigurationError, match="run `lensguard certs init`"):
        client_ca(settings)
    assert client_ca(make_settings()) is None  # off: no client CA at all
