"""The Discord double refuses a message request over 25 MiB in all, as Discord does (413, 40005),
even when each of its files is within the upload limit."""

from __future__ import annotations

import json

from tests.doubles.discord_double.bodies import UploadedFile
from tests.doubles.discord_double.messages import MAX_REQUEST_FILES, check_limits

UPLOAD_LIMIT = 10 * 1024 * 1024


def files(*sizes: int) -> list[UploadedFile]:
    return [UploadedFile(i, f"file{i}.png", "image/png", bytes(size)) for i, size in enumerate(sizes)]


def test_files_over_25_mib_together_are_refused_though_each_fits() -> None:
    nine = 9 * 1024 * 1024
    refused = check_limits({"content": "results"}, files(nine, nine, nine), UPLOAD_LIMIT)
    assert refused is not None and refused.status == 413
    assert json.loads(refused.body) == {"message": "Request entity too large", "code": 40005}  # type: ignore[arg-type]


def test_files_within_25_mib_together_are_taken() -> None:
    assert check_limits({"content": "results"}, files(MAX_REQUEST_FILES - 1, 1), MAX_REQUEST_FILES) is None
    assert check_limits({"content": "one"}, files(UPLOAD_LIMIT), UPLOAD_LIMIT) is None
