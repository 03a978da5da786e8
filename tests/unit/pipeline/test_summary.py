"""The summary a member reads under the results: what was refused, what failed, what was not posted."""

from __future__ import annotations

from image_gateway.client import FailedImage, GenerationRequest
from image_gateway.presets import build_catalog, get_preset
from pipeline.job import ImageJob
from pipeline.runner import Outcome, Ticket
from pipeline.summary import outcome_text
from storage import Limits, UsageSnapshot

PRICE = 162_000  # Seedream 4.0 on gogogotoken.com
FILTERED = FailedImage(1, "OutputImageSensitiveContentDetected", "The output image may contain sensitive information.")
SERVER_ERROR = FailedImage(2, "InternalServiceError", "Error code: 500 - The service encountered an internal error.")
EMPTY = FailedImage(3, "EmptyItem", "the gateway sent an item without url or b64_json")


def outcome(*refused: FailedImage, billed: int = 2, delivered: int = 2, lost: int = 0, unposted: int = 0) -> Outcome:
    preset = build_catalog(get_preset("gogogotoken-com"))
    model = preset.model(preset.default_model)
    job = ImageJob(
        command="series", guild_id=1, channel_id=2, user_id=3, locale="en-US", prompt="a cat", model=model,
        count=billed + len(refused), series=True,
    )  # fmt: skip
    ticket = Ticket(
        job=job,
        request=GenerationRequest(model=model, prompt="a cat", size="2K"),
        request_id=7,
        limits=Limits(None, None, None),
    )
    return Outcome(
        ticket=ticket, billed=billed, delivered=delivered, refused=refused, lost=lost,
        cost_micros=PRICE * billed, charged_micros=PRICE * delivered, usage=UsageSnapshot(0, 0, 0, 0, 0),
        unposted=unposted,
    )  # fmt: skip


def test_content_filter_refusals_keep_their_wording():
    text = outcome_text(outcome(FILTERED), "en-US")
    assert "1 of 3 were refused by the content filter and not charged." in text
    assert "could not be made" not in text


def test_other_per_image_failures_are_not_blamed_on_the_content_filter():
    text = outcome_text(outcome(SERVER_ERROR, EMPTY), "en-US")
    assert "2 of 4 could not be made by the image service and were not charged." in text
    assert "content filter" not in text
    zh = outcome_text(outcome(SERVER_ERROR, EMPTY), "zh-CN")
    assert "4 张中有 2 张未能由图片服务生成，未计费。" in zh
    assert "内容审核" not in zh


def test_a_mix_of_refusals_and_failures_names_each():
    text = outcome_text(outcome(FILTERED, SERVER_ERROR, FailedImage(4, "UnknownError", "")), "en-US")
    assert "1 of 5 were refused by the content filter" in text
    assert "2 of 5 could not be made by the image service" in text


def test_images_discord_refused_are_counted_in_both_languages():
    assert "1 image could not be posted (Discord refused the upload)" in outcome_text(
        outcome(billed=3, delivered=2, unposted=1), "en-US"
    )
    assert "有 1 张图片无法发布到 Discord" in outcome_text(outcome(billed=3, delivered=2, unposted=1), "zh-CN")
