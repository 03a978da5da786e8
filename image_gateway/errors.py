"""Typed gateway errors (the openai-python shape) and the one factory that builds them.

Every message that leaves this package passes through `scrub`: trimmed to 300 characters, with
no request header that carries a credential (name and value both go), no API key or bearer token,
and no query string or fragment on any URL (signed image URLs are credentials too).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime

MAX_MESSAGE_CHARS = 300
_HTML_SNIPPET_CHARS = 120

CONTENT_FILTER_CODES = frozenset(
    {
        "InputTextSensitiveContentDetected",
        "InputImageSensitiveContentDetected",
        "OutputImageSensitiveContentDetected",
        "OutputTextSensitiveContentDetected",
        "content_policy_violation",
        "moderation_blocked",
        "sensitive_words_detected",  # new-api-style gateways' own check, often with a Chinese-only message
    }
)
# Codes that say, whatever the status, what no retry can change. A missing model: aiearth's page
# says "404 or model_not_found", and new-api-style gateways send model_not_found with 503 (no
# channel serves the model) or 400; SEEDREAM-API.md lists the other two under 404. The account:
# SEEDREAM-API.md's 403 row (AccountOverdueError is the balance). QuotaExceeded is not here: the
# sheet lists it under 429, a rate quota that passes.
MODEL_NOT_FOUND_CODES = frozenset({"model_not_found", "InvalidEndpointOrModel.NotFound", "ModelNotOpen"})
# SEEDREAM-API.md's 403 rows; new-api/one-api gateways' "insufficient_user_quota" (the key's balance) and
# OpenAI's 429 "insufficient_quota" (the account's credit): no retry brings the money back.
ACCOUNT_CODES = frozenset({"AccountOverdueError", "AccessDenied", "insufficient_user_quota", "insufficient_quota"})
AUTH_CODES = frozenset({"invalid_api_key", "AuthenticationError"})  # SEEDREAM-API.md's 401 row, gogogotoken.com's
# SEEDREAM-API.md's 429 and 5xx rows: the status such a code stands for where a gateway sends it in
# a 200 answer (302.ai's page lists an "error" beside "data"), so that it is told as "busy".
BUSY_CODES = frozenset({"ModelAccountIpmRateLimitExceeded", "RateLimitExceeded", "QuotaExceeded", "ServerOverloaded"})
SERVER_ERROR_CODES = frozenset({"InternalServiceError"})
_CONTENT_FILTER_WORDS = re.compile(r"sensitive|content[ _-]?(?:filter|policy)|moderation", re.IGNORECASE)

# Names of request/response headers and parameters whose value is a credential; the name goes
# with the value ("Authorization: Bearer ...", "\"x-api-key\": \"...\"", "token=...").
_CREDENTIAL_NAMES = (
    r"(?:proxy-)?authorization|(?:set-)?cookie2?|x-api-key|api[_-]?key|apikey|x-auth-token|x-access-token"
    r"|ocp-apim-subscription-key|x-(?:amz|tos|goog|oss|cos|ms)-[\w-]+|x-[\w-]*-(?:key|token|secret|signature|credential)"
    r"|access[_-]?token|refresh[_-]?token|id[_-]?token|token|client[_-]?secret|secret|password|passwd"
    r"|signature|credential"
)
_QUOTE = r"(?:\\?[\"'])?"  # a name or value may be quoted, or quoted inside a JSON string (\")
_VALUE = (
    r"(?:\\?\"(?:[^\"\\]|\\(?!\"))*\\?\"|\\?'(?:[^'\\]|\\(?!'))*\\?'"  # "quoted" / 'quoted'
    r"|(?:(?:Bearer|Basic|Digest|Token|Negotiate|AWS4-HMAC-SHA256)\s+)?[^\s,;\"'}\]]+"  # [scheme] token
    r"(?:\s*;\s*[\w.-]+=[^\s,;\"'}\]]*)*)"  # cookie pairs: a=b; c=d
)
# A header dump, one per line: the whole line goes (a Digest or cookie value may hold spaces).
_HEADER_LINE = re.compile(rf"(?im)^[ \t]*{_QUOTE}(?:{_CREDENTIAL_NAMES}){_QUOTE}[ \t]*:[^\r\n]*\r?\n")
_HEADER = re.compile(rf"(?i)(?<![\w-]){_QUOTE}(?:{_CREDENTIAL_NAMES}){_QUOTE}\s*[:=]\s*(?:{_VALUE})?\s*[,&]?")
_BEARER = re.compile(r"\bBearer\s+[^\s\"',;]+|\bBasic\s+[A-Za-z0-9+/=]{8,}|\bToken\s+[\w.~+/=-]{16,}")
_API_KEY = re.compile(
    r"\b(?:sk|pk|rk|ak)-[A-Za-z0-9_\-]{8,}"  # OpenAI-style keys
    r"|\bAKLT[A-Za-z0-9+/=_-]{8,}|\bAKIA[0-9A-Z]{16}\b"  # Volcengine and AWS access key ids
    r"|\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+"  # JWTs
)
_URL_USERINFO = re.compile(r"(https?://)[^/\s@\"'<>]+@", re.IGNORECASE)
_URL_QUERY = re.compile(r"(https?:(?://|\\/\\/)[^\s?#\"'<>]+)[?#][^\s\"'<>]*", re.IGNORECASE)
_BARE_QUERY = re.compile(r"(?<=[\w/.])\?[\w.%-]+=[^\s\"'<>]*")  # "bucket.example/y.png?X-Tos-Signature=..."
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?)\]}])")
_REPEATED = re.compile(r"([,;:])(?:\s*[,;:])+")
_DANGLING = re.compile(r"[,;:]\s*(?=[.!?}\])]|$)|(?<=[{\[(])\s+")  # "key: ." "{ , }" left by a removal
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# Control characters but whitespace (folded), and bidi overrides: a terminal escape in a gateway's
# text would move the cursor in the operator's log, an override reorder what a member reads.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_secrets(text: object, secrets: Iterable[str] = ()) -> str:
    """`text` without credential headers (name and value), keys, bearer tokens, URL queries and fragments."""
    out = str(text)
    out = _HEADER_LINE.sub("", out)
    out = _URL_USERINFO.sub(r"\1", out)
    out = _URL_QUERY.sub(r"\1", out)
    out = _BARE_QUERY.sub("", out)
    out = _HEADER.sub(" ", out)
    out = _BEARER.sub("", out)
    out = _API_KEY.sub("", out)
    return replace_secrets(out, secrets, "")


GATEWAY_TIMEOUTS = (504, 524)  # a proxy in front gave up waiting (524: Cloudflare's): the request got through
SECRET_FRAGMENT = 12  # this many characters of a secret in a row are taken out too: a cut-off key is still a key
MIN_SECRET_LENGTH = 4  # shorter values are placeholders, and replacing them would garble text


def replace_secrets(text: str, secrets: Iterable[str], replacement: str) -> str:
    """`text` with every secret, and every run of `SECRET_FRAGMENT` or more of a secret's characters
    (an error page that echoes the key without its "sk-", or split by markup), replaced, in any
    case (a name read from a settings file is shown in capitals: a key pasted as one is a key)."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = re.compile(re.escape(secret), re.IGNORECASE).sub(lambda _: replacement, text)
        if len(secret) > SECRET_FRAGMENT:
            text = _replace_fragments(text, secret, replacement)
    return text


def _replace_fragments(text: str, secret: str, replacement: str) -> str:
    out, i = [], 0
    for found in _fragment_pattern(secret).finditer(text):  # C-speed search for any window of the secret
        if found.start() < i:
            continue  # inside a run already taken out
        end = found.end()
        while end < len(text) and text[found.start() : end + 1].lower() in secret.lower():
            end += 1
        out += [text[i : found.start()], replacement]
        i = end
    out.append(text[i:])
    return "".join(out)


@functools.lru_cache(maxsize=8)
def _fragment_pattern(secret: str) -> re.Pattern[str]:
    windows = {secret[i : i + SECRET_FRAGMENT] for i in range(len(secret) - SECRET_FRAGMENT + 1)}
    return re.compile("|".join(re.escape(window) for window in sorted(windows)), re.IGNORECASE)


def scrub(text: object, secrets: Iterable[str] = ()) -> str:
    """Presentable, loggable text: secrets, credential headers and URL queries gone, whitespace folded,
    at most 300 characters."""
    out = _SPACE.sub(" ", _CONTROL.sub("", strip_secrets(text, secrets)))
    out = _DANGLING.sub("", _REPEATED.sub(r"\1", _SPACE_BEFORE.sub(r"\1", out))).strip(" ,;:")
    if len(out) > MAX_MESSAGE_CHARS:
        out = out[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return out


def is_content_filter(code: str | None, message: str | None = None) -> bool:
    """True when a code or message says the content filter refused the prompt, an input or an output."""
    if code and code in CONTENT_FILTER_CODES:
        return True
    return bool(message and _CONTENT_FILTER_WORDS.search(message))


# A passing outage whatever its words say ("upstream moderation service unavailable"): only a
# content filter's code makes one of these a refusal.
_PASSING_STATUSES = frozenset({429, 502, 503, 504, 524})


def _refused_by_filter(status: int, code: str | None, message: str | None) -> bool:
    """A gateway error that is the content filter's refusal: by its code at any status, or by its
    words at a status that is not a passing outage's (a 400, or a gateway's own 500 around Ark's
    "may contain sensitive information")."""
    if code and code in CONTENT_FILTER_CODES:
        return True
    return status not in _PASSING_STATUSES and is_content_filter(None, message)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP-date; None if absent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


class GatewayError(Exception):
    """Anything that went wrong talking to the image gateway. `accepted`: it came after a 2xx
    answer began (the gateway may have generated and billed), so the call must not be repeated."""

    accepted = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(GatewayError):
    """No (complete) answer: refused, reset, DNS, TLS, body cut short. `unsent`: the connection
    never opened, so the gateway cannot have the request; only then is a generation retried."""

    def __init__(self, message: str, *, unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


class APITimeoutError(APIConnectionError):
    """The gateway did not answer within the client's timeout. Never retried: the request was
    sent, and the gateway may still make (and bill) the images."""


class InvalidResponseError(GatewayError):
    """A 2xx answer that is not a usable images response (non-JSON, truncated, no images)."""


class APIStatusError(GatewayError):
    """The gateway answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.error_type = error_type
        self.retry_after = retry_after

    @property
    def is_content_filter(self) -> bool:
        return _refused_by_filter(self.status, self.code, self.message)

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"HTTP {self.status}{code}: {self.message}"


class BadRequestError(APIStatusError):
    """400: the request was refused (parameters, or the content filter)."""


class AuthenticationError(APIStatusError):
    """401: the bot's API key is wrong or missing."""


class PermissionDeniedError(APIStatusError):
    """403, or an account code at any status: no access to the model, or the balance is exhausted."""


class NotFoundError(APIStatusError):
    """404, or a missing-model code at any status: unknown model or endpoint."""


class RateLimitError(APIStatusError):
    """429: rate limit or quota; retried with backoff."""


class InternalServerError(APIStatusError):
    """5xx: the gateway or the upstream failed; retried."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def _error_fields(body_text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(code, message, param, type) from an OpenAI/Ark error body, or Nones when it is not JSON."""
    try:
        body = json.loads(body_text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth (a hostile body)
        return None, None, None, None
    if not isinstance(body, dict):
        return None, None, None, None
    inner = body.get("error")
    if isinstance(inner, str):
        return None, inner, None, None
    source = inner if isinstance(inner, dict) else body
    return (
        _text(source.get("code")),
        _text(source.get("message")),
        _text(source.get("param")),
        _text(source.get("type")),
    )


def _error_class(status: int, code: str | None, message: str | None = None) -> type[APIStatusError]:
    """By the code where it names a missing model, an account problem or a refused key, else by
    the status: a 503 model_not_found is no passing outage, so it must not be retried nor told as
    "busy", and a 400 one is the operator's model id, not the member's request. A content filter's
    refusal is known by its code or its words (a gateway that wraps Ark's refusal in a 500 of its
    own code): never retried, whatever the status."""
    if code in MODEL_NOT_FOUND_CODES:
        return NotFoundError
    if code in ACCOUNT_CODES:
        return PermissionDeniedError
    if code in AUTH_CODES:
        return AuthenticationError
    if _refused_by_filter(status, code, message):  # a refusal of this prompt or image: no retry
        return BadRequestError
    return _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _non_json_text(body_text: str) -> str:
    text = _TAGS.sub(" ", body_text) if "<" in body_text else body_text
    text = _SPACE.sub(" ", text).strip()
    return text[:_HTML_SNIPPET_CHARS]


def status_of_code(code: str | None, default: int) -> int:
    """The HTTP status an error code stands for (SEEDREAM-API.md's table), else `default`."""
    if code in BUSY_CODES:
        return 429
    if code in SERVER_ERROR_CODES:
        return 500
    return default


def make_status_error(
    status: int | None, body_text: str, headers: Mapping[str, str], *, secrets: Iterable[str] = ()
) -> APIStatusError:
    """The one factory: an APIStatusError subclass for the code or `status` (see `_error_class`),
    with code/message from the body. `status` None: an error in a 200 answer, classed by its code
    (`status_of_code`), a bad request by default."""
    code, message, param, error_type = _error_fields(body_text)
    if status is None:
        status = status_of_code(code, 400)
    if message is None:  # secrets go before the text is cut, so no fragment of one is left
        message = _non_json_text(strip_secrets(body_text, secrets))
    message = scrub(message, secrets) or f"HTTP {status} with no error message"
    cls = _error_class(status, code, message)
    return cls(
        message,
        status=status,
        code=scrub(code, secrets)[:100] if code else None,
        param=scrub(param, secrets)[:100] if param else None,
        error_type=scrub(error_type, secrets)[:100] if error_type else None,
        retry_after=parse_retry_after(headers),
    )
