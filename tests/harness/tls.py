"""Certificates made by the tests, and PostgreSQL / Redis servers that speak TLS with them.

The server certificate names ``localhost`` only, so connecting to ``127.0.0.1`` is a
hostname mismatch under verify-full while the chain itself is fine.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.harness.ports import free_port, wait_for_port
from tests.harness.services import Server, _pg_bin, init_cluster, run_cluster

_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Pki:
    """A CA, a second unrelated CA, a server pair for ``localhost``, a client pair."""

    ca: Path
    other_ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _ca(common: str, path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    common: str,
    *,
    server: bool,
    cert_path: Path,
    key_path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[1].public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    cert = builder.sign(ca[1], hashes.SHA256())
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)


def make_pki(directory: Path) -> Pki:
    """Write a fresh CA, server and client certificates under ``directory``."""
    ca = _ca("lensguard test CA", directory / "ca.pem")
    _ca("unrelated CA", directory / "other-ca.pem")
    pki = Pki(
        ca=directory / "ca.pem",
        other_ca=directory / "other-ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
    )
    _leaf(ca, "localhost", server=True, cert_path=pki.server_cert, key_path=pki.server_key)
    _leaf(ca, "certuser", server=False, cert_path=pki.client_cert, key_path=pki.client_key)
    return pki


def pg_available() -> bool:
    """True when initdb and postgres can be found."""
    try:
        _pg_bin("initdb")
        _pg_bin("postgres")
    except RuntimeError:
        return False
    return True


PG_HBA = """\
hostssl all certuser 127.0.0.1/32 trust clientcert=verify-ca
hostssl all certuser ::1/128 trust clientcert=verify-ca
hostssl all all 127.0.0.1/32 trust
hostssl all all ::1/128 trust
"""


def start_tls_postgres(pki: Pki) -> Server:
    """A throwaway cluster that accepts only TLS; user ``certuser`` needs a client cert."""
    cluster = init_cluster("lg-pgtls-")
    certs = cluster.workdir / "certs"
    certs.mkdir()
    for source in (pki.ca, pki.server_cert, pki.server_key):
        shutil.copy(source, certs / source.name)
    (certs / pki.server_key.name).chmod(0o600)
    hba = certs / "pg_hba.conf"
    hba.write_text(PG_HBA, encoding="utf-8")
    cluster.own(certs, *certs.iterdir())
    settings = {
        "listen_addresses": "127.0.0.1,::1",
        "ssl": "on",
        "ssl_cert_file": str(certs / pki.server_cert.name),
        "ssl_key_file": str(certs / pki.server_key.name),
        "ssl_ca_file": str(certs / pki.ca.name),
        "hba_file": str(hba),
        "fsync": "off",
    }
    return run_cluster(cluster, settings, "postgresql+asyncpg://postgres@localhost:{port}/postgres")


def start_tls_redis(pki: Pki) -> Server:
    """redis-server on a TLS port only, demanding a client certificate."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed; `apt-get install redis-server`")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(pki.server_cert),
            "--tls-key-file",
            str(pki.server_key),
            "--tls-ca-cert-file",
            str(pki.ca),
            "--tls-auth-clients",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(f"redis://localhost:{port}/0", process)
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        server.stop()
        raise
    return server
