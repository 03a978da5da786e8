"""The pipeline: validate -> check -> reserve -> generate -> deliver -> settle.

Every way in hands an `ImageJob` to `Pipeline.admit` (cheap, before anything is spent)
and the returned `Ticket` to `Pipeline.execute`, which calls the gateway, delivers
through a `ResultSink` and settles the reservation from what actually happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO, Protocol, TypeVar

import aiohttp

from image_gateway.catalog import InvalidOptionError, cost_not_known
from image_gateway.client import Completed, FailedImage, GeneratedImage, GenerationRequest, ImageClient
from image_gateway.errors import (
    GATEWAY_TIMEOUTS,
    APIStatusError,
    BadRequestError,
    InvalidResponseError,
    is_content_filter,
)
from image_gateway.money import format_usd
from pipeline.explain import DeliveryError, UserError, is_expected, operator_hint
from pipeline.fetch import FetchError, decode_b64_image, download_spooled
from pipeline.images import ImageInfo, ImageRejected, check_container, fit_to_limit, inspect_image, to_data_uri
from pipeline.job import ImageJob, Reference
from pipeline.series_prompt import fit_series_prompt
from pipeline.spool import MB, HeldImage, MemoryBudget, Spool
from storage.ledger import Ledger, Limits, QuotaExceeded, RequestRecord, Settlement, UsageSnapshot
from storage.models import day_key, epoch_ms, month_days

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10
# Discord refuses a message request over 25 MiB in all (413, code 40005), whatever each file's size. The files
# of one message stay under it with headroom for the rest of the multipart body (payload_json, part headers).
MAX_REQUEST_BYTES = 25 * MB
REQUEST_HEADROOM = 1 * MB
MAX_FILES_BYTES_PER_MESSAGE = MAX_REQUEST_BYTES - REQUEST_HEADROOM
# Waits before each further try to close the books the database refused (a full disk): 5 s to about an hour.
SETTLE_RETRY_DELAYS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 600.0, 600.0, 600.0)
MAX_IMAGINE_COUNT = 4
# A result this large to re-encode (a 4K PNG, ~35 MB; a 2K one is 6-12 MB) waits for any other one
# being re-encoded: two at once took the bot to ~600 MB on a series of 15.
LARGE_DECODE_BYTES = 16 * MB

AdmissionCheck = Callable[[ImageJob], Awaitable[None]]
LimitsSource = Callable[[ImageJob], Awaitable[Limits]]
SettledHook = Callable[["Ticket", Settlement], Awaitable[None]]  # after money was spent, e.g. budget warnings
# after a limit refused a request (in the background, never delaying the refusal): budget warnings
RefusedHook = Callable[[ImageJob, QuotaExceeded, datetime], Awaitable[None]]


@dataclass(frozen=True)
class PipelineOptions:
    response_format: str = "url"
    watermark: bool = False
    stream: bool = True
    references_as: str = "data_uri"
    max_result_bytes: int = 64 * MB
    download_timeout: float = 120.0
    result_memory_bytes: int = 96 * MB  # results held in memory, all requests together (pipeline.spool)
    max_concurrent_downloads: int = 8  # result downloads in flight, all requests together


@dataclass(frozen=True)
class ReadyImage:
    """A checked result that fits the upload limit. ``file`` is rewound, in memory within the
    pipeline's `MemoryBudget` and on disk beyond it (so a hundred results in flight cost bounded
    RSS), and closed by the pipeline once posted."""

    index: int
    filename: str
    file: IO[bytes]
    description: str = ""  # what it shows, for those who cannot see it: the member's prompt
    made_size: str | None = None  # "640x480": the image as the gateway made it

    @property
    def size(self) -> int:
        """Its length in bytes."""
        return _length(self.file)


def _length(file: IO[bytes]) -> int:
    """The file's length in bytes (its position is kept)."""
    position = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(position)
    return end


class StoppedAfter(asyncio.CancelledError):
    """A shutdown stopped the request after some of its images were delivered; the books are
    closed, and this is what they came to, for the member's notice."""

    def __init__(self, delivered: int, requested: int, charged_micros: int | None) -> None:
        super().__init__(f"stopped after {delivered} of {requested} image(s)")
        self.delivered = delivered
        self.requested = requested
        self.charged_micros = charged_micros  # None: the model has no price (the books count $0)


@dataclass(frozen=True)
class Ticket:
    job: ImageJob
    request: GenerationRequest  # without the reference images: `Pipeline._with_references` adds them
    request_id: int
    limits: Limits
    reserved_at: datetime | None = None  # the day and month the ledger counts it in (None: now)
    limits_revision: int = 0  # the limits' revision when they were read (`Pipeline.current_limits`)


@dataclass
class Progress:
    """What is known so far; the books are closed from it, even after a failure."""

    requested: int  # the job's count: nothing past it is fetched, posted or charged
    generated: int = 0  # images taken from the gateway (at most `requested`)
    billed_reported: int | None = None
    delivered: int = 0
    refused: list[FailedImage] = field(default_factory=list)
    lost: int = 0  # could not be fetched or checked
    unposted: int = 0  # made and fetched, but Discord refused the message that carried them
    extra: int = 0  # results past `requested` the gateway sent anyway: ignored
    undelivered: DeliveryError | None = None  # the first refused post, raised if nothing got through
    size: str | None = None  # the size the gateway reported for its first image ("2048x2048")
    shown: Outcome | None = None  # the outcome posted with the results (a single batch), see `_provisional`

    @property
    def reported(self) -> int:
        """The gateway's own figure, handed to the ledger (which clamps it to the request and logs
        that), but never fewer than the images it sent: those were made, whatever it counted."""
        if self.billed_reported is None:
            return self.generated
        return max(self.billed_reported, self.generated)

    @property
    def billed(self) -> int:
        """What the member's summary counts: as the ledger settles it, never past the request."""
        return min(self.reported, self.requested)


@dataclass(frozen=True)
class Outcome:
    ticket: Ticket
    billed: int
    delivered: int
    refused: tuple[FailedImage, ...]
    lost: int
    cost_micros: int
    charged_micros: int
    usage: UsageSnapshot
    unposted: int = 0  # fetched, but Discord refused to post them: not charged
    size: str | None = None  # what the gateway made, shown when the request named no size
    # It failed after some images were delivered, and the rest were never made: "filter" (the
    # content filter stopped it, e.g. a series mid-stream), "error" (anything else); "" it did not.
    stopped: str = ""


class ResultSink(Protocol):
    """Where results go: an interaction, a channel. Posts at most 10 images at a time, their files
    together within `MAX_FILES_BYTES_PER_MESSAGE`."""

    upload_limit: int

    async def post(self, images: Sequence[ReadyImage]) -> None: ...

    async def finish(self, outcome: Outcome) -> None: ...

    # Optional: `async def post_final(self, images, outcome) -> None` posts a single batch together
    # with the summary `finish` would show (and the result buttons): one message instead of two.
    # `finish` is then called only if the books closed otherwise than `outcome` says.

    # Optional: `async def stage(self, name: str) -> None` hears "uploading" when the first image
    # arrives from the gateway (pipeline.progress.LiveStatus shows it); see `report_stage`.


async def report_stage(sink: ResultSink, name: str) -> None:
    stage = getattr(sink, "stage", None)
    if stage is not None:
        await stage(name)


class Pipeline:
    def __init__(
        self,
        *,
        client: ImageClient,
        ledger: Ledger,
        http: aiohttp.ClientSession,
        limits: LimitsSource,
        options: PipelineOptions,
        checks: Sequence[AdmissionCheck] = (),
        settled: Sequence[SettledHook] = (),
        refused: Sequence[RefusedHook] = (),
        cpu_slots: int = 2,
        limits_revision: Callable[[], int] = lambda: 0,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.http = http
        self.limits = limits
        self.limits_revision = limits_revision  # moves when a moderator changes a limit
        self.options = options
        self.checks = list(checks)
        self.settled = list(settled)
        self.refused = list(refused)
        self._cpu = asyncio.Semaphore(cpu_slots)
        self._decoding_large = asyncio.Lock()
        self.memory = MemoryBudget(options.result_memory_bytes)
        self._background: set[asyncio.Task[None]] = set()
        # Requests whose settle the database refused after delivery, retried in the background.
        self._unsettled: dict[int, tuple[Ticket, Progress, BaseException | None]] = {}
        # Bounded work in flight: results are fetched a few at a time (first come, first served)
        # instead of all at once, so the first finish first and few wait whole in memory.
        self._downloads = asyncio.Semaphore(options.max_concurrent_downloads)

    # -- before anything is spent -------------------------------------------------
    def build_request(self, job: ImageJob) -> GenerationRequest:
        """Validate the job against the model; raises `InvalidOptionError` with what is allowed.
        The reference images are counted here and added when the request's turn comes."""
        if job.refused_option is not None:
            raise job.refused_option
        model = job.model
        if job.series:  # what the model cannot do at all comes first, whatever the images
            model.validate_series(job.count, len(job.references))
        prompt = model.validate_prompt(job.prompt)
        size = model.normalize_size(job.size)
        seed = model.validate_seed(job.seed)
        model.validate_reference_count(len(job.references))
        if job.series:
            prompt = fit_series_prompt(prompt, job.count, model.max_prompt_chars)  # the gateway's text
        elif not 1 <= job.count <= MAX_IMAGINE_COUNT:
            raise InvalidOptionError(
                "count", f"choose 1 to {MAX_IMAGINE_COUNT} images", "out_of_range", min=1, max=MAX_IMAGINE_COUNT
            )
        response_format = self.options.response_format
        if response_format not in model.response_formats:
            response_format = model.response_formats[0]
        return GenerationRequest(
            model=model,
            prompt=prompt,
            size=size,
            n=1 if job.series else job.count,
            seed=seed,
            max_images=job.count if job.series else None,
            response_format=response_format,
            watermark=self.options.watermark if job.watermark is None else job.watermark,
            stream=self.options.stream and job.series,
        )

    async def _with_references(self, ticket: Ticket) -> GenerationRequest:
        """The request with its reference images, made when its turn comes (nothing holds them while
        it waits in line), in a worker thread: base64 of up to 10 x 10 MB is ~0.5 s of CPU."""
        references = ticket.job.references
        if not references:
            return ticket.request
        images = await asyncio.to_thread(lambda: [self._reference_payload(ref) for ref in references])
        return replace(ticket.request, images=images)

    def _reference_payload(self, ref: Reference) -> str:
        if self.options.references_as == "url" and not ref.converted:  # a converted image exists only here
            return ref.url
        return to_data_uri(ref.data, ref.format)

    async def screen(self, job: ImageJob) -> GenerationRequest:
        """Validate and run the admission checks; nothing is reserved (approval mode asks first).
        A check's refusal (moderation) is kept as a 'refused' row, as a quota's is by the ledger:
        the moderators' /history shows the attempt. A rule no option changes (the allowed
        channels, the required role) is told before a mistake in the options: a member in the
        wrong channel is not taught the sizes first."""
        try:
            request = self.build_request(job)
        except InvalidOptionError:
            await self._check_unprompted(job)
            raise
        for check in self.checks:
            try:
                await check(job)
            except UserError as refusal:
                # its row named on the error: an approval that fails for it is listed with it (/history)
                refusal.request_id = await self.ledger.record_refusal(_record(job, request), error_code=refusal.code)
                raise
        return request

    async def check_access(self, job: ImageJob, *, as_if_unspent: bool = False) -> None:
        """Before a member is asked for a prompt (the Edit menu's and Variation's forms): what no
        prompt changes - the checks that do not read one (the allowed channels, the required role)
        and the limits (a limit of 0, a day's images used up; `as_if_unspent` in approval mode, as
        `screen_for_approval` does) - so that a member the server will refuse is told before
        typing. A limit's refusal is kept as a 'refused' row, as every quota refusal is (/history);
        a rule's is not: there is no request yet."""
        await self._check_unprompted(job)
        limits = await self.limits(job)
        with self._hearing_refusals(job):
            await self.ledger.check(_record(job, None), limits=limits, as_if_unspent=as_if_unspent)

    async def _check_unprompted(self, job: ImageJob) -> None:
        for check in self.checks:
            if not getattr(check, "reads_prompt", False):
                await check(job)

    async def screen_for_approval(self, job: ImageJob) -> GenerationRequest:
        """`screen`, and what no moderator's decision could change: a limit the request is over
        even with nothing spent (a limit of 0, more images than a day allows, a worst case over the
        month's limit or the server's budget). Refused now, privately and recorded; what was spent
        is not counted, since the decision may come after the day or month turns (approval checks
        everything again)."""
        request = await self.screen(job)
        limits = await self.limits(job)
        await self.ledger.check(_record(job, request), limits=limits, as_if_unspent=True)
        return request

    async def precheck(self, job: ImageJob) -> None:
        """Before a slow step that must be acknowledged first (downloading reference images):
        every refusal `admit` would give now, while it can still be a private reply. Nothing is
        reserved; `admit` checks again after the step."""
        request = await self.screen(job)
        limits = await self.limits(job)
        with self._hearing_refusals(job):
            await self.ledger.check(_record(job, request), limits=limits)

    async def admit(self, job: ImageJob) -> Ticket:
        """Validate, run the admission checks, and reserve the worst-case cost."""
        request = await self.screen(job)
        revision = self.limits_revision()
        limits = await self.limits(job)
        reserved_at = self.ledger.now()
        reserving = asyncio.ensure_future(self.ledger.reserve(_record(job, request), limits=limits, now=reserved_at))
        try:
            with self._hearing_refusals(job):
                request_id = await asyncio.shield(reserving)
        except asyncio.CancelledError:
            # Stopped while reserving (a shutdown): the reservation may still commit. It is
            # released then, rather than holding the member's quota until the next start.
            reserving.add_done_callback(self._release_orphan)
            raise
        return Ticket(job=job, request=request, request_id=request_id, limits=limits, reserved_at=reserved_at,
                      limits_revision=revision)  # fmt: skip

    async def current_limits(self, ticket: Ticket) -> Ticket:
        """`ticket` under the limits in force now: a moderator may have changed them since it was
        admitted (while it waited in line, or ran). Read again only when some limit changed."""
        revision = self.limits_revision()
        if revision == ticket.limits_revision:
            return ticket
        return replace(ticket, limits=await self.limits(ticket.job), limits_revision=revision)

    async def recheck(self, ticket: Ticket, *, behind: Callable[[], Sequence[int]] = tuple) -> Ticket:
        """When its turn comes: the server's rules on what is asked and where as they are now (a
        term blocked or a channel closed while it waited: released, and the rule's `UserError`
        raised; not those about the member, whose roles are as when they asked), then a
        request admitted under limits lowered since (a budget set to 0 while it waited) is checked
        against them again, counting what is spent and held by the requests ahead of it, not by
        those `behind` it in line (first come, first served); over them it is released and
        ``QuotaExceeded`` raised. Either way before anything is asked of the gateway."""
        for check in self.checks:
            if getattr(check, "about_member", False):
                continue
            try:
                await check(ticket.job)
            except UserError as refusal:
                await self.ledger.release(ticket.request_id, error_code=refusal.code)
                raise
        current = await self.current_limits(ticket)
        if current is not ticket:
            with self._hearing_refusals(ticket.job):
                await self.ledger.recheck(ticket.request_id, limits=current.limits, behind=behind())
        return current

    @contextlib.contextmanager
    def _hearing_refusals(self, job: ImageJob) -> Iterator[None]:
        """A limit's refusal raised inside is passed on, and heard by the `refused` hooks meanwhile."""
        try:
            yield
        except QuotaExceeded as refusal:
            moment = self.ledger.now()
            for hook in self.refused:
                task = asyncio.create_task(_quietly(hook(job, refusal, moment)), name=f"refused-{job.guild_id}")
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            raise

    def _release_orphan(self, reserving: asyncio.Future[int]) -> None:
        if reserving.cancelled() or reserving.exception() is not None:
            return
        task = asyncio.create_task(self._release(reserving.result()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _release(self, request_id: int) -> None:
        try:
            await self.ledger.release(request_id, error_code="cancelled")
        except Exception:  # e.g. the database closed first: recovery at the next start releases it
            log.warning("request %s: a reservation stopped mid-way is left to the next start", request_id)

    # -- spending -------------------------------------------------------------------
    async def execute(self, ticket: Ticket, sink: ResultSink) -> Outcome:
        """Generate, deliver, close the books, post the summary. A shutdown that stops it after
        images were delivered (whenever: while more were coming, or as the books closed or the
        summary went out) raises `StoppedAfter`, with what they came to, once the books are closed."""
        progress = Progress(requested=ticket.job.count)
        try:
            return await self._execute(ticket, sink, progress)
        except asyncio.CancelledError as stop:
            if progress.delivered == 0 or isinstance(stop, StoppedAfter):
                raise
            billed, cost, charged = _settled_figures(ticket.job, progress, 0)
            unknown = cost_not_known(ticket.job.model, cost, billed)
            raise StoppedAfter(progress.delivered, progress.requested, None if unknown else charged) from stop

    async def _execute(self, ticket: Ticket, sink: ResultSink, progress: Progress) -> Outcome:
        try:
            await self._generate_and_deliver(ticket, sink, progress)
        except Exception as exc:
            cost, charged = await _to_the_end(self._close_books_or_later(ticket, progress, error=exc))
            if progress.delivered == 0:
                raise
            # Images were delivered and paid for before it failed: the member gets their summary
            # (what was made, what it cost, that the rest was not), not "you were not charged".
            if (hint := operator_hint(exc)) is not None:
                log.error(  # noqa: TRY400 - the hint, not a traceback: the failure is expected
                    "request %s stopped after %d image(s): %s; check %s",
                    ticket.request_id, progress.delivered, exc, hint,
                )  # fmt: skip
            elif is_expected(exc):
                log.info("request %s stopped after %d image(s): %s", ticket.request_id, progress.delivered, exc)
            else:
                log.exception("request %s failed after %d image(s)", ticket.request_id, progress.delivered)
            unmade = progress.generated + len(progress.refused) < progress.requested
            filtered = isinstance(exc, APIStatusError) and exc.is_content_filter
            stopped = ("filter" if filtered else "error") if unmade else ""
            return await self._summarize(ticket, sink, progress, cost, charged, stopped=stopped)
        except BaseException as exc:  # a shutdown: the dispatcher tells the member
            await _to_the_end(self._close_books(ticket, progress, error=exc))
            raise
        cost, charged = await _to_the_end(self._close_books_or_later(ticket, progress, error=None))
        return await self._summarize(ticket, sink, progress, cost, charged)

    async def _close_books_or_later(
        self, ticket: Ticket, progress: Progress, *, error: BaseException | None
    ) -> tuple[int, int]:
        """`_close_books`; when the database refuses it (a full disk) after images were delivered,
        the member still gets the summary they were shown, not "something went wrong, you were
        not charged", and the settle is tried again in the background until the database takes it
        (the figures are in the log meanwhile). What was delivered and billed is checkpointed as
        far as the database takes it, so that a restart before the settle lands settles the row
        from them; `close` gives the retries one last try at shutdown."""
        try:
            return await self._close_books(ticket, progress, error=error)
        except Exception:
            if progress.delivered == 0:
                raise
            _billed, cost, charged = _settled_figures(ticket.job, progress, 0)
            log.exception("request %s: the books could not be closed (%d delivered, %d billed, cost %s); "
                          "trying again in the background", ticket.request_id, progress.delivered,
                          progress.reported, format_usd(cost))  # fmt: skip
            with contextlib.suppress(Exception):  # one image posted with its summary had no checkpoint
                await self.ledger.record_billed(ticket.request_id, progress.reported)
                await self.ledger.record_delivered(ticket.request_id, progress.delivered)
            self._unsettled[ticket.request_id] = (ticket, progress, error)
            task = asyncio.create_task(self._settle_later(ticket, progress, error), name=f"settle-{ticket.request_id}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return cost, charged

    async def _settle_later(self, ticket: Ticket, progress: Progress, error: BaseException | None) -> None:
        for delay in SETTLE_RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                await self._close_books(ticket, progress, error=error)
            except Exception as failure:
                log.warning("request %s: the books still could not be closed: %s", ticket.request_id, failure)
                continue
            self._unsettled.pop(ticket.request_id, None)
            log.info("request %s: the books are closed", ticket.request_id)
            return
        log.error("request %s: the books could not be closed; the next start settles it from its checkpoints",
                  ticket.request_id)

    async def close(self) -> None:
        """At shutdown, before the database closes: the settles still being retried are stopped,
        each tried once more now (the next start settles what is left from its checkpoints)."""
        for task in [task for task in self._background if task.get_name().startswith("settle-")]:
            task.cancel()
        for request_id, (ticket, progress, error) in list(self._unsettled.items()):
            try:
                await self._close_books(ticket, progress, error=error)
            except Exception:
                log.exception("request %s: the books could not be closed before the stop", request_id)
            else:
                log.info("request %s: the books are closed", request_id)
            self._unsettled.pop(request_id, None)

    async def _summarize(
        self, ticket: Ticket, sink: ResultSink, progress: Progress, cost: int, charged: int, *, stopped: str = ""
    ) -> Outcome:
        """The closed books as the member's summary, posted unless the results already carried it."""
        shown = progress.shown
        if shown is not None:
            ticket, usage = shown.ticket, shown.usage
        else:
            ticket = await self.current_limits(ticket)
            usage = await self.ledger.usage(ticket.job.guild_id, ticket.job.user_id)
        outcome = Outcome(
            ticket=ticket,
            billed=progress.billed,
            delivered=progress.delivered,
            refused=tuple(progress.refused),
            lost=progress.lost,
            cost_micros=cost,
            charged_micros=charged,
            usage=usage,
            unposted=progress.unposted,
            size=progress.size,
            stopped=stopped,
        )
        if outcome != shown:  # the summary is not out yet, or the books closed otherwise than shown
            try:
                await sink.finish(outcome)
            except Exception:
                if not charged:
                    raise  # told as a failure, which says nothing was charged: true
                # The member has their images and paid for them: a failure message would say
                # they were not charged. The books are closed; the log has it.
                log.exception("request %s: the summary could not be posted", ticket.request_id)
        return outcome

    async def run(self, job: ImageJob, sink: ResultSink) -> Outcome:
        return await self.execute(await self.admit(job), sink)

    async def _close_books(self, ticket: Ticket, progress: Progress, *, error: BaseException | None):
        code = _error_code(error) if error is not None else None
        if progress.billed == 0 and progress.delivered == 0:
            # Every image refused (a series the content filter stopped whole): the refusal is why.
            refused = progress.refused[0].code[:64] if progress.refused and progress.refused[0].code else None
            await self.ledger.release(ticket.request_id, error_code=code or refused or "nothing_generated")
            return 0, 0
        settlement = await self.ledger.settle(
            ticket.request_id, billed=progress.reported, delivered=progress.delivered, error_code=code
        )
        for hook in self.settled:
            try:
                await hook(ticket, settlement)
            except Exception:  # a hook never undoes or blocks the books
                log.exception("request %s: a post-settlement hook failed", ticket.request_id)
        return settlement.cost_micros, settlement.charged_micros

    async def _generate_and_deliver(self, ticket: Ticket, sink: ResultSink, progress: Progress) -> None:
        queue: asyncio.Queue[asyncio.Task[ReadyImage] | None] = asyncio.Queue()
        pending: list[asyncio.Task[ReadyImage]] = []

        async def produce() -> None:
            billed = _BilledCheckpoint(self.ledger, ticket.request_id)
            try:
                async for event in self.client.events(await self._with_references(ticket)):
                    if isinstance(event, GeneratedImage | FailedImage) and _past_request(progress):
                        if progress.extra == 1:
                            log.warning("request %s: the gateway sent more images than the %d asked for; "
                                        "the rest are ignored", ticket.request_id, progress.requested)  # fmt: skip
                        continue
                    if isinstance(event, GeneratedImage):
                        progress.generated += 1
                        progress.size = progress.size or event.size
                        if progress.generated == 1:
                            await report_stage(sink, "uploading")
                        task = asyncio.create_task(self._prepare(ticket, event, sink.upload_limit))
                        pending.append(task)
                        queue.put_nowait(task)
                        if progress.requested > 1:
                            billed.update(progress.generated)
                    elif isinstance(event, FailedImage):
                        progress.refused.append(event)
                        if event.error is not None and (hint := operator_hint(event.error)) is not None:
                            log.error("request %s: an image could not be made: %s; check %s",
                                      ticket.request_id, event.error, hint)  # fmt: skip
                    elif isinstance(event, Completed):
                        progress.billed_reported = event.billed
                        billed.update(progress.reported)  # never below the images that arrived
                        await billed.flush()
            finally:
                queue.put_nowait(None)

        producer = asyncio.create_task(produce())
        try:
            eager = ticket.request.stream
            if not eager:
                await asyncio.shield(producer)
            await self._consume(ticket, sink, progress, queue)
            await producer
        finally:
            for task in [producer, *pending]:
                if not task.done():
                    task.cancel()
            for task in [producer, *pending]:
                with contextlib.suppress(BaseException):
                    await task
            for task in pending:  # results never posted (a failure midway) are not kept either
                if not task.cancelled() and task.exception() is None:
                    task.result().file.close()
        if progress.generated == 0 and not progress.refused:
            raise InvalidResponseError("the gateway answered without any image")
        if progress.generated == 0 and (refusal := _whole_refusal(progress.refused)) is not None:
            raise refusal  # the content filter refused every image: the member's business, told privately
        if progress.undelivered is not None and progress.delivered == 0:
            raise progress.undelivered  # nothing got through: reported as a failure, nothing charged

    async def _consume(self, ticket: Ticket, sink: ResultSink, progress: Progress, queue) -> None:
        finished = False
        while not finished:
            first = await queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_FILES_PER_MESSAGE and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    finished = True
                    break
                batch.append(item)
            ready: list[ReadyImage] = []
            for task in batch:
                try:
                    ready.append(await task)
                except (FetchError, ImageRejected) as exc:
                    progress.lost += 1
                    log.warning("request %s: a result image was lost: %s", ticket.request_id, exc)
            # a gateway that says no size (302.ai): the size of what it sent
            progress.size = progress.size or next((image.made_size for image in ready if image.made_size), None)
            messages = split_by_request_size(ready)
            try:
                for images in messages:
                    # A single message (all of a plain request) goes out with its summary and buttons;
                    # `execute` then settles and has nothing left to post.
                    final = finished and len(messages) == 1 and not progress.delivered
                    await self._post(ticket, sink, progress, images, final=final)
            finally:
                for image in ready:
                    image.file.close()

    async def _post(
        self, ticket: Ticket, sink: ResultSink, progress: Progress, images: list[ReadyImage], *, final: bool
    ) -> None:
        """One message of results; `final`: with the summary and buttons (`post_final`) if the sink can."""
        post_final = getattr(sink, "post_final", None) if final else None
        shown = None
        try:
            if post_final is not None:
                shown = await self._provisional(ticket, progress, len(images))
                await post_final(images, shown)
            else:
                await sink.post(images)
        except DeliveryError as exc:
            # One refused message does not end the request: the gateway goes on (and bills),
            # so the stream is read to its end and later messages are still posted.
            progress.unposted += len(images)
            progress.undelivered = progress.undelivered or exc
            log.warning("request %s: %d image(s) could not be posted: %s", ticket.request_id, len(images), exc)
            return
        finally:
            for image in images:
                image.file.close()
        progress.delivered += len(images)
        if shown is not None:
            progress.shown = shown  # settled next: that write is the checkpoint
        else:
            await self.ledger.record_delivered(ticket.request_id, progress.delivered)

    async def _provisional(self, ticket: Ticket, progress: Progress, delivered: int) -> Outcome:
        """The outcome as settling `delivered` more images will make it, to post with them.

        Cost and charge follow the ledger's own formulas (`_SETTLE_SQL`: price x billed, billed at
        least delivered; price x delivered; both held to the request); what is left is the
        member's usage now with this request's reservation replaced by that charge, in the day and
        month it counts in: one reserved before midnight changes nothing in today's figures. If the
        post fails nothing is delivered and nothing charged, as before; if the books close
        otherwise than shown, `execute` posts the corrected summary.
        """
        ticket = await self.current_limits(ticket)  # what is left is told under the limits in force
        job = ticket.job
        billed, cost, charged = _settled_figures(job, progress, delivered)
        delivered += progress.delivered
        price = job.model.price_micros or 0
        reserved = price * job.count
        moment = self.ledger.now()
        now = await self.ledger.usage(job.guild_id, job.user_id, now=moment)
        counted = ticket.reserved_at or moment
        today = day_key(epoch_ms(counted)) == day_key(epoch_ms(moment))
        month = month_days(counted) == month_days(moment)
        usage = now
        if today:
            usage = replace(usage, images_today=max(now.images_today - job.count + delivered, 0))
        if month:
            usage = replace(
                usage,
                member_month_micros=max(now.member_month_micros - reserved + charged, 0),
                guild_month_micros=max(now.guild_month_micros - reserved + cost, 0),
                pending_images=max(now.pending_images - job.count, 0),
                pending_micros=max(now.pending_micros - reserved, 0),
            )
        return Outcome(
            ticket=ticket,
            billed=billed,
            delivered=delivered,
            refused=tuple(progress.refused),
            lost=progress.lost,
            cost_micros=cost,
            charged_micros=charged,
            usage=usage,
            unposted=progress.unposted,
            size=progress.size,
        )

    async def _prepare(self, ticket: Ticket, event: GeneratedImage, upload_limit: int) -> ReadyImage:
        limit = self.options.max_result_bytes
        if event.b64_json:
            spool = Spool.of(decode_b64_image(event.b64_json, max_bytes=limit), self.memory)
        elif event.url:
            spool = await download_spooled(
                self.http, event.url, max_bytes=limit, budget=self.memory, timeout=self.options.download_timeout,
                slots=self._downloads,
            )  # fmt: skip
        else:
            raise FetchError("not_image", "the gateway sent an item with neither url nor b64_json")
        try:
            file = spool.finish()  # copies nothing: the downloaded pieces, or the temporary file
        except BaseException:
            spool.close()
            raise
        handed_over = False
        try:
            checked = _check_held(file, upload_limit, limit)
            if checked is not None:
                handed_over = True
                fitted, info = file, checked
            else:
                # The only place a whole image is decoded: cpu_slots at a time, and one large one
                # (a 4K PNG: its bytes, pixels and flattened copy are ~150 MB) at a time.
                large = self._decoding_large if _length(file) > LARGE_DECODE_BYTES else contextlib.nullcontext()
                async with large, self._cpu:
                    handed_over = True  # from here the worker thread owns the file
                    fitted, info = await _off_loop(_check_and_fit, file, upload_limit, limit, self.memory)
        finally:
            if not handed_over:
                file.close()
        return ReadyImage(
            index=event.index,
            filename=f"seedream-{ticket.request_id}-{event.index + 1}.{info.format}",
            file=fitted,
            description=ticket.job.prompt,
            made_size=f"{info.width}x{info.height}",
        )


def split_by_request_size(images: Sequence[ReadyImage]) -> list[list[ReadyImage]]:
    """`images` in order, in messages whose files together stay within `MAX_FILES_BYTES_PER_MESSAGE`
    (Discord refuses a larger request whatever each file's size); an image over it goes alone."""
    messages: list[list[ReadyImage]] = []
    total = 0
    for image in images:
        size = image.size
        if not messages or total + size > MAX_FILES_BYTES_PER_MESSAGE:
            messages.append([])
            total = 0
        messages[-1].append(image)
        total += size
    return messages


def _settled_figures(job: ImageJob, progress: Progress, more: int) -> tuple[int, int, int]:
    """(billed, cost, charged) as settling with `more` images delivered will make them: the
    ledger's own formulas (`_SETTLE_SQL`: price x billed, billed at least delivered; price x
    delivered; both held to the request)."""
    price = job.model.price_micros or 0
    delivered = progress.delivered + more
    billed = min(max(progress.billed, delivered), job.count)
    return billed, price * billed, price * min(delivered, job.count)


class _BilledCheckpoint:
    """The billed count written to the ledger as images arrive. Images of a stream or of parallel
    calls arrive over minutes, each one billed: a crash before `Completed` must still find them in
    the books. Written in the background, latest value first, so that images arriving together
    (a plain JSON answer) are not held up by a write each. Best effort: the settle that closes
    the request writes the final count anyway; this only serves recovery after a crash."""

    def __init__(self, ledger: Ledger, request_id: int) -> None:
        self._ledger = ledger
        self._request_id = request_id
        self._wanted: int | None = None
        self._written: int | None = None
        self._writer: asyncio.Task[None] | None = None

    def update(self, billed: int) -> None:
        self._wanted = billed
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"billed-{self._request_id}")

    async def flush(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._wanted is not None and self._wanted != self._written:
            value = self._wanted
            try:
                await self._ledger.record_billed(self._request_id, value)
            except Exception:  # e.g. the database closing in a shutdown: the settle still counts it
                log.warning("request %s: could not checkpoint %d billed image(s)", self._request_id, value,
                            exc_info=True)  # fmt: skip
                return
            self._written = value


async def _quietly(hook: Awaitable[None]) -> None:
    try:
        await hook
    except Exception:  # a hook never changes what the member is told
        log.exception("a refusal hook failed")


async def _to_the_end(closing: Awaitable[T]) -> T:
    """Await `closing` (the books of a request) to its end even if the caller is cancelled
    meanwhile, then raise the cancellation: a shutdown that stops a request as it settles must
    not leave its row pending (a settle cancelled while queued for the group commit never runs,
    and the restart would then find the images delivered but not counted)."""
    task = asyncio.ensure_future(closing)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})  # a second cancellation gives up waiting; the task goes on
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("closing the books failed during a shutdown", exc_info=task.exception())  # noqa: TRY400 - not this exception
        raise


async def _off_loop(check, file: IO[bytes], *args) -> tuple[IO[bytes], ImageInfo]:
    """Run `check` in a worker thread. If the caller is cancelled meanwhile, the thread still
    runs to its end: the file it returns is closed then, so no memory or temporary file leaks."""
    future = asyncio.get_running_loop().run_in_executor(None, check, file, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_close_result)
        raise


def _close_result(future: asyncio.Future[tuple[IO[bytes], ImageInfo]]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result()[0].close()


_RESULT_LIMITS = {"max_side": 65535, "min_side": 1, "max_aspect": 1000}  # a result is posted whatever its shape


def _check_held(file: IO[bytes], upload_limit: int, max_bytes: int) -> ImageInfo | None:
    """On the event loop, for a result held in memory that is posted as it is: its container
    checked (`check_container`, well under a millisecond for a 2K JPEG), what it is returned.
    A hundred results at once queued for two worker threads used to wait ~0.15 s each, every
    trip to a thread costing a turn of the busy loop. None: it needs `_check_and_fit` (on disk,
    over the upload limit, or a container that cannot tell). Raises ImageRejected."""
    if not isinstance(file, HeldImage) or file.size > upload_limit:
        return None
    return check_container(file, max_bytes=max_bytes, **_RESULT_LIMITS)


def _check_and_fit(
    file: IO[bytes], upload_limit: int, max_bytes: int, memory: MemoryBudget
) -> tuple[IO[bytes], ImageInfo]:
    """Check the image and fit it to the upload limit: `file` itself when it already fits; with
    the format posted and the size the gateway made. Runs in a worker thread (reading the whole
    file, Pillow) and owns `file`: whatever happens, it is closed or handed on in the result."""
    try:
        data = file.read()
        file.seek(0)
        # Posted as it is: the container must be whole (CRCs, end marker); no pixel decode. To be
        # re-encoded: it is decoded anyway, so it gets the full check first.
        fits = len(data) <= upload_limit
        made = inspect_image(data, max_bytes=max_bytes, decode=not fits, **_RESULT_LIMITS)
        fitted, ext = fit_to_limit(data, upload_limit)
    except BaseException:
        file.close()
        raise
    if fitted is data:
        return file, replace(made, format=ext)
    file.close()
    return Spool.of(fitted, memory).finish(), replace(made, format=ext)


def _past_request(progress: Progress) -> bool:
    """True for a result past the job's count (a gateway that sends more than asked for): it is
    neither fetched nor posted nor charged, and counted in `progress.extra`."""
    if progress.generated + len(progress.refused) < progress.requested:
        return False
    progress.extra += 1
    return True


def _whole_refusal(refused: Sequence[FailedImage]) -> APIStatusError | None:
    """The content filter's refusal of a request, when it refused every image that came back as
    an item of its own (a series' `OutputImageSensitiveContentDetected` items or `partial_failed`
    events), as a 400 of the same code would be: None when any failed otherwise."""
    if not refused or not all(is_content_filter(image.code, image.message) for image in refused):
        return None
    first = refused[0]
    if isinstance(first.error, APIStatusError):
        return first.error
    return BadRequestError(first.message or first.code, status=400, code=first.code)


def _record(job: ImageJob, request: GenerationRequest | None) -> RequestRecord:
    """What the ledger records of a request (`Ledger.reserve`, `Ledger.check`); without `request`,
    before a prompt is typed, what its limits are checked on."""
    return RequestRecord(
        guild_id=job.guild_id,
        channel_id=job.channel_id,
        user_id=job.user_id,
        command=job.command,
        model=job.model.id,
        size=(job.size if request is None else request.size) or "",
        # the member's own words, not the series sentence
        prompt="" if request is None else job.model.validate_prompt(job.prompt),
        images=job.count,
        unit_price_micros=job.model.price_micros or 0,
        reference_images=len(job.references),
        locale=job.locale,
    )


def _error_code(error: BaseException) -> str:
    """What the ledger keeps of why a request failed: the gateway's own code, else the error's
    kind. A proxy's 504/524 is kept as "GatewayTimeout" whatever its page says, as the member was
    told (`explain`): /history then gives the same reason."""
    if isinstance(error, APIStatusError) and error.status in GATEWAY_TIMEOUTS:
        return "GatewayTimeout"
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        return code[:64]
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return type(error).__name__[:64]
