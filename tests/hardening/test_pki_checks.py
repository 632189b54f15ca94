"""The audit's CA checks: skipped without a CA, the key's mode, device mutual TLS."""

from __future__ import annotations

from typing import Any

from lensguard.hardening.findings import Status
from lensguard.hardening.pki_checks import check_pki
from lensguard.pki.authority import CA_KEY, init_authority
from lensguard.pki.listener import ca_dir
from lensguard.store.types import utcnow


def test_no_ca_skips_both_checks_and_names_the_command(make_settings: Any) -> None:
    found = check_pki(make_settings())
    assert [f.status for f in found] == [Status.SKIP, Status.SKIP]
    assert "lensguard certs init" in found[0].evidence


def test_a_loose_key_and_optional_device_tls_fail_and_the_fixed_setup_passes(
    make_settings: Any,
) -> None:
    loose = make_settings(security={"pki": {"device_tls": "optional"}})
    ca = init_authority(ca_dir(loose), name="CA", now=utcnow())
    (ca.directory / CA_KEY).chmod(0o644)
    key, devices = check_pki(loose)
    assert key.id == "PKI-CA-KEY" and key.status is Status.FAIL and "0644" in key.evidence
    assert devices.status is Status.FAIL and "optional" in devices.evidence
    (ca.directory / CA_KEY).chmod(0o600)
    strict = make_settings(security={"pki": {"device_tls": "required"}})
    assert [f.status for f in check_pki(strict)] == [Status.PASS, Status.PASS]
    (ca.directory / CA_KEY).unlink()  # kept offline: only the certificate is here
    offline = check_pki(strict)[0]
    assert offline.status is Status.PASS and "not on this machine" in offline.evidence
