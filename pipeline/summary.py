"""The text that goes with delivered images: prompt, model, size, cost, what is left."""

from __future__ import annotations

from collections.abc import Sequence

from i18n import t
from image_gateway.catalog import cost_not_known, format_usd
from image_gateway.errors import is_content_filter
from pipeline.markdown import as_typed
from pipeline.runner import Outcome, ReadyImage, Ticket

PROMPT_PREVIEW = 300
MODEL_CHOSEN_SIZES = ("adaptive", "auto")


def prompt_preview(prompt: str, limit: int = PROMPT_PREVIEW) -> str:
    """The member's prompt on one line, at most `limit` characters before its markdown is escaped,
    shown as typed: nothing in it renders as a spoiler, a strikethrough, a masked link or bold (the
    bot would otherwise post a member's "[free nitro](https://...)" as its own link), and no
    backslash at the cut end escapes what follows."""
    return as_typed(one_line(prompt, limit))


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of spaces and line breaks made one space), cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def working_text(ticket: Ticket, locale: object) -> str:
    return t("result.working", locale, count=ticket.job.count, model=ticket.job.model.label)


def header_text(ticket: Ticket, locale: object) -> str:
    return t("result.header", locale, prompt=prompt_preview(ticket.job.prompt))


def batch_text(ticket: Ticket, locale: object, images: Sequence[ReadyImage], *, first: bool) -> str:
    """The text over one message of images: the prompt on the request's first message, then
    "Images 11–15 of 15: …" (the numbers of the files, as the gateway numbered them). A first
    message that holds only some of them says which too ("Image 1 of 4"): a streamed series
    runs for minutes, and its member sees that more are coming."""
    total = ticket.job.count
    if not images or (first and len(images) >= total):
        return header_text(ticket, locale)
    runs = _runs(sorted(image.index + 1 for image in images))
    if len(runs) > 1:  # one refused between them: "Images 2, 4 of 4", not "2–4"
        listed = t("result.numbers_separator", locale).join(str(a) if a == b else f"{a}–{b}" for a, b in runs)
        numbers = t("result.numbers_list", locale, numbers=listed, total=total)
    elif runs[0][0] == runs[0][1]:
        numbers = t("result.number", locale, number=runs[0][0], total=total)
    else:
        numbers = t("result.numbers", locale, first=runs[0][0], last=runs[0][1], total=total)
    if first:
        return f"{header_text(ticket, locale)}\n{numbers}"
    return t("result.more", locale, numbers=numbers, prompt=prompt_preview(ticket.job.prompt))


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted numbers as runs of consecutive ones: [1, 2, 3, 5] -> [(1, 3), (5, 5)]."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def shown_size(asked: str | None, made: str | None) -> str | None:
    """The size a result line shows: what was asked for ("2K", "2048x2048"), or what the gateway
    says it made where the model chose ("adaptive": SeedEdit keeps its input's size; "auto")."""
    if asked is None or (made and asked.lower() in MODEL_CHOSEN_SIZES):
        return made or asked
    return asked


def outcome_text(outcome: Outcome, locale: object) -> str:
    ticket = outcome.ticket
    lines = [
        header_text(ticket, locale),
        t(
            "result.details",
            locale,
            model=ticket.job.model.label,
            size=shown_size(ticket.request.size, outcome.size) or t("size.auto", locale),
            images=t("result.images", locale, count=outcome.delivered),
            cost=_cost_text(outcome, locale),
        ),
    ]
    requested = ticket.job.count
    if outcome.refused:
        # Only the content filter's refusals are worded as such; a per-image 5xx or an empty item
        # is the service failing, and a member should not rephrase a prompt that was fine.
        total = requested
        filtered = sum(is_content_filter(item.code, item.message) for item in outcome.refused)
        if filtered:
            lines.append(t("result.refused", locale, refused=filtered, total=total))
        if failed := len(outcome.refused) - filtered:
            lines.append(t("result.failed", locale, failed=failed, total=total))
    if outcome.lost:
        lines.append(t("result.lost", locale, lost=outcome.lost))
    if outcome.unposted:
        lines.append(t("result.unposted", locale, unposted=outcome.unposted))
    if outcome.stopped:
        key = "result.stopped_by_filter" if outcome.stopped == "filter" else "result.stopped"
        lines.append(t(key, locale, requested=requested))
    elif 0 < outcome.billed < requested - len(outcome.refused):
        # The gateway answered with fewer than asked (a series' model stops when the story ends;
        # a gateway may ignore n): nothing failed, but the member should not wonder where they went.
        lines.append(t("result.fewer", locale, made=outcome.billed, requested=requested))
    elif outcome.billed > (sent := outcome.delivered + outcome.lost + outcome.unposted):
        # Counted made (usage.generated_images) but never sent: the server pays for them, the
        # member does not, and should not wonder where they went either.
        lines.append(t("result.unsent", locale, billed=outcome.billed, sent=sent))
    lines.append(quota_left_text(outcome, locale))
    return "\n".join(lines)


def _cost_text(outcome: Outcome, locale: object) -> str:
    """What the server paid; and, when the member pays less (images made but not delivered),
    what the member pays: "$0.324" alone next to "you were not charged" read as a contradiction.
    Images of a model without a price (none published, none set) cost an amount the bot does not
    know (`cost_not_known`)."""
    if cost_not_known(outcome.ticket.job.model, outcome.cost_micros, outcome.billed):
        return t("result.cost_unknown", locale)
    cost = format_usd(outcome.cost_micros)
    if outcome.charged_micros == outcome.cost_micros:
        return cost
    return t("result.cost_split", locale, cost=cost, charged=format_usd(outcome.charged_micros))


def quota_left_text(outcome: Outcome, locale: object) -> str:
    """What the member has left; and the server's budget, when it is what stops them first ("no
    limits" alone would read as no limit at all)."""
    limits, usage = outcome.ticket.limits, outcome.usage
    parts = []
    if limits.daily_images is not None:
        left = max(limits.daily_images - usage.images_today, 0)
        parts.append(t("result.quota_images", locale, left=left))
    member_left = None
    if limits.monthly_micros is not None:
        member_left = max(limits.monthly_micros - usage.member_month_micros, 0)
        parts.append(t("result.quota_usd", locale, left=format_usd(member_left)))
    if not parts:
        parts.append(t("result.unlimited", locale))
    parts_text = t("result.quota_separator", locale).join(parts)
    if limits.guild_monthly_micros is not None:
        server_left = max(limits.guild_monthly_micros - usage.guild_month_micros, 0)
        if member_left is None or server_left < member_left:
            return t("result.quota_left_server", locale, parts=parts_text, left=format_usd(server_left))
    return t("result.quota_left", locale, parts=parts_text)
