"""Segment stores, local and S3 (a real moto server): the same contract for both."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import boto3
import pytest

from lensguard.recordings.store import (
    LocalStore,
    SegmentNotFound,
    SegmentStore,
    new_segment_id,
)
from tests.harness import s3


async def test_put_get_size_list_delete(segment_store: SegmentStore) -> None:
    first, second = new_segment_id(), new_segment_id()
    data = os.urandom(100_000)
    await segment_store.put(first, data)
    await segment_store.put(second, b"two")
    assert await segment_store.get(first) == data
    assert await segment_store.size(first) == len(data)
    assert await segment_store.list() == sorted([first, second])
    assert await segment_store.delete(first) is True
    assert await segment_store.delete(first) is False
    assert await segment_store.list() == [second]
    with pytest.raises(SegmentNotFound):
        await segment_store.get(first)


async def test_put_replaces_a_segment_whole(segment_store: SegmentStore) -> None:
    segment_id = new_segment_id()
    await segment_store.put(segment_id, b"a" * 1000)
    await segment_store.put(segment_id, b"b" * 10)
    assert await segment_store.get(segment_id) == b"b" * 10


async def test_get_range(segment_store: SegmentStore) -> None:
    segment_id = new_segment_id()
    data = bytes(range(256)) * 4
    await segment_store.put(segment_id, data)
    assert await segment_store.get_range(segment_id, 10, 5) == data[10:15]
    assert await segment_store.get_range(segment_id, 1020, 100) == data[1020:]
    assert await segment_store.get_range(segment_id, 0, 0) == b""
    assert await segment_store.get_range(segment_id, 5000, 10) == b""
    with pytest.raises(ValueError, match="range"):
        await segment_store.get_range(segment_id, -1, 5)
    with pytest.raises(SegmentNotFound):
        await segment_store.get_range(new_segment_id(), 0, 5)
    with pytest.raises(SegmentNotFound):
        await segment_store.get_range(new_segment_id(), 0, 0)


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", ".hidden", "a" * 129, "x\x00", "é"])
async def test_ids_must_be_path_safe(segment_store: SegmentStore, bad: str) -> None:
    with pytest.raises(ValueError, match="segment id") as caught:
        await segment_store.put(bad, b"data")
    assert bad not in str(caught.value) or bad == ""
    with pytest.raises(ValueError, match="segment id"):
        await segment_store.get(bad)


async def test_missing_segments(segment_store: SegmentStore) -> None:
    missing = new_segment_id()
    with pytest.raises(SegmentNotFound):
        await segment_store.size(missing)
    assert await segment_store.delete(missing) is False
    assert await segment_store.list() == []


async def test_local_store_is_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "var" / "recordings"
    store = LocalStore(root)
    segment_id = new_segment_id()
    await store.put(segment_id, b"data")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / segment_id).stat().st_mode) == 0o600


async def test_local_store_never_lists_a_partial_write(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    store = LocalStore(root)
    kept = new_segment_id()
    await store.put(kept, b"whole")
    # What a crash between create and rename leaves: a temporary file, never the id.
    (root / f".partial-{new_segment_id()}-0000").write_bytes(b"half")
    assert await store.list() == [kept]
    assert store.discard_partials() == 1
    assert sorted(p.name for p in root.iterdir()) == [kept]


async def test_local_store_failed_write_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    store = LocalStore(root)
    segment_id = new_segment_id()
    with pytest.raises(TypeError):
        await store.put(segment_id, "not bytes")  # type: ignore[arg-type]
    assert list(root.iterdir()) == []


@pytest.mark.process
def test_moto_harness_serves_s3_on_loopback_and_stops() -> None:
    server = s3.start_moto()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        client = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=s3.ACCESS_KEY,
            aws_secret_access_key=s3.SECRET_KEY,
        )
        client.create_bucket(Bucket="harness")
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["harness"]
    finally:
        server.stop()
    assert server.process is not None and server.process.poll() is not None
