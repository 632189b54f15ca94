from __future__ import annotations

import base64
import os
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from lensguard.identity.totp import (
    new_secret,
    provisioning_uri,
    unwrap_secret,
    verify_code,
    wrap_secret,
)
from lensguard.protect.subkeys import Purpose, derive
from lensguard.protect.wrap import UnwrapError

# A fixed seed and instant keep the codes deterministic (no accidental collisions).
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
STEP = 56_666_667
AT = STEP * 30 + 10.5


def code_at(step: int) -> str:
    return pyotp.TOTP(SECRET).at(step * 30)


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = new_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20
    assert new_secret() != secret


def test_provisioning_uri() -> None:
    uri = provisioning_uri(SECRET, username="ada")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/lensguard:ada")
    assert parse_qs(parts.query) == {"secret": [SECRET], "issuer": ["lensguard"]}


def test_provisioning_uri_custom_issuer() -> None:
    uri = provisioning_uri(SECRET, username="ada", issuer="Site A")
    assert uri == f"otpauth://totp/Site%20A:ada?secret={SECRET}&issuer=Site%20A"


def test_current_code_is_accepted_and_returns_its_step() -> None:
    assert verify_code(SECRET, code_at(STEP), at=AT) == STEP


def test_code_with_a_leading_zero_is_accepted() -> None:
    # The step two ahead of STEP yields "072814": codes are strings, not integers.
    assert code_at(STEP + 2) == "072814"
    assert verify_code(SECRET, "072814", at=(STEP + 2) * 30) == STEP + 2


def test_wall_clock_code_is_accepted() -> None:
    secret = new_secret()
    assert verify_code(secret, pyotp.TOTP(secret).now()) is not None


def test_code_with_spaces_is_accepted() -> None:
    code = code_at(STEP)
    assert verify_code(SECRET, f" {code[:3]} {code[3:]} ", at=AT) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_drift_is_accepted(offset: int) -> None:
    assert verify_code(SECRET, code_at(STEP + offset), at=AT) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_more_drift_is_refused(offset: int) -> None:
    assert verify_code(SECRET, code_at(STEP + offset), at=AT) is None


def test_wrong_code_is_refused() -> None:
    valid = {code_at(STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "123456", "999999") if c not in valid)
    assert verify_code(SECRET, wrong, at=AT) is None


def test_code_for_another_secret_is_refused() -> None:
    other = pyotp.TOTP("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").at(STEP * 30)
    assert verify_code(SECRET, other, at=AT) is None


def test_replay_of_the_same_step_is_refused() -> None:
    code = code_at(STEP)
    step = verify_code(SECRET, code, at=AT)
    assert step == STEP
    assert verify_code(SECRET, code, at=AT, last_used_step=step) is None
    assert verify_code(SECRET, code, at=AT + 20, last_used_step=step) is None


def test_earlier_step_is_refused_after_a_later_one() -> None:
    assert verify_code(SECRET, code_at(STEP - 1), at=AT, last_used_step=STEP) is None


def test_next_step_is_accepted_after_the_last_used_one() -> None:
    assert verify_code(SECRET, code_at(STEP + 1), at=AT, last_used_step=STEP) == STEP + 1
    assert verify_code(SECRET, code_at(STEP), at=AT, last_used_step=STEP - 1) == STEP


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "+12345",
        "-12345",
        "12345.",
        "1e5000",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "123456\n",
        "12\t3456",
        "1" * 1000,
    ],
)
def test_malformed_codes_are_refused_without_calling_pyotp(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise AssertionError("pyotp must not be called for a malformed code")

    monkeypatch.setattr(pyotp, "TOTP", refuse)
    assert verify_code(SECRET, code, at=AT) is None


def test_wrap_round_trip() -> None:
    key = derive("a test master secret that is long enough", Purpose.WRAP)
    secret = new_secret()
    wrapped = wrap_secret(key, "user-1", secret)
    assert secret.encode() not in wrapped
    assert unwrap_secret(key, "user-1", wrapped) == secret


def test_wrapped_secret_does_not_unwrap_for_another_user() -> None:
    key = os.urandom(32)
    wrapped = wrap_secret(key, "user-1", new_secret())
    with pytest.raises(UnwrapError, match="does not authenticate"):
        unwrap_secret(key, "user-2", wrapped)


def test_wrapped_secret_does_not_unwrap_under_another_key() -> None:
    wrapped = wrap_secret(os.urandom(32), "user-1", new_secret())
    with pytest.raises(UnwrapError, match="does not authenticate"):
        unwrap_secret(os.urandom(32), "user-1", wrapped)
