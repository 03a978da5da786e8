"""One dispatched interaction and everything the bot did with it, in order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cdn import AttachmentStore
from .messages import MessageRecord, message_text

APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Callback types that each interaction type may answer with.
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}


@dataclass
class InteractionEvent:
    """kind: callback | followup | original_edit | original_delete | followup_edit | followup_delete |
    rejected (a request for this interaction that Discord would refuse; status and error say why)."""

    kind: str
    callback_type: int | None = None
    message: dict[str, Any] | None = None  # snapshot of the message after the event
    request: Any = None  # the JSON the bot sent
    status: int = 200
    error: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)


class InteractionHandle:
    def __init__(
        self, payload: dict[str, Any], store: AttachmentStore, *, attachment_size_limit: int
    ) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.attachment_size_limit = attachment_size_limit
        self.channel_id = int(payload["channel_id"]) if payload.get("channel_id") else None
        self.dispatched_at: float | None = None  # loop time when INTERACTION_CREATE was sent
        self.callback_type: int | None = None
        self.callback_data: dict[str, Any] | None = None
        self.original: MessageRecord | None = None
        self.followups: list[MessageRecord] = []
        self.source_message: MessageRecord | None = None  # the message a component sits on
        self.events: list[InteractionEvent] = []
        self._store = store
        self._changed = asyncio.Event()

    # -- recording (called by the server) --------------------------------------------------
    def record(self, event: InteractionEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = asyncio.Event()

    # -- state -----------------------------------------------------------------------------
    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal (callback type 9 data) the bot answered with, if any."""
        return self.callback_data if self.callback_type == 9 else None

    @property
    def autocomplete_choices(self) -> list[dict[str, Any]] | None:
        return (self.callback_data or {}).get("choices") if self.callback_type == 8 else None

    @property
    def loading(self) -> bool:
        """Deferred with thinking and nothing delivered yet."""
        return self.original is not None and self.original.loading and not self.original.deleted

    @property
    def message_records(self) -> list[MessageRecord]:
        seen: set[int] = set()
        out = []
        for rec in [self.original, *self.followups]:
            if rec is None or rec.deleted or rec.id in seen:
                continue
            seen.add(rec.id)
            out.append(rec)
        return out

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Current payloads: the original response (if any) then followups; deleted ones left out."""
        return [r.payload for r in self.message_records if not r.loading]

    @property
    def rejections(self) -> list[InteractionEvent]:
        return [e for e in self.events if e.kind == "rejected"]

    def all_text(self) -> str:
        parts: list[str] = []
        for msg in self.messages:
            parts.extend(message_text(msg))
        return "\n".join(parts)

    def files(self) -> list[tuple[str, bytes]]:
        out = []
        for msg in self.messages:
            for att in msg.get("attachments", []):
                stored = self._store.get(int(att["id"]))
                if stored is not None:
                    out.append((att["filename"], stored.data))
        return out

    # -- waiting ---------------------------------------------------------------------------
    async def wait_for(
        self, predicate: Callable[[InteractionEvent], bool] | None = None, timeout: float = 5.0
    ) -> InteractionEvent:
        """The first recorded event (past or future) matching ``predicate`` (any event if None)."""
        deadline = asyncio.get_running_loop().time() + timeout
        checked = 0
        while True:
            for event in self.events[checked:]:
                if predicate is None or predicate(event):
                    return event
            checked = len(self.events)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(
                    f"interaction {self.id}: no matching event within {timeout}s; events={self.kinds()}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_for_ack(self, timeout: float = 5.0) -> InteractionEvent:
        return await self.wait_for(lambda e: e.kind == "callback", timeout)

    async def wait_for_final(self, timeout: float = 10.0, quiet: float = 0.3) -> InteractionHandle:
        """Wait until acknowledged, not still 'thinking', and nothing new for ``quiet`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = loop.time()
            last = self.events[-1].at if self.events else None
            settled = last is not None and time.monotonic() - last >= quiet
            if self.acknowledged and not self.loading and settled:
                return self
            if now >= deadline:
                raise TimeoutError(
                    f"interaction {self.id} not final after {timeout}s (acked={self.acknowledged}, "
                    f"loading={self.loading}, events={self.kinds()})"
                )
            wait = min(deadline - now, quiet if self.acknowledged and not self.loading else deadline - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(wait, 0.01))

    def kinds(self) -> list[str]:
        return [e.kind if e.callback_type is None else f"{e.kind}:{e.callback_type}" for e in self.events]

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} events={self.kinds()}>"
