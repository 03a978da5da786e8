"""Turn any failure into one short message in the member's terms (the error funnel's core).

Details go to the log, never to the member; nothing here ever includes a secret, a request
header or a signed URL (gateway text is scrubbed by `image_gateway.errors.scrub`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence

from i18n import CATALOGS, t
from image_gateway.catalog import AllowedSizes, InvalidOptionError, ModelSpec, format_usd
from image_gateway.errors import (
    GATEWAY_TIMEOUTS,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from pipeline.fetch import FetchError
from pipeline.markdown import as_typed
from storage.ledger import QuotaExceeded

MAX_MESSAGE = 2000
# Request fields the bot sets from its configuration (the preset, the catalog), not from what the
# member chose: a 400 naming one is the operator's to fix, and the member can do nothing about it.
_BOT_FIELDS = frozenset({
    "model", "watermark", "response_format", "output_format", "stream", "sequential_image_generation",
    "sequential_image_generation_options", "optimize_prompt_options",
})  # fmt: skip
_NAMED_PARAMETER = re.compile(r"parameter `([\w.]+)`")  # Ark's "The parameter `x` specified in the request ..."
_CJK_GAP = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]) (?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])")


class AttachmentError(Exception):
    """A reference image that cannot be used; names the attachment and says why. `position`
    (1, 2, ...) tells apart attachments of the same name (pasted screenshots are all
    `image.png`); None when it is the only one."""

    def __init__(
        self, name: str, reason: str, code: str = "bad_attachment", *, position: int | None = None, **params: object
    ) -> None:
        super().__init__(f"{name}: {reason}" if position is None else f"image {position} ({name}): {reason}")
        self.name = name
        self.reason = reason  # English, for the log; members read i18n "attachment.<code>" when it exists
        self.code = code
        self.position = position
        self.params = params


class AttachmentErrors(AttachmentError):
    """Several reference images that cannot be used, told in one answer: named one at a time, the
    member would replace the first, send again, and only then hear of the next. To code that
    looks at one refusal it is the first of them."""

    def __init__(self, errors: Sequence[AttachmentError]) -> None:
        first = errors[0]
        super().__init__(first.name, first.reason, first.code, position=first.position, **first.params)
        self.args = ("; ".join(str(error) for error in errors),)
        self.errors = tuple(errors)


class DeliveryError(Exception):
    """Results were generated but could not be posted to Discord."""

    code = "delivery_failed"


class UserError(Exception):
    """A refusal whose text is already in the member's terms (i18n key + params)."""

    def __init__(self, key: str, code: str = "refused", **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.code = code
        self.params = params


def explain(
    error: BaseException, locale: object | None, *, model: ModelSpec | None = None, size: str | None = None
) -> str:
    """The message a member sees for `error` (at most 2000 characters). `model` and `size`: what
    the request asked, for a size the gateway refused (a rule of its own the bot's catalog does not
    know), told as the bot's own refusal of a size is, with the sizes the model takes."""
    if model is not None and size and isinstance(error, BadRequestError) and _named_field(error) == "size":
        said = as_typed(error.message or error.code or "")
        error = InvalidOptionError("size", f"the image service refused {size}: {said}", "gateway_refused",
                                   value=size, said=said, model=model.label, allowed=_others(model, size))  # fmt: skip
    return _clip(_explain(error, locale))


def is_expected(error: BaseException) -> bool:
    """True for failures that are the member's input or the outside world, not a bug."""
    return isinstance(
        error,
        InvalidOptionError | QuotaExceeded | AttachmentError | UserError | APIStatusError
        | APIConnectionError | InvalidResponseError | FetchError | DeliveryError,
    )


# The server's rules (pipeline.moderation): a request refused by one only at its turn (a term
# blocked while it waited) is told as one refused when asked is, privately.
RULE_REFUSALS = frozenset({"blocked_term", "wrong_channel", "role_required"})


def is_private_refusal(error: BaseException) -> bool:
    """A refusal that is the member's own business, told to them alone: the gateway's content
    filter refusing their prompt or image, or one of their limits or of the server's rules
    (changed while they waited)."""
    if isinstance(error, UserError):
        return error.code in RULE_REFUSALS
    return isinstance(error, QuotaExceeded) or (isinstance(error, APIStatusError) and error.is_content_filter)


def operator_hint(error: BaseException) -> str | None:
    """What the operator should check when `error` is the bot's configuration, not the member's
    request nor a passing outage (None otherwise): logged as an error, members are told an admin
    must look (error.misconfigured, error.no_access, error.unknown_model)."""
    match error:
        case AuthenticationError():
            return "IMAGE_API_KEY"
        case PermissionDeniedError():
            return "the gateway account's access to this model"
        case NotFoundError() | APIStatusError(status=405):
            return "IMAGE_API_BASE_URL and the model ids (IMAGE_MODEL, MODEL_CATALOG_FILE)"
        case APIStatusError(status=402):
            return "the gateway account's credit"
        case BadRequestError() if (field := _bot_field(error)) is not None:
            return f"the {field!r} field the bot sends this gateway's models (IMAGE_PROVIDER, MODEL_CATALOG_FILE)"
    return None


def _quota_refusal(error: QuotaExceeded, locale: object | None) -> str:
    """Which way a limit refuses: it allows nothing (0), or less than the request on any day or
    month (waiting for it to reset would not help: neither is told it resets); it is reached
    (used up, or too little is left for even one image: asking for fewer would not help); or this
    request would take it past."""
    one_image = error.requested // max(error.images, 1)
    if error.limit == 0:
        how = "none"
    elif error.requested > error.limit:
        # one image alone over a money limit: "ask for fewer images" cannot help
        how = "too_big_one" if one_image > error.limit and error.kind != "daily_images" else "too_big"
    elif error.used + one_image > error.limit:
        how = "reached"
    else:
        how = "past"
    show = str if error.kind == "daily_images" else format_usd
    return t(f"error.quota.{error.kind}.{how}", locale, limit=show(error.limit), used=show(error.used),
             requested=show(error.requested), resets=f"<t:{int(error.resets_at.timestamp())}:R>")  # fmt: skip


def _others(model: ModelSpec, refused: str) -> AllowedSizes:
    """The sizes `model` takes as the catalog knows them, but the one the gateway just refused
    (neither among the names nor as the example): the gateway knows a rule the catalog does not."""
    allowed = model.allowed_sizes()
    names = tuple(name for name in allowed.names if name.casefold() != refused.casefold())
    return dataclasses.replace(allowed, names=names, example=model.example_wxh(besides=refused))


def _bot_field(error: BadRequestError) -> str | None:
    """The request field a 400 names, when it is one the bot's configuration sets."""
    named = _named_field(error)
    return named if named in _BOT_FIELDS else None


def _named_field(error: BadRequestError) -> str | None:
    """The request field a 400 names: its `param`, or Ark's "The parameter `x` ..."."""
    return error.param or (found.group(1) if (found := _NAMED_PARAMETER.search(error.message or "")) else None)


def _explain(error: BaseException, locale: object | None) -> str:
    match error:
        case UserError():
            return t(error.key, locale, **error.params)
        case InvalidOptionError():
            return _invalid_option(error, locale)
        case QuotaExceeded():
            return _quota_refusal(error, locale)
        case AttachmentErrors():
            return _attachments(error.errors, locale)
        case AttachmentError():
            return _attachment(error, locale)
        case APIStatusError() if error.is_content_filter:
            return t("error.content_filter", locale)
        case APIStatusError() if error.status in GATEWAY_TIMEOUTS:
            return t("error.timeout", locale)
        case RateLimitError() | InternalServerError():
            return t("error.busy", locale)
        case AuthenticationError():
            return t("error.misconfigured", locale)
        case PermissionDeniedError():
            return t("error.no_access", locale)
        case NotFoundError():
            return t("error.unknown_model", locale)
        case BadRequestError() if _bot_field(error) is not None:
            return t("error.misconfigured", locale)
        case APIStatusError() if isinstance(error, BadRequestError) or error.status in (413, 422):
            detail = error.message or error.code  # a third party's words: shown, never rendered as the bot's
            return t("error.bad_request", locale, detail=as_typed(detail)) if detail else t(
                "error.bad_request_plain", locale
            )
        case APIStatusError() if error.status == 402:  # payment required: the account is out of credit
            return t("error.no_access", locale)
        case APIStatusError() if error.status == 405:  # the base URL or path is wrong
            return t("error.misconfigured", locale)
        case APIStatusError():
            return t("error.busy", locale)
        case APITimeoutError() | asyncio.TimeoutError():
            return t("error.timeout", locale)
        case APIConnectionError():  # refused, DNS, TLS, or dropped: not "busy" (a wrong URL looks like this)
            return t("error.unreachable", locale)
        case InvalidResponseError() | FetchError():
            return t("error.bad_response", locale)
        case DeliveryError():
            return t("error.delivery", locale)
    return t("error.unexpected", locale)


def _attachment(error: AttachmentError, locale: object | None, name: str | None = None) -> str:
    """One image's refusal, "Image 2 (`b.png`) is 10x10 pixels; ..." (`name`: the file's name as
    shown, when shortened)."""
    key = f"attachment.{error.code}"
    reason = t(key, locale, **error.params) if key in CATALOGS["en"] else error.reason
    name = error.name if name is None else name
    if error.position is not None:
        return t("error.attachment_at", locale, position=error.position, name=name, reason=reason)
    return t("error.attachment", locale, name=name, reason=reason)


def _attachments(errors: Sequence[AttachmentError], locale: object | None) -> str:
    """One line per image, each worded as when it is refused alone. Long file names are shortened
    (each to an equal share of what is left) rather than the message cut, which would drop the
    last images from the answer."""
    lines = [_attachment(error, locale) for error in errors]
    over = sum(map(len, lines)) + len(lines) - 1 - MAX_MESSAGE
    if over > 0:
        names = sum(len(error.name) for error in errors)
        share = max((names - over) // len(errors), 8)
        lines = [_attachment(error, locale, _shorten(error.name, share)) for error in errors]
    return "\n".join(lines)


def _shorten(name: str, most: int) -> str:
    return name if len(name) <= most else name[: most - 1] + "…"


def _invalid_option(error: InvalidOptionError, locale: object | None) -> str:
    """The refusal ("That size can't be used: ...") wholly in the member's language; `detail` is the fallback."""
    name_key, key = f"option.name.{error.option}", f"option.{error.option}.{error.reason}"
    option = t(name_key, locale) if name_key in CATALOGS["en"] else error.option
    if key in CATALOGS["en"]:
        detail = t(key, locale, **{name: _param(value, locale) for name, value in error.params.items()})
    else:
        detail = error.detail
    return _CJK_GAP.sub("", t("error.invalid_option", locale, option=option, detail=detail))


def _param(value: object, locale: object | None) -> str:
    """One refusal parameter in the member's language: 3,686,400; "2K, 4K, or WxH ..."; "2K、4K 或 ..."."""
    if isinstance(value, AllowedSizes):
        return _allowed_sizes(value, locale)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):  # 2048 like a size, 3,686,400 readable
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return _or_list([str(item) for item in value], locale)
    return str(value)


def _allowed_sizes(allowed: AllowedSizes, locale: object | None) -> str:
    items = list(allowed.names)
    if allowed.wxh and allowed.min_side is not None and allowed.max_side is not None:
        items.append(t("sizes.wxh_sides", locale, min=allowed.min_side, max=allowed.max_side, example=allowed.example))
    elif allowed.wxh:
        items.append(t("sizes.wxh_pixels", locale, min=f"{allowed.min_pixels:,}", max=f"{allowed.max_pixels:,}",
                       example=allowed.example))  # fmt: skip
    return _or_list(items, locale)


def _or_list(items: list[str], locale: object | None) -> str:
    if len(items) <= 1:
        return "".join(items)
    first = t("list.separator", locale).join(items[:-1])
    return t("list.or_two" if len(items) == 2 else "list.or_more", locale, first=first, last=items[-1])


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
