"""Access tokens already verified, kept until they expire so the signature is checked once.

Keyed by the SHA-256 of the whole token (which names its kid): a token that differs in
one byte is another entry and is verified in full. Bounded in entries, least recently
used first out, so a flood of distinct valid tokens cannot grow memory.

A hit is not a pass. ``TokenService.verify_access`` still checks, on every call, that
the token's kid is still a published key (a retired key ends its cached tokens at
once) and the token's times against the service's clock; revocation is checked by the
callers after verification, as for a token verified in full.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lensguard.identity.tokens import AccessClaims

DEFAULT_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Verified:
    claims: AccessClaims
    times: dict[str, Any]
    """The token's exp, iat and nbf, checked again at every hit."""


class VerifiedTokens:
    """An LRU of verified tokens; ``max_entries`` 0 keeps none."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, Verified] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def digest(token: str) -> bytes:
        return hashlib.sha256(token.encode("ascii")).digest()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes) -> Verified | None:
        found = self._entries.get(digest)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(digest)
        self.hits += 1
        return found

    def put(self, digest: bytes, verified: Verified) -> None:
        if self.max_entries == 0:
            return
        self._entries[digest] = verified
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop(self, digest: bytes) -> None:
        self._entries.pop(digest, None)
