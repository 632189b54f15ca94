from __future__ import annotations

from importlib import resources

import pytest

from lensguard.errors import ValidationFailed
from lensguard.identity.password_policy import check_password, common_passwords

TOO_SHORT = "password must be at least 12 characters"
TOO_LONG = "password must be at most 128 characters"
COMMON = "password is one of the most commonly used passwords"
USERNAME = "password must not contain the username"
REPEATED = "password must not be one character repeated"


def read_list_file() -> list[str]:
    path = resources.files("lensguard.identity").joinpath("common-passwords.txt")
    return path.read_text("utf-8").splitlines()


LINES = read_list_file()
LONG_COMMON = [p for p in LINES[1:] if len(p) >= 12]


def refusal(password: str, username: str | None = None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        check_password(password, username=username)
    return caught.value


def types_of(exc: ValidationFailed) -> list[str]:
    return [e["type"] for e in exc.extensions["errors"]]


def test_list_file_has_a_header_and_10000_lowercase_entries() -> None:
    assert LINES[0] == "# top 10,000 passwords from zxcvbn's frequency list (MIT licence)"
    entries = LINES[1:]
    assert len(entries) == 10_000
    assert len(set(entries)) == 10_000
    assert all(e and e == e.lower() and e == e.strip() for e in entries)
    assert entries[:2] == ["123456", "password"]


def test_list_is_loaded_once() -> None:
    assert common_passwords() is common_passwords()
    assert common_passwords() == frozenset(LINES[1:])


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Tr0ub4dor&3xy",
        "a" * 11 + "b",
        "héllo wörld ünicode",
    ],
)
def test_acceptable_passwords(password: str) -> None:
    check_password(password, username="ada")


def test_64_and_128_character_passphrases_are_accepted() -> None:
    words = "granite lantern orbit velvet " * 5
    check_password(words[:64], username="ada")
    check_password(words[:128], username="ada")
    check_password(("x" + words)[:128])


def test_129_characters_is_refused_as_too_long_only() -> None:
    exc = refusal("z" + "granite lantern orbit velvet " * 5)
    assert exc.detail == TOO_LONG
    assert exc.extensions == {
        "errors": [{"field": "password", "message": TOO_LONG, "type": "password_too_long"}]
    }


def test_11_characters_is_refused_12_accepted() -> None:
    exc = refusal("qz7!mxv2ptk")
    assert exc.detail == TOO_SHORT
    assert exc.extensions == {
        "errors": [{"field": "password", "message": TOO_SHORT, "type": "password_too_short"}]
    }
    check_password("qz7!mxv2ptkw")


def test_empty_password_is_refused() -> None:
    assert types_of(refusal("")) == ["password_too_short"]


@pytest.mark.parametrize("password", LONG_COMMON)
def test_every_long_enough_common_password_is_refused(password: str) -> None:
    exc = refusal(password)
    assert exc.detail == COMMON
    assert types_of(exc) == ["password_common"]


def test_common_check_ignores_case() -> None:
    assert types_of(refusal(LONG_COMMON[0].upper())) == ["password_common"]


@pytest.mark.parametrize("famous", ["password1234", "qwerty123456", "dragon!!2024"])
def test_famous_passwords_are_refused_with_or_without_padding(famous: str) -> None:
    assert "password_common" in types_of(refusal(famous))


def test_short_common_password_reports_both_rules() -> None:
    exc = refusal("password")
    assert exc.detail == f"{TOO_SHORT}; {COMMON}"
    assert types_of(exc) == ["password_too_short", "password_common"]


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("ada-lovelace-1815", "ada"),
        ("my ADA passphrase", "ada"),
        ("grace.hopper.cobol", "Grace.Hopper.COBOL"),
        ("prefix-operator7-suffix", "Operator7"),
    ],
)
def test_password_containing_the_username_is_refused(password: str, username: str) -> None:
    exc = refusal(password, username=username)
    assert exc.detail == USERNAME
    assert exc.extensions == {
        "errors": [{"field": "password", "message": USERNAME, "type": "password_contains_username"}]
    }


def test_usernames_shorter_than_3_are_not_checked() -> None:
    check_password("al-is-my-nickname", username="al")
    check_password("al-is-my-nickname", username="")
    check_password("al-is-my-nickname", username=None)


@pytest.mark.parametrize("char", ["a", "7", "!", " ", "é"])
def test_one_repeated_character_is_refused(char: str) -> None:
    exc = refusal(char * 20)
    assert exc.detail == REPEATED
    assert types_of(exc) == ["password_repeated_character"]


def test_every_broken_rule_is_listed() -> None:
    exc = refusal("aaaa", username="aaa")
    assert types_of(exc) == [
        "password_too_short",
        "password_contains_username",
        "password_repeated_character",
    ]
    assert exc.detail == f"{TOO_SHORT}; {USERNAME}; {REPEATED}"
    assert all(e["field"] == "password" for e in exc.extensions["errors"])


def test_refusal_never_echoes_the_password() -> None:
    password = "hunter2"
    exc = refusal(password)
    assert password not in str(exc)
    assert password not in repr(exc.extensions)
