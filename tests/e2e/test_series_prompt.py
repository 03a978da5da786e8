"""/series: the ledger keeps the member's own prompt (the gateway gets the count sentence added),
and the added sentence never takes a prompt over the limit."""

from __future__ import annotations

from tests.e2e.harness import world
from tests.e2e.staff import is_ephemeral
from tests.e2e.test_result_buttons import press, result_message, text_input

SENTENCE = ". Generate 3 images as a series."


async def test_the_ledger_history_reroll_and_variation_keep_the_members_own_prompt(tmp_path):
    async with world(tmp_path) as w:
        first = await w.run("series", {"prompt": "a comic about a cat", "count": 3}, timeout=20)
        assert w.gateway.generation_requests[-1].json["prompt"] == "a comic about a cat" + SENTENCE
        [row] = await w.ledger_rows()
        assert row["prompt"] == "a comic about a cat"

        history = (await w.run("history", {})).all_text()
        assert "a comic about a cat" in history and "Generate 3" not in history

        opened = await press(w, result_message(first), "variation", row["id"])
        assert text_input(opened.modal)["value"] == "a comic about a cat"

        again = await press(w, result_message(first), "reroll", row["id"])
        assert len(again.files()) == 3, again.all_text()
        assert w.gateway.generation_requests[-1].json["prompt"] == "a comic about a cat" + SENTENCE
        assert [r["prompt"] for r in await w.ledger_rows()] == ["a comic about a cat"] * 2


async def test_a_prompt_the_series_sentence_would_take_over_the_limit_is_refused(tmp_path):
    async with world(tmp_path) as w:
        long = ("a long walk through the old town at dusk " * 60)[:1990].strip()
        refused = await w.run("series", {"prompt": long, "count": 3})
        assert is_ephemeral(refused)
        text = refused.all_text()
        assert "over the limit of 2,000" in text and "Shorten it by" in text, text
        assert w.gateway.generation_requests == []
        assert await w.ledger_rows() == []

        fits = long[:1960].strip()  # with the sentence: within the limit
        done = await w.run("series", {"prompt": fits, "count": 3}, timeout=20)
        assert len(done.files()) == 3, done.all_text()
        sent = w.gateway.generation_requests[-1].json["prompt"]
        assert sent == fits + SENTENCE and len(sent) <= 2000


async def test_a_number_that_is_not_a_count_of_images_still_gets_the_sentence(tmp_path):
    async with world(tmp_path) as w:
        for prompt, count in (("two cats playing chess", 2), ("a 4K storyboard", 4), ("十分可爱的小猫", 10)):
            done = await w.run("series", {"prompt": prompt, "count": count}, timeout=20)
            assert len(done.files()) == count, done.all_text()
            sent = w.gateway.generation_requests[-1].json["prompt"]
            assert sent != prompt and str(count) in sent[len(prompt):], sent
        stated = await w.run("series", {"prompt": "a comic in 3 panels", "count": 3}, timeout=20)
        assert len(stated.files()) == 3, stated.all_text()
        assert w.gateway.generation_requests[-1].json["prompt"] == "a comic in 3 panels"


async def test_a_prompt_asking_for_another_number_of_images_gets_the_chosen_count(tmp_path):
    async with world(tmp_path) as w:
        done = await w.run("series", {"prompt": "Create 3 images of a dog", "count": 5}, timeout=20)
        assert len(done.files()) == 5, done.all_text()
        sent = w.gateway.generation_requests[-1].json
        assert sent["prompt"] == "Create 3 images of a dog. Generate 5 images as a series."
        assert sent["sequential_image_generation_options"] == {"max_images": 5}
