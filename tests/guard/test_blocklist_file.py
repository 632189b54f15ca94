"""The embedded blocklist survives restarts: acknowledged blocks are journaled first."""

import json
from pathlib import Path

import pytest

from lensguard.guard.blocklist import ProtectedAddress
from lensguard.guard.blocklist_file import FileBlocklist
from lensguard.guard.client import parse_networks
from tests.guard.test_blocklist import Clock


async def test_blocks_and_unblocks_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "var" / "blocklist.jsonl"
    clock = Clock()
    first = FileBlocklist(path, clock=clock)
    await first.block("203.0.113.7", ttl=None, reason="scanner")
    await first.block("198.51.100.0/24", ttl=None, reason="botnet")
    await first.block("192.0.2.9", ttl=60, reason="brute force")
    await first.block("192.0.2.10", ttl=None, reason="mistake")
    assert await first.unblock("192.0.2.10")
    del first  # no close, no flush: as if the process died here

    clock.now += 30
    again = FileBlocklist(path, clock=clock)
    assert (await again.is_blocked("203.0.113.7")) is not None
    entry = await again.is_blocked("198.51.100.42")
    assert entry is not None and entry.reason == "botnet"
    assert (await again.is_blocked("192.0.2.9")) is not None  # 30 s of its 60 left
    assert await again.is_blocked("192.0.2.10") is None  # the unblock was kept too

    clock.now += 60
    third = FileBlocklist(path, clock=clock)
    assert await third.is_blocked("192.0.2.9") is None  # expired while down
    assert sorted(e.target for e in await third.list()) == ["198.51.100.0/24", "203.0.113.7"]
    # Replay rewrote the journal compacted: one line per live entry.
    assert len(path.read_text().splitlines()) == 2


async def test_a_torn_last_line_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "blocklist.jsonl"
    store = FileBlocklist(path)
    await store.block("203.0.113.8", ttl=None, reason="kept")
    with path.open("a") as out:
        out.write('{"op":"block","entry":{"target":"203.0.113.9"')  # crash mid-write
    again = FileBlocklist(path)
    assert await again.is_blocked("203.0.113.8") is not None
    assert await again.is_blocked("203.0.113.9") is None
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["entry"]["target"] for line in lines] == ["203.0.113.8"]


async def test_the_trusted_proxy_check_still_applies_after_replay(tmp_path: Path) -> None:
    path = tmp_path / "blocklist.jsonl"
    await FileBlocklist(path).block("10.1.2.3", ttl=None, reason="before the proxy was trusted")
    # Now 10.0.0.0/8 is a trusted proxy: new blocks of it are refused...
    guarded = FileBlocklist(path, protected=parse_networks(["10.0.0.0/8"]))
    with pytest.raises(ProtectedAddress):
        await guarded.block("10.9.9.9", ttl=None, reason="x")
    # ...and the old entry stays visible to the operator, who can lift it.
    assert [e.target for e in await guarded.list()] == ["10.1.2.3"]
    assert await guarded.unblock("10.1.2.3")
