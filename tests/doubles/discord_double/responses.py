"""JSON responses and error bodies shaped exactly like Discord's."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from aiohttp import web

JSON = "application/json"  # discord.py compares the header to exactly this string


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    all_headers = {"Content-Type": JSON}
    all_headers.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def no_content() -> web.Response:
    return web.Response(status=204)


def error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status=status)


def field_errors(path: list[str | int], code: str, message: str) -> dict[str, Any]:
    """Discord's nested form-error tree: {"embeds": {"0": {"title": {"_errors": [...]}}}}."""
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path):
        tree = {str(part): tree}
    return tree


def invalid_form_body(errors: dict[str, Any]) -> web.Response:
    return error(400, 50035, "Invalid Form Body", errors)


def unknown(kind: str, code: int) -> web.Response:
    return error(404, code, f"Unknown {kind}")


def not_found() -> web.Response:
    return error(404, 0, "404: Not Found")


def unauthorized() -> web.Response:
    return error(401, 0, "401: Unauthorized")


def rate_limited(retry_after: float, *, is_global: bool = False, bucket: str = "double") -> web.Response:
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "global" if is_global else "user",
        "Via": "1.1 google",  # discord.py only retries a 429 that came through Discord's proxy
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
    return json_response(body, status=429, headers=headers)
