"""Chunked AES-256-GCM for recording segments: the STREAM construction.

A segment is ``header || chunk_0 || ... || chunk_n``. The header names the format
(magic, version), the chunk size, the id of the segment's data key and a random
7-byte nonce prefix; it is the associated data of every chunk, so none of it can be
changed unnoticed. Chunk ``i`` is AES-256-GCM under the segment's data key with the
nonce ``prefix (7) || i (4, big-endian) || last (1)``: the counter puts each chunk
in its place (a reordered chunk does not authenticate), and the last-chunk flag makes
a cut at a chunk boundary fail instead of passing for a shorter segment.

Every plaintext chunk holds ``chunk_size`` bytes except the last, which holds 0 to
``chunk_size``: so chunk ``i`` starts at ``header_len + i * (chunk_size + 16)`` and
one chunk can be read and verified alone (HTTP Range).

Nonces are never reused: a data key is random and encrypts exactly one segment, and
within a segment the counter only goes up (and stops before it could wrap). The random
prefix is a second guard, for a key handed to two writers by mistake.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"LGRS"
VERSION = 1
KEY_BYTES = 32
TAG_BYTES = 16
PREFIX_BYTES = 7
DEFAULT_CHUNK = 64 * 1024
MAX_CHUNK = 16 * 1024 * 1024
MAX_KEY_ID = 64
MAX_CHUNKS = 2**32
_FIXED = struct.Struct(">4sBI7sB")  # magic, version, chunk size, nonce prefix, key id length
MAX_HEADER = _FIXED.size + MAX_KEY_ID
"""No header is longer: reading this many bytes from the start always holds it."""


class SegmentIntegrityError(ValueError):
    """Raised when a segment is malformed, cut short, reordered, altered or under another key."""


@dataclass(frozen=True)
class Header:
    """The authenticated header at the start of every segment."""

    chunk_size: int
    key_id: str
    nonce_prefix: bytes

    def encode(self) -> bytes:
        """The header's bytes (also the associated data of every chunk)."""
        key_id = self.key_id.encode("ascii")
        fixed = _FIXED.pack(MAGIC, VERSION, self.chunk_size, self.nonce_prefix, len(key_id))
        return fixed + key_id

    @property
    def size(self) -> int:
        """Length of the encoded header in bytes."""
        return _FIXED.size + len(self.key_id)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a segment data key is {KEY_BYTES} bytes")


def _check_key_id(key_id: str) -> None:
    if not key_id or len(key_id) > MAX_KEY_ID or not key_id.isascii() or not key_id.isprintable():
        raise ValueError(f"a key id is 1 to {MAX_KEY_ID} printable ASCII characters")


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_CHUNKS:
        raise ValueError("a segment holds at most 2**32 chunks")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def parse_header(data: bytes) -> Header:
    """The header at the start of ``data`` (which may go on past it)."""
    if len(data) < _FIXED.size:
        raise SegmentIntegrityError("segment is shorter than its header")
    magic, version, chunk_size, prefix, id_len = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise SegmentIntegrityError("not a lensguard recording segment")
    if version != VERSION:
        raise SegmentIntegrityError(f"segment format version {version} is not supported")
    if not 1 <= chunk_size <= MAX_CHUNK or not 1 <= id_len <= MAX_KEY_ID:
        raise SegmentIntegrityError("segment header is malformed")
    raw_id = data[_FIXED.size : _FIXED.size + id_len]
    if len(raw_id) != id_len:
        raise SegmentIntegrityError("segment is shorter than its header")
    try:
        key_id = raw_id.decode("ascii")
    except UnicodeDecodeError:
        raise SegmentIntegrityError("segment header is malformed") from None
    return Header(chunk_size=chunk_size, key_id=key_id, nonce_prefix=prefix)


def read_header(source: BinaryIO) -> Header:
    """Read and parse the header from the start of a binary stream."""
    fixed = source.read(_FIXED.size)
    if len(fixed) < _FIXED.size:
        raise SegmentIntegrityError("segment is shorter than its header")
    id_len = fixed[-1]
    return parse_header(fixed + source.read(id_len))


class SegmentWriter:
    """Encrypts a segment as it is written: ``write`` plaintext, then ``close`` once."""

    def __init__(
        self, key: bytes, key_id: str, sink: BinaryIO, *, chunk_size: int = DEFAULT_CHUNK
    ) -> None:
        _check_key(key)
        _check_key_id(key_id)
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk_size must be 1 to {MAX_CHUNK} bytes")
        self.header = Header(chunk_size, key_id, os.urandom(PREFIX_BYTES))
        self._aad = self.header.encode()
        self._aead = AESGCM(key)
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self.written = len(self._aad)
        """Ciphertext bytes handed to the sink so far."""
        sink.write(self._aad)

    def _emit(self, plaintext: bytes | memoryview, *, last: bool) -> None:
        nonce = _nonce(self.header.nonce_prefix, self._index, last)
        chunk = self._aead.encrypt(nonce, plaintext, self._aad)
        self._sink.write(chunk)
        self.written += len(chunk)
        self._index += 1

    def write(self, data: bytes) -> None:
        """Encrypt ``data``; full chunks go to the sink at once."""
        if self._closed:
            raise ValueError("segment writer is closed")
        size = self.header.chunk_size
        view = memoryview(data)
        # Keep at least one byte back: only close() knows which chunk is the last.
        if self._buffer and len(self._buffer) + len(view) > size:
            take = size - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            self._emit(bytes(self._buffer), last=False)
            self._buffer.clear()
        while len(view) > size:  # whole chunks straight from the caller's bytes
            self._emit(view[:size], last=False)
            view = view[size:]
        self._buffer += view

    def close(self) -> None:
        """Write the last chunk (possibly empty). Does not close the sink."""
        if self._closed:
            return
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._closed = True


def encrypt(key: bytes, key_id: str, plaintext: bytes, *, chunk_size: int = DEFAULT_CHUNK) -> bytes:
    """A whole segment for ``plaintext`` (for small inputs and tests)."""
    sink = io.BytesIO()
    writer = SegmentWriter(key, key_id, sink, chunk_size=chunk_size)
    writer.write(plaintext)
    writer.close()
    return sink.getvalue()


class SegmentReader:
    """Decrypts chunks of one segment; every chunk is verified before it is returned."""

    def __init__(self, key: bytes, header: Header) -> None:
        _check_key(key)
        self.header = header
        self._aad = header.encode()
        self._aead = AESGCM(key)

    @property
    def stride(self) -> int:
        """Bytes of one full ciphertext chunk."""
        return self.header.chunk_size + TAG_BYTES

    def chunk_count(self, total_size: int) -> int:
        """How many chunks a stored segment of ``total_size`` bytes holds."""
        body = total_size - self.header.size
        if body < TAG_BYTES:
            raise SegmentIntegrityError("segment is cut short")
        return -(-body // self.stride)

    def plaintext_size(self, total_size: int) -> int:
        """The plaintext length of a stored segment of ``total_size`` bytes."""
        body = total_size - self.header.size
        return body - self.chunk_count(total_size) * TAG_BYTES

    def chunk_span(self, index: int, total_size: int) -> tuple[int, int, bool]:
        """Where ciphertext chunk ``index`` lies: (offset, length, is_last)."""
        count = self.chunk_count(total_size)
        if not 0 <= index < count:
            raise IndexError("chunk index out of range")
        offset = self.header.size + index * self.stride
        last = index == count - 1
        length = total_size - offset if last else self.stride
        return offset, length, last

    def open_chunk(self, index: int, chunk: bytes, *, last: bool) -> bytes:
        """Verify and decrypt ciphertext chunk ``index``."""
        if (
            len(chunk) < TAG_BYTES
            or len(chunk) > self.stride
            or (not last and len(chunk) != self.stride)
        ):
            raise SegmentIntegrityError(f"chunk {index} has the wrong length")
        try:
            return self._aead.decrypt(
                _nonce(self.header.nonce_prefix, index, last), chunk, self._aad
            )
        except InvalidTag:
            raise SegmentIntegrityError(
                f"chunk {index} does not authenticate (altered, moved, cut or another key)"
            ) from None

    def iter_stream(self, source: BinaryIO) -> Iterator[bytes]:
        """Plaintext chunks from ``source`` positioned just after the header."""
        index = 0
        current = source.read(self.stride)
        while True:
            if len(current) < TAG_BYTES:
                raise SegmentIntegrityError("segment is cut short")
            following = source.read(self.stride) if len(current) == self.stride else b""
            last = not following
            yield self.open_chunk(index, current, last=last)
            if last:
                return
            current = following
            index += 1


def decrypt_stream(key: bytes, source: BinaryIO) -> Iterator[bytes]:
    """Verified plaintext chunks of the segment read from ``source``."""
    header = read_header(source)
    return SegmentReader(key, header).iter_stream(source)


def decrypt(key: bytes, segment: bytes) -> bytes:
    """The whole plaintext of ``segment``; raises ``SegmentIntegrityError`` on any fault."""
    return b"".join(decrypt_stream(key, io.BytesIO(segment)))
