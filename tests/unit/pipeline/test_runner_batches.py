"""Results are posted in messages Discord takes: at most 25 MiB of files in one request
(`split_by_request_size`), in the gateway's order, as few messages as fit."""

from __future__ import annotations

import io

from pipeline.runner import MAX_FILES_BYTES_PER_MESSAGE, MAX_REQUEST_BYTES, ReadyImage, split_by_request_size

MIB = 1024 * 1024


def ready(*sizes: int) -> list[ReadyImage]:
    return [ReadyImage(i, f"seedream-1-{i + 1}.png", io.BytesIO(bytes(size))) for i, size in enumerate(sizes)]


def indexes(messages: list[list[ReadyImage]]) -> list[list[int]]:
    return [[image.index for image in message] for message in messages]


def test_results_that_fit_together_stay_in_one_message() -> None:
    assert indexes(split_by_request_size(ready(*[2 * MIB] * 10))) == [list(range(10))]


def test_a_message_closes_before_an_image_would_take_it_past_the_request_size() -> None:
    images = ready(9 * MIB, 9 * MIB, 9 * MIB, 9 * MIB, 1 * MIB)
    messages = split_by_request_size(images)
    assert indexes(messages) == [[0, 1], [2, 3, 4]]
    assert all(sum(image.size for image in message) <= MAX_FILES_BYTES_PER_MESSAGE for message in messages)
    assert MAX_FILES_BYTES_PER_MESSAGE < MAX_REQUEST_BYTES  # room for the rest of the multipart body


def test_an_image_over_the_budget_goes_alone() -> None:
    big = MAX_FILES_BYTES_PER_MESSAGE + 1
    assert indexes(split_by_request_size(ready(1 * MIB, big, 1 * MIB))) == [[0], [1], [2]]


def test_measuring_an_image_keeps_its_position() -> None:
    [image] = ready(3 * MIB)
    image.file.seek(5)
    assert image.size == 3 * MIB and image.file.tell() == 5
