import pytest

from image_gateway.sse import SSEEvent, SSEParser

STREAM = (
    b": keep-alive\r\n"
    b"event: image_generation.partial_succeeded\r\n"
    b'data: {"type":"image_generation.partial_succeeded","image_index":0,"url":"u0"}\r\n'
    b"\r\n"
    b"event: something.new\n"
    b"data: line one\n"
    b"data: line two\n"
    b"id: 7\n"
    b"retry: 1000\n"
    b"\n"
    b"data: \xe4\xbd\xa0\xe5\xa5\xbd\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent(
        "image_generation.partial_succeeded",
        '{"type":"image_generation.partial_succeeded","image_index":0,"url":"u0"}',
    ),
    SSEEvent("something.new", "line one\nline two"),
    SSEEvent("message", "你好"),
    SSEEvent("message", "[DONE]"),
]


def _parse(chunks):
    parser = SSEParser()
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def test_whole_stream():
    assert _parse([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16])
def test_any_chunk_boundary(size):
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert _parse(chunks) == EXPECTED


def test_every_single_split_point():
    for cut in range(len(STREAM)):
        assert _parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_unterminated_last_event_is_flushed():
    assert _parse([b"event: x\ndata: tail"]) == [SSEEvent("x", "tail")]


def test_event_without_data_is_not_dispatched():
    assert _parse([b"event: ping\n\n: comment\n\n"]) == []


def test_big_line_in_many_chunks():
    payload = b"A" * 300_000
    stream = b"data: " + payload + b"\n\n"
    chunks = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    assert _parse(chunks) == [SSEEvent("message", payload.decode())]
