"""Validate request bodies against Discord's OpenAPI description (loaded and indexed once per process).

Quirks of the published spec that real Discord does not enforce, and what we do about them
(each is a narrow patch; validation is otherwise the spec's own):

* ``SnowflakeType`` is ``{"type": "string", "pattern": ...}``, but Discord accepts integer snowflakes in
  request bodies, and discord.py sends ``attachments[].id`` as the integer index of ``files[n]``.
  We accept a non-negative integer there too.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "discord-api-spec" / "openapi.json"
API_BASE_PATH = "/api/v10"
_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # spec path, e.g. /interactions/{interaction_id}/{interaction_token}/callback
    operation_id: str
    literal_segments: int
    regex: re.Pattern[str]
    body_schema: dict[str, Any] | None


@dataclass
class Violation:
    message: str
    path: list[str | int]


def _patched_components(components: dict[str, Any]) -> dict[str, Any]:
    schemas = dict(components["schemas"])
    snowflake = schemas.get("SnowflakeType")
    if snowflake is not None:
        schemas["SnowflakeType"] = {"anyOf": [snowflake, {"type": "integer", "minimum": 0}]}
    return {**components, "schemas": schemas}


def _template_regex(template: str) -> re.Pattern[str]:
    parts = []
    for seg in template.strip("/").split("/"):
        parts.append("[^/]+" if seg.startswith("{") and seg.endswith("}") else re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "$")


class SpecIndex:
    """Operations of the spec indexed by method; refs resolve into ``#/components``."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.base_path = "/api/v10"
        servers = document.get("servers") or []
        if servers:
            self.base_path = urlsplit(servers[0]["url"]).path.rstrip("/")  # "/api/v10"
        self._components = _patched_components(document.get("components", {}))
        self._by_method: dict[str, list[Operation]] = {}
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        for template, item in document.get("paths", {}).items():
            for method in _METHODS:
                op = item.get(method)
                if op is None:
                    continue
                content = (op.get("requestBody") or {}).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                segments = template.strip("/").split("/")
                self._by_method.setdefault(method.upper(), []).append(
                    Operation(
                        method=method.upper(),
                        template=template,
                        operation_id=op.get("operationId", ""),
                        literal_segments=sum(1 for s in segments if not s.startswith("{")),
                        regex=_template_regex(template),
                        body_schema=schema,
                    )
                )
        for ops in self._by_method.values():  # literal segments win over parameters (@original vs {id})
            ops.sort(key=lambda o: -o.literal_segments)

    def find(self, method: str, path: str) -> Operation | None:
        """``path`` is relative to the API base, e.g. ``/channels/1/messages``."""
        for op in self._by_method.get(method.upper(), []):
            if op.regex.match(path):
                return op
        return None

    def _validator(self, op: Operation) -> Draft202012Validator:
        key = (op.method, op.template)
        validator = self._validators.get(key)
        if validator is None:
            # "#/components/..." refs resolve against this root, which carries the components.
            root = {**(op.body_schema or {}), "components": self._components}
            validator = Draft202012Validator(root)
            self._validators[key] = validator
        return validator

    def validate(self, method: str, path: str, body: Any) -> tuple[Operation | None, Violation | None]:
        op = self.find(method, path)
        if op is None or op.body_schema is None:
            return op, None
        errors = list(self._validator(op).iter_errors(body))
        if not errors:
            return op, None
        err = _most_specific(best_match(errors))
        message = err.message
        if len(message) > 300:
            message = f"{repr(err.instance)[:60]}... fails {err.validator}={str(err.validator_value)[:100]}"
        return op, Violation(message=f"{op.operation_id}: {message}", path=list(err.absolute_path))


def _most_specific(err: ValidationError) -> ValidationError:
    """Descend through anyOf/oneOf into the branch the body was evidently meant for.

    A branch whose discriminator (``type``) matched is preferred over ones that failed on ``type``.
    """
    while err.validator in ("anyOf", "oneOf") and err.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in err.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        depth = len(err.absolute_path)

        def discriminator_failed(subs: list[ValidationError], depth: int = depth) -> bool:
            return any(list(s.absolute_path)[depth:] == ["type"] for s in subs)

        candidates = [subs for subs in branches.values() if not discriminator_failed(subs)]
        pool = (
            candidates[0]
            if len(candidates) == 1
            else [s for subs in (candidates or branches.values()) for s in subs]
        )
        err = best_match(pool)
    return err


@functools.cache
def load_spec(path: str) -> SpecIndex:
    with open(path, encoding="utf-8") as fh:
        return SpecIndex(json.load(fh))


def get_spec(path: Path | str | None) -> tuple[SpecIndex | None, str | None]:
    """(index, None) or (None, why validation is skipped)."""
    spec_path = Path(path) if path is not None else DEFAULT_SPEC_PATH
    if not spec_path.is_file():
        return None, f"Discord OpenAPI spec not found at {spec_path}; request bodies are NOT validated"
    try:
        index = load_spec(str(spec_path.resolve()))
    except (OSError, ValueError, KeyError) as exc:
        return (
            None,
            f"Discord OpenAPI spec at {spec_path} unusable ({exc!r}); request bodies are NOT validated",
        )
    if index.base_path != API_BASE_PATH:
        return (
            None,
            f"spec base {index.base_path!r} is not {API_BASE_PATH!r}; request bodies are NOT validated",
        )
    return index, None
