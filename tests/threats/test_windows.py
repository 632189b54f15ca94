"""The sliding windows: sums, distinct members, cooldowns, histories; bounded memory."""

from __future__ import annotations

from lensguard.threats.windows import MemoryWindows, Windows

T0 = 1_800_000_000.0


async def test_count_sums_the_window_and_forgets_what_slid_out(windows: Windows) -> None:
    assert await windows.count("k", T0, 60) == 1
    assert await windows.count("k", T0 + 10, 60, 4) == 5
    # 70 s on, the first two have slid out of the 60 s window.
    assert await windows.count("k", T0 + 80, 60) == 1
    assert await windows.count("other", T0 + 80, 60) == 1


async def test_distinct_counts_members_once_and_caps_memory(windows: Windows) -> None:
    for n, member in enumerate(["a", "b", "a", "c"]):
        seen = await windows.distinct("d", member, T0 + n, 600, cap=10)
    assert seen == 3
    assert await windows.members("d", T0 + 3, 600) == ["b", "a", "c"]
    for n in range(50):
        seen = await windows.distinct("d", f"m{n}", T0 + 10 + n, 600, cap=10)
    assert seen == 10
    assert await windows.members("d", T0 + 60, 600) == [f"m{n}" for n in range(40, 50)]
    # Ten minutes after the last one, none is in the window any more.
    assert await windows.distinct("d", "late", T0 + 700, 600, cap=10) == 1


async def test_once_claims_a_key_for_its_ttl(windows: Windows) -> None:
    assert await windows.once("c", T0, 300)
    assert not await windows.once("c", T0 + 10, 300)
    assert await windows.once("other", T0 + 10, 300)


async def test_histogram_returns_counts_before_the_new_one(windows: Windows) -> None:
    assert await windows.histogram("h", 3, T0, 86_400) == [0] * 24
    await windows.histogram("h", 3, T0, 86_400)
    counts = await windows.histogram("h", 27, T0, 86_400)  # 27 is hour 3 again
    assert counts[3] == 2 and sum(counts) == 2
    assert (await windows.histogram("h", 4, T0, 86_400))[3] == 3


async def test_swap_returns_the_previous_value(windows: Windows) -> None:
    assert await windows.swap("s", "one", T0, 60) is None
    assert await windows.swap("s", "two", T0 + 1, 60) == "one"


async def test_memory_windows_hold_a_bounded_number_of_keys() -> None:
    windows = MemoryWindows(max_keys=1_000)
    for n in range(20_000):
        await windows.count(f"flood:{n}", T0 + n / 1000, 60)
    assert len(windows) <= 1_000
    # The newest keys survive a flood; the oldest are forgotten first.
    assert await windows.count("flood:19999", T0 + 20, 60) == 2


async def test_memory_windows_expire_idle_keys() -> None:
    windows = MemoryWindows(max_keys=1_000)
    for n in range(900):
        await windows.count(f"old:{n}", T0, 60)
    for n in range(200):
        await windows.count(f"new:{n}", T0 + 3_600, 60)
    assert len(windows) <= 1_000
    assert await windows.count("new:0", T0 + 3_600, 60) == 2
