"""Scripted misbehaviour: each Fault is consumed by one generation request."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CODES = {
    400: "InvalidParameter",
    401: "AuthenticationError",
    403: "AccountOverdueError",
    404: "model_not_found",
    429: "RateLimitExceeded",
    500: "InternalServiceError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_SENSITIVE = "The request failed because the {} may contain sensitive information."
DEFAULT_MESSAGES = {
    "InvalidParameter": "The parameter specified in the request is not valid.",
    "OutputImageSensitiveContentDetected": _SENSITIVE.format("output image"),
    "InputImageSensitiveContentDetected": _SENSITIVE.format("input image"),
    "InputTextSensitiveContentDetected": _SENSITIVE.format("input text"),
    "AuthenticationError": "The API key in the request is missing or invalid.",
    "AccountOverdueError": "The request failed because your account has an overdue balance.",
    "model_not_found": "The requested model does not exist or you do not have access to it.",
    "RateLimitExceeded": "The request has exceeded the rate limit. Please try again later.",
    "InternalServiceError": "The service encountered an unexpected internal error.",
}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Fault:
    """One scripted behaviour. Build with the class methods, queue with ImageGatewayDouble.script()."""

    kind: str
    http_status: int = 200
    code: str | None = None
    message: str | None = None
    param: str | None = None
    retry_after: float | None = None
    seconds: float | None = None
    failed: tuple[int, ...] = ()
    count: int | None = None

    @classmethod
    def status(
        cls,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> Fault:
        """An error answer with the documented JSON body; Retry-After sent when given."""
        code = code or DEFAULT_CODES.get(status, "UnknownError")
        message = message or DEFAULT_MESSAGES.get(code, f"Request failed with status {status}.")
        return cls(
            "status", http_status=status, code=code, message=message, param=param, retry_after=retry_after
        )

    @classmethod
    def hang(cls) -> Fault:
        """Never answer (until the double closes): the client must time out."""
        return cls("hang")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally, `seconds` later than usual."""
        return cls("delay", seconds=seconds)

    @classmethod
    def reset(cls) -> Fault:
        """Generate (and bill) the images, then drop the connection mid-body (after the first SSE event)."""
        return cls("reset")

    @classmethod
    def truncated_json(cls) -> Fault:
        """A 200 whose JSON body is cut in half."""
        return cls("truncated")

    @classmethod
    def html(cls, status: int = 502, body: str = HTML_502) -> Fault:
        """A proxy's HTML error page instead of JSON."""
        return cls("html", http_status=status, message=body)

    @classmethod
    def empty_data(cls, code: str | None = None, message: str | None = None) -> Fault:
        """A 200 with "data": [] and nothing billed; with `code`, an "error" object beside the
        empty list (302.ai's page lists "error" as an optional field of the answer)."""
        if code is not None:
            message = message or DEFAULT_MESSAGES.get(code, "The request failed.")
        return cls("empty", code=code, message=message)

    @classmethod
    def missing_file(cls) -> Fault:
        """Success, but the returned URLs answer 404 (expired or never stored)."""
        return cls("missing_file")

    @classmethod
    def damaged_file(cls) -> Fault:
        """Success, but the file behind each URL is the first half of the image (served whole,
        with its own Content-Length): a result that is not a complete image."""
        return cls("damaged_file")

    @classmethod
    def stream_error(cls, code: str, after: int = 0, message: str | None = None) -> Fault:
        """A streamed answer that fails as a whole after `after` images: an "error" event naming
        no image (an overdue account, the service failing), then [DONE]; only those images billed."""
        message = message or DEFAULT_MESSAGES.get(code, "The request failed.")
        return cls("stream_error", code=code, message=message, count=after)

    @classmethod
    def partial(cls, failed: tuple[int, ...] | list[int], count: int | None = None) -> Fault:
        """Moderation failures at these output indexes (and optionally force the image count)."""
        return cls("partial", failed=tuple(failed), count=count)
