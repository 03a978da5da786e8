"""Result spooling: in memory within the shared budget, on disk beyond it, and every byte of the
budget given back however a result ends (posted, failed, cancelled, dropped)."""

from __future__ import annotations

import gc
import io

import aiohttp
import pytest
from aiohttp import web

from pipeline.spool import HeldImage, MemoryBudget, Spool

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
        assert isinstance(f, HeldImage)  # aiohttp uploads it from memory
        assert f.read() == b"a" * 10 * KB + b"b" * 10 * KB
        assert budget.used == 20 * KB
    assert budget.used == 0


def test_a_result_in_memory_is_handed_over_in_its_pieces_and_reads_like_one_file() -> None:
    budget = MemoryBudget(100 * KB, per_item=64 * KB)
    a, b, c = b"a" * 10 * KB, b"b" * 10 * KB, b"c" * 5
    with written(budget, a, b, c).finish() as f:
        assert f.size == len(a + b + c)
        assert f.read(10 * KB) is a  # a whole piece is that very object: never copied
        assert f.read(3) == b"bbb"
        f.seek(10 * KB - 2)
        assert f.read(4) == b"aabb"  # across pieces
        f.seek(-7, io.SEEK_END)
        assert f.read() == b"bbccccc"
        assert f.read() == b""
        f.seek(0)
        assert f.read() == a + b + c
        assert b"".join(f.views(10 * KB - 1, 20 * KB + 1)) == b"a" + b + b"c"
        with pytest.raises(ValueError):
            f.seek(-1)
    assert budget.used == 0
    with pytest.raises(ValueError):
        f.read()  # closed


async def test_an_image_in_memory_is_uploaded_whole_and_again_from_the_same_place() -> None:
    """aiohttp sends a HeldImage piece by piece; a retry (discord.py makes a new form after
    rewinding the file to where it stood) sends the same bytes again."""
    received: list[bytes] = []

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        received.append(form["files[0]"].file.read())
        return web.Response(text="ok")

    app = web.Application(client_max_size=10 * 1024 * KB)
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    pieces = [bytes([i]) * (256 * KB + i) for i in range(8)]  # 2 MB: more than a socket takes at once
    budget = MemoryBudget(4096 * KB, per_item=4096 * KB)
    try:
        async with aiohttp.ClientSession() as session:
            with written(budget, *pieces).finish() as f:
                for _attempt in range(2):
                    f.seek(0)
                    form = aiohttp.FormData()
                    form.add_field("files[0]", f, filename="image.jpg", content_type="image/jpeg")
                    async with session.post(f"http://127.0.0.1:{port}/upload", data=form) as response:
                        assert response.status == 200
    finally:
        await runner.cleanup()
    assert received == [b"".join(pieces)] * 2
    assert budget.used == 0


def test_the_write_the_budget_refuses_moves_the_result_to_disk() -> None:
    budget = MemoryBudget(30 * KB, per_item=64 * KB)
    other = written(budget, b"x" * 20 * KB)  # another request holds most of the budget
    spool = written(budget, b"a" * 8 * KB, b"b" * 8 * KB)  # the second write does not fit
    assert budget.used == 20 * KB  # what the moved result held is back
    with spool.finish() as f:
        assert not isinstance(f, HeldImage)
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
        assert not isinstance(f, HeldImage)
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
        assert not isinstance(f, HeldImage)
        assert f.read() == b"a" * 10 * KB
    other.close()


def test_a_zero_budget_keeps_everything_on_disk() -> None:
    budget = MemoryBudget(0)
    with Spool.of(b"jpeg bytes", budget).finish() as f:
        assert not isinstance(f, HeldImage)
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


async def test_an_image_in_memory_reads_as_its_bytes_and_not_once_closed() -> None:
    budget = MemoryBudget(100 * KB)
    image = written(budget, b"\xff\xd8", b"\x00\xff" * 10).finish()
    form_part = aiohttp.payload.get_payload(image, filename="a.jpg")
    assert await form_part.as_bytes() == b"\xff\xd8" + b"\x00\xff" * 10  # an image is not text
    image.close()
    with pytest.raises(ValueError):
        b"".join(image.views())  # a closed image has no bytes to give: an error, not an empty upload
