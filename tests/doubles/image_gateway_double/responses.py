"""Body shapes of successful answers: the JSON response and the server-sent events."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .imaging import Blob

TOKENS_PER_PIXEL = 1 / 256  # Ark: a 2048x2048 image is 16,384 output tokens
SENSITIVE_OUTPUT = "OutputImageSensitiveContentDetected"
SENSITIVE_MESSAGE = "The request failed because the output image may contain sensitive information."


@dataclass
class Outcome:
    """One output slot: an image or a moderation failure."""

    index: int
    size: tuple[int, int]  # logical size reported to the client
    blob: Blob | None = None
    url: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @property
    def size_text(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"


def image_fields(outcome: Outcome, response_format: str, minimal: bool) -> dict[str, Any]:
    """{"url"|"b64_json", "size"} of a successful image, or {"error": ...} of a failed one."""
    if not outcome.ok:
        return {"error": {"code": outcome.error_code, "message": SENSITIVE_MESSAGE}}
    assert outcome.blob is not None
    if response_format == "b64_json":
        fields: dict[str, Any] = {"b64_json": base64.b64encode(outcome.blob.data).decode("ascii")}
    else:
        fields = {"url": outcome.url}
    if not minimal:
        fields["size"] = outcome.size_text
    return fields


def usage(outcomes: list[Outcome], minimal: bool) -> dict[str, int]:
    succeeded = [outcome for outcome in outcomes if outcome.ok]
    if minimal:
        return {"generated_images": len(succeeded)}
    tokens = sum(round(o.size[0] * o.size[1] * TOKENS_PER_PIXEL) for o in succeeded)
    return {"generated_images": len(succeeded), "output_tokens": tokens, "total_tokens": tokens}


def json_body(
    model: str, created: int, outcomes: list[Outcome], response_format: str, minimal: bool
) -> bytes:
    body = {
        "model": model,
        "created": created,
        "data": [image_fields(outcome, response_format, minimal) for outcome in outcomes],
        "usage": usage(outcomes, minimal),
    }
    return json.dumps(body, ensure_ascii=False).encode()


def empty_body(model: str, created: int, code: str | None, message: str | None) -> dict[str, Any]:
    """A 200 without any image: "data": [] and, given a code, the optional "error" object beside it."""
    body: dict[str, Any] = {"model": model, "created": created, "data": []}
    if code is not None:
        body["error"] = {"code": code, "message": message or ""}
    return body


def sse_event(event: str | None, data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def partial_event(model: str, created: int, outcome: Outcome, response_format: str) -> bytes:
    kind = "image_generation.partial_succeeded" if outcome.ok else "image_generation.partial_failed"
    data = {"type": kind, "model": model, "created": created, "image_index": outcome.index}
    data.update(image_fields(outcome, response_format, minimal=False))
    return sse_event(kind, data)


def completed_event(model: str, created: int, outcomes: list[Outcome]) -> bytes:
    kind = "image_generation.completed"
    return sse_event(
        kind, {"type": kind, "model": model, "created": created, "usage": usage(outcomes, False)}
    )


DONE_EVENT = sse_event(None, "[DONE]")
