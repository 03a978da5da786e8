"""The place-in-line message of an approved request (ChannelStatus) and who it notifies."""

from __future__ import annotations

import asyncio

import discord

from image_gateway.presets import build_catalog, get_preset
from pipeline.delivery import ChannelSink
from pipeline.job import ImageJob
from pipeline.progress import ChannelStatus
from pipeline.queue import FairQueue
from pipeline.runner import Ticket
from storage import Limits

MEMBER = 42


class Message:
    def __init__(self, channel: Channel, content: str) -> None:
        self.channel, self.content, self.deleted = channel, content, False

    async def delete(self) -> None:
        self.deleted = True

    async def edit(self, **fields) -> None:
        self.content = fields.get("content", self.content)


class Channel:
    """The first post (the place in line) is slow, as one held back by a 429's Retry-After."""

    def __init__(self) -> None:
        self.sent: list[tuple[Message, bool]] = []  # (message, pinged the member)

    async def send(self, content, *, files=(), allowed_mentions=None, **extra) -> Message:
        if not self.sent and not getattr(self, "_first_done", False):
            self._first_done = True
            await asyncio.sleep(0.3)
        message = Message(self, content)
        pinged = allowed_mentions is not None and any(u.id == MEMBER for u in (allowed_mentions.users or []))
        self.sent.append((message, pinged))
        return message


def ticket(request_id: int) -> Ticket:
    model = build_catalog(get_preset("aiearth")).model("doubao-seedream-5-0-260128")
    job = ImageJob(command="imagine", guild_id=1, channel_id=2, user_id=MEMBER, locale="en-US", prompt="a cat",
                   model=model, count=1)  # fmt: skip
    return Ticket(job=job, request=None, request_id=request_id, limits=Limits(None, None, None))  # type: ignore[arg-type]


async def test_the_results_ping_the_member_when_their_turn_came_while_the_place_was_being_posted() -> None:
    queue = FairQueue(concurrency=1, per_member=5)
    ahead = queue.claim(1)
    queue.enqueue(ahead, 100)  # running
    place = queue.claim(MEMBER)
    the_ticket = ticket(101)
    queue.enqueue(place, the_ticket.request_id)  # waiting: its place is posted in the channel
    channel = Channel()
    status = ChannelStatus(ChannelSink(channel, the_ticket, upload_limit=8 << 20), interval=0.05,
                           cancel_view=discord.ui.View)  # fmt: skip
    waiting = asyncio.create_task(status.wait_turn(queue, place))
    await asyncio.sleep(0.05)  # the place-in-line post is in flight
    queue.leave(ahead)  # the turn comes
    await waiting
    await status.start()
    await asyncio.sleep(0.5)  # the image is generated
    await status.sink.send("here are your images")  # the results (post_final goes through send)
    await asyncio.sleep(0.05)
    place_message, place_pinged = channel.sent[0]
    _results_message, results_pinged = channel.sent[-1]
    assert place_pinged and place_message.deleted  # the ping went away with the deleted message
    assert results_pinged, "the member is never pinged for their results"
