"""Checks on a remote session description before any aiortc peer applies it.

aiortc stops an SDP without a DTLS fingerprint only with an ``assert`` deep in its
DTLS transport, after the answer has gone out (and not at all under ``python -O``),
and one without ``a=setup`` fails with an AttributeError. Signaling refuses such
descriptions with an ``invalid_sdp`` error, and the relay and agent check again
before applying one.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

FINGERPRINT_ALGORITHMS = ("sha-256", "sha-384", "sha-512")
"""What aiortc can verify a peer's DTLS certificate with."""


class InvalidSdp(ValueError):
    """Raised when a remote SDP is unusable or unsafe; its message quotes nothing of it."""


def check_remote_sdp(sdp: str) -> None:
    """Raise InvalidSdp unless every media section can be authenticated with DTLS."""
    try:
        description = SessionDescription.parse(sdp)
    except Exception:
        # aiortc's parser signals bad input with asserts, ValueError, KeyError, ...
        raise InvalidSdp("the SDP could not be parsed") from None
    if not description.media:
        raise InvalidSdp("the SDP has no media section")
    for index, media in enumerate(description.media):
        where = f"media section {index}"
        if media.dtls is None:
            raise InvalidSdp(f"{where} has no DTLS role (a=setup)")
        if not any(f.algorithm.lower() in FINGERPRINT_ALGORITHMS for f in media.dtls.fingerprints):
            raise InvalidSdp(
                f"{where} has no DTLS fingerprint (a=fingerprint with "
                f"{', '.join(FINGERPRINT_ALGORITHMS)})"
            )
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise InvalidSdp(f"{where} has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
