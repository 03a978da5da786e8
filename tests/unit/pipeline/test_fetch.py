"""pipeline.fetch against a real aiohttp server on 127.0.0.1, and base64 decoding."""

from __future__ import annotations

import asyncio
import base64
import io
import time
import traceback
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from pipeline import fetch
from pipeline import spool as spool_module
from pipeline.fetch import FetchError, decode_b64_image, download, download_spooled, download_to, scrub_url
from pipeline.spool import HeldImage, MemoryBudget

SECRET = "?X-Amz-Signature=SECRETSIG&token=SECRETTOK#frag"
CAP = 256 * 1024


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(buf, "PNG")
    return buf.getvalue()


PNG = png_bytes()
BODY = bytes(range(256)) * 400  # 100 KiB


class Server:
    def __init__(self) -> None:
        self.base = ""
        self.release = asyncio.Event()
        self.endless_sent = 0
        app = web.Application()
        app.router.add_get("/img.png", self.image)
        app.router.add_get("/body", self.body)
        app.router.add_get("/missing", self.missing)
        app.router.add_get("/big", self.big)
        app.router.add_get("/endless", self.endless)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/reset", self.reset)
        app.router.add_get("/stall", self.stall)
        app.router.add_get("/to-file", self.to_file)
        app.router.add_get("/flaky/{failures}/{how}", self.flaky)
        self.hits: dict[str, int] = {}
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def body(self, request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="application/octet-stream")

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text=f"no such object {request.path_qs}")

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (CAP + 1))

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """No Content-Length (chunked) and a body that never ends, until the client gives up."""
        resp = web.StreamResponse()
        await resp.prepare(request)
        chunk = b"y" * 65536
        try:
            while self.endless_sent < 64 * 1024 * 1024:
                await resp.write(chunk)
                self.endless_sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.wait_for(self.release.wait(), 5)
        return web.Response(body=PNG)

    async def stall(self, request: web.Request) -> web.StreamResponse:
        """Headers and a first part of the body, then nothing (a stalled CDN)."""
        resp = web.StreamResponse()
        resp.content_length = 1_000_000
        await resp.prepare(request)
        await resp.write(b"s" * 10_000)
        await asyncio.sleep(5)
        return resp

    async def reset(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 1_000_000
        await resp.prepare(request)
        await resp.write(b"z" * 10_000)
        assert request.transport is not None
        request.transport.close()
        return resp

    async def flaky(self, request: web.Request) -> web.StreamResponse:
        """Fails the first `failures` requests (a status, or "reset": the connection breaks
        mid-body), then serves the image."""
        hits = self.hits[request.path] = self.hits.get(request.path, 0) + 1
        how = request.match_info["how"]
        if hits > int(request.match_info["failures"]):
            return web.Response(body=PNG, content_type="image/png")
        if how == "reset":
            return await self.reset(request)
        return web.Response(status=int(how), text="try later")

    async def to_file(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.runner.setup()
    site = web.TCPSite(srv.runner, "127.0.0.1", 0)
    await site.start()
    host, port = srv.runner.addresses[0][:2]
    srv.base = f"http://{host}:{port}"
    yield srv
    srv.release.set()
    await srv.runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def assert_scrubbed(err: FetchError) -> None:
    text = "".join(traceback.format_exception(err)) + repr(err) + str(err) + err.message
    assert "SECRET" not in text
    assert "frag" not in text


async def fails(coro: object) -> FetchError:
    with pytest.raises(FetchError) as info:
        await coro  # type: ignore[misc]
    assert_scrubbed(info.value)
    return info.value


async def test_download_ok(server: Server, session: aiohttp.ClientSession) -> None:
    assert await download(session, f"{server.base}/img.png{SECRET}", max_bytes=CAP) == PNG
    assert await download(session, f"{server.base}/body", max_bytes=len(BODY)) == BODY


async def test_download_to_and_spooled(server: Server, session: aiohttp.ClientSession) -> None:
    sink = io.BytesIO()
    assert await download_to(session, f"{server.base}/body", sink, max_bytes=CAP) == len(BODY)
    assert sink.getvalue() == BODY
    small = MemoryBudget(1024)  # BODY does not fit: the download goes to a temporary file
    with (await download_spooled(session, f"{server.base}/body", max_bytes=CAP, budget=small)).finish() as f:
        assert not isinstance(f, HeldImage)
        assert small.used == 0
        assert f.read() == BODY
    roomy = MemoryBudget(CAP)
    with (await download_spooled(session, f"{server.base}/img.png", max_bytes=CAP, budget=roomy)).finish() as f:
        assert isinstance(f, HeldImage)
        assert roomy.used == len(PNG)  # held until the file is closed
        assert f.read() == PNG
    assert roomy.used == 0


async def test_404(server: Server, session: aiohttp.ClientSession) -> None:
    err = await fails(download(session, f"{server.base}/missing{SECRET}", max_bytes=CAP))
    assert (err.code, err.status) == ("http_status", 404)
    assert "404" in err.message
    assert "/missing" in err.message


async def test_content_length_over_cap_is_refused_before_reading(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    original = aiohttp.StreamReader.read

    async def counting_read(self: aiohttp.StreamReader, n: int = -1) -> bytes:
        data = await original(self, n)
        reads.append(len(data))
        return data

    monkeypatch.setattr(aiohttp.StreamReader, "read", counting_read)
    err = await fails(download(session, f"{server.base}/big{SECRET}", max_bytes=CAP))
    assert err.code == "too_large"
    assert reads == []


async def test_body_without_content_length_stops_at_cap(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    original = aiohttp.StreamReader.readany

    async def counting_read(self: aiohttp.StreamReader) -> bytes:
        data = await original(self)
        reads.append(len(data))
        return data

    monkeypatch.setattr(aiohttp.StreamReader, "readany", counting_read)
    sink = io.BytesIO()
    err = await fails(download_to(session, f"{server.base}/endless{SECRET}", sink, max_bytes=CAP))
    assert err.code == "too_large"
    assert reads and sum(reads) <= CAP + fetch.MAX_OVERSHOOT
    assert len(sink.getvalue()) <= CAP
    await asyncio.sleep(0.05)
    assert server.endless_sent < 64 * 1024 * 1024  # the server saw us hang up


async def test_exactly_at_cap_is_fine(server: Server, session: aiohttp.ClientSession) -> None:
    assert len(await download(session, f"{server.base}/body", max_bytes=len(BODY))) == len(BODY)
    err = await fails(download(session, f"{server.base}/body", max_bytes=len(BODY) - 1))
    assert err.code == "too_large"


async def test_slow_server_times_out(server: Server, session: aiohttp.ClientSession) -> None:
    started = time.perf_counter()
    err = await fails(download(session, f"{server.base}/slow{SECRET}", max_bytes=CAP, timeout=0.3))
    assert err.code == "timeout"
    assert time.perf_counter() - started < 2


async def test_reset_mid_body(server: Server, session: aiohttp.ClientSession) -> None:
    err = await fails(download(session, f"{server.base}/reset{SECRET}", max_bytes=2_000_000))
    assert err.code == "connection"


async def test_a_stalled_body_is_given_up_after_the_idle_timeout(
    server: Server, session: aiohttp.ClientSession
) -> None:
    started = time.perf_counter()
    stalled = download(session, f"{server.base}/stall{SECRET}", max_bytes=CAP * 8, timeout=30, idle_timeout=0.3)
    err = await fails(stalled)
    assert err.code == "timeout"
    assert time.perf_counter() - started < 3  # not the whole 30 s


async def test_spooled_gives_everything_back_on_failure(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    real = spool_module.tempfile.TemporaryFile

    def spy(*args: object, **kwargs: object) -> object:
        f = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append(f)
        return f

    monkeypatch.setattr(spool_module.tempfile, "TemporaryFile", spy)
    budget = MemoryBudget(64 * 1024, per_item=64 * 1024)  # part in memory, then to disk
    await fails(download_spooled(session, f"{server.base}/reset", max_bytes=2_000_000, budget=budget))
    assert made and made[0].closed  # type: ignore[attr-defined]
    assert budget.used == 0


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    err = await fails(download(session, f"http://127.0.0.1:1/x.png{SECRET}", max_bytes=CAP, timeout=5))
    assert err.code == "connection"


async def test_redirect_to_file_scheme(server: Server, session: aiohttp.ClientSession) -> None:
    err = await fails(download(session, f"{server.base}/to-file{SECRET}", max_bytes=CAP))
    assert err.code == "bad_scheme"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "/relative/path.png",
        "http:///nohost",
        "https://[::1/broken",
    ],
)
async def test_bad_scheme_before_any_io(url: str) -> None:
    # session=None: any attempt at I/O would be an AttributeError, not a FetchError.
    err = await fails(download(None, url + SECRET, max_bytes=CAP))  # type: ignore[arg-type]
    assert err.code == "bad_scheme"


def test_scrub_url() -> None:
    assert (
        scrub_url("https://user:pw@cdn.example.com:8443/a/b.png?sig=SECRET#x")
        == "https://cdn.example.com:8443/a/b.png"
    )
    assert len(scrub_url("https://example.com/" + "a" * 500)) == 120


# --------------------------------------------------------------------------- base64

B64 = base64.b64encode(PNG).decode()


def b64_fails(text: str, max_bytes: int = CAP) -> FetchError:
    with pytest.raises(FetchError) as info:
        decode_b64_image(text, max_bytes=max_bytes)
    return info.value


def test_b64_plain_prefixed_and_wrapped() -> None:
    assert decode_b64_image(B64, max_bytes=CAP) == PNG
    assert decode_b64_image("data:image/png;base64," + B64, max_bytes=CAP) == PNG
    assert decode_b64_image("DATA:image/jpeg;BASE64," + B64, max_bytes=CAP) == PNG
    wrapped = "\n".join(B64[i : i + 76] for i in range(0, len(B64), 76))
    assert decode_b64_image("  " + wrapped + "\r\n", max_bytes=CAP) == PNG


def test_b64_invalid() -> None:
    for bad in [
        "",
        "   ",
        "abc",
        B64[:-1],
        B64 + "!!!!",
        "é" * 8,
        B64.replace("A", "-"),
        "data:image/png," + B64,
        "data:text/plain;base64," + B64,
        "data:image/png;base64",
    ]:
        assert b64_fails(bad).code == "not_image", bad


def test_b64_size_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(decode_b64_image(B64, max_bytes=len(PNG))) == len(PNG)

    def boom(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decoded although too large")

    monkeypatch.setattr(fetch.base64, "b64decode", boom)
    err = b64_fails(B64, max_bytes=len(PNG) - 1)
    assert err.code == "too_large"
    assert b64_fails("A" * (16 * 1024 * 1024), max_bytes=10 * 1024 * 1024).code == "too_large"


@pytest.mark.parametrize(("failures", "how"), [(1, "503"), (2, "429"), (1, "500"), (2, "reset")])
async def test_a_failure_another_try_may_mend_is_tried_again(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, failures: int, how: str
) -> None:
    # A billed result is not given up for one bad answer from the gateway's storage.
    monkeypatch.setattr(fetch, "RETRY_DELAYS", (0.01, 0.01))
    path = f"/flaky/{failures}/{how}"
    url = f"{server.base}{path}{SECRET}"
    spool = await download_spooled(session, url, max_bytes=4 * CAP * CAP, budget=MemoryBudget(CAP))
    with spool.finish() as f:
        assert f.read() == PNG
    assert server.hits[path] == failures + 1
    assert await download(session, f"{server.base}/flaky/0/503", max_bytes=CAP) == PNG


@pytest.mark.parametrize(("failures", "how", "tries"), [(9, "503", 3), (9, "404", 1), (9, "403", 1)])
async def test_a_lasting_or_final_failure_is_not_tried_forever(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, failures: int, how: str,
    tries: int,
) -> None:
    monkeypatch.setattr(fetch, "RETRY_DELAYS", (0.01, 0.01))
    path = f"/flaky/{failures}/{how}"
    err = await fails(download(session, f"{server.base}{path}{SECRET}", max_bytes=CAP))
    assert (err.code, err.status) == ("http_status", int(how))
    assert server.hits[path] == tries


async def test_all_tries_share_the_timeout(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "RETRY_DELAYS", (5.0, 5.0))  # longer than the time left: no second try
    started = time.monotonic()
    err = await fails(download(session, f"{server.base}/flaky/9/503", max_bytes=CAP, timeout=2.0))
    assert err.status == 503 and time.monotonic() - started < 1.0
    assert server.hits["/flaky/9/503"] == 1


async def test_the_wait_before_another_try_leaves_the_download_slot_to_others(
    server: Server, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One slot: a result whose storage answered 503 waits for its second try without holding up
    # another request's download.
    monkeypatch.setattr(fetch, "RETRY_DELAYS", (1.0, 1.0))
    slots = asyncio.Semaphore(1)
    done: list[str] = []

    async def fetch_one(name: str, path: str) -> None:
        spool = await download_spooled(
            session, f"{server.base}{path}", max_bytes=CAP, budget=MemoryBudget(CAP), slots=slots
        )
        spool.close()
        done.append(name)

    flaky = asyncio.create_task(fetch_one("flaky", "/flaky/1/503"))
    await asyncio.sleep(0.2)  # its first try has failed: it waits for the second
    await asyncio.wait_for(fetch_one("other", "/img.png"), timeout=0.7)
    await flaky
    assert done == ["other", "flaky"]
    assert server.hits["/flaky/1/503"] == 2


async def test_a_retrys_wait_in_line_for_a_slot_is_not_taken_from_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its slot went to another download meanwhile: the retry's time is its own, not the line's.
    monkeypatch.setattr(fetch, "RETRY_DELAYS", (0.05, 0.05))
    slots = asyncio.Semaphore(1)
    given: list[float] = []

    async def flaky(time_left: float) -> str:
        given.append(time_left)
        if len(given) == 1:
            raise FetchError("connection", "connection reset")
        return "image" if time_left > 0.3 else "too little time"

    async def slow_other(time_left: float) -> str:
        await asyncio.sleep(0.6)
        return "other"

    first = asyncio.create_task(fetch._retrying(flaky, within=0.7, url="https://x/a.png", slots=slots))
    await asyncio.sleep(0.02)  # its first try failed; it waits 0.05 s holding no slot
    second = asyncio.create_task(fetch._retrying(slow_other, within=5, url="https://x/b.png", slots=slots))
    assert await asyncio.gather(first, second) == ["image", "other"]
