from __future__ import annotations

from pathlib import Path

import pytest

from storage import Storage, open_storage, sqlite_path_from_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/bot.db", "data/bot.db"),
        ("sqlite:////var/lib/bot/bot.db", "/var/lib/bot/bot.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("SQLite:///bot.db", "bot.db"),
        ("sqlite+aiosqlite:///bot.db", "bot.db"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_path_from_url(url) == path


@pytest.mark.parametrize(
    "url", ["postgresql://bot:hunter2@db/bot", "postgres://bot:hunter2@db/bot", "postgresql+asyncpg://u:hunter2@h/d"]
)
def test_postgres_is_not_supported_yet_and_the_password_is_not_echoed(url: str) -> None:
    with pytest.raises(ValueError, match="postgresql is not supported yet") as caught:
        open_storage(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["mysql://u:hunter2@h/d", "bot.db", "sqlite://bot.db", "sqlite:///", "sqlite:///bot.db?mode=ro", ""]
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        sqlite_path_from_url(url)
    assert "hunter2" not in str(caught.value)


async def test_relative_url_creates_the_parent_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_storage("sqlite:///nested/dir/bot.db") as storage:
        assert isinstance(storage, Storage)
    assert (tmp_path / "nested" / "dir" / "bot.db").is_file()


async def test_absolute_url_await_and_close(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "bot.db"
    storage = await open_storage(f"sqlite:///{target}")  # sqlite:////abs/path
    try:
        row = await storage.db.fetchone("PRAGMA journal_mode")
        assert row is not None
        assert row[0] == "wal"
    finally:
        await storage.close()
    assert target.is_file()
