"""Every way in runs the same line: claim a place -> admit -> acknowledge -> wait -> run.

A command, a button and an approved request differ only in how they acknowledge and what
shows the wait (`begin` returns a `TurnStatus`); the queue's limits, the shutdown and the
books apply to all of them alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from image_gateway.money import format_usd
from pipeline.delivery import report_failure
from pipeline.explain import UserError
from pipeline.job import ImageJob
from pipeline.progress import TurnStatus
from pipeline.queue import FairQueue, Place, Withdrawn
from pipeline.runner import Pipeline, StoppedAfter, Ticket
from storage.ledger import Ledger

# Requests admitted (reserved, acknowledged and put in line) at a time, in arrival order. Members
# asking at the same moment would otherwise move through admission in lockstep, each step taken by
# all of them before the next (every one's limits read, then every one's reservation), so the first
# gateway call waited for the last member's admission. A few at a time, the first leaves at once:
# 100 members at once, 2.0 s gateway: p50 2.55 -> 2.42 s, p95 2.75 -> 2.64 s (benchmarks.run).
# Waiting in line is outside it: a request that must wait for its turn holds up no other's admission.
# Nor does one wait for it long: after ADMISSION_WAIT_SECONDS it goes ahead anyway. On a slow disk
# each reservation's commit is slow, and only admitted together do they share one: four at a time,
# the hundredth member of a burst would hear nothing within Discord's 3 s.
ADMITTING_AT_ONCE = 4
ADMISSION_WAIT_SECONDS = 1.0


class Dispatcher:
    def __init__(
        self,
        pipeline: Pipeline,
        queue: FairQueue,
        ledger: Ledger,
        *,
        needs_review: Callable[[ImageJob], bool] = lambda job: False,
    ) -> None:
        """`needs_review(job)`: whether the job's server wants a moderator to see requests first
        (approval mode), as it is now."""
        self.pipeline = pipeline
        self.queue = queue
        self.ledger = ledger
        self.needs_review = needs_review
        self._admitting = asyncio.Semaphore(ADMITTING_AT_ONCE)

    async def run(
        self, job: ImageJob, begin: Callable[[Ticket], Awaitable[TurnStatus]], *, approved: bool = False
    ) -> None:
        """Every way in: claim a place (busy member or restarting: refused, nothing reserved;
        `approved`: a moderator's decision, not refused for the member's number in flight) ->
        admit (reserve) -> `begin` (acknowledge; returns what shows the wait), `ADMITTING_AT_ONCE`
        at a time -> line -> run."""
        channels = (job.channel_id,) if job.parent_channel_id is None else (job.channel_id, job.parent_channel_id)
        with self.queue.claim(job.user_id, approved=approved, channels=channels) as place:
            async with self._admission():
                ticket = await self.pipeline.admit(job)
                try:
                    status = await begin(ticket)
                except BaseException:
                    await self.ledger.release(ticket.request_id, error_code="not_acknowledged")
                    raise
                self.queue.enqueue(place, ticket.request_id)
            await self._take_turn(place, status)

    def _still_unreviewed(self, place: Place, job: ImageJob) -> None:
        """Withdrawn ("approval_on") when approval mode was turned on while it waited, unless a
        moderator approved it: the server wants a moderator to see requests before they are made."""
        if not place.approved and self.needs_review(job):
            raise Withdrawn("approval_on")

    @contextlib.asynccontextmanager
    async def _admission(self) -> AsyncIterator[None]:
        """A turn to be admitted (`ADMITTING_AT_ONCE`), or none after `ADMISSION_WAIT_SECONDS`."""
        try:
            async with asyncio.timeout(ADMISSION_WAIT_SECONDS):
                await self._admitting.acquire()
        except TimeoutError:
            yield  # waited long enough: admitted alongside, so that the acknowledgement is in time
            return
        try:
            yield
        finally:
            self._admitting.release()

    async def _take_turn(self, place: Place, live: TurnStatus) -> None:
        """Wait in line (position shown), then run. Withdrawn (Cancel, shutdown, approval mode
        turned on meanwhile), refused by a rule or a limit changed meanwhile, or stopped by a
        shutdown: the books are closed from what was delivered and the member is told."""
        ticket, running = live.ticket, False
        try:
            await live.wait_turn(self.queue, place)
            self._still_unreviewed(place, ticket.job)
            # a rule or a limit changed while it waited refuses it now (a limit not for what those
            # behind it hold)
            ticket = await self.pipeline.recheck(ticket, behind=self.queue.waiting_ids)
            await live.start()
            running = place.ran = True  # from here on `execute` closes the books, whatever happens
            await self.pipeline.execute(ticket, live)
        except Withdrawn as withdrawn:
            await self.ledger.release(ticket.request_id, error_code=withdrawn.reason)
            await live.withdrawn(withdrawn.reason)
        except asyncio.CancelledError as stop:
            if not running:
                await self.ledger.release(ticket.request_id, error_code="cancelled")
            if not place.stopped:
                raise
            asyncio.current_task().uncancel()  # this stop was ours: tell the member
            await report_failure(live, _stopped(stop))
        except Exception as error:
            if not running:  # failed while waiting or starting (e.g. a dropped connection): nothing ran
                await self.ledger.release(ticket.request_id, error_code="not_started")
            await report_failure(live, error)
        finally:
            await live.quiet()


def _stopped(stop: asyncio.CancelledError) -> UserError:
    """What a member whose request a shutdown stopped is told: with what reached them and what
    they were charged for it, when some of it did (a series cut short)."""
    if isinstance(stop, StoppedAfter) and stop.charged_micros is None:  # "$0.00" would read as free
        return UserError("queue.stopped_delivered_unpriced", code="shutdown", delivered=stop.delivered,
                         requested=stop.requested)  # fmt: skip
    if isinstance(stop, StoppedAfter):
        return UserError("queue.stopped_delivered", code="shutdown", delivered=stop.delivered,
                         requested=stop.requested, charged=format_usd(stop.charged_micros))  # fmt: skip
    return UserError("queue.stopped", code="shutdown")
