import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from image_gateway.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    is_content_filter,
    make_status_error,
    parse_retry_after,
    scrub,
)

KEY = "sk-live-0123456789abcdefSECRET"


def _body(code, message, **extra):
    return json.dumps({"error": {"code": code, "message": message, "type": "invalid_request_error", **extra}})


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (409, APIStatusError),
    ],
)
def test_factory_picks_class_by_status(status, cls):
    error = make_status_error(status, _body("X", "boom"), {})
    assert type(error) is cls
    assert (error.status, error.code, error.message) == (status, "X", "boom")


def test_factory_reads_openai_error_body():
    error = make_status_error(400, _body("InvalidParameter", "size too small", param="size"), {})
    assert (error.code, error.param, error.error_type) == (
        "InvalidParameter",
        "size",
        "invalid_request_error",
    )
    assert str(error) == "HTTP 400 InvalidParameter: size too small"
    assert not error.is_content_filter


def test_factory_reads_bare_message_and_string_error():
    assert make_status_error(502, '{"message": "upstream down"}', {}).message == "upstream down"
    assert make_status_error(500, '{"error": "oops"}', {}).message == "oops"


def test_factory_keeps_short_text_of_html_page():
    html = "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>nginx</p>" * 200 + "</body></html>"
    error = make_status_error(502, html, {})
    assert error.message.startswith("502 Bad Gateway nginx")
    assert "<" not in error.message
    assert len(error.message) <= 120
    assert error.code is None


def test_factory_empty_body():
    assert make_status_error(503, "", {}).message == "HTTP 503 with no error message"


@pytest.mark.parametrize(
    "code",
    [
        "InputTextSensitiveContentDetected",
        "InputImageSensitiveContentDetected",
        "OutputImageSensitiveContentDetected",
    ],
)
def test_content_filter_codes(code):
    assert make_status_error(400, _body(code, "refused"), {}).is_content_filter


def test_content_filter_by_message():
    assert make_status_error(
        400, _body("InvalidParameter", "The request may contain sensitive content"), {}
    ).is_content_filter
    assert is_content_filter(None, "blocked by the content filter")
    assert not is_content_filter("InvalidParameter", "size too small")


def test_retry_after_seconds_and_date():
    assert make_status_error(429, "{}", {"Retry-After": "7"}).retry_after == 7.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    when = datetime(2030, 1, 1, tzinfo=UTC)
    header = format_datetime(when, usegmt=True)
    now = (when - timedelta(seconds=30)).timestamp()
    assert parse_retry_after({"Retry-After": header}, now=now) == pytest.approx(30.0)
    assert parse_retry_after({"Retry-After": header}, now=now + 100) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_scrub_removes_keys_tokens_and_signed_queries():
    text = (
        f"Incorrect API key provided: {KEY}. Header was Authorization: Bearer abc.def-ghi; "
        "see https://cdn.example.com/img/1.jpeg?X-Tos-Signature=abcd&X-Tos-Expires=86400 "
        "and api_key=supersecretvalue"
    )
    out = scrub(text, secrets=(KEY,))
    assert KEY not in out
    assert "abc.def-ghi" not in out
    assert "X-Tos-Signature" not in out
    assert "supersecretvalue" not in out
    assert "https://cdn.example.com/img/1.jpeg" in out


def test_scrub_catches_sk_keys_without_being_told():
    assert "sk-abcdefghijklmnop" not in scrub("key sk-abcdefghijklmnop leaked")


def test_scrub_trims_to_300_chars():
    out = scrub("word " * 500)
    assert len(out) <= 300
    assert out.endswith("…")


def test_factory_never_keeps_the_key():
    body = _body("invalid_api_key", f"Invalid API key: {KEY[:-3]}{KEY[-3:]} (request id 42)")
    error = make_status_error(401, body, {}, secrets=(KEY,))
    assert KEY not in str(error)
    assert KEY not in repr(error.args)
    assert "request id 42" in error.message
