import pytest

from lensguard.guard.client import client_address, parse_networks

TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def scope(peer: str, xff: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
    return {"type": "http", "client": (peer, 5000), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("203.0.113.9", None, TRUSTED, "203.0.113.9"),
        # An untrusted peer cannot choose its address by sending the header.
        ("203.0.113.9", "1.2.3.4", TRUSTED, "203.0.113.9"),
        ("10.1.1.1", "198.51.100.4", TRUSTED, "198.51.100.4"),
        # Spoofed left-most entries are ignored: the first untrusted hop from the right wins.
        ("10.1.1.1", "6.6.6.6, 198.51.100.4, 10.2.2.2", TRUSTED, "198.51.100.4"),
        ("10.1.1.1", "not-an-ip", TRUSTED, "10.1.1.1"),
        ("10.1.1.1", "198.51.100.4", (), "10.1.1.1"),
        ("127.0.0.1", "", TRUSTED, "127.0.0.1"),
    ],
)
def test_client_address(
    peer: str, xff: str | None, trusted: tuple[object, ...], expected: str
) -> None:
    assert client_address(scope(peer, xff), trusted) == expected  # type: ignore[arg-type]


def test_bad_trusted_proxy_entry_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_networks(["not-a-network"])
