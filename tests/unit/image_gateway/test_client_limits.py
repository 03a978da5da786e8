"""What a hostile or broken gateway can make the client hold or wait for: answers too large (a
small gzip body unpacks into hundreds of MB), JSON nested past the parser's depth, and a stream
that keeps sending events that bring no image."""

import base64
import json
import logging
import random
import time
import zlib

import pytest
from aiohttp import web

from image_gateway.client import (
    DEFAULT_MAX_RESULT_BYTES,
    MODEL_LIST_LIMIT,
    Completed,
    GeneratedImage,
    GenerationRequest,
    ImageClient,
    image_text_limit,
    parse_images_json,
)
from image_gateway.errors import APITimeoutError, InternalServerError, InvalidResponseError, make_status_error
from tests.unit.image_gateway.fakes import Reply, collect, json_reply, slow_sse_reply, sse_reply, text_reply

MB = 1024 * 1024
SMALL_RESULT = 256 * 1024  # max_result_bytes of the clients here: one image's allowance about 1.4 MB
NESTING_BOMB = b"[" * 200_000 + b"]" * 200_000  # json.loads raises RecursionError, not ValueError


def request(client: ImageClient, **kwargs) -> GenerationRequest:
    return GenerationRequest(model=client.preset.models[client.preset.default_model], prompt="a cat", **kwargs)


def gzip_of(prefix: bytes, filler: bytes, size: int, suffix: bytes = b"") -> bytes:
    """`prefix`, `size` bytes of `filler`, `suffix`, gzipped: a few KB on the wire."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    out = [comp.compress(prefix)]
    block = filler * (MB // len(filler))
    out += [comp.compress(block) for _ in range(size // len(block))]
    out += [comp.compress(suffix), comp.flush()]
    return b"".join(out)


def gzip_reply(body: bytes, content_type: str) -> Reply:
    async def reply(_: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": content_type, "Content-Encoding": "gzip"})

    return reply


def _sse(data: dict) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def image_event(index: int) -> bytes:
    return _sse({"type": "image_generation.partial_succeeded", "image_index": index, "url": f"https://i/{index}"})


PROGRESS = _sse({"type": "image_generation.progress", "percent": 50})
COMPLETED = _sse({"type": "image_generation.completed", "usage": {"generated_images": 1}}) + b"data: [DONE]\n\n"


# -- sizes --------------------------------------------------------------------------------------


def test_one_image_allowance_fits_the_largest_result_as_base64_and_no_more_than_needed():
    limit = image_text_limit(DEFAULT_MAX_RESULT_BYTES)
    assert DEFAULT_MAX_RESULT_BYTES * 4 // 3 < limit < 100 * MB  # a 200 MB answer for one image is refused


async def test_a_gzip_bomb_answer_is_refused_without_being_read_whole(gateway, make_client):
    # 32 MB of valid JSON in about 32 KB of gzip: counted as decompressed, refused as it passes
    # the limit, and not asked again (a 2xx: the gateway may have made and billed the image).
    body = gzip_of(b'{"data": [{"b64_json": "', b"A", 32 * MB, b'"}]}')
    assert len(body) < MB
    gateway.queue(gzip_reply(body, "application/json"))
    client = make_client(max_result_bytes=SMALL_RESULT)
    with pytest.raises(InvalidResponseError, match="over") as caught:
        await collect(client, request(client, response_format="b64_json"))
    assert caught.value.accepted
    assert len(gateway.bodies) == 1


async def test_an_answer_as_large_as_the_images_asked_for_is_read(gateway, make_client):
    # Two results of the largest size the bot takes, as base64, with "/" escaped as "\/": more
    # than one image's allowance, within that of the two asked for.
    largest = 8 * MB
    b64 = base64.b64encode(random.Random(7).randbytes(largest)).decode()
    text = json.dumps({"data": [{"b64_json": b64}, {"b64_json": b64}]}).replace("/", "\\/")
    assert len(text) > image_text_limit(largest)
    gateway.queue(text_reply(text, content_type="application/json"))
    client = make_client("xmsmartlink", max_result_bytes=largest)
    events = await collect(client, request(client, n=2, response_format="b64_json"))
    assert events == [GeneratedImage(0, None, b64, None), GeneratedImage(1, None, b64, None), Completed(2)]


async def test_a_plain_answer_over_the_allowance_of_its_images_is_refused(gateway, make_client):
    b64 = "A" * (3 * image_text_limit(SMALL_RESULT))
    gateway.queue(json_reply({"data": [{"b64_json": b64}]}))
    client = make_client(max_result_bytes=SMALL_RESULT)
    with pytest.raises(InvalidResponseError, match="answer is over"):
        await collect(client, request(client, response_format="b64_json"))


async def test_a_gzip_bomb_model_list_is_refused(gateway, make_client):
    body = gzip_of(b'{"data": [{"id": "m"}], "pad": "', b"A", 4 * MODEL_LIST_LIMIT, b'"}')
    gateway.queue(gzip_reply(body, "application/json"))
    client = make_client()
    with pytest.raises(InvalidResponseError, match="model list is over"):
        await client.list_models()
    assert len(gateway.headers) == 1  # refused, not retried


async def test_an_endless_stream_line_is_refused_after_the_images_before_it(gateway, make_client):
    # A data line of 32 MB (its end never needed): the parser refuses it once it passes one
    # image's allowance; the image that came before it is still given (and billed) first.
    body = gzip_of(image_event(0) + b'event: image_generation.partial_succeeded\ndata: {"b64_json": "', b"A", 32 * MB)
    gateway.queue(gzip_reply(body, "text/event-stream"))
    client = make_client(max_result_bytes=SMALL_RESULT)
    seen = []
    with pytest.raises(InvalidResponseError, match="line is over") as caught:
        async for event in client.events(request(client, stream=True, max_images=2)):
            seen.append(event)
    assert seen == [GeneratedImage(0, "https://i/0", None, None)]
    assert caught.value.accepted
    assert len(gateway.bodies) == 1


async def test_a_stream_event_of_many_data_lines_is_refused_as_it_grows(gateway, make_client):
    body = gzip_of(b"event: image_generation.partial_succeeded\n", b"data: " + b"A" * 1000 + b"\n", 32 * MB)
    gateway.queue(gzip_reply(body, "text/event-stream"))
    client = make_client(max_result_bytes=SMALL_RESULT)
    with pytest.raises(InvalidResponseError, match="data is over"):
        await collect(client, request(client, stream=True))


# -- JSON nested deeper than the parser goes -------------------------------------------------------


def test_a_nesting_bomb_answer_is_an_invalid_response():
    with pytest.raises(InvalidResponseError, match="not JSON"):
        parse_images_json(NESTING_BOMB)


async def test_a_nesting_bomb_answer_from_the_gateway_is_an_invalid_response(gateway, make_client):
    gateway.queue(text_reply(NESTING_BOMB.decode(), content_type="application/json"))
    client = make_client()
    with pytest.raises(InvalidResponseError):
        await collect(client, request(client))


async def test_a_nesting_bomb_model_list_is_an_invalid_response(gateway, make_client):
    gateway.queue(text_reply(NESTING_BOMB.decode(), content_type="application/json"))
    client = make_client()
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await client.list_models()


async def test_a_nesting_bomb_stream_event_is_skipped_like_any_event_that_is_not_json(gateway, make_client, caplog):
    gateway.queue(sse_reply([b"data: " + NESTING_BOMB + b"\n\n" + image_event(0) + COMPLETED]))
    client = make_client()
    with caplog.at_level(logging.WARNING):
        events = await collect(client, request(client, stream=True))
    assert events == [GeneratedImage(0, "https://i/0", None, None), Completed(1)]
    assert "not JSON" in caplog.text


# -- events that bring no image ---------------------------------------------------------------------


@pytest.mark.parametrize("first", [b"", image_event(0)], ids=["before-any-image", "after-an-image"])
async def test_progress_events_alone_do_not_hold_a_stream_open(gateway, make_client, first):
    # A progress event every 0.1 s for 4 s: before the first image the call's deadline holds,
    # after it the idle time since that image; neither is restarted by progress.
    gateway.queue(slow_sse_reply([first, *[PROGRESS] * 40, COMPLETED], gap=0.1))
    client = make_client(timeout=0.5)
    started = time.monotonic()
    seen = []
    with pytest.raises(APITimeoutError):
        async for event in client.events(request(client, stream=True, max_images=2)):
            seen.append(event)
    assert time.monotonic() - started < 2.0
    assert seen == ([GeneratedImage(0, "https://i/0", None, None)] if first else [])
    assert len(gateway.bodies) == 1


async def test_progress_between_images_that_come_in_time_is_fine(gateway, make_client):
    chunks = [image_event(0), PROGRESS, PROGRESS, image_event(1), PROGRESS, COMPLETED]
    gateway.queue(slow_sse_reply(chunks, gap=0.15))
    client = make_client(timeout=0.5)
    events = await collect(client, request(client, stream=True, max_images=2))
    assert [type(e) for e in events] == [GeneratedImage, GeneratedImage, Completed]


def test_an_error_answer_nested_past_the_parsers_depth_is_an_error_of_its_status():
    # json.loads raises RecursionError (not a ValueError) on "[[[[...": it escaped as a bug.
    error = make_status_error(500, "[" * 100_000, {})
    assert isinstance(error, InternalServerError) and error.code is None
