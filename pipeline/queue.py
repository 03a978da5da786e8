"""The fair queue: first come, first served across members, a global limit on running requests
and a per-member limit on requests in flight (waiting or running).

A request claims a `Place` before anything is reserved (so a refusal costs nothing), enters
the line once admitted, waits for its turn, runs and leaves. A waiting place can be withdrawn
(the member's Cancel, or a shutdown). Waits are estimated from recent real run durations.
Nothing here knows about Discord; `pipeline.progress` shows the place to the member.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.explain import UserError

log = logging.getLogger(__name__)

DEFAULT_RUN_SECONDS = 30.0  # the estimate before any request has run
HISTORY = 10  # run durations the moving average remembers
OVERRUN_SHARE = 0.25  # a request already past the average is expected to need this share of it more
STOP_WAIT_SECONDS = 10.0  # how long stopped requests get to close their books and tell the member
DELETED_CHANNELS_KEPT = 1000  # enough for any request still on its way to the line


class Withdrawn(Exception):
    """A waiting place left the line before it ran: `reason` is "cancelled", "shutdown",
    "channel_gone" (deleted meanwhile), "cannot_post" (its results could reach no one) or
    "approval_on" (approval mode turned on meanwhile: a moderator must see it first)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = reason


@dataclass(eq=False)
class Place:
    """One request's place, from claim to leave. Use as a context manager: leaving is certain."""

    queue: FairQueue
    user_id: int
    task: asyncio.Task | None
    channels: tuple[int, ...] = ()  # where its results go (a thread's channel too)
    request_id: int | None = None
    # claimed -> waiting -> running -> left; waiting -> withdrawn -> left; "preparing" is a claim
    # held over a slow step before anything is reserved (reference images downloading)
    state: str = "claimed"
    approved: bool = False  # a moderator's decision (approval mode): reviewed already
    stopped: bool = False  # a shutdown cancelled it while it ran
    ran: bool = False  # it was generating (not withdrawn at its turn): its duration is a run's
    started_at: float | None = None
    turn: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def __enter__(self) -> Place:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.queue.leave(self)


class FairQueue:
    def __init__(
        self, *, concurrency: int, per_member: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.concurrency = concurrency
        self.per_member = per_member
        self._clock = clock
        self._places: list[Place] = []  # everything in flight, in claim order
        self._waiting: deque[Place] = deque()
        self._durations: deque[float] = deque(maxlen=HISTORY)
        self._idle = asyncio.Event()
        self._idle.set()
        self.closed = False
        self._deleted_channels: dict[int, None] = {}  # the latest deleted, oldest first (`withdraw_in`)

    # -- a request's life ------------------------------------------------------------------
    def claim(
        self, user_id: int, *, preparing: bool = False, approved: bool = False, channels: tuple[int, ...] = ()
    ) -> Place:
        """A place for a new request, or a refusal the member can read (nothing reserved yet).
        A `preparing` one is stopped at once by a shutdown: it could not be admitted after it.
        An `approved` one (a moderator's decision, which would be lost by a refusal) counts toward
        the member's requests in flight but is not refused by their number: it waits its turn."""
        if self.closed:
            raise UserError("queue.restarting", code="restarting")
        in_flight = sum(1 for place in self._places if place.user_id == user_id)
        if in_flight >= self.per_member and not approved:
            raise UserError("queue.member_busy", code="member_busy", limit=self.per_member)
        place = Place(
            self, user_id, asyncio.current_task(), channels=channels, state="preparing" if preparing else "claimed",
            approved=approved,
        )
        self._places.append(place)
        self._idle.clear()
        return place

    def enqueue(self, place: Place, request_id: int) -> None:
        """Join the end of the line (the reservation is held while waiting)."""
        place.request_id = request_id
        if self.closed or any(channel in self._deleted_channels for channel in place.channels):
            self._withdraw(place, "shutdown" if self.closed else "channel_gone")
            return
        place.state = "waiting"
        self._waiting.append(place)
        self._promote()

    async def wait_turn(self, place: Place) -> None:
        """Return when the place may run; raises `Withdrawn` if it left the line first."""
        await asyncio.shield(place.turn)

    def withdraw(self, place: Place, reason: str = "cancelled") -> bool:
        """Take a waiting place out of the line; False if it is already running or gone."""
        if place.state != "waiting":
            return False
        self._waiting.remove(place)
        self._withdraw(place, reason)
        return True

    def withdraw_in(self, channel_id: int) -> int:
        """Take out of the line every request whose channel (or thread's channel) was deleted:
        its results could go nowhere. One not in line yet (being admitted, or downloading its
        reference images) leaves as soon as it joins: the channel is remembered (ids are never
        reused). Returns how many were in line."""
        self._deleted_channels[channel_id] = None
        while len(self._deleted_channels) > DELETED_CHANNELS_KEPT:
            del self._deleted_channels[next(iter(self._deleted_channels))]
        gone = [place for place in self._waiting if channel_id in place.channels]
        for place in gone:
            self.withdraw(place, "channel_gone")
        return len(gone)

    def leave(self, place: Place) -> None:
        if place.state == "left":
            return
        if place in self._waiting:
            self._waiting.remove(place)
        if place.ran and not place.stopped and place.started_at is not None:
            self._durations.append(self._clock() - place.started_at)
        place.state = "left"
        if not place.turn.done():
            place.turn.cancel()
        self._places.remove(place)
        if not self._places:
            self._idle.set()
        self._promote()

    def waiting_ids(self) -> list[int]:
        """The requests still in line: each one whose turn comes now was ahead of all of them."""
        return [place.request_id for place in self._waiting if place.request_id is not None]

    # -- what a member sees ----------------------------------------------------------------
    def find(self, request_id: int) -> Place | None:
        return next((place for place in self._places if place.request_id == request_id), None)

    def position(self, place: Place) -> int | None:
        """1 for the next to run; None unless waiting."""
        try:
            return self._waiting.index(place) + 1
        except ValueError:
            return None

    def average_seconds(self) -> float:
        if not self._durations:
            return DEFAULT_RUN_SECONDS
        return sum(self._durations) / len(self._durations)

    def estimate(self, place: Place) -> float:
        """Seconds until `place` starts: each running request ends after the average run
        (minus what it already ran, but never less than `OVERRUN_SHARE` of it: one near its end,
        or past it, is not taken for done),
        and each place ahead then takes the first free slot."""
        average, now = self.average_seconds(), self._clock()
        least = average * OVERRUN_SHARE
        slots = [max(average - (now - p.started_at), least) for p in self._running() if p.started_at is not None]
        slots += [0.0] * max(self.concurrency - len(slots), 0)
        heapq.heapify(slots)
        for ahead in self._waiting:
            start = heapq.heappop(slots)
            if ahead is place:
                return start
            heapq.heappush(slots, start + average)
        return 0.0

    # -- shutdown --------------------------------------------------------------------------
    async def drain(self, grace: float) -> None:
        """Take no more requests; withdraw the waiting ones; give the running ones `grace`
        seconds, then stop (cancel) the rest and wait for them to close their books."""
        if not self.closed:
            self.closed = True
            for place in list(self._waiting):
                self.withdraw(place, "shutdown")
            for place in self._places:
                if place.state == "preparing":  # nothing reserved, and refused once it is ready
                    place.stopped = True
                    if place.task is not None:
                        place.task.cancel()
        if await self._wait_idle(grace):
            return
        running = [place for place in self._running() if not place.stopped]
        if running:
            log.warning("stopping %d request(s) still running after %.0f s", len(running), grace)
        for place in running:
            place.stopped = True
            if place.task is not None:
                place.task.cancel()
        if not await self._wait_idle(STOP_WAIT_SECONDS):
            log.error("%d request(s) did not stop in time", len(self._places))

    async def _wait_idle(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # -- inside ----------------------------------------------------------------------------
    def _running(self) -> list[Place]:
        return [place for place in self._places if place.state == "running"]

    def _withdraw(self, place: Place, reason: str) -> None:
        place.state = "withdrawn"
        if not place.turn.done():
            place.turn.set_exception(Withdrawn(reason))

    def _promote(self) -> None:
        free = self.concurrency - len(self._running())
        while free > 0 and self._waiting:
            place = self._waiting.popleft()
            place.state = "running"
            place.started_at = self._clock()
            if not place.turn.done():
                place.turn.set_result(None)
            free -= 1
