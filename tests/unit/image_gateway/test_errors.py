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
    replace_secrets,
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
        "sensitive_words_detected",
    ],
)
def test_content_filter_codes(code):
    assert make_status_error(400, _body(code, "refused"), {}).is_content_filter


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_content_filter_code_is_a_refusal_not_retried_at_any_status(status):
    # new-api relays the filter's 400 as a 500; its own check says only "敏感词" (no English word).
    error = make_status_error(status, _body("sensitive_words_detected", "提示词包含敏感词"), {})
    assert type(error) is BadRequestError and error.is_content_filter


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


# -- what a member may read of a gateway's error text -------------------------------------------
LEAKS = {
    "header": "Authorization: Bearer abc.def-ghi",
    "lowercase header": "authorization: bearer abc.def-ghi",
    "proxy header": "Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "api key header": "X-Api-Key: k-0123456789",
    "cookie": "Cookie: session=s3cr3t; csrftoken=t0k3n",
    "set-cookie": "Set-Cookie: sid=s3cr3t; Path=/; HttpOnly",
    "json": '{"Authorization": "Bearer abc.def-ghi", "x-api-key": "k-0123456789"}',
    "python dict": "{'Cookie': 'session=s3cr3t', 'X-Api-Key': 'k-0123456789'}",
    "escaped json": '{\\"authorization\\":\\"Bearer abc.def-ghi\\"}',
    "header dump": "POST /v1/images\nAuthorization: Digest username=\"u\", response=\"abc.def-ghi\"\nAccept: */*\n",
}
GONE = ("authorization", "cookie", "x-api-key", "bearer", "basic ", "abc.def-ghi", "k-0123456789",
        "s3cr3t", "t0k3n", "dXNlcjpw", "response=")  # fmt: skip


@pytest.mark.parametrize("leak", list(LEAKS.values()), ids=list(LEAKS))
def test_scrub_drops_credential_headers_name_and_value(leak):
    out = scrub(f"Invalid image: size too small. Request was {leak} (request id 42)")
    for word in GONE:
        assert word not in out.lower(), out
    assert out.startswith("Invalid image: size too small. Request was")
    assert "request id 42" in out


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://b.tos-cn-beijing.volces.com/x/1.jpeg?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTabc"
         "&X-Tos-Expires=86400&X-Tos-Signature=0123abcd", "https://b.tos-cn-beijing.volces.com/x/1.jpeg"),
        ("https://s3.amazonaws.com/b/k.png?X-Amz-Signature=ffee&X-Amz-Expires=300&Expires=1700000000",
         "https://s3.amazonaws.com/b/k.png"),
        ("http://cdn.example/i.png?token=abc123#access_token=zzz", "http://cdn.example/i.png"),
        ("https://user:pass@cdn.example/i.png", "https://cdn.example/i.png"),
        ("https:\\/\\/cdn.example\\/i.png?Signature=abc123", "https:\\/\\/cdn.example\\/i.png"),
        ("bucket.example/y.png?X-Tos-Signature=0123abcd", "bucket.example/y.png"),
    ],
)  # fmt: skip
def test_scrub_keeps_urls_without_query_fragment_or_user_info(url, kept):
    out = scrub(f"could not read image {url} (timeout)")
    assert out == f"could not read image {kept} (timeout)"


def test_scrub_drops_keys_and_tokens_whole():
    text = (
        "Incorrect API key provided: sk-proj-0123456789abcdef. Token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig "
        "from AKLTMDEyMzQ1Njc4OWFiY2RlZg, api_key=supersecret&token=abc; Bearer xyz.123 refused"
    )
    out = scrub(text, secrets=("supersecret",))
    for leak in ("sk-proj", "eyJ", "AKLT", "supersecret", "token=", "api_key", "Bearer", "xyz.123", "[redacted]"):
        assert leak not in out, out
    assert out.startswith("Incorrect API key provided.") and out.endswith("refused")


def test_scrub_leaves_ordinary_text_alone():
    for text in ("Token expired, please sign in again", "ratio 1:16 to 16:1 (a, b)", "size must be 2K or 4K"):
        assert scrub(text) == text


def test_a_leaky_error_body_becomes_a_short_useful_message():
    leaky = (
        "Invalid image: the reference is 10x10 pixels. Request headers: Authorization: Bearer " + KEY
        + " X-Api-Key: " + KEY + " Cookie: sid=abcdef; theme=dark image https://bucket.example/y.png"
        + "?X-Tos-Algorithm=TOS4&X-Tos-Signature=0123abcdef&X-Tos-Credential=AKLT0123 " + "more detail " * 100
    )  # fmt: skip
    for body in (_body("InvalidParameter", leaky), leaky):
        error = make_status_error(400, body, {}, secrets=(KEY,))
        assert len(error.message) <= 300
        assert error.message.startswith("Invalid image: the reference is 10x10 pixels.")
        assert "https://bucket.example/y.png" in error.message or body == leaky  # HTML/text bodies keep 120
        for leak in (KEY, "Authorization", "X-Api-Key", "Cookie", "sid=", "X-Tos", "Signature", "?"):
            assert leak not in error.message, error.message


# -- codes that say what is wrong whatever the status --------------------------------------------


@pytest.mark.parametrize("code", ["model_not_found", "InvalidEndpointOrModel.NotFound", "ModelNotOpen"])
@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_a_code_naming_a_missing_model_is_not_found_at_any_status(status, code):
    # aiearth's page: "404 or model_not_found"; new-api gateways send model_not_found with 503 or 400.
    error = make_status_error(status, _body(code, "no channel for this model"), {})
    assert type(error) is NotFoundError
    assert (error.status, error.code) == (status, code)


@pytest.mark.parametrize("code", ["AccountOverdueError", "AccessDenied"])
@pytest.mark.parametrize("status", [400, 402, 403, 503])
def test_an_account_code_is_permission_denied_at_any_status(status, code):
    error = make_status_error(status, _body(code, "your account has an overdue balance"), {})
    assert type(error) is PermissionDeniedError
    assert (error.status, error.code) == (status, code)


@pytest.mark.parametrize("code", ["invalid_api_key", "AuthenticationError"])
@pytest.mark.parametrize("status", [400, 401, 403, 500])
def test_a_code_refusing_the_key_is_an_authentication_error_at_any_status(status, code):
    # A proxy in front of a gateway may pass its 401 body on with another status: still the key.
    error = make_status_error(status, _body(code, "Invalid API key"), {})
    assert type(error) is AuthenticationError
    assert (error.status, error.code) == (status, code)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (503, "ServerOverloaded", InternalServerError),
        (429, "QuotaExceeded", RateLimitError),  # a rate quota (SEEDREAM-API.md's 429 row), not the balance
        (400, "InputTextSensitiveContentDetected", BadRequestError),
        (404, "InvalidParameter", NotFoundError),
    ],
)
def test_other_codes_leave_the_class_to_the_status(status, code, cls):
    assert type(make_status_error(status, _body(code, "x"), {})) is cls


def test_pieces_of_a_secret_are_taken_out_with_it():
    key = "sk-test-SECRET-gateway-key-0123456789"
    text = f"bad token {key[3:]}; again {key}; tail <b>{key[15:]}</b>; short {key[:8]} ok"
    assert replace_secrets(text, [key], "#") == "bad token #; again #; tail <b>#</b>; short sk-test- ok"
