"""Schema migrations: an ordered list of SQL scripts keyed by ``PRAGMA user_version``.

``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``. To change the schema,
append one SQL string; never edit a migration that has shipped. All pending migrations
are applied at start in one ``BEGIN IMMEDIATE`` transaction together with the new
``user_version``, so a failure leaves the database as it was.

Version 1, the ledger:

* ``requests``: every request is a row. Money is integer micro-dollars, timestamps are
  integer epoch milliseconds (UTC). ``images_billed`` / ``images_delivered`` are NULL until
  known (progress checkpoints of a pending row).
* ``usage_member_day`` (guild, user, UTC day: images, member_micros) and ``usage_guild_day``
  (guild, UTC day: guild_micros): aggregate counters, so the quota check reads one row
  for today and at most 31 rows for the month, however large ``requests`` grows. They are
  maintained by triggers on ``requests`` inside the same statement (hence the same
  transaction) as the row change, so they cannot drift from the rows. A row counts as:
  pending -> images_requested / reserved_micros; settled -> images_delivered /
  charged_micros (member) / cost_micros (guild); released, refused -> nothing.
  Day = ``created_at / 86400000`` (the reservation's UTC day). Ledger rows are never
  deleted (a trigger refuses), which is what keeps the counters equal to the sums.
"""

from __future__ import annotations

import sqlite3
from typing import Final

_V1_LEDGER: Final = """
CREATE TABLE requests (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    command           TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    size              TEXT,
    prompt            TEXT    NOT NULL,
    images_requested  INTEGER NOT NULL CHECK (images_requested >= 0),
    images_billed     INTEGER CHECK (images_billed >= 0),
    images_delivered  INTEGER CHECK (images_delivered >= 0),
    unit_price_micros INTEGER NOT NULL CHECK (unit_price_micros >= 0),
    reserved_micros   INTEGER NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
    cost_micros       INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    charged_micros    INTEGER NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    status            TEXT    NOT NULL
                      CHECK (status IN ('pending', 'settled', 'released', 'refused')),
    error_code        TEXT,
    created_at        INTEGER NOT NULL CHECK (created_at >= 0),
    settled_at        INTEGER
) STRICT;

CREATE INDEX requests_member_created ON requests (guild_id, user_id, created_at);
CREATE INDEX requests_pending ON requests (guild_id, user_id) WHERE status = 'pending';

CREATE TABLE usage_member_day (
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    day           INTEGER NOT NULL,
    images        INTEGER NOT NULL,
    member_micros INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id, day)
) STRICT, WITHOUT ROWID;

CREATE TABLE usage_guild_day (
    guild_id     INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    guild_micros INTEGER NOT NULL,
    PRIMARY KEY (guild_id, day)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER requests_keys_immutable
BEFORE UPDATE OF guild_id, user_id, created_at ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.guild_id, user_id and created_at are immutable');
END;

CREATE TRIGGER requests_usage_insert
AFTER INSERT ON requests
WHEN NEW.status IN ('pending', 'settled')
BEGIN
    INSERT INTO usage_member_day (guild_id, user_id, day, images, member_micros)
    VALUES (NEW.guild_id, NEW.user_id, NEW.created_at / 86400000,
            CASE NEW.status WHEN 'pending' THEN NEW.images_requested
                            ELSE COALESCE(NEW.images_delivered, 0) END,
            CASE NEW.status WHEN 'pending' THEN NEW.reserved_micros ELSE NEW.charged_micros END)
    ON CONFLICT DO UPDATE SET images = images + excluded.images,
                              member_micros = member_micros + excluded.member_micros;

    INSERT INTO usage_guild_day (guild_id, day, guild_micros)
    VALUES (NEW.guild_id, NEW.created_at / 86400000,
            CASE NEW.status WHEN 'pending' THEN NEW.reserved_micros ELSE NEW.cost_micros END)
    ON CONFLICT DO UPDATE SET guild_micros = guild_micros + excluded.guild_micros;
END;

CREATE TRIGGER requests_usage_update
AFTER UPDATE OF status, images_requested, images_delivered, reserved_micros, cost_micros,
                charged_micros ON requests
BEGIN
    INSERT INTO usage_member_day (guild_id, user_id, day, images, member_micros)
    VALUES (NEW.guild_id, NEW.user_id, NEW.created_at / 86400000,
            CASE NEW.status WHEN 'pending' THEN NEW.images_requested
                            WHEN 'settled' THEN COALESCE(NEW.images_delivered, 0) ELSE 0 END
          - CASE OLD.status WHEN 'pending' THEN OLD.images_requested
                            WHEN 'settled' THEN COALESCE(OLD.images_delivered, 0) ELSE 0 END,
            CASE NEW.status WHEN 'pending' THEN NEW.reserved_micros
                            WHEN 'settled' THEN NEW.charged_micros ELSE 0 END
          - CASE OLD.status WHEN 'pending' THEN OLD.reserved_micros
                            WHEN 'settled' THEN OLD.charged_micros ELSE 0 END)
    ON CONFLICT DO UPDATE SET images = images + excluded.images,
                              member_micros = member_micros + excluded.member_micros;

    INSERT INTO usage_guild_day (guild_id, day, guild_micros)
    VALUES (NEW.guild_id, NEW.created_at / 86400000,
            CASE NEW.status WHEN 'pending' THEN NEW.reserved_micros
                            WHEN 'settled' THEN NEW.cost_micros ELSE 0 END
          - CASE OLD.status WHEN 'pending' THEN OLD.reserved_micros
                            WHEN 'settled' THEN OLD.cost_micros ELSE 0 END)
    ON CONFLICT DO UPDATE SET guild_micros = guild_micros + excluded.guild_micros;
END;

CREATE TRIGGER requests_no_delete
BEFORE DELETE ON requests
BEGIN
    SELECT RAISE(ABORT, 'ledger rows are never deleted');
END;
"""

_V2_META = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
"""

_V3_MODERATION = """
CREATE TABLE guild_config (
    guild_id            INTEGER PRIMARY KEY,
    required_role_id    INTEGER,
    approval            INTEGER NOT NULL DEFAULT 0 CHECK (approval IN (0, 1)),
    approval_channel_id INTEGER,
    default_model       TEXT,
    default_size        TEXT,
    watermark           INTEGER CHECK (watermark IN (0, 1))
) STRICT;

CREATE TABLE guild_blocked_terms (
    guild_id INTEGER NOT NULL,
    term     TEXT    NOT NULL,
    PRIMARY KEY (guild_id, term)
) STRICT, WITHOUT ROWID;

CREATE TABLE guild_allowed_channels (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE approvals (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER NOT NULL,
    user_id           INTEGER NOT NULL,
    job               TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),
    review_channel_id INTEGER,
    review_message_id INTEGER,
    decided_by        INTEGER,
    decided_at        INTEGER,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX approvals_guild_status ON approvals (guild_id, status);
"""

_V4_QUOTAS_AUDIT = """
CREATE TABLE quota_rules (
    guild_id       INTEGER NOT NULL,
    target_kind    TEXT    NOT NULL CHECK (target_kind IN ('member', 'role')),
    target_id      INTEGER NOT NULL,
    daily_images   INTEGER CHECK (daily_images >= 0),
    monthly_micros INTEGER CHECK (monthly_micros >= 0),
    exempt         INTEGER NOT NULL DEFAULT 0 CHECK (exempt IN (0, 1)),
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (guild_id, target_kind, target_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE guild_budgets (
    guild_id        INTEGER PRIMARY KEY,
    monthly_micros  INTEGER NOT NULL CHECK (monthly_micros >= 0),
    warn_percent    INTEGER CHECK (warn_percent BETWEEN 1 AND 100),
    warn_channel_id INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE budget_warnings (
    guild_id     INTEGER NOT NULL,
    month        TEXT    NOT NULL,
    warn_percent INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL,
    PRIMARY KEY (guild_id, month, warn_percent)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    actor_id   INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    request_id INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_log_guild ON audit_log (guild_id, id);
CREATE INDEX audit_log_request ON audit_log (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX requests_guild_created ON requests (guild_id, created_at);
"""

# Version 5: how many reference images a request was made from (0 for rows from before): the
# buttons cannot repeat such a request, since the images themselves are not kept.
_V5_REFERENCE_IMAGES = """
ALTER TABLE requests ADD COLUMN reference_images INTEGER NOT NULL DEFAULT 0 CHECK (reference_images >= 0);
"""

# Version 6: the requests a stop cut short whose members are still to be told (recovery adds them
# in the transaction that closes their books; a row goes once its member was told), so a second
# stop before the notice went out does not lose it.
_V6_UNTOLD = """
CREATE TABLE untold (
    request_id INTEGER PRIMARY KEY REFERENCES requests (id)
) STRICT;
"""

# Version 7: the member's language when they asked (their Discord locale), for what the bot tells
# them with no interaction to read it from: a request a stop cut short is told after the restart.
_V7_LOCALE = """
ALTER TABLE requests ADD COLUMN locale TEXT;
"""

# Version 8: an approval's audit entry found by its target ("approval:<id>"): /history looked for
# it through the server's whole audit log once per approval (8,000 approvals: 11 s, under the lock).
_V8_AUDIT_TARGET = """
CREATE INDEX audit_log_target ON audit_log (guild_id, target) WHERE request_id IS NOT NULL;
"""

# Append new schema versions here (one SQL script each); never edit a shipped entry.
MIGRATIONS: Final[tuple[str, ...]] = (
    _V1_LEDGER, _V2_META, _V3_MODERATION, _V4_QUOTAS_AUDIT, _V5_REFERENCE_IMAGES, _V6_UNTOLD, _V7_LOCALE,
    _V8_AUDIT_TARGET,
)  # fmt: skip


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole).

    ``executescript`` would commit the open transaction first, so migrations run statement
    by statement inside the caller's transaction instead.
    """
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement.strip(";").strip():
                statements.append(statement)
            buffer = ""
    leftover = buffer.removesuffix(";").strip()
    if leftover:
        raise ValueError(f"incomplete SQL statement in migration: {leftover[:60]!r}")
    return statements
