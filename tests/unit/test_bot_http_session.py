"""bot.run makes its one HTTP session (gateway calls and downloads) guarded by its gateway's address."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

import pytest

import bot as bot_module
from settings import Settings


class _Stop(Exception):
    pass


async def test_the_session_is_guarded_by_the_gateway_and_trusts_the_discord_stand_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def recording(
        gateway_url: str, *, trusted_hosts: Iterable[str] = (), allow_private: bool = False
    ) -> AsyncIterator[None]:
        seen.update(gateway=gateway_url, trusted=list(trusted_hosts), allow_private=allow_private)
        raise _Stop
        yield  # pragma: no cover

    monkeypatch.setattr(bot_module, "guarded_session", recording)
    monkeypatch.setattr(bot_module, "point_discord_py", lambda settings: None)  # leaves discord.py's globals alone
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token="token-x",
        image_provider="custom",
        image_api_key="sk-k",
        image_api_base_url="https://gateway.example/v1",
        discord_api_base_url="http://127.0.0.1:8123/api/v10",
        allow_private_result_addresses=True,
    )
    with pytest.raises(_Stop):
        await bot_module.run(settings, bot_module.resolve_preset(settings))
    assert seen == {"gateway": "https://gateway.example/v1", "trusted": ["127.0.0.1"], "allow_private": True}


def test_the_gateway_client_takes_answers_as_large_as_the_results_the_bot_takes():
    # An operator who raises MAX_RESULT_MB past the client's default would otherwise have large
    # base64 answers refused as too large.
    from image_gateway.client import image_text_limit  # noqa: PLC0415

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token="token-x", image_provider="aiearth", image_api_key="sk-k", max_result_mb=200,
    )  # fmt: skip
    client = bot_module.make_client(settings, bot_module.resolve_preset(settings), None)  # type: ignore[arg-type]
    assert client._image_limit == image_text_limit(200 * 1024 * 1024)
