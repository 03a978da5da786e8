"""Result spooling: in memory within the shared budget, on disk beyond it, and every byte of the
budget given back however a result ends (posted, failed, cancelled, dropped)."""

from __future__ import annotations

import gc
import io

import pytest

from pipeline.spool import MemoryBudget, Spool

KB = 1024


def written(budget: MemoryBudget, *chunks: bytes, expect: int | None = None) -> Spool:
    spool = Spool(budget)
    if expect is not None:
        spool.expect(expect)
    for chunk in chunks:
        spool.write(chunk)
    return spool


def test_a_result_within_the_budget_stays_in_memory_until_closed() -> None:
    budget = MemoryBudget(100 * KB, per_item=64 * KB)
    spool = written(budget, b"a" * 10 * KB, b"b" * 10 * KB)
    assert budget.used == 20 * KB
    with spool.finish() as f:
        assert isinstance(f, io.BytesIO)  # aiohttp uploads it from memory
        assert f.read() == b"a" * 10 * KB + b"b" * 10 * KB
        assert budget.used == 20 * KB
    assert budget.used == 0


def test_held_shows_the_bytes_in_memory_and_finish_hands_over_those_same_bytes() -> None:
    budget = MemoryBudget(100 * KB, per_item=64 * KB)
    spool = written(budget, b"a" * 10 * KB, b"b" * 10 * KB)
    held = spool.held()
    assert held == b"a" * 10 * KB + b"b" * 10 * KB
    assert spool.held() is held  # joined once
    with spool.finish() as f:
        assert f.read() is held  # the upload reads them without another copy
    assert budget.used == 0
    on_disk = written(MemoryBudget(0), b"a" * KB)
    assert on_disk.held() is None  # on disk: the caller checks it off the event loop
    on_disk.close()


def test_the_write_the_budget_refuses_moves_the_result_to_disk() -> None:
    budget = MemoryBudget(30 * KB, per_item=64 * KB)
    other = written(budget, b"x" * 20 * KB)  # another request holds most of the budget
    spool = written(budget, b"a" * 8 * KB, b"b" * 8 * KB)  # the second write does not fit
    assert budget.used == 20 * KB  # what the moved result held is back
    with spool.finish() as f:
        assert not isinstance(f, io.BytesIO)
        assert f.read() == b"a" * 8 * KB + b"b" * 8 * KB  # nothing lost in the move
    other.close()
    assert budget.used == 0


def test_a_result_over_the_per_item_cap_goes_to_disk_at_once() -> None:
    budget = MemoryBudget(10_000 * KB, per_item=64 * KB)
    spool = written(budget, expect=9_000 * KB)  # a 9 MB PNG announced by its Content-Length
    assert budget.used == 0
    spool.write(b"p" * 100 * KB)
    assert budget.used == 0
    with spool.finish() as f:
        assert not isinstance(f, io.BytesIO)
    # Without an announced size, the cap still holds: the write past it moves the result.
    spool = written(budget, b"a" * 60 * KB, b"b" * 10 * KB)
    assert budget.used == 0
    spool.close()


def test_an_announced_size_the_budget_cannot_take_now_goes_to_disk_at_once() -> None:
    budget = MemoryBudget(50 * KB, per_item=64 * KB)
    other = written(budget, b"x" * 20 * KB)
    spool = written(budget, expect=40 * KB)  # fits the per-item cap, not the 30 KB left
    spool.write(b"a" * 10 * KB)
    assert budget.used == 20 * KB  # nothing of it held in memory, not even the first chunk
    with spool.finish() as f:
        assert not isinstance(f, io.BytesIO)
        assert f.read() == b"a" * 10 * KB
    other.close()


def test_a_zero_budget_keeps_everything_on_disk() -> None:
    budget = MemoryBudget(0)
    with Spool.of(b"jpeg bytes", budget).finish() as f:
        assert not isinstance(f, io.BytesIO)
        assert f.read() == b"jpeg bytes"


@pytest.mark.parametrize("ending", ["closed unfinished", "dropped unfinished", "finished then dropped"])
def test_the_budget_comes_back_however_a_result_ends(ending: str) -> None:
    budget = MemoryBudget(100 * KB)
    spool = Spool.of(b"z" * 50 * KB, budget)
    assert budget.used == 50 * KB
    if ending == "closed unfinished":  # a failed or cancelled download
        spool.close()
    elif ending == "dropped unfinished":
        del spool
    else:
        f = spool.finish()
        del spool, f
    gc.collect()
    assert budget.used == 0


def test_the_budget_never_goes_negative() -> None:
    budget = MemoryBudget(10 * KB)
    spool = Spool.of(b"q" * KB, budget)
    f = spool.finish()
    spool.close()  # after finish: the file owns the bytes
    f.close()
    f.close()
    assert budget.used == 0
