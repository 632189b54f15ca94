"""Server messages: every builder's output parses as its catalogue entry and back."""

import json
from typing import Any

import pytest
from pydantic import BaseModel

from lensguard.wire import pairing, server
from lensguard.wire.client import Answer, Candidate, Offer
from lensguard.wire.frames import ProtocolError
from lensguard.wire.kinds import Kind, kind_of
from lensguard.wire.server import SERVER_MESSAGES, ErrorCode, parse_server_message

ADA = server.principal_info("user", "u-1", "ada")
SENDER = {"kind": "user", "id": "u-1", "name": "ada", "connection": "c-ada"}
POSE = {"pan": -0.5, "tilt": 0.25, "zoom": 1.0}
ITEM = {"box": [10, 20, 30, 40], "label": "face", "score": 0.875}

BUILT: list[tuple[dict[str, Any], type[BaseModel]]] = [
    (server.ready("conn1", ADA), server.Ready),
    (server.reauthed(1_900_000_000), server.Reauthed),
    (server.reauthed(None), server.Reauthed),
    (server.published("dev-1"), server.Published),
    (server.settings(800_000, "640x480"), server.Settings),
    (server.settings(800_000, None), server.Settings),
    (server.viewer("conn1", "direct", ADA), server.Viewer),
    (server.subscribed("dev-1", "relay-x"), server.Subscribed),
    (server.offer_from("conn1", "v=0\r\n"), server.OfferFrom),
    (server.answer_from("conn1", "v=0\r\n"), server.AnswerFrom),
    (
        server.forwarded(Candidate(to="c2", candidate="candidate:1", sdp_mline_index=0), "c1"),
        server.CandidateFrom,
    ),
    (server.control_from(SENDER, "move", {"linear": 0.5}, 3), server.ControlFrom),
    (server.leave_from("conn1"), server.LeaveFrom),
    (server.error(ErrorCode.NOT_FOUND, "no such device"), server.Error),
    (server.error(ErrorCode.LOCKED, "ada is driving", holder=SENDER), server.Error),
    (server.control_holder("dev-1", SENDER, "claimed"), server.ControlHolder),
    (server.control_holder("dev-1", None, "expired"), server.ControlHolder),
    (
        server.control_holder("dev-1", SENDER, "taken", previous=SENDER | {"name": "bo"}),
        server.ControlHolder,
    ),
    (server.camera_pose("dev-1", POSE, "current"), server.CameraPose),
    (server.camera_pose("dev-1", POSE, "moved", by=SENDER), server.CameraPose),
    (server.detections("dev-1", 9000, [ITEM]) | {"from": "media-x"}, server.Detections),
    (server.detections("dev-1", None, []) | {"from": "media-x"}, server.Detections),
    (server.redaction_started("dev-1", "g-1", "2026-12-04T18:00:00+00:00"), server.Redaction),
    (server.redaction_ended("dev-1", "g-1", "expired"), server.Redaction),
]


def test_every_server_type_is_built() -> None:
    assert {model for _, model in BUILT} == set(SERVER_MESSAGES)


@pytest.mark.parametrize(("message", "model"), BUILT, ids=lambda v: str(getattr(v, "__name__", "")))
def test_each_server_message_round_trips(message: dict[str, Any], model: type[BaseModel]) -> None:
    parsed = parse_server_message(json.dumps(message))
    assert type(parsed) is model
    assert isinstance(parsed, BaseModel)
    assert parsed.model_dump(by_alias=True, exclude_unset=True) == message
    assert kind_of(message) == parsed.type


def test_forwarding_sets_from_and_drops_to() -> None:
    assert server.forwarded(Offer(to="b", sdp="v=0"), "a") == server.offer_from("a", "v=0")
    assert server.forwarded(Answer(to="b", sdp="v=0"), "a") == server.answer_from("a", "v=0")
    relayed = server.forwarded(Candidate(to="b", candidate=""), "a")
    assert relayed == {
        "type": "candidate",
        "from": "a",
        "candidate": "",
        "sdp_mid": None,
        "sdp_mline_index": None,
    }


def test_settings_leave_out_an_unset_resolution() -> None:
    assert server.settings(500_000, None) == {"type": "settings", "bitrate": 500_000}


def test_receivers_ignore_fields_a_newer_server_adds() -> None:
    parsed = parse_server_message(json.dumps(server.published("d") | {"site": "s"}))
    assert parsed == server.Published(type="published", device_id="d")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "ready", "id": "c"}, "invalid message at ready.principal: Field required"),
        ({"type": "joined", "from": "c"}, "invalid message at type: unknown message type"),
        (
            server.control_from(SENDER | {"name": ""}, "move", {}, 1),
            "invalid message at control.from.name: String should have at least 1 character",
        ),
        (
            server.control_from(SENDER, "move", {"linear": float("nan")}, 1),
            "invalid message at control.args.linear: Input should be a finite number",
        ),
        (
            server.detections("d", 1, [ITEM | {"box": [1, 2, 3]}]) | {"from": "m"},
            "invalid message at detections.items.0.box: "
            "List should have at least 4 items after validation, not 3",
        ),
        (
            server.settings(0, None),
            "invalid message at settings.bitrate: Input should be greater than 0",
        ),
    ],
)
def test_malformed_server_messages_are_refused(message: dict[str, Any], reason: str) -> None:
    error = parse_server_message(json.dumps(message))
    assert error == ProtocolError(reason)


def test_the_pairing_messages_parse_as_their_models() -> None:
    join = pairing.join("relay-x", "relay", ADA)
    assert pairing.Join.model_validate(join).model_dump(by_alias=True) == join
    joined = pairing.joined("conn-dev", "dev-1")
    assert pairing.Joined.model_validate(joined).model_dump(by_alias=True) == joined
    assert (kind_of(join), kind_of(joined)) == (Kind.JOIN, Kind.JOINED)


@pytest.mark.parametrize("value", [None, [], "leave", {"type": 3}, {"type": "teleport"}, {}])
def test_kind_of_is_none_for_anything_without_a_known_type(value: object) -> None:
    assert kind_of(value) is None
