"""ImageGatewayDouble: a local aiohttp server that answers like the Seedream gateways."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web

from . import responses
from .faults import Fault
from .imaging import get_blob, render_size
from .models import FLAVOURS, Flavour
from .responses import Outcome
from .validation import GatewayError, Job, Policy, validate

_UNPARSEABLE = object()
MAX_BODY = 256 * 1024 * 1024  # 14 data-URI references of 10 MB fit
AUTH_ERROR = {
    "error": {"message": "Invalid API key", "type": "invalid_request_error", "code": "invalid_api_key"}
}
# What `refuse_stream` answers: a plain 400 that does not say which field it could not take.
STREAM_REFUSAL = GatewayError(400, "InvalidParameter", "The parameter specified in the request is not valid.")


@dataclass
class RecordedRequest:
    """One received request. The Authorization value is never kept, only whether it was right."""

    method: str
    path: str
    headers: dict[str, str]
    auth_present: bool
    auth_valid: bool
    json: Any = None  # parsed body; None when absent or not JSON
    query: dict[str, str] = field(default_factory=dict)


class ImageGatewayDouble:
    """Start with `await double.start()` or `async with ImageGatewayDouble(...) as double:`."""

    def __init__(
        self,
        flavour: str = "gogogotoken-com",
        api_key: str = "test-key",
        *,
        latency: float = 0.0,
        per_image_latency: float = 0.0,
        file_latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        realistic: bool = False,
        image_scale: float | None = None,
        image_size: tuple[int, int] | None = None,
        image_format: str | None = None,
        stream: bool | None = None,
        models_endpoint: bool | None = None,
        forbidden_words: Iterable[str] = ("forbidden",),
        series_count: int | None = None,
        series_failures: Iterable[int] = (),
        fetch_references: bool = True,
        max_concurrent: int | None = None,
        refuse_stream: bool = False,
    ) -> None:
        self.flavour: Flavour = _configured(FLAVOURS[flavour], stream, models_endpoint)
        self._api_key = api_key
        self.latency = latency
        self.per_image_latency = per_image_latency
        self.file_latency = file_latency  # before a result file is served (a slow CDN)
        self.host, self._port = host, port
        self.realistic = realistic
        self.image_scale = image_scale if image_scale is not None else (1.0 if realistic else 1 / 32)
        self.image_size = image_size
        self.image_format = image_format
        self.forbidden_words = tuple(forbidden_words)
        self.series_count = series_count
        self.series_failures = set(series_failures)
        self.fetch_references = fetch_references
        self.max_concurrent = max_concurrent
        # A gateway whose page does not document "stream" may refuse it without naming it.
        self.refuse_stream = refuse_stream
        # observation
        self.requests: list[RecordedRequest] = []
        self.reference_urls: list[str] = []
        self.file_fetches = 0
        self.file_fetches_in_flight = 0
        self.most_file_fetches_at_once = 0
        self.images_generated = 0  # successful images produced (what a real upstream charges)
        self.images_billed = 0  # sum of usage.generated_images in answers fully sent
        self.images_failed = 0  # moderation failures in series
        # state
        self._faults: deque[Fault] = deque()
        self._files: dict[str, Any] = {}
        self._active = 0
        self._counter = 0
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> ImageGatewayDouble:
        app = web.Application(client_max_size=MAX_BODY)
        prefix = self.flavour.prefix
        app.router.add_post(f"{prefix}/images/generations", self._generate)
        if self.flavour.has_models_endpoint:
            app.router.add_get(f"{prefix}/models", self._models)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ImageGatewayDouble:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What the bot is configured with; requests go to f"{base_url}/images/generations"."""
        return self.origin + self.flavour.prefix

    # ---- test controls ---------------------------------------------------------------------

    def script(self, fault: Fault, times: int = 1) -> None:
        """Queue `fault` for the next `times` generation requests."""
        self._faults.extend([fault] * times)

    @property
    def pending_faults(self) -> list[Fault]:
        return list(self._faults)

    def clear_faults(self) -> None:
        self._faults.clear()

    def stored_files(self) -> list[bytes]:
        """The bytes behind every result URL handed out so far (until `expire_files`)."""
        return [blob.data for blob in self._files.values()]

    def expire_files(self) -> None:
        """Forget every stored result: old URLs now answer 404, as expired signed URLs do."""
        self._files.clear()

    @property
    def generation_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/images/generations")]

    async def prewarm(self, sizes: Iterable[tuple[int, int]], formats: Iterable[str] = ("jpeg",)) -> None:
        """Render the cached blobs for these logical sizes now instead of on the first request."""
        variants = 3 if self.realistic else 1
        for logical in sizes:
            width, height = render_size(logical, self.image_scale, self.image_size)
            for fmt in formats:
                for counter in range(variants):
                    await get_blob(width, height, fmt, self.realistic, counter)

    # ---- handlers --------------------------------------------------------------------------

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await _read_json(request)
        if not self._record(request, body).auth_valid:
            return web.json_response(AUTH_ERROR, status=401)
        if self.max_concurrent is not None and self._active >= self.max_concurrent:
            return self._error(GatewayError(429, "RateLimitExceeded", "Too many concurrent requests."), 1)
        self._active += 1
        try:
            return await self._generate_authorized(request, body, self._next_fault())
        finally:
            self._active -= 1

    async def _generate_authorized(
        self, request: web.Request, body: Any, fault: Fault | None
    ) -> web.StreamResponse:
        early = await self._early_fault(fault)
        if early is not None:
            return early
        if body is _UNPARSEABLE:
            return self._error(GatewayError(400, "InvalidParameter", "The request body is not valid JSON."))
        if self.refuse_stream and isinstance(body, dict) and "stream" in body:
            return self._error(STREAM_REFUSAL)
        try:
            job = await validate(body, self._policy())
        except GatewayError as error:
            return self._error(error)
        if fault is not None and fault.kind == "empty":
            await asyncio.sleep(self.latency)
            answer = responses.empty_body(self._echo(job), int(time.time()), fault.code, fault.message)
            return web.json_response(answer)
        outcomes = await self._produce(job, fault)
        if not job.series and outcomes and not any(o.ok for o in outcomes):
            return self._error(GatewayError(400, responses.SENSITIVE_OUTPUT, responses.SENSITIVE_MESSAGE))
        if job.stream:
            return await self._stream(request, job, outcomes, fault)
        await asyncio.sleep(self.latency + self.per_image_latency * (len(outcomes) - 1))
        return await self._json_answer(request, job, outcomes, fault)

    async def _models(self, request: web.Request) -> web.Response:
        if not self._record(request, None).auth_valid:
            return web.json_response(AUTH_ERROR, status=401)
        data = [
            {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": self.flavour.owned_by}
            for model_id in self.flavour.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        self.file_fetches += 1
        blob = self._files.get(request.match_info["name"])
        if blob is None:
            return web.Response(status=404, text="NoSuchKey: the file does not exist or has expired")
        self.file_fetches_in_flight += 1
        self.most_file_fetches_at_once = max(self.most_file_fetches_at_once, self.file_fetches_in_flight)
        try:
            if self.file_latency:
                await asyncio.sleep(self.file_latency)
            response = web.StreamResponse(headers={"Content-Type": blob.content_type})
            response.content_length = len(blob.data)
            await response.prepare(request)
            await response.write(blob.data)
            await response.write_eof()
            return response
        finally:
            self.file_fetches_in_flight -= 1

    # ---- generation ------------------------------------------------------------------------

    def _policy(self) -> Policy:
        fetch = self._fetch_reference if self.fetch_references else None
        return Policy(self.flavour, self.forbidden_words, self.series_count, fetch)

    async def _produce(self, job: Job, fault: Fault | None) -> list[Outcome]:
        for reference in job.references:
            if reference.url:
                self.reference_urls.append(reference.url)
        count, failed = job.count, set(self.series_failures) if job.count > 1 else set()
        if fault is not None and fault.kind == "partial":
            count, failed = fault.count or count, set(fault.failed)
        store = fault is None or fault.kind != "missing_file"
        outcomes = [await self._outcome(job, index, index in failed, store) for index in range(count)]
        if fault is not None and fault.kind == "damaged_file":
            for outcome in outcomes:
                name = (outcome.url or "").rsplit("/", 1)[-1]
                if name in self._files:  # the first half, served as if it were the whole file
                    blob = self._files[name]
                    self._files[name] = replace(blob, data=blob.data[: len(blob.data) // 2])
        self.images_generated += sum(o.ok for o in outcomes)
        self.images_failed += sum(not o.ok for o in outcomes)
        return outcomes

    async def _outcome(self, job: Job, index: int, failed: bool, store: bool) -> Outcome:
        if failed:
            return Outcome(index, job.size, error_code=responses.SENSITIVE_OUTPUT)
        width, height = render_size(job.size, self.image_scale, self.image_size)
        fmt = self.image_format or job.output_format
        blob = await get_blob(width, height, fmt, self.realistic, self._counter)
        self._counter += 1
        name = f"{uuid.uuid4().hex}.{fmt}"
        if store:
            self._files[name] = blob
        return Outcome(index, job.size, blob, url=f"{self.origin}/files/{name}")

    def _echo(self, job: Job) -> str:
        return job.rule.echo_id or job.rule.id

    async def _json_answer(
        self, request: web.Request, job: Job, outcomes: list[Outcome], fault: Fault | None
    ) -> web.StreamResponse:
        minimal = self.flavour.minimal_response
        payload = responses.json_body(
            self._echo(job), int(time.time()), outcomes, job.response_format, minimal
        )
        kind = fault.kind if fault else None
        if kind == "truncated":
            return web.Response(body=payload[: len(payload) // 2], content_type="application/json")
        if kind == "reset":
            return await _reset_midway(request, payload)
        self.images_billed += sum(o.ok for o in outcomes)
        return web.Response(body=payload, content_type="application/json")

    async def _stream(
        self, request: web.Request, job: Job, outcomes: list[Outcome], fault: Fault | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        model, created = self._echo(job), int(time.time())
        await asyncio.sleep(self.latency)
        for position, outcome in enumerate(outcomes):
            if fault is not None and fault.kind == "stream_error" and position == fault.count:
                error = {"type": "error", "error": {"code": fault.code, "message": fault.message}}
                await response.write(responses.sse_event("error", error))
                await response.write(responses.DONE_EVENT)
                self.images_billed += sum(o.ok for o in outcomes[:position])
                await response.write_eof()
                return response
            if position:
                await asyncio.sleep(self.per_image_latency)
            await response.write(responses.partial_event(model, created, outcome, job.response_format))
            if fault is not None and fault.kind in ("reset", "truncated"):
                _abort(request)
                return response
        await response.write(responses.completed_event(model, created, outcomes))
        await response.write(responses.DONE_EVENT)
        self.images_billed += sum(o.ok for o in outcomes)
        await response.write_eof()
        return response

    # ---- faults, errors, bookkeeping -------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        return self._faults.popleft() if self._faults else None

    async def _early_fault(self, fault: Fault | None) -> web.StreamResponse | None:
        """Faults that replace the whole answer; None when the request should go on."""
        if fault is None:
            return None
        if fault.kind == "status":
            error = GatewayError(
                fault.http_status, fault.code or "UnknownError", fault.message or "", fault.param
            )
            return self._error(error, fault.retry_after)
        if fault.kind == "html":
            return web.Response(status=fault.http_status, text=fault.message, content_type="text/html")
        if fault.kind == "hang":
            await self._closing.wait()
            return web.Response(status=503, text="shutting down")
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds or 0.0)
        return None

    def _error(self, error: GatewayError, retry_after: float | None = None) -> web.Response:
        headers = {"Retry-After": _retry_after_text(retry_after)} if retry_after is not None else None
        request_id = uuid.uuid4().hex[:20]
        return web.json_response(error.body(request_id), status=error.status, headers=headers)

    def _record(self, request: web.Request, body: Any) -> RecordedRequest:
        auth = request.headers.get("Authorization")
        valid = auth is not None and hmac.compare_digest(auth.encode(), f"Bearer {self._api_key}".encode())
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        parsed = None if body is _UNPARSEABLE else body
        record = RecordedRequest(
            request.method, request.path, headers, auth is not None, valid, parsed, dict(request.query)
        )
        self.requests.append(record)
        return record

    async def _fetch_reference(self, url: str) -> bytes | None:
        assert self._session is not None
        try:
            async with self._session.get(url) as response:
                return await response.read() if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return None


def _configured(flavour: Flavour, stream: bool | None, models_endpoint: bool | None) -> Flavour:
    if stream is not None:
        flavour = replace(flavour, supports_stream=stream)
    if models_endpoint is not None:
        flavour = replace(flavour, has_models_endpoint=models_endpoint)
    return flavour


def _retry_after_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


async def _read_json(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return _UNPARSEABLE


async def _reset_midway(request: web.Request, payload: bytes) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    _abort(request)
    return response


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
