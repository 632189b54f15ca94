"""TLS probes of a listening server: legacy versions, weak suites, the certificate."""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from lensguard.hardening.findings import Check, Finding
from lensguard.severity import Severity

TIMEOUT = 5.0
EXPIRY_WARNING_DAYS = 30
# What a probing client may offer: everything OpenSSL still knows, however weak.
ANYTHING = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"

LEGACY = Check(
    "TLS-LEGACY",
    "TLS 1.0 and 1.1 refused",
    Severity.HIGH,
    "accept TLS 1.2 and 1.3 only (security.encryption.tls_min_version; nginx: ssl_protocols)",
    "V12.1.1",
)
SUITES = Check(
    "TLS-SUITES",
    "Only forward-secret AEAD cipher suites",
    Severity.MEDIUM,
    "offer ECDHE with AES-GCM or ChaCha20-Poly1305 only (`lensguard deploy render nginx`)",
    "V12.1.2",
)
CHAIN = Check(
    "TLS-CHAIN",
    "Certificate chain and name verify",
    Severity.HIGH,
    "serve a certificate for this name from a CA the clients trust (--ca-file for a private CA)",
    "V12.2.2",
)
EXPIRY = Check(
    "TLS-EXPIRY",
    f"Certificate valid for more than {EXPIRY_WARNING_DAYS} days",
    Severity.MEDIUM,
    "renew the certificate before it expires",
    "V12.2.2",
)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    ca_file: Path | None = None


def _probe_context(version: ssl.TLSVersion, ciphers: str = ANYTHING) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a probe that must see whatever is offered  # nosec B504
    context.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        context.minimum_version = version
        context.maximum_version = version
    return context


def _handshake(target: Target, context: ssl.SSLContext) -> ssl.SSLSocket | None:
    """The TLS socket when the server accepts what ``context`` offers, else None."""
    raw = socket.create_connection((target.host, target.port), timeout=TIMEOUT)
    try:
        return context.wrap_socket(raw, server_hostname=target.host)
    except (ssl.SSLError, ConnectionError, TimeoutError):
        raw.close()
        return None


def accepts(target: Target, context: ssl.SSLContext) -> bool:
    tls = _handshake(target, context)
    if tls is None:
        return False
    tls.close()
    return True


def legacy(target: Target) -> Finding:
    """Whether TLS 1.0 or 1.1 handshakes succeed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        versions = {"TLS 1.0": ssl.TLSVersion.TLSv1, "TLS 1.1": ssl.TLSVersion.TLSv1_1}
    accepted = [name for name, v in versions.items() if accepts(target, _probe_context(v))]
    if accepted:
        return LEGACY.verdict(False, "accepted: " + ", ".join(accepted))
    return LEGACY.verdict(True, "TLS 1.0 and 1.1 handshakes refused")


def _weak_suites() -> list[str]:
    """TLS 1.2 suites this OpenSSL can offer that lack forward secrecy or AEAD."""
    context = _probe_context(ssl.TLSVersion.TLSv1_2)
    weak = []
    for suite in context.get_ciphers():
        if suite["protocol"] == "TLSv1.3":
            continue  # every TLS 1.3 suite is forward secret and AEAD
        if suite["kea"] not in ("kx-ecdhe", "kx-dhe") or not suite["aead"]:
            weak.append(suite["name"])
    return weak


def suites(target: Target) -> Finding:
    """The suite negotiated by default, and every weak TLS 1.2 suite the server accepts."""
    best = _handshake(target, _default())
    if best is None:
        return SUITES.skipped("no TLS 1.2+ handshake succeeded")
    suite = best.cipher()
    negotiated = f"{best.version()} {suite[0] if suite else '?'}"
    best.close()
    accepted = [
        name
        for name in _weak_suites()
        if accepts(target, _probe_context(ssl.TLSVersion.TLSv1_2, name))
    ]
    if accepted:
        more = f" and {len(accepted) - 5} more" if len(accepted) > 5 else ""
        shown = ", ".join(accepted[:5]) + more
        return SUITES.verdict(False, f"negotiates {negotiated}; also accepts {shown}")
    return SUITES.verdict(True, f"negotiates {negotiated}; no weak TLS 1.2 suite accepted")


def _default() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the chain is judged by ``certificate``  # nosec B504
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def certificate(target: Target, now: datetime) -> list[Finding]:
    """Whether the chain verifies for the host name, and how long the certificate lasts."""
    tls = _handshake(target, _default())
    if tls is None:
        why = "no TLS 1.2+ handshake succeeded"
        return [CHAIN.skipped(why), EXPIRY.skipped(why)]
    der = tls.getpeercert(binary_form=True)
    tls.close()
    if der is None:
        return [CHAIN.verdict(False, "no certificate sent"), EXPIRY.skipped("no certificate")]
    cert = x509.load_der_x509_certificate(der)
    days = (cert.not_valid_after_utc - now.astimezone(UTC)).days
    ends = cert.not_valid_after_utc.date().isoformat()
    expiry = EXPIRY.verdict(days > EXPIRY_WARNING_DAYS, f"expires {ends} ({days} days)")
    verifying = ssl.create_default_context(cafile=str(target.ca_file) if target.ca_file else None)
    try:
        raw = socket.create_connection((target.host, target.port), timeout=TIMEOUT)
        with verifying.wrap_socket(raw, server_hostname=target.host):
            pass
    except ssl.SSLCertVerificationError as exc:
        return [CHAIN.verdict(False, exc.verify_message or str(exc)), expiry]
    trusted = f"the CA in {target.ca_file}" if target.ca_file else "the system's CAs"
    return [CHAIN.verdict(True, f"verifies for {target.host} against {trusted}"), expiry]


def check_tls(target: Target, now: datetime) -> list[Finding]:
    return [legacy(target), suites(target), *certificate(target, now)]
