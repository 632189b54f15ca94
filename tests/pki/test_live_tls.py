"""A reload that cannot load keeps the context in force; one that can swaps it in."""

from __future__ import annotations

from pathlib import Path

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
