"""Say what went wrong with TLS, and how to fix it, instead of a bare exception name."""

from __future__ import annotations

import ssl

FIX = (
    "pass --ca-file with the CA that signed the server's certificate (for the embedded "
    "self-signed certificate: the server's var/tls-cert.pem; docs/agent.md)"
)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def tls_problem(exc: BaseException) -> str | None:
    """A sentence naming the TLS failure in ``exc`` (or its causes), else None."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            what = getattr(cause, "verify_message", None) or "certificate verify failed"
            return f"TLS: the server's certificate was not accepted ({what}); {FIX}"
        if isinstance(cause, ssl.SSLError):
            what = getattr(cause, "reason", None) or str(cause)[:120]
            return f"TLS: the handshake with the server failed ({what})"
    return None
