"""Client messages: each type round-trips; malformed frames get the documented error."""

import json
from typing import Any

import pytest

from lensguard.wire.client import (
    CLIENT_MESSAGES,
    MAX_SDP_BYTES,
    Answer,
    Auth,
    Candidate,
    ClientModel,
    Control,
    ControlArgs,
    ControlRelease,
    ControlTake,
    Leave,
    Offer,
    Publish,
    Reauth,
    Subscribe,
    parse_client_message,
)
from lensguard.wire.closes import Close
from lensguard.wire.frames import MAX_FRAME_BYTES, ProtocolError
from lensguard.wire.kinds import Kind

EXAMPLES: list[ClientModel] = [
    Auth(token="abc"),
    Reauth(token="def"),
    Publish(),
    Subscribe(device_id="dev-1", mode="direct", unredacted=True),
    Offer(to="peer_1", sdp="v=0\r\n"),
    Answer(to="peer_1", sdp="v=0\r\n"),
    Candidate(to="peer_1", candidate="candidate:1 1 udp 1 10.0.0.1 9 typ host", sdp_mid="0"),
    Control(
        device_id="dev-1",
        command="ptz",
        args=ControlArgs(pan=-0.5, tilt=0.25, zoom=1.0),
        seq=7,
    ),
    ControlTake(device_id="dev-1"),
    ControlRelease(device_id="dev-1"),
    Leave(to="peer_1"),
    Leave(),
]


def test_every_client_type_has_an_example() -> None:
    assert {type(m) for m in EXAMPLES} == set(CLIENT_MESSAGES)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: f"{m.type}")
def test_each_client_message_round_trips(message: ClientModel) -> None:
    frame = json.dumps(message.dump())
    assert parse_client_message(frame) == message
    assert json.loads(frame)["type"] in set(Kind)


def test_defaults_are_those_of_the_catalogue() -> None:
    parsed = parse_client_message('{"type":"subscribe","device_id":"dev1"}')
    assert parsed == Subscribe(device_id="dev1", mode="relay", unredacted=False)
    parsed = parse_client_message('{"type":"control","device_id":"d","command":"stop","seq":0}')
    assert isinstance(parsed, Control) and parsed.args == ControlArgs()


def test_builders_write_the_shapes_peers_read() -> None:
    assert Auth(token="t").dump() == {"type": "auth", "token": "t"}
    assert Publish().dump() == {"type": "publish"}
    assert Leave(to="c").dump() == {"type": "leave", "to": "c"}
    assert Answer(to="c", sdp="v=0").dump() == {"type": "answer", "to": "c", "sdp": "v=0"}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "invalid message at message: Invalid JSON: expected ident at line 1 column 2"),
        ("[]", "invalid message at message: Input should be an object"),
        ('{"token":"x"}', "invalid message at message: Unable to extract tag using discriminator"),
        ('{"type":"teleport"}', "invalid message at type: unknown message type"),
        ('{"type":"auth"}', "invalid message at auth.token: Field required"),
        ('{"type":"auth","token":""}', "invalid message at auth.token: String should have at"),
        ('{"type":"auth","token":"x","extra":1}', "invalid message at auth.extra: Extra inputs"),
        ('{"type":"subscribe","device_id":"../etc"}', "invalid message at subscribe.device_id:"),
        ('{"type":"subscribe","device_id":"d","mode":"p2p"}', "invalid message at subscribe.mode:"),
        (
            '{"type":"control","device_id":"d","command":"move","args":{"linear":5},"seq":1}',
            "invalid message at control.args.linear: Input should be less than or equal to 1",
        ),
        (
            '{"type":"control","device_id":"d","command":"ptz","args":{"zoom":-0.1},"seq":1}',
            "invalid message at control.args.zoom: Input should be greater than or equal to 0",
        ),
        (
            '{"type":"control","device_id":"d","command":"self_destruct","seq":1}',
            "invalid message at control.command: Input should be 'move', 'stop' or 'ptz'",
        ),
        (
            '{"type":"control","device_id":"d","command":"stop","seq":-1}',
            "invalid message at control.seq: Input should be greater than or equal to 0",
        ),
        ('{"type":"offer","to":"p","sdp":""}', "invalid message at offer.sdp: String should"),
        (
            json.dumps({"type": "offer", "to": "p", "sdp": "v" * (MAX_SDP_BYTES + 1)}),
            "invalid message at offer.sdp: String should have at most 65536 characters",
        ),
        (
            json.dumps({"type": "candidate", "to": "p", "candidate": "c" * 1025}),
            "invalid message at candidate.candidate: String should have at most 1024 characters",
        ),
        (
            json.dumps({"type": "candidate", "to": "p", "candidate": "", "sdp_mline_index": 65}),
            "invalid message at candidate.sdp_mline_index: Input should be less than or equal",
        ),
        ('{"type":"leave","to":"a b"}', "invalid message at leave.to: String should match"),
    ],
)
def test_malformed_frames_get_the_documented_error(frame: str, reason: str) -> None:
    error = parse_client_message(frame)
    assert isinstance(error, ProtocolError)
    assert error.reason.startswith(reason)
    assert error.close is Close.POLICY_VIOLATION
    assert error.close.value == 1008


def test_an_oversized_frame_is_refused_by_its_size() -> None:
    frame = "x" * (MAX_FRAME_BYTES + 1)
    assert parse_client_message(frame) == ProtocolError(
        f"frame of {MAX_FRAME_BYTES + 1} bytes exceeds {MAX_FRAME_BYTES}"
    )
    assert parse_client_message(frame.encode()) == parse_client_message(frame)


def test_the_size_counts_bytes_not_characters() -> None:
    token = "é" * (MAX_FRAME_BYTES // 2)  # fewer characters than the limit, more bytes
    error = parse_client_message(json.dumps({"type": "auth", "token": token}, ensure_ascii=False))
    assert isinstance(error, ProtocolError) and "exceeds" in error.reason


def test_an_sdp_at_the_limit_fits_in_a_frame() -> None:
    frame = json.dumps({"type": "answer", "to": "p", "sdp": "v" * MAX_SDP_BYTES})
    assert len(frame) <= MAX_FRAME_BYTES
    assert isinstance(parse_client_message(frame), Answer)


@pytest.mark.parametrize("secret", ["hunter2-secret-value"])
def test_errors_never_repeat_the_input(secret: str) -> None:
    frames: list[Any] = [
        json.dumps({"type": "auth", "token": secret, "extra": secret}),
        json.dumps({"type": "subscribe", "device_id": secret + "/"}),
        json.dumps({"type": secret}),
    ]
    for frame in frames:
        error = parse_client_message(frame)
        assert isinstance(error, ProtocolError) and secret not in error.reason
