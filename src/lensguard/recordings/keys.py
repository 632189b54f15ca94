"""Segment data keys, wrapped by versioned key-encryption keys (KEKs).

Every segment gets a random 256-bit data key. Only its wrapped form is stored (in the
segment index): AES-256-GCM under a KEK (``protect/wrap.py``), bound to the key id and
the KEK version, so a wrapped key copied to another row does not unwrap. KEK version
``n`` is derived from the master secret with ``Purpose.RECORDING_KEK`` and version
``n`` (``protect/subkeys.py``).

Rotation re-wraps data keys under the newest KEK: a few dozen bytes per segment, never
the video. Deleting a wrapped key makes its segment unreadable for good
(crypto-shredding): the data key exists nowhere else.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lensguard.protect.subkeys import Purpose, derive
from lensguard.protect.wrap import UnwrapError, unwrap, wrap
from lensguard.recordings.crypto import KEY_BYTES

_AAD_LABEL = b"lensguard/recording-data-key"


class KeyUnavailable(LookupError):
    """Raised when a data key cannot be had: deleted, under an unknown KEK, or altered."""


@dataclass(frozen=True)
class WrappedKey:
    """A segment's data key as stored: its id, the KEK version and the wrapped bytes."""

    key_id: str
    kek_version: int
    wrapped: bytes


def new_key_id() -> str:
    """A random, path-safe id for a new data key."""
    return secrets.token_hex(16)


def _aad(key_id: str, version: int) -> bytes:
    return b"|".join((_AAD_LABEL, key_id.encode("ascii"), str(version).encode()))


class KeyRing:
    """The KEKs this node knows, by version, and the one new keys are wrapped under."""

    def __init__(self, keks: Mapping[int, bytes], *, current: int) -> None:
        if current not in keks:
            raise ValueError("the current KEK version must be one of the known versions")
        for version, kek in keks.items():
            if version < 1 or len(kek) != KEY_BYTES:
                raise ValueError("KEK versions start at 1 and each KEK is 32 bytes")
        self._keks = dict(keks)
        self.current = current

    @classmethod
    def from_secret(
        cls,
        master: str,
        *,
        versions: Iterable[int] = (1,),
        current: int | None = None,
        purpose: Purpose = Purpose.RECORDING_KEK,
    ) -> KeyRing:
        """A ring of the given KEK versions derived from the master secret.

        ``purpose`` is ``RECORDING_RAW_KEK`` for the unredacted stream's own ring.
        """
        known = sorted(set(versions))
        if not known:
            raise ValueError("a key ring needs at least one KEK version")
        keks = {v: derive(master, purpose, version=v) for v in known}
        return cls(keks, current=known[-1] if current is None else current)

    @property
    def versions(self) -> list[int]:
        """The KEK versions this ring can unwrap."""
        return sorted(self._keks)

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        """A fresh random data key and its wrapped form under the current KEK."""
        key = os.urandom(KEY_BYTES)
        key_id = new_key_id()
        return key, self.wrap(key_id, key)

    def wrap(self, key_id: str, key: bytes, *, version: int | None = None) -> WrappedKey:
        """Wrap ``key`` under KEK ``version`` (the current one by default)."""
        use = self.current if version is None else version
        kek = self._keks.get(use)
        if kek is None:
            raise KeyUnavailable(f"KEK version {use} is not known to this node")
        return WrappedKey(key_id, use, wrap(kek, key, aad=_aad(key_id, use)))

    def unwrap(self, wrapped: WrappedKey | None) -> bytes:
        """The data key inside ``wrapped``; raises ``KeyUnavailable`` when it cannot be had."""
        if wrapped is None:
            raise KeyUnavailable("the segment's data key was deleted")
        kek = self._keks.get(wrapped.kek_version)
        if kek is None:
            raise KeyUnavailable(f"KEK version {wrapped.kek_version} is not known to this node")
        try:
            key = unwrap(kek, wrapped.wrapped, aad=_aad(wrapped.key_id, wrapped.kek_version))
        except UnwrapError:
            raise KeyUnavailable(f"data key {wrapped.key_id} does not unwrap") from None
        if len(key) != KEY_BYTES:
            raise KeyUnavailable(f"data key {wrapped.key_id} has the wrong length")
        return key

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """``wrapped`` moved to the current KEK (unchanged when it is already there)."""
        if wrapped.kek_version == self.current:
            return wrapped
        return self.wrap(wrapped.key_id, self.unwrap(wrapped))
