"""The deferred reply while a request waits and runs.

Waiting: its position and estimated wait, with a Cancel button, edited when the position
changes. Running: the stage (generating, uploading) and the elapsed time. At most one
progress edit per `interval` seconds (Discord rate-limits message edits), and none once the
results start to arrive: from then on the `InteractionSink` owns the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import discord

from i18n import t
from pipeline.delivery import DISCORD_ERRORS, ChannelSink, InteractionSink, reply_gone
from pipeline.explain import DeliveryError, UserError
from pipeline.queue import FairQueue, Place, Withdrawn
from pipeline.runner import Outcome, ReadyImage, ResultSink, Ticket

log = logging.getLogger(__name__)

# How long the edit that replaces a waited request's place in line may hold up its gateway call.
START_EDIT_SECONDS = 1.0


class TurnStatus(ResultSink, Protocol):
    """What a request shows while it waits and runs (`LiveStatus`, `ChannelStatus`): the queue path
    in `bot.SeedreamBot` takes any of them, so every way in waits, runs and stops alike."""

    ticket: Ticket

    async def wait_turn(self, queue: FairQueue, place: Place) -> None: ...

    async def start(self) -> None: ...

    async def withdrawn(self, reason: str) -> None: ...

    async def quiet(self) -> None: ...

    async def fail(self, error: BaseException) -> None: ...


def _why(error: BaseException) -> str:
    return str(getattr(error, "status", None) or type(error).__name__)


class LiveStatus:
    """A `ResultSink` around an `InteractionSink` that keeps the reply up to date meanwhile."""

    def __init__(
        self,
        sink: InteractionSink,
        *,
        interval: float,
        cancel_view: Callable[[], discord.ui.View],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.ticket = sink.ticket
        self.locale = sink.locale
        self.upload_limit = sink.upload_limit
        self._interval = interval
        self._cancel_view = cancel_view
        self._clock = clock
        self._stage = "generating"
        self._stage_changed = asyncio.Event()
        self._started = clock()
        self._lock = asyncio.Lock()
        self._quiet = False
        self._cancel_shown = False
        self._ticker: asyncio.Task[None] | None = None

    # -- waiting -------------------------------------------------------------------------
    async def wait_turn(self, queue: FairQueue, place: Place) -> None:
        """Show the place in line until its turn comes; raises `Withdrawn` if it leaves first."""

        async def show(text: str) -> None:
            await self._edit(content=text, view=self._cancel_view())

        await _wait_showing_place(queue, place, self.locale, self._interval, show)

    async def withdrawn(self, reason: str) -> None:
        """The request left the line: say why (the Cancel button goes away). Without a reply
        (Discord refused the defer) the member is told in the channel, as results would be."""
        async with self._lock:
            self._quiet = True
            if await self._edit_locked(content=t(f"queue.withdrawn.{reason}", self.locale), view=None):
                return
        # No reply, or one that could not be edited (its token expired while it waited): the
        # sink's own way, which posts in the channel when the reply is gone.
        try:
            await self.sink.fail(UserError(f"queue.withdrawn.{reason}", code=reason))
        except (*DISCORD_ERRORS, DeliveryError):
            log.warning("request %s: could not tell the member it was withdrawn", self.ticket.request_id)

    # -- running -------------------------------------------------------------------------
    async def start(self) -> None:
        """The turn came. The stage and elapsed time show every `interval`, the first time after
        one interval (Discord shows "thinking…" until then, and a quick request needs no edit at
        all). A request that waited in line has its place and Cancel button replaced first, before
        the gateway is asked (at most `START_EDIT_SECONDS`): that edit also finds a reply whose
        token expired while it waited. Otherwise the gateway is asked at once, the edits in the
        background, whatever Discord's rate limits make them wait.

        Raises `Withdrawn` ("cannot_post") when the results could reach no one: the reply is
        gone and the bot may not post in the channel. The gateway would make, and bill, images
        for nobody."""
        self._started = self._clock()
        if self._cancel_shown:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(START_EDIT_SECONDS), self._lock:
                    await self._edit_locked(content=self._running_text(), view=None)
        if not self.sink.can_deliver():
            raise Withdrawn("cannot_post")
        at_once = self._cancel_shown  # the replacing edit failed (or took too long): tried again now
        self._ticker = asyncio.create_task(self._tick(at_once), name=f"progress-{self.ticket.request_id}")

    async def stage(self, name: str) -> None:
        """A new stage is shown at once once the edits have begun (a member who has watched
        "Generating… (12 s)" sees "Sending… to Discord" while a large upload goes up, not the
        generating stage frozen); a request quicker than one interval still needs no edit."""
        if name != self._stage:
            self._stage = name
            self._stage_changed.set()

    async def _tick(self, at_once: bool) -> None:
        shown = None
        if not at_once:
            await asyncio.sleep(self._interval)
        while True:
            self._stage_changed.clear()
            async with self._lock:
                if self._quiet:
                    return
                text = self._running_text()
                if text != shown and await self._edit_locked(content=text, view=None):
                    shown = text  # one that failed is tried again next time
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._stage_changed.wait()

    def _running_text(self) -> str:
        job = self.ticket.job
        elapsed = int(self._clock() - self._started)
        return t(f"stage.{self._stage}", self.locale, count=job.count, model=job.model.label, elapsed=elapsed)

    # -- results (the sink's from here on) -----------------------------------------------
    async def post(self, images: Sequence[ReadyImage]) -> None:
        await self.quiet()
        await self.sink.post(images)

    async def post_final(self, images: Sequence[ReadyImage], outcome: Outcome) -> None:
        await self.quiet()
        await self.sink.post_final(images, outcome)

    async def finish(self, outcome: Outcome) -> None:
        await self.quiet()
        await self.sink.finish(outcome)

    async def fail(self, error: BaseException) -> None:
        await self.quiet()
        await self.sink.fail(error)

    # -- editing -------------------------------------------------------------------------
    async def quiet(self) -> None:
        """No progress edit after this returns (one in flight is waited for, never cut off)."""
        async with self._lock:
            if self._cancel_shown and not self._quiet:
                await self._edit_locked(view=None)
            self._quiet = True
        if self._ticker is not None:
            self._ticker.cancel()

    async def _edit(self, **fields: object) -> None:
        async with self._lock:
            if self._quiet:
                return
            await self._edit_locked(**fields)

    async def _edit_locked(self, **fields: object) -> bool:
        """Edit the reply; False when there is none or Discord refused (best effort: the sink
        reports results through its own fallbacks). One failed edit (a 5xx, a dropped connection)
        is only skipped; a reply that is gone for good (its token expired) is left alone after."""
        if not await self.sink.reply_ready():  # no reply to keep up to date: results go to the channel
            self._quiet = True
            return False
        if fields.get("view") is not None:
            self._cancel_shown = True  # from the moment it is sent: an edit cut off may still land
        try:
            await self.sink.interaction.edit_original_response(**fields)
        except DISCORD_ERRORS as error:
            log.info("request %s: progress edit failed (%s)", self.ticket.request_id, _why(error))
            if isinstance(error, discord.HTTPException) and reply_gone(error):
                self._quiet = True
                self.sink.lose_reply(error)
            return False
        if "view" in fields:
            self._cancel_shown = fields["view"] is not None
        return True


class ChannelStatus:
    """`LiveStatus`'s stand-in for a `ChannelSink` (an approved request): there is no reply, so a
    request that has to wait posts one message in the channel, mentioning the member, with its
    place, estimated wait and a Cancel button, edited as it moves up and deleted when its turn
    comes (the results are new messages). A withdrawal is said there (or posted)."""

    def __init__(
        self,
        sink: ChannelSink,
        *,
        interval: float = 5.0,
        cancel_view: Callable[[], discord.ui.View] | None = None,
    ) -> None:
        self.sink = sink
        self.ticket = sink.ticket
        self.locale = sink.locale
        self.upload_limit = sink.upload_limit
        self._interval = interval
        self._cancel_view = cancel_view
        self._waiting: discord.Message | None = None
        # The place-in-line message's post, which goes on even if showing is called off: a
        # message posted after all must still be deleted (or say the withdrawal), not linger.
        self._posting: asyncio.Future[discord.Message] | None = None
        self._deleting: asyncio.Task[None] | None = None

    async def wait_turn(self, queue: FairQueue, place: Place) -> None:
        await _wait_showing_place(queue, place, self.locale, self._interval, self._show_place)

    async def _show_place(self, text: str) -> None:
        view = self._cancel_view() if self._cancel_view is not None else None
        try:
            if self._waiting is None:
                self._posting = asyncio.ensure_future(self.sink.send(text, view=view, passing=True))
                self._waiting = await asyncio.shield(self._posting)
            else:
                await self._waiting.edit(content=self.sink.mentioned(text), view=view)
        except (*DISCORD_ERRORS, DeliveryError) as error:  # best effort, as LiveStatus's edits
            log.info("request %s: could not show its place in line (%s)", self.ticket.request_id, _why(error))

    async def _waiting_message(self) -> discord.Message | None:
        """The place-in-line message, once its post (if one was under way) is through."""
        if self._waiting is None and self._posting is not None:
            with contextlib.suppress(*DISCORD_ERRORS, DeliveryError):
                self._waiting = await self._posting
        return self._waiting

    async def start(self) -> None:
        """As `LiveStatus.start`: withdrawn when the bot may no longer post in the channel."""
        if not self.sink.can_deliver():
            raise Withdrawn("cannot_post")
        if self._waiting is not None or self._posting is not None:  # deleted in the background
            self._deleting = asyncio.create_task(self._unqueue(), name=f"unqueue-{self.ticket.request_id}")

    async def _unqueue(self) -> None:
        waiting = await self._waiting_message()
        self._waiting = self._posting = None
        if waiting is not None:
            with contextlib.suppress(*DISCORD_ERRORS):
                await waiting.delete()

    async def withdrawn(self, reason: str) -> None:
        try:
            if await self._waiting_message() is not None:
                text = t(f"queue.withdrawn.{reason}", self.locale)
                await self._waiting.edit(content=self.sink.mentioned(text), view=None)
                return
            await self.sink.fail(UserError(f"queue.withdrawn.{reason}", code=reason))
        except (*DISCORD_ERRORS, DeliveryError):
            log.warning("request %s: could not tell the member it was withdrawn", self.ticket.request_id)

    async def quiet(self) -> None:
        return None

    async def post(self, images: Sequence[ReadyImage]) -> None:
        await self.sink.post(images)

    async def post_final(self, images: Sequence[ReadyImage], outcome: Outcome) -> None:
        await self.sink.post_final(images, outcome)

    async def finish(self, outcome: Outcome) -> None:
        await self.sink.finish(outcome)

    async def fail(self, error: BaseException) -> None:
        try:
            await self.sink.fail(error)
        finally:
            if self._deleting is None and (self._waiting is not None or self._posting is not None):
                # Refused in line (a limit lowered while it waited): its place and Cancel button
                # go, as at its turn, rather than stay for a request that is no more.
                await self._unqueue()


def _wait_in_words(seconds: float, locale: str) -> str:
    """"45 s" under a minute and a half, then whole minutes ("6 min", not "340 s"), rounded up."""
    if seconds < 90:
        return t("queue.wait_seconds", locale, count=max(1, math.ceil(seconds)))
    return t("queue.wait_minutes", locale, count=math.ceil(seconds / 60))


async def _wait_showing_place(
    queue: FairQueue, place: Place, locale: str, interval: float, show: Callable[[str], Awaitable[None]]
) -> None:
    """Wait for the place's turn, showing its position and estimated wait whenever the position
    changes (checked every `interval`); raises `Withdrawn` if it leaves the line first.

    Showing runs beside the wait, one edit at a time: an edit Discord holds back (a 429's
    Retry-After) neither delays the turn nor stacks up newer ones, and one still in flight when
    the place leaves the line is called off (it would bring back an old place, or a Cancel button)."""
    if place.turn.done():  # a free slot: no task, no turn of the event loop before running
        place.turn.result()
        return
    turn = asyncio.ensure_future(queue.wait_turn(place))
    shown = None
    showing: asyncio.Task[None] | None = None
    try:
        while not turn.done():
            position = queue.position(place)
            if position is not None and position != shown and (showing is None or showing.done()):
                wait = _wait_in_words(queue.estimate(place), locale)
                showing = asyncio.create_task(show(t("queue.position", locale, position=position, wait=wait)))
                shown = position
            await asyncio.wait({turn}, timeout=interval)
    finally:
        if not turn.done():
            turn.cancel()
        if showing is not None and not showing.done():
            showing.cancel()
    turn.result()

