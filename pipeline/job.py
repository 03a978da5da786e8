"""The one request object every way in (command, context menu, button, approval) becomes."""

from __future__ import annotations

from dataclasses import dataclass, field

from image_gateway.catalog import InvalidOptionError, ModelSpec


@dataclass(frozen=True)
class Reference:
    """A reference image taken from a Discord attachment, already checked."""

    filename: str
    url: str
    data: bytes
    format: str
    converted: bool = False  # re-encoded for the model: the bytes at `url` are not these
    width: int = 0  # as its header tells (0: not known)
    height: int = 0


@dataclass
class ImageJob:
    command: str  # "imagine" | "edit" | "series" | a button name
    guild_id: int
    channel_id: int
    user_id: int
    locale: str
    prompt: str
    model: ModelSpec
    size: str | None = None
    count: int = 1
    seed: int | None = None
    series: bool = False
    references: list[Reference] = field(default_factory=list)
    role_ids: tuple[int, ...] = ()
    watermark: bool | None = None  # None: the bot's IMAGE_WATERMARK setting
    parent_channel_id: int | None = None  # a thread's channel: allowed channels cover their threads
    # A model option refused when the job was made (a model not offered, one that cannot do this):
    # raised by `Pipeline.build_request`, after the server's rules, which no option changes.
    refused_option: InvalidOptionError | None = None

    @property
    def images_requested(self) -> int:
        return self.count
