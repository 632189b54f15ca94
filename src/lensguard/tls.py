"""TLS: a generated self-signed certificate for the embedded default, or a configured one."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lensguard.errors import ConfigurationError
from lensguard.private import write_private
from lensguard.settings import Settings

CERT_NAME = "tls-cert.pem"
KEY_NAME = "tls-key.pem"
VALIDITY = timedelta(days=365)
MIN_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
# Ciphers for TLS 1.2 (TLS 1.3 suites are fixed by OpenSSL): forward secrecy and AEAD only.
TLS12_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)


@dataclass(frozen=True)
class Certificate:
    """Where the certificate and key are, and the SHA-256 fingerprint to show users."""

    cert_path: Path
    key_path: Path
    fingerprint: str
    generated: bool


def cert_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, colon-separated upper-case hex."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def fingerprint(cert_path: Path) -> str:
    """SHA-256 fingerprint of a PEM certificate file, colon-separated hex."""
    return cert_fingerprint(x509.load_pem_x509_certificate(cert_path.read_bytes()))


def subject_alt_names(names: list[str]) -> list[x509.GeneralName]:
    """Each of ``names`` as an IP address entry when it is one, else a DNS name."""
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    return sans


def generate_self_signed(cert_path: Path, key_path: Path, *, hostnames: list[str]) -> None:
    """Write a P-256 self-signed certificate for ``hostnames`` (names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans = subject_alt_names(hostnames)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lensguard (self-signed)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(key_path, key_bytes)
    # The certificate is public, but everything under var_dir is owner-only.
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def ensure_certificate(settings: Settings) -> Certificate:
    """The configured certificate, or the generated one under ``var_dir`` (made on first use)."""
    enc = settings.security.encryption
    if enc.certificate is not None or enc.key is not None:
        if enc.certificate is None:
            raise ConfigurationError(
                "security.encryption.key is set without .certificate: set both"
            )
        key = enc.key or enc.certificate
        for path in (enc.certificate, key):
            if not path.is_file():
                raise ConfigurationError(f"TLS file {path} does not exist")
        if enc.key is None and b"PRIVATE KEY-----" not in enc.certificate.read_bytes():
            raise ConfigurationError(
                f"security.encryption.certificate {enc.certificate} holds no private key: "
                "set security.encryption.key to the key file, or use a combined PEM"
            )
        return Certificate(enc.certificate, key, fingerprint(enc.certificate), False)
    cert_path = settings.var_dir / CERT_NAME
    key_path = settings.var_dir / KEY_NAME
    generated = False
    if not (cert_path.is_file() and key_path.is_file()):
        names = ["localhost", "127.0.0.1", "::1"]
        host = settings.server.host
        if host not in names and host not in ("0.0.0.0", "::"):  # noqa: S104 - comparison only  # nosec B104
            names.append(host)
        generate_self_signed(cert_path, key_path, hostnames=names)
        generated = True
    return Certificate(cert_path, key_path, fingerprint(cert_path), generated)


def harden(context: ssl.SSLContext, minimum: str) -> None:
    """Refuse versions below ``minimum`` (TLS 1.2 at the least), weak suites, compression."""
    context.minimum_version = MIN_VERSIONS[minimum]
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
