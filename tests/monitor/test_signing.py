import hashlib
import hmac
from collections.abc import Callable

import pytest

from lensguard.monitor.alerts import signing

BODY = b'{"name":"auth.login_failed"}'
NOW = 1_700_000_000


def test_signature_is_stripe_style_hmac_over_timestamp_and_body(secret: bytes) -> None:
    header = signing.sign(secret, BODY, timestamp=NOW)
    expected = hmac.new(secret, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_verify_accepts_a_fresh_signature(secret: bytes) -> None:
    header = signing.sign(secret, BODY, timestamp=NOW)
    assert signing.verify(secret, BODY, header, now=NOW + 10)


@pytest.mark.parametrize(
    ("case", "body", "header_of"),
    [
        ("tampered body", BODY + b" ", lambda s: signing.sign(s, BODY, timestamp=NOW)),
        ("wrong secret", BODY, lambda s: signing.sign(b"x" * 32, BODY, timestamp=NOW)),
        ("replayed later", BODY, lambda s: signing.sign(s, BODY, timestamp=NOW - 301)),
        ("timestamp from the future", BODY, lambda s: signing.sign(s, BODY, timestamp=NOW + 301)),
        (
            "timestamp swapped",
            BODY,
            lambda s: signing.sign(s, BODY, timestamp=NOW - 400).replace(
                f"t={NOW - 400}", f"t={NOW}"
            ),
        ),
        ("no timestamp", BODY, lambda s: signing.sign(s, BODY, timestamp=NOW).split(",")[1]),
        ("no mac", BODY, lambda s: f"t={NOW}"),
        ("garbage", BODY, lambda s: "not a signature"),
    ],
)
def test_verify_rejects_forged_or_replayed(
    secret: bytes, case: str, body: bytes, header_of: Callable[[bytes], str]
) -> None:
    header = header_of(secret)
    assert not signing.verify(secret, body, header, now=NOW), case


def test_verify_accepts_either_secret_while_rotating(secret: bytes) -> None:
    old = signing.sign(b"o" * 32, BODY, timestamp=NOW)
    new = signing.sign(secret, BODY, timestamp=NOW)
    header = f"{new},{old.split(',')[1]}"
    assert signing.verify(secret, BODY, header, now=NOW)
    assert signing.verify(b"o" * 32, BODY, header, now=NOW)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="a webhook secret needs at least 32 bytes"):
        signing.check_secret(b"short")
