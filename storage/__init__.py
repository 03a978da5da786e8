"""Persistent state: the request ledger and its quotas (SQLite through aiosqlite).

Open once in ``main()`` and hand to the bot::

    async with open_storage(settings.database_url) as storage:
        await storage.ledger.recover_pending()   # before taking commands
        ...

``storage = await open_storage(url)`` followed by ``await storage.close()`` works too.
Backends hide behind ``Storage`` and the repository protocols (``Ledger``); only SQLite
exists today.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from storage.approvals import ApprovalStore
from storage.audit import AuditEntry, AuditLog
from storage.connection import Database
from storage.errors import QuotaExceeded, QuotaKind, RequestNotFound, StorageError
from storage.guild_config import GuildConfig, GuildConfigStore
from storage.ledger import Ledger, SqliteLedger
from storage.meta import MetaStore
from storage.models import Limits, RequestRecord, Settlement, UsageSnapshot
from storage.quotas import Budget, QuotaRule, QuotaStore
from storage.reports import LedgerRow, ReportQueries
from storage.requests import RequestStore

__all__ = [
    "ApprovalStore",
    "AuditEntry",
    "AuditLog",
    "Budget",
    "Database",
    "GuildConfig",
    "GuildConfigStore",
    "Ledger",
    "LedgerRow",
    "Limits",
    "MetaStore",
    "QuotaExceeded",
    "QuotaKind",
    "QuotaRule",
    "QuotaStore",
    "ReportQueries",
    "RequestNotFound",
    "RequestRecord",
    "Settlement",
    "SqliteLedger",
    "Storage",
    "StorageError",
    "UsageSnapshot",
    "open_storage",
    "sqlite_path_from_url",
]

_MEMORY = ":memory:"
_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"}


def sqlite_path_from_url(database_url: str) -> str:
    """``sqlite:///rel/path.db`` -> ``rel/path.db``; ``sqlite:////abs/p.db`` -> ``/abs/p.db``;
    ``sqlite:///:memory:`` -> ``:memory:``. Anything else raises ValueError.

    Error messages name only the scheme: a database URL can carry a password.
    """
    scheme, sep, rest = database_url.strip().partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError("database URL must look like sqlite:///path/to/bot.db")
    if scheme in _POSTGRES_SCHEMES:
        raise ValueError("postgresql is not supported yet; use sqlite:///path/to/bot.db")
    if scheme not in {"sqlite", "sqlite+aiosqlite"}:
        raise ValueError(f"unsupported database URL scheme {scheme!r}; use sqlite:///path/to/bot.db")
    if not rest.startswith("/") or "?" in rest or "#" in rest:
        raise ValueError(
            "sqlite URL must be sqlite:///relative/path.db, sqlite:////absolute/path.db "
            "or sqlite:///:memory: (no host, no query string)"
        )
    path = rest[1:]  # the third slash separates the (empty) host from the path
    if not path:
        raise ValueError("sqlite URL has no database path")
    return path


@dataclass
class Storage:
    """The opened database and its repositories. Later issues add e.g. ``.quotas``, ``.audit``."""

    db: Database
    ledger: Ledger
    meta: MetaStore
    guild_config: GuildConfigStore
    approvals: ApprovalStore
    quotas: QuotaStore
    audit: AuditLog
    reports: ReportQueries

    @classmethod
    async def open(cls, database_url: str) -> Self:
        path = sqlite_path_from_url(database_url)
        if path != _MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await Database.open(path)
        guild_config = GuildConfigStore(db)
        await guild_config.load()
        return cls(
            db=db, ledger=SqliteLedger(db), meta=MetaStore(db), guild_config=guild_config,
            approvals=ApprovalStore(db),
            quotas=QuotaStore(db), audit=AuditLog(db), reports=ReportQueries(db),
        )

    @property
    def requests(self) -> RequestStore:
        """Ledger rows read back as requests (the buttons under a result)."""
        return RequestStore(self.db)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _StorageOpener:
    """What ``open_storage`` returns: await it, or use it as ``async with``."""

    def __init__(self, database_url: str) -> None:
        sqlite_path_from_url(database_url)  # fail fast, before anything is awaited
        self._url = database_url
        self._storage: Storage | None = None

    def __await__(self) -> Generator[Any, None, Storage]:
        return Storage.open(self._url).__await__()

    async def __aenter__(self) -> Storage:
        self._storage = await Storage.open(self._url)
        return self._storage

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._storage is not None:
            await self._storage.close()
            self._storage = None


def open_storage(database_url: str) -> _StorageOpener:
    """Open the storage named by ``database_url``: ``await open_storage(url)`` -> ``Storage``,
    or ``async with open_storage(url) as storage``. Creates the parent directory, applies
    migrations. Raises ValueError for an unsupported URL (e.g. PostgreSQL, not yet supported).
    """
    return _StorageOpener(database_url)
