"""Turn any failure into one short message in the member's terms (the error funnel's core).

Details go to the log, never to the member; nothing here ever includes a secret, a request
header or a signed URL (gateway text is scrubbed by `image_gateway.errors.scrub`).
"""

from __future__ import annotations

import asyncio

from i18n import CATALOGS, t
from image_gateway.catalog import InvalidOptionError, format_usd
from image_gateway.errors import (
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
from storage.ledger import QuotaExceeded

MAX_MESSAGE = 2000


class AttachmentError(Exception):
    """A reference image that cannot be used; names the attachment and says why."""

    def __init__(self, name: str, reason: str, code: str = "bad_attachment", **params: object) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason  # English, for the log; members read i18n "attachment.<code>" when it exists
        self.code = code
        self.params = params


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


def explain(error: BaseException, locale: object | None) -> str:
    """The message a member sees for `error` (at most 2000 characters)."""
    return _clip(_explain(error, locale))


def is_expected(error: BaseException) -> bool:
    """True for failures that are the member's input or the outside world, not a bug."""
    return isinstance(
        error,
        InvalidOptionError | QuotaExceeded | AttachmentError | UserError | APIStatusError
        | APIConnectionError | InvalidResponseError | FetchError | DeliveryError,
    )


def _explain(error: BaseException, locale: object | None) -> str:
    match error:
        case UserError():
            return t(error.key, locale, **error.params)
        case InvalidOptionError():
            return t("error.invalid_option", locale, option=error.option, detail=error.detail)
        case QuotaExceeded():
            money = error.kind != "daily_images"
            show = format_usd if money else str
            return t(
                f"error.quota.{error.kind}",
                locale,
                limit=show(error.limit),
                used=show(error.used),
                requested=show(error.requested),
                resets=f"<t:{int(error.resets_at.timestamp())}:R>",
            )
        case AttachmentError():
            key = f"attachment.{error.code}"
            reason = t(key, locale, **error.params) if key in CATALOGS["en"] else error.reason
            return t("error.attachment", locale, name=error.name, reason=reason)
        case APIStatusError() if error.is_content_filter:
            return t("error.content_filter", locale)
        case RateLimitError() | InternalServerError():
            return t("error.busy", locale)
        case AuthenticationError():
            return t("error.misconfigured", locale)
        case PermissionDeniedError():
            return t("error.no_access", locale)
        case NotFoundError():
            return t("error.unknown_model", locale)
        case BadRequestError():
            return t("error.bad_request", locale, detail=error.message or error.code or "invalid request")
        case APIStatusError():
            return t("error.busy", locale)
        case APITimeoutError() | asyncio.TimeoutError():
            return t("error.timeout", locale)
        case APIConnectionError():
            return t("error.busy", locale)
        case InvalidResponseError() | FetchError():
            return t("error.bad_response", locale)
        case DeliveryError():
            return t("error.delivery", locale)
    return t("error.unexpected", locale)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
