import ipaddress
import re
from collections.abc import Sequence

import pytest

from lensguard.monitor.alerts.destination import Resolver, check_destination, literal_address
from lensguard.monitor.alerts.errors import UnresolvableDestination
from lensguard.monitor.alerts.webhook import UnsafeDestination

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def answers(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1", "a loopback address"),
        ("http://localhost", "a loopback address"),
        ("http://[::1]", "a loopback address"),
        ("http://2130706433", "a loopback address"),
        ("http://0x7f000001", "a loopback address"),
        ("http://017700000001", "a loopback address"),
        ("http://0x7f.0.0.1", "a loopback address"),
        ("http://0x7f.1", "a loopback address"),
        ("http://127.1", "a loopback address"),
        # httpx itself refuses leading-zero octets, so it cannot reach the wire either.
        ("http://0177.0.0.1", "not a valid URL"),
        ("http://169.254.169.254/latest/meta-data", "a link-local address"),
        ("http://[::ffff:127.0.0.1]", "a loopback (IPv4-mapped) address"),
        ("http://[::ffff:7f00:1]", "a loopback (IPv4-mapped) address"),
        ("http://[::ffff:169.254.169.254]", "a link-local (IPv4-mapped) address"),
        ("http://[::ffff:10.0.0.1]", "a private (IPv4-mapped) address"),
        ("http://[2002:7f00:1::]", "a loopback (embedded in IPv6) address"),
        ("http://[64:ff9b::a00:1]", "a private (embedded in IPv6) address"),
        ("http://10.0.0.1", "a private address"),
        ("http://172.16.5.4", "a private address"),
        ("http://192.168.1.1", "a private address"),
        ("http://[fc00::1]", "a private address"),
        ("http://[fd12:3456::1]", "a private address"),
        ("http://100.64.0.1", "a carrier-grade NAT address"),
        ("http://0.0.0.0", "an unspecified address"),
        ("http://[::]", "an unspecified address"),
        ("http://[fe80::1]", "a link-local address"),
        ("http://224.0.0.1", "a multicast address"),
        ("http://[ff02::1]", "a multicast address"),
        ("http://240.0.0.1", "a reserved address"),
        ("http://192.0.2.1", "a non-public address"),
        ("ftp://example.com", "scheme 'ftp' is not http or https"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("gopher://example.com", "scheme 'gopher' is not http or https"),
        ("http://user:pass@host", "URLs with credentials in them are refused"),
        ("https://user@example.com", "URLs with credentials in them are refused"),
        ("http://:80", "the URL has no host"),
        ("http://example.com:99999", "port 99999 is out of range"),
    ],
)
async def test_check_destination_refuses_unsafe_urls(url: str, reason: str) -> None:
    with pytest.raises(UnsafeDestination) as caught:
        await check_destination(url, allow_private=False)
    assert reason in str(caught.value)


async def test_message_names_host_address_and_fix() -> None:
    with pytest.raises(UnsafeDestination) as caught:
        await check_destination("http://2130706433/x", allow_private=False)
    assert str(caught.value) == (
        "'2130706433' resolves to 127.0.0.1, a loopback address; "
        "set allow_private to send alerts inside the network"
    )


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("example.com", None),
        ("deadbeef", None),
    ],
)
def test_literal_address_reads_every_notation(host: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address else None
    assert literal_address(host) == expected


async def test_every_resolved_address_must_be_public() -> None:
    # One private answer among public ones is enough to refuse: a client may pick any.
    with pytest.raises(
        UnsafeDestination, match=re.escape("resolves to 10.1.2.3, a private address")
    ):
        await check_destination(
            "https://alerts.example.com",
            allow_private=False,
            resolver=answers(PUBLIC_V4, "10.1.2.3"),
        )


async def test_public_names_resolve_to_all_their_addresses() -> None:
    checked = await check_destination(
        "https://alerts.example.com/hook",
        allow_private=False,
        resolver=answers(PUBLIC_V4, PUBLIC_V6),
    )
    assert checked == [ipaddress.ip_address(PUBLIC_V4), ipaddress.ip_address(PUBLIC_V6)]


async def test_allow_private_accepts_internal_addresses() -> None:
    checked = await check_destination("http://127.0.0.1:8080", allow_private=True)
    assert checked == [ipaddress.ip_address("127.0.0.1")]


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    async def nxdomain(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(
        UnresolvableDestination, match=re.escape("cannot resolve 'nowhere.example'")
    ):
        await check_destination("https://nowhere.example", allow_private=True, resolver=nxdomain)
