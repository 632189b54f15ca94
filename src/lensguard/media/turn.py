"""TURN: coturn REST-API ephemeral credentials, ICE server lists, and a connect timeout.

coturn (``use-auth-secret``) accepts a username ``<expiry-unix-ts>:<id>`` whose
password is ``base64(HMAC-SHA1(static-auth-secret, username))``. Nothing is stored:
the server that shares the secret can check every credential, and each one dies at
its expiry, so a leaked credential is worth minutes of relay, not an account.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDtlsTransport, RTCPeerConnection
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lensguard.errors import ConfigurationError
from lensguard.protect.subkeys import SALT
from lensguard.settings import Settings, TurnSettings, weakness

MAX_TTL = 3_600
"""Longest credential lifetime we ever mint (seconds), whatever the settings say."""
DEV_SECRET_LABEL = b"turn-static-auth-secret"
"""HKDF label of the dev-mode static-auth-secret derived from secret_key."""


class IceConnectTimeout(TimeoutError):
    """Raised when a peer connection fails or does not reach ``connected`` in time."""


class TurnAuthFailed(IceConnectTimeout):
    """Raised when a relay-only connection fails: most likely TURN refused the credential."""


@dataclass(frozen=True)
class TurnCredential:
    """One ephemeral TURN credential."""

    username: str
    password: str
    expires_at: int


def sign(secret: str, username: str) -> str:
    """coturn's REST-API password for ``username``: base64 of HMAC-SHA1 with the shared secret."""
    # SHA-1 is what coturn's REST scheme specifies; as an HMAC it is still sound.
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def mint_credential(
    secret: str, principal_id: str, *, ttl: int, now: float | None = None
) -> TurnCredential:
    """A credential for ``principal_id`` valid ``ttl`` seconds (at most ``MAX_TTL``)."""
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    if not principal_id or ":" in principal_id:
        # coturn splits the username at the first colon: the id must not hold one.
        raise ValueError("principal id must be non-empty and contain no ':'")
    expires_at = int(time.time() if now is None else now) + min(ttl, MAX_TTL)
    username = f"{expires_at}:{principal_id}"
    return TurnCredential(username=username, password=sign(secret, username), expires_at=expires_at)


def ice_servers(turn: TurnSettings, credential: TurnCredential | None) -> list[dict[str, Any]]:
    """The ``iceServers`` list for a client: TURN with the credential, then plain STUN."""
    servers: list[dict[str, Any]] = []
    if turn.urls and credential is not None:
        servers.append(
            {
                "urls": list(turn.urls),
                "username": credential.username,
                "credential": credential.password,
            }
        )
    if turn.stun_urls:
        servers.append({"urls": list(turn.stun_urls)})
    return servers


def _dev_secret(master: str) -> str:
    # Derived, not random, so `lensguard turn config` renders the same secret the server uses.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=DEV_SECRET_LABEL)
    return base64.urlsafe_b64encode(hkdf.derive(master.encode("utf-8"))).decode("ascii")


def check_turn_settings(settings: Settings) -> None:
    """Refuse enabled TURN without a strong static-auth-secret outside dev mode."""
    turn = settings.turn
    if not turn.enabled or settings.is_dev:
        return
    fix = (
        "generate one with `lensguard secret generate` and set it as "
        "LENSGUARD_TURN__STATIC_AUTH_SECRET (and as coturn's static-auth-secret)"
    )
    if turn.static_auth_secret is None:
        raise ConfigurationError(f"turn.static_auth_secret is not set and TURN is enabled: {fix}")
    reason = weakness(turn.static_auth_secret.get_secret_value())
    if reason is not None:
        raise ConfigurationError(f"turn.static_auth_secret is unfit because {reason}: {fix}")
    if not turn.urls:
        raise ConfigurationError("turn.urls is empty and TURN is enabled: list your turn: URLs")


def turn_secret(settings: Settings) -> str:
    """The static-auth-secret in force: configured, or (dev only) derived from secret_key."""
    check_turn_settings(settings)
    if settings.turn.static_auth_secret is not None:
        return settings.turn.static_auth_secret.get_secret_value()
    if settings.is_dev and settings.secret_key is not None:
        return _dev_secret(settings.secret_key.get_secret_value())
    raise ConfigurationError(
        "turn.static_auth_secret is not set: generate one with `lensguard secret generate` "
        "and set it as LENSGUARD_TURN__STATIC_AUTH_SECRET"
    )


def _local_candidate_types(pc: RTCPeerConnection) -> list[str]:
    """Types of every local ICE candidate the connection gathered (public aiortc API)."""
    transports: list[RTCDtlsTransport | None] = [t.sender.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    seen: set[int] = set()
    kinds: list[str] = []
    for dtls in transports:
        if dtls is None or id(dtls.transport) in seen:
            continue
        seen.add(id(dtls.transport))
        kinds += [c.type for c in dtls.transport.iceGatherer.getLocalCandidates()]
    return kinds


def _failure(pc: RTCPeerConnection, timeout: float, why: str) -> IceConnectTimeout:
    kinds = _local_candidate_types(pc)
    if not kinds:
        # Relay-only gathering that produced nothing: the allocation was refused.
        return TurnAuthFailed(
            f"peer connection {why}: no relay candidate was allocated; the TURN server "
            "most likely refused the credential (wrong static-auth-secret or expired "
            "username) or is unreachable"
        )
    if all(kind == "relay" for kind in kinds):
        return TurnAuthFailed(
            f"peer connection {why} over TURN only: check the TURN credential "
            "(static-auth-secret, expiry) and that coturn may relay to the peer"
        )
    return IceConnectTimeout(f"peer connection {why} (state {pc.connectionState})")


# The timeout is a parameter (not asyncio.timeout around the call) so the error can name it.
async def wait_connected(pc: RTCPeerConnection, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until the aiortc ``pc`` is connected; raise a clear error if it fails or times out.

    aiortc raises nothing when TURN answers 401: gathering just yields no relay
    candidate and ICE never succeeds, so the error names TURN authentication.
    """
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_change() -> None:
        state = pc.connectionState
        if state in ("connected", "failed", "closed") and not done.done():
            done.set_result(state)

    pc.on("connectionstatechange", on_change)
    try:
        on_change()
        try:
            state = await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise _failure(pc, timeout, f"did not connect within {timeout:g} s") from None
        if state != "connected":
            raise _failure(pc, timeout, f"ended in state {state}")
    finally:
        pc.remove_listener("connectionstatechange", on_change)
