import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from lensguard import __version__
from lensguard.monitor.alerts.errors import DeliveryFailed
from lensguard.monitor.alerts.event import QueuedEvent, SecurityEvent
from lensguard.monitor.alerts.syslog import Format, SyslogSink, cef, rfc5424
from lensguard.settings import Severity
from tests.harness.ports import free_port
from tests.monitor.receivers import SyslogTcpReceiver, SyslogUdpReceiver

WHEN = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
HOSTILE = 'a "quoted" \\ back]slash = pipe| new\nline é'
_HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    rb"(?P<msgid>\S+) (?P<rest>.*)$",
    re.DOTALL,
)


@dataclass
class Parsed:
    pri: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    msg: bytes


def parse_rfc5424(message: bytes) -> Parsed:
    """Parse one RFC 5424 message, structured data by the RFC's escaping rules."""
    match = _HEADER.match(message)
    assert match, message
    rest = match["rest"].decode("utf-8")
    assert rest.startswith("["), "this formatter always sends structured data"
    params: dict[str, str] = {}
    i = rest.index(" ") + 1
    sd_id = rest[1 : i - 1]
    while rest[i] != "]":
        eq = rest.index('="', i)
        name = rest[i:eq]
        i, value = eq + 2, []
        while rest[i] != '"':
            if rest[i] == "\\" and rest[i + 1] in '"\\]':
                i += 1
            value.append(rest[i])
            i += 1
        params[name] = "".join(value)
        i += 1
        if rest[i] == " ":
            i += 1
    assert rest[i + 1] == " "
    msg = rest[i + 2 :].encode("utf-8")
    return Parsed(
        pri=int(match["pri"]),
        timestamp=match["ts"].decode(),
        hostname=match["host"].decode(),
        app=match["app"].decode(),
        procid=match["procid"].decode(),
        msgid=match["msgid"].decode(),
        sd_id=sd_id,
        params=params,
        msg=msg,
    )


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """Split a CEF line into its 7 header fields and its extension, undoing the escapes."""
    header: list[str] = []
    field, i = [], 0
    while len(header) < 7:
        char = line[i]
        if char == "\\":
            field.append(line[i + 1])
            i += 2
            continue
        if char == "|":
            header.append("".join(field))
            field = []
        else:
            field.append(char)
        i += 1
    ext: dict[str, str] = {}
    for match in re.finditer(r"(\w+)=((?:\\.|[^\\])*?)(?= \w+=|$)", line[i:]):
        value = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), match[2])
        ext[match[1]] = value
    return header, ext


@pytest.fixture
def hostile() -> SecurityEvent:
    return SecurityEvent(
        "auth.login_failed",
        Severity.CRITICAL,
        WHEN,
        {"username": HOSTILE, "attempts": 3, "bad key=x": "v"},
    )


def test_rfc5424_structure_parses_back(hostile: SecurityEvent) -> None:
    message = rfc5424(hostile, hostname="cam-gw-1", seq=42)
    parsed = parse_rfc5424(message)
    assert parsed.pri == 10 * 8 + 2  # authpriv, critical
    assert parsed.timestamp == "2025-03-04T05:06:07.891011Z"
    assert parsed.hostname == "cam-gw-1"
    assert parsed.app == "lensguard"
    assert parsed.procid == str(os.getpid())
    assert parsed.msgid == "auth.login_failed"
    assert parsed.sd_id == "lensguard@32473"
    assert parsed.params == {
        "id": hostile.id,
        "severity": "critical",
        "seq": "42",
        "username": HOSTILE,
        "attempts": "3",
        "bad_key_x": "v",
    }
    assert parsed.msg == b"\xef\xbb\xbfauth.login_failed"


@pytest.mark.parametrize(
    ("severity", "pri"),
    [(Severity.LOW, 86), (Severity.MEDIUM, 84), (Severity.HIGH, 83), (Severity.CRITICAL, 82)],
)
def test_rfc5424_pri_from_facility_and_severity(severity: Severity, pri: int) -> None:
    event = SecurityEvent("x", severity, WHEN)
    assert parse_rfc5424(rfc5424(event, hostname="h")).pri == pri
    assert parse_rfc5424(rfc5424(event, hostname="h", facility=4)).pri == pri - 48


def test_rfc5424_header_fields_stay_printable_ascii() -> None:
    event = SecurityEvent("bad name\nwith spaces", Severity.LOW, WHEN)
    parsed = parse_rfc5424(rfc5424(event, hostname="host name", app_name=""))
    assert (parsed.hostname, parsed.app) == ("host_name", "-")
    assert parsed.msgid == "bad_name_with_spaces"


def test_cef_header_and_extension_escaping(hostile: SecurityEvent) -> None:
    event = SecurityEvent("auth|login\\failed", Severity.HIGH, WHEN, hostile.fields, hostile.id)
    line = cef(event, seq=7)
    assert line.startswith(f"CEF:0|lensguard|lensguard|{__version__}|auth\\|login\\\\failed|")
    assert "\n" not in line
    assert 'username=a "quoted" \\\\ back]slash \\= pipe| new\\nline é' in line
    header, ext = parse_cef(line)
    assert header == [
        "CEF:0",
        "lensguard",
        "lensguard",
        __version__,
        "auth|login\\failed",
        "auth|login\\failed",
        "8",
    ]
    assert ext == {
        "rt": str(int(WHEN.timestamp() * 1000)),
        "externalId": hostile.id,
        "cn1": "7",
        "cn1Label": "seq",
        "username": HOSTILE,
        "attempts": "3",
        "bad_key_x": "v",
    }


@pytest.mark.parametrize("fmt", ["rfc5424", "cef"])
async def test_tcp_sink_sends_octet_counted_frames(hostile: SecurityEvent, fmt: Format) -> None:
    async with SyslogTcpReceiver() as receiver:
        sink = SyslogSink("127.0.0.1", receiver.port, transport="tcp", format=fmt)
        try:
            await sink.send(hostile)
            await sink.send_batch([QueuedEvent(1, hostile), QueuedEvent(2, hostile)])
            await receiver.wait_for_frames(3)
        finally:
            await sink.aclose()
    # The newline inside the username did not split a frame: exactly three arrived.
    assert len(receiver.frames) == 3
    assert receiver.frames[0] == sink.render(hostile)
    if fmt == "rfc5424":
        assert [parse_rfc5424(f).params.get("seq") for f in receiver.frames] == [None, "1", "2"]
    else:
        assert b" - CEF:0|lensguard|" in receiver.frames[1]
        assert b"cn1=2 cn1Label=seq" in receiver.frames[2]


async def test_tcp_sink_reconnects_after_the_collector_restarts(hostile: SecurityEvent) -> None:
    port = free_port()
    sink = SyslogSink("127.0.0.1", port, transport="tcp")
    try:
        async with SyslogTcpReceiver(port=port) as first:
            await sink.send(hostile)
            await first.wait_for_frames(1)
        with pytest.raises(DeliveryFailed, match=f"syslog tcp://127.0.0.1:{port}"):
            await sink.send(hostile)
        async with SyslogTcpReceiver(port=port) as second:
            await sink.send(hostile)
            await second.wait_for_frames(1)
    finally:
        await sink.aclose()


async def test_udp_sink_sends_one_datagram_per_event(hostile: SecurityEvent) -> None:
    async with SyslogUdpReceiver() as receiver:
        sink = SyslogSink("127.0.0.1", receiver.port, hostname="gw")
        try:
            await sink.send(hostile)
            await receiver.wait_for_datagrams(1)
        finally:
            await sink.aclose()
    assert parse_rfc5424(receiver.datagrams[0]).params["username"] == HOSTILE
