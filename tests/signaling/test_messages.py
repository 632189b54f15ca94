import json

import pytest

from lensguard.signaling.messages import (
    MAX_FRAME_BYTES,
    MAX_SDP_BYTES,
    Auth,
    Control,
    ProtocolViolation,
    Subscribe,
    parse,
)


def test_valid_messages_parse() -> None:
    assert parse('{"type":"auth","token":"abc"}') == Auth(type="auth", token="abc")
    sub = parse('{"type":"subscribe","device_id":"dev1"}')
    assert isinstance(sub, Subscribe) and sub.mode == "relay"
    ctl = parse('{"type":"control","device_id":"d","command":"move","args":{"linear":0.5},"seq":1}')
    assert isinstance(ctl, Control) and ctl.args.linear == 0.5


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "invalid message"),
        ("[]", "invalid message"),
        ('{"type":"teleport"}', "invalid message"),
        ('{"type":"auth"}', "token"),
        ('{"type":"auth","token":"x","extra":1}', "extra"),
        ('{"type":"subscribe","device_id":"../etc"}', "device_id"),
        (
            '{"type":"control","device_id":"d","command":"move","args":{"linear":5},"seq":1}',
            "linear",
        ),
        ('{"type":"control","device_id":"d","command":"self_destruct","seq":1}', "command"),
        ('{"type":"control","device_id":"d","command":"stop","seq":-1}', "seq"),
        ('{"type":"offer","to":"p","sdp":""}', "sdp"),
        (json.dumps({"type": "offer", "to": "p", "sdp": "v" * (MAX_SDP_BYTES + 1)}), "sdp"),
        ("x" * (MAX_FRAME_BYTES + 1), "exceeds"),
        (json.dumps({"type": "candidate", "to": "p", "candidate": "c" * 2000}), "candidate"),
    ],
)
def test_violations_are_named(frame: str, reason: str) -> None:
    with pytest.raises(ProtocolViolation, match=reason):
        parse(frame)


def test_sdp_at_the_limit_is_accepted() -> None:
    frame = json.dumps({"type": "answer", "to": "p", "sdp": "v" * MAX_SDP_BYTES})
    assert len(frame) <= MAX_FRAME_BYTES
    parse(frame)
