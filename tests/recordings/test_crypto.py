"""The STREAM segment format: round trips, random access, and every kind of tampering."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lensguard.recordings.crypto import (
    TAG_BYTES,
    SegmentIntegrityError,
    SegmentReader,
    SegmentWriter,
    decrypt,
    decrypt_stream,
    encrypt,
    parse_header,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CHUNK = 64


def test_round_trip_default_chunks() -> None:
    plaintext = os.urandom(200_000)
    segment = encrypt(KEY, "k1", plaintext)
    assert decrypt(KEY, segment) == plaintext
    assert parse_header(segment).chunk_size == 64 * 1024


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=700), writes=st.integers(min_value=1, max_value=7))
def test_round_trip_any_length_and_write_pattern(data: bytes, writes: int) -> None:
    sink = io.BytesIO()
    writer = SegmentWriter(KEY, "k1", sink, chunk_size=CHUNK)
    step = max(1, len(data) // writes)
    for start in range(0, len(data), step):
        writer.write(data[start : start + step])
    writer.close()
    segment = sink.getvalue()
    assert writer.written == len(segment)
    assert decrypt(KEY, segment) == data
    reader = SegmentReader(KEY, parse_header(segment))
    assert reader.plaintext_size(len(segment)) == len(data)


def test_exact_multiple_of_chunk_ends_with_a_full_last_chunk() -> None:
    segment = encrypt(KEY, "k1", b"x" * (CHUNK * 3), chunk_size=CHUNK)
    reader = SegmentReader(KEY, parse_header(segment))
    assert reader.chunk_count(len(segment)) == 3
    assert decrypt(KEY, segment) == b"x" * (CHUNK * 3)


def test_empty_plaintext_is_one_empty_last_chunk() -> None:
    segment = encrypt(KEY, "k1", b"", chunk_size=CHUNK)
    assert len(segment) == parse_header(segment).size + TAG_BYTES
    assert decrypt(KEY, segment) == b""


def test_random_access_decrypts_one_chunk_alone() -> None:
    plaintext = os.urandom(CHUNK * 5 + 10)
    segment = encrypt(KEY, "k1", plaintext, chunk_size=CHUNK)
    reader = SegmentReader(KEY, parse_header(segment))
    for index in (3, 0, 5):
        offset, length, last = reader.chunk_span(index, len(segment))
        chunk = reader.open_chunk(index, segment[offset : offset + length], last=last)
        assert chunk == plaintext[index * CHUNK : (index + 1) * CHUNK]
    assert reader.chunk_span(5, len(segment))[2] is True
    with pytest.raises(IndexError):
        reader.chunk_span(6, len(segment))


def test_a_chunk_opened_at_another_index_fails() -> None:
    segment = encrypt(KEY, "k1", os.urandom(CHUNK * 3), chunk_size=CHUNK)
    reader = SegmentReader(KEY, parse_header(segment))
    offset, length, _ = reader.chunk_span(1, len(segment))
    with pytest.raises(SegmentIntegrityError, match="chunk 2 does not authenticate"):
        reader.open_chunk(2, segment[offset : offset + length], last=False)


def test_truncation_at_a_chunk_boundary_is_detected() -> None:
    segment = encrypt(KEY, "k1", os.urandom(CHUNK * 4), chunk_size=CHUNK)
    header = parse_header(segment)
    cut = segment[: header.size + 2 * (CHUNK + TAG_BYTES)]
    with pytest.raises(SegmentIntegrityError, match="chunk 1 does not authenticate"):
        decrypt(KEY, cut)


def test_truncation_inside_a_chunk_is_detected() -> None:
    segment = encrypt(KEY, "k1", os.urandom(CHUNK * 4), chunk_size=CHUNK)
    with pytest.raises(SegmentIntegrityError):
        decrypt(KEY, segment[:-5])
    with pytest.raises(SegmentIntegrityError, match="shorter than its header"):
        decrypt(KEY, segment[:10])


def test_reordered_chunks_are_detected() -> None:
    segment = encrypt(KEY, "k1", os.urandom(CHUNK * 3 + 1), chunk_size=CHUNK)
    size = parse_header(segment).size
    stride = CHUNK + TAG_BYTES
    head, body = segment[:size], segment[size:]
    chunks = [body[i : i + stride] for i in range(0, len(body), stride)]
    chunks[0], chunks[1] = chunks[1], chunks[0]
    with pytest.raises(SegmentIntegrityError, match="chunk 0 does not authenticate"):
        decrypt(KEY, head + b"".join(chunks))


def test_every_flipped_byte_is_detected() -> None:
    segment = encrypt(KEY, "k1", os.urandom(CHUNK * 2 + 7), chunk_size=CHUNK)
    for position in range(len(segment)):
        altered = bytearray(segment)
        altered[position] ^= 0x01
        with pytest.raises(SegmentIntegrityError):
            decrypt(KEY, bytes(altered))


def test_wrong_key_is_detected() -> None:
    segment = encrypt(KEY, "k1", b"frames", chunk_size=CHUNK)
    with pytest.raises(SegmentIntegrityError, match="chunk 0 does not authenticate"):
        decrypt(OTHER_KEY, segment)


def test_header_names_the_key_and_refuses_foreign_files() -> None:
    segment = encrypt(KEY, "key-7", b"frames")
    assert parse_header(segment).key_id == "key-7"
    with pytest.raises(SegmentIntegrityError, match="not a lensguard recording segment"):
        parse_header(b"RIFF" + segment[4:])
    with pytest.raises(SegmentIntegrityError, match="version 9 is not supported"):
        parse_header(segment[:4] + b"\x09" + segment[5:])


def test_two_segments_under_one_key_use_different_nonce_prefixes() -> None:
    first, second = encrypt(KEY, "k1", b"a"), encrypt(KEY, "k1", b"a")
    assert parse_header(first).nonce_prefix != parse_header(second).nonce_prefix


def test_stream_decrypt_yields_each_chunk_verified_before_the_next_is_read() -> None:
    plaintext = os.urandom(CHUNK * 3)
    segment = bytearray(encrypt(KEY, "k1", plaintext, chunk_size=CHUNK))
    segment[-1] ^= 0xFF  # only the last chunk is bad
    chunks = decrypt_stream(KEY, io.BytesIO(bytes(segment)))
    assert next(chunks) == plaintext[:CHUNK]
    assert next(chunks) == plaintext[CHUNK : 2 * CHUNK]
    with pytest.raises(SegmentIntegrityError, match="chunk 2"):
        next(chunks)


def test_writer_refuses_bad_keys_and_use_after_close() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SegmentWriter(b"short", "k1", io.BytesIO())
    with pytest.raises(ValueError, match="key id"):
        SegmentWriter(KEY, "bad id\n", io.BytesIO())
    writer = SegmentWriter(KEY, "k1", io.BytesIO())
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
