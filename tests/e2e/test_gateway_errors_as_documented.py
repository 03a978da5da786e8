"""Documented gateway answers (refusals, errors) driven through the real bot.

Sources: /work/shared/SEEDREAM-API.md ("In a series, an image that fails moderation becomes an
{"error":...} item"; streaming "image_generation.partial_failed"; the error table), the
gogogotoken.com page (its 401 body), aiearth's page (403 = balance / token group quota).
README: "A refusal (...) is a private reply and costs nothing; ... So are ... the gateway's content
filter refusing the member's prompt or images (the public "thinking" reply is removed); the content
filter's refusal is never retried, whatever status the gateway sent it with."
"""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from tests.doubles.image_gateway_double import Fault, ImageGatewayDouble
from tests.e2e.harness import world

FILTER = "The content filter refused this request"
SETUP = "A server admin must check"


def public_texts(inter) -> list[str]:
    return [r.payload.get("content") or "" for r in inter.message_records if not r.ephemeral]


def private_texts(inter) -> list[str]:
    return [r.payload.get("content") or "" for r in inter.message_records if r.ephemeral]


# ---- content filter refusals, however they come -------------------------------------------------

@pytest.mark.parametrize("flavour", ["gogogotoken-com", "aiearth"])  # a JSON answer; a streamed one
async def test_series_refused_whole_by_the_content_filter_is_private(tmp_path, flavour):
    # SEEDREAM-API.md: in a series each image the filter refuses is an {"error": {"code":
    # "OutputImageSensitiveContentDetected"}} item (JSON) or a partial_failed event (stream).
    # When every image of a /series is refused, the member's prompt was refused as surely as by a
    # 400, which the bot answers privately. The whole channel used to read, in the public reply,
    # "**<prompt>** ... 3 of 3 were refused by the content filter".
    async with world(tmp_path, flavour=flavour) as w:
        w.gateway.script(Fault.partial(failed=(0, 1, 2)))
        inter = await w.run("series", {"prompt": "three postcards of a fox", "count": 3}, timeout=30)
        [row] = await w.ledger_rows()
        assert (row["status"], row["charged_micros"]) == ("released", 0)  # books are right either way
        public = public_texts(inter)
        assert not any("content filter" in text or "three postcards" in text for text in public), public
        assert any(FILTER in text for text in private_texts(inter)), inter.all_text()


async def test_content_filter_refusal_sent_with_500_and_no_known_code_is_not_retried(tmp_path):
    # A gateway relays Ark's refusal with a 500 and its own code (new-api style: the message is
    # Ark's, "...may contain sensitive information. Request id: ..."). The bot itself reads it as
    # the content filter's (is_content_filter looks at the message; the member is told "The
    # content filter refused this request"); it used to retry it as a 5xx: 3 calls sending the
    # refused prompt, against the README's "never retried, whatever status".
    async with world(tmp_path, flavour="aiearth") as w:
        w.gateway.script(Fault.status(
            500, "bad_response_status_code",
            "The request failed because the input text may contain sensitive information. Request id: 0217"),
            times=3)
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert FILTER in inter.all_text(), inter.all_text()
        assert len(w.gateway.generation_requests) == 1, "a refusal the bot calls the content filter's was retried"


# ---- documented error bodies ---------------------------------------------------------------------

async def test_gogogotoken_com_documented_401_body(tmp_path):
    # The gogogotoken.com page's 401 body, sent by the double for a wrong key
    # ({"error": {"message": "Invalid API key", "type": "invalid_request_error", "code":
    # "invalid_api_key"}}): not retried, the member told an admin must check, the owner told
    # to check IMAGE_API_KEY, the reservation released.
    async with world(tmp_path, flavour="gogogotoken-com", image_api_key="sk-not-the-right-key-0000000000") as w:
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        assert SETUP in inter.all_text(), inter.all_text()
        assert len(w.gateway.generation_requests) == 1
        assert any(line.startswith("ERROR") and "IMAGE_API_KEY" in line for line in w.logs.lines)
        [row] = await w.ledger_rows()
        assert (row["status"], row["cost_micros"], row["error_code"]) == ("released", 0, "invalid_api_key")


async def test_exhausted_balance_sent_as_429_is_not_retried(tmp_path, monkeypatch):
    # aiearth's page (403: "检查账户余额、Token 组额度"); a new-api gateway sends the exhausted
    # balance as insufficient_user_quota, here with a 429: no retry (waiting brings no money), the
    # member told an admin must check, not "busy".
    original = ImageGatewayDouble._generate_authorized
    body = {"error": {"message": "用户额度不足, 剩余额度: ＄0.000000", "type": "new_api_error",
                      "code": "insufficient_user_quota"}}
    calls = []

    async def answer(self, request, payload, fault):
        calls.append(1)
        if len(calls) <= 3:
            return web.Response(status=429, body=json.dumps(body, ensure_ascii=False).encode(),
                                content_type="application/json")
        return await original(self, request, payload, fault)

    monkeypatch.setattr(ImageGatewayDouble, "_generate_authorized", answer)
    async with world(tmp_path, flavour="aiearth") as w:
        inter = await w.run("imagine", {"prompt": "a cat"}, timeout=30)
        text = inter.all_text()
        assert "cannot use this model right now" in text and "busy" not in text, text
        assert len(calls) == 1
        [row] = await w.ledger_rows()
        assert (row["status"], row["charged_micros"]) == ("released", 0)
