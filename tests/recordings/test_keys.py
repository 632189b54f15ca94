"""Segment data keys: wrapping under versioned KEKs, re-wrapping, and what refuses."""

from __future__ import annotations

import pytest

from lensguard.protect.subkeys import Purpose, derive
from lensguard.recordings.crypto import decrypt, encrypt
from lensguard.recordings.keys import KeyRing, KeyUnavailable, WrappedKey

MASTER = "a-master-secret-long-enough-for-these-tests-0123456789"


def test_kek_versions_are_distinct_and_apart_from_the_plain_purpose_key() -> None:
    one = derive(MASTER, Purpose.RECORDING_KEK, version=1)
    two = derive(MASTER, Purpose.RECORDING_KEK, version=2)
    assert len({one, two, derive(MASTER, Purpose.RECORDING_KEK)}) == 3
    with pytest.raises(ValueError, match="start at 1"):
        derive(MASTER, Purpose.RECORDING_KEK, version=0)


def test_new_data_key_unwraps_to_itself() -> None:
    ring = KeyRing.from_secret(MASTER)
    key, wrapped = ring.new_data_key()
    assert wrapped.kek_version == 1
    assert key not in wrapped.wrapped
    assert ring.unwrap(wrapped) == key
    assert ring.new_data_key()[0] != key


def test_rewrap_moves_to_the_new_kek_and_leaves_the_segment_bytes_alone() -> None:
    old = KeyRing.from_secret(MASTER, versions=[1])
    key, wrapped = old.new_data_key()
    segment = encrypt(key, wrapped.key_id, b"video bytes")
    both = KeyRing.from_secret(MASTER, versions=[1, 2])
    moved = both.rewrap(wrapped)
    assert (moved.key_id, moved.kek_version) == (wrapped.key_id, 2)
    assert moved.wrapped != wrapped.wrapped
    new_only = KeyRing.from_secret(MASTER, versions=[2])
    assert decrypt(new_only.unwrap(moved), segment) == b"video bytes"
    with pytest.raises(KeyUnavailable, match="KEK version 1 is not known"):
        new_only.unwrap(wrapped)
    assert both.rewrap(moved) is moved


def test_a_wrapped_key_bound_to_its_id_and_version() -> None:
    ring = KeyRing.from_secret(MASTER, versions=[1, 2], current=1)
    _, wrapped = ring.new_data_key()
    with pytest.raises(KeyUnavailable, match="does not unwrap"):
        ring.unwrap(WrappedKey("another-key", wrapped.kek_version, wrapped.wrapped))
    with pytest.raises(KeyUnavailable, match="does not unwrap"):
        ring.unwrap(WrappedKey(wrapped.key_id, 2, wrapped.wrapped))


def test_another_master_secret_cannot_unwrap() -> None:
    _, wrapped = KeyRing.from_secret(MASTER).new_data_key()
    with pytest.raises(KeyUnavailable, match="does not unwrap"):
        KeyRing.from_secret(MASTER + "x").unwrap(wrapped)


def test_a_deleted_wrapped_key_is_unavailable() -> None:
    with pytest.raises(KeyUnavailable, match="deleted"):
        KeyRing.from_secret(MASTER).unwrap(None)


def test_ring_refuses_unknown_current_version() -> None:
    with pytest.raises(ValueError, match="current KEK"):
        KeyRing.from_secret(MASTER, versions=[1], current=2)
