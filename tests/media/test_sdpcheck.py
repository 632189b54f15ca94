"""Remote SDP checks: every media section must be authenticated by a DTLS fingerprint."""

from __future__ import annotations

import re

import pytest

from lensguard.media.sdpcheck import InvalidSdp, check_remote_sdp
from tests.harness.ice import sample_offer


def without(sdp: str, prefix: str) -> str:
    return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith(prefix))


async def test_a_real_offer_passes() -> None:
    check_remote_sdp(await sample_offer())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda sdp: without(sdp, "a=fingerprint:"),
            "media section 0 has no DTLS fingerprint (a=fingerprint with sha-256, sha-384, "
            "sha-512)",
        ),
        (
            lambda sdp: re.sub(r"a=fingerprint:sha-\d+", "a=fingerprint:sha-1", sdp),
            "media section 0 has no DTLS fingerprint (a=fingerprint with sha-256, sha-384, "
            "sha-512)",
        ),
        (lambda sdp: without(sdp, "a=setup:"), "media section 0 has no DTLS role (a=setup)"),
        (
            lambda sdp: without(sdp, "a=ice-pwd:"),
            "media section 0 has no ICE credentials (a=ice-ufrag, a=ice-pwd)",
        ),
        (lambda sdp: sdp.split("m=")[0], "the SDP has no media section"),
        (lambda sdp: "v=0 offer", "the SDP could not be parsed"),
        (lambda sdp: sdp.replace("a=setup:actpass", "a=setup:sideways"), "could not be parsed"),
    ],
)
async def test_unusable_sdp_is_refused_by_exact_message(change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidSdp) as refused:
        check_remote_sdp(change(await sample_offer()))
    assert message in str(refused.value)
