"""The CA's signatures: what each certificate is good for, and what a list revokes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from lensguard.errors import ConfigurationError
from lensguard.pki.authority import (
    CA_KEY,
    Revoked,
    device_of,
    init_authority,
    issue_device,
    issue_server,
    load_authority,
    sign_crl,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_a_device_certificate_names_its_device_and_only_authenticates_clients(
    tmp_path: Path,
) -> None:
    ca = init_authority(tmp_path / "pki", name="test CA", now=NOW)
    issued = issue_device(ca, "dev123", "robot-1", now=NOW, days=30)
    cert = issued.cert
    assert device_of(cert) == "dev123"
    assert usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.issuer == ca.cert.subject
    assert cert.not_valid_after_utc == NOW + timedelta(days=30)
    cert.verify_directly_issued_by(ca.cert)
    assert (tmp_path / "pki" / CA_KEY).stat().st_mode & 0o777 == 0o600


def test_a_server_certificate_carries_names_and_addresses_and_no_device(tmp_path: Path) -> None:
    ca = init_authority(tmp_path, name="test CA", now=NOW)
    cert = issue_server(ca, ["cams.example", "127.0.0.1"], now=NOW, days=90).cert
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["cams.example"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert usages(cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert device_of(cert) is None
    with pytest.raises(ConfigurationError, match="at least one name"):
        issue_server(ca, [], now=NOW, days=90)


def test_a_leaf_never_outlives_its_ca(tmp_path: Path) -> None:
    ca = init_authority(tmp_path, name="test CA", now=NOW)
    cert = issue_device(ca, "d", "d", now=NOW, days=100_000).cert
    assert cert.not_valid_after_utc == ca.cert.not_valid_after_utc


def test_the_list_revokes_exactly_the_serials_given_with_their_reasons(tmp_path: Path) -> None:
    ca = init_authority(tmp_path, name="test CA", now=NOW)
    kept = issue_device(ca, "a", "a", now=NOW, days=30)
    gone = issue_device(ca, "b", "b", now=NOW, days=30)
    pem = sign_crl(ca, [Revoked(gone.serial, NOW, "key_compromise")], number=7, now=NOW, days=7)
    crl = x509.load_pem_x509_crl(pem)
    assert crl.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    assert crl.next_update_utc == NOW + timedelta(days=7)
    entry = crl.get_revoked_certificate_by_serial_number(gone.cert.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(kept.cert.serial_number) is None


def test_an_existing_ca_is_never_overwritten_and_a_foreign_key_is_refused(tmp_path: Path) -> None:
    first = init_authority(tmp_path / "a", name="A", now=NOW)
    with pytest.raises(ConfigurationError, match="never overwritten"):
        init_authority(tmp_path / "a", name="A", now=NOW)
    other = init_authority(tmp_path / "b", name="B", now=NOW)
    (tmp_path / "a" / CA_KEY).write_bytes((other.directory / CA_KEY).read_bytes())
    with pytest.raises(ConfigurationError, match="does not match"):
        load_authority(first.directory)
    with pytest.raises(ConfigurationError, match="lensguard certs init"):
        load_authority(tmp_path / "none")
