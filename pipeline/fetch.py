"""Bounded downloads of images (Discord attachments, gateway result URLs) and base64 decoding.

One primitive, :func:`download_to`, streams a body into any writable binary file object and
never reads more than ``max_bytes`` plus what aiohttp had buffered, whatever the server says.
Two thin wrappers choose where the bytes live:

* :func:`download` -> ``bytes`` (small bodies, simplest callers);
* :func:`download_spooled` -> a :class:`~pipeline.spool.Spool` that stays in memory while a
  shared :class:`~pipeline.spool.MemoryBudget` allows and is a temporary file otherwise, so
  that many concurrent large downloads keep the process RSS bounded. The caller finishes it
  into a file (and closes that) or closes it.

Both wrappers try again, twice, after a moment, when a try fails in a way another may mend (a 429
or 5xx, a connection that broke): a GET changes nothing at the server, and a result the gateway
has billed is not given up for one bad answer from its storage. All tries share ``timeout``.

Addresses (SSRF): a session from :func:`pipeline.addresses.guarded_session` refuses addresses
the gateway may not name (``FetchError("refused")``); :func:`download_to` follows redirects itself,
one request per hop, so every hop meets the check.

Result URLs are signed: nothing here ever puts a query string (or a fragment, or user info)
into an error message, and errors are raised ``from None`` so that aiohttp's own exception
text (which often carries the full URL) does not reach a logged traceback either.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp
import yarl

from pipeline.addresses import AddressRefused
from pipeline.spool import MemoryBudget, Spool

__all__ = [
    "FetchError",
    "decode_b64_image",
    "download",
    "download_spooled",
    "download_to",
    "scrub_url",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_TIMEOUT = 30.0  # seconds without a byte before a download is given up
RETRY_DELAYS = (0.5, 2.0)  # before the second and the third try
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_OVERSHOOT = 512 * 1024  # aiohttp's flow-controlled buffer plus one socket read, at most
MAX_REDIRECTS = 5  # hops a download follows (each one checked) before it gives up
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ALLOWED_SCHEMES = ("http", "https")
_WHITESPACE = b" \t\r\n\x0b\x0c"


class FetchError(Exception):
    """A download or decode that failed; ``message`` is short and never carries a query string.

    ``code``: "bad_scheme", "refused" (an address the session may not reach), "too_large",
    "http_status", "timeout", "connection", "not_image".
    ``status``: the HTTP status for "http_status", else None.
    """

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"FetchError(code={self.code!r}, message={self.message!r}, status={self.status!r})"


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


def scrub_url(url: str, *, max_len: int = 120) -> str:
    """``scheme://host[:port]/path`` without user info, query or fragment, shortened for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    shown = f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path
    return shown if len(shown) <= max_len else shown[: max_len - 3] + "..."


def _check_scheme(url: str) -> None:
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
    except ValueError:
        raise FetchError("bad_scheme", "not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise FetchError("bad_scheme", f"only http and https URLs can be fetched, not {scheme or 'none'!r}")
    if not has_host:
        raise FetchError("bad_scheme", "the URL has no host")


def _too_large(max_bytes: int, where: str) -> FetchError:
    return FetchError("too_large", f"the file at {where} is larger than {max_bytes} bytes")


async def download_to(
    session: aiohttp.ClientSession,
    url: str,
    fileobj: _Writable,
    *,
    max_bytes: int,
    timeout: float = 60.0,  # noqa: ASYNC109 - becomes aiohttp's ClientTimeout(total=...)
    idle_timeout: float = IDLE_TIMEOUT,
) -> int:
    """Stream ``url`` into ``fileobj``; return the number of bytes written.

    Only http/https (checked before any I/O). ``timeout`` is the total time for the request
    and the body; ``idle_timeout`` the longest wait for the connection or for the next bytes
    (a stalled server is given up early, not after the whole ``timeout``). A non-2xx status, a
    Content-Length over ``max_bytes`` (refused before the body is read), a body that grows past
    ``max_bytes`` (aborted at once: at most ``max_bytes + MAX_OVERSHOOT`` bytes are ever read),
    a timeout or a broken connection raise FetchError. On error ``fileobj`` may hold a partial
    body; the caller discards it. A ``fileobj`` with an ``expect(size)`` method hears the
    Content-Length before the body.

    Redirects are followed here, up to ``MAX_REDIRECTS``, one request per hop: each hop's URL is
    checked (http or https, a host) before it is requested, and a session from
    :func:`guarded_session` checks its address too ("refused": ``FetchError.code``).
    """
    _check_scheme(url)
    where = hop = scrub_url(url)
    deadline = time.monotonic() + timeout
    target: str | yarl.URL = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            left = max(deadline - time.monotonic(), 0.001)
            idle = min(idle_timeout, left)
            limits = aiohttp.ClientTimeout(total=left, sock_connect=idle, sock_read=idle)
            async with session.get(target, timeout=limits, allow_redirects=False) as resp:
                location = resp.headers.get("Location") if resp.status in REDIRECT_STATUSES else None
                if location is None:
                    return await _read_body(resp, fileobj, max_bytes=max_bytes, where=where)
                target = _next_hop(resp.url, location, where)
            hop = scrub_url(str(target))
    except FetchError:
        raise
    except TimeoutError:
        # aiohttp's ServerTimeoutError and friends are TimeoutError too: this comes first.
        raise FetchError("timeout", f"timed out fetching {where}") from None
    except aiohttp.InvalidURL:
        what = "is not a URL" if hop == where else "redirected to a URL"
        raise FetchError("bad_scheme", f"{where} {what} that cannot be fetched") from None
    except aiohttp.ClientResponseError as exc:
        raise FetchError("http_status", f"HTTP {exc.status} from {where}", status=exc.status) from None
    except (aiohttp.ClientError, OSError) as exc:
        refused = exc if isinstance(exc, AddressRefused) else getattr(exc, "os_error", None)
        if isinstance(refused, AddressRefused):
            via = "" if hop == where else f" (a redirect from {where})"
            raise FetchError("refused", f"refused to fetch {hop}{via}: {refused.strerror}") from None
        # The class name only: aiohttp's message can contain the full URL.
        raise FetchError("connection", f"connection failed ({type(exc).__name__}) fetching {where}") from None
    raise FetchError("http_status", f"too many redirects from {where}")


def _next_hop(current: yarl.URL, location: str, where: str) -> yarl.URL:
    """The URL a redirect names, checked as the first one was (http or https, with a host)."""
    try:
        target = current.join(yarl.URL(location))
        ok = target.scheme in _ALLOWED_SCHEMES and bool(target.host)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise FetchError("bad_scheme", f"{where} redirected to a URL that cannot be fetched")
    return target.with_fragment(None)


async def _read_body(
    resp: aiohttp.ClientResponse, fileobj: _Writable, *, max_bytes: int, where: str
) -> int:
    if not 200 <= resp.status < 300:
        raise FetchError("http_status", f"HTTP {resp.status} from {where}", status=resp.status)
    if resp.content_length is not None and resp.content_length > max_bytes:
        resp.close()  # drop the connection rather than drain the body
        raise _too_large(max_bytes, where)
    expect = getattr(fileobj, "expect", None)
    if expect is not None and resp.content_length is not None:
        expect(resp.content_length)
    total = 0
    # Whatever has arrived, as aiohttp holds it (its buffer is bounded by flow control): no
    # re-slicing into fixed-size pieces, which would copy every byte once more.
    async for chunk in resp.content.iter_any():
        total += len(chunk)
        if total > max_bytes:
            resp.close()
            raise _too_large(max_bytes, where)
        fileobj.write(chunk)
    return total


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float = 60.0,  # noqa: ASYNC109 - becomes aiohttp's ClientTimeout(total=...)
    idle_timeout: float = IDLE_TIMEOUT,
) -> bytes:
    """The whole body as bytes; see :func:`download_to` for the rules and errors."""

    async def attempt(time_left: float) -> bytes:
        parts: list[bytes] = []

        class _Collect:
            def write(self, data: bytes, /) -> None:
                parts.append(data)

        await download_to(session, url, _Collect(), max_bytes=max_bytes, timeout=time_left, idle_timeout=idle_timeout)
        return b"".join(parts)

    return await _retrying(attempt, within=timeout, url=url)


async def download_spooled(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    budget: MemoryBudget,
    timeout: float = 60.0,  # noqa: ASYNC109 - becomes aiohttp's ClientTimeout(total=...)
    idle_timeout: float = IDLE_TIMEOUT,
    slots: asyncio.Semaphore | None = None,
) -> Spool:
    """The body in a :class:`~pipeline.spool.Spool`: in memory within `budget`, else on disk.

    The caller owns it (finishes it into a file, or closes it); nothing is left behind if the
    download fails (a failed try's spool is closed before the next). Writes to disk go to the
    OS page cache and are not offloaded to a thread. Each try holds one of `slots` (the waits
    between tries hold none); `timeout` runs from the first try.
    """

    async def attempt(time_left: float) -> Spool:
        spool = Spool(budget)
        try:
            await download_to(session, url, spool, max_bytes=max_bytes, timeout=time_left, idle_timeout=idle_timeout)
        except BaseException:
            spool.close()
            raise
        return spool

    return await _retrying(attempt, within=timeout, url=url, slots=slots)


async def _retrying(
    attempt: Callable[[float], Awaitable[T]], *, within: float, url: str, slots: asyncio.Semaphore | None = None
) -> T:
    """`attempt(time left)`, tried again after `RETRY_DELAYS` while it fails in a way another try
    may mend and the deadline allows. Each try holds one of `slots`; the deadline starts with
    the first, and a later try's wait in line for a slot is not counted against it (other
    downloads took that time, not this one's server)."""
    deadline: float | None = None
    for delay in (*RETRY_DELAYS, None):
        queued = time.monotonic()
        async with slots or contextlib.nullcontext():
            deadline = time.monotonic() + within if deadline is None else deadline + time.monotonic() - queued
            try:
                return await attempt(max(deadline - time.monotonic(), 0.001))
            except FetchError as error:
                if delay is None or not _worth_another_try(error) or time.monotonic() + delay >= deadline:
                    raise
                log.info("fetching %s again in %.1f s: %s", scrub_url(url), delay, error.message)
        await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last try returns or raises")


def _worth_another_try(error: FetchError) -> bool:
    return error.code == "connection" or (error.code == "http_status" and error.status in RETRY_STATUSES)


def decode_b64_image(b64: str, *, max_bytes: int) -> bytes:
    """Strictly decode base64 image data (``b64_json``, or a ``data:image/...;base64,`` URI).

    Whitespace anywhere is ignored. The decoded size is computed from the length and refused
    (``too_large``) before anything is decoded. Anything that is not valid padded base64 of the
    standard alphabet raises FetchError("not_image"). The result is not checked to be an
    image: pass it to ``pipeline.images.inspect_image``.
    """
    text = b64
    if text[:5].lower() == "data:":
        header, sep, text = text.partition(",")
        if not sep or not header.lower().endswith(";base64") or not header[5:].lower().startswith("image/"):
            raise FetchError("not_image", "the data URI is not base64 image data")
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise FetchError("not_image", "the image data is not valid base64") from None
    raw = raw.translate(None, _WHITESPACE)
    if not raw or len(raw) % 4:
        raise FetchError("not_image", "the image data is not valid base64")
    decoded_size = len(raw) // 4 * 3 - raw[-2:].count(b"=")
    if decoded_size > max_bytes:
        raise FetchError("too_large", f"the image data is {decoded_size} bytes; the limit is {max_bytes}")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise FetchError("not_image", "the image data is not valid base64") from None
