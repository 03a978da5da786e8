import pytest

from image_gateway.sse import EventTooLarge, SSEEvent, SSEParser

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


def _parse(chunks, **options):
    parser = SSEParser(**options)
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


# -- limits -------------------------------------------------------------------------------------


def test_a_line_with_no_end_is_refused_once_past_the_limit():
    parser = SSEParser(limit=10_000)
    parser.feed(b"data: ")
    with pytest.raises(EventTooLarge, match="line is over"):
        for _ in range(100):
            parser.feed(b"A" * 4096)
            assert len(parser._buffer) <= 10_000
    assert len(parser._buffer) <= 10_000 + 4096


def test_an_event_of_many_data_lines_is_refused_once_past_the_limit():
    parser = SSEParser(limit=10_000)
    with pytest.raises(EventTooLarge, match="data is over"):
        for _ in range(100):
            assert parser.feed(b"data: " + b"A" * 1000 + b"\n") == []


def test_events_at_the_limit_pass_and_the_count_starts_again_with_each_event():
    line = b"data: " + b"A" * 994  # 1000 bytes, the most one line and one event may take
    assert _parse([line + b"\n\n"] * 5, limit=1000) == [SSEEvent("message", "A" * 994)] * 5


def test_events_before_a_line_over_the_limit_are_returned_first():
    parser = SSEParser(limit=1000)
    events = parser.feed(b"data: one\n\ndata: " + b"A" * 2000)
    assert events == [SSEEvent("message", "one")]
    with pytest.raises(EventTooLarge):
        parser.check()
    with pytest.raises(EventTooLarge):
        parser.close()

