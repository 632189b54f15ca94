"""The CA's files and signatures: a P-256 root, server and device leaves, revocation lists.

Pure cryptography on files, no database: ``registry`` records what is made here. The
CA key is written 0600 under ``security.pki.directory`` (``var_dir/pki``); an operator
who keeps it offline points ``lensguard certs --ca-dir`` at removable media instead.
A device certificate names its device as the URI ``urn:lensguard:device:<id>`` and is
good only for client authentication; a server certificate only for server
authentication, for the DNS names and addresses given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lensguard.errors import ConfigurationError
from lensguard.private import private_dir, write_private
from lensguard.tls import subject_alt_names

CA_CERT = "ca-cert.pem"
CA_KEY = "ca-key.pem"
DEVICE_URI = "urn:lensguard:device:"
CA_DAYS = 3650
BACKDATE = timedelta(minutes=5)
"""Leaves start a little in the past: a peer whose clock lags still accepts them."""
REASONS = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
}


@dataclass(frozen=True)
class Authority:
    """The CA certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    directory: Path

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT


@dataclass(frozen=True)
class Issued:
    """A freshly signed leaf: its PEMs and what the registry keeps of it."""

    cert: x509.Certificate
    key_pem: bytes

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def serial(self) -> str:
        return serial_hex(self.cert.serial_number)


def serial_hex(serial: int) -> str:
    """A serial number as the registry and the CLI spell it: lower-case hex."""
    return f"{serial:x}"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def init_authority(directory: Path, *, name: str, now: datetime) -> Authority:
    """Make a new CA in ``directory``; refuses to replace one that is there."""
    if (directory / CA_KEY).exists() or (directory / CA_CERT).exists():
        raise ConfigurationError(
            f"a CA already exists in {directory}; it is never overwritten (move it away first)"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    private_dir(directory)
    write_private(directory / CA_KEY, _key_pem(key))
    write_private(directory / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return Authority(cert, key, directory)


def load_authority(directory: Path) -> Authority:
    """The CA in ``directory``; a clear error when there is none or it does not load."""
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if not cert_path.is_file() or not key_path.is_file():
        raise ConfigurationError(
            f"no CA in {directory}: run `lensguard certs init` first (or pass --ca-dir)"
        )
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"the CA in {directory} does not load: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"the CA key in {directory} is not an EC key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise ConfigurationError(f"the CA key in {directory} does not match its certificate")
    return Authority(cert, key, directory)


def _leaf(
    ca: Authority,
    *,
    common_name: str,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    now: datetime,
    days: int,
) -> Issued:
    if days < 1:
        raise ConfigurationError("a certificate must be valid for at least one day")
    not_after = min(now + timedelta(days=days), ca.cert.not_valid_after_utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, _key_pem(key))


def issue_server(ca: Authority, names: list[str], *, now: datetime, days: int) -> Issued:
    """A server certificate for ``names`` (DNS names or IP addresses; the first is the CN)."""
    if not names:
        raise ConfigurationError("a server certificate needs at least one name (--name)")
    return _leaf(
        ca,
        common_name=names[0],
        sans=subject_alt_names(names),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        now=now,
        days=days,
    )


def issue_device(
    ca: Authority, device_id: str, device_name: str, *, now: datetime, days: int
) -> Issued:
    """A client certificate that names device ``device_id``."""
    return _leaf(
        ca,
        common_name=device_name,
        sans=[x509.UniformResourceIdentifier(DEVICE_URI + device_id)],
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        now=now,
        days=days,
    )


def device_of(cert: x509.Certificate) -> str | None:
    """The device a client certificate names, or None when it names none."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(DEVICE_URI):
            return uri.removeprefix(DEVICE_URI)
    return None


@dataclass(frozen=True)
class Revoked:
    """One revoked serial, as a list carries it."""

    serial: str
    at: datetime
    reason: str


def sign_crl(
    ca: Authority, revoked: list[Revoked], *, number: int, now: datetime, days: int
) -> bytes:
    """A revocation list (PEM) numbered ``number``, good for ``days``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    for entry in revoked:
        item = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry.serial, 16))
            .revocation_date(entry.at)
            .add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(item)
    crl = builder.sign(ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM)
