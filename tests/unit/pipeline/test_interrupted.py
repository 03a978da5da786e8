"""What a member is told about a request a stop cut short, from its closed ledger row."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.interrupted import interrupted_text
from storage.requests import LedgerRow


def closed_row(delivered: int | None, charged: int) -> LedgerRow:
    return LedgerRow(
        id=7, guild_id=1, channel_id=2, user_id=42, command="series", model="m", size="2K",
        prompt="fifteen *frames*", images_requested=15, images_billed=15, images_delivered=delivered,
        unit_price_micros=135_000, reserved_micros=0, cost_micros=15 * 135_000, charged_micros=charged,
        status="settled", error_code="interrupted", created_at=datetime.now(UTC), settled_at=datetime.now(UTC),
    )  # fmt: skip


def test_a_member_who_got_some_images_is_told_how_many_and_what_they_paid() -> None:
    text = interrupted_text(closed_row(10, 10 * 135_000), "en-US")
    assert text == (
        "<@42> The bot restarted while your request “fifteen \\*frames\\*” was running: 10 of 15 images "
        "reached you and you were charged $1.35 for them; the rest were not charged."
    )
    assert "15 张中有 10 张已送达，为此向你计费 $1.35" in interrupted_text(closed_row(10, 10 * 135_000), "zh-CN")


def test_with_nothing_delivered_on_record_the_text_stays_true_either_way() -> None:
    # A stop between posting the images and recording it leaves delivered unknown: not charged.
    for delivered in (None, 0):
        text = interrupted_text(closed_row(delivered, 0), "en-US")
        assert "You were not charged for it; if its images did not arrive, please try again." in text


def test_images_of_a_model_without_a_price_are_not_said_to_have_cost_nothing() -> None:
    # The books count them $0 (no price set); "you were charged $0.00" would read as free.
    text = interrupted_text(closed_row(10, 0), "en-US", priced=False)
    assert "10 of 15 images reached you (no price is set for this model, so what they cost is not known)" in text
    assert "$0.00" not in text
    assert "费用未知" in interrupted_text(closed_row(10, 0), "zh-CN", priced=False)
