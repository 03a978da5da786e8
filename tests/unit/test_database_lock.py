"""The running bot's hold on its database (`bot.lock_database`): one bot per database."""

from __future__ import annotations

import errno
import logging

import pytest

import bot as bot_module
from bot import DatabaseInUse, lock_database


def test_a_second_hold_names_the_first_holders_pid_even_from_a_garbled_lock_file(tmp_path):
    db = tmp_path / "bot.db"
    with lock_database(str(db)):
        (tmp_path / "bot.db.lock").write_bytes("12\xe9\n".encode("latin-1"))  # not ASCII: no traceback
        with pytest.raises(DatabaseInUse), lock_database(str(db)):
            pass
    with lock_database(str(db)):  # let go: the next start takes it
        pass


def test_a_filesystem_without_locks_runs_the_bot_and_says_so(tmp_path, monkeypatch, caplog):
    def no_locks(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(bot_module.fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING), lock_database(str(tmp_path / "bot.db")):
        pass
    assert any("nothing stops a second bot" in r.getMessage() for r in caplog.records)
