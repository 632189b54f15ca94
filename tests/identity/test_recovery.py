"""Recovery codes: shape, typing tolerance and keyed hashes bound to their user."""

import pytest

from lensguard.identity import recovery
from lensguard.protect.subkeys import Purpose, derive

KEY = derive("a test master secret that is long enough", Purpose.RECOVERY_CODE)
OTHER_KEY = derive("another master secret, equally long!!!!", Purpose.RECOVERY_CODE)


def test_a_set_is_ten_distinct_codes_with_their_hashes() -> None:
    shown, stored = recovery.new_set(KEY, "user-1")
    assert len(shown) == len(set(shown)) == recovery.COUNT
    assert all(len(code) == 11 and code[5] == "-" for code in shown)
    assert [recovery.hash_code(KEY, "user-1", code) for code in shown] == stored


@pytest.mark.parametrize("typed", ["ABCDE-12345", " abcde 12345 ", "abcde12345", "abcde-I2345"])
def test_case_spacing_and_look_alikes_are_forgiven(typed: str) -> None:
    assert recovery.hash_code(KEY, "u", typed) == recovery.hash_code(KEY, "u", "abcde-12345")


@pytest.mark.parametrize("typed", ["123456", "abcde-1234", "abcde-123456", "abcde-1234u", ""])
def test_what_is_not_shaped_like_a_code_has_no_hash(typed: str) -> None:
    assert recovery.hash_code(KEY, "u", typed) is None


def test_hash_is_bound_to_the_user_and_the_key() -> None:
    mine = recovery.hash_code(KEY, "user-1", "abcde-12345")
    assert mine != recovery.hash_code(KEY, "user-2", "abcde-12345")
    assert mine != recovery.hash_code(OTHER_KEY, "user-1", "abcde-12345")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        recovery.hash_code(b"short", "u", "abcde-12345")
