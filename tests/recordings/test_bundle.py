"""Evidence bundles checked offline: a good one passes, a changed byte anywhere is named.

The bundle is built by ``write_bundle`` around a real clip (libvpx VP8 remuxed by
``build_clip``); ``check_bundle`` and the ``lensguard evidence verify`` command (a
child process, no settings, no database) check it with only the public key.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lensguard.identity.signing_keys import public_jwk
from lensguard.recordings.bundle import (
    CLIP,
    CUSTODY,
    MANIFEST,
    MEMBERS,
    README,
    SIGNATURE,
    canonical_json,
    sha256_hex,
    statement,
    write_bundle,
)
from lensguard.recordings.bundle_check import check_bundle
from lensguard.recordings.clip import ClipSource, build_clip
from lensguard.recordings.index import GENESIS, link
from lensguard.recordings.models import RecordingSegment
from lensguard.recordings.readme import readme_text
from tests.recordings.recorded import at, segments_of
from tests.recordings.vp8 import encode

KID = "evidence-test-key"
KEY = Ed25519PrivateKey.generate()


def listed(rows: list[RecordingSegment]) -> list[dict[str, Any]]:
    """Segment rows as a manifest lists them."""
    return [
        {
            "id": row.id,
            "recording_id": row.recording_id,
            "seq": row.seq,
            "kind": row.kind,
            "start": row.started_at.isoformat(timespec="microseconds"),
            "end": row.ended_at.isoformat(timespec="microseconds"),
            "stored_bytes": row.size,
            "stored_sha256": row.digest,
            "key_id": row.key_id,
            "prev_link": row.prev_digest,
            "link": link(row),
        }
        for row in rows
    ]


def chained(count: int) -> list[RecordingSegment]:
    rows: list[RecordingSegment] = []
    for seq in range(count):
        rows.append(
            RecordingSegment(
                id=f"s{seq}",
                recording_id="r",
                seq=seq,
                device_id="dev-1",
                stream="processed",
                started_at=at(seq * 1000),
                ended_at=at((seq + 1) * 1000),
                size=1000 + seq,
                key_id="k",
                digest=sha256_hex(bytes([seq])),
                prev_digest=link(rows[-1]) if rows else GENESIS,
                kind="continuous",
            )
        )
    return rows


def files(*, anchored: bool = True, head: str | None = None) -> dict[str, bytes]:
    segments = segments_of(encode(60, keyframes=(0, 30)), per=30, start=at(0))
    clip = build_clip([ClipSource(s.start, s.data) for s in segments], at(0), at(2000))
    rows = chained(2)
    anchor = {"segments": 2, "head": head or link(rows[-1]), "sealed": True, "audit_seq": 8}
    manifest = {
        "device_id": "dev-1",
        "stream": "processed",
        "clip": {"sha256": sha256_hex(clip.data), "bytes": len(clip.data)},
        "segments": listed(rows),
        "recordings": [{"recording_id": "r", "anchor": anchor}],
    }
    entries: list[dict[str, Any]] = [{"seq": 7, "prev_hash": "1" * 64, "entry_hash": "2" * 64}]
    if anchored:
        entries.append(
            {
                "seq": 8,
                "action": "recording.anchored",
                "resource_id": "r",
                "details": {"head": anchor["head"]},
                "prev_hash": "2" * 64,
                "entry_hash": "3" * 64,
            }
        )
    return {
        CLIP: clip.data,
        MANIFEST: canonical_json(manifest),
        CUSTODY: canonical_json({"entries": entries}),
        README: readme_text(export_id="x1", kid=KID).encode(),
    }


@pytest.fixture(scope="module")
def contents() -> dict[str, bytes]:
    return files()


@pytest.fixture(scope="module")
def bundle(contents: dict[str, bytes]) -> bytes:
    return write_bundle(contents, kid=KID, private_key=KEY)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def flipped(data: bytes, offset: int) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 0x01
    return bytes(changed)


def test_a_good_bundle_verifies_with_the_key_by_kid_or_alone(
    bundle: bytes, contents: dict[str, bytes]
) -> None:
    assert sorted(members(bundle)) == sorted(MEMBERS)
    report = check_bundle(bundle, keys={KID: KEY.public_key()})
    assert report.ok, report.problems
    assert report.kid == KID and report.manifest["device_id"] == "dev-1"
    assert check_bundle(bundle, key=KEY.public_key()).ok
    signature = json.loads(members(bundle)[SIGNATURE])
    assert signature["statement"].encode() == statement(signature["files"])
    assert (signature["alg"], signature["crv"], signature["kid"]) == ("EdDSA", "Ed25519", KID)
    # The same files and key give the same bundle (Ed25519 and the zip are deterministic).
    assert write_bundle(contents, kid=KID, private_key=KEY) == bundle


@pytest.mark.parametrize("name", MEMBERS)
def test_a_changed_byte_in_any_file_is_named(bundle: bytes, name: str) -> None:
    contents = members(bundle)
    # A byte in the middle of the file: for signature.json, inside the signature value.
    data = contents[name]
    offset = data.index(b'"signature": "') + 20 if name == SIGNATURE else len(data) // 2
    contents[name] = flipped(data, offset)
    report = check_bundle(rezip(contents), keys={KID: KEY.public_key()})
    assert not report.ok
    # The changed file is named first; a changed manifest may break what it lists too.
    assert report.problems[0].file == name, report.problems
    if name == SIGNATURE:
        assert [p.message for p in report.problems] == [
            f"signature does not verify with key '{KID}'"
        ]
    else:
        assert f"{name}: was changed: its SHA-256 is not the signed one" in map(
            str, report.problems
        )


def test_a_flipped_byte_in_the_zip_itself_names_the_file(bundle: bytes) -> None:
    # The clip is stored uncompressed: a byte inside it is a byte of clip.webm.
    offset = bundle.index(members(bundle)[CLIP][100:140]) + 10
    report = check_bundle(flipped(bundle, offset), keys={KID: KEY.public_key()})
    assert [str(p) for p in report.problems] == [
        "clip.webm: is damaged: its bytes fail the zip's CRC-32 check"
    ]


def test_a_wrong_key_missing_or_extra_files_fail(bundle: bytes) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    assert [str(p) for p in check_bundle(bundle, key=other).problems] == [
        f"signature.json: signature does not verify with key '{KID}'"
    ]
    assert [str(p) for p in check_bundle(bundle, keys={"another": other}).problems] == [
        f"signature.json: was signed by key '{KID}', which the keys given do not hold"
    ]
    contents = members(bundle)
    del contents[CUSTODY]
    contents["extra.txt"] = b"hello"
    problems = {str(p) for p in check_bundle(rezip(contents), key=KEY.public_key()).problems}
    assert problems == {
        "bundle: holds an unexpected file 'extra.txt'",
        "custody.json: is missing from the bundle",
    }
    assert next(str(p) for p in check_bundle(b"not a zip", key=other).problems).startswith(
        "bundle: not a readable zip file"
    )


def test_the_chain_and_the_anchor_are_checked_too() -> None:
    # Signed by the right key, but not what the index and the audit chain hold.
    unanchored = write_bundle(files(anchored=False), kid=KID, private_key=KEY)
    assert [str(p) for p in check_bundle(unanchored, key=KEY.public_key()).problems] == [
        "custody.json: does not hold the anchor of recording r"
    ]
    elsewhere = write_bundle(files(head="f" * 64), kid=KID, private_key=KEY)
    assert [str(p) for p in check_bundle(elsewhere, key=KEY.public_key()).problems] == [
        "manifest.json: recording r does not end on its anchored head"
    ]
    contents = files()
    manifest = json.loads(contents[MANIFEST])
    manifest["segments"][1]["stored_sha256"] = "0" * 64
    contents[MANIFEST] = canonical_json(manifest)
    relisted = write_bundle(contents, kid=KID, private_key=KEY)
    assert [str(p) for p in check_bundle(relisted, key=KEY.public_key()).problems] == [
        "manifest.json: segment s1: its link is not what its fields make"
    ]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "lensguard", "evidence", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.process
def test_the_verify_command_offline(bundle: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public_jwk(KEY.public_key(), kid=KID)]}))
    pem = tmp_path / "evidence.pem"
    pem.write_bytes(KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    good = cli("verify", str(path), "--jwks", str(jwks))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith(f"GOOD {path}: signature by {KID} verifies")
    assert cli("verify", str(path), "--key", str(pem)).returncode == 0

    contents = members(bundle)
    contents[MANIFEST] = contents[MANIFEST].replace(b"dev-1", b"dev-2")
    path.write_bytes(rezip(contents))
    bad = cli("verify", str(path), "--key", str(pem))
    assert bad.returncode == 1
    assert "BAD manifest.json: was changed: its SHA-256 is not the signed one" in bad.stdout

    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    path.write_bytes(bundle)
    refused = cli("verify", str(path), "--key", str(wrong))
    assert (
        refused.returncode == 1
        and "BAD signature.json: signature does not verify" in refused.stdout
    )

    assert cli("verify", str(path)).returncode == 2  # no key given
    missing = cli("verify", str(tmp_path / "nothing.zip"), "--key", str(pem))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert "offline" in cli("verify", "--help").stdout
