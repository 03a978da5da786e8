"""ImageClient: one POST /images/generations per job, with retries, url|b64 results and SSE streaming.

Retries and time (IMAGE_MAX_RETRIES, IMAGE_TIMEOUT_SECONDS):

* Retried: 429, every 5xx but a generation's 504 and 524, and a connection that never opened
  (refused, DNS, TLS: the gateway cannot have the request). Never a 429 or 5xx whose code names a
  missing model or an account problem (errors.py classifies those by the code: waiting does not
  fix them), never a generation's 504 or 524 (a proxy's "gateway timeout": the gateway behind it
  had the request and may still make and bill the images), never another 4xx,
  never an answer that began (a 2xx may already be generating, and billed), never a connection
  dropped after the request was sent, and never a timeout: the gateway may still make and bill
  the images, and a second call could pay twice.
* The one exception to "never another 4xx": a 400 or 422 to a streamed request, before any answer
  began, is asked once more without "stream" (see `ImageClient._generate`).
* The timeout is one deadline for the whole call: every attempt and every backoff wait. A retry
  whose wait would pass the deadline is not made; the last error is raised instead.
* A stream (SSE) is held to the deadline only until its first image (or failed image, or its
  completion); from then on each must follow the previous one within the same number of seconds
  (an idle timeout). A long /series stream that keeps delivering images is not cut in the middle
  (its images are billed either way), while a gateway that goes silent is still given up, and so
  is one that only sends events that bring no image (progress, keep-alives, types we do not
  know): they do not restart the idle time, or such a stream could hold the member's place in the
  queue, and their reservation, for ever.

Size: an answer is read in pieces and counted as it is decompressed (a small gzip body can unpack
into hundreds of MB), and refused as an InvalidResponseError past what the largest legitimate one
needs: per image asked for, the largest result the bot takes (`max_result_bytes`, MAX_RESULT_MB)
as base64 with room for JSON escapes and the other fields (`image_text_limit`); the same for one
line or event of a stream; `MODEL_LIST_LIMIT` for the model list. Like any unusable 2xx answer it
is not retried (the gateway may have made and billed the images).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

from image_gateway.catalog import ModelSpec
from image_gateway.errors import (
    GATEWAY_TIMEOUTS,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    GatewayError,
    InternalServerError,
    InvalidResponseError,
    RateLimitError,
    make_status_error,
    scrub,
)
from image_gateway.presets import Preset
from image_gateway.sse import EventTooLarge, SSEParser

log = logging.getLogger(__name__)

MiB = 1024 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
DEFAULT_MAX_RESULT_BYTES = 64 * MiB  # the pipeline's default max_result_bytes (MAX_RESULT_MB=64)
MODEL_LIST_LIMIT = 4 * MiB  # a list of a thousand models is well under 1 MB
_SNIPPET_SCAN = 64 * 1024  # of a non-JSON answer, this much is scrubbed before a snippet is cut
# Time is kept by asyncio deadlines (see the module docstring), not by aiohttp, whose session
# default (300 s total) would otherwise apply.
_NO_AIOHTTP_TIMEOUT = aiohttp.ClientTimeout(total=None)


def image_text_limit(max_result_bytes: int) -> int:
    """The most one image may take in an answer or a stream event: the largest result the bot
    takes, as base64 (4/3), an eighth more for JSON escapes (some encoders write "/" as "\\/") and
    a MiB for the other fields (url, size, a revised prompt)."""
    b64 = -(-max_result_bytes // 3) * 4
    return b64 + b64 // 8 + MiB


def _images_asked(req: GenerationRequest) -> int:
    """How many images one call's answer may carry: "n", or a series' max_images."""
    return max(req.n, req.max_images or 0, 1)


def _snippet(text: str, secrets: tuple[str, ...], limit: int) -> str:
    """At most `limit` characters of `text` for a log line: secrets go first, then the cut, so
    the cut never leaves a fragment of a key the scrubber would no longer recognise."""
    return scrub(text[:_SNIPPET_SCAN], secrets)[:limit]


@dataclass
class GenerationRequest:
    model: ModelSpec
    prompt: str
    size: str | None = None
    n: int = 1
    seed: int | None = None
    guidance_scale: float | None = None
    images: list[str] = field(default_factory=list)  # data URIs or URLs
    max_images: int | None = None  # series: sequential_image_generation=auto
    response_format: str = "url"
    output_format: str | None = None
    watermark: bool = False
    stream: bool = False


@dataclass
class GeneratedImage:
    index: int
    url: str | None
    b64_json: str | None
    size: str | None


@dataclass
class FailedImage:
    index: int
    code: str
    message: str
    error: Exception | None = field(default=None, compare=False)  # a whole call that failed (parallel calls)


@dataclass
class Completed:
    billed: int  # usage.generated_images, else the number of GeneratedImage


Event = GeneratedImage | FailedImage | Completed


def encode_body(body: dict[str, Any]) -> bytes:
    """The request body as sent (JSON; its Content-Type header is the client's)."""
    return json.dumps(body).encode()


def build_body(req: GenerationRequest, preset: Preset) -> dict[str, Any]:
    """The JSON body for one call: only the fields this model and gateway take."""
    spec = req.model
    body: dict[str, Any] = {"model": spec.id, "prompt": req.prompt}
    if req.size is not None:
        body["size"] = req.size
    if req.n > 1 and preset.supports_n:
        body["n"] = req.n
    if spec.supports_seed and req.seed is not None:
        body["seed"] = req.seed
    if spec.supports_guidance and req.guidance_scale is not None:
        body["guidance_scale"] = req.guidance_scale
    if req.images:
        body["image"] = req.images[0] if len(req.images) == 1 else list(req.images)
    if spec.supports_series and req.max_images is not None:
        body["sequential_image_generation"] = "auto"
        body["sequential_image_generation_options"] = {"max_images": req.max_images}
    elif spec.supports_series and req.images:
        body["sequential_image_generation"] = "disabled"  # references without a series: one image
    wanted = req.response_format
    body["response_format"] = wanted if wanted in spec.response_formats else spec.response_formats[0]
    if len(spec.output_formats) > 1 and req.output_format in spec.output_formats:
        body["output_format"] = req.output_format
    if spec.supports_watermark:
        body["watermark"] = req.watermark
    if req.stream and preset.supports_stream:
        body["stream"] = True
    return body


def parse_images_json(payload: bytes | bytearray, *, secrets: tuple[str, ...] = ()) -> list[Event]:
    """Events from a non-streaming answer: one per data item, then Completed."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        snippet = _snippet(payload[:_SNIPPET_SCAN].decode("utf-8", errors="replace"), secrets, 200)
        raise InvalidResponseError(f"gateway answered with something that is not JSON: {snippet!r}") from None
    if not isinstance(body, dict):
        raise InvalidResponseError("gateway answered JSON that is not an object")
    data = body.get("data")
    if not (isinstance(data, list) and data) and _has_error(body):
        # Some gateways answer 200 with an error body, and 302.ai's page lists "error" beside
        # "data": with no image, treat it like the status its code stands for (400 by default).
        raise make_status_error(None, payload.decode("utf-8", errors="replace"), {}, secrets=secrets)
    if not isinstance(data, list):
        raise InvalidResponseError("gateway answer has no 'data' list")
    events: list[Event] = [_item_event(i, item, secrets) for i, item in enumerate(data)]
    if not events:
        raise InvalidResponseError("gateway answered without any image")
    generated = sum(isinstance(e, GeneratedImage) for e in events)
    events.append(Completed(billed=_billed(body.get("usage"), generated)))
    return events


def _has_error(body: dict[str, Any]) -> bool:
    """An "error" object or text in the answer; an empty one (null, {}, "") is no error, as on items."""
    error = body.get("error")
    return isinstance(error, dict | str) and bool(error)


def _item_event(index: int, item: object, secrets: tuple[str, ...]) -> GeneratedImage | FailedImage:
    if not isinstance(item, dict):
        return FailedImage(index, "InvalidItem", "the gateway sent an item that is not an object")
    if _stated_error(item.get("error")):  # "error": null or {"code": null} (beside every item) is none
        return _failed(index, item["error"], secrets)
    url, b64 = item.get("url"), item.get("b64_json")
    if not (isinstance(url, str) and url) and not (isinstance(b64, str) and b64):
        return FailedImage(index, "EmptyItem", "the gateway sent an item without url or b64_json")
    size = item.get("size")
    return GeneratedImage(
        index=index,
        url=url if isinstance(url, str) and url else None,
        b64_json=b64 if isinstance(b64, str) and b64 else None,
        size=size if isinstance(size, str) else None,
    )


def _failed(index: int, error: object, secrets: tuple[str, ...]) -> FailedImage:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
    else:
        code, message = None, error
    return FailedImage(index, scrub(code or "UnknownError", secrets)[:100], scrub(message or "", secrets))


def _stated_error(error: object) -> object:
    """An event's error if it says something (a code or a message); None for an empty or null
    one ("error": {"code": null}) that some gateways put beside every event."""
    if isinstance(error, dict):
        return error if error.get("code") or error.get("message") else None
    return error or None


def _billed(usage: object, generated: int) -> int:
    if isinstance(usage, dict):
        count = usage.get("generated_images")
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            return count
    return generated


class _StreamState:
    """Turns parsed SSE events into our events; remembers what a truncated stream still proves."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self.generated = 0
        self.seen = 0
        self.billed: int | None = None
        self.done = False
        self.steps = 0  # images, failed images and completions so far: what restarts the idle time
        self.indexes: set[int] = set()  # the images told of so far, by image_index

    def handle(self, name: str, data: str) -> GeneratedImage | FailedImage | None:
        if data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            payload = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            log.warning(
                "gateway stream: skipped an event that is not JSON: %s", _snippet(data, self.secrets, 100)
            )
            return None
        if not isinstance(payload, dict):
            return None
        kind = str(payload.get("type") or name)
        if kind.endswith("completed"):
            self.billed = _billed(payload.get("usage"), self.generated)
            self.steps += 1
            return None
        stated = payload.get("image_index")
        index = stated if isinstance(stated, int) and not isinstance(stated, bool) else self.seen
        error = _stated_error(payload.get("error"))
        failed = kind.endswith("partial_failed") or bool(error and "image_index" in payload)
        if not failed and error:
            # An error naming no image (SEEDREAM-API.md documents only partial_failed per image):
            # the whole request failed, as the same error without a stream would say (its code
            # decides the class: an overdue account is the operator's to fix, not an image lost).
            detail = error if isinstance(error, dict) else {"message": str(error)}
            raise make_status_error(500, json.dumps({"error": detail}), {}, secrets=self.secrets)
        if not (failed or kind.endswith("partial_succeeded")):
            return None  # unknown event types (progress, keep-alive) are ignored
        if index in self.indexes:
            # The same image told twice (a retransmission, or a failure after its success): the
            # first word on it stands. Counted again, it would be posted and charged twice, or
            # called refused, and take the place of the request's last image.
            log.warning("gateway stream: skipped a second event for image %d", index)
            return None
        self.indexes.add(index)
        if failed:
            self.seen += 1
            self.steps += 1
            return _failed(index, error, self.secrets)
        event = _item_event(index, payload, self.secrets)
        self.seen += 1
        self.steps += 1
        self.generated += isinstance(event, GeneratedImage)
        return event

    def completed(self) -> Completed:
        if self.seen == 0 and self.billed is None:
            raise InvalidResponseError("gateway stream ended without any image")
        return Completed(billed=self.generated if self.billed is None else self.billed)


class ImageClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        preset: Preset,
        *,
        base_url: str | None = None,
        api_key: str,
        timeout: float = 600.0,
        max_retries: int = 3,
        backoff_cap: float = 8.0,
        retry_after_cap: float = 60.0,
        backoff_base: float = 0.5,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        max_calls: int | None = None,
    ) -> None:
        url = (base_url or preset.base_url).rstrip("/")
        if not url:
            raise ValueError(f"gateway preset {preset.name!r} needs a base URL")
        self._session = session
        self._preset = preset
        self._base_url = url
        self._api_key = api_key
        self._secrets = (api_key,) if api_key else ()
        self._timeout = timeout  # seconds: the deadline of a whole call (see the module docstring)
        self._max_retries = max_retries
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._backoff_base = backoff_base
        self._image_limit = image_text_limit(max_result_bytes)  # of an answer, per image (module docstring)
        self._sleep = sleep
        self._stream_refused = False  # the gateway refused "stream" (see `_generate`)
        # Generation calls in flight, all requests together (MAX_CONCURRENT_REQUESTS): a count on a
        # gateway without "n" is one call per image, and the account's own limit counts calls.
        self._calls: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Semaphore(max_calls) if max_calls else contextlib.nullcontext()
        )

    @property
    def preset(self) -> Preset:
        return self._preset

    # -- public ----------------------------------------------------------------------------------

    async def events(self, req: GenerationRequest) -> AsyncIterator[Event]:
        """GeneratedImage / FailedImage as they come, then Completed (always last). Several
        images are one call with "n" where the gateway takes it, else one call per image, merged;
        also one call per image for a fixed seed, which "n" would give every image (`_one_of`)."""
        if req.n > 1 and (not self._preset.supports_n or _has_fixed_seed(req)):
            async for event in self._fan_out(req):
                yield event
            return
        async with self._calls:
            async for event in self._generate(req):
                yield event

    async def list_models(self) -> list[str]:
        """Model ids from GET {base}/models (the OpenAI list shape)."""
        payload = await self._with_retries(self._get_models)
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            raise InvalidResponseError("model list is not JSON") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise InvalidResponseError("model list has no 'data' list")
        return [item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]

    # -- one call --------------------------------------------------------------------------------

    async def _generate(self, req: GenerationRequest) -> AsyncIterator[Event]:
        """One generation. "stream" is our judgement for some presets, not in every gateway's
        page (aiearth's and xmsmartlink's do not document it), and a gateway may refuse it with a
        400 or 422 that does not name it. Such a refusal comes before any answer, so nothing was
        made or billed: the request is asked once more without "stream" (once, never after an
        answer began, never for the content filter). This process then stops asking the gateway
        to stream if the refusal named "stream", or if the plain request was taken (see
        `_without_stream`)."""
        if req.stream and self._stream_refused:
            req = replace(req, stream=False)
        deadline = self._deadline()  # one for both calls: the retry without "stream" gets no more time
        yielded = False
        try:
            async for event in self._call(req, deadline):
                yielded = True
                yield event
            return
        except APIStatusError as error:
            if yielded or not self._may_be_refusing_stream(req, error):
                raise
            refusal = error
        async for event in self._without_stream(req, refusal, deadline):
            yield event

    def _may_be_refusing_stream(self, req: GenerationRequest, error: APIStatusError) -> bool:
        """True when `error` may be the gateway refusing "stream": the request carried it, no
        answer began, and it is a refusal of the request (400/422) that names "stream" or at least
        is not the content filter's, which would only refuse the same prompt a second time."""
        if error.accepted or "stream" not in build_body(req, self._preset) or not _refuses_the_request(error):
            return False
        return _names_stream(error) or not error.is_content_filter

    async def _without_stream(
        self, req: GenerationRequest, refusal: APIStatusError, deadline: float
    ) -> AsyncIterator[Event]:
        """The one call again without "stream". A refusal that named "stream" is remembered at
        once; any other only once the plain request is taken (an answer began), which shows it
        was "stream" the gateway refused and not, say, the size, which the plain call refuses too
        and which must not stop this process streaming."""
        if _names_stream(refusal):
            self._refuse_stream_from_now_on(refusal)
        else:
            log.warning(
                "gateway %s refused a streamed request (%s); asking once more without \"stream\"",
                self._preset.name,
                scrub(refusal, self._secrets),
            )
        try:
            async for event in self._call(replace(req, stream=False), deadline):
                self._refuse_stream_from_now_on(refusal)
                yield event
        except GatewayError as error:
            if error.accepted:
                self._refuse_stream_from_now_on(refusal)
            raise

    def _refuse_stream_from_now_on(self, refusal: APIStatusError) -> None:
        if self._stream_refused:
            return
        self._stream_refused = True
        log.warning(
            "gateway %s refused \"stream\" (%s); asking for plain JSON answers from now on",
            self._preset.name,
            scrub(refusal, self._secrets),
        )

    def _headers(self, *, stream: bool) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream, application/json" if stream else "application/json",
        }

    async def _call(self, req: GenerationRequest, deadline: float) -> AsyncIterator[Event]:
        body = build_body(req, self._preset)
        # Reference images are data URIs of up to 10 x 10 MB: serialising them is 0.3-1.8 s of CPU,
        # done in a worker thread so that no other member's command waits for it.
        payload = await asyncio.to_thread(encode_body, body) if req.images else encode_body(body)
        url = f"{self._base_url}/images/generations"
        attempt = 0
        while True:
            accepted = False  # a 2xx began: the gateway may have generated (and billed)
            try:
                async with asyncio.timeout_at(deadline):
                    resp = await self._session.post(
                        url, data=payload, headers=self._headers(stream="stream" in body), timeout=_NO_AIOHTTP_TIMEOUT
                    )
                async with resp:
                    async with asyncio.timeout_at(deadline):
                        await self._raise_for_status(resp)
                    accepted = True
                    if resp.content_type == "text/event-stream":
                        async for event in self._read_stream(resp, deadline):
                            yield event
                    else:
                        limit = _images_asked(req) * self._image_limit + MiB
                        async with asyncio.timeout_at(deadline):
                            payload = await _read_capped(resp, limit, "answer")
                        for event in parse_images_json(payload, secrets=self._secrets):
                            yield event
                    return
            except (GatewayError, TimeoutError, aiohttp.ClientError) as exc:
                error = self._as_gateway_error(exc)
            # Once a 2xx answer began, a retry would generate (and be billed) a second time.
            error.accepted = accepted
            if accepted or not self._retryable(error, unsent_only=True) or attempt >= self._max_retries:
                raise error
            if not await self._backoff(attempt, error, deadline):
                raise error
            attempt += 1

    def _deadline(self) -> float:
        """When the whole call (every attempt and backoff wait) must be over, in loop time."""
        return asyncio.get_running_loop().time() + self._timeout

    async def _raise_for_status(self, resp: aiohttp.ClientResponse) -> None:
        if resp.status < 400:
            return
        raw = await resp.content.read(_ERROR_BODY_LIMIT)
        raise make_status_error(
            resp.status, raw.decode("utf-8", errors="replace"), resp.headers, secrets=self._secrets
        )

    async def _read_stream(self, resp: aiohttp.ClientResponse, deadline: float) -> AsyncIterator[Event]:
        """Events as they arrive. Until the first image (or failure, or completion) the call's
        deadline applies; after it, each must come within `timeout` seconds of the previous one;
        other events do not restart that time (see the module docstring). The time our consumer
        spends on an event is not counted against the gateway."""
        loop = asyncio.get_running_loop()
        parser = SSEParser(limit=self._image_limit)
        state = _StreamState(self._secrets)
        wait_until = deadline
        steps = 0
        try:
            while not state.done:
                try:
                    async with asyncio.timeout_at(wait_until):
                        chunk = await resp.content.readany()
                except TimeoutError:
                    if wait_until == deadline:
                        raise APITimeoutError(f"the gateway sent no image within {self._timeout:g} s") from None
                    silent = f"the gateway stream went silent (no image) for {self._timeout:g} s"
                    raise APITimeoutError(silent) from None
                if not chunk:  # end of stream: an unterminated last event still counts
                    for sse in parser.close():
                        event = state.handle(sse.event, sse.data)
                        if event is not None:
                            yield event
                    break
                for sse in parser.feed(chunk):
                    event = state.handle(sse.event, sse.data)
                    if event is not None:
                        yield event
                parser.check()  # a line over the limit after this chunk's events
                if state.steps != steps:
                    steps = state.steps
                    wait_until = loop.time() + self._timeout
        except EventTooLarge as exc:
            raise InvalidResponseError(f"gateway stream: {exc}") from None
        yield state.completed()

    async def _get_models(self, deadline: float) -> bytes:
        async with asyncio.timeout_at(deadline):
            async with self._session.get(
                f"{self._base_url}/models", headers=self._headers(stream=False), timeout=_NO_AIOHTTP_TIMEOUT
            ) as resp:
                await self._raise_for_status(resp)
                return await _read_capped(resp, MODEL_LIST_LIMIT, "model list")

    # -- retries ---------------------------------------------------------------------------------

    async def _with_retries(self, call: Callable[[float], Awaitable[bytes]]) -> bytes:
        deadline = self._deadline()
        attempt = 0
        while True:
            try:
                return await call(deadline)
            except (GatewayError, TimeoutError, aiohttp.ClientError) as exc:
                error = self._as_gateway_error(exc)
            # A GET changes nothing at the gateway: any connection failure may be retried.
            if not self._retryable(error, unsent_only=False) or attempt >= self._max_retries:
                raise error
            if not await self._backoff(attempt, error, deadline):
                raise error
            attempt += 1

    def _as_gateway_error(self, exc: Exception) -> GatewayError:
        """Every failure of one call as the typed error tree (scrubbed of the key)."""
        if isinstance(exc, GatewayError):
            return exc
        if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is a TimeoutError too
            return APITimeoutError(f"the gateway did not answer within {self._timeout:g} s")
        unsent = isinstance(exc, aiohttp.ClientConnectorError)  # refused, DNS, TLS: nothing was sent
        detail = str(exc) or type(exc).__name__  # "Cannot connect to host ... [Connect call failed ...]"
        return APIConnectionError(scrub(f"connection to the gateway failed: {detail}", self._secrets), unsent=unsent)

    @staticmethod
    def _retryable(error: GatewayError, *, unsent_only: bool) -> bool:
        """429 and 5xx, by class (a code naming a missing model or an account problem makes even a
        503 a NotFoundError or PermissionDeniedError: see errors.make_status_error); a connection
        error (with `unsent_only`, a generation: only one whose connection never opened, since a
        request dropped after it was sent may still be made and billed); never a timeout (see the
        module docstring)."""
        if isinstance(error, APIStatusError):
            if unsent_only and error.status in GATEWAY_TIMEOUTS:
                return False  # a proxy gave up waiting: the gateway behind it may still make and bill them
            return isinstance(error, RateLimitError | InternalServerError)
        if isinstance(error, APITimeoutError):
            return False
        return isinstance(error, APIConnectionError) and (error.unsent or not unsent_only)

    async def _backoff(self, attempt: int, error: GatewayError, deadline: float) -> bool:
        """Wait before retry `attempt + 1`; False (no wait) when the wait would pass the deadline.
        Retry-After (capped) is waited, plus up to a backoff step more at random: every request a
        burst got a 429 for would otherwise come back at the same moment and meet another."""
        backoff = min(self._backoff_base * 2**attempt, self._backoff_cap)
        delay = backoff * (1 - 0.25 * random.random())
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = min(retry_after, self._retry_after_cap) + backoff * random.random()
        if asyncio.get_running_loop().time() + delay >= deadline:
            log.warning(
                "gateway %s: %s; no retry: waiting %.2f s would pass the %g s timeout",
                self._preset.name,
                scrub(error, self._secrets),
                delay,
                self._timeout,
            )
            return False
        log.warning(
            "gateway %s: %s; retry %d/%d in %.2f s",
            self._preset.name,
            scrub(error, self._secrets),
            attempt + 1,
            self._max_retries,
            delay,
        )
        await self._sleep(delay)
        return True

    # -- n single calls on a gateway without "n" -----------------------------------------------

    async def _fan_out(self, req: GenerationRequest) -> AsyncIterator[Event]:
        queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

        async def run(single: GenerationRequest) -> None:
            try:
                async with self._calls:
                    async for event in self._generate(single):
                        await queue.put(("event", event))
            except Exception as exc:  # handed to the consumer below, never lost
                await queue.put(("error", exc))
            finally:
                await queue.put(("end", None))

        tasks = [asyncio.create_task(run(_one_of(req, k))) for k in range(req.n)]
        errors: list[GatewayError] = []
        billed = next_index = 0
        running = len(tasks)
        try:
            while running:
                kind, item = await queue.get()
                if kind == "end":
                    running -= 1
                elif kind == "error":
                    if not isinstance(item, GatewayError):
                        raise item  # type: ignore[misc]  # a bug, not a gateway failure
                    errors.append(item)
                elif isinstance(item, Completed):
                    billed += item.billed
                elif isinstance(item, GeneratedImage | FailedImage):
                    yield replace(item, index=next_index)
                    next_index += 1
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if len(errors) == len(tasks) and next_index == 0:
            raise errors[0]
        for error in errors:
            log.warning("gateway %s: one of %d parallel calls failed: %s", self._preset.name, req.n, error)
            yield FailedImage(next_index, _error_code(error), scrub(error, self._secrets), error=error)
            next_index += 1
        yield Completed(billed=billed)


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytearray:
    """The body, decompressed, as it comes; InvalidResponseError once it passes `limit` bytes
    (aiohttp bounds each decompressed piece, not the whole)."""
    body = bytearray()
    async for chunk in resp.content.iter_any():
        if len(body) + len(chunk) > limit:
            raise InvalidResponseError(f"the gateway's {what} is over {limit:,} bytes; not read further")
        body += chunk
    return body


MAX_SEED = 2_147_483_647


_STREAM_WORD = re.compile(r"(?<![a-z_])stream(?![a-z_])", re.IGNORECASE)  # not "upstream", not "stream_options"


def _refuses_the_request(error: APIStatusError) -> bool:
    """A 400 or 422 about the request's fields. Not one whose code names a missing model or the
    account: errors.py makes those NotFoundError or PermissionDeniedError whatever the status, and
    asking without "stream" cannot help them."""
    return isinstance(error, BadRequestError) or (type(error) is APIStatusError and error.status == 422)


def _names_stream(error: APIStatusError) -> bool:
    """A 400 about the "stream" parameter (Ark names it in `param`; others in the message)."""
    return error.param == "stream" or _STREAM_WORD.search(error.message or "") is not None


def _has_fixed_seed(req: GenerationRequest) -> bool:
    """A seed the model takes and that is not -1 (random): one call with "n" would make, and the
    gateway bill, the same image n times."""
    return req.model.supports_seed and req.seed is not None and req.seed >= 0


def _one_of(req: GenerationRequest, k: int) -> GenerationRequest:
    """Call `k` of a fan-out: one image. A fixed seed becomes seed + k (wrapping), or every call
    would make, and be billed for, the same image; -1 and no seed stay random."""
    seed = req.seed
    if seed is not None and seed >= 0:
        seed = (seed + k) % (MAX_SEED + 1)
    return replace(req, n=1, seed=seed)


def _error_code(error: GatewayError) -> str:
    if isinstance(error, APIStatusError) and error.code:
        return error.code
    return type(error).__name__
